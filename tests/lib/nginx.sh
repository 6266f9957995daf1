# nginx.sh - test PKI and a private nginx for the integration tests.
#
# Sourced after common.sh.  Provides:
#
#   free_port            print a TCP port that was free on 127.0.0.1 a
#                        moment ago (python3 binds port 0)
#   free_ports N         N different such ports, on one line
#   make_pki DIR         generate, with openssl, in DIR:
#                          ca.pem/ca.key           the test CA (EC P-256)
#                          server.pem/.key         localhost, evfetch.test,
#                                                  127.0.0.1; signed by the CA
#                          wronghost.pem/.key      wrong.test only; by the CA
#                          expired.pem/.key        localhost, 127.0.0.1;
#                                                  by the CA, expired in 2021
#                          selfsigned.pem/.key     localhost, 127.0.0.1
#                          other-ca.pem/.key       an unrelated CA
#                        and exports CA_FILE, OTHER_CA_FILE, PKI_DIR.
#   start_nginx DIR      make DIR/pki, DIR/www and DIR/nginx.conf and run
#                        nginx in the foreground as a child of the test
#                        (stopped at exit).  Exports NGINX_DIR, NGINX_PID,
#                        HTTPS_PORT, WRONGHOST_PORT, EXPIRED_PORT,
#                        SELFSIGNED_PORT, HTTP_PORT, NGINX_ACCESS_LOG,
#                        NGINX_ERROR_LOG, WWW_DIR.  Calls skip_all when
#                        $NGINX is missing.
#                        With NGINX_H2=1 (set by the test, or in the
#                        environment to run any test so), HTTPS_PORT also
#                        speaks HTTP/2, chosen by ALPN (a client offering
#                        only http/1.1 still gets HTTP/1.1), and H2C_PORT
#                        (exported) speaks cleartext HTTP/2 with prior
#                        knowledge only; both keep nginx's default of
#                        NGINX_H2_REQUESTS (1000) requests per connection,
#                        after which nginx sends GOAWAY.  Without it
#                        H2C_PORT is empty and nothing speaks HTTP/2.
#                        NGINX_EXTRA_SERVERS, when set, is nginx
#                        configuration put inside http {} as it is (more
#                        server blocks; DIR/pki and DIR/locations.conf can
#                        be named), and NGINX_EXTRA_PORTS the ports they
#                        listen on, waited for like the others.
#   refused_port         sets REFUSED_PORT to a port kept bound (not
#                        listening) until the test ends: connecting to it
#                        is always refused (call it in the test's shell,
#                        not in $(...))
#   nginx_log_lines PORT  the access log lines of one port (after a
#                        short wait for nginx to write them)
#   nginx_encoded NAME MIB  write WWW_DIR/NAME, MIB MiB as compressible as
#                        zeros (runs of 1 MiB of one letter, A to Z in
#                        turn), and its compressed forms, which are served
#                        as /gzip/NAME and /deflate/NAME (below)
#
# Served by every nginx server (docroot DIR/www):
#   /1k.bin /16k.bin /1m.bin   random bytes (DIR/www/NAME.sha256 holds the
#                              sha256); /hello.txt = "hello\n"
#   /n/ANYTHING                200 "ok $uri\n"
#   /status/404 /status/500 /status/403 /status/503
#   /x-test                    200 with the X-Test request header as body
#   /host                      200 with the Host request header as body
#   /ua                        200 with the User-Agent as body
#   /method                    200 with the request method as body
#   /ctype /auth               200 with the Content-Type or Authorization
#                              request header as body
#   /auth-elsewhere            302 to https://evfetch.test:HTTPS_PORT/auth
#   /redirect                  302 to /hello.txt
#   /redirect301               301 to /hello.txt
#   /dyngzip/NAME              WWW_DIR/NAME gzipped by nginx on the fly
#                              when asked for (no Content-Length)
#   /slow/NAME                 WWW_DIR/NAME at 1 KiB/s (limit_rate)
#   /maybe/NAME                WWW_DIR/maybe/NAME once it exists, 503 before
#   /delay/KEY                 "hello\n", but at most one request per KEY a
#                              minute goes at once: the next with the same
#                              KEY (query strings aside) waits about 60 s
#                              for its answer (limit_req, burst 100)
#   /put/PATH                  PUT stores the body as WWW_DIR/put/PATH (nginx's
#                              dav module), GET serves it; /small/PATH the same
#                              with bodies of at most 1 KiB (413 beyond)
#   /post/PATH                 any method with a body: stored as /put/PATH
#                              (proxied to it as a PUT)
#   /r301/PATH ... /r308/PATH  that status, to /PATH
#   Requests to /put/, /small/ and /post/ are logged in NGINX_DIR/logs/body.log:
#     METHOD URI STATUS cl=CONTENT-LENGTH te=TRANSFER-ENCODING proto=PROTOCOL
#   /gzip/NAME /deflate/NAME   WWW_DIR/gzip/NAME and WWW_DIR/deflate/NAME
#                              with Content-Encoding: gzip and deflate (a
#                              zlib stream); see nginx_encoded
# The access log (NGINX_ACCESS_LOG) has one line per request:
#   PORT CONNECTION_ID CONNECTION_REQUESTS "REQUEST LINE" STATUS BYTES "HOST"
#   proto=PROTOCOL tls=PROTOCOL/CIPHER/REUSED
# PROTOCOL is HTTP/1.0, HTTP/1.1 or HTTP/2.0 (nginx's $server_protocol, also
# the end of the request line).  Over HTTP/2, CONNECTION_ID is that of the
# TCP connection that carried the stream, so distinct values of the second
# field count connections whatever the protocol.

if [ -n "${_NGINX_SH_LOADED:-}" ]; then
	return 0
fi
_NGINX_SH_LOADED=1

free_port() {
	free_ports 1
}

# free_ports N: N different such ports on one line.  The sockets are all
# bound before any is closed: ports found one at a time can repeat.
free_ports() {
	"$PYTHON3" -c '
import socket, sys
socks = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in socks:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in socks))
for s in socks:
    s.close()' "$1"
}

# A port that refuses connections for the whole test: a helper process
# keeps it bound without listening, so no other test's server can take it
# (which a port merely found free could not promise under make -j).
refused_port() {
	local f=$T/refused-port.$RANDOM
	"$PYTHON3" -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1], flush=True)
sys.stdout.close()
time.sleep(3600)' > "$f" &
	local pid=$!
	at_exit "kill $pid 2>/dev/null"
	for _ in $(seq 1 50); do
		[ -s "$f" ] && break
		sleep 0.1
	done
	REFUSED_PORT=$(cat "$f")
	[ -n "$REFUSED_PORT" ] || bail_out "refused_port: no port"
}

_ossl() {
	"$OPENSSL_BIN" "$@" 2>>"$PKI_DIR/openssl.log" || {
		diag "openssl $* failed:"
		diag_file "$PKI_DIR/openssl.log" 20
		return 1
	}
}

# _leaf_ext FILE SAN: an extension file for a TLS server certificate.
_leaf_ext() {
	cat >"$1" <<EOF
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = $2
EOF
}

# _make_ca NAME CN: a self-signed CA certificate NAME.pem with key NAME.key.
_make_ca() {
	local name=$1 cn=$2
	_ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$PKI_DIR/$name.key" || return 1
	_ossl req -new -x509 -key "$PKI_DIR/$name.key" -sha256 -days 30 \
		-subj "/CN=$cn" \
		-addext "basicConstraints=critical,CA:TRUE" \
		-addext "keyUsage=critical,keyCertSign,cRLSign" \
		-addext "subjectKeyIdentifier=hash" \
		-out "$PKI_DIR/$name.pem" || return 1
}

# _make_leaf NAME CN SAN: a key and certificate signed by ca.pem.
_make_leaf() {
	local name=$1 cn=$2 san=$3
	_ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$PKI_DIR/$name.key" || return 1
	_ossl req -new -key "$PKI_DIR/$name.key" -subj "/CN=$cn" \
		-out "$PKI_DIR/$name.csr" || return 1
	_leaf_ext "$PKI_DIR/$name.ext" "$san"
	_ossl x509 -req -in "$PKI_DIR/$name.csr" -sha256 -days 30 \
		-CA "$PKI_DIR/ca.pem" -CAkey "$PKI_DIR/ca.key" \
		-set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
		-extfile "$PKI_DIR/$name.ext" -out "$PKI_DIR/$name.pem" || return 1
}

# The expired certificate needs explicit dates in the past, which only
# `openssl ca` accepts; it wants a small CA database.
_make_expired() {
	local d=$PKI_DIR/ca-db
	mkdir -p "$d/new"
	: >"$d/index.txt"
	echo 1000 >"$d/serial"
	cat >"$d/ca.cnf" <<EOF
[ ca ]
default_ca = test_ca

[ test_ca ]
database = $d/index.txt
new_certs_dir = $d/new
serial = $d/serial
default_md = sha256
policy = any_policy
unique_subject = no
copy_extensions = none

[ any_policy ]
commonName = supplied

[ expired_ext ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = DNS:localhost, DNS:evfetch.test, IP:127.0.0.1
EOF
	_ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
		-out "$PKI_DIR/expired.key" || return 1
	_ossl req -new -key "$PKI_DIR/expired.key" -subj "/CN=localhost" \
		-out "$PKI_DIR/expired.csr" || return 1
	_ossl ca -batch -notext -config "$d/ca.cnf" \
		-cert "$PKI_DIR/ca.pem" -keyfile "$PKI_DIR/ca.key" \
		-startdate 20200101000000Z -enddate 20210101000000Z \
		-extensions expired_ext -in "$PKI_DIR/expired.csr" \
		-out "$PKI_DIR/expired.pem" || return 1
}

make_pki() {
	PKI_DIR=$1
	mkdir -p "$PKI_DIR" || return 1
	: >"$PKI_DIR/openssl.log"
	_make_ca ca "evfetch test CA" &&
		_make_ca other-ca "evfetch unrelated CA" &&
		_make_leaf server localhost \
			"DNS:localhost, DNS:evfetch.test, DNS:*.evfetch.test, IP:127.0.0.1" &&
		_make_leaf wronghost wrong.test "DNS:wrong.test" &&
		_make_expired &&
		_ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
			-out "$PKI_DIR/selfsigned.key" &&
		_ossl req -new -x509 -key "$PKI_DIR/selfsigned.key" -sha256 \
			-days 30 -subj "/CN=localhost" \
			-addext "subjectAltName=DNS:localhost, DNS:evfetch.test, IP:127.0.0.1" \
			-addext "extendedKeyUsage=serverAuth" \
			-out "$PKI_DIR/selfsigned.pem" || return 1
	CA_FILE=$PKI_DIR/ca.pem
	OTHER_CA_FILE=$PKI_DIR/other-ca.pem
	export PKI_DIR CA_FILE OTHER_CA_FILE
}

_make_docroot() {
	local www=$1 name size
	mkdir -p "$www" || return 1
	for name in 1k:1024 16k:16384 1m:1048576; do
		size=${name#*:}
		name=${name%%:*}.bin
		head -c "$size" /dev/urandom >"$www/$name" || return 1
		sha256_of "$www/$name" >"$www/$name.sha256"
	done
	printf 'hello\n' >"$www/hello.txt"
}

_write_nginx_conf() {
	local dir=$1 conns h2='' h2_server='' h2c_server=''
	if [ "${NGINX_H2:-0}" = 1 ]; then
		h2=' http2'
		h2_server="        keepalive_requests ${NGINX_H2_REQUESTS:-1000};"
		h2c_server="    server {
        listen 127.0.0.1:$H2C_PORT http2;
$h2_server
        include $dir/locations.conf;
    }"
	fi
	# nginx warns when worker_connections exceeds the descriptor limit.
	conns=$(ulimit -n)
	case $conns in
	unlimited | *[!0-9]*) conns=4096 ;;
	esac
	[ "$conns" -gt 4096 ] && conns=4096
	conns=$((conns - 32))
	cat >"$dir/nginx.conf" <<EOF
# Generated by tests/lib/nginx.sh; every path is inside $dir.
worker_processes 1;
pid $dir/nginx.pid;
lock_file $dir/nginx.lock;
error_log $dir/logs/error.log info;

events {
    worker_connections $conns;
}

http {
    default_type application/octet-stream;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    log_format evf '\$server_port \$connection \$connection_requests '
                   '"\$request" \$status \$body_bytes_sent "\$http_host" '
                   'proto=\$server_protocol '
                   'tls=\$ssl_protocol/\$ssl_cipher/\$ssl_session_reused';
    access_log $dir/logs/access.log evf;
    log_format evfbody '\$request_method \$uri \$status '
                       'cl=\$http_content_length te=\$http_transfer_encoding '
                       'proto=\$server_protocol';
    keepalive_requests 100000;
    keepalive_timeout 60;
    gzip off;
    server_tokens off;
    ssl_protocols TLSv1.2 TLSv1.3;
    # /delay/: one request per URI a minute at once, the next waits.
    limit_req_zone \$server_port\$uri zone=evfdelay:1m rate=1r/m;

    server {
        listen 127.0.0.1:$HTTP_PORT;
        include $dir/locations.conf;
    }
    server {
        listen 127.0.0.1:$HTTPS_PORT ssl$h2;
        ssl_certificate $dir/pki/server.pem;
        ssl_certificate_key $dir/pki/server.key;
$h2_server
        include $dir/locations.conf;
    }
$h2c_server
${NGINX_EXTRA_SERVERS:-}
    server {
        listen 127.0.0.1:$WRONGHOST_PORT ssl;
        ssl_certificate $dir/pki/wronghost.pem;
        ssl_certificate_key $dir/pki/wronghost.key;
        include $dir/locations.conf;
    }
    server {
        listen 127.0.0.1:$EXPIRED_PORT ssl;
        ssl_certificate $dir/pki/expired.pem;
        ssl_certificate_key $dir/pki/expired.key;
        include $dir/locations.conf;
    }
    server {
        listen 127.0.0.1:$SELFSIGNED_PORT ssl;
        ssl_certificate $dir/pki/selfsigned.pem;
        ssl_certificate_key $dir/pki/selfsigned.key;
        include $dir/locations.conf;
    }
}
EOF
	cat >"$dir/locations.conf" <<EOF
root $dir/www;
location / {
}
location /n/ {
    default_type text/plain;
    return 200 "ok \$uri\n";
}
location = /status/403 { return 403; }
location = /status/404 { return 404; }
location = /status/500 { return 500; }
location = /status/503 { return 503; }
location = /x-test {
    default_type text/plain;
    return 200 "\$http_x_test";
}
location = /host {
    default_type text/plain;
    return 200 "\$http_host";
}
location = /ua {
    default_type text/plain;
    return 200 "\$http_user_agent";
}
location = /method {
    default_type text/plain;
    return 200 "\$request_method";
}
location = /ctype {
    default_type text/plain;
    return 200 "\$content_type";
}
location = /auth {
    default_type text/plain;
    return 200 "\$http_authorization";
}
location = /auth-elsewhere {
    return 302 https://evfetch.test:$HTTPS_PORT/auth;
}
location = /redirect {
    return 302 /hello.txt;
}
location = /redirect301 {
    return 301 /hello.txt;
}
location /dyngzip/ {
    alias $dir/www/;
    gzip on;
    gzip_types *;
    gzip_min_length 0;
    gzip_http_version 1.0;
}
location /slow/ {
    alias $dir/www/;
    limit_rate 1k;
}
location /maybe/ {
    try_files \$uri =503;
}
location /delay/ {
    limit_req zone=evfdelay burst=100;
    default_type text/plain;
    try_files /hello.txt =404;
}
location /gzip/ {
    add_header Content-Encoding gzip;
}
location /deflate/ {
    add_header Content-Encoding deflate;
}
location /put/ {
    dav_methods PUT DELETE;
    create_full_put_path on;
    client_max_body_size 0;
    access_log $dir/logs/body.log evfbody;
}
location /small/ {
    dav_methods PUT;
    create_full_put_path on;
    client_max_body_size 1k;
    access_log $dir/logs/body.log evfbody;
}
location /post/ {
    proxy_method PUT;
    proxy_pass http://127.0.0.1:$HTTP_PORT/put/;
    client_max_body_size 0;
    access_log $dir/logs/body.log evfbody;
}
location ~ ^/r301(/.*)\$ { client_max_body_size 0; return 301 \$1; }
location ~ ^/r302(/.*)\$ { client_max_body_size 0; return 302 \$1; }
location ~ ^/r303(/.*)\$ { client_max_body_size 0; return 303 \$1; }
location ~ ^/r307(/.*)\$ { client_max_body_size 0; return 307 \$1; }
location ~ ^/r308(/.*)\$ { client_max_body_size 0; return 308 \$1; }
EOF
}

_nginx_fail_hook() {
	[ -n "${NGINX_DIR:-}" ] || return 0
	# Without the routine lines about clients closing connections.
	grep -v -e 'closed keepalive connection' -e 'while waiting for request' \
		-e 'client closed connection while SSL handshaking' \
		"$NGINX_DIR/logs/error.log" >"$NGINX_DIR/logs/error.filtered" 2>/dev/null
	diag_file "$NGINX_DIR/logs/error.filtered" 30
	diag_file "$NGINX_DIR/logs/access.log" 10
}

start_nginx() {
	local dir=$1 attempt
	if [ -z "$NGINX" ] || [ ! -x "$NGINX" ]; then
		skip_all "nginx not found (NGINX='$NGINX')"
	fi
	need_python
	need_openssl
	mkdir -p "$dir/logs" "$dir/tmp" || bail_out "cannot create $dir"
	make_pki "$dir/pki" || bail_out "could not make the test PKI"
	_make_docroot "$dir/www" || bail_out "could not make the docroot"
	WWW_DIR=$dir/www
	NGINX_DIR=$dir
	NGINX_ACCESS_LOG=$dir/logs/access.log
	NGINX_ERROR_LOG=$dir/logs/error.log
	# Another test may take a port between free_port and nginx's bind;
	# try again with new ports when that happens.
	for attempt in 1 2 3 4 5; do
		read -r HTTPS_PORT WRONGHOST_PORT EXPIRED_PORT SELFSIGNED_PORT \
			HTTP_PORT H2C_PORT < <(free_ports 6)
		[ -n "$H2C_PORT" ] || bail_out "free_ports failed"
		[ "${NGINX_H2:-0}" = 1 ] || H2C_PORT=
		_write_nginx_conf "$dir"
		# nginx reads inherited listening sockets from an environment
		# variable named NGINX, which the test harness uses for its path.
		env -u NGINX "$NGINX" -p "$dir" -c "$dir/nginx.conf" \
			-e "$dir/logs/error.log" \
			-g 'daemon off; master_process off;' \
			>>"$dir/logs/stdout.log" 2>&1 &
		NGINX_PID=$!
		at_exit "stop_pid $NGINX_PID"
		watch_pid "$NGINX_PID"
		if wait_ports 15 "$NGINX_PID" "$HTTPS_PORT" "$WRONGHOST_PORT" \
			"$EXPIRED_PORT" "$SELFSIGNED_PORT" "$HTTP_PORT" ${H2C_PORT:+"$H2C_PORT"} \
			${NGINX_EXTRA_PORTS:-}; then
			export NGINX_DIR NGINX_PID HTTPS_PORT WRONGHOST_PORT \
				EXPIRED_PORT SELFSIGNED_PORT HTTP_PORT NGINX_ACCESS_LOG \
				NGINX_ERROR_LOG WWW_DIR H2C_PORT
			TAP_END_FAIL_HOOKS+=(_nginx_fail_hook)
			return 0
		fi
		stop_pid "$NGINX_PID"
		if ! grep -q 'Address already in use' "$dir/logs/error.log" \
			"$dir/logs/stdout.log" 2>/dev/null; then
			break
		fi
		diag "nginx: a port was taken, retrying ($attempt)"
	done
	diag_file "$dir/logs/stdout.log" 20
	diag_file "$dir/logs/error.log" 20
	bail_out "nginx did not start"
}

# nginx writes its access log line when a request ends, which can be a
# moment after the client has its response.
nginx_log_lines() {
	sleep 0.2
	grep "^$1 " "$NGINX_ACCESS_LOG" 2>/dev/null
}

# Compressed at level 9 as a server's pre-compressed files would be: about
# 1000 to 1, so 16 KiB of it decode to 16 MiB.
nginx_encoded() {
	local name=$1 mib=$2
	mkdir -p "$WWW_DIR/gzip" "$WWW_DIR/deflate" || return 1
	"$PYTHON3" - "$WWW_DIR" "$name" "$mib" <<'EOF'
import sys, zlib
www, name, mib = sys.argv[1], sys.argv[2], int(sys.argv[3])
coders = [(open("%s/%s" % (www, name), "wb"), None),
          (open("%s/gzip/%s" % (www, name), "wb"),
           zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)),
          (open("%s/deflate/%s" % (www, name), "wb"), zlib.compressobj(9))]
for i in range(mib):
    run = bytes([ord("A") + i % 26]) * (1 << 20)
    for f, co in coders:
        f.write(co.compress(run) if co else run)
for f, co in coders:
    if co:
        f.write(co.flush())
    f.close()
EOF
}
