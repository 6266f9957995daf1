#!/bin/bash
# forward.sh - examples/fetchd's /forward, a reverse proxy embedded in an
# evhttp server, against nginx (its dav module stores the bodies):
#   - PUT, POST and PATCH bodies reach the upstream byte-exact, with the
#     request's end-to-end headers and without its hop-by-hop ones;
#   - the answer comes back with its status and end-to-end headers;
#   - a 200 MiB download passes through fetchd with its RSS under 64 MiB,
#     to a client reading at full speed and to one reading slowly (the
#     upstream transfer pauses: backpressure towards the server);
#   - a 32 MiB upload goes through, held once and freed as it goes out;
#     past --max-upload evhttp refuses it (413); an upstream's redirect is
#     passed back, as a reverse proxy does;
#   - bad input: no url, an unusable url.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"

command -v curl >/dev/null || skip_all "curl not found"
. "$TOP_SRCDIR/tests/lib/fetchd.sh"
[ -x "$FETCHD" ] || skip_all "fetchd is not built ($FETCHD)"
start_nginx "$T/nginx"
UP=https://localhost:$HTTPS_PORT
PUT=$WWW_DIR/put
RSS_MAX_KB=$((64 * 1024))

start_fetchd fetchd --max-buffer 262144 --max-upload $((40 << 20))
like "$FPORT" '^[0-9]+$' "fetchd prints the port it listens on" ||
	bail_out "fetchd did not start"
fwd() { printf '/forward?url=%s' "$(urlenc "$UP$1")"; }

# --- bodies and headers up ---------------------------------------------------
head -c 3000000 /dev/urandom >"$T/3m.bin"
for m in PUT POST PATCH; do
	is "$(get "$(fwd "/post/$m.bin")" "$T/$m.out" -X "$m" --data-binary "@$T/3m.bin")" 201 \
		"$m through /forward: the upstream's 201"
	cmp -s "$T/3m.bin" "$PUT/$m.bin"
	is $? 0 "$m through /forward: 3 MB stored byte-exact"
done
is "$(get "$(fwd /x-test)" "$T/xt.out" -H 'X-Test: passed along')" 200 "GET /x-test"
is "$(cat "$T/xt.out")" "passed along" "an end-to-end request header reaches the upstream"
is "$(get "$(fwd /method)" "$T/del.out" -X DELETE)" 200 "DELETE through /forward"
is "$(cat "$T/del.out")" "DELETE" "...arrives as DELETE"
code=$(curl -s -o /dev/null -D "$T/heads.txt" -w '%{http_code}' --max-time 20 "$BASE$(fwd /hello.txt)")
is "$code" 200 "GET through /forward"
grep -qi '^ETag: ' "$T/heads.txt"
is $? 0 "the upstream's end-to-end headers come back (ETag)"
grep -qi '^Accept-Ranges: bytes' "$T/heads.txt"
is $? 0 "...(Accept-Ranges)"
is "$(get "$(fwd /status/404)" "$T/404.out")" 404 "the upstream's status comes back (404)"

# --- 200 MiB down, RSS bounded -------------------------------------------------
truncate -s 200M "$WWW_DIR/200m.bin"
is "$(get "$(fwd /200m.bin)" "$T/200m.out")" 200 "200 MiB through /forward at full speed"
is "$(stat -c %s "$T/200m.out")" 209715200 "...all 209,715,200 bytes"
rm -f "$T/200m.out"
curl -s -o /dev/null --limit-rate 20M --max-time 60 "$BASE$(fwd /200m.bin)" &
slow=$!
sleep 2
paused=$(fetchd_stat proxy_pauses)
wait "$slow"
cmp_ok "$paused" -gt 0 "a client reading at 20 MB/s pauses the upstream transfer ($paused pauses)"
if rss_meaningful; then
	peak=$(rss_peak_kb)
	cmp_ok "$peak" -lt "$RSS_MAX_KB" "fetchd's peak RSS stays under 64 MiB after 400 MiB down ($peak KB)"
else
	skip "RSS is meaningful only for an uninstrumented fetchd"
fi

# --- 32 MiB up, and the limits -------------------------------------------------
head -c $((32 << 20)) /dev/urandom >"$T/32m.bin"
is "$(get "$(fwd /put/32m.bin)" "$T/32m.out" -T "$T/32m.bin")" 201 "32 MiB PUT through /forward"
cmp -s "$T/32m.bin" "$PUT/32m.bin"
is $? 0 "...stored byte-exact"
rm -f "$T/32m.bin"
head -c $((41 << 20)) /dev/zero >"$T/41m.bin"
is "$(get "$(fwd /put/41m.bin)" "$T/41m.out" -T "$T/41m.bin")" 413 "41 MiB, past --max-upload: 413"
rm -f "$T/41m.bin"
code=$(curl -s -o /dev/null -D "$T/307.txt" -w '%{http_code}' --max-time 20 \
	--data-binary "@$T/3m.bin" "$BASE$(fwd /r307/post/again.bin)")
is "$code" 307 "an upstream's 307 after an upload is passed back, not followed"
grep -qi "^Location: .*/post/again.bin" "$T/307.txt"
is $? 0 "...with its Location"
code=$(curl -s -o "$T/conn.out" -w '%{http_code}' --max-time 20 -H 'Connection: X-Test' \
	-H 'X-Test: hop' "$BASE$(fwd /x-test)")
is "$code:$(cat "$T/conn.out")" "200:" "a field the request's Connection names stays behind"

# --- fetchd --decode: the answer is decoded, and no longer says gzip ------------
"$PYTHON3" -c 'import sys; sys.stdout.write("all work and no play " * 2000)' >"$WWW_DIR/z.txt"
start_fetchd fetchd-decode --decode
code=$(curl -s -o "$T/z.out" -D "$T/z.heads" -w '%{http_code}' --max-time 20 --compressed \
	"$BASE$(fwd /dyngzip/z.txt)")
is "$code" 200 "--decode: /forward of a gzipped answer: 200"
cmp -s "$WWW_DIR/z.txt" "$T/z.out"
is $? 0 "...the body decoded, byte-exact"
grep -qi '^Content-Encoding' "$T/z.heads"
is $? 1 "...and no Content-Encoding passed back"

is "$(get /forward "$T/nourl.out" -X POST --data x)" 400 "/forward without a url: 400"
is "$(get "/forward?url=notaurl" "$T/bad.out")" 502 "/forward to an unusable url: 502"
is "$(get /ping "$T/ping.out")" 200 "fetchd still serves"

done_testing
