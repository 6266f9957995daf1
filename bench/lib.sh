# lib.sh - shared by the bench scripts (sourced).
#
#   find_evfetch TOP     sets EVFETCH_BIN to the evfetch binary itself
#                        (default TOP/build/...; never the libtool wrapper,
#                        a shell script that would be measured too) and
#                        LD_LIBRARY_PATH for its libevfetch; dies (the
#                        caller's die) when there is none that runs
#   start_nginx PORT     start the nginx whose config is in $W/nginx.conf,
#                        wait until 127.0.0.1:PORT accepts; sets NGINX_PID
#   launch_nginx CONF ERRLOG ADDR PORT VAR
#                        the same for any config and address; sets the
#                        variable named VAR to the pid
#   make_pki DIR         a CA (DIR/ca.pem) and a server certificate for
#                        localhost and 127.0.0.1 (DIR/server.pem, .key),
#                        EC P-256, valid 7 days; openssl's messages go to
#                        DIR/openssl.log
#   make_cert DIR NAME SERIAL SAN
#                        another server certificate signed by make_pki's CA
#                        in DIR: DIR/NAME.pem and DIR/NAME.key, with
#                        subjectAltName SAN (e.g. "DNS:*.example.test")
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

# nginx_http_common: the lines of http {} every bench nginx has: its
# temporary files under $W, no access log.  For a config's here-document.
nginx_http_common() {
	cat <<EOF
    default_type application/octet-stream;
    client_body_temp_path $W/tmp/body;
    proxy_temp_path $W/tmp/proxy;
    fastcgi_temp_path $W/tmp/fastcgi;
    uwsgi_temp_path $W/tmp/uwsgi;
    scgi_temp_path $W/tmp/scgi;
    access_log off;
EOF
}

start_nginx() {
	launch_nginx "$W/nginx.conf" "$W/logs/error.log" 127.0.0.1 "$1" NGINX_PID
}

launch_nginx() {
	local conf=$1 errlog=$2 addr=$3 port=$4 var=$5 pid
	# nginx reads inherited listening sockets from the environment variable
	# NGINX, so drop it.  master_process off: the one process is the worker.
	env -u NGINX "$NGINX" -p "$W" -c "$conf" -e "$errlog" \
		-g 'daemon off; master_process off;' >>"$W/logs/stdout.log" 2>&1 &
	pid=$!
	printf -v "$var" '%s' "$pid"
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/$addr/$port") 2>/dev/null && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$W/logs/stdout.log" "$errlog" >&2
	die "nginx ($conf) did not start"
}

make_pki() {
	local d=$1
	mkdir -p "$d"
	_ossl() { openssl "$@" 2>>"$d/openssl.log" || die "openssl $1 failed, see $d/openssl.log"; }
	_ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/ca.key"
	_ossl req -new -x509 -key "$d/ca.key" -sha256 -days 7 -subj "/CN=evfetch bench CA" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" -out "$d/ca.pem"
	_ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/server.key"
	_ossl req -new -key "$d/server.key" -subj "/CN=localhost" -out "$d/server.csr"
	printf '%s\n' "basicConstraints = critical, CA:FALSE" \
		"keyUsage = critical, digitalSignature" \
		"extendedKeyUsage = serverAuth" \
		"subjectAltName = DNS:localhost, IP:127.0.0.1" >"$d/server.ext"
	_ossl x509 -req -in "$d/server.csr" -sha256 -days 7 -CA "$d/ca.pem" \
		-CAkey "$d/ca.key" -set_serial 4242 -extfile "$d/server.ext" \
		-out "$d/server.pem"
}

make_cert() {
	local d=$1 name=$2 serial=$3 san=$4
	_ossl() { openssl "$@" 2>>"$d/openssl.log" || die "openssl $1 failed, see $d/openssl.log"; }
	_ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$d/$name.key"
	_ossl req -new -key "$d/$name.key" -subj "/CN=$name" -out "$d/$name.csr"
	printf '%s\n' "basicConstraints = critical, CA:FALSE" \
		"keyUsage = critical, digitalSignature" \
		"extendedKeyUsage = serverAuth" \
		"subjectAltName = $san" >"$d/$name.ext"
	_ossl x509 -req -in "$d/$name.csr" -sha256 -days 7 -CA "$d/ca.pem" \
		-CAkey "$d/ca.key" -set_serial "$serial" -extfile "$d/$name.ext" \
		-out "$d/$name.pem"
}
