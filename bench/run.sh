#!/usr/bin/env bash
# bench/run.sh - evfetch against curl, wget2 (and h2load) on a local nginx.
#
# Usage: bench/run.sh [workload...]
#
# Workloads (default: all of them but crawl and longcrawl, in this order):
#   small50    20,000 x 1 KiB over keep-alive TLS at -c 50
#   small300   20,000 x 1 KiB at -c 300
#   medium50   20,000 x 16 KiB at -c 50
#   medium300  20,000 x 16 KiB at -c 300
#   large50    1,000 x 1 MiB at -c 50
#   handshake  2,000 x 1 KiB, a new connection per URL at -c 50: full TLS
#              handshakes and resumed sessions (h2load as well)
#   slow1k     1,000 rate-limited transfers (1 KiB/s) open at once: RSS
#   slow10k    10,000 of them
#   stream     1,000,000 URLs streamed from a pipe into evfetch at -c 50,
#              peak RSS against 10,000 URLs the same way
#   overhead   small50's workload, evfetch alone: as in small50, with a
#              --report (every field, two --report-header), with the
#              progress bar on a 100-column pseudo-terminal and with
#              --warc-file at gzip levels 1 and 0, in turn
#   h2c50      20,000 x 1 KiB at -c 50 to a second nginx server that also
#              speaks HTTP/2 (ALPN): evfetch (no protocol option: it takes
#              what ALPN gives), h2load, wget2 --http2 and curl --http2;
#              h2load and wget2 get the connections evfetch opened and the
#              streams per connection that makes -c 50
#   h2c1000    the same at -c 1000
#   h2inflight 10,000 rate-limited transfers to that server in flight at
#              once, evfetch alone: RSS per transfer in flight and the TCP
#              connections it opened (targets with HTTP/2: <= 100
#              connections, <= 4 KiB per transfer)
#
# Named only (bench/crawl.sh; they need root or sudo -n):
#   crawl      many hosts: 2,000 host names, each on a loopback address of
#              its own through /etc/hosts (appended to, restored byte for
#              byte at exit), x 5 URLs of 1 KiB at -c 50, listed round-robin
#              (interleaved) and host by host (grouped): evfetch, evfetch
#              --http1.1, aria2c, wget2 and curl --parallel; connections
#              and full/resumed TLS handshakes from nginx's log, targets
#              against the peers
#   longcrawl  LONGCRAWL_HOSTS host names x 1 URL streamed from a pipe into
#              evfetch (and a tenth of them: peak RSS against input length)
#              and aria2c, which asks a name server the bench runs on
#              127.0.0.1:53
#
# The HTTP/2 server logs the first request of each connection, so every
# run's connection count and protocol (HTTP/1.1 or HTTP/2.0) are known.
#
# Peers: curl, wget2, h2load (nghttp2-client) and aria2c (aria2), and GNU
# time for peak RSS, are installed with apt-get (as root or through sudo -n)
# when missing; a peer that cannot be installed is skipped with a note.
#
# Environment:
#   EVFETCH_BIN   the evfetch binary (default ./build/src/cli/.libs/evfetch;
#                 a libtool wrapper is replaced by the binary it runs)
#   RUNS          runs per tool and workload (default 3)
#   STREAM_URLS   URLs of the long stream run (default 1000000)
#   LONGCRAWL_HOSTS  host names of longcrawl (default 100000)
#   SLOW_HOLD     seconds to keep sampling once every slow transfer is open
#                 (default 5)
#   BENCH_NO_INSTALL=1  never call apt-get
#   BENCH_KEEP=1  keep the work directory (lists, logs, raw results)
#   NGINX         the nginx binary (default: from PATH or /usr/sbin)
#
# Everything runs on 127.0.0.1 against an nginx started here with one
# worker process; it is stopped at exit.  The results table goes to
# standard output and to bench/results/latest.md; progress goes to stderr.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
RUNS=${RUNS:-3}
STREAM_URLS=${STREAM_URLS:-1000000}
SLOW_HOLD=${SLOW_HOLD:-5}
ALL_WORKLOADS="small50 small300 medium50 medium300 large50 handshake slow1k slow10k stream overhead h2c50 h2c1000 h2inflight"
NAMED_WORKLOADS="crawl longcrawl"

say() { printf '%s\n' "$*" >&2; }
die() { say "bench: $*"; exit 1; }
. "$HERE/lib.sh"
. "$HERE/crawl.sh"

case "$RUNS" in '' | *[!0-9]* | 0) die "RUNS must be a positive integer" ;; esac
case "$LONGCRAWL_HOSTS" in '' | *[!0-9]* | ? ) die "LONGCRAWL_HOSTS must be an integer of 10 or more" ;; esac

WORKLOADS=${*:-$ALL_WORKLOADS}
for w in $WORKLOADS; do
	case " $ALL_WORKLOADS $NAMED_WORKLOADS " in
	*" $w "*) ;;
	*) die "unknown workload '$w' (known: $ALL_WORKLOADS $NAMED_WORKLOADS)" ;;
	esac
done
want() { case " $WORKLOADS " in *" $1 "*) return 0 ;; esac; return 1; }

# ------------------------------------------------------------------ tools
if [ "$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi
APT_UPDATED=0
# install_pkg PKG: install a Debian package; false when that is impossible.
install_pkg() {
	[ "${BENCH_NO_INSTALL:-0}" = 1 ] && return 1
	command -v apt-get >/dev/null 2>&1 || return 1
	if [ -n "$SUDO" ] && ! sudo -n true 2>/dev/null; then
		return 1
	fi
	say "== installing $1"
	if [ "$APT_UPDATED" = 0 ]; then
		$SUDO apt-get update -q >&2 || return 1
		APT_UPDATED=1
	fi
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q \
		--no-install-recommends "$1" >&2
}
# have CMD PKG: CMD is in PATH, installing PKG when it is not.
have() {
	PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null 2>&1 && return 0
	install_pkg "$2" || return 1
	PATH=$PATH:/usr/sbin:/sbin command -v "$1" >/dev/null 2>&1
}

NOTES=()
note() { NOTES+=("$*"); say "note: $*"; }

have python3 python3 || die "python3 is needed"
have openssl openssl || die "openssl is needed"
have nginx nginx || die "nginx is needed"
# GNU time reports a client's peak RSS (see measure.py below).
if [ -x /usr/bin/time ] || install_pkg time; then
	TIME_BIN=/usr/bin/time
else
	TIME_BIN=
	note "GNU time (package time) is missing: no peak RSS for the throughput runs"
fi
: "${NGINX:=$(PATH=$PATH:/usr/sbin:/sbin command -v nginx)}"
HAVE_CURL=0 HAVE_WGET2=0 HAVE_H2LOAD=0
if have curl curl; then HAVE_CURL=1; else note "curl is missing and could not be installed: skipped"; fi
if have wget2 wget2; then HAVE_WGET2=1; else note "wget2 is missing and could not be installed: skipped"; fi
if want handshake || want h2c50 || want h2c1000; then
	if have h2load nghttp2-client; then HAVE_H2LOAD=1; else note "h2load (nghttp2-client) is missing: no h2load comparison"; fi
fi

find_evfetch "$TOP"

# ---------------------------------------------------------- descriptors
# 10,000 open transfers need 10,000 descriptors in evfetch and as many in
# nginx.  Raise the limits as far as we may.
if [ -z "$SUDO" ]; then
	ulimit -Hn 65536 2>/dev/null || true
fi
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
NOFILE=$(ulimit -n)
case $NOFILE in unlimited) NOFILE=1048576 ;; esac

# ------------------------------------------------------------ work area
W=$(mktemp -d "${TMPDIR:-/tmp}/evfetch-bench.XXXXXX") || die "mktemp failed"
NGINX_PID=
cleanup() {
	# Nothing interrupts the cleanup; /etc/hosts goes back first.
	trap '' INT TERM HUP
	crawl_cleanup
	if [ -n "$NGINX_PID" ]; then
		kill -TERM "$NGINX_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$NGINX_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$NGINX_PID" 2>/dev/null
		wait "$NGINX_PID" 2>/dev/null
	fi
	if [ "${BENCH_KEEP:-0}" = 1 ]; then
		say "kept $W"
	else
		rm -rf -- "$W"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY SSL_CERT_FILE SSL_CERT_DIR
mkdir -p "$W/pki" "$W/www/slow" "$W/logs" "$W/tmp" "$W/lists" "$W/out" "$W/home"
want crawl && crawl_preflight

# ------------------------------------------------------------------ PKI
make_pki "$W/pki"
CA=$W/pki/ca.pem

head -c 1024 /dev/urandom >"$W/www/1k.bin"
head -c 16384 /dev/urandom >"$W/www/16k.bin"
head -c 1048576 /dev/urandom >"$W/www/1m.bin"
head -c 65536 /dev/urandom >"$W/www/slow/64k.bin"

# ---------------------------------------------------------------- nginx
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port) HS_PORT=$(free_port) STATUS_PORT=$(free_port) H2_PORT=$(free_port)
NGINX_NOFILE=$((NOFILE > 65536 ? 65536 : NOFILE))
NGINX_CONNS=$((NGINX_NOFILE - 64))
cat >"$W/nginx.conf" <<EOF
# Generated by bench/run.sh.
worker_processes 1;
worker_rlimit_nofile $NGINX_NOFILE;
pid $W/nginx.pid;
error_log $W/logs/error.log warn;
events {
    worker_connections $NGINX_CONNS;
}
http {
$(nginx_http_common)
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    send_timeout 300s;
    gzip off;
    server_tokens off;
    open_file_cache max=64 inactive=300s;
    ssl_protocols TLSv1.3;
    ssl_certificate $W/pki/server.pem;
    ssl_certificate_key $W/pki/server.key;
    ssl_session_cache shared:BENCH:64m;
    ssl_session_timeout 1h;
    root $W/www;
    log_format hs '\$connection_requests \$ssl_session_reused';

    # Keep-alive workloads, slow transfers and the stream.
    server {
        listen 127.0.0.1:$PORT ssl backlog=4096;
        location / { }
        location /n/ {
            default_type text/plain;
            return 200 "ok\n";
        }
        location /slow/ {
            limit_rate 1k;
        }
    }
    # The handshake workload: one log line per request tells whether the
    # connection was new and whether its TLS session was resumed.
    server {
        listen 127.0.0.1:$HS_PORT ssl backlog=4096;
        access_log $W/logs/hs.log hs;
        location / { }
    }
    # The HTTP/2 workloads: h2 or http/1.1 as ALPN decides, nginx's default
    # of 128 streams per connection.  One log line per connection (its
    # first request) says which protocol it spoke.
    map \$connection_requests \$h2_first { 1 1; default 0; }
    log_format h2conn '\$connection \$server_protocol';
    server {
        listen 127.0.0.1:$H2_PORT ssl http2 backlog=4096;
        access_log $W/logs/h2conn.log h2conn if=\$h2_first;
        location / { }
        location /slow/ {
            limit_rate 1k;
        }
    }
    # Plain HTTP, for stub_status only.
    server {
        listen 127.0.0.1:$STATUS_PORT;
        location = /status { stub_status; }
    }
}
EOF
start_nginx "$STATUS_PORT"
say "== nginx $NGINX_PID on 127.0.0.1:$PORT (handshakes :$HS_PORT), work dir $W"
BASE=https://127.0.0.1:$PORT
HS_BASE=https://127.0.0.1:$HS_PORT
H2_BASE=https://127.0.0.1:$H2_PORT

# --------------------------------------------------------- the measurer
# Runs one command and records, for that process alone (wait4), its wall
# time, user and system CPU and peak RSS.  With --slow it also samples
# VmRSS every 100 ms, waits until nginx is writing --need responses at
# once, keeps them open --hold seconds, then stops the client with SIGTERM.
cat >"$W/measure.py" <<'PYEOF'
import argparse, json, os, signal, socket, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("--out", required=True)
ap.add_argument("--tag", required=True)
ap.add_argument("--stdout", default="/dev/null")
ap.add_argument("--stderr", default="/dev/null")
ap.add_argument("--limit", type=float, default=600)
ap.add_argument("--slow", action="store_true")
ap.add_argument("--need", type=int, default=0)
ap.add_argument("--status-port", type=int, default=0)
ap.add_argument("--hold", type=float, default=5)
ap.add_argument("--server-pid", type=int, default=0)
ap.add_argument("--time-bin", default="")
ap.add_argument("--pty", type=int, default=0,
                help="the client's stderr is a pseudo-terminal this many "
                     "columns wide; what it shows goes to --stderr")
ap.add_argument("cmd", nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd

active_most = 0

def writing():
    """Responses nginx is sending now, less the status request itself;
    also keeps the most connections nginx had open (less that of the
    status request) in active_most."""
    global active_most
    try:
        with socket.create_connection(("127.0.0.1", a.status_port), 2) as s:
            s.sendall(b"GET /status HTTP/1.0\r\n\r\n")
            data = b""
            while True:
                b = s.recv(4096)
                if not b:
                    break
                data += b
        for line in data.decode().splitlines():
            if line.startswith("Active connections:"):
                active_most = max(active_most, int(line.split()[2]) - 1)
            if line.startswith("Reading:"):
                f = line.split()
                return int(f[3]) - 1
    except OSError:
        pass
    return -1

def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0

def server_ticks():
    """User+system CPU of the server process so far, in clock ticks."""
    try:
        with open("/proc/%d/stat" % a.server_pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None

def busy_ticks():
    """CPU time of the whole machine so far, in clock ticks: that of
    processes (user, nice, system) and that of interrupts (irq, softirq:
    where the kernel moves loopback packets, charged to no process) and
    steal (taken by the hypervisor)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal
    return v[0] + v[1] + v[2], v[5] + v[6], v[7]

out = open(a.stdout, "wb")
s0 = server_ticks() if a.server_pid else None
b0 = busy_ticks()
drain = None
if a.pty:
    # A terminal for the progress bar; a thread empties it, as a terminal
    # would, so that the client never blocks on it.
    import fcntl, pty, struct, termios, threading
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, a.pty, 0, 0))
    err = os.fdopen(slave, "wb", buffering=0)
    def empty(fd, path):
        with open(path, "wb") as f:
            while True:
                try:
                    b = os.read(fd, 65536)
                except OSError:   # EIO: every writer has closed it
                    break
                if not b:
                    break
                f.write(b)
    drain = threading.Thread(target=empty, args=(master, a.stderr), daemon=True)
    drain.start()
else:
    err = open(a.stderr, "wb")
t0 = time.monotonic()
# Linux carries a process's peak RSS across exec, so a child forked from
# this Python process would report at least Python's own RSS as its peak.
# GNU time, a small process, forks the client afresh and reports its true
# peak (%M, KiB); CPU and wall come from wait4 here (time's own CPU is a
# millisecond or so).  The slow mode reads VmHWM of the client's own
# address space instead, which starts anew at exec.
rss_file = a.out + ".rss"
if not a.slow and a.time_bin:
    cmd = [a.time_bin, "-q", "-f", "%M", "-o", rss_file, "--"] + cmd
p = subprocess.Popen(cmd, stdout=out, stderr=err, start_new_session=True)
# The client has a session of its own, out of reach of the terminal's
# Ctrl-C: a signal to this process, or the end of the script that started
# it (this process is orphaned), stops the client too.
parent = os.getppid()

def stop_client(signum=signal.SIGTERM, frame=None):
    try:
        os.killpg(p.pid, signal.SIGTERM)
    except OSError:
        pass
    sys.exit(128 + signum)

for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(sig, stop_client)
if drain is not None:
    err.close()   # the client holds the terminal now; EOF comes with its exit
rec = {"tag": a.tag}
rusage = None
status = None
if a.slow:
    peak_sampled = hwm = 0
    most_open = 0
    all_open_at = None
    reason = "timeout"
    next_status = 0.0
    while True:
        now = time.monotonic()
        r = status_kib(p.pid, "VmRSS")
        peak_sampled = max(peak_sampled, r)
        hwm = max(hwm, status_kib(p.pid, "VmHWM"))
        if now >= next_status:
            n = writing()
            most_open = max(most_open, n)
            if all_open_at is None and n >= a.need:
                all_open_at = now
            next_status = now + 0.5
        if all_open_at is not None and now - all_open_at >= a.hold:
            reason = "held"
            break
        if now - t0 > a.limit:
            break
        if os.getppid() != parent:
            stop_client()
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            status, rusage, reason = st, ru, "exited early"
            break
        time.sleep(0.1)
    end_rss = 0
    if rusage is None:
        hwm = max(hwm, status_kib(p.pid, "VmHWM"))
        end_rss = status_kib(p.pid, "VmRSS")
        p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while True:
            pid, st, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                status, rusage = st, ru
                break
            if time.monotonic() > deadline:
                p.kill()
                _, status, rusage = os.wait4(p.pid, 0)
                reason += ", killed"
                break
            time.sleep(0.05)
    rec.update(peak_sampled_kib=peak_sampled, hwm_kib=hwm, end_rss_kib=end_rss,
               most_open=most_open, most_conns=active_most,
               open_secs=(round(time.monotonic() - all_open_at, 2)
                          if all_open_at else None), end=reason)
else:
    while True:
        pid, st, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            status, rusage = st, ru
            break
        if time.monotonic() - t0 > a.limit:
            os.killpg(p.pid, signal.SIGKILL)
            _, status, rusage = os.wait4(p.pid, 0)
            rec["end"] = "killed after %g s" % a.limit
            break
        if os.getppid() != parent:
            stop_client()
        time.sleep(0.002)
wall = time.monotonic() - t0
if drain is not None:
    drain.join(10)
s1 = server_ticks() if a.server_pid else None
tck = os.sysconf("SC_CLK_TCK")
if s0 is not None and s1 is not None:
    rec["server_cpu"] = (s1 - s0) / tck
# Process CPU that neither the client nor nginx used during the run:
# other processes on the machine (and this script's sampling), which the
# client and nginx had to share the cores with.
b1 = busy_ticks()
other = (b1[0] - b0[0]) / tck - rusage.ru_utime - rusage.ru_stime - rec.get("server_cpu", 0)
rec["other_cpu"] = max(0.0, other)
rec["irq_cpu"] = (b1[1] - b0[1]) / tck
rec["steal_cpu"] = (b1[2] - b0[2]) / tck
if os.WIFSIGNALED(status):
    rc = -os.WTERMSIG(status)
else:
    rc = os.WEXITSTATUS(status)
maxrss = rusage.ru_maxrss
if not a.slow:
    if a.time_bin:
        try:
            maxrss = int(open(rss_file).read().split()[-1])
            os.unlink(rss_file)
        except (OSError, ValueError, IndexError):
            maxrss = None
    else:
        maxrss = None   # would be Python's peak, not the client's
else:
    maxrss = hwm
rec.update(wall=wall, user=rusage.ru_utime, sys=rusage.ru_stime,
           maxrss_kib=maxrss, rc=rc)
with open(a.out, "a") as f:
    f.write(json.dumps(rec) + "\n")
PYEOF

RAW=$W/results.jsonl
: >"$RAW"
# measure TAG [measure.py options] -- CMD...; the server whose CPU counts
# is MEASURE_SERVER_PID, by default run.sh's nginx.
measure() {
	local tag=$1
	shift
	python3 "$W/measure.py" --out "$RAW" --tag "$tag" \
		--server-pid "${MEASURE_SERVER_PID:-$NGINX_PID}" --time-bin "$TIME_BIN" "$@"
}
# add_fields KEY=VALUE...: add fields to the last raw record.
add_fields() {
	python3 - "$RAW" "$@" <<'PYEOF'
import json, sys
path = sys.argv[1]
lines = open(path).read().splitlines()
rec = json.loads(lines[-1])
for kv in sys.argv[2:]:
    k, v = kv.split("=", 1)
    try:
        v = int(v)
    except ValueError:
        try:
            v = float(v)
        except ValueError:
            pass
    rec[k] = v
lines[-1] = json.dumps(rec)
open(path, "w").write("\n".join(lines) + "\n")
PYEOF
}

# ------------------------------------------------------------ URL lists
# mklist NAME BASE PATH COUNT: BASE/PATH?i=1..COUNT in lists/NAME.txt and,
# for curl, lists/NAME.curl (one url and one output per transfer).
mklist() {
	local name=$1 base=$2 path=$3 count=$4
	[ -e "$W/lists/$name.txt" ] && return 0
	seq 1 "$count" | awk -v u="$base$path" '{ print u "?i=" $1 }' >"$W/lists/$name.txt"
	awk '{ print "url = \"" $0 "\""; print "output = \"/dev/null\"" }' \
		"$W/lists/$name.txt" >"$W/lists/$name.curl"
}

# The result of one run: ok count from each tool's own output.
FAILS=()
check_run() {
	local tool=$1 tag=$2 n=$3 rc=$4 okcount=$5 errfile=$6
	add_fields ok="$okcount" urls="$n" tool="$tool"
	if [ "$rc" != 0 ] || [ "$okcount" != "$n" ]; then
		FAILS+=("$tag $tool: exit $rc, $okcount of $n ok; stderr: $(head -c 600 "$errfile" | tr '\n' '|')")
		say "   !! $tool: exit $rc, $okcount of $n ok"
	fi
}

rc_of_last() { tail -n 1 "$RAW" | python3 -c 'import json,sys; print(json.load(sys.stdin)["rc"])'; }

# run_tool TOOL TAG LIST COUNT CONC [extra options...]
run_tool() {
	local tool=$1 tag=$2 list=$3 n=$4 c=$5 okc rc
	shift 5
	local o=$W/out/$tag.$tool.out e=$W/out/$tag.$tool.err
	case $tool in
	evfetch)
		measure "$tag" --stdout "$o" --stderr "$e" -- \
			"$EVFETCH_BIN" -c "$c" --discard --no-progress --cacert "$CA" \
			"$@" -i "$W/lists/$list.txt"
		rc=$(rc_of_last)
		# "evfetch: 20000 URLs, 20000 ok, 0 failed, ..."
		okc=$(sed -n 's/^evfetch: [0-9]* URLs, \([0-9]*\) ok,.*/\1/p' "$e" | tail -n 1)
		;;
	curl)
		# -w prints each transfer's status: the ok count.
		measure "$tag" --stdout "$o" --stderr "$e" -- \
			curl --parallel --parallel-max "$c" --parallel-immediate -s -S \
			--cacert "$CA" -w '%{http_code}\n' "$@" -K "$W/lists/$list.curl"
		rc=$(rc_of_last)
		okc=$(grep -c '^200$' "$o")
		;;
	wget2)
		# HOME points at an empty directory: no .wgetrc, nothing saved.
		HOME=$W/home measure "$tag" --stdout "$o" --stderr "$e" -- \
			wget2 --max-threads="$c" -q -O /dev/null --no-robots \
			--ca-certificate="$CA" --no-hsts --no-hpkp --no-netrc \
			--no-config "$@" -i "$W/lists/$list.txt"
		rc=$(rc_of_last)
		# wget2 has no count of its own: exit status 0 means every URL.
		if [ "$rc" = 0 ]; then okc=$n; else okc='?'; fi
		;;
	esac
	check_run "$tool" "$tag" "$n" "$rc" "${okc:-0}" "$e"
}

TOOLS=(evfetch)
[ "$HAVE_CURL" = 1 ] && TOOLS+=(curl)
[ "$HAVE_WGET2" = 1 ] && TOOLS+=(wget2)

# order RUN: the tools rotated by RUN, so that no tool always goes first.
order() {
	local r=$1 i n=${#TOOLS[@]}
	for ((i = 0; i < n; i++)); do
		printf '%s ' "${TOOLS[(i + r) % n]}"
	done
}

# throughput WORKLOAD LIST COUNT CONC
throughput() {
	local wl=$1 list=$2 n=$3 c=$4 r tool
	for ((r = 0; r < RUNS; r++)); do
		for tool in $(order "$r"); do
			say "-- $wl run $((r + 1))/$RUNS: $tool"
			run_tool "$tool" "$wl" "$list" "$n" "$c"
		done
	done
}

# hs_counts: "NEW REUSED" connections in the handshake log since truncation.
hs_counts() {
	sleep 0.2
	awk '$1 == 1 { n++; if ($2 == "r") r++ } END { printf "%d %d\n", n, r }' "$W/logs/hs.log"
}

handshakes() {
	local n=2000 c=50 r tool mode newc reused okc rc
	mklist hs "$HS_BASE" /1k.bin "$n"
	for ((r = 0; r < RUNS; r++)); do
		for mode in full resumed; do
			for tool in $(order "$r") $([ "$HAVE_H2LOAD" = 1 ] && echo h2load); do
				say "-- handshake-$mode run $((r + 1))/$RUNS: $tool"
				: >"$W/logs/hs.log"
				rm -f "$W/home/tls-sessions"
				case $tool:$mode in
				evfetch:full) run_tool evfetch "hs-$mode" hs "$n" "$c" --no-http-keep-alive --no-sessionid ;;
				evfetch:resumed) run_tool evfetch "hs-$mode" hs "$n" "$c" --no-http-keep-alive ;;
				curl:full) run_tool curl "hs-$mode" hs "$n" "$c" -H 'Connection: close' --no-sessionid ;;
				curl:resumed) run_tool curl "hs-$mode" hs "$n" "$c" -H 'Connection: close' ;;
				# wget2 keeps connections open despite --no-http-keep-alive
				# unless the request asks the server to close.
				wget2:full) run_tool wget2 "hs-$mode" hs "$n" "$c" --no-http-keep-alive \
					--header 'Connection: close' --no-tls-resume ;;
				wget2:resumed) run_tool wget2 "hs-$mode" hs "$n" "$c" --no-http-keep-alive \
					--header 'Connection: close' \
					--tls-resume --tls-session-file="$W/home/tls-sessions" ;;
				h2load:full)
					# h2load resumes each client's session when it
					# reconnects and has no switch against that, so full
					# handshakes take $((n / c)) runs of $c clients with one
					# request each.  The rate uses the sum of h2load's own
					# "finished in" times (process start-up excluded); the CPU
					# includes the $((n / c)) start-ups.
					local o=$W/out/hs-full.h2load.out e=$W/out/hs-full.h2load.err
					measure "hs-$mode" --stdout "$o" --stderr "$e" -- \
						bash -c 'for ((i = 0; i < $1; i++)); do
							h2load --h1 -n "$2" -c "$2" -H "Connection: close" "$3" || exit
						done' h2load-batches $((n / c)) "$c" "$HS_BASE/1k.bin"
					rc=$(rc_of_last)
					okc=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$o" |
						awk '{ s += $1 } END { print s + 0 }')
					check_run h2load "hs-$mode" "$n" "$rc" "${okc:-0}" "$o"
					add_fields rate_wall="$(awk '/^finished in/ {
						t = $3; sub(/,$/, "", t)
						if (t ~ /ms$/) { sub(/ms$/, "", t); t /= 1000 } else sub(/s$/, "", t)
						s += t } END { print s }' "$o")"
					;;
				h2load:resumed)
					# One run: each of the 50 clients reconnects after every
					# response and resumes its session.
					local o=$W/out/hs-resumed.h2load.out e=$W/out/hs-resumed.h2load.err
					measure "hs-$mode" --stdout "$o" --stderr "$e" -- \
						h2load --h1 -n "$n" -c "$c" -H 'Connection: close' "$HS_BASE/1k.bin"
					rc=$(rc_of_last)
					okc=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$o")
					check_run h2load "hs-$mode" "$n" "$rc" "${okc:-0}" "$o"
					;;
				esac
				read -r newc reused < <(hs_counts)
				add_fields new_conns="$newc" resumed="$reused"
			done
		done
	done
}

# slow_run TAG N TOOL [BASE LIST]: N rate-limited transfers open at once
# (BASE/slow/64k.bin, default $BASE, listed in lists/LIST.txt, default
# slowN); sample RSS.
slow_run() {
	local tag=$1 n=$2 tool=$3 base=${4:-$BASE} list=${5:-slow$2} o e
	o=$W/out/$tag.$tool.out e=$W/out/$tag.$tool.err
	mklist "$list" "$base" /slow/64k.bin "$n"
	case $tool in
	evfetch)
		measure "$tag" --slow --need "$n" --status-port "$STATUS_PORT" \
			--hold "$SLOW_HOLD" --limit 120 --stdout "$o" --stderr "$e" -- \
			"$EVFETCH_BIN" -c "$n" --discard --no-progress --cacert "$CA" \
			-i "$W/lists/$list.txt"
		;;
	wget2)
		HOME=$W/home measure "$tag" --slow --need "$n" --status-port "$STATUS_PORT" \
			--hold "$SLOW_HOLD" --limit 120 --stdout "$o" --stderr "$e" -- \
			wget2 --max-threads="$n" -q -O /dev/null --no-robots \
			--ca-certificate="$CA" --no-hsts --no-hpkp --no-netrc --no-config \
			-i "$W/lists/$list.txt"
		;;
	esac
	# Every transfer is still running when SIGTERM arrives, so none may
	# have failed: evfetch names a failed URL as "evfetch: URL: kind: ...",
	# wget2 says anything at all only on errors (-q).
	local errs
	case $tool in
	evfetch) errs=$(grep -E '^evfetch: https?://' "$e") ;;
	*) errs=$(cat "$e") ;;
	esac
	add_fields tool="$tool" urls="$n" errlines="$(printf '%s' "$errs" | grep -c .)"
	if [ -n "$errs" ]; then
		FAILS+=("$tag $tool: errors before SIGTERM: $(printf '%s' "$errs" | head -c 600 | tr '\n' '|')")
	fi
	# Let nginx drop the closed connections before the next run.
	sleep 1
}

slow() {
	local tag=$1 n=$2 r tool
	local need=$((n + 64))
	if [ "$NOFILE" -lt "$need" ]; then
		note "$tag skipped: the descriptor limit is $NOFILE, below $need"
		return
	fi
	local tools=(evfetch)
	# curl's --parallel-max stops at 300; wget2 runs a thread per transfer.
	[ "$HAVE_WGET2" = 1 ] && [ "$n" -le 1000 ] && tools+=(wget2)
	for ((r = 0; r < RUNS; r++)); do
		# The idle baseline: the same client with one slow transfer.
		for tool in "${tools[@]}"; do
			say "-- $tag run $((r + 1))/$RUNS: $tool (idle, 1 transfer)"
			slow_run "$tag-idle" 1 "$tool"
			say "-- $tag run $((r + 1))/$RUNS: $tool ($n transfers)"
			slow_run "$tag" "$n" "$tool"
		done
	done
}

# ------------------------------------------------------------- HTTP/2
# h2_conns: "CONNECTIONS PROTOCOLS" of the HTTP/2 server since its log was
# emptied: the connections opened, and their protocols with counts
# ("HTTP/2.0:1", "HTTP/1.1:50", "HTTP/1.1:2,HTTP/2.0:1").
h2_conns() {
	sleep 0.3
	awk '{ n++; p[$2]++ } END {
		s = ""; for (k in p) s = s (s == "" ? "" : ",") k ":" p[k]
		printf "%d %s\n", n, (s == "" ? "-" : s) }' "$W/logs/h2conn.log"
}

# h2_run TOOL TAG LIST N C K M: one run of TOOL on lists/LIST at -c C; h2load
# and wget2 get K connections with M streams each (evfetch's own layout).
h2_run() {
	local tool=$1 tag=$2 list=$3 n=$4 c=$5 k=$6 m=$7 okc rc conns protos
	local o=$W/out/$tag.$tool.out e=$W/out/$tag.$tool.err
	: >"$W/logs/h2conn.log"
	case $tool in
	evfetch)
		# No protocol option: evfetch offers h2 and http/1.1 by ALPN.
		measure "$tag" --stdout "$o" --stderr "$e" -- \
			"$EVFETCH_BIN" -c "$c" --discard --no-progress --cacert "$CA" \
			-i "$W/lists/$list.txt"
		rc=$(rc_of_last)
		okc=$(sed -n 's/^evfetch: [0-9]* URLs, \([0-9]*\) ok,.*/\1/p' "$e" | tail -n 1)
		;;
	h2load)
		# -i: the same URLs, in order; h2load does not verify certificates.
		measure "$tag" --stdout "$o" --stderr "$e" -- \
			h2load -n "$n" -c "$k" -m "$m" -i "$W/lists/$list.txt"
		rc=$(rc_of_last)
		okc=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' "$o")
		;;
	curl)
		# Without --parallel-immediate curl waits to multiplex on one
		# connection instead of opening one per transfer.
		measure "$tag" --stdout "$o" --stderr "$e" -- \
			curl --http2 --parallel --parallel-max "$c" -s -S \
			--cacert "$CA" -w '%{http_code}\n' -K "$W/lists/$list.curl"
		rc=$(rc_of_last)
		okc=$(grep -c '^200$' "$o")
		;;
	wget2)
		# A thread per connection, each with M streams in flight.
		HOME=$W/home measure "$tag" --stdout "$o" --stderr "$e" -- \
			wget2 --http2 --max-threads="$k" --http2-request-window="$m" \
			-q -O /dev/null --no-robots --ca-certificate="$CA" --no-hsts \
			--no-hpkp --no-netrc --no-config -i "$W/lists/$list.txt"
		rc=$(rc_of_last)
		if [ "$rc" = 0 ]; then okc=$n; else okc='?'; fi
		;;
	esac
	check_run "$tool" "$tag" "$n" "$rc" "${okc:-0}" "$e"
	read -r conns protos < <(h2_conns)
	add_fields conns="$conns" protos="$protos" streams="$m"
}

# h2_throughput TAG LIST N C: evfetch, h2load, wget2 and curl over HTTP/2.
# A first evfetch run, not counted, tells how many connections evfetch
# opens at -c C (K); h2load and wget2 then get K connections with
# ceil(C / K) streams each.
h2_throughput() {
	local wl=$1 list=$2 n=$3 c=$4 r tool k m protos
	local tools=(evfetch)
	[ "$HAVE_H2LOAD" = 1 ] && tools+=(h2load)
	[ "$HAVE_WGET2" = 1 ] && tools+=(wget2)
	[ "$HAVE_CURL" = 1 ] && tools+=(curl)
	say "-- $wl: evfetch's connections at -c $c (a run not counted)"
	: >"$W/logs/h2conn.log"
	"$EVFETCH_BIN" -c "$c" --discard --no-progress --cacert "$CA" \
		-i "$W/lists/$list.txt" >/dev/null 2>"$W/out/$wl.probe.err"
	read -r k protos < <(h2_conns)
	if [ "${k:-0}" -lt 1 ]; then
		note "$wl: evfetch's first run opened no connection; h2load and wget2 get $c connections"
		k=$c
	fi
	m=$(((c + k - 1) / k))
	say "   evfetch: $k connection(s) ($protos): h2load and wget2 get $k x $m streams"
	for ((r = 0; r < RUNS; r++)); do
		local i nt=${#tools[@]}
		for ((i = 0; i < nt; i++)); do
			tool=${tools[(i + r) % nt]}
			say "-- $wl run $((r + 1))/$RUNS: $tool"
			h2_run "$tool" "$wl" "$list" "$n" "$c" "$k" "$m"
		done
	done
}

# h2inflight: 10,000 slow transfers to the HTTP/2 server at once, evfetch
# alone; the idle baseline is the same client with one.
h2inflight() {
	local n=10000 r conns protos
	if [ "$NOFILE" -lt $((n + 64)) ]; then
		note "h2inflight: the descriptor limit is $NOFILE, below $((n + 64)); HTTP/1.1 would need one a transfer"
	fi
	for ((r = 0; r < RUNS; r++)); do
		say "-- h2inflight run $((r + 1))/$RUNS: evfetch (idle, 1 transfer)"
		: >"$W/logs/h2conn.log"
		slow_run h2inflight-idle 1 evfetch "$H2_BASE" h2slow1
		say "-- h2inflight run $((r + 1))/$RUNS: evfetch ($n transfers)"
		: >"$W/logs/h2conn.log"
		slow_run h2inflight "$n" evfetch "$H2_BASE" "h2slow$n"
		# slow_run waited a second after SIGTERM: nginx has logged the
		# first request of every connection by now.
		read -r conns protos < <(h2_conns)
		add_fields conns="$conns" protos="$protos"
		say "   $conns connection(s): $protos"
	done
}

stream() {
	local r n okc rc e
	for ((r = 0; r < RUNS; r++)); do
		for n in 10000 "$STREAM_URLS"; do
			say "-- stream run $((r + 1))/$RUNS: evfetch, $n URLs from a pipe"
			e=$W/out/stream$n.err
			seq 1 "$n" | awk -v u="$BASE/n/" '{ print u $1 }' |
				measure "stream$n" --limit 600 --stderr "$e" -- \
					"$EVFETCH_BIN" -c 50 --discard --no-progress --cacert "$CA" -i -
			rc=$(rc_of_last)
			okc=$(sed -n 's/^evfetch: [0-9]* URLs, \([0-9]*\) ok,.*/\1/p' "$e" | tail -n 1)
			check_run evfetch "stream$n" "$n" "$rc" "${okc:-0}" "$e"
		done
	done
}

# overhead: the cost of a full report and of the progress bar on a
# terminal, against small50's plain run; variants rotated run by run.
overhead() {
	local n=20000 c=50 r i v o e okc rc
	local variants=(plain report progress warc warc0)
	local common=(-c "$c" --discard --cacert "$CA" -i "$W/lists/small.txt")
	mklist small "$BASE" /1k.bin "$n"
	for ((r = 0; r < RUNS; r++)); do
		for ((i = 0; i < ${#variants[@]}; i++)); do
			v=${variants[(i + r) % ${#variants[@]}]}
			say "-- overhead run $((r + 1))/$RUNS: evfetch, $v"
			o=$W/out/overhead-$v.out e=$W/out/overhead-$v.err
			case $v in
			plain)
				measure overhead-plain --stdout "$o" --stderr "$e" -- \
					"$EVFETCH_BIN" --no-progress "${common[@]}" ;;
			report)
				measure overhead-report --stdout "$o" --stderr "$e" -- \
					"$EVFETCH_BIN" --no-progress "${common[@]}" \
					--report "$W/out/overhead.jsonl" \
					--report-header content-type --report-header etag ;;
			progress)
				measure overhead-progress --pty 100 --stdout "$o" --stderr "$e" -- \
					"$EVFETCH_BIN" "${common[@]}" ;;
			warc|warc0)
				rm -f "$W/out/overhead.warc.gz"
				measure "overhead-$v" --stdout "$o" --stderr "$e" -- \
					"$EVFETCH_BIN" --no-progress "${common[@]}" \
					--warc-file "$W/out/overhead" \
					--warc-compression-level "$([ $v = warc ] && echo 1 || echo 0)" ;;
			esac
			rc=$(rc_of_last)
			# on the terminal the summary follows the bar's last erasure
			okc=$(sed -n 's/.*evfetch: [0-9]* URLs, \([0-9]*\) ok,.*/\1/p' "$e" | tail -n 1)
			check_run evfetch "overhead-$v" "$n" "$rc" "${okc:-0}" "$e"
			if [ "$v" = report ] && [ "$(wc -l <"$W/out/overhead.jsonl")" != "$n" ]; then
				FAILS+=("overhead report: $(wc -l <"$W/out/overhead.jsonl") report lines, not $n")
			fi
			if [ "$v" = progress ] && ! grep -q '%' "$e"; then
				FAILS+=("overhead progress: no progress bar was drawn")
			fi
			if [ "${v#warc}" != "$v" ] && [ "$(zcat "$W/out/overhead.warc.gz" |
				grep -ac '^WARC-Type: response')" != "$n" ]; then
				FAILS+=("overhead warc: not $n response records")
			fi
		done
	done
}

# ------------------------------------------------------------------ runs
STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
for w in $WORKLOADS; do
	say "== $w"
	case $w in
	small50) mklist small "$BASE" /1k.bin 20000; throughput small50 small 20000 50 ;;
	small300) mklist small "$BASE" /1k.bin 20000; throughput small300 small 20000 300 ;;
	medium50) mklist medium "$BASE" /16k.bin 20000; throughput medium50 medium 20000 50 ;;
	medium300) mklist medium "$BASE" /16k.bin 20000; throughput medium300 medium 20000 300 ;;
	large50) mklist large "$BASE" /1m.bin 1000; throughput large50 large 1000 50 ;;
	handshake) handshakes ;;
	slow1k) slow slow1k 1000 ;;
	slow10k) slow slow10k 10000 ;;
	stream) stream ;;
	overhead) overhead ;;
	h2c50) mklist h2small "$H2_BASE" /1k.bin 20000; h2_throughput h2c50 h2small 20000 50 ;;
	h2c1000) mklist h2small "$H2_BASE" /1k.bin 20000; h2_throughput h2c1000 h2small 20000 1000 ;;
	h2inflight) h2inflight ;;
	crawl) crawl ;;
	longcrawl) longcrawl ;;
	esac
done
cat "$W"/logs/*error.log 2>/dev/null | grep -i -E 'emerg|alert|crit|\[error\]' >"$W/logs/nginx-errors.txt"
if [ -s "$W/logs/nginx-errors.txt" ]; then
	note "nginx logged errors (first lines): $(head -n 3 "$W/logs/nginx-errors.txt" | cut -c1-200 | tr '\n' '|')"
fi

# --------------------------------------------------------------- report
mkdir -p "$HERE/results"
{
	printf '%s\n' "${NOTES[@]}" | grep . | sed 's/^/note: /'
	printf '%s\n' "${FAILS[@]}" | grep . | sed 's/^/FAILED: /'
} >"$W/notes.txt"
crawl_report "$W/crawl-report.md"
python3 - "$RAW" "$W/notes.txt" "$STARTED" "$RUNS" "$STREAM_URLS" "$HERE/results/latest.md" \
	"$(nproc)" "$EVFETCH_BIN" "$SLOW_HOLD" "$W/crawl-report.md" <<'PYEOF'
import json, statistics, sys
raw, notes_path, started, runs, stream_n, out_path, ncpu, evbin, hold, crawl_md = sys.argv[1:]
stream_n = int(stream_n)
recs = [json.loads(l) for l in open(raw) if l.strip()]
notes = [l.rstrip("\n") for l in open(notes_path) if l.strip()]

def med(xs):
    return statistics.median(xs) if xs else None

def fmt(x, nd=0):
    if x is None:
        return "-"
    if nd == 0:
        return "{:,.0f}".format(x)
    return "{:,.{}f}".format(x, nd)

def rng(xs, nd=0):
    if not xs:
        return "-"
    return "{} ({}–{})".format(fmt(med(xs), nd), fmt(min(xs), nd), fmt(max(xs), nd))

def by(tag, tool):
    return [r for r in recs if r["tag"] == tag and r.get("tool") == tool]

def a_ok(rs):
    return any(r["maxrss_kib"] for r in rs)

def ok_runs(rs):
    return [r for r in rs if r.get("ok") == r.get("urls") and r["rc"] == 0]

out = []
w = out.append
w("# evfetch benchmark results")
w("")
w("Started {}; {} run(s) per tool and workload, tools alternating run by run; "
  "{} CPU(s) shared by nginx (one worker process) and the client, nothing pinned. "
  "evfetch: `{}`.".format(started, runs, ncpu, evbin))
w("")
w("Figures are median (min–max) over the runs. CPU is user+sys of the client "
  "process alone (wait4), per URL. RSS is the client's peak resident set. "
  "Ratios are evfetch's median divided by the peer's.")
w("")

tput = [("small50", "20,000 x 1 KiB, -c 50"), ("small300", "20,000 x 1 KiB, -c 300"),
        ("medium50", "20,000 x 16 KiB, -c 50"), ("medium300", "20,000 x 16 KiB, -c 300"),
        ("large50", "1,000 x 1 MiB, -c 50"),
        ("hs-full", "2,000 new connections, full TLS 1.3 handshake, -c 50 (URLs/s = handshakes/s)"),
        ("hs-resumed", "2,000 new connections, resumed TLS 1.3 session, -c 50 (URLs/s = handshakes/s)"),
        ("h2c50", "HTTP/2 server: 20,000 x 1 KiB, -c 50"),
        ("h2c1000", "HTTP/2 server: 20,000 x 1 KiB, -c 1000")]
tools = ["evfetch", "curl", "wget2", "h2load"]
rows = []
for tag, desc in tput:
    if not any(r["tag"] == tag for r in recs):
        continue
    ev = by(tag, "evfetch")
    evg = ok_runs(ev)
    ev_rate = med([r["urls"] / r.get("rate_wall", r["wall"]) for r in evg])
    ev_cpu = med([(r["user"] + r["sys"]) * 1e6 / r["urls"] for r in evg])
    ev_rss = med([r["maxrss_kib"] for r in evg if r["maxrss_kib"]])
    for tool in tools:
        rs = by(tag, tool)
        if not rs:
            continue
        good = ok_runs(rs)
        rate = [r["urls"] / r.get("rate_wall", r["wall"]) for r in good]
        scpu = [r["server_cpu"] * 1e6 / r["urls"] for r in good if "server_cpu" in r]
        cpu = [(r["user"] + r["sys"]) * 1e6 / r["urls"] for r in good]
        rss = [r["maxrss_kib"] / 1024 for r in good if r["maxrss_kib"]]
        conns = ""
        if tag.startswith("hs-"):
            conns = " / ".join("{}/{}".format(r.get("new_conns", "?"), r.get("resumed", "?")) for r in rs)
        h2c = ""
        if tag.startswith("h2c"):
            h2c = "connections x streams, protocol per run: " + " / ".join(
                "{} x {} {}".format(r.get("conns", "?"),
                                    r.get("streams", "?") if tool in ("h2load", "wget2") else "-",
                                    r.get("protos", "?")) for r in rs)
        ratio = ""
        if tool != "evfetch" and good and ev_rate:
            ratio = "{:.2f}x rate, {:.2f}x CPU".format(ev_rate / med(rate), ev_cpu / med(cpu))
            if ev_rss and rss:
                ratio += ", {:.2f}x RSS".format(ev_rss / 1024 / med(rss))
        bad = len(rs) - len(good)
        rows.append((desc, tool, rng(rate), rng(cpu, 1), rng(rss, 1), rng(scpu, 1), ratio,
                     ("{} of {} runs failed".format(bad, len(rs)) if bad else "") +
                     (("conns/resumed per run: " + conns) if conns else "") + h2c))
if rows:
    w("## Throughput and handshakes")
    w("")
    w("| workload | tool | URLs/s | client CPU µs/URL | client peak RSS MiB | nginx CPU µs/URL | evfetch ÷ peer | notes |")
    w("|---|---|---|---|---|---|---|---|")
    last = None
    for row in rows:
        desc = row[0]
        w("| " + " | ".join((desc if desc != last else "",) + row[1:]) + " |")
        last = desc
    w("")
    if any(r["tag"].startswith("h2c") for r in recs):
        w("HTTP/2 rows: the server speaks h2 and http/1.1 (ALPN, nginx's 128 streams per "
          "connection); evfetch runs with no protocol option, h2load, `wget2 --http2` and "
          "`curl --http2` ask for h2. \"connections x streams\" are the connections nginx "
          "saw in each run with the protocol of each (HTTP/2.0 or HTTP/1.1: count); h2load "
          "and wget2 were given evfetch's connection count and ceil(-c / connections) "
          "streams per connection, curl only --parallel-max (at most 300).")
        w("")
    if any(r["tag"].startswith("hs-") for r in recs):
        w("Handshake rows: \"conns/resumed\" are the new connections and resumed TLS "
          "sessions nginx saw in each run. h2load cannot turn session resumption off, so "
          "its full-handshake figure comes from 40 runs of 50 clients x 1 request; its rate "
          "uses the sum of h2load's own times (start-up excluded), its CPU includes the 40 "
          "start-ups. h2load does not verify the server certificate; the others do.")
        w("")

srows = []
for tag, n in (("slow1k", 1000), ("slow10k", 10000)):
    for tool in tools:
        rs = by(tag, tool)
        idle = by(tag + "-idle", tool)
        if not rs:
            continue
        held = [r for r in rs if r.get("end", "").startswith("held")]
        idle_kib = med([r["hwm_kib"] for r in idle]) or 0
        idle_end = med([r["end_rss_kib"] for r in idle if r.get("end_rss_kib")]) or idle_kib
        per = [(r["hwm_kib"] - idle_kib) * 1024 / n for r in held]
        per_end = [(r["end_rss_kib"] - idle_end) * 1024 / n for r in held if r.get("end_rss_kib")]
        srows.append(("{:,} open transfers".format(n), tool,
                      fmt(idle_kib / 1024, 1), rng([r["hwm_kib"] / 1024 for r in rs], 1),
                      rng(per), rng(per_end), " / ".join(str(r.get("most_open")) for r in rs),
                      "; ".join(sorted(set(r.get("end", "") for r in rs)))))
if srows:
    w("## Open transfers (1 KiB/s each, 64 KiB bodies; RSS sampled every 100 ms, peak = VmHWM)")
    w("")
    w("| workload | tool | idle RSS MiB | peak RSS MiB | bytes per open transfer (peak) | bytes per open transfer (end) | open at nginx per run | end |")
    w("|---|---|---|---|---|---|---|---|")
    for r in srows:
        w("| " + " | ".join(r) + " |")
    w("")
    w("Bytes per open transfer (peak) = (peak RSS - peak RSS of the same client with one "
      "slow transfer) / transfers; (end) uses the RSS just before SIGTERM, after every "
      "transfer had been open {} s. \"open at nginx\" is the most responses nginx's "
      "stub_status showed in progress at once.".format(hold))
    w("")

h2in = by("h2inflight", "evfetch")
if h2in:
    n = 10000
    idle = by("h2inflight-idle", "evfetch")
    held = [r for r in h2in if r.get("end", "").startswith("held")]
    idle_kib = med([r["hwm_kib"] for r in idle]) or 0
    idle_end = med([r["end_rss_kib"] for r in idle if r.get("end_rss_kib")]) or idle_kib
    per = [(r["hwm_kib"] - idle_kib) * 1024 / n for r in held]
    per_end = [(r["end_rss_kib"] - idle_end) * 1024 / n for r in held if r.get("end_rss_kib")]
    conns = [r["conns"] for r in h2in if isinstance(r.get("conns"), int)]
    w("## Transfers in flight over HTTP/2 (10,000 to one host, 1 KiB/s each, 64 KiB bodies)")
    w("")
    w("| tool | idle RSS MiB | peak RSS MiB | bytes per transfer in flight (peak) | (end) | in flight at nginx per run | connections opened per run (protocol) | most open at once per run | end |")
    w("|---|---|---|---|---|---|---|---|---|")
    w("| evfetch | {} | {} | {} | {} | {} | {} | {} | {} |".format(
        fmt(idle_kib / 1024, 1), rng([r["hwm_kib"] / 1024 for r in h2in], 1), rng(per), rng(per_end),
        " / ".join(str(r.get("most_open")) for r in h2in),
        " / ".join("{} ({})".format(r.get("conns", "?"), r.get("protos", "?")) for r in h2in),
        " / ".join(str(r.get("most_conns", "?")) for r in h2in),
        "; ".join(sorted(set(r.get("end", "") for r in h2in)))))
    w("")
    def verdict(got, limit):
        if got is None:
            return "not measured"
        return "met" if got <= limit else "NOT met"
    mc = max(conns) if conns else None
    mp = med(per)
    w("Targets with HTTP/2: at most 100 connections ({}: {}), at most 4,096 bytes per "
      "transfer in flight (median {} B: {}). Bytes per transfer in flight = (peak RSS - peak RSS "
      "of the same client with one transfer) / 10,000, as for the open transfers above; "
      "\"connections opened\" are those nginx logged (their first requests), \"most open at "
      "once\" comes from stub_status. nginx allows 128 streams per connection, so 10,000 "
      "transfers need at least 79 connections.".format(
          "most in a run " + str(mc) if mc is not None else "-", verdict(mc, 100),
          fmt(mp), verdict(mp, 4096)))
    w("")

st_small = ok_runs(by("stream10000", "evfetch"))
st_big = ok_runs(by("stream%d" % stream_n, "evfetch"))
if by("stream10000", "evfetch") or by("stream%d" % stream_n, "evfetch"):
    w("## Streamed input (URLs piped into `evfetch -i - -c 50`, tiny bodies)")
    w("")
    w("| URLs | URLs/s | CPU µs/URL | peak RSS MiB | failed runs |")
    w("|---|---|---|---|---|")
    for n, rs, allrs in ((10000, st_small, by("stream10000", "evfetch")),
                         (stream_n, st_big, by("stream%d" % stream_n, "evfetch"))):
        w("| {:,} | {} | {} | {} | {} |".format(
            n, rng([r["urls"] / r["wall"] for r in rs]),
            rng([(r["user"] + r["sys"]) * 1e6 / r["urls"] for r in rs], 1),
            rng([r["maxrss_kib"] / 1024 for r in rs if r["maxrss_kib"]], 2), len(allrs) - len(rs)))
    if st_small and st_big and a_ok(st_small) and a_ok(st_big):
        a = med([r["maxrss_kib"] for r in st_small if r["maxrss_kib"]])
        b = med([r["maxrss_kib"] for r in st_big if r["maxrss_kib"]])
        w("")
        w("Peak RSS of {:,} URLs is {:+.1f}% of that of 10,000.".format(stream_n, (b / a - 1) * 100))
    w("")

ov = {v: ok_runs([r for r in recs if r["tag"] == "overhead-" + v])
      for v in ("plain", "report", "progress", "warc", "warc0")}
if any(r["tag"].startswith("overhead-") for r in recs):
    w("## Overhead (20,000 x 1 KiB, -c 50, evfetch alone)")
    w("")
    w("| variant | URLs/s | CPU µs/URL | against plain: URLs/s median, best; CPU median, least | failed runs |")
    w("|---|---|---|---|---|")
    def rates(rs):
        return [r["urls"] / r["wall"] for r in rs]
    def cpus(rs):
        return [(r["user"] + r["sys"]) * 1e6 / r["urls"] for r in rs]
    def pct(a, b):
        return "{:+.1f}%".format((a / b - 1) * 100) if a and b else "-"
    base = ov["plain"]
    desc = {"plain": "`--no-progress`, as small50",
            "report": "`--report FILE --report-header content-type --report-header etag`",
            "progress": "the progress bar on a 100-column terminal",
            "warc": "`--warc-file PREFIX` (gzip level 1, the default)",
            "warc0": "`--warc-file PREFIX --warc-compression-level 0`"}
    for v in ("plain", "report", "progress", "warc", "warc0"):
        rs = ov[v]
        allrs = [r for r in recs if r["tag"] == "overhead-" + v]
        if not rs or not base:
            continue
        w("| {} | {} | {} | {}, {}; {}, {} | {} |".format(
            desc[v], rng(rates(rs)), rng(cpus(rs), 1),
            pct(med(rates(rs)), med(rates(base))), pct(max(rates(rs)), max(rates(base))),
            pct(med(cpus(rs)), med(cpus(base))), pct(min(cpus(rs)), min(cpus(base))),
            len(allrs) - len(rs)))
    w("")
    w("Other processes slow a run down and never speed it up, so on a busy "
      "machine the best run (and the least CPU) of each variant is the fairer "
      "comparison; the medians show how noisy the runs were.")
    w("")

crawl_text = open(crawl_md).read().strip()
if crawl_text:
    w(crawl_text)
    w("")

busy = {}
for r in recs:
    if r.get("wall") and "other_cpu" in r:
        share = r["other_cpu"] / r["wall"]
        busy.setdefault(r["tag"], []).append(share)
noisy = ["{} (up to {:.0f}% of a core)".format(t, max(v) * 100)
         for t, v in busy.items() if max(v) > 0.10]
if noisy:
    notes.append("other processes used CPU during: " + ", ".join(noisy) +
                 "; those figures are less trustworthy")
else:
    notes.append("no run saw more than 10% of a core used by other processes")

if notes:
    w("## Notes")
    w("")
    for n in notes:
        w("- " + n)
    w("")
text = "\n".join(out)
open(out_path, "w").write(text)
print(text)
PYEOF
say "== wrote $HERE/results/latest.md"
[ ${#FAILS[@]} -eq 0 ]
