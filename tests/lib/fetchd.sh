# fetchd.sh - examples/fetchd in the integration tests.
#
# Sourced after common.sh and nginx.sh (CA_FILE).  Provides:
#
#   start_fetchd NAME ARGS...  run fetchd --port 0 --cacert $CA_FILE ARGS
#                        (output in $T/NAME.out and .err, stopped at exit);
#                        sets FETCHD_PID, FPORT and BASE
#   get PATH OUTFILE [CURL ARGS...]  prints the HTTP status of BASE/PATH;
#                        curl's exit status is in CURL_RC
#   urlenc STRING        percent-encoded for a query parameter
#   fetchd_stat FIELD    one counter of /stats
#   rss_kb               fetchd's resident memory now; VmHWM: rss_peak_kb
#   rss_meaningful       true when fetchd runs uninstrumented (no wrapper,
#                        no ASan), so that its RSS means something

FETCHD=$TOP_BUILDDIR/examples/fetchd
wrapper=()
if [ -n "${EVFETCH_WRAPPER:-}" ]; then
	# shellcheck disable=SC2206
	wrapper=("$LIBTOOL" --mode=execute $EVFETCH_WRAPPER)
fi
# start_fetchd NAME ARGS...: run fetchd with ARGS (output in $T/NAME.out
# and .err); sets FETCHD_PID, FPORT and BASE.
_FETCHD_ERRS=()
_fetchd_fail_hook() {
	local f
	for f in "${_FETCHD_ERRS[@]}"; do
		diag_file "$f" 20
	done
}
TAP_END_FAIL_HOOKS+=(_fetchd_fail_hook)
start_fetchd() {
	local name=$1 i
	shift
	"${wrapper[@]}" "$FETCHD" --port 0 --cacert "$CA_FILE" "$@" \
		>"$T/$name.out" 2>"$T/$name.err" &
	FETCHD_PID=$!
	at_exit "stop_pid $FETCHD_PID"
	_FETCHD_ERRS+=("$T/$name.err")
	for ((i = 0; i < 200; i++)); do
		[ -s "$T/$name.out" ] && break
		kill -0 "$FETCHD_PID" 2>/dev/null || break
		sleep 0.05
	done
	FPORT=$(head -n 1 "$T/$name.out" 2>/dev/null)
	BASE=http://127.0.0.1:$FPORT
}


# get PATH OUTFILE [CURL ARGS...]: prints the HTTP status; curl's exit
# status is in CURL_RC.
get() {
	local path=$1 out=$2
	shift 2
	CURL_CODE=$(curl -s -o "$out" -w '%{http_code}' --max-time 60 "$@" "$BASE$path")
	CURL_RC=$?
	printf '%s\n' "$CURL_CODE"
}

# urlenc STRING: percent-encode for a query parameter.
urlenc() {
	"$PYTHON3" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"
}

# fetchd_stat FIELD: one counter of /stats.
fetchd_stat() {
	curl -s --max-time 10 "$BASE/stats" |
		"$PYTHON3" -c 'import sys, json; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$FETCHD_PID/status" 2>/dev/null
}

# The real fetchd may sit behind a libtool wrapper or valgrind: only a
# plain, uninstrumented process has a meaningful RSS.
rss_meaningful() {
	local exe
	[ ${#wrapper[@]} -eq 0 ] || return 1
	exe=$(readlink "/proc/$FETCHD_PID/exe" 2>/dev/null) || return 1
	! grep -qa __asan_init "$exe"
}

rss_peak_kb() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$FETCHD_PID/status" 2>/dev/null
}
