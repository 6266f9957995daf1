#!/bin/bash
# report.sh - the --report file: lines written as transfers end (so that
# tail -f and jq follow a run), and the value of every field.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
start_badserver
H=http://127.0.0.1:$BADSERVER_PORT

# --- live: a line is in the file while other transfers still run ---------------------
# The slow URL sends one byte a second for 4 s; the fast one's line must be
# readable long before evfetch exits.
R=$T/live.jsonl
(cd "$EVF_CWD" && exec timeout -k 5 30 "$EVFETCH" --discard --no-progress \
	--report "$R" "$H/ok/1?live=1" "$H/trickle/4?interval=1") \
	</dev/null >/dev/null 2>"$T/live.err" &
live_pid=$!
seen=1 running=1
for ((i = 0; i < 100; i++)); do
	if grep -q 'live=1' "$R" 2>/dev/null; then
		seen=0
		kill -0 "$live_pid" 2>/dev/null && running=0
		break
	fi
	sleep 0.02
done
ok "$seen" "live report: the finished URL's line is in the file"
ok "$running" "live report: ...while evfetch is still running"
wait "$live_pid"
is "$?" 0 "live report: exit status 0"
is "$(rep_lines "$R")" 2 "live report: two lines in the end"
report_ok "$R" "live report: every line valid"

done_testing
