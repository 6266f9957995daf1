#!/bin/bash
# shard.sh - several processes share one input, and a run that was
# interrupted is finished by running it again (issue 14):
#   --shard K/N: four shards (run by GNU parallel) fetch every URL of the
#     input once, each in the shard the documented hash names; --shard-by
#     host keeps every host in one shard; --shard auto reads Kubernetes',
#     Slurm's and GNU parallel's variables; malformed values are usage
#     errors;
#   --resume REPORT: skips the URLs with an ok line, appends, repairs a
#     line cut in half; after kill -9 (one shard of four under GNU
#     parallel), SIGTERM or SIGINT the same command completes the rest
#     with one ok line per URL, no URL fetched twice and no temp file
#     left, and without touching the temp files of another live run.
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

# Whatever runs this script (a Slurm job, GNU parallel) must not choose
# the shards of the runs below.
unset JOB_COMPLETION_INDEX SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT \
	SLURM_ARRAY_TASK_MIN SLURM_ARRAY_TASK_MAX SLURM_ARRAY_TASK_STEP PARALLEL_SEQ

# GNU parallel; set but empty, the tests that need it are skipped.  Its
# options from the environment (PARALLEL) would change what it prints.
if [ -z "${GNU_PARALLEL+set}" ]; then GNU_PARALLEL=$(command -v parallel || true); fi
unset PARALLEL
export PARALLEL_HOME=$T/parallel-home
# par ARGS...: GNU parallel, quietly, arguments quoted as given.
par() {
	"$GNU_PARALLEL" --will-cite "$@" </dev/null
}

# The shard of a URL as evfetch(1) specifies it, written again here from
# the manual: FNV-1a 64, MurmurHash3's fmix64, (h mod N) + 1; the host
# (lowercased, no user info or port) with --shard-by host.
cat >"$T/shard.py" <<'EOF'
import re

M = (1 << 64) - 1


def stable_hash(data):
    h = 0xcbf29ce484222325
    for c in data:
        h = ((h ^ c) * 0x100000001b3) & M
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & M
    return h ^ (h >> 33)


def host(url):
    m = re.match(rb"[A-Za-z0-9+.-]+://([^/?#]*)", url)
    if not m:
        return None
    h = m.group(1).rpartition(b"@")[2]
    if h.startswith(b"["):
        end = h.find(b"]")
        h = h if end < 0 else h[:end + 1]
    else:
        h = h.partition(b":")[0]
    return h.lower() or None


def shard(url, n, by_host=False):
    key = host(url) if by_host else None
    return stable_hash(url if key is None else key) % n + 1
EOF

# check.py [--shards N url|host] LIST REPORT...: one line of counts over
# the reports (taken as shards 1, 2, ... with --shards):
#   lines   report lines          bad     lines that are not JSON
#   ok      URLs with an ok line  twice   URLs with more than one ok line
#   missing URLs of LIST not ok   extra   URLs reported but not in LIST
#   cross   URLs in two reports   wrong   lines in another shard's report
#   split   hosts in two reports (with --shards N host)
#   used    reports with a line
cat >"$T/check.py" <<'EOF'
import collections, json, os, sys
sys.path.insert(0, os.path.dirname(sys.argv[0]))
from shard import shard, host

args = sys.argv[1:]
n = by_host = None
if args[0] == "--shards":
    n, by_host, args = int(args[1]), args[2] == "host", args[3:]
want = {l.strip() for l in open(args[0], "rb") if l.strip()}
ok = collections.Counter()
where = collections.defaultdict(set)
hosts = collections.defaultdict(set)
lines = bad = wrong = 0
for k, path in enumerate(args[1:], 1):
    for raw in open(path, "rb"):
        lines += 1
        try:
            r = json.loads(raw)
        except ValueError:
            bad += 1
            continue
        u = r["url"].encode()
        where[u].add(k)
        hosts[host(u)].add(k)
        ok[u] += r["ok"] is True
        if n and shard(u, n, by_host) != k:
            wrong += 1
print("lines=%d bad=%d ok=%d twice=%d missing=%d extra=%d cross=%d wrong=%d "
      "split=%d used=%d" % (
          lines, bad, sum(1 for c in ok.values() if c), sum(1 for c in ok.values() if c > 1),
          len(want - {u for u, c in ok.items() if c}), len(set(where) - want),
          sum(1 for s in where.values() if len(s) > 1), wrong,
          sum(1 for s in hosts.values() if len(s) > 1) if by_host else 0,
          len({k for s in where.values() for k in s})))
EOF
check() {
	"$PYTHON3" "$T/check.py" "$@"
}

# The nginx requests since log_mark, one path a line.
log_mark() {
	LOG_MARK=$(wc -l <"$NGINX_ACCESS_LOG")
}
log_paths() {
	sleep 0.2
	tail -n "+$((LOG_MARK + 1))" "$NGINX_ACCESS_LOG" | awk '{ print $5 }'
}
# "N requests, D paths, R repeated" for the paths matching ERE since log_mark.
log_summary() {
	log_paths | grep -E -- "$1" | LC_ALL=C sort | uniq -c |
		awk '{ n += $1; d++; if ($1 > 1) r++ }
		     END { printf "%d requests, %d paths, %d repeated\n", n, d, r }'
}

# Temp files of evfetch in DIR.
tmp_count() {
	find "$1" -maxdepth 1 -name '.evfetch-*' | wc -l
}

# wait_until SECS CMD...: run CMD every 50 ms until it succeeds; 1 when
# SECS pass first.
wait_until() {
	local deadline=$(($(now_ms) + $1 * 1000))
	shift
	until "$@"; do
		[ "$(now_ms)" -lt "$deadline" ] || return 1
		sleep 0.05
	done
}

# The URLs of report FILE, sorted.
urls_of() {
	_report urls "$1" | LC_ALL=C sort
}

# --- four shards of one list --------------------------------------------------------
LIST=$T/list.txt
for i in $(seq 1 400); do
	printf '%s/n/u%d.txt\n' "$H" "$i"
done >"$LIST"
# Listed twice: both copies fall in one shard; without --resume each is fetched.
printf '%s/n/u%d.txt\n' "$H" 7 "$H" 99 "$H" 250 >>"$LIST"

log_mark
for k in 1 2 3 4; do
	evf --shard "$k/4" -i "$LIST" --discard --no-progress --report "$T/ref.$k.jsonl"
	is "$EVF_RC" 0 "--shard $k/4: exit status 0"
done
is "$(check --shards 4 url "$LIST" "$T"/ref.{1,2,3,4}.jsonl)" \
	"lines=403 bad=0 ok=400 twice=3 missing=0 extra=0 cross=0 wrong=0 split=0 used=4" \
	"--shard K/4 for K = 1..4: every URL in exactly one shard, the one the documented hash names"
is "$(log_summary '^/n/u')" "403 requests, 400 paths, 3 repeated" \
	"--shard K/4: nginx served each URL once (the three listed twice, twice)"
for k in 1 2 3 4; do
	# 100 expected of 400; 60 is more than four standard deviations off.
	cmp_ok "$(rep_lines "$T/ref.$k.jsonl")" -ge 60 "--shard $k/4 has a fair part of the URLs"
done

# the summary says how many lines of the input were other shards'
evf --shard 2/4 -i "$LIST" --discard --no-progress --report "$T/ref.2b.jsonl"
like "$(cat "$EVF_ERR")" "; $((403 - $(rep_lines "$T/ref.2.jsonl"))) skipped \\(other shards\\)" \
	"--shard 2/4: the summary counts the other shards' lines as skipped"

evf --shard 1/1 -i "$LIST" --discard --no-progress --report "$T/one.jsonl"
is "$(rep_lines "$T/one.jsonl")" 403 "--shard 1/1: every URL"

if [ -n "$GNU_PARALLEL" ]; then
	log_mark
	par -j4 -q "$EVFETCH" --shard '{#}/4' -i "$LIST" --discard --no-progress \
		--report "$T/par.{#}.jsonl" ::: a b c d >"$T/par.out" 2>&1
	is "$?" 0 "GNU parallel, four jobs of --shard {#}/4: exit status 0"
	is "$(check --shards 4 url "$LIST" "$T"/par.{1,2,3,4}.jsonl)" \
		"lines=403 bad=0 ok=400 twice=3 missing=0 extra=0 cross=0 wrong=0 split=0 used=4" \
		"GNU parallel: the union of the four reports is the input, the shards are disjoint"
	is "$(log_summary '^/n/u')" "403 requests, 400 paths, 3 repeated" \
		"GNU parallel: nginx served each URL once"
	for k in 1 2 3 4; do
		is "$(urls_of "$T/par.$k.jsonl")" "$(urls_of "$T/ref.$k.jsonl")" \
			"GNU parallel: job $k fetched what --shard $k/4 does"
	done
else
	skip "GNU parallel is not installed (Debian package parallel)" 7
fi

# --- --shard-by host ------------------------------------------------------------------
HLIST=$T/hosts.txt
for i in $(seq 1 12); do
	for j in $(seq 1 8); do
		printf 'http://h%d.test:%d/n/h%d-%d.txt\n' "$i" "$HTTP_PORT" "$i" "$j"
	done
done >"$HLIST"
# The same hosts written differently: in capitals, with a query.
printf '%s\n' "http://H3.TEST:$HTTP_PORT/n/h3-upper.txt" \
	"http://h3.test:$HTTP_PORT?q=/n/h4.test" \
	"http://h12.Test:$HTTP_PORT/n/h12-mixed.txt" >>"$HLIST"
for k in 1 2 3 4; do
	evf --shard "$k/4" --shard-by host --resolve "*:$HTTP_PORT:127.0.0.1" \
		-i "$HLIST" --discard --no-progress --report "$T/host.$k.jsonl"
done
res=$(check --shards 4 host "$HLIST" "$T"/host.{1,2,3,4}.jsonl)
like "$res" "^lines=99 bad=0 .* extra=0 cross=0 wrong=0 split=0 " \
	"--shard-by host: each of 12 hosts (in any case) in one shard, the one the documented hash names ($res)"
like "$res" "used=[234]$" "--shard-by host: the hosts are spread over several shards"
is "$(rep_count "$T/host.1.jsonl" 'r["ok"]') $(rep_count "$T/host.2.jsonl" 'r["ok"]') $(rep_count "$T/host.3.jsonl" 'r["ok"]') $(rep_count "$T/host.4.jsonl" 'r["ok"]')" \
	"$(rep_lines "$T/host.1.jsonl") $(rep_lines "$T/host.2.jsonl") $(rep_lines "$T/host.3.jsonl") $(rep_lines "$T/host.4.jsonl")" \
	"--shard-by host: the --resolve'd names were fetched"

# --- --shard auto ------------------------------------------------------------------------
# with_env VAR=VALUE... -- EVFETCH-ARGS...: evf with those variables in
# its environment (and only there).
with_env() {
	local vars=() v
	while [ "$1" != -- ]; do
		vars+=("$1")
		shift
	done
	shift
	for v in "${vars[@]}"; do
		export "${v?}"
	done
	evf "$@"
	for v in "${vars[@]}"; do
		unset "${v%%=*}"
	done
}
# run_auto VAR=VALUE... -- EVFETCH-ARGS...: the report is $T/auto.jsonl.
run_auto() {
	rm -f "$T/auto.jsonl"
	with_env "$@" --discard --no-progress --report "$T/auto.jsonl"
}
for idx in 0 1 2 3; do
	run_auto "JOB_COMPLETION_INDEX=$idx" -- --shard auto/4 -i "$LIST"
	is "$EVF_RC" 0 "Kubernetes JOB_COMPLETION_INDEX=$idx, --shard auto/4: exit status 0"
	is "$(urls_of "$T/auto.jsonl")" "$(urls_of "$T/ref.$((idx + 1)).jsonl")" \
		"Kubernetes JOB_COMPLETION_INDEX=$idx is shard $((idx + 1))/4"
done
# Arrays 0-3, 1-4 and 10-16:2: the task's place in the array is the shard.
for spec in 0:3:1 1:4:1 10:16:2; do
	IFS=: read -r min max step <<<"$spec"
	k=0
	for ((id = min; id <= max; id += step)); do
		k=$((k + 1))
		run_auto "SLURM_ARRAY_TASK_ID=$id" SLURM_ARRAY_TASK_COUNT=4 \
			"SLURM_ARRAY_TASK_MIN=$min" "SLURM_ARRAY_TASK_MAX=$max" \
			"SLURM_ARRAY_TASK_STEP=$step" -- --shard auto -i "$LIST"
		is "$(urls_of "$T/auto.jsonl")" "$(urls_of "$T/ref.$k.jsonl")" \
			"Slurm --array=$min-$max:$step, task $id, --shard auto: shard $k/4 (exit status $EVF_RC)"
	done
done
run_auto SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=4 SLURM_ARRAY_TASK_MIN=0 \
	-- --shard auto/4 --shard-by host -i "$HLIST" --resolve "*:$HTTP_PORT:127.0.0.1"
is "$(urls_of "$T/auto.jsonl")" "$(urls_of "$T/host.3.jsonl")" \
	"Slurm task 2 of 0-3 with --shard auto/4 --shard-by host: shard 3/4 by host"
if [ -n "$GNU_PARALLEL" ]; then
	par -j4 -q "$EVFETCH" --shard auto/4 -i "$LIST" --discard --no-progress \
		--report "$T/pauto.{#}.jsonl" ::: a b c d >"$T/pauto.out" 2>&1
	is "$?" 0 "GNU parallel, four jobs of --shard auto/4: exit status 0"
	for k in 1 2 3 4; do
		is "$(urls_of "$T/pauto.$k.jsonl")" "$(urls_of "$T/ref.$k.jsonl")" \
			"GNU parallel PARALLEL_SEQ=$k, --shard auto/4: shard $k/4"
	done
else
	skip "GNU parallel is not installed (Debian package parallel)" 5
fi

# --- usage errors ---------------------------------------------------------------------------
# usage_error NAME [VAR=VALUE...] -- ARGS...: exit status 2 and a message.
usage_error() {
	local name=$1
	shift
	with_env "$@" --discard "$H/n/usage.txt"
	is "$EVF_RC" 2 "$name: exit status 2"
	USAGE_ERR=$(head -c 2000 "$EVF_ERR")
	isnt "$USAGE_ERR" "" "$name: a message on stderr"
}
log_mark
usage_error "--shard 0/4 (shards count from 1)" -- --shard 0/4
like "$USAGE_ERR" "K must be from 1 to 4" "--shard 0/4: says K's range"
usage_error "--shard 5/4 (K > N)" -- --shard 5/4
usage_error "--shard 1/0 (N = 0)" -- --shard 1/0
like "$USAGE_ERR" "N must be 1 or more" "--shard 1/0: says N must be 1 or more"
for bad in 3 1/ /4 a/b 1/2/3 -1/4 ' 1/4' 1/4x 1/1000001 +1/4 '' auto/ auto/0 Auto; do
	usage_error "--shard '$bad'" -- --shard "$bad"
done
usage_error "--shard-by without --shard" -- --shard-by host
usage_error "--shard-by path" -- --shard 1/2 --shard-by path
usage_error "--shard auto with no scheduler's variables" -- --shard auto
like "$USAGE_ERR" "JOB_COMPLETION_INDEX.*SLURM_ARRAY_TASK_ID.*PARALLEL_SEQ" \
	"--shard auto alone: names the variables it looks for"
usage_error "Kubernetes without the count" JOB_COMPLETION_INDEX=1 -- --shard auto
like "$USAGE_ERR" "auto/N" "Kubernetes without the count: asks for --shard auto/N"
usage_error "JOB_COMPLETION_INDEX=4 with auto/4" JOB_COMPLETION_INDEX=4 -- --shard auto/4
usage_error "JOB_COMPLETION_INDEX=x" JOB_COMPLETION_INDEX=x -- --shard auto/4
usage_error "PARALLEL_SEQ=5 with auto/4" PARALLEL_SEQ=5 -- --shard auto/4
usage_error "PARALLEL_SEQ=0 (GNU parallel counts from 1)" PARALLEL_SEQ=0 -- --shard auto/4
usage_error "Slurm: an array given as a list" SLURM_ARRAY_TASK_ID=5 \
	SLURM_ARRAY_TASK_COUNT=3 SLURM_ARRAY_TASK_MIN=1 SLURM_ARRAY_TASK_MAX=5 \
	SLURM_ARRAY_TASK_STEP=1 -- --shard auto
usage_error "Slurm: auto/5 but 4 tasks" SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=4 \
	SLURM_ARRAY_TASK_MIN=0 -- --shard auto/5
usage_error "Slurm: no SLURM_ARRAY_TASK_COUNT" SLURM_ARRAY_TASK_ID=1 -- --shard auto
usage_error "Slurm and GNU parallel at once" SLURM_ARRAY_TASK_ID=1 SLURM_ARRAY_TASK_COUNT=4 \
	SLURM_ARRAY_TASK_MIN=0 PARALLEL_SEQ=2 -- --shard auto
like "$USAGE_ERR" "SLURM_ARRAY_TASK_ID and PARALLEL_SEQ" "two schedulers at once: names both"
usage_error "--resume -" -- --resume -
usage_error "--resume ''" -- --resume ''
usage_error "--resume and another --report" -- --resume "$T/a.jsonl" --report "$T/b.jsonl"
mkdir -p "$T/adir"
usage_error "--resume onto a directory" -- --resume "$T/adir"
is "$(log_summary .)" "0 requests, 0 paths, 0 repeated" "usage errors: nothing was fetched"
[ ! -e "$T/a.jsonl" ] && [ ! -e "$T/b.jsonl" ]
ok $? "usage errors: no report was made"

evf --help
for opt in --resume --shard --shard-by; do
	like "$(cat "$EVF_OUT")" "(^|[^a-z-])$opt([^a-z-]|$)" "--help mentions $opt"
done

# --- --resume without interruption ----------------------------------------------------------
RLIST=$T/rlist.txt
R=$T/resume.jsonl
for i in $(seq 1 30); do
	printf '%s/n/r%d.txt\n' "$H" "$i"
done >"$RLIST"
printf '%s\n' "$B/flaky/503/f1?key=resume-f1" "$H/n/r5.txt" >>"$RLIST"
log_mark
evf -f -i "$RLIST" --discard --no-progress --resume "$R"
is "$EVF_RC" 1 "--resume with no report yet: runs (exit status 1: one 503)"
report_ok "$R" "--resume: the report it makes is valid"
is "$(check "$RLIST" "$R")" \
	"lines=31 bad=0 ok=30 twice=0 missing=1 extra=0 cross=0 wrong=0 split=0 used=1" \
	"--resume: a URL listed twice is fetched once, the 503 is a failed line"
is "$(log_summary '^/n/r')" "30 requests, 30 paths, 0 repeated" "--resume: nginx served each URL once"

log_mark
evf -f -i "$RLIST" --discard --no-progress --resume "$R"
is "$EVF_RC" 0 "--resume again: exit status 0"
is "$(check "$RLIST" "$R")" \
	"lines=32 bad=0 ok=31 twice=0 missing=0 extra=0 cross=0 wrong=0 split=0 used=1" \
	"--resume again: only the failed URL was fetched, and its new line appended"
is "$(log_summary '^/n/r')" "0 requests, 0 paths, 0 repeated" "--resume again: nginx served nothing"
is "$(grep -c 'resume-f1' "$BADSERVER_LOG")" 2 "--resume again: the failed URL was tried again"

log_mark
evf -f -i "$RLIST" --discard --no-progress --resume "$R" -v
is "$EVF_RC" 0 "--resume a third time: exit status 0"
is "$(rep_lines "$R")" 32 "--resume a third time: nothing appended"
like "$(cat "$EVF_ERR")" "31 URLs of '.*' fetched already" "-v: says how many URLs were done"

# A report written by another tool: escapes, other keys, other order.  A
# whole last line without its newline is kept (and gets it).
printf '%s\n' "{\"ok\": true, \"x\": {\"a\": [1, \"}\"]}, \"url\": \"http:\\/\\/127.0.0.1:$HTTP_PORT\\/n\\/\\u0072e1.txt\"}" \
	'{"url": "'"$H"'/n/re2.txt", "ok": false}' \
	'{"url": "'"$H"'/n/re3.txt", "ok": "true"}' >"$T/other.jsonl"
printf '%s' '{"url":"'"$H"'/n/re4.txt","ok":true}' >>"$T/other.jsonl"
printf '%s/n/re%d.txt\n' "$H" 1 "$H" 2 "$H" 3 "$H" 4 >"$T/re.txt"
log_mark
evf -i "$T/re.txt" --discard --no-progress --resume "$T/other.jsonl"
is "$EVF_RC" 0 "--resume on a report with escapes, other keys, no last newline: exit status 0"
is "$(log_paths | LC_ALL=C sort | tr '\n' ' ')" "/n/re2.txt /n/re3.txt " \
	"--resume: \\/ and \\u escapes decoded, ok:false and ok:\"true\" are not done"
is "$(sed -n 4p "$T/other.jsonl")" '{"url":"'"$H"'/n/re4.txt","ok":true}' \
	"--resume: a whole last line without its newline is kept"
is "$(wc -l <"$T/other.jsonl")" 6 "--resume: its newline was added before the new lines"

# A line cut in half, as kill -9 in the middle of a write leaves it.
cut='{"url":"'$H'/n/r1.txt","ok":true,"sta'
printf '%s' "$cut" >>"$R"
log_mark
evf -f -i "$RLIST" --discard --no-progress --resume "$R"
is "$EVF_RC" 0 "--resume after a cut-off last line: exit status 0"
like "$(cat "$EVF_ERR")" "removed the last line of '.*', cut off by an interrupted run \\(${#cut} bytes\\)" \
	"--resume: says it removed the cut-off line"
report_ok "$R" "--resume: the report is valid JSON lines again"
is "$(rep_lines "$R")" 32 "--resume: the cut-off line is gone and nothing else changed"
is "$(log_summary .)" "0 requests, 0 paths, 0 repeated" "--resume: nothing fetched again"

# --- kill -9 one shard of four under GNU parallel, then --resume it --------------------------
# Shard 2 meets two responses that stall halfway (one per slot, -c 2), so
# it is killed with 40 URLs done, two bodies half written and the rest of
# its list not started.  The stalls go to two host names (127.0.0.1 and
# localhost): a URL whose host's one connection is busy would let later
# URLs of other hosts go first.  While it is down, another run saves into the
# same directory; the rerun must leave that run's temp file alone.
PK=$T/pk
mkdir -p "$PK/out"
"$PYTHON3" - "$T" "$H" "$B" "$PK" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
from shard import shard
t, h, b, pk = sys.argv[1:]
urls = ["%s/n/p%d.txt" % (h, i) for i in range(1, 401)]
stalls = []
j = 0
while len(stalls) < 2:
    j += 1
    host = b if not stalls else b.replace("127.0.0.1", "localhost")
    u = "%s/flaky/stall-mid/sa%d?key=pk-sa%d&n=20000" % (host, j, j)
    if shard(u.encode(), 4) == 2:
        stalls.append(u)
mine = [i for i, u in enumerate(urls) if shard(u.encode(), 4) == 2]
# Shard 2: 20 URLs, a stall, 20 URLs, a stall, the rest.
urls.insert(mine[39] + 1, stalls[1])
urls.insert(mine[19] + 1, stalls[0])
open(pk + "/list.txt", "w").write("".join(u + "\n" for u in urls))
late = [u for u in urls[urls.index(stalls[1]) + 1:] if shard(u.encode(), 4) == 2]
open(pk + "/late.txt", "w").write(late[0] + "\n")
open(pk + "/n2", "w").write("%d\n" % sum(shard(u.encode(), 4) == 2 for u in urls))
EOF
N2=$(cat "$PK/n2")
cat >"$PK/job.sh" <<EOF
#!/bin/sh
# One shard of the kill test as GNU parallel runs it; K is \$1.
echo \$\$ >"$PK/\$1.pid"
exec "$EVFETCH" --shard "\$1/4" -c 2 -i "$PK/list.txt" -d "$PK/out" --resume "$PK/\$1.jsonl" --no-progress
EOF
chmod +x "$PK/job.sh"
if [ -n "$GNU_PARALLEL" ]; then
	log_mark
	par -j4 "$PK/job.sh" ::: 1 2 3 4 >"$PK/parallel.out" 2>&1 &
	par_pid=$!
	watch_pid "$par_pid"
	# Shards 1, 3 and 4 are done, shard 2 is stuck on its two stalls.
	pk_stuck() {
		local k
		for k in 1 3 4; do
			[ -s "$PK/$k.pid" ] && ! kill -0 "$(cat "$PK/$k.pid")" 2>/dev/null ||
				return 1
		done
		[ "$(rep_lines "$PK/2.jsonl")" -eq 40 ] && [ "$(tmp_count "$PK/out")" -eq 2 ]
	}
	wait_until 30 pk_stuck
	ok $? "shard 2 of 4 under GNU parallel: 40 URLs done, two bodies half written, the others finished" ||
		diag "$(for k in 1 2 3 4; do printf 'shard %s: %s lines\n' "$k" "$(rep_lines "$PK/$k.jsonl")"; done; ls -A "$PK/out" | grep -c .)"
	kill -KILL "$(cat "$PK/2.pid")"
	wait "$par_pid"
	is "$?" 1 "GNU parallel: one job failed (the one killed)"
	is "$(tmp_count "$PK/out")" 2 "kill -9 left its two temp files"
	is "$(rep_lines "$PK/2.jsonl")" 40 "kill -9: the report keeps the 40 lines written"
	done_before=$((402 - N2 + 40))
	is "$(check --shards 4 url "$PK/list.txt" "$PK"/{1,2,3,4}.jsonl)" \
		"lines=$done_before bad=0 ok=$done_before twice=0 missing=$((N2 - 40)) extra=0 cross=0 wrong=0 split=0 used=4" \
		"before the rerun: the other shards are complete, shard 2 misses $((N2 - 40)) URLs"

	# As if the kill had landed in the middle of a line.
	printf '{"url":"%s","ok":true,"status":20' "$(cat "$PK/late.txt")" >>"$PK/2.jsonl"
	# Another run saving into the same directory, with its own report.
	"$EVFETCH" -d "$PK/out" --resume "$PK/other.jsonl" --no-progress \
		"$B/trickle/6?interval=0.4" >"$PK/other.out" 2>&1 &
	other_pid=$!
	watch_pid "$other_pid"
	wait_until 10 eval '[ "$(tmp_count "$PK/out")" -eq 3 ]'
	ok $? "another run is writing its temp file into the same directory"

	evf --shard 2/4 -c 2 -i "$PK/list.txt" -d "$PK/out" --resume "$PK/2.jsonl" --no-progress
	is "$EVF_RC" 0 "the same command again: exit status 0"
	like "$(cat "$EVF_ERR")" "removed 2 temporary files left in '$PK/out' by an interrupted run" \
		"the rerun removed the two temp files of the killed run"
	like "$(cat "$EVF_ERR")" "removed the last line of '$PK/2.jsonl', cut off" \
		"the rerun removed the cut-off line"
	wait "$other_pid"
	is "$?" 0 "the other run finished well: its temp file was left alone"
	is "$(cat "$PK/out/6" 2>/dev/null)" "$(badserver_body 6)" "the other run saved its body"
	is "$(check --shards 4 url "$PK/list.txt" "$PK"/{1,2,3,4}.jsonl)" \
		"lines=402 bad=0 ok=402 twice=0 missing=0 extra=0 cross=0 wrong=0 split=0 used=4" \
		"after the rerun: the four reports hold one ok line for every URL, in its shard"
	is "$(tmp_count "$PK/out")" 0 "no temp file is left"
	is "$(files_in "$PK/out" | grep -vc -E '^(p[0-9]+\.txt|sa[0-9]+|6)$')" 0 \
		"every file has its URL's own name (none saved twice as NAME.1)"
	is "$(files_in "$PK/out" | grep -c .)" 403 "402 files and the other run's"
	is "$("$PYTHON3" - "$TOP_SRCDIR/tests/servers" "$PK/out" 2>&1 <<'EOF'
import os, sys
sys.path.insert(0, sys.argv[1])
from badserver import seeded_body
out = sys.argv[2]
bad = [n for n in os.listdir(out)
       if (n.startswith("p") and open(os.path.join(out, n), "rb").read() != b"ok /n/%s\n" % n.encode())
       or (n.startswith("sa") and open(os.path.join(out, n), "rb").read() != seeded_body(n, 20000))]
print(" ".join(sorted(bad)) or "none")
EOF
)" none "every saved file holds its whole body"
	is "$(log_summary '^/n/p')" "400 requests, 400 paths, 0 repeated" \
		"nginx served each URL once over both runs: none fetched twice"
	is "$(grep -c 'key=pk-sa' "$BADSERVER_LOG")" 4 \
		"each stalled URL was requested twice: cut by the kill, then whole"
else
	skip "GNU parallel is not installed (Debian package parallel)" 18
fi

# --- SIGTERM and SIGINT ---------------------------------------------------------------------
# sig_test SIG STATUS: stop a run stuck on two stalls with SIG, then run
# the same command again.
sig_test() {
	local sig=$1 status=$2 d=$T/sig-$1 pid i
	mkdir -p "$d/out"
	{
		printf '%s/flaky/stall-mid/%s-a?key=%s-a&n=20000\n' "$B" "$sig" "$sig"
		for i in $(seq 1 30); do printf '%s/n/%s-%d.txt\n' "$H" "$sig" "$i"; done
		# another host name: a URL of the busy host would wait
		printf '%s/flaky/stall-mid/%s-b?key=%s-b&n=20000\n' "${B/127.0.0.1/localhost}" "$sig" "$sig"
		for i in $(seq 31 60); do printf '%s/n/%s-%d.txt\n' "$H" "$sig" "$i"; done
	} >"$d/list.txt"
	log_mark
	"$EVFETCH" -c 2 -i "$d/list.txt" -d "$d/out" --resume "$d/r.jsonl" --no-progress \
		>"$d/run.out" 2>&1 &
	pid=$!
	watch_pid "$pid"
	wait_until 20 eval '[ "$(rep_lines "$d/r.jsonl")" -eq 30 ] && [ "$(tmp_count "$d/out")" -eq 2 ]'
	ok $? "$sig: the run is stuck on two stalls with 30 URLs done"
	evf -c 2 -i "$d/list.txt" -d "$d/out" --resume "$d/r.jsonl" --no-progress
	is "$EVF_RC" 2 "$sig: a second run on the same report while the first runs: exit status 2"
	like "$(cat "$EVF_ERR")" "is locked by another evfetch" "$sig: the second run says the report is in use"
	kill "-$sig" "$pid"
	wait "$pid"
	is "$?" "$status" "$sig: evfetch dies by the signal (exit status $status)"
	is "$(tmp_count "$d/out")" 0 "$sig: no temp file is left"
	report_ok "$d/r.jsonl" "$sig: the report is valid"
	is "$(rep_lines "$d/r.jsonl")" 30 "$sig: the report has the 30 URLs done"
	evf -c 2 -i "$d/list.txt" -d "$d/out" --resume "$d/r.jsonl" --no-progress
	is "$EVF_RC" 0 "$sig: the same command again: exit status 0"
	is "$(check "$d/list.txt" "$d/r.jsonl")" \
		"lines=62 bad=0 ok=62 twice=0 missing=0 extra=0 cross=0 wrong=0 split=0 used=1" \
		"$sig: then one ok line for every URL"
	is "$(files_in "$d/out" | grep -c .) $(tmp_count "$d/out")" "62 0" "$sig: 62 files, no temp file"
	is "$(log_summary "^/n/$sig-")" "60 requests, 60 paths, 0 repeated" \
		"$sig: nginx served each URL once over both runs"
}
sig_test TERM 143
sig_test INT 130

done_testing
