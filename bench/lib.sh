# lib.sh - shared by the bench scripts (sourced): start the nginx whose
# config is in $W/nginx.conf and wait until 127.0.0.1:PORT accepts.
#
#   start_nginx PORT     sets NGINX_PID; dies (the caller's die) on failure
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
