# servers.sh - start and stop the purpose-built test servers (sourced after
# common.sh).
#
#   start_badserver [ARGS...]   run tests/servers/badserver.py with ARGS
#                               (e.g. --tls CERT KEY, --handshake-stall,
#                               --handshake-reset);
#                               sets BADSERVER_PORT, BADSERVER_PID and
#                               BADSERVER_LOG (one line per request)
#   start_fakedns [ARGS...]     run tests/servers/fakedns.py with ARGS
#                               (e.g. --a good.evfetch.test=127.0.0.1);
#                               sets FAKEDNS_PORT, FAKEDNS_PID, FAKEDNS_LOG
#   badserver_body N            print the body that /ok/N serves
#   need_h2python               skip_all unless a python3 with the h2 module
#                               (Debian's python3-h2) is found: $H2_PYTHON,
#                               $PYTHON3 or /usr/bin/python3; sets H2_PYTHON
#   start_h2bad [ARGS...]       run tests/servers/h2bad.py (HTTP/2) under
#                               $H2_PYTHON with ARGS (e.g. --tls CERT KEY,
#                               --mode mcs=1); sets H2BAD_PORT, H2BAD_PID
#                               and H2BAD_LOG (one line per event)
#
# Each call starts a new server; copy the variables before the next call.
# Every server is stopped (SIGTERM) at exit, and when a test failed the end
# of each server's log is printed as diagnostics.

if [ -n "${_SERVERS_SH_LOADED:-}" ]; then
	return 0
fi
_SERVERS_SH_LOADED=1

BADSERVER_PY=$TOP_SRCDIR/tests/servers/badserver.py
FAKEDNS_PY=$TOP_SRCDIR/tests/servers/fakedns.py
H2BAD_PY=$TOP_SRCDIR/tests/servers/h2bad.py
_SERVER_N=0
_SERVER_LOGS=()

_servers_fail_hook() {
	local log
	for log in "${_SERVER_LOGS[@]}"; do
		diag_file "$log" 15
	done
}
TAP_END_FAIL_HOOKS+=(_servers_fail_hook)

# _start_py_server NAME SCRIPT ARGS...: sets SERVER_PORT, SERVER_PID and
# SERVER_LOG, or bails out.  The interpreter is $_SERVER_PYTHON when set,
# else $PYTHON3.
_start_py_server() {
	local name=$1 script=$2 portfile i
	shift 2
	need_python
	_SERVER_N=$((_SERVER_N + 1))
	portfile=$T/$name.$_SERVER_N.port
	SERVER_LOG=$T/$name.$_SERVER_N.log
	_SERVER_LOGS+=("$SERVER_LOG")
	"${_SERVER_PYTHON:-$PYTHON3}" "$script" --port-file "$portfile" --log "$SERVER_LOG" "$@" \
		</dev/null >>"$SERVER_LOG" 2>&1 &
	SERVER_PID=$!
	at_exit "stop_pid $SERVER_PID"
	watch_pid "$SERVER_PID"
	for ((i = 0; i < 200; i++)); do
		if [ -s "$portfile" ]; then
			SERVER_PORT=$(cat "$portfile")
			return 0
		fi
		kill -0 "$SERVER_PID" 2>/dev/null || break
		sleep 0.05
	done
	diag_file "$SERVER_LOG" 20
	bail_out "$name $* did not start"
}

start_badserver() {
	_start_py_server badserver "$BADSERVER_PY" "$@"
	BADSERVER_PORT=$SERVER_PORT
	BADSERVER_PID=$SERVER_PID
	BADSERVER_LOG=$SERVER_LOG
}

start_fakedns() {
	_start_py_server fakedns "$FAKEDNS_PY" "$@"
	FAKEDNS_PORT=$SERVER_PORT
	FAKEDNS_PID=$SERVER_PID
	FAKEDNS_LOG=$SERVER_LOG
}

badserver_body() {
	"$PYTHON3" "$BADSERVER_PY" --print-body "$1"
}

need_h2python() {
	local py
	for py in "${H2_PYTHON:-}" "${PYTHON3:-}" /usr/bin/python3; do
		[ -n "$py" ] || continue
		if "$py" -c 'import h2.connection, hpack' 2>/dev/null; then
			H2_PYTHON=$py
			export H2_PYTHON
			return 0
		fi
	done
	skip_all "no python3 with the h2 module (Debian: python3-h2)"
}

start_h2bad() {
	need_h2python
	_SERVER_PYTHON=$H2_PYTHON _start_py_server h2bad "$H2BAD_PY" "$@"
	H2BAD_PORT=$SERVER_PORT
	H2BAD_PID=$SERVER_PID
	H2BAD_LOG=$SERVER_LOG
}
