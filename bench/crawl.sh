# shellcheck shell=bash disable=SC2153
# (SC2153: NOFILE, RUNS and others are run.sh's.)
# crawl.sh - the "many hosts" workloads of bench/run.sh (sourced by it).
#
#   crawl      2,000 host names (h1.crawl.test ... h2000.crawl.test, each on
#              a loopback address of its own through /etc/hosts) x 5 URLs
#              of 1 KiB = 10,000 URLs at -c 50, in two list orders:
#              interleaved (every host's first URL, then every host's
#              second, ...: one host's URLs are 2,000 lines apart) and
#              grouped (one host's 5 URLs together).  evfetch as it comes
#              (it offers h2 and http/1.1), evfetch --http1.1 (evfetch-h1),
#              aria2c, wget2 and curl --parallel.
#   longcrawl  LONGCRAWL_HOSTS names (n1.crawl.test ..., default 100,000)
#              x 1 URL, streamed from a generator through a pipe: evfetch
#              (--resolve '*:PORT:127.0.0.1'), evfetch again on a tenth of
#              the names (peak RSS against input length), evfetch asking
#              the bench's name server (evfetch-dns), and aria2c asking it,
#              as it comes and without keep-alive (aria2c-close: aria2c
#              shares connections between names on one address).
#
# Both use an nginx of their own (config $W/crawl-nginx.conf), started on
# first use and stopped at exit.  It listens on one port on each of the
# 2,000 addresses (crawl) and on 127.0.0.1 (longcrawl), with a wildcard
# certificate for *.crawl.test from the bench CA, HTTP/2 and HTTP/1.1 by
# ALPN, TLS 1.2 and 1.3, a shared session cache and tickets.  Its access
# log tells, run by run, the connections, the full and the resumed TLS
# handshakes, the requests and the protocol.
#
# /etc/hosts: crawl appends its 2,000 names and writes the saved copy back
# when it is done and on every exit (EXIT, INT, TERM, HUP: run.sh's cleanup
# calls crawl_cleanup first), in place, and checks the result with cmp.
# The copy is kept in /var/tmp until the restore has been checked.  That
# needs root or sudo -n, unless the names are in /etc/hosts already (then
# the file is left alone).
#
# longcrawl does not use /etc/hosts: with 100,000 lines, the C library and
# c-ares read the file through for every look-up (about 11 ms each here),
# far too slow.  aria2c (and evfetch-dns) ask a small name server that this
# script runs on 127.0.0.1:53 instead: every *.crawl.test name is
# 127.0.0.1.  Without port 53 (not root, or taken) aria2c and evfetch-dns
# are skipped with a note.
#
# From run.sh: W, CA, SUDO, NOFILE, RUNS, RAW, FAILS, TIME_BIN, EVFETCH_BIN,
# HAVE_WGET2, HAVE_CURL and say, die, note, have, add_fields, check_run,
# rc_of_last, nginx_http_common, launch_nginx, make_cert.

CRAWL_DOMAIN=crawl.test
CRAWL_HOSTS=2000
CRAWL_PER_HOST=5
CRAWL_C=50
LONGCRAWL_HOSTS=${LONGCRAWL_HOSTS:-100000}
CRAWL_DNS_PORT=53

CRAWL_READY=0        # crawl_setup has run
CRAWL_PORT=          # nginx's port on every address
CRAWL_SUFFIX=        # ":PORT" in URLs, empty for 443
CRAWL_NGINX_PID=
CRAWL_DNS_PID=       # the name server of longcrawl
CRAWL_BG=            # the measured run in progress
CRAWL_GEN_PID=       # the URL generator feeding it
CRAWL_ARIA_DIR=      # where aria2c writes (a tmpfs when there is one)
CRAWL_HOSTS_THERE=0  # /etc/hosts had the names before the bench
CRAWL_HOSTS_SAVED=   # the saved /etc/hosts while the names are appended
CRAWL_TOOLS=()
HAVE_ARIA2=0

# ------------------------------------------------------------ /etc/hosts
# crawl_hosts_entries: "ADDRESS NAME" for the 2,000 names, host i (from 0)
# on 127.1.(i / 250).(i % 250 + 1).
crawl_hosts_entries() {
	awk -v n="$CRAWL_HOSTS" -v d="$CRAWL_DOMAIN" 'BEGIN {
		for (i = 0; i < n; i++)
			printf "127.1.%d.%d h%d.%s\n", int(i / 250), i % 250 + 1, i + 1, d
	}'
}

# crawl_hosts_present: every line of $W/crawl/hosts.txt is in /etc/hosts.
crawl_hosts_present() {
	awk 'NR == FNR { want[$1 " " $2] = 1; n++; next }
		/^[ \t]*#/ { next }
		{ for (i = 2; i <= NF; i++) if (($1 " " $i) in want) { delete want[$1 " " $i]; n-- } }
		END { exit n > 0 }' "$W/crawl/hosts.txt" /etc/hosts
}

# crawl_hosts_write MODE FILE: FILE's bytes into /etc/hosts, in place
# (mode "over") or at its end ("append"): never a new file in its stead,
# since /etc/hosts is often a bind mount.
crawl_hosts_write() {
	local mode=$1 file=$2
	if [ -z "$SUDO" ]; then
		if [ "$mode" = append ]; then cat -- "$file" >>/etc/hosts; else cat -- "$file" >/etc/hosts; fi
	elif [ "$mode" = append ]; then
		# shellcheck disable=SC2024 # tee, as root, does the writing
		sudo -n tee -a /etc/hosts <"$file" >/dev/null
	else
		# shellcheck disable=SC2024
		sudo -n tee /etc/hosts <"$file" >/dev/null
	fi
}

# crawl_preflight: at start-up, before any workload; dies when crawl could
# not put its names in /etc/hosts.
crawl_preflight() {
	mkdir -p "$W/crawl"
	crawl_hosts_entries >"$W/crawl/hosts.txt"
	if crawl_hosts_present; then
		CRAWL_HOSTS_THERE=1
		say "== /etc/hosts has the $CRAWL_HOSTS crawl names already: it is left alone"
		return 0
	fi
	if [ -z "$SUDO" ]; then
		[ -w /etc/hosts ] || die "crawl: /etc/hosts is not writable (read-only mount?); crawl needs its $CRAWL_HOSTS names in it"
	elif ! sudo -n true 2>/dev/null; then
		die "crawl: it appends $CRAWL_HOSTS names to /etc/hosts (and puts the file back at exit): run as root or with sudo rights (sudo -n), or add the names yourself"
	fi
}

# crawl_hosts_add: save /etc/hosts outside $W, then append the names.
crawl_hosts_add() {
	local dir saved
	[ "$CRAWL_HOSTS_THERE" = 1 ] && return 0
	[ -n "$CRAWL_HOSTS_SAVED" ] && return 0
	dir=/var/tmp
	[ -d "$dir" ] && [ -w "$dir" ] || dir=${TMPDIR:-/tmp}
	saved=$(mktemp "$dir/evfetch-bench-hosts.XXXXXX") || die "crawl: cannot save /etc/hosts"
	if ! cat /etc/hosts >"$saved" || ! cmp -s /etc/hosts "$saved"; then
		rm -f -- "$saved"
		die "crawl: cannot save a copy of /etc/hosts"
	fi
	{
		# a file without a final newline gets one before our lines
		[ -n "$(tail -c 1 "$saved")" ] && echo
		echo "# evfetch bench/run.sh crawl: these lines are removed at its exit"
		cat "$W/crawl/hosts.txt"
	} >"$saved.add"
	cat "$saved" "$saved.add" >"$saved.ours"
	# From here on every exit restores the saved copy.
	CRAWL_HOSTS_SAVED=$saved
	crawl_hosts_write append "$saved.add" || die "crawl: cannot append to /etc/hosts"
	cmp -s /etc/hosts "$saved.ours" || die "crawl: /etc/hosts does not read back as written"
	say "== /etc/hosts: $CRAWL_HOSTS crawl names appended (the original is saved in $saved)"
}

# crawl_hosts_restore: the saved copy back into /etc/hosts, checked; false
# (and loud) when the file is not byte-identical to it afterwards.
crawl_hosts_restore() {
	local saved=$CRAWL_HOSTS_SAVED
	[ -n "$saved" ] || return 0
	if ! cmp -s /etc/hosts "$saved.ours" && ! cmp -s /etc/hosts "$saved"; then
		cat /etc/hosts >"$saved.found" 2>/dev/null
		say "!! /etc/hosts was changed by something else while the crawl names were in it;"
		say "!! that version is kept in $saved.found, the original goes back"
	fi
	crawl_hosts_write over "$saved"
	if cmp -s /etc/hosts "$saved"; then
		rm -f -- "$saved" "$saved.add" "$saved.ours"
		CRAWL_HOSTS_SAVED=
		say "== /etc/hosts restored: byte-identical to the copy saved before (cmp)"
		return 0
	fi
	say "!!!!!!!! /etc/hosts IS NOT WHAT IT WAS BEFORE THE CRAWL !!!!!!!!"
	say "!!!!!!!! the original is in $saved; put it back with: cat $saved > /etc/hosts"
	return 1
}

# ----------------------------------------------------------------- setup
# crawl_pick_port: 443 when we are root and it is free on every address,
# else a port free on 127.0.0.1 that binds on every address.
crawl_pick_port() {
	python3 - "$W/crawl/hosts.txt" <<'PYEOF'
import os, socket, sys
addrs = ["127.0.0.1"] + [l.split()[0] for l in open(sys.argv[1]) if l.strip()]

def binds(port):
    for a in addrs:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((a, port))
        except OSError:
            return False
        finally:
            s.close()
    return True

tries = [443] if os.geteuid() == 0 else []
for _ in range(20):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    tries.append(s.getsockname()[1])
    s.close()
for port in tries:
    if binds(port):
        print(port)
        break
PYEOF
}

crawl_nginx_conf() {
	local nofile conns
	# worker_connections counts the 2,001 listening sockets too.
	nofile=$((NOFILE > 34816 ? 34816 : NOFILE))
	conns=$((nofile - CRAWL_HOSTS - 200))
	cat <<EOF
# Generated by bench/crawl.sh.
worker_processes 1;
worker_rlimit_nofile $nofile;
pid $W/crawl-nginx.pid;
error_log $W/logs/crawl-error.log warn;
events {
    worker_connections $conns;
}
http {
$(nginx_http_common)
    sendfile on;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 10000;
    send_timeout 300s;
    gzip off;
    server_tokens off;
    open_file_cache max=64 inactive=300s;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate $W/pki/crawl.pem;
    ssl_certificate_key $W/pki/crawl.key;
    ssl_session_cache shared:CRAWL:64m;
    ssl_session_timeout 1h;
    root $W/www;
    log_format crawl '\$connection \$connection_requests \$ssl_session_reused \$host \$server_protocol \$status \$request_uri';

    # crawl: a listening socket on each host's address.  Every /c/ URL is
    # the same 1 KiB file.
    server {
$(awk -v p="$CRAWL_PORT" '{ printf "        listen %s:%s ssl http2;\n", $1, p }' "$W/crawl/hosts.txt")
        server_name *.$CRAWL_DOMAIN;
        access_log $W/logs/crawl.log crawl;
        location /c/ { try_files /1k.bin =404; }
    }
    # longcrawl: every name on 127.0.0.1.
    server {
        listen 127.0.0.1:$CRAWL_PORT ssl http2;
        server_name *.$CRAWL_DOMAIN;
        access_log $W/logs/longcrawl.log crawl;
        location /c/ { try_files /1k.bin =404; }
    }
}
EOF
}

# crawl_lists: the two orders of the 10,000 URLs, as lists and as curl
# configs.
crawl_lists() {
	local order
	for order in interleaved grouped; do
		awk -v n="$CRAWL_HOSTS" -v k="$CRAWL_PER_HOST" -v d="$CRAWL_DOMAIN" \
			-v sfx="$CRAWL_SUFFIX" -v order="$order" 'BEGIN {
			for (a = 1; a <= (order == "grouped" ? n : k); a++)
				for (b = 1; b <= (order == "grouped" ? k : n); b++) {
					if (order == "grouped") { h = a; j = b } else { h = b; j = a }
					printf "https://h%d.%s%s/c/%d-%d.bin\n", h, d, sfx, h, j
				}
		}' >"$W/crawl/$order.txt"
		awk '{ print "url = \"" $0 "\""; print "output = \"/dev/null\"" }' \
			"$W/crawl/$order.txt" >"$W/crawl/$order.curl"
	done
}

# crawl_gen N: N URLs, each on a host of its own, for longcrawl.
crawl_gen() {
	seq 1 "$1" | awk -v d="$CRAWL_DOMAIN" -v sfx="$CRAWL_SUFFIX" \
		'{ print "https://n" $1 "." d sfx "/c/" $1 ".bin" }'
}

# crawl_setup: once, for either workload: peers, certificate, nginx.
crawl_setup() {
	[ "$CRAWL_READY" = 1 ] && return 0
	CRAWL_READY=1
	mkdir -p "$W/crawl"
	[ -s "$W/crawl/hosts.txt" ] || crawl_hosts_entries >"$W/crawl/hosts.txt"
	if have aria2c aria2; then HAVE_ARIA2=1; else note "aria2c (aria2) is missing and could not be installed: skipped"; fi
	CRAWL_TOOLS=(evfetch evfetch-h1)
	[ "$HAVE_ARIA2" = 1 ] && CRAWL_TOOLS+=(aria2c)
	[ "$HAVE_WGET2" = 1 ] && CRAWL_TOOLS+=(wget2)
	[ "$HAVE_CURL" = 1 ] && CRAWL_TOOLS+=(curl)
	make_cert "$W/pki" crawl 4343 "DNS:*.$CRAWL_DOMAIN"
	CRAWL_PORT=$(crawl_pick_port)
	[ -n "$CRAWL_PORT" ] || die "crawl: found no port that binds on all $CRAWL_HOSTS addresses"
	if [ "$CRAWL_PORT" = 443 ]; then CRAWL_SUFFIX=; else CRAWL_SUFFIX=:$CRAWL_PORT; fi
	crawl_nginx_conf >"$W/crawl-nginx.conf"
	launch_nginx "$W/crawl-nginx.conf" "$W/logs/crawl-error.log" 127.1.0.1 "$CRAWL_PORT" CRAWL_NGINX_PID
	say "== crawl nginx $CRAWL_NGINX_PID on port $CRAWL_PORT of 127.0.0.1 and of $CRAWL_HOSTS addresses in 127.1.0.0/16"
	crawl_lists
	# aria2c writes each body to a file: into a tmpfs when there is one.
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		CRAWL_ARIA_DIR=$(mktemp -d /dev/shm/evfetch-bench-aria.XXXXXX) || CRAWL_ARIA_DIR=
	fi
	[ -n "$CRAWL_ARIA_DIR" ] || CRAWL_ARIA_DIR=$W/out/aria
}

crawl_cleanup() {
	local p
	crawl_hosts_restore
	# The measured run's measure.py stops its client when it sees itself
	# orphaned.  No wait here: bash's wait for a job, called from a trap
	# that interrupted the wait for that same job, was seen to block.
	for p in "$CRAWL_BG" "$CRAWL_GEN_PID" "$CRAWL_DNS_PID"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	done
	if [ -n "$CRAWL_NGINX_PID" ]; then
		kill -TERM "$CRAWL_NGINX_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$CRAWL_NGINX_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$CRAWL_NGINX_PID" 2>/dev/null
		wait "$CRAWL_NGINX_PID" 2>/dev/null
	fi
	case $CRAWL_ARIA_DIR in /dev/shm/evfetch-bench-aria.*) rm -rf -- "$CRAWL_ARIA_DIR" ;; esac
}

# ------------------------------------------------------------------ runs
# crawl_bg CMD...: CMD in the background, waited for, so that a signal to
# the script is handled at once (the cleanup stops CMD).
crawl_bg() {
	"$@" <&0 &
	CRAWL_BG=$!
	wait "$CRAWL_BG"
	CRAWL_BG=
}

# crawl_measure TAG [measure.py options] -- CMD...: as run.sh's measure,
# with the crawl nginx as the server.
crawl_measure() {
	MEASURE_SERVER_PID=$CRAWL_NGINX_PID measure "$@"
}

# crawl_counts LOG: "CONNECTIONS FULL RESUMED REQUESTS OK PROTOCOLS" from
# the nginx log: connections seen (distinct $connection), of them those
# with a full and with a resumed TLS handshake, requests, distinct URLs
# answered 200, and protocol:connections.
crawl_counts() {
	sleep 0.3
	awk '{ req++
		if ($6 == 200) ok[$4 $7] = 1
		if (!($1 in seen)) {
			seen[$1] = 1; conns++
			if ($3 == "r") res++; else full++
			p[$5]++
		}
	} END {
		s = ""; for (k in p) s = s (s == "" ? "" : ",") k ":" p[k]
		nok = 0; for (k in ok) nok++
		printf "%d %d %d %d %d %s\n", conns, full, res, req, nok, (s == "" ? "-" : s)
	}' "$1"
}

# crawl_run TOOL TAG N LIST LOG [options...]: one measured run of TOOL on
# LIST ($W/crawl/LIST.txt, or "-": N URLs of crawl_gen through a pipe);
# the options go to the tool.
crawl_run() {
	local tool=$1 tag=$2 n=$3 list=$4 log=$5 okc rc in=/dev/null file
	shift 5
	local o=$W/out/$tag.$tool.out e=$W/out/$tag.$tool.err
	local limit=$((n / 50 > 600 ? n / 50 : 600))
	: >"$log"
	if [ "$list" = - ]; then
		file=-
		in=$W/crawl/gen.fifo
		rm -f -- "$in"
		mkfifo "$in" || die "mkfifo failed"
		crawl_gen "$n" >"$in" &
		CRAWL_GEN_PID=$!
	else
		file=$W/crawl/$list.txt
	fi
	case $tool in
	evfetch*)
		crawl_bg crawl_measure "$tag" --limit "$limit" --stdout "$o" --stderr "$e" -- \
			"$EVFETCH_BIN" -c "$CRAWL_C" --discard --no-progress --cacert "$CA" \
			"$@" -i "$file" <"$in"
		rc=$(rc_of_last)
		okc=$(sed -n 's/^evfetch: [0-9]* URLs, \([0-9]*\) ok,.*/\1/p' "$e" | tail -n 1)
		;;
	aria2c*)
		# Every body is a file of its own (the URL paths differ), in a
		# tmpfs; counted, then removed.
		rm -rf -- "$CRAWL_ARIA_DIR"
		mkdir -p "$CRAWL_ARIA_DIR"
		HOME=$W/home crawl_bg crawl_measure "$tag" --limit "$limit" --stdout "$o" --stderr "$e" -- \
			aria2c --no-conf -j "$CRAWL_C" -d "$CRAWL_ARIA_DIR" --allow-overwrite=true \
			--auto-file-renaming=false --ca-certificate="$CA" --disable-ipv6=true \
			--console-log-level=warn --summary-interval=0 --show-console-readout=false \
			--download-result=hide "$@" -i "$file" <"$in"
		rc=$(rc_of_last)
		okc=$(find "$CRAWL_ARIA_DIR" -type f -name '*.bin' -size 1024c | wc -l)
		rm -rf -- "$CRAWL_ARIA_DIR"
		;;
	wget2)
		HOME=$W/home crawl_bg crawl_measure "$tag" --limit "$limit" --stdout "$o" --stderr "$e" -- \
			wget2 --max-threads="$CRAWL_C" -q -O /dev/null --no-robots \
			--ca-certificate="$CA" --no-hsts --no-hpkp --no-netrc --no-config \
			"$@" -i "$file" <"$in"
		rc=$(rc_of_last)
		okc=  # wget2 gives no count: the 200s in nginx's log, below
		;;
	curl)
		crawl_bg crawl_measure "$tag" --limit "$limit" --stdout "$o" --stderr "$e" -- \
			curl --parallel --parallel-max "$CRAWL_C" -s -S --no-progress-meter --cacert "$CA" \
			-w '%{http_code}\n' "$@" -K "$W/crawl/$list.curl" <"$in"
		rc=$(rc_of_last)
		okc=$(grep -c '^200$' "$o")
		;;
	esac
	if [ -n "$CRAWL_GEN_PID" ]; then
		kill "$CRAWL_GEN_PID" 2>/dev/null
		wait "$CRAWL_GEN_PID" 2>/dev/null
		CRAWL_GEN_PID=
		rm -f -- "$in"
	fi
	local conns full resumed reqs ok200 protos
	read -r conns full resumed reqs ok200 protos < <(crawl_counts "$log")
	[ "$tool" = wget2 ] && okc=$ok200
	check_run "$tool" "$tag" "$n" "$rc" "${okc:-0}" "$e"
	add_fields hosts="$n" conns="$conns" full="$full" resumed="$resumed" \
		requests="$reqs" ok200="$ok200" protos="$protos"
	say "   $tool: $(tail -n 1 "$RAW" | python3 -c 'import json, sys
r = json.load(sys.stdin)
print("%.0f URLs/s, %d connections, %d full + %d resumed handshakes, %s, peak RSS %s KiB"
      % (r["urls"] / r["wall"], r["conns"], r["full"], r["resumed"], r["protos"], r["maxrss_kib"]))')"
}

# crawl: both orders, RUNS times, the tools rotated run by run.
crawl() {
	local r i order tool nt
	crawl_setup
	crawl_hosts_add
	local a b
	a=$(getent hosts "h1.$CRAWL_DOMAIN" | awk '{ print $1; exit }')
	b=$(getent hosts "h$CRAWL_HOSTS.$CRAWL_DOMAIN" | awk '{ print $1; exit }')
	if [ "$a" != 127.1.0.1 ] || [ "$b" != "$(tail -n 1 "$W/crawl/hosts.txt" | cut -d' ' -f1)" ]; then
		crawl_hosts_restore
		die "crawl: the crawl names do not resolve through /etc/hosts (h1: '$a', h$CRAWL_HOSTS: '$b')"
	fi
	nt=${#CRAWL_TOOLS[@]}
	for ((r = 0; r < RUNS; r++)); do
		for order in interleaved grouped; do
			for ((i = 0; i < nt; i++)); do
				tool=${CRAWL_TOOLS[(i + r) % nt]}
				say "-- crawl-$order run $((r + 1))/$RUNS: $tool"
				case $tool in
				evfetch-h1)
					crawl_run evfetch-h1 "crawl-$order" $((CRAWL_HOSTS * CRAWL_PER_HOST)) \
						"$order" "$W/logs/crawl.log" --http1.1 ;;
				*)
					crawl_run "$tool" "crawl-$order" $((CRAWL_HOSTS * CRAWL_PER_HOST)) \
						"$order" "$W/logs/crawl.log" ;;
				esac
			done
		done
	done
	crawl_hosts_restore || FAILS+=("crawl: /etc/hosts is not byte-identical to the copy saved before")
}

# crawl_dns_start: the name server of longcrawl on 127.0.0.1:53 (UDP); false
# when it cannot bind.
crawl_dns_start() {
	[ -n "$CRAWL_DNS_PID" ] && return 0
	cat >"$W/crawl/dns.py" <<'PYEOF'
# Answers A queries for DOMAIN and its subdomains with 127.0.0.1, any other
# type for them with no data, other names with REFUSED.
import socket, struct, sys
port, domain = int(sys.argv[1]), sys.argv[2].encode().lower()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 21)
try:
    s.bind(("127.0.0.1", port))
except OSError as e:
    print("cannot bind 127.0.0.1:%d: %s" % (port, e), flush=True)
    sys.exit(1)
print("ready", flush=True)
answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 300, 4) + bytes([127, 0, 0, 1])
while True:
    q, peer = s.recvfrom(4096)
    if len(q) < 17:
        continue
    qid, flags, qdcount = struct.unpack("!HHH", q[:6])
    if flags & 0x8000 or qdcount != 1:
        continue
    i, labels = 12, []
    while i < len(q) and q[i] != 0:
        labels.append(q[i + 1:i + 1 + q[i]])
        i += 1 + q[i]
    if i + 5 > len(q):
        continue
    qtype, qclass = struct.unpack("!HH", q[i + 1:i + 5])
    question = q[12:i + 5]
    name = b".".join(labels).lower()
    rd = flags & 0x0100
    if name != domain and not name.endswith(b"." + domain):
        s.sendto(struct.pack("!6H", qid, 0x8000 | rd | 5, 1, 0, 0, 0) + question, peer)
    elif qtype == 1 and qclass == 1:
        s.sendto(struct.pack("!6H", qid, 0x8400 | rd, 1, 1, 0, 0) + question + answer, peer)
    else:
        s.sendto(struct.pack("!6H", qid, 0x8400 | rd, 1, 0, 0, 0) + question, peer)
PYEOF
	python3 "$W/crawl/dns.py" "$CRAWL_DNS_PORT" "$CRAWL_DOMAIN" >"$W/logs/dns.log" 2>&1 &
	CRAWL_DNS_PID=$!
	for _ in $(seq 50); do
		grep -q . "$W/logs/dns.log" && break
		sleep 0.1
	done
	if ! grep -q '^ready' "$W/logs/dns.log"; then
		kill "$CRAWL_DNS_PID" 2>/dev/null
		wait "$CRAWL_DNS_PID" 2>/dev/null
		CRAWL_DNS_PID=
		return 1
	fi
	say "== name server for *.$CRAWL_DOMAIN on 127.0.0.1:$CRAWL_DNS_PORT (pid $CRAWL_DNS_PID)"
}

# longcrawl: LONGCRAWL_HOSTS names x 1 URL from a pipe.
longcrawl() {
	local n=$LONGCRAWL_HOSTS small=$((LONGCRAWL_HOSTS / 10)) r i nt spec tool k
	crawl_setup
	local runs=("evfetch:$n" "evfetch:$small")
	if crawl_dns_start; then
		runs+=("evfetch-dns:$n")
		[ "$HAVE_ARIA2" = 1 ] && runs+=("aria2c:$n" "aria2c-close:$n")
	else
		note "longcrawl: no name server on 127.0.0.1:$CRAWL_DNS_PORT ($(head -c 200 "$W/logs/dns.log")): aria2c and evfetch-dns skipped"
	fi
	nt=${#runs[@]}
	for ((r = 0; r < RUNS; r++)); do
		for ((i = 0; i < nt; i++)); do
			spec=${runs[(i + r) % nt]}
			tool=${spec%%:*} k=${spec#*:}
			say "-- longcrawl run $((r + 1))/$RUNS: $tool, $k hosts"
			case $tool in
			evfetch)
				crawl_run evfetch "longcrawl-$k" "$k" - "$W/logs/longcrawl.log" \
					--resolve "*:$CRAWL_PORT:127.0.0.1" ;;
			evfetch-dns)
				crawl_run evfetch-dns "longcrawl-$k" "$k" - "$W/logs/longcrawl.log" \
					--dns-servers "127.0.0.1:$CRAWL_DNS_PORT" ;;
			aria2c)
				crawl_run aria2c "longcrawl-$k" "$k" - "$W/logs/longcrawl.log" \
					--async-dns-server=127.0.0.1 --deferred-input=true ;;
			aria2c-close)
				# aria2c pools connections by address, not by name: with
				# every name on 127.0.0.1 it sends one name's requests on
				# connections opened (and verified) for others.  Without
				# keep-alive each name gets a connection of its own, as
				# names on addresses of their own would.
				crawl_run aria2c-close "longcrawl-$k" "$k" - "$W/logs/longcrawl.log" \
					--async-dns-server=127.0.0.1 --deferred-input=true \
					--enable-http-keep-alive=false ;;
			esac
		done
	done
}

# ---------------------------------------------------------------- report
# crawl_report OUT: the markdown sections of crawl and longcrawl from the
# raw records, into OUT (empty when neither ran).
crawl_report() {
	python3 - "$RAW" "$1" "$CRAWL_HOSTS" "$CRAWL_PER_HOST" "$CRAWL_C" \
		"${CRAWL_PORT:-?}" "$CRAWL_DNS_PORT" "$CRAWL_DOMAIN" <<'PYEOF'
import json, statistics, sys
raw, out_path, nh, per, conc, port, dnsport, domain = sys.argv[1:]
nh, per, conc = int(nh), int(per), int(conc)
recs = [json.loads(l) for l in open(raw) if l.strip()]
out = []
w = out.append
TOOLS = ["evfetch", "evfetch-h1", "evfetch-dns", "aria2c", "aria2c-close", "wget2", "curl"]

def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None

def fmt(x, nd=0):
    if x is None:
        return "-"
    return "{:,.{}f}".format(x, nd)

def good(r):
    return r.get("ok") == r.get("urls") and r.get("rc") == 0

def stats(rs):
    g = [r for r in rs if good(r)]
    rates = [r["urls"] / r["wall"] for r in g]
    # "HTTP/2.0:2000" or "HTTP/1.1:3,HTTP/2.0:1997" per run: the protocol,
    # or the protocols with their median connection counts when mixed
    per = {}
    for r in g:
        for item in str(r.get("protos", "")).split(","):
            if ":" in item:
                k, v = item.rsplit(":", 1)
                per.setdefault(k, []).append(int(v))
    if len(per) == 1:
        protos = list(per)
    else:
        protos = ["{} {}".format(k, fmt(med(v))) for k, v in sorted(per.items())]
    return {
        "rate": med(rates), "lo": min(rates) if rates else None,
        "hi": max(rates) if rates else None,
        "cpu": med([(r["user"] + r["sys"]) * 1e6 / r["urls"] for r in g]),
        "conns": med([r.get("conns") for r in g]),
        "full": med([r.get("full") for r in g]),
        "resumed": med([r.get("resumed") for r in g]),
        "rss": med([r["maxrss_kib"] / 1024 for r in g if r.get("maxrss_kib")]),
        "protos": ", ".join(protos) if protos else "-",
        "failed": len(rs) - len(g), "runs": len(rs),
    }

def rate_cell(s):
    if s["rate"] is None:
        return "-"
    if s["runs"] - s["failed"] > 1:
        return "{} ({}–{})".format(fmt(s["rate"]), fmt(s["lo"]), fmt(s["hi"]))
    return fmt(s["rate"])

def ratio(a, b):
    return "{:.2f}x".format(a / b) if a is not None and b else "-"

def verdict(ok):
    return "PASS" if ok else "FAIL"

for order in ("interleaved", "grouped"):
    tag = "crawl-" + order
    rs = [r for r in recs if r["tag"] == tag]
    if not rs:
        continue
    st = {t: stats([r for r in rs if r.get("tool") == t]) for t in TOOLS
          if any(r.get("tool") == t for r in rs)}
    w("## Many hosts, {} list: {:,} names x {} URLs of 1 KiB = {:,} URLs, -c {}".format(
        order, nh, per, nh * per, conc))
    w("")
    if order == "interleaved":
        w("Round-robin: every host's first URL, then every host's second, ...; one "
          "host's URLs are {:,} lines apart.".format(nh))
    else:
        w("Each host's {} URLs are adjacent.".format(per))
    w("")
    w("| tool | URLs/s | client CPU µs/URL | connections | TLS full / resumed | "
      "peak RSS MiB | protocol | failed runs |")
    w("|---|---|---|---|---|---|---|---|")
    for t, s in st.items():
        w("| {} | {} | {} | {} | {} / {} | {} | {} | {} of {} |".format(
            t, rate_cell(s), fmt(s["cpu"], 1), fmt(s["conns"]), fmt(s["full"]),
            fmt(s["resumed"]), fmt(s["rss"], 1), s["protos"], s["failed"], s["runs"]))
    w("")
    for ev in ("evfetch", "evfetch-h1"):
        if ev not in st:
            continue
        parts = []
        for peer in ("aria2c", "wget2", "curl"):
            if peer in st:
                p = "÷ {}: {} URLs/s".format(peer, ratio(st[ev]["rate"], st[peer]["rate"]))
                if peer == "aria2c":
                    p += ", {} peak RSS".format(ratio(st[ev]["rss"], st[peer]["rss"]))
                parts.append(p)
        if parts:
            w("- {} {}".format(ev, "; ".join(parts)))
    w("")
    evs = [e for e in ("evfetch", "evfetch-h1") if e in st]
    targets = []
    if order == "interleaved":
        for peer, k in (("aria2c", 2), ("wget2", 3), ("curl", 3)):
            row = ["URLs/s ≥ {} x {}'s".format(k, peer)]
            for e in evs:
                a = st[e]["rate"]
                b = st[peer]["rate"] if peer in st else None
                if b is None:
                    row.append("no {} figure".format(peer))
                elif a is None:
                    row.append("no evfetch figure: FAIL")
                else:
                    row.append("{} vs {} x {} = {}: {}".format(
                        fmt(a), k, fmt(b), fmt(k * b), verdict(a >= k * b)))
            targets.append(row)
        row = ["full TLS handshakes ≤ {:,}".format(nh)]
        for e in evs:
            f = st[e]["full"]
            row.append("no figure: FAIL" if f is None else
                       "{}: {}".format(fmt(f), verdict(f <= nh)))
        targets.append(row)
        row = ["peak RSS ≤ half of aria2c's"]
        for e in evs:
            a = st[e]["rss"]
            b = st["aria2c"]["rss"] if "aria2c" in st else None
            if b is None:
                row.append("no aria2c figure")
            elif a is None:
                row.append("no evfetch figure: FAIL")
            else:
                row.append("{} vs {} / 2 = {} MiB: {}".format(
                    fmt(a, 1), fmt(b, 1), fmt(b / 2, 1), verdict(a <= b / 2)))
        targets.append(row)
    else:
        row = ["connections ≤ {:,}".format(nh)]
        for e in evs:
            c = st[e]["conns"]
            row.append("no figure: FAIL" if c is None else
                       "{}: {}".format(fmt(c), verdict(c <= nh)))
        targets.append(row)
        # evfetch(1), --per-host: one connection per host while other
        # hosts' URLs wait; near the end of a run the last hosts may get a
        # second one for slots nothing else can use (at most -c more)
        row = ["connections ≤ {:,} + -c {} (the documented per-host policy)".format(nh, conc)]
        for e in evs:
            c = st[e]["conns"]
            row.append("no figure: FAIL" if c is None else
                       "{}: {}".format(fmt(c), verdict(c <= nh + conc)))
        targets.append(row)
    if targets and evs:
        w("| target ({} list, medians) | {} |".format(order, " | ".join(evs)))
        w("|---|" + "---|" * len(evs))
        for row in targets:
            w("| " + " | ".join(row) + " |")
        w("")

if any(r["tag"].startswith("crawl-") for r in recs):
    w("Names: h1 to h{n:,}.{d}, each on its own address 127.1.(i / 250).(i % 250 + 1) "
      "through /etc/hosts (evfetch reads the file once; the C library, which curl and "
      "wget2 use, and c-ares in aria2c read it through at each look-up). nginx: one "
      "worker, one listening socket per address, port {p}, HTTP/2 and HTTP/1.1 by ALPN, "
      "keepalive_timeout 75s, keepalive_requests 10000, TLS 1.2 and 1.3, shared session "
      "cache and tickets. Connections, handshakes and protocols are counted from its "
      "access log (a connection's first logged request tells whether its session was "
      "resumed; connections that carried no request are not seen). Every tool verifies "
      "the server with the bench CA. evfetch: `-c {c} --discard` (it offers h2 and "
      "http/1.1; evfetch-h1 adds `--http1.1`). aria2c (HTTP/1.1 only): `-j {c} "
      "--disable-ipv6=true` (else it asks DNS for AAAA records of names that /etc/hosts "
      "has as IPv4 only), each body written to a file on a tmpfs (its URL paths differ, "
      "so no two downloads share a file; counted and removed after the run), "
      "`--console-log-level=warn --summary-interval=0 --show-console-readout=false --download-result=hide`, its "
      "defaults otherwise (keep-alive on, no pipelining, one connection per download, "
      "all of the list read at start). wget2: `--max-threads={c} -O /dev/null` "
      "(HTTP/2 by default, TLS resumption off by default); its successes are the "
      "distinct URLs nginx answered with 200. curl: `--parallel --parallel-max {c} -s -S --no-progress-meter` (HTTP/2 by "
      "default, waits to multiplex on a host's connection; this curl (7.88) draws its "
      "parallel progress meter despite -s), bodies to /dev/null, successes from "
      "`-w %{{http_code}}`.".format(
          n=nh, d=domain, p=port, c=conc))
    w("")

lrs = [r for r in recs if r["tag"].startswith("longcrawl-")]
if lrs:
    groups = {}
    for r in lrs:
        groups.setdefault((r.get("tool"), r.get("hosts")), []).append(r)
    keys = sorted(groups, key=lambda k: (TOOLS.index(k[0]) if k[0] in TOOLS else 99, -(k[1] or 0)))
    names = {"evfetch": "`--resolve '*:{}:127.0.0.1'`".format(port),
             "evfetch-dns": "name server 127.0.0.1:{} (`--dns-servers`)".format(dnsport),
             "aria2c": "name server 127.0.0.1:{} (`--async-dns-server`, c-ares)".format(dnsport)}
    names["aria2c-close"] = names["aria2c"]
    w("## Many hosts, streamed: one URL of 1 KiB per host name, from a pipe, -c {}".format(conc))
    w("")
    w("| tool | host names | URLs/s | client CPU µs/URL | peak RSS MiB | connections | "
      "TLS full / resumed | names from | failed runs |")
    w("|---|---|---|---|---|---|---|---|---|")
    st = {}
    for k in keys:
        s = st[k] = stats(groups[k])
        w("| {} | {} | {} | {} | {} | {} | {} / {} | {} | {} of {} |".format(
            k[0], fmt(k[1]), rate_cell(s), fmt(s["cpu"], 1), fmt(s["rss"], 1),
            fmt(s["conns"]), fmt(s["full"]), fmt(s["resumed"]), names.get(k[0], "-"),
            s["failed"], s["runs"]))
    w("")
    ev = sorted(k for k in st if k[0] == "evfetch")
    if len(ev) >= 2 and st[ev[0]]["rss"] and st[ev[-1]]["rss"]:
        a, b = st[ev[0]]["rss"], st[ev[-1]]["rss"]
        w("- evfetch's peak RSS: {} MiB with {:,} names, {} MiB with {:,} ({:+.1f}%).".format(
            fmt(b, 1), ev[-1][1], fmt(a, 1), ev[0][1], (b / a - 1) * 100))
    big = max(k[1] for k in st)
    for a in ("aria2c", "aria2c-close"):
        ar = st.get((a, big))
        for e in ("evfetch", "evfetch-dns"):
            s = st.get((e, big))
            if s and ar:
                w("- {} ÷ {} with {:,} names: {} URLs/s, {} peak RSS.".format(
                    e, a, big, ratio(s["rate"], ar["rate"]), ratio(s["rss"], ar["rss"])))
    w("")
    w("The URLs come from `seq | awk` through a pipe (`-i -`); the names are n1 to "
      "nN.{d}, all on 127.0.0.1 (port {p}). /etc/hosts is not used: with 100,000 lines "
      "the C library took about 11 ms per look-up here (it reads the file through each "
      "time; c-ares as well), so aria2c asks a small name server that the bench runs on "
      "127.0.0.1:{dp} (UDP, Python; its CPU is in no column), and so does evfetch-dns, "
      "for a like-for-like figure; evfetch itself uses `--resolve`. aria2c as in the "
      "crawl, with `-i - --deferred-input=true` (it reads the list as it goes instead of "
      "all of it at start) and `--async-dns-server=127.0.0.1`. aria2c keeps idle "
      "connections by address, not by name, so with every name on 127.0.0.1 it sends "
      "later names' requests over connections opened and verified for earlier ones "
      "(see its connections); aria2c-close adds `--enable-http-keep-alive=false`: a "
      "connection and a full TLS handshake per name, as names on addresses of their "
      "own would need. Every name is a new TLS session: there is nothing to resume.".format(d=domain, p=port, dp=dnsport))
    w("")

open(out_path, "w").write("\n".join(out) + ("\n" if out else ""))
PYEOF
}
