# common.sh - shared setup for the integration tests (sourced, never run).
#
# Provides:
#   the environment: TOP_SRCDIR, TOP_BUILDDIR, EVFETCH, PYTHON3, OPENSSL_BIN,
#     NGINX, LIBTOOL, with defaults when a test is run by hand;
#   T                  a private temporary directory, removed at exit
#                      (kept when EVFETCH_TEST_KEEP=1);
#   at_exit CMD        run CMD (a string, eval'd) at exit, last added first;
#   stop_pid PID       SIGTERM, wait up to 5 s, then SIGKILL, and reap;
#   wait_ports SECS PID PORT...  wait until every 127.0.0.1:PORT accepts
#                      connections; fail early if PID dies;
#   now_ms             wall clock in milliseconds;
#   need_evfetch / need_python / need_openssl   skip_all when missing;
#   evf ARGS...        run the CLI; sets EVF_RC, EVF_OUT, EVF_ERR (files),
#                      EVF_MS (wall time); stdin from $EVF_STDIN or /dev/null;
#                      the working directory is $EVF_CWD (default $T/cwd);
#                      EVFETCH_WRAPPER (e.g. "valgrind -q --error-exitcode=99")
#                      runs it through "$LIBTOOL --mode=execute";
#   rep_get FILE FIELD [URL], rep_count FILE PYEXPR, rep_check FILE,
#   rep_lines FILE     queries on a --report file (tests/lib/report.py);
#   load_report, get FIELD   the first line of $R, read once, field by field.
#   evf_to URL ARGS... one URL with --report and -o: the report in $R, the
#                      body in $BODY, both numbered by EVF_N; add --cacert
#                      and the like to ARGS.
#
# Every failed test prints, once per evfetch run, the last command line, its
# exit status and the end of its stderr.

if [ -n "${_COMMON_SH_LOADED:-}" ]; then
	return 0
fi
_COMMON_SH_LOADED=1

TESTS_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$TESTS_LIB_DIR/tap.sh"

: "${TOP_SRCDIR:=$(cd "$TESTS_LIB_DIR/../.." && pwd)}"
if [ -z "${TOP_BUILDDIR:-}" ]; then
	# Run by hand from a build directory, or from the source tree.
	if [ -e "$PWD/libtool" ] || [ -e "$PWD/src/cli/evfetch" ]; then
		TOP_BUILDDIR=$PWD
	else
		TOP_BUILDDIR=$TOP_SRCDIR
	fi
fi
: "${EVFETCH:=$TOP_BUILDDIR/src/cli/evfetch}"
: "${LIBTOOL:=$TOP_BUILDDIR/libtool}"
# configure exports these empty when it did not find the program: an empty
# value means "missing", an unset one means "look in PATH".
if [ -z "${PYTHON3+set}" ]; then PYTHON3=$(command -v python3 || true); fi
if [ -z "${OPENSSL_BIN+set}" ]; then OPENSSL_BIN=$(command -v openssl || true); fi
if [ -z "${NGINX+set}" ]; then
	NGINX=$(PATH=$PATH:/usr/sbin:/sbin command -v nginx || true)
fi
# A version manager's shim (pyenv) can cost 150 ms per start, and the
# tests start python3 hundreds of times: use the interpreter it runs.
if [ -n "$PYTHON3" ]; then
	_py=$("$PYTHON3" -c 'import sys; print(sys.executable)' 2>/dev/null) &&
		[ -n "$_py" ] && [ -x "$_py" ] && PYTHON3=$_py
	unset _py
fi
export TOP_SRCDIR TOP_BUILDDIR EVFETCH LIBTOOL PYTHON3 OPENSSL_BIN NGINX

# Never let the user's environment decide which CAs are trusted.
unset SSL_CERT_FILE SSL_CERT_DIR
# Nor route loopback traffic through a proxy: the command line reads these,
# as curl does (proxy.sh sets them where it tests them).
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY

T=$(mktemp -d "${TMPDIR:-/tmp}/evfetch-test.XXXXXX") || bail_out "mktemp failed"
mkdir -p "$T/cwd"
EVF_CWD=$T/cwd

_AT_EXIT=()
at_exit() {
	_AT_EXIT+=("$1")
}

_common_exit() {
	local rc=$? i
	trap - EXIT INT TERM HUP
	# A reader that went away (`| head`) must not stop the cleanup.
	trap '' PIPE
	if [ "$TAP_DONE" != 1 ]; then
		TAP_COUNT=$((TAP_COUNT + 1))
		printf 'not ok %d - the test script ended early (exit status %d)\n' \
			"$TAP_COUNT" "$rc"
		TAP_FAILED=$((TAP_FAILED + 1))
		for i in "${TAP_END_FAIL_HOOKS[@]}"; do
			"$i"
		done
		printf '1..%d\n' "$TAP_COUNT"
		rc=1
	fi
	for ((i = ${#_AT_EXIT[@]} - 1; i >= 0; i--)); do
		eval "${_AT_EXIT[i]}" || true
	done
	if [ "${EVFETCH_TEST_KEEP:-0}" = 1 ]; then
		printf '# kept the temporary directory %s\n' "$T"
	else
		rm -rf -- "$T"
	fi
	exit "$rc"
}
trap _common_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

# watch_pid PID: kill PID when this script dies without running its exit
# trap (SIGKILL from a harness timeout), so that no server outlives a
# test.  One watchdog process per script, started on first use; its output
# goes nowhere, so it never holds the TAP pipe open.
_WATCHDOG_PID=
watch_pid() {
	printf '%s\n' "$1" >>"$T/.pids"
	[ -z "$_WATCHDOG_PID" ] || return 0
	(
		trap '' INT HUP
		trap 'exit 0' TERM
		while kill -0 "$TEST_SHELL_PID" 2>/dev/null; do
			# In the background, so that TERM ends the loop at once.
			sleep 1 &
			wait $!
		done
		if [ -f "$T/.pids" ]; then
			while read -r pid; do
				kill -TERM "$pid" 2>/dev/null
			done <"$T/.pids"
			sleep 1
			while read -r pid; do
				kill -KILL "$pid" 2>/dev/null
			done <"$T/.pids"
		fi
		rm -rf -- "$T"
	) </dev/null >/dev/null 2>&1 &
	_WATCHDOG_PID=$!
	at_exit "kill $_WATCHDOG_PID 2>/dev/null; wait $_WATCHDOG_PID 2>/dev/null"
}
TEST_SHELL_PID=$$

now_ms() {
	if [ -n "${EPOCHREALTIME:-}" ]; then
		local t=${EPOCHREALTIME/[.,]/}
		printf '%s\n' "$((10#$t / 1000))"
	else
		date +%s%3N
	fi
}

stop_pid() {
	local pid=$1 i
	[ -n "$pid" ] || return 0
	kill -TERM "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
	for ((i = 0; i < 100; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	return 0
}

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_ports() {
	local secs=$1 pid=$2 port deadline
	shift 2
	deadline=$(($(now_ms) + secs * 1000))
	for port in "$@"; do
		until port_open "$port"; do
			if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
				diag "process $pid exited before port $port opened"
				return 1
			fi
			if [ "$(now_ms)" -gt "$deadline" ]; then
				diag "port $port did not open within $secs s"
				return 1
			fi
			sleep 0.05
		done
	done
	return 0
}

# relay_tap NAME FILE: a C test's TAP output in FILE, each result counted
# here as this script's own, its name prefixed with "NAME: ".
relay_tap() {
	local name=$1 line
	while IFS= read -r line; do
		case $line in
		"ok "*) pass "$name: ${line#ok * - }" ;;
		"not ok "*) fail "$name: ${line#not ok * - }" ;;
		"#"*) diag "$line" ;;
		esac
	done <"$2"
}

need_evfetch() {
	[ -x "$EVFETCH" ] || skip_all "evfetch is not built ($EVFETCH)"
}

need_python() {
	[ -n "$PYTHON3" ] && [ -x "$(command -v "$PYTHON3")" ] ||
		skip_all "python3 not found"
}

need_openssl() {
	[ -n "$OPENSSL_BIN" ] && [ -x "$(command -v "$OPENSSL_BIN")" ] ||
		skip_all "openssl not found"
}

EVF_N=0
EVF_RC=
EVF_CMD=
_EVF_SHOWN=0

evf() {
	local start wrapper=()
	EVF_N=$((EVF_N + 1))
	EVF_OUT=$T/evf.$EVF_N.out
	EVF_ERR=$T/evf.$EVF_N.err
	EVF_CMD="evfetch $*"
	if [ -n "${EVFETCH_WRAPPER:-}" ]; then
		# Word splitting of the wrapper is intended.
		# shellcheck disable=SC2206
		wrapper=("$LIBTOOL" --mode=execute $EVFETCH_WRAPPER)
	fi
	start=$(now_ms)
	(cd "$EVF_CWD" &&
		exec timeout -k 5 "${EVF_TIMEOUT:-50}" "${wrapper[@]}" "$EVFETCH" "$@") \
		<"${EVF_STDIN:-/dev/null}" >"$EVF_OUT" 2>"$EVF_ERR"
	EVF_RC=$?
	EVF_MS=$(($(now_ms) - start))
	if [ "$EVF_RC" -eq 124 ] || [ "$EVF_RC" -eq 137 ]; then
		diag "evfetch was killed after ${EVF_TIMEOUT:-50} s: $EVF_CMD"
	fi
	return 0
}

_evf_fail_hook() {
	[ "$EVF_N" -gt 0 ] && [ "$_EVF_SHOWN" -ne "$EVF_N" ] || return 0
	_EVF_SHOWN=$EVF_N
	diag "  last run: $(printf '%s' "$EVF_CMD" | cut -c1-400)"
	diag "  exit status $EVF_RC after $EVF_MS ms; stderr:"
	diag "$(head -c 4000 "$EVF_ERR" | tail -n 15 | sed 's/^/    /')"
}
TAP_FAIL_HOOKS+=(_evf_fail_hook)

_report() {
	"$PYTHON3" "$TESTS_LIB_DIR/report.py" "$@"
}
evf_to() {
	local url=$1
	shift
	R=$T/r.$((EVF_N + 1)).jsonl
	BODY=$T/body.$((EVF_N + 1))
	evf --no-progress --report "$R" -o "$BODY" "$@" "$url"
}

rep_get() { _report get "$1" "$2" ${3+"$3"}; }
rep_count() { _report count "$1" "$2"; }
rep_check() { _report check "$1"; }
rep_show() { diag "$(_report show "$1" "${2:-20}")"; }
rep_lines() {
	if [ -e "$1" ]; then
		grep -c . "$1"
	else
		echo 0
	fi
}

sha256_of() {
	sha256sum <"$1" | cut -d' ' -f1
}

# report_ok FILE NAME: one test, passing when every line of the --report
# FILE is a JSON object with the documented keys and value types.
report_ok() {
	local out status
	out=$(_report check "$1" 2>&1)
	status=$?
	if [ ! -s "$1" ]; then
		out="the report $1 is empty or missing"
		status=1
	fi
	ok "$status" "$2" || diag "$(printf '%s\n' "$out" | head -n 20)"
}

# files_in DIR: the names of everything inside DIR (recursive, sorted,
# relative to DIR), one a line.
files_in() {
	(cd "$1" 2>/dev/null && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort)
}

# load_report: the first line of $R into REP (one python3 run per fetch,
# not one per field); get FIELD prints a field as rep_get would.
declare -gA REP
load_report() {
	local k v
	REP=()
	while IFS= read -r -d '' k && IFS= read -r -d '' v; do
		REP[$k]=$v
	done < <("$PYTHON3" -c '
import json, sys
try:
    r = json.loads(open(sys.argv[1]).readline())
except (OSError, ValueError):
    r = {}
for k, v in r.items():
    sys.stdout.write("%s\0%s\0" % (k, v if isinstance(v, str) else json.dumps(v)))
' "$R")
}
get() { printf '%s\n' "${REP[$1]-<missing>}"; }
