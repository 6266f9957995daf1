#!/bin/bash
# hosts.sh - many hosts, each with a few URLs: one full TLS handshake and,
# while the idle budget allows, one connection per host; a host's adjacent
# URLs take turns on its connection instead of opening one each; sessions
# outlive connections (the host cache, in object form and frozen as DER);
# DNS answers are reused (fakedns counts the lookups).
#
# Every name is hN.evfetch.test, sent to nginx on 127.0.0.1 by --resolve
# '*:PORT:127.0.0.1' (the test certificate has *.evfetch.test).  nginx
# logs each request's connection number and whether its TLS session was
# resumed, so connections and full handshakes are counted, not guessed.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
NGINX_H2=1 start_nginx "$T/nginx"

# urls ORDER TAG HOSTS PER: interleaved (host 1..N, then again) or grouped
# (one host's URLs together), to $T/TAG.txt
urls() {
	local order=$1 tag=$2 n=$3 per=$4 h i
	if [ "$order" = interleaved ]; then
		for ((i = 1; i <= per; i++)); do
			for ((h = 1; h <= n; h++)); do
				echo "https://h$h.evfetch.test:$HTTPS_PORT/n/$tag-$h-$i"
			done
		done
	else
		for ((h = 1; h <= n; h++)); do
			for ((i = 1; i <= per; i++)); do
				echo "https://h$h.evfetch.test:$HTTPS_PORT/n/$tag-$h-$i"
			done
		done
	fi >"$T/$tag.txt"
}

# fetch TAG ARGS...: every URL of $T/TAG.txt must be ok.
fetch() {
	local tag=$1
	shift
	evf --cacert "$CA_FILE" --no-progress --discard --resolve "*:$HTTPS_PORT:127.0.0.1" \
		--report "$T/$tag.jsonl" -i "$T/$tag.txt" "$@"
	is "$EVF_RC" 0 "$tag: exit status 0"
	is "$(rep_count "$T/$tag.jsonl" 'r["ok"] is True')" "$(wc -l <"$T/$tag.txt")" \
		"$tag: every URL ok"
}

# counts TAG: "CONNECTIONS FULL RESUMED REQUESTS" from nginx's log.
counts() {
	sleep 0.3
	grep -E "\"GET /n/$1-[0-9]+-[0-9]+ " "$NGINX_ACCESS_LOG" | awk '
		{ req++; if (!($2 in seen)) { seen[$2] = 1; n++ } }
		$3 == 1 { if ($NF ~ /\/r$/) r++; else f++ }
		END { printf "%d %d %d %d\n", n, f, r, req }'
}

for proto in h1 h2; do
	P=()
	[ "$proto" = h1 ] && P=(--http1.1)
	# 150 hosts x 4, interleaved: each host's URLs are 150 apart, far
	# beyond what is in flight at -c 20.
	urls interleaved "i$proto" 150 4
	fetch "i$proto" -c 20 "${P[@]}"
	read -r conns full resumed reqs < <(counts "i$proto")
	is "$reqs" 600 "interleaved $proto: nginx served 600 requests"
	is "$conns" 150 "interleaved $proto: one connection per host (150)"
	is "$full" 150 "interleaved $proto: one full handshake per host"
	is "$(rep_count "$T/i$proto.jsonl" 'r["reused"] is True')" 450 \
		"interleaved $proto: the report has 450 URLs on a reused connection"

	# the same hosts' URLs grouped: the next URL of a host waits for its
	# connection while other hosts' URLs fill the 20 slots
	urls grouped "g$proto" 150 4
	fetch "g$proto" -c 20 "${P[@]}"
	read -r conns full resumed reqs < <(counts "g$proto")
	is "$reqs" 600 "grouped $proto: nginx served 600 requests"
	# at the end, the last hosts' short lines wait for their one
	# connection; only a host alone with waiting URLs gets a second one
	cmp_ok "$conns" -le 160 "grouped $proto: one connection per host, the URLs in turn ($conns)"
	is "$full" 150 "grouped $proto: one full handshake per host"
done

# One host and nothing else to do: it gets as many connections as slots.
for i in $(seq 1 200); do echo "https://h1.evfetch.test:$HTTPS_PORT/n/one-1-$i"; done >"$T/one.txt"
fetch one -c 10 --http1.1
read -r conns full resumed reqs < <(counts one)
cmp_ok "$conns" -ge 5 "one host alone at -c 10: it gets several connections ($conns)"
cmp_ok "$conns" -le 10 "one host alone at -c 10: no more than the slots"

# An idle budget of 20 connections for 150 hosts: connections close, but
# every host's later connections resume its TLS session.
urls interleaved budget 150 3
fetch budget -c 10 --http1.1 --max-idle 20
read -r conns full resumed reqs < <(counts budget)
cmp_ok "$conns" -gt 150 "--max-idle 20: connections were closed and opened again ($conns)"
is "$full" 150 "--max-idle 20: still one full handshake per host"
is "$resumed" "$((conns - 150))" "--max-idle 20: every later connection resumed"
# a budget of 100 KiB keeps about 5 TLS connections
sed 's|/n/budget-|/n/budgetm-|' "$T/budget.txt" >"$T/budgetm.txt"
fetch budgetm -c 10 --http1.1 --idle-memory 100K
read -r conns full resumed reqs < <(counts budgetm)
cmp_ok "$conns" -gt 300 "--idle-memory 100K: few connections are kept ($conns for 450 URLs)"
is "$full" 150 "--idle-memory 100K: one full handshake per host"

# More unused hosts than stay warm (1,024): the oldest keep their session
# as DER, and it still resumes.
urls interleaved frozen 1100 2
fetch frozen -c 20 --http1.1 --max-idle 1
read -r conns full resumed reqs < <(counts frozen)
is "$conns" 2200 "1,100 hosts, --max-idle 1: a connection per URL"
is "$full" 1100 "1,100 hosts: one full handshake per host"
is "$resumed" 1100 "1,100 hosts: every second connection resumed, the frozen sessions too"

# No host cache: no session outlives its host's last connection (at -c 1
# a host's second URL is 100 lines on, far outside what is submitted).
urls interleaved nocache 100 2
fetch nocache -c 1 --http1.1 --max-idle 1 --host-cache 0
read -r conns full resumed reqs < <(counts nocache)
is "$conns" 200 "--host-cache 0: a connection per URL"
is "$full" 200 "--host-cache 0: every connection a full handshake"

# DNS: 40 names at fakedns, 3 URLs each over plain HTTP with no idle
# connection kept, so that every URL opens a connection: with the cache
# each name is looked up once (an A and an AAAA query), without it each
# time.
args=()
for ((h = 1; h <= 40; h++)); do args+=(--a "d$h.evfetch.test=127.0.0.1"); done
start_fakedns "${args[@]}"
dnsrun() {
	local tag=$1 h i
	shift
	for ((i = 1; i <= 3; i++)); do
		for ((h = 1; h <= 40; h++)); do
			echo "http://d$h.evfetch.test:$HTTP_PORT/n/$tag-$h-$i"
		done
	done >"$T/$tag.txt"
	: >"$FAKEDNS_LOG"
	evf --no-progress --discard --dns-servers "127.0.0.1:$FAKEDNS_PORT" -c 4 \
		--max-idle 1 --report "$T/$tag.jsonl" -i "$T/$tag.txt" "$@"
	is "$EVF_RC" 0 "$tag: exit status 0"
	is "$(rep_count "$T/$tag.jsonl" 'r["ok"] is True')" 120 "$tag: 120 URLs ok"
	sleep 0.2
	LOOKUPS=$(grep -ci "d[0-9]*\.evfetch\.test" "$FAKEDNS_LOG")
	NAMES=$(grep -oiE "d[0-9]+\.evfetch\.test" "$FAKEDNS_LOG" | tr A-Z a-z | sort -u | wc -l)
}
dnsrun dnscache
read -r conns full resumed reqs < <(counts dnscache)
cmp_ok "$conns" -gt 100 "DNS cache: the URLs opened new connections ($conns)"
is "$NAMES" 40 "DNS cache: all 40 names were looked up"
cmp_ok "$LOOKUPS" -le 80 "DNS cache: at most an A and an AAAA query per name ($LOOKUPS for 120 connections)"
dnsrun dnsnocache --dns-cache-time 0
cmp_ok "$LOOKUPS" -ge 200 "--dns-cache-time 0: a lookup per connection ($LOOKUPS)"

# Options: bad values are refused with a clear message.
evf --max-idle 0 http://127.0.0.1:1/
is "$EVF_RC" 2 "--max-idle 0: a usage error"
like "$(cat "$EVF_ERR")" 'max-idle' "--max-idle 0: the message names the option"
evf --idle-memory lots http://127.0.0.1:1/
is "$EVF_RC" 2 "--idle-memory lots: a usage error"
evf --host-cache -1 http://127.0.0.1:1/
is "$EVF_RC" 2 "--host-cache -1: a usage error"
evf --max-idle 999999 http://127.0.0.1:1/
is "$EVF_RC" 2 "--max-idle past the descriptor limit: a usage error"
like "$(cat "$EVF_ERR")" 'RLIMIT_NOFILE' "--max-idle past the limit: the message says which limit"

done_testing
