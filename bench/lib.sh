# lib.sh - shared by the bench scripts (sourced).
#
#   find_evfetch TOP     sets EVFETCH_BIN to the evfetch binary itself
#                        (default TOP/build/...; never the libtool wrapper,
#                        a shell script that would be measured too) and
#                        LD_LIBRARY_PATH for its libevfetch; dies (the
#                        caller's die) when there is none that runs
#   start_nginx PORT     start the nginx whose config is in $W/nginx.conf,
#                        wait until 127.0.0.1:PORT accepts; sets NGINX_PID
find_evfetch() {
	local d libdir
	EVFETCH_BIN=${EVFETCH_BIN:-$1/build/src/cli/.libs/evfetch}
	if [ -f "$EVFETCH_BIN" ] && head -c 2 "$EVFETCH_BIN" | grep -q '#!'; then
		d=$(dirname "$EVFETCH_BIN")
		[ -x "$d/.libs/evfetch" ] || die "$EVFETCH_BIN is a wrapper script and $d/.libs/evfetch is missing"
		EVFETCH_BIN=$d/.libs/evfetch
	fi
	[ -x "$EVFETCH_BIN" ] || die "no evfetch at $EVFETCH_BIN (build with scripts/bootstrap-debian.sh, or set EVFETCH_BIN)"
	EVFETCH_BIN=$(cd "$(dirname "$EVFETCH_BIN")" && pwd)/$(basename "$EVFETCH_BIN")
	case $EVFETCH_BIN in
	*/src/cli/.libs/evfetch)
		libdir=${EVFETCH_BIN%/src/cli/.libs/evfetch}/.libs
		[ -d "$libdir" ] && export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
		;;
	esac
	"$EVFETCH_BIN" --version >/dev/null 2>&1 || die "$EVFETCH_BIN does not run"
}

start_nginx() {
	local port=$1
	# nginx reads inherited listening sockets from the environment variable
	# NGINX, so drop it.  master_process off: the one process is the worker.
	env -u NGINX "$NGINX" -p "$W" -c "$W/nginx.conf" -e "$W/logs/error.log" \
		-g 'daemon off; master_process off;' >>"$W/logs/stdout.log" 2>&1 &
	NGINX_PID=$!
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		kill -0 "$NGINX_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$W/logs/stdout.log" "$W/logs/error.log" >&2
	die "nginx did not start"
}
