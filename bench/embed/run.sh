#!/usr/bin/env bash
# bench/embed/run.sh - evfetch embedded in a libevent server, side by side
# with the same server on libcurl's multi interface.
#
# Usage: bench/embed/run.sh        (from anywhere in a clone; one command)
#
# The server is bench/embed's aggregator: GET /agg?n=K fetches K upstream
# HTTPS URLs at once on the server's event_base and replies when the last
# is done (504 after a 2 s deadline).  agg_evfetch does the fetching with
# one evf_client, agg_curl with libcurl's multi interface and the usual
# libevent glue, tuned as agg_curl.c says.  Both are built here from the
# same agg_server.c with the same flags; the upstream is an nginx on
# 127.0.0.1 serving 1 KiB files over TLS 1.3 (one worker, keep-alive).
#
# A load generator (wrk; or h2load --h1 with LOAD=h2load, which gives no
# percentiles) keeps CONNS connections busy with GET /agg?n=N for WARMUP
# seconds, then DURATION seconds measured; each server is started afresh
# for each of RUNS runs, the two taking turns.  Reported, median over the
# runs: requests/s, p50 and p99 latency, the server's CPU (user + system,
# /proc/PID/stat, over the measured part) per request, and its peak RSS
# (VmHWM, the whole life of the process); also nginx's CPU per request and
# the share of the machine's CPU left idle, which tell whether the server
# or the upstream set the pace.  About 90 s in all with the defaults.
#
# First, when the library is not built or wrk, libcurl's development files
# or nginx are missing, it runs scripts/bootstrap-debian.sh with
# EVFETCH_EXTRA_PKGS="wrk libcurl4-openssl-dev" (apt-get, as root or
# through sudo), which also builds evfetch into ./build.
#
# Environment: CONNS (default 50), N (5), DURATION (10), WARMUP (2),
# RUNS (3), MAX_TRANSFERS (1024, both servers), LOAD (wrk, or h2load),
# EVFETCH_LIBDIR (default ./build/.libs), BENCH_NO_INSTALL=1 (never run
# the bootstrap script), BENCH_KEEP=1 (keep the work directory).
# The table goes to standard output and bench/results/embed-latest.md.
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH=$(cd "$HERE/.." && pwd)
TOP=$(cd "$BENCH/.." && pwd)
CONNS=${CONNS:-50}
N=${N:-5}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-2}
RUNS=${RUNS:-3}
MAX_TRANSFERS=${MAX_TRANSFERS:-1024}
LIBDIR=${EVFETCH_LIBDIR:-$TOP/build/.libs}

say() { printf '%s\n' "$*" >&2; }
die() { say "bench/embed: $*"; exit 1; }
. "$BENCH/lib.sh"

for v in CONNS N DURATION RUNS MAX_TRANSFERS; do
	case ${!v} in '' | *[!0-9]* | 0) die "$v must be a positive integer" ;; esac
done
case $WARMUP in '' | *[!0-9]*) die "WARMUP must be an integer" ;; esac
[ "$N" -le 100 ] || die "N is at most 100"

# ------------------------------------------------------------ dependencies
missing() {
	[ -e "$LIBDIR/libevfetch.so" ] || { echo "libevfetch (not built)"; return; }
	pkg-config --exists libcurl 2>/dev/null || { echo libcurl4-openssl-dev; return; }
	PATH=$PATH:/usr/sbin command -v nginx >/dev/null || { echo nginx; return; }
	if [ "${LOAD:-wrk}" = h2load ]; then
		command -v h2load >/dev/null || echo "h2load (nghttp2-client)"
	else
		command -v wrk >/dev/null || echo wrk
	fi
}
need=$(missing)
if [ -n "$need" ]; then
	[ "${BENCH_NO_INSTALL:-0}" = 1 ] && die "missing: $need (and BENCH_NO_INSTALL=1)"
	extra="wrk libcurl4-openssl-dev"
	[ "${LOAD:-wrk}" = h2load ] && extra="$extra nghttp2-client"
	say "== missing $need: running scripts/bootstrap-debian.sh with $extra"
	EVFETCH_EXTRA_PKGS="$extra ${EVFETCH_EXTRA_PKGS:-}" \
		"$TOP/scripts/bootstrap-debian.sh" >&2 || die "the bootstrap script failed"
	need=$(missing)
	[ -z "$need" ] || die "still missing after the bootstrap script: $need"
fi
LOAD=${LOAD:-wrk}
case $LOAD in wrk | h2load) ;; *) die "LOAD is wrk or h2load" ;; esac
NGINX=${NGINX:-$(PATH=$PATH:/usr/sbin:/sbin command -v nginx)}

# ------------------------------------------------------------ work area
W=$(mktemp -d "${TMPDIR:-/tmp}/evfetch-bench-embed.XXXXXX") || die "mktemp failed"
NGINX_PID= SERVER_PID=
stop() { # PID: SIGTERM, then SIGKILL after 5 s
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 0
	for _ in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
}
cleanup() {
	stop "$SERVER_PID"
	stop "$NGINX_PID"
	if [ "${BENCH_KEEP:-0}" = 1 ]; then say "kept $W"; else rm -rf -- "$W"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY SSL_CERT_FILE SSL_CERT_DIR
mkdir -p "$W/www/u" "$W/logs" "$W/tmp" "$W/bin"
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# --------------------------------------------------------------- servers
FLAGS="-O2 -g -Wall -Wextra -Wno-unused-parameter -Werror"
# shellcheck disable=SC2086
cc $FLAGS -I"$TOP/include" -o "$W/bin/agg_evfetch" "$HERE/agg_server.c" "$HERE/agg_evfetch.c" \
	-L"$LIBDIR" -Wl,-rpath,"$LIBDIR" -levfetch $(pkg-config --libs libevent_core libevent_extra) \
	2>"$W/logs/cc-evfetch.log" || { cat "$W/logs/cc-evfetch.log" >&2; die "agg_evfetch did not build"; }
# shellcheck disable=SC2086
cc $FLAGS -o "$W/bin/agg_curl" "$HERE/agg_server.c" "$HERE/agg_curl.c" \
	$(pkg-config --cflags --libs libcurl libevent_core libevent_extra) \
	2>"$W/logs/cc-curl.log" || { cat "$W/logs/cc-curl.log" >&2; die "agg_curl did not build"; }

# ----------------------------------------------------------------- nginx
make_pki "$W/pki"
for ((i = 0; i < 100; i++)); do head -c 1024 /dev/urandom >"$W/www/u/$i"; done
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
UP_PORT=$(free_port)
cat >"$W/nginx.conf" <<EOF
# Generated by bench/embed/run.sh: the upstream of both servers.
worker_processes 1;
worker_rlimit_nofile 65536;
pid $W/nginx.pid;
error_log $W/logs/error.log warn;
events { worker_connections 16384; }
http {
$(nginx_http_common)
    sendfile on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    server_tokens off;
    open_file_cache max=256 inactive=300s;
    ssl_protocols TLSv1.3;
    ssl_certificate $W/pki/server.pem;
    ssl_certificate_key $W/pki/server.key;
    ssl_session_cache shared:BENCH:16m;
    ssl_session_timeout 1h;
    root $W/www;
    server {
        listen 127.0.0.1:$UP_PORT ssl backlog=4096;
        location / { }
    }
}
EOF
start_nginx "$UP_PORT"
UPSTREAM=https://127.0.0.1:$UP_PORT/u/
say "== nginx $NGINX_PID on 127.0.0.1:$UP_PORT, work dir $W"

# ------------------------------------------------------------------- runs
CLK_TCK=$(getconf CLK_TCK)
cpu_ticks() { # PID: user + system CPU in clock ticks
	awk '{ sub(/.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}
idle_ticks() { # the machine's idle (and iowait) clock ticks
	awk '/^cpu / { print $5 + $6 }' /proc/stat
}
RAW=$W/raw.txt
: >"$RAW"

# load SECONDS URL OUT: one load run
load() {
	if [ "$LOAD" = wrk ]; then
		wrk -t1 -c"$CONNS" -d"$1"s --latency "$2" >"$3" 2>&1
	else
		h2load --h1 -c"$CONNS" -m1 -D"$1" "$2" >"$3" 2>&1
	fi
}

# one_run NAME RUN
one_run() {
	local name=$1 run=$2 port t0 t1 n0 n1 i0 i1 hwm out=$W/logs/$1.$2
	"$W/bin/agg_$name" --upstream "$UPSTREAM" --cacert "$W/pki/ca.pem" \
		--max-transfers "$MAX_TRANSFERS" >"$out.port" 2>"$out.err" &
	SERVER_PID=$!
	for _ in $(seq 100); do [ -s "$out.port" ] && break; sleep 0.05; done
	port=$(head -n 1 "$out.port")
	[ -n "$port" ] || { cat "$out.err" >&2; die "agg_$name did not start"; }
	local url="http://127.0.0.1:$port/agg?n=$N"
	curl -s -o "$out.first" --max-time 5 "$url"
	grep -q "\"ok\":$N," "$out.first" ||
		die "agg_$name: the first /agg?n=$N did not fetch $N URLs: $(cat "$out.first")"
	[ "$WARMUP" -gt 0 ] && load "$WARMUP" "$url" "$out.warmup"
	t0=$(cpu_ticks "$SERVER_PID") n0=$(cpu_ticks "$NGINX_PID") i0=$(idle_ticks)
	load "$DURATION" "$url" "$out.load"
	t1=$(cpu_ticks "$SERVER_PID") n1=$(cpu_ticks "$NGINX_PID") i1=$(idle_ticks)
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
	curl -s --max-time 5 "http://127.0.0.1:$port/stats" >"$out.stats"
	stop "$SERVER_PID"
	SERVER_PID=
	python3 - "$LOAD" "$out.load" "$name" "$run" "$((t1 - t0))" "$CLK_TCK" "$hwm" \
		"$out.stats" "$((n1 - n0))" "$((i1 - i0))" "$DURATION" >>"$RAW" <<'PYEOF' ||
import json, os, re, sys
load, path, name, run, ticks, clk, hwm, stats, nticks, iticks, dur = sys.argv[1:]
text = open(path).read()
def ms(v, unit):
    return float(v) * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit]
r = {"name": name, "run": int(run), "rss_kb": int(hwm), "p50": None, "p99": None}
if load == "wrk":
    r["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    r["requests"] = int(re.search(r"(\d+) requests in", text).group(1))
    for p in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s|m)\s*$" % p, text, re.M)
        r["p" + p] = ms(*m.groups())
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    bad = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    bad += sum(int(x) for x in m.groups()) if m else 0
else:
    r["rps"] = float(re.search(r"finished in [\d.]+\w+, ([\d.]+) req/s", text).group(1))
    m = re.search(r"requests: \d+ total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored", text)
    r["requests"] = int(m.group(1))
    bad = int(m.group(3)) + int(m.group(4))
    m = re.search(r"status codes: (\d+) 2xx", text)
    bad += r["requests"] - int(m.group(1)) if m else 0
r["bad"] = bad
r["cpu_us"] = int(ticks) / int(clk) * 1e6 / max(r["requests"], 1)
r["nginx_us"] = int(nticks) / int(clk) * 1e6 / max(r["requests"], 1)
# the share of the machine's cores (all of them) that no process used
r["idle_pct"] = int(iticks) / int(clk) / float(dur) / os.cpu_count() * 100
try:
    r["timeouts"] = json.load(open(stats))["timeouts"]
except (OSError, ValueError, KeyError):
    r["timeouts"] = None
print(json.dumps(r))
PYEOF
		die "cannot read the output of $LOAD ($out.load)"
	say "   $(tail -n 1 "$RAW")"
}

STARTED=$(date -u '+%Y-%m-%d %H:%M UTC')
for ((run = 1; run <= RUNS; run++)); do
	for name in evfetch curl; do
		say "== run $run: agg_$name, $LOAD -c $CONNS, /agg?n=$N, ${WARMUP}+${DURATION} s"
		one_run "$name" "$run"
	done
done

# ----------------------------------------------------------------- table
mkdir -p "$BENCH/results"
python3 - "$RAW" "$BENCH/results/embed-latest.md" "$STARTED" "$RUNS" "$CONNS" "$N" \
	"$DURATION" "$LOAD" "$MAX_TRANSFERS" \
	"$(git -C "$TOP" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
	"$(curl-config --version 2>/dev/null)" <<'PYEOF'
import json, statistics, sys
raw, out, started, runs, conns, n, dur, load, maxt, commit, curlv = sys.argv[1:]
rows = [json.loads(l) for l in open(raw) if l.strip()]
def med(name, key):
    v = [r[key] for r in rows if r["name"] == name and r[key] is not None]
    return statistics.median(v) if v else None
def span(name, key, fmt, scale=1.0):
    v = [r[key] * scale for r in rows if r["name"] == name and r[key] is not None]
    if not v:
        return "n/a"
    s = fmt % statistics.median(v)
    if len(v) > 1:
        s += " (" + fmt % min(v) + "–" + fmt % max(v) + ")"
    return s
lines = []
w = lines.append
w("`bench/embed/run.sh`, started %s on commit %s: %s -c %s, GET /agg?n=%s "
  "(%s upstream HTTPS fetches per request), %s s measured after a warm-up, "
  "max_transfers %s in both servers, %s run(s) each; median%s. Upstream: one "
  "nginx worker, TLS 1.3, 1 KiB files; everything on the same 2 cores. %s." %
  (started, commit, load, conns, n, n, dur, maxt, runs,
   " (min–max)" if int(runs) > 1 else "", curlv or "libcurl"))
w("")
w("| server | requests/s | upstream fetches/s | p50 ms | p99 ms | server CPU µs/request | server peak RSS MiB | nginx CPU µs/request | idle CPU % | errors |")
w("|---|---|---|---|---|---|---|---|---|---|")
names = {"evfetch": "agg_evfetch (evfetch)", "curl": "agg_curl (libcurl multi)"}
for name in ("evfetch", "curl"):
    if not any(r["name"] == name for r in rows):
        continue
    rps = med(name, "rps")
    bad = sum(r["bad"] + (r["timeouts"] or 0) for r in rows if r["name"] == name)
    w("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %d |" % (
        names[name], span(name, "rps", "%.0f"), "%.0f" % (rps * int(n)),
        span(name, "p50", "%.2f"), span(name, "p99", "%.2f"),
        span(name, "cpu_us", "%.0f"), span(name, "rss_kb", "%.1f", 1 / 1024),
        span(name, "nginx_us", "%.0f"), span(name, "idle_pct", "%.0f"), bad))
e_rps, c_rps = med("evfetch", "rps"), med("curl", "rps")
e_rss, c_rss = med("evfetch", "rss_kb"), med("curl", "rss_kb")
if e_rps and c_rps and e_rss and c_rss:
    w("")
    w("evfetch ÷ libcurl: requests/s **%.2fx** (target >= 2x: %s), peak RSS **%.2fx** "
      "(target <= 0.5x: %s), CPU per request %.2fx." % (
        e_rps / c_rps, "met" if e_rps >= 2 * c_rps else "not met",
        e_rss / c_rss, "met" if e_rss <= 0.5 * c_rss else "not met",
        med("evfetch", "cpu_us") / med("curl", "cpu_us")))
text = "\n".join(lines) + "\n"
open(out, "w").write("# bench/embed results\n\n" + text)
sys.stdout.write(text)
PYEOF
say "== wrote $BENCH/results/embed-latest.md"
