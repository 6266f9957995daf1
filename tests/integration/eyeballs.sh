#!/bin/bash
# eyeballs.sh - Happy Eyeballs (RFC 8305), -4/-6 and the report's
# remote_ip/remote_port, in a network namespace this script makes (root).
#
# Inside it, on lo: 127.0.0.2 and fd00::2 where nginx also listens;
# fd00::1 and fd00::4, whose SYNs an nftables rule drops (a blackhole);
# 127.0.0.3 and fd00::3, where nothing listens (refused).  fakedns.py
# gives the names below both kinds of records; nginx, fakedns and evfetch
# all run in the namespace.  The script runs itself there (EVF_IN_NETNS
# set) and removes the namespace on every way out.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi

if [ -z "${EVF_IN_NETNS:-}" ]; then
	skip_ns() {
		printf '1..0 # SKIP %s\n' "$1"
		exit 0
	}
	[ "$(id -u)" -eq 0 ] || skip_ns "not root: cannot make a network namespace"
	PATH=$PATH:/usr/sbin:/sbin
	command -v ip >/dev/null || skip_ns "ip (iproute2) not found"
	command -v nft >/dev/null || skip_ns "nft (Debian package nftables) not found"
	NS=evf-eyeballs-$$
	trap 'ip netns del "$NS" 2>/dev/null' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	ip netns add "$NS" 2>/dev/null || skip_ns "cannot make a network namespace"
	if ! { ip -n "$NS" link set lo up &&
		ip -n "$NS" addr add 127.0.0.2/8 dev lo &&
		ip -n "$NS" addr add 127.0.0.3/8 dev lo &&
		ip -n "$NS" addr add fd00::1/128 dev lo nodad &&
		ip -n "$NS" addr add fd00::2/128 dev lo nodad &&
		ip -n "$NS" addr add fd00::3/128 dev lo nodad &&
		ip -n "$NS" addr add fd00::4/128 dev lo nodad &&
		# on input: a drop on output would fail connect() at once (EPERM)
		ip netns exec "$NS" nft -f - <<-'EOF'
			table inet evf_eyeballs {
				chain input {
					type filter hook input priority 0;
					ip6 daddr { fd00::1, fd00::4 } tcp flags & (syn | ack) == syn drop
				}
			}
		EOF
	} >/dev/null 2>"/tmp/evf-eyeballs-$$.err"; then
		printf 'Bail out! cannot set up the namespace: %s\n' \
			"$(tr '\n' ' ' <"/tmp/evf-eyeballs-$$.err")"
		rm -f "/tmp/evf-eyeballs-$$.err"
		exit 1
	fi
	rm -f "/tmp/evf-eyeballs-$$.err"
	# in the background, so that a signal is handled at once: the inner
	# script stops its servers, then the namespace goes
	EVF_IN_NETNS=$NS ip netns exec "$NS" bash "$0" "$@" &
	inner=$!
	for sig in INT:130 TERM:143 HUP:129; do
		trap "kill -TERM $inner 2>/dev/null; wait $inner; exit ${sig#*:}" "${sig%:*}"
	done
	wait "$inner"
	exit $?
fi

: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
# one port for plain HTTP and one for HTTPS on 127.0.0.1 (which
# start_nginx waits for), 127.0.0.2 and fd00::2
read -r EH EHS < <(free_ports 2)
NGINX_EXTRA_SERVERS="
    server {
        listen 127.0.0.1:$EH; listen 127.0.0.2:$EH; listen [fd00::2]:$EH;
        include $T/nginx/locations.conf;
    }
    server {
        listen 127.0.0.1:$EHS ssl; listen 127.0.0.2:$EHS ssl; listen [fd00::2]:$EHS ssl;
        ssl_certificate $T/nginx/pki/server.pem;
        ssl_certificate_key $T/nginx/pki/server.key;
        include $T/nginx/locations.conf;
    }"
NGINX_EXTRA_PORTS="$EH $EHS"
start_nginx "$T/nginx"
HTTP_PORT=$EH
HTTPS_PORT=$EHS
D=evfetch.test
start_fakedns \
	--aaaa v4ok.$D=fd00::1 --a v4ok.$D=127.0.0.2 \
	--aaaa v6ok.$D=fd00::2 --a v6ok.$D=127.0.0.3 \
	--aaaa v6refused.$D=fd00::3 --a v6refused.$D=127.0.0.2 \
	--aaaa allbad.$D=fd00::3 --a allbad.$D=127.0.0.3 \
	--aaaa two.$D=fd00::1 --aaaa two.$D=fd00::4 --a two.$D=127.0.0.2 \
	--aaaa v6only.$D=fd00::2 \
	--aaaa black.$D=fd00::1 --aaaa black.$D=fd00::4 \
	--a slowaaaa.$D=127.0.0.2 --drop-aaaa slowaaaa.$D \
	--aaaa noa.$D=fd00::2 --a noa.$D=127.0.0.2 --drop-a noa.$D \
	--aaaa latea.$D=fd00::1 --a latea.$D=127.0.0.2 --delay-a latea.$D=100 \
	--aaaa lateaaaa.$D=fd00::2 --a lateaaaa.$D=127.0.0.3 --delay-aaaa lateaaaa.$D=150

R=$T/report.jsonl
# fetch URL [ARGS...]: one URL, its report line in $R
fetch() {
	local url=$1
	shift
	rm -f "$R"
	evf --dns-servers "127.0.0.1:$FAKEDNS_PORT" --cacert "$CA_FILE" -s \
		--discard --report "$R" "$@" "$url"
}
# field NAME: of the report's line; connect_ms as a whole number
field() { rep_get "$R" "$1"; }
# phase NAME: time.NAME of the report's line, in whole milliseconds
phase() {
	"$PYTHON3" -c 'import json, sys
print(int(json.loads(open(sys.argv[1]).readline())["time"][sys.argv[2]]))' "$R" "$1" 2>/dev/null ||
		echo "<no $1>"
}
connect_ms() { phase connect_ms; }
dns_ms() { phase dns_ms; }
# timed LABEL URL IP PHASE MIN MAX [ARGS...]: fetch URL (with ARGS), which
# must succeed over IP with time.PHASE from MIN up to below MAX ms
timed() {
	local label=$1 url=$2 ip=$3 name=$4 min=$5 max=$6 v
	shift 6
	fetch "$url" "$@"
	v=$(phase "$name")
	diag "$label: dns_ms $(dns_ms), connect_ms $(connect_ms)"
	is "$EVF_RC/$(field ok)/$(field remote_ip)" "0/true/$ip" "$label: ok over $ip"
	cmp_ok "$v" -ge "$min" "$label: $name at least $min"
	cmp_ok "$v" -lt "$max" "$label: $name below $max"
}

H=http://v4ok.$D:$HTTP_PORT/hello.txt
S=https://v4ok.$D:$HTTPS_PORT/hello.txt

# --- a blackholed IPv6 address, a working IPv4 one: IPv4 is tried after
# the attempt delay (250 ms); the margin is 200 ms
timed "blackholed IPv6, http" "$H" 127.0.0.2 connect_ms 240 450
is "$(field remote_port)" "$HTTP_PORT" "blackholed IPv6: remote_port"
rep_check "$R" >/dev/null
is "$?" 0 "the report line is valid, remote_ip and remote_port included"
timed "blackholed IPv6, https" "$S" 127.0.0.2 connect_ms 240 450
timed "--happy-eyeballs-timeout-ms 100" "$H" 127.0.0.2 connect_ms 90 300 \
	--happy-eyeballs-timeout-ms 100
timed "--happy-eyeballs-timeout-ms 1000" "$H" 127.0.0.2 connect_ms 990 1300 \
	--happy-eyeballs-timeout-ms 1000
# two blackholed IPv6 addresses: interleaved, IPv4 is the second attempt
timed "two blackholed IPv6 (interleaved)" "http://two.$D:$HTTP_PORT/hello.txt" \
	127.0.0.2 connect_ms 240 450

# every address blackholed: the connect timeout ends the race
fetch "http://black.$D:$HTTP_PORT/hello.txt" --connect-timeout 0.6
is "$EVF_RC/$(field error_kind)" 1/timeout "two blackholed addresses: a connect timeout"
cmp_ok "$EVF_MS" -lt 3000 "two blackholed addresses: ended by the 0.6 s connect timeout"

# many transfers at once, each on its own connection racing, over TLS
rm -f "$R"
urls=()
for i in $(seq 1 12); do urls+=("https://v4ok.$D:$HTTPS_PORT/n/$i"); done
evf --dns-servers "127.0.0.1:$FAKEDNS_PORT" --cacert "$CA_FILE" -s --discard \
	--report "$R" --http1.1 -c 12 "${urls[@]}"
diag "12 at once over TLS: connect_ms, tls_ms, reused: $("$PYTHON3" -c 'import json, sys
print(" ".join("%d/%d/%s" % (r["time"]["connect_ms"], r["time"]["tls_ms"], "r" if r["reused"] else "n")
               for r in map(json.loads, open(sys.argv[1]))))' "$R")"
is "$(rep_count "$R" 'r["ok"] and r["remote_ip"] == "127.0.0.2"')" 12 \
	"12 at once over TLS past a blackholed IPv6 address: all ok over IPv4"
is "$(rep_count "$R" 'not r["reused"] and r["time"]["connect_ms"] < 450')" \
	"$(rep_count "$R" 'not r["reused"]')" \
	"12 at once: every new connection within the attempt delay + 200 ms"

# --- a working IPv6 address, a refused IPv4 one
timed "working IPv6, refused IPv4" "http://v6ok.$D:$HTTP_PORT/hello.txt" fd00::2 connect_ms 0 200
is "$(field remote_port)" "$HTTP_PORT" "working IPv6: remote_port"
fetch "https://v6ok.$D:$HTTPS_PORT/hello.txt"
is "$(field ok)/$(field remote_ip)/$(field remote_port)" "true/fd00::2/$HTTPS_PORT" \
	"https, working IPv6: ok over IPv6"

# a refused IPv6 address: IPv4 is tried at once, not after the delay
timed "refused IPv6, working IPv4" "http://v6refused.$D:$HTTP_PORT/hello.txt" \
	127.0.0.2 connect_ms 0 150

# every address refused: the error names each
fetch "http://allbad.$D:$HTTP_PORT/hello.txt"
is "$EVF_RC/$(field error_kind)" 1/connect "every address refused: a connect error"
diag "every address refused: $(field error)"
like "$(field error)" "\\[fd00::3\\]:$HTTP_PORT \\(Connection refused\\), 127\\.0\\.0\\.3:$HTTP_PORT \\(Connection refused\\)" \
	"every address refused: the error lists both, IPv6 first"
is "$(field remote_ip)/$(field remote_port)" "null/0" "no connection: remote_ip null, remote_port 0"

# --- -4 and -6
timed "-4 (the blackholed IPv6 address is not tried)" "$H" 127.0.0.2 connect_ms 0 200 -4
fetch "$H" --ipv6 --connect-timeout 0.5
is "$EVF_RC/$(field error_kind)" 1/timeout "-6: only the blackholed IPv6 address, a connect timeout"
fetch "http://v6ok.$D:$HTTP_PORT/hello.txt" -4
is "$(field error_kind)" connect "-4 on a host whose IPv4 address refuses: connect error"
like "$(field error)" "127\\.0\\.0\\.3" "-4: the error names the IPv4 address"
unlike "$(field error)" "fd00" "-4: no IPv6 address was tried"
fetch "http://v6ok.$D:$HTTP_PORT/hello.txt" --ipv6
is "$(field ok)/$(field remote_ip)" true/fd00::2 "--ipv6: IPv6"
fetch "http://v6only.$D:$HTTP_PORT/hello.txt" -4
is "$(field error_kind)" dns "-4 on a name with only AAAA: dns error"
fetch "http://127.0.0.2:$HTTP_PORT/hello.txt" -6
is "$(field error_kind)" dns "-6 with an IPv4 literal: dns error"
fetch "http://[fd00::2]:$HTTP_PORT/hello.txt"
is "$(field ok)/$(field remote_ip)" true/fd00::2 "an IPv6 literal: remote_ip"

# --- DNS: the answers come apart.  AAAA never answered: A is used 50 ms
# after it came
timed "AAAA never answered" "http://slowaaaa.$D:$HTTP_PORT/hello.txt" 127.0.0.2 dns_ms 45 300
# A never answered: the AAAA answer is used at once
timed "A never answered" "http://noa.$D:$HTTP_PORT/hello.txt" fd00::2 dns_ms 0 40
# a late A answer joins the race: a blackholed IPv6 address answered at
# once, the working IPv4 one 100 ms later, tried after the attempt delay
timed "A 100 ms after a blackholed AAAA" "http://latea.$D:$HTTP_PORT/hello.txt" \
	127.0.0.2 connect_ms 240 450
# a refused IPv4 address (used 50 ms after A without AAAA), then AAAA 150
# ms late: the race waits for it rather than fail
timed "AAAA 150 ms late, IPv4 refused" "http://lateaaaa.$D:$HTTP_PORT/hello.txt" \
	fd00::2 connect_ms 140 350

# --- a kept-alive connection reports its address again
rm -f "$R"
evf --dns-servers "127.0.0.1:$FAKEDNS_PORT" -s --discard --report "$R" -c 1 \
	"$H" "${H}?2"
is "$(rep_count "$R" 'r["remote_ip"] == "127.0.0.2" and r["remote_port"] == '"$HTTP_PORT")" 2 \
	"keep-alive: both transfers report the address"
is "$(rep_count "$R" 'r["reused"]')" 1 "keep-alive: the second one reused the connection"

# --- usage errors
evf --happy-eyeballs-timeout-ms 60001 "$H"
is "$EVF_RC" 2 "--happy-eyeballs-timeout-ms above 60000: usage error"
evf --happy-eyeballs-timeout-ms x "$H"
is "$EVF_RC" 2 "--happy-eyeballs-timeout-ms x: usage error"

is "$(cat "$T"/evf.*.err | grep -c '\[warn\]')" 0 "no warning from libevent in any run"
done_testing
