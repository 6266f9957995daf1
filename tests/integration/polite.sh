#!/bin/bash
# polite.sh - politeness per host: --rate-per-host and --delay-per-host
# space a host's request starts (measured from the report's started_at and
# from the run's length), a host that must wait holds no slot that other
# hosts could use (one slow, rate-limited host among many fast ones: the
# fast ones finish at full speed), a 429 or 503 with Retry-After pauses
# the whole host, capped by --retry-max-time and said once, and
# --limit-rate bounds the aggregate download rate.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
start_nginx "$T/nginx"
start_badserver
H=http://127.0.0.1:$HTTP_PORT
B=http://127.0.0.1:$BADSERVER_PORT
RES=(--resolve "*:$HTTP_PORT:127.0.0.1")

# gaps FILE PREFIX: the smallest gap in ms between consecutive start times
# (started_at, when evfetch took the URL, plus queued_ms) of the report
# lines whose URL starts with PREFIX, and the span from the first to the
# last.
gaps() {
	"$PYTHON3" - "$1" "$2" <<'EOF'
import json, sys, datetime
starts = []
for line in open(sys.argv[1]):
    r = json.loads(line)
    if r["url"].startswith(sys.argv[2]):
        t = datetime.datetime.strptime(r["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
        starts.append(t.timestamp() * 1000 + r["queued_ms"])
starts.sort()
gaps = [b - a for a, b in zip(starts, starts[1:])]
print("%d %d" % (min(gaps) if gaps else 0, starts[-1] - starts[0] if starts else 0))
EOF
}

# --- --rate-per-host: 8 URLs of one host at 4 a second ------------------------
for i in $(seq 1 8); do echo "$H/n/rate-$i"; done >"$T/rate.txt"
evf -c 8 --no-progress --discard --rate-per-host 4 --report "$T/rate.jsonl" -i "$T/rate.txt"
is "$EVF_RC" 0 "--rate-per-host 4: exit status 0"
is "$(rep_count "$T/rate.jsonl" 'r["ok"] is True')" 8 "--rate-per-host 4: 8 URLs ok"
cmp_ok "$EVF_MS" -ge 1700 "--rate-per-host 4: 8 requests take at least 7 x 250 ms ($EVF_MS ms)"
cmp_ok "$EVF_MS" -lt 6000 "--rate-per-host 4: and not much more ($EVF_MS ms)"

# --- --delay-per-host: 5 URLs at least 300 ms apart ----------------------------
for i in $(seq 1 5); do echo "$H/n/delay-$i"; done >"$T/delay.txt"
evf -c 5 --no-progress --discard --delay-per-host 0.3 --report "$T/delay.jsonl" -i "$T/delay.txt"
is "$EVF_RC" 0 "--delay-per-host 0.3: exit status 0"
read -r mingap span < <(gaps "$T/delay.jsonl" "$H/n/delay-")
cmp_ok "$mingap" -ge 290 "--delay-per-host 0.3: the starts are at least 300 ms apart (smallest gap $mingap ms)"
cmp_ok "$span" -ge 1180 "--delay-per-host 0.3: the 5 starts span 1.2 s or more ($span ms)"

# --- one slow host among many fast ones ----------------------------------------
# 12 URLs of slow.evfetch.test at 2 a second (about 5.5 s), mixed with 300
# URLs of 300 other hosts, at -c 4.  The slow host's waiting URLs hold no
# slot: the fast ones are all done long before it.
{
	for i in $(seq 1 300); do
		echo "http://f$i.evfetch.test:$HTTP_PORT/n/fast-$i"
		[ $((i % 25)) -eq 0 ] && echo "http://slow.evfetch.test:$HTTP_PORT/n/slow-$((i / 25))"
	done
} >"$T/mix.txt"
evf -c 4 --no-progress --discard --rate-per-host 2 "${RES[@]}" --report "$T/mix.jsonl" -i "$T/mix.txt"
is "$EVF_RC" 0 "slow host among fast ones: exit status 0"
is "$(rep_count "$T/mix.jsonl" 'r["ok"] is True')" 312 "slow host among fast ones: 312 URLs ok"
"$PYTHON3" - "$T/mix.jsonl" >"$T/mix.out" <<'EOF'
import json, sys, datetime
def ms(r):
    t = datetime.datetime.strptime(r["started_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return t.timestamp() * 1000 + r["queued_ms"]
rows = [json.loads(l) for l in open(sys.argv[1])]
t0 = min(ms(r) for r in rows)
fast_end = max(ms(r) + r["time_total_ms"] for r in rows if "/n/fast-" in r["url"]) - t0
slow_end = max(ms(r) + r["time_total_ms"] for r in rows if "/n/slow-" in r["url"]) - t0
print("%d %d" % (fast_end, slow_end))
EOF
read -r fast_end slow_end <"$T/mix.out"
cmp_ok "$slow_end" -ge 5400 "slow host among fast ones: the slow host's 12 URLs take 11 x 500 ms or more ($slow_end ms)"
cmp_ok "$fast_end" -lt "$((slow_end / 2))" "slow host among fast ones: the 300 fast URLs finish in under half that ($fast_end ms)"

# --- Retry-After pauses the host ------------------------------------------------
# The first URL gets 503 with Retry-After: 2; the host's other 4 URLs wait
# the 2 s although nothing retries them, and the pause is said once.
{
	echo "$B/retry-after?after=2"
	for i in 1 2 3 4; do echo "$B/ok/$i"; done
} >"$T/pause.txt"
evf -c 1 --no-progress --discard --report "$T/pause.jsonl" -i "$T/pause.txt"
is "$EVF_RC" 0 "Retry-After: exit status 0 (without -f a 503 is an answer)"
is "$(rep_count "$T/pause.jsonl" 'r["status"] == 503')" 1 "Retry-After: the first URL got its 503"
cmp_ok "$EVF_MS" -ge 1900 "Retry-After: 2 pauses the host's other URLs ($EVF_MS ms)"
is "$(rep_count "$T/pause.jsonl" 'r["status"] == 200')" 4 "Retry-After: the other 4 URLs then succeed"
is "$(grep -c 'answered 503 with Retry-After' "$EVF_ERR")" 1 "Retry-After: the pause is said once"
like "$(cat "$EVF_ERR")" 'no request goes to it for 2\.000 s' "Retry-After: the message gives the pause"

# capped by --retry-max-time
evf -c 1 --no-progress --discard --retry-delay 0.1 --retry-max-time 0.5 --report "$T/cap.jsonl" \
	"$B/retry-after?after=30" "$B/ok/5"
cmp_ok "$EVF_MS" -lt 5000 "Retry-After: 30 with --retry-max-time 0.5: the pause is 0.5 s ($EVF_MS ms)"
like "$(cat "$EVF_ERR")" 'for 0\.500 s' "Retry-After capped: the message gives 0.5 s"

# other hosts go on during a pause: 3 hosts at -c 1 behind a paused one
evf -c 1 --no-progress --discard "${RES[@]}" --report "$T/other.jsonl" \
	"$B/retry-after?after=3" "$B/ok/6" "http://a.evfetch.test:$HTTP_PORT/n/o1" \
	"http://b.evfetch.test:$HTTP_PORT/n/o2" "http://c.evfetch.test:$HTTP_PORT/n/o3"
"$PYTHON3" - "$T/other.jsonl" >"$T/other.out" <<'EOF'
import json, sys
rows = {json.loads(l)["url"]: json.loads(l) for l in open(sys.argv[1])}
print(" ".join("%d" % (r["queued_ms"]) for u, r in sorted(rows.items()) if "/n/o" in u))
EOF
read -r q1 q2 q3 <"$T/other.out"
cmp_ok "${q3:-99999}" -lt 2000 "a paused host's URL does not hold the one slot: the other hosts' URLs wait less than the pause (${q1:-?} ${q2:-?} ${q3:-?} ms queued)"

# --- --limit-rate: the aggregate download rate ------------------------------------
# 4 x 1 MiB over TLS at -c 4, 2 MiB a second in all: about 2 s; the bodies
# arrive whole.
S=https://127.0.0.1:$HTTPS_PORT
mkdir -p "$T/lr"
evf -c 4 --no-progress --cacert "$CA_FILE" --limit-rate 2M -d "$T/lr" --report "$T/lr.jsonl" \
	"$S/1m.bin?a" "$S/1m.bin?b" "$S/1m.bin?c" "$S/1m.bin?d"
is "$EVF_RC" 0 "--limit-rate 2M: exit status 0"
cmp_ok "$EVF_MS" -ge 1700 "--limit-rate 2M: 4 MiB take about 2 s ($EVF_MS ms)"
cmp_ok "$EVF_MS" -lt 6000 "--limit-rate 2M: and not much more ($EVF_MS ms)"
want=$(cut -d' ' -f1 "$WWW_DIR/1m.bin.sha256")
bad=0
for f in "$T"/lr/*; do
	[ "$(sha256sum <"$f" | cut -d' ' -f1)" = "$want" ] || bad=$((bad + 1))
done
is "$bad" 0 "--limit-rate 2M: the 4 bodies are whole"
evf -c 4 --no-progress --cacert "$CA_FILE" --discard "$S/1m.bin?e" "$S/1m.bin?f"
cmp_ok "$EVF_MS" -lt 1500 "without --limit-rate the same is fast ($EVF_MS ms)"
evf --limit-rate lots "$H/n/x"
is "$EVF_RC" 2 "--limit-rate lots: a usage error"

# --- bad values -----------------------------------------------------------------
evf --rate-per-host 0 "$H/n/x"
is "$EVF_RC" 2 "--rate-per-host 0: a usage error"
evf --rate-per-host fast "$H/n/x"
is "$EVF_RC" 2 "--rate-per-host fast: a usage error"
evf --delay-per-host -1 "$H/n/x"
is "$EVF_RC" 2 "--delay-per-host -1: a usage error"

done_testing
