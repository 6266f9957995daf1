#!/bin/bash
# aggregator.sh - bench/embed's aggregator on evfetch (agg_evfetch), an
# evhttp server that answers GET /agg?n=K with K upstream fetches made at
# once on its own event_base:
#
#   /agg?n=5 of nginx's /n/ URLs answers 200 with 5 fetched;
#   an upstream that never answers: 504 at the deadline, and nothing is
#     left running;
#   a client that hangs up: its transfers end within 100 ms;
#   an upstream port where nothing listens: 200 with none fetched;
#   n out of range: 400.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

AGG=${AGG:-$TOP_BUILDDIR/bench/embed/agg_evfetch}
[ -x "$AGG" ] || skip_all "agg_evfetch is not built ($AGG)"
command -v curl >/dev/null || skip_all "curl not found"
start_nginx "$T/nginx"
start_badserver
BAD=http://127.0.0.1:$BADSERVER_PORT

wrapper=()
if [ -n "${EVFETCH_WRAPPER:-}" ]; then
	# shellcheck disable=SC2206
	wrapper=("$LIBTOOL" --mode=execute $EVFETCH_WRAPPER)
fi
DEADLINE_MS=500
GONE_MAX_MS=100
if [ ${#wrapper[@]} -gt 0 ]; then   # valgrind: handshakes take longer
	DEADLINE_MS=5000
	GONE_MAX_MS=2000
fi

# start_agg NAME UPSTREAM_PREFIX: sets PORT_<NAME>
start_agg() {
	local name=$1 port
	"${wrapper[@]}" "$AGG" --upstream "$2" --cacert "$CA_FILE" --deadline-ms "$DEADLINE_MS" \
		>"$T/$name.out" 2>"$T/$name.err" &
	at_exit "stop_pid $!"
	watch_pid "$!"
	for ((i = 0; i < 200; i++)); do
		[ -s "$T/$name.out" ] && break
		sleep 0.05
	done
	port=$(head -n 1 "$T/$name.out")
	like "$port" '^[0-9]+$' "agg_evfetch ($name) prints its port" || bail_out "agg_evfetch did not start"
	printf -v "PORT_$name" '%s' "$port"
}
start_agg good "https://127.0.0.1:$HTTPS_PORT/n/agg"
start_agg stall "$BAD/stall-headers?i="
start_agg dead "http://127.0.0.1:$(free_port)/"
GOOD=http://127.0.0.1:$PORT_good STALL=http://127.0.0.1:$PORT_stall
DEAD=http://127.0.0.1:$PORT_dead

stat_of() { # BASE FIELD
	curl -s --max-time 5 "$1/stats" |
		"$PYTHON3" -c 'import sys, json; print(json.load(sys.stdin)[sys.argv[1]])' "$2"
}

out=$(curl -s -w ' %{http_code}' --max-time 10 "$GOOD/agg?n=5")
is "$out" '{"n":5,"ok":5,"bytes":55}
 200' "/agg?n=5 answers 200 once the 5 upstream fetches are done"
is "$(stat_of "$GOOD" transfers_active)" 0 "no transfer is left after the reply"

t0=$(now_ms)
code=$(curl -s -o "$T/stall.out" -w '%{http_code}' --max-time 10 "$STALL/agg?n=3")
t1=$(now_ms)
is "$code" 504 "an upstream that never answers: 504"
cmp_ok "$((t1 - t0))" -ge "$DEADLINE_MS" "the 504 comes at the deadline, not before"
cmp_ok "$((t1 - t0))" -lt "$((DEADLINE_MS + 1500))" "the 504 comes at the deadline, not much after"
like "$(cat "$T/stall.out")" '"ok":0' "the 504 says none was fetched"
is "$(stat_of "$STALL" transfers_active):$(stat_of "$STALL" timeouts)" 0:1 \
	"the deadline cancelled the 3 transfers"

out=$("$PYTHON3" "$TOP_SRCDIR/tests/lib/hangup.py" "$STALL" "/agg?n=4" --running 4 \
	--fields transfers_active,open 2>"$T/hangup.err")
is "$?" 0 "a client that hangs up: its 4 transfers start" || diag_file "$T/hangup.err"
diag "hang-up: $out"
ms=$(printf '%s\n' "$out" | sed -n 's/^gone_ms=\([0-9]*\) .*/\1/p')
cmp_ok "${ms:-99999}" -lt "$GONE_MAX_MS" \
	"a client that hangs up: no transfer is left $GONE_MAX_MS ms later"
is "$(stat_of "$STALL" clients_gone)" 1 "the aggregator counted the client that left"

out=$(curl -s -w ' %{http_code}' --max-time 10 "$DEAD/agg?n=2")
is "$out" '{"n":2,"ok":0,"bytes":0}
 200' "an upstream where nothing listens: 200, none fetched"
is "$(curl -s -o /dev/null -w '%{http_code}' "$GOOD/agg?n=0")" 400 "n=0 is 400"
is "$(curl -s -o /dev/null -w '%{http_code}' "$GOOD/agg?n=101")" 400 "n above --max-n is 400"
is "$(curl -s -o /dev/null -w '%{http_code}' "$GOOD/agg")" 400 "no n is 400"

done_testing
