#!/bin/bash
# warc.sh - --warc-file and --warc-max-size (issue 14), read back with an
# independent reader: tests/warc/check.mjs parses every file with warcio
# (npm, installed into tests/warc/node_modules by scripts/bootstrap-debian.sh),
# checks one record per gzip member, computes the digests itself, and prints
# JSON that tests/warc/warcq.py queries.  Against nginx (HTTP/1.1, TLS with
# HTTP/2 and HTTP/1.1, h2c, gzip, chunked gzip with a trailer, redirects,
# POST) and badserver (exact chunk framing, a body cut by the server, a
# stall, a trickle, a retry): record types, ids, dates, target URIs, IP,
# Concurrent-To pairs, WARC-Protocol, digests, payloads against the files
# served, WARC-Truncated, failures that send nothing, rollover, a rerun,
# --warc-compression-level 0, 1 and 9,
# and bad options.  Also shows that check.mjs refuses damaged files and
# agrees with wget's WARC writer when wget is there.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
NGINX_H2=1
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
NODE=$(command -v node || true)
[ -n "$NODE" ] || skip_all "node not found (Debian: nodejs; scripts/bootstrap-debian.sh)"
"$NODE" -e 'process.exit(+process.versions.node.split(".")[0] >= 18 ? 0 : 1)' ||
	skip_all "node $("$NODE" --version) is older than 18"
WARCDIR=$TOP_SRCDIR/tests/warc
[ -d "$WARCDIR/node_modules/warcio" ] ||
	skip_all "warcio is not installed (npm ci --prefix tests/warc; scripts/bootstrap-debian.sh does it)"
CHECK=$WARCDIR/check.mjs
WQ=$WARCDIR/warcq.py

start_nginx "$T/nginx"
start_badserver
H=http://127.0.0.1:$HTTP_PORT
S=https://localhost:$HTTPS_PORT
C=http://127.0.0.1:$H2C_PORT
B=http://127.0.0.1:$BADSERVER_PORT
EVC=(--no-progress --cacert "$CA_FILE")
W=$T/warc
mkdir -p "$W"
nginx_encoded z.txt 1 || bail_out "nginx_encoded failed"

# warc_read NAME FILE...: check.mjs on the files; its JSON in $J, the
# blocks and payloads in $DUMP (N.block, N.body, N.payload for record N).
WN=0
warc_read() {
	local name=$1
	shift
	WN=$((WN + 1))
	J=$T/warc.$WN.json
	DUMP=$T/dump.$WN
	"$NODE" "$CHECK" --dump "$DUMP" "$@" >"$J" 2>"$T/warc.$WN.err"
	ok $? "$name: warcio reads every record of $(printf '%s ' "${@##*/}")(one per gzip member)" ||
		diag_file "$T/warc.$WN.err" 10
}
# wq EXPR: EXPR over $J (see tests/warc/warcq.py)
wq() {
	"$PYTHON3" "$WQ" q "$J" "$1" 2>&1
}
# rq TYPE URL EXPR: the list of EXPR over the TYPE records of URL (r)
rq() {
	wq "[($3) for r in of('$1') if r['target_uri'] == '$2']"
}
# idx TYPE URL: the index (in $J, for $DUMP) of the first TYPE record of URL
idx() {
	wq "[i for i, r in enumerate(R) if r['type'] == '$1' and r['target_uri'] == '$2'][0]"
}
warc_common() {
	local out status
	out=$("$PYTHON3" "$WQ" common "$J" 2>&1)
	status=$?
	ok "$status" "$1: ids, dates, digests, Concurrent-To pairs, protocols, HTTP heads valid" ||
		diag "$(printf '%s\n' "$out" | head -n 20)"
}
# counts: "warcinfo requests responses"
counts() {
	wq "'%d %d %d' % (len(of('warcinfo')), len(of('request')), len(of('response')))"
}
# the exit status of a run that must not have crashed or hung
sane_rc() {
	[ "$EVF_RC" -lt 124 ]
}

# ------------------------------------------------ HTTP/1.1, one file
U1=("$H/hello.txt" "$H/1k.bin" "$H/16k.bin" "$H/n/a" "$H/n/b" "$H/status/404")
evf "${EVC[@]}" -d "$T/b1" --warc-file "$W/basic" "${U1[@]}"
is "$EVF_RC" 0 "basic: exit 0"
is "$(files_in "$W")" "basic.warc.gz" "basic: PREFIX.warc.gz is written, nothing else"
warc_read basic "$W/basic.warc.gz"
warc_common basic
is "$(counts)" "1 6 6" "basic: 6 URLs -> 1 warcinfo, 6 requests, 6 responses"
is "$(wq "R[0]['type']")" warcinfo "basic: the warcinfo comes first"
want=$(printf '%s\n' "${U1[@]}" | sort | "$PYTHON3" -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))')
is "$(wq "sorted(r['target_uri'] for r in of('request'))")" "$want" "basic: request target URIs are the input URLs"
is "$(wq "sorted(r['target_uri'] for r in of('response'))")" "$want" "basic: response target URIs are the input URLs"
is "$(wq "sorted(set(tuple(r['protocol']) for r in R if r['type'] != 'warcinfo'))")" '[["http/1.1"]]' \
	"basic: WARC-Protocol: http/1.1 on every request and response"
is "$(wq "len(set(r['record_id'] for r in R))")" 13 "basic: 13 distinct record ids"
is "$(wq "[r['block_digest'] == r['computed_block_digest'] for r in R].count(False)")" 0 \
	"basic: every WARC-Block-Digest is the sha1 (base32) of the block"
is "$(wq "[r['payload_digest'] == r['computed_payload_digest'] for r in of('response')].count(False)")" 0 \
	"basic: every WARC-Payload-Digest is the sha1 (base32) of the payload"
like "$(wq "of('response')[0]['payload_digest']")" '^sha1:[A-Z2-7]{32}$' "basic: digests are sha1: and base32"
like "$(wq "R[0]['date']")" '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$' \
	"basic: WARC-Date is RFC 3339 UTC"
for f in hello.txt 1k.bin 16k.bin; do
	is "$(rq response "$H/$f" "r['payload_sha256']")" "[\"$(sha256_of "$WWW_DIR/$f")\"]" \
		"basic: the payload of $f is the file served"
done
cmp -s "$DUMP/$(idx response "$H/1k.bin").payload" "$T/b1/1k.bin"
ok $? "basic: the payload of 1k.bin is the body evfetch saved (-d)"
is "$(rq response "$H/n/a" "r['payload_sha256']")" "[\"$(printf 'ok /n/a\n' | sha256sum | cut -d' ' -f1)\"]" \
	"basic: the payload of /n/a is its body"
is "$(rq response "$H/hello.txt" "r['http']['first_line']")" '["HTTP/1.1 200 OK"]' \
	"basic: the status line with its reason phrase"
is "$(rq response "$H/status/404" "r['http']['first_line']")" '["HTTP/1.1 404 Not Found"]' \
	"basic: a 404 is recorded too"
is "$(rq request "$H/1k.bin" "[r['http']['first_line'], hdr(r, 'host')]")" \
	"[[\"GET /1k.bin HTTP/1.1\", [\"127.0.0.1:$HTTP_PORT\"]]]" "basic: the request line and Host"
is "$(rq response "$H/16k.bin" "hdr(r, 'content-length')")" '[["16384"]]' "basic: the response head as received"
like "$(wq "R[0]['content_type'] + ' ' + str(R[0]['content_length'])")" '^application/warc-fields [1-9]' \
	"basic: warcinfo is application/warc-fields, not empty"
like "$(cat "$DUMP/0.block")" '[Ss]oftware: *evfetch' "basic: warcinfo names the software"

# ------------------------------------------------------ checker self-test
# check.mjs must refuse a damaged file: a flipped byte, the records in one
# gzip member, a cut file.
"$PYTHON3" - "$W/basic.warc.gz" "$T/neg" <<'EOF'
import gzip, sys
raw = open(sys.argv[1], "rb").read()
b = bytearray(raw)
b[len(b) // 2] ^= 0x55
open(sys.argv[2] + ".flip.warc.gz", "wb").write(bytes(b))
open(sys.argv[2] + ".onemember.warc.gz", "wb").write(gzip.compress(gzip.decompress(raw)))
open(sys.argv[2] + ".cut.warc.gz", "wb").write(raw[:len(raw) - 100])
EOF
for neg in flip onemember cut; do
	"$NODE" "$CHECK" "$T/neg.$neg.warc.gz" >/dev/null 2>"$T/neg.$neg.err"
	is "$?" 1 "check.mjs refuses a damaged file ($neg)" || diag_file "$T/neg.$neg.err" 5
done
if command -v wget >/dev/null 2>&1; then
	# an independent writer: check.mjs computes the digests wget wrote
	(cd "$T" && timeout 20 wget -q --no-config --tries=1 --warc-file="$W/wget" -O /dev/null \
		"$H/hello.txt" "$H/1k.bin") >/dev/null 2>&1
	warc_read wget "$W/wget.warc.gz"
	is "$(wq "[r['block_digest'] == r['computed_block_digest'] and r['payload_digest'] == r['computed_payload_digest'] for r in of('response')]")" \
		'[true, true]' "check.mjs computes the digests wget wrote"
	rm -f "$W"/wget*
else
	diag "wget not found: check.mjs not compared with wget's WARC writer"
fi

# ---------------------------------------------------------- redirects
rm -rf "$W" && mkdir -p "$W"
evf "${EVC[@]}" -L --discard --warc-file "$W/redir" "$H/r301/r302/hello.txt"
is "$EVF_RC" 0 "redirects: exit 0"
warc_read redirects "$W/redir.warc.gz"
warc_common redirects
is "$(counts)" "1 3 3" "redirects: each hop is an exchange (3 requests, 3 responses)"
is "$(wq "sorted([r['target_uri'], r['http']['status']] for r in of('response'))")" \
	"[[\"$H/hello.txt\", 200], [\"$H/r301/r302/hello.txt\", 301], [\"$H/r302/hello.txt\", 302]]" \
	"redirects: each hop's URL and status"
is "$(rq response "$H/hello.txt" "r['payload_sha256']")" "[\"$(sha256_of "$WWW_DIR/hello.txt")\"]" \
	"redirects: the last hop's payload is the file"
# a redirect's body is read (and dropped: it reaches no file), so its
# record holds the whole response, as wget's does, and no WARC-Truncated
is "$(wq "sorted([r['http']['status'], r['payload_complete'], r['payload_length'] > 0] for r in of('response') if r['http']['status'] != 200)")" \
	'[[301, true, true], [302, true, true]]' "redirects: the 301 and 302 records hold their bodies (nginx's page)"
is "$(wq "[r['truncated'] for r in of('response')]")" '[null, null, null]' \
	"redirects: no record is marked truncated"
# ... and the connection serves the next hop: nginx logs one connection
# (its serial, the second field) for the three requests, its 1st to 3rd
is "$(awk '$4 ~ /^"GET$/ && ($5 == "/r301/r302/hello.txt" || $5 == "/r302/hello.txt" ||
	$5 == "/hello.txt") { print $2 "-" $3 }' "$NGINX_ACCESS_LOG" | tail -n 3 |
	awk -F- '{ c[$1]++; n = n $2 } END { print length(c), n }')" "1 123" \
	"redirects: one kept-alive connection serves the three hops"

# ------------------------------------------------------- content coding
evf "${EVC[@]}" --compressed -o "$T/gz.out" --warc-file "$W/gzip" "$H/gzip/z.txt"
is "$EVF_RC" 0 "gzip: exit 0"
cmp -s "$T/gz.out" "$WWW_DIR/z.txt"
ok $? "gzip: --compressed saved the decoded body"
warc_read gzip "$W/gzip.warc.gz"
warc_common gzip
is "$(rq response "$H/gzip/z.txt" "r['payload_sha256']")" "[\"$(sha256_of "$WWW_DIR/gzip/z.txt")\"]" \
	"gzip: the payload is the gzip bytes as received, not decoded"
is "$(rq response "$H/gzip/z.txt" "r['warcio_decoded_sha256']")" "[\"$(sha256_of "$WWW_DIR/z.txt")\"]" \
	"gzip: warcio decodes the payload to the file"
like "$(rq request "$H/gzip/z.txt" "hdr(r, 'accept-encoding')")" 'gzip' "gzip: the request asked for gzip"
# nginx gzips on the fly: chunked, with a trailer field
evf "${EVC[@]}" --compressed --discard --warc-file "$W/trailer" "$H/trailer/16k.bin"
warc_read "chunked gzip" "$W/trailer.warc.gz"
warc_common "chunked gzip"
is "$(rq response "$H/trailer/16k.bin" "[r['chunked'], r['payload_complete'], hdr(r, 'content-encoding')]")" \
	'[[true, true, ["gzip"]]]' "chunked gzip: chunked and gzip, complete"
# (warcio 2.4.11 decodes a chunked body with a trailer wrongly: it passes
# the trailer on to the gzip decoder; gunzip the payload here instead.)
i=$(idx response "$H/trailer/16k.bin")
"$PYTHON3" -c 'import gzip, sys; sys.stdout.buffer.write(gzip.decompress(open(sys.argv[1], "rb").read()))' \
	"$DUMP/$i.payload" 2>/dev/null | cmp -s - "$WWW_DIR/16k.bin"
ok $? "chunked gzip: the payload gunzips to the file"
is "$(wq "fileb('$DUMP/$i.block').endswith(b'\\r\\n0\\r\\nX-Trailer: tail-value\\r\\n\\r\\n')")" true \
	"chunked gzip: the block ends with the last chunk and the trailer"

# ------------------------------------------------- exact chunk framing
"$PYTHON3" - "$TOP_SRCDIR/tests/servers" "$T/exp" <<'EOF'
import sys, zlib
sys.path.insert(0, sys.argv[1])
import badserver as b
out = sys.argv[2]
def w(name, data):
    open(out + "." + name, "wb").write(data)
th = [("Transfer-Encoding", "chunked"), ("Content-Type", "text/plain")]
w("c5000", b.head(200, th) + b.chunked(b.body_bytes(5000)))
w("c3000", b.head(200, th) + b.chunked(b.body_bytes(3000), ext="1", trailer=True))
w("c3000.payload", b.body_bytes(3000))
co = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
gz = co.compress(b.body_bytes(20000)) + co.flush()
w("gz", b.head(200, [("Content-Encoding", "gzip"), ("Transfer-Encoding", "chunked")])
  + b.chunked(gz, sizes=(1, 7, 300, 5000, 16384)))
w("gz.payload", gz)
w("gz.decoded", b.body_bytes(20000))
EOF
CU=("$B/chunked/5000" "$B/chunked/3000?ext=1&trailer=1" "$B/gzip/20000?chunked=1")
evf "${EVC[@]}" --compressed --discard --warc-file "$W/chunked" "${CU[@]}"
is "$EVF_RC" 0 "chunked: exit 0"
warc_read chunked "$W/chunked.warc.gz"
warc_common chunked
is "$(counts)" "1 3 3" "chunked: 3 exchanges"
for c in "c5000 ${CU[0]}" "c3000 ${CU[1]}" "gz ${CU[2]}"; do
	set -- $c
	i=$(idx response "$2")
	cmp -s "$DUMP/$i.block" "$T/exp.$1"
	ok $? "chunked: the block of ${2#"$B"} is the response byte for byte (status line, chunk framing, extensions, trailer)" ||
		diag "$(head -c 300 "$DUMP/$i.block" 2>&1 | cat -v)"
done
is "$(rq response "${CU[1]}" "r['payload_sha256']")" "[\"$(sha256_of "$T/exp.c3000.payload")\"]" \
	"chunked: the payload has the chunk framing removed"
is "$(rq response "${CU[2]}" "[r['payload_sha256'], r['warcio_decoded_sha256']]")" \
	"[[\"$(sha256_of "$T/exp.gz.payload")\", \"$(sha256_of "$T/exp.gz.decoded")\"]]" \
	"chunked: chunked gzip: the payload is the gzip stream, which warcio decodes"

# ---------------------------------------------------------------- HTTP/2
evf "${EVC[@]}" --http2-prior-knowledge --discard --warc-file "$W/h2" "$S/1k.bin" "$S/hello.txt" "$C/16k.bin"
is "$EVF_RC" 0 "h2: exit 0"
warc_read h2 "$W/h2.warc.gz"
warc_common h2
is "$(counts)" "1 3 3" "h2: 3 exchanges"
is "$(wq "sorted(set(tuple(sorted(r['protocol'])) for r in R if r['target_uri'] and r['target_uri'].startswith('https:')))")" \
	'[["h2", "tls/1.3"]]' "h2: over TLS: WARC-Protocol h2 and tls/1.3"
is "$(wq "sorted(set(tuple(r['protocol']) for r in R if r['target_uri'] and r['target_uri'].startswith('http:')))")" \
	'[["h2"]]' "h2: h2c: WARC-Protocol h2"
is "$(rq request "$S/1k.bin" "[r['http']['first_line'], hdr(r, 'host')]")" \
	"[[\"GET /1k.bin HTTP/1.1\", [\"localhost:$HTTPS_PORT\"]]]" "h2: the request in HTTP/1.1 form, with Host"
is "$(rq request "$C/16k.bin" "[r['http']['first_line'], hdr(r, 'host')]")" \
	"[[\"GET /16k.bin HTTP/1.1\", [\"127.0.0.1:$H2C_PORT\"]]]" "h2c: the request in HTTP/1.1 form, with Host"
like "$(rq response "$S/hello.txt" "r['http']['first_line']")" '^\["HTTP/1\.1 200( OK)?"\]$' \
	"h2: the response in HTTP/1.1 form"
is "$(wq "[n for r in R if r['http'] for n, v in r['http']['headers'] if n.startswith(':') or n != n.strip()]")" '[]' \
	"h2: no pseudo-header fields in the rendered heads"
for u in "$S/1k.bin" "$S/hello.txt" "$C/16k.bin"; do
	is "$(rq response "$u" "r['payload_sha256']")" "[\"$(sha256_of "$WWW_DIR/${u##*/}")\"]" \
		"h2: the payload of ${u#http*://*/} is the file"
done
evf "${EVC[@]}" --http1.1 --discard --warc-file "$W/tls11" "$S/hello.txt"
warc_read "TLS HTTP/1.1" "$W/tls11.warc.gz"
warc_common "TLS HTTP/1.1"
is "$(wq "sorted(set(tuple(sorted(r['protocol'])) for r in R if r['type'] != 'warcinfo'))")" \
	'[["http/1.1", "tls/1.3"]]' "TLS HTTP/1.1: WARC-Protocol http/1.1 and tls/1.3"

# ------------------------------------------- many at once, interleaved
# 30 URLs over HTTP/1.1 connections and 30 as streams of one HTTP/2
# connection, all in flight together: each record whole, each payload its
# own URL's body.
MU=()
for k in $(seq 1 30); do MU+=("$H/n/c$k" "$S/n/s$k"); done
evf "${EVC[@]}" --discard -c 60 --warc-file "$W/many" "${MU[@]}"
is "$EVF_RC" 0 "many: exit 0"
warc_read many "$W/many.warc.gz"
warc_common many
is "$(counts)" "1 60 60" "many: 60 URLs -> 1 warcinfo, 60 requests, 60 responses"
want=$(printf '%s\n' "${MU[@]}" | sort | "$PYTHON3" -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))')
is "$(wq "sorted(r['target_uri'] for r in of('response'))")" "$want" "many: the target URIs are the input URLs"
is "$(wq "[r['target_uri'] for r in of('response') if r['payload_sha256'] != sha256(('ok /' + r['target_uri'].split('/', 3)[3] + '\\n').encode())]")" \
	'[]' "many: each payload is its own URL's body"

# ----------------------------------------------------------------- POST
body='a=1&b=two words'
evf "${EVC[@]}" --discard --data "$body" --warc-file "$W/post" "$H/post/p1.txt"
warc_read "POST" "$W/post.warc.gz"
warc_common "POST"
is "$(rq request "$H/post/p1.txt" "[r['http']['method'], r['payload_sha256']]")" \
	"[[\"POST\", \"$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)\"]]" "POST: the request block holds the body"
evf "${EVC[@]}" --discard --data "$body" --warc-file "$W/post2" "$S/post/p2.txt"
warc_read "POST over h2" "$W/post2.warc.gz"
warc_common "POST over h2"
is "$(rq request "$S/post/p2.txt" "[r['http']['method'], r['payload_sha256'], r['protocol'][:1]]")" \
	"[[\"POST\", \"$(printf '%s' "$body" | sha256sum | cut -d' ' -f1)\", [\"h2\"]]]" \
	"POST over h2: the request block holds the body"

# ------------------------------------------------------------- failures
evf "${EVC[@]}" --discard --warc-file "$W/cut" "$B/close-early" "$B/reset-mid" "$B/ok/100"
is "$EVF_RC" 1 "cut bodies: exit 1"
warc_read "cut bodies" "$W/cut.warc.gz"
warc_common "cut bodies"
is "$(counts)" "1 3 3" "cut bodies: 3 exchanges"
is "$(rq response "$B/close-early" "[r['truncated'], r['payload_sha256']]")" \
	"[[\"disconnect\", \"$(printf '0123456789' | sha256sum | cut -d' ' -f1)\"]]" \
	"cut bodies: a close after 10 of 1000 bytes: WARC-Truncated: disconnect, the 10 bytes"
is "$(rq response "$B/reset-mid" "[r['truncated'], r['payload_sha256']]")" \
	"[[\"disconnect\", \"$(badserver_body 1000 | sha256sum | cut -d' ' -f1)\"]]" \
	"cut bodies: a reset after 1000 bytes: WARC-Truncated: disconnect, the 1000 bytes"
is "$(rq response "$B/ok/100" "[r['truncated'], r['payload_sha256']]")" \
	"[[null, \"$(badserver_body 100 | sha256sum | cut -d' ' -f1)\"]]" "cut bodies: the good one beside them is whole"

badserver_body 100 >"$T/trickle.full"
evf "${EVC[@]}" --discard -m 2 --idle-timeout 1 --warc-file "$W/time" \
	"$B/trickle/100?interval=0.1" "$B/stall-body"
is "$EVF_RC" 1 "timeouts: exit 1"
warc_read timeouts "$W/time.warc.gz"
warc_common timeouts
is "$(rq response "$B/trickle/100?interval=0.1" "r['truncated']")" '["time"]' \
	"timeouts: --max-time mid-body: WARC-Truncated: time"
n=$(rq response "$B/trickle/100?interval=0.1" "r['payload_length']" | tr -d '[]')
[ -n "$n" ] && [ "$n" -gt 0 ] 2>/dev/null && [ "$n" -lt 100 ] &&
	cmp -s -n "$n" "$DUMP/$(idx response "$B/trickle/100?interval=0.1").payload" "$T/trickle.full"
ok $? "timeouts: it holds the $n bytes received, a prefix of the body"
is "$(rq response "$B/stall-body" "[r['truncated'], r['payload_length']]")" '[["time", 0]]' \
	"timeouts: the idle timeout after the head: WARC-Truncated: time, no body"

evf "${EVC[@]}" --discard --max-filesize 4K --warc-file "$W/len" "$H/1m.bin" "$B/chunked/2000000"
is "$EVF_RC" 1 "--max-filesize: exit 1"
warc_read "--max-filesize" "$W/len.warc.gz"
warc_common "--max-filesize"
is "$(wq "sorted(r['truncated'] for r in of('response'))")" '["length", "length"]' \
	"--max-filesize: WARC-Truncated: length (with Content-Length and chunked)"
badserver_body 2000000 >"$T/c.full"
for u in "$H/1m.bin $WWW_DIR/1m.bin" "$B/chunked/2000000 $T/c.full"; do
	set -- $u
	n=$(rq response "$1" "r['payload_length']" | tr -d '[]')
	[ -n "$n" ] && [ "$n" -lt "$(stat -c %s "$2")" ] 2>/dev/null &&
		cmp -s -n "$n" "$DUMP/$(idx response "$1").payload" "$2"
	ok $? "--max-filesize: ${1##*/}: the payload is what was received ($n bytes), a prefix of the body"
done

refused_port
start_fakedns
evf "${EVC[@]}" --discard --dns-servers "127.0.0.1:$FAKEDNS_PORT" --warc-file "$W/nosend" \
	"http://127.0.0.1:$REFUSED_PORT/x" "http://nx.evfetch.test:$HTTP_PORT/hello.txt" "$H/hello.txt"
is "$EVF_RC" 1 "nothing sent: exit 1"
warc_read "nothing sent" "$W/nosend.warc.gz"
warc_common "nothing sent"
is "$(wq "sorted(set(r['target_uri'] for r in R[1:]))")" "[\"$H/hello.txt\"]" \
	"nothing sent: a refused connection and an unknown name leave no record"
is "$(counts)" "1 1 1" "nothing sent: the fetched URL has its two records"

evf "${EVC[@]}" --discard --retry 2 --retry-delay 0 --warc-file "$W/retry" "$B/slow-503-then-ok?key=warc1"
is "$EVF_RC" 0 "retry: exit 0"
warc_read retry "$W/retry.warc.gz"
warc_common retry
is "$(wq "sorted(r['http']['status'] for r in of('response'))")" '[200, 503]' \
	"retry: each attempt is an exchange (503, then 200)"
is "$(counts)" "1 2 2" "retry: 2 requests, 2 responses"

# -------------------------------------------------------------- rollover
rm -rf "$W" && mkdir -p "$W"
RU=()
for k in 1 2 3 4 5 6 7 8 9 10; do RU+=("$H/n/roll$k"); done
evf "${EVC[@]}" --discard -c 1 --warc-file "$W/roll" --warc-max-size 1K "${RU[@]}"
is "$EVF_RC" 0 "rollover: exit 0"
names=$(files_in "$W")
nf=$(printf '%s\n' "$names" | grep -c .)
cmp_ok "$nf" -ge 3 "rollover: 10 URLs with --warc-max-size 1K make several files ($nf)"
want=$(for ((k = 0; k < nf; k++)); do printf 'roll-%05d.warc.gz\n' "$k"; done)
is "$names" "$want" "rollover: named PREFIX-00000.warc.gz, PREFIX-00001.warc.gz, ... (no PREFIX.warc.gz)"
files=()
for f in $names; do files+=("$W/$f"); done
warc_read rollover "${files[@]}"
warc_common rollover
is "$(counts)" "$nf 10 10" "rollover: one warcinfo per file, all 10 exchanges"
want=$(printf '%s\n' "${RU[@]}" | sort | "$PYTHON3" -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))')
is "$(wq "sorted(r['target_uri'] for r in of('response'))")" "$want" "rollover: the union has every URL"
is "$(wq "[r['file'].rsplit('/', 1)[1] for r in R if r['member_offset'] >= 1024]")" '[]' \
	"rollover: no record starts in a file already 1K long"
is "$(wq "[f['file'].rsplit('/', 1)[1] for f in F[:-1] if f['size'] < 1024]")" '[]' \
	"rollover: every file but the last reached 1K"

# ------------------------------------------- redirect bodies not read
rm -rf "$W" && mkdir -p "$W"
evf "${EVC[@]}" -L --idle-timeout 1 --discard --warc-file "$W/stall" "$B/stall_redirect"
is "$EVF_RC" 0 "a redirect's body that never comes: followed after the idle timeout"
warc_read "stalled redirect" "$W/stall.warc.gz"
is "$(wq "[[r['http']['status'], r['truncated']] for r in of('response')]")" \
	'[[302, "unspecified"], [200, null]]' "stalled redirect: its record is marked truncated"
evf "${EVC[@]}" -L --discard --warc-file "$W/close" "$B/close_redirect"
is "$EVF_RC" 0 "a redirect's body that only the close ends: followed at once"
warc_read "close-delimited redirect" "$W/close.warc.gz"
is "$(wq "[[r['http']['status'], r['truncated']] for r in of('response')]")" \
	'[[302, "unspecified"], [200, null]]' "close-delimited redirect: its record is marked truncated"
evf "${EVC[@]}" -L --max-redirs 0 --discard --warc-file "$W/max" "$B/redirect/302"
like "$(cat "$EVF_ERR")" 'redirects' "a redirect past --max-redirs fails at once"
warc_read "redirect past the limit" "$W/max.warc.gz"
is "$(wq "[[r['http']['status'], r['truncated']] for r in of('response')]")" \
	'[[302, "unspecified"]]' "redirect past the limit: its unread body is marked"

# ---------------------------------------------------- back-pressure
# 40 bodies of 1 MiB at gzip level 9: the writer falls behind, the loop
# waits for it, and the temporary files stay few (200 descriptors in all)
rm -rf "$W" && mkdir -p "$W"
head -c 1048576 /dev/urandom >"$WWW_DIR/1m.bin"
for i in $(seq 1 40); do echo "$H/1m.bin?$i"; done >"$T/big.list"
(ulimit -n 200 && evf "${EVC[@]}" -c 8 --discard --warc-compression-level 9 \
	--warc-file "$W/big" -i "$T/big.list" && exit "$EVF_RC")
evf_rc=$?
is "$evf_rc" 0 "back-pressure: 40 x 1 MiB at level 9 under ulimit -n 200: exit 0"
warc_read "back-pressure" "$W/big.warc.gz"
is "$(wq "[len(of('response')), len(set(r['payload_sha256'] for r in of('response')))]")" '[40, 1]' \
	"back-pressure: 40 whole responses, each the file"
is "$(ls "$W" | tr '\n' ' ')" "big.warc.gz " "back-pressure: no temporary file left"

# ------------------------------------- kill -9, then --resume
# A report line is written only once its transfer's records are in the
# file: after kill -9 every URL the report lists as fetched has its
# response in the archive, and --resume fetches the others (some twice
# in the archive, none missing).
rm -rf "$W" && mkdir -p "$W"
for i in $(seq 1 60); do echo "$H/1m.bin?k$i"; done >"$T/kill.list"
"$EVFETCH" "${EVC[@]}" -c 8 --discard --warc-compression-level 9 --warc-file "$W/k" \
	--resume "$T/kill.jsonl" -i "$T/kill.list" >/dev/null 2>"$T/kill1.err" &
kpid=$!
for _ in $(seq 1 100); do
	[ "$(grep -c '"ok":true' "$T/kill.jsonl" 2>/dev/null)" -ge 5 ] && break
	sleep 0.05
done
kill -KILL "$kpid" 2>/dev/null
wait "$kpid" 2>/dev/null
first_ok=$(grep -c '"ok":true' "$T/kill.jsonl")
ok "$([ "$first_ok" -ge 5 ] && [ "$first_ok" -lt 60 ] && echo 0 || echo 1)" \
	"kill -9: killed with $first_ok of 60 URLs in the report"
# the killed run's file may end in a cut member: read what is whole
"$PYTHON3" - "$W/k.warc.gz" "$T/k.whole.warc.gz" <<'PY'
import sys, zlib
raw, out, pos = open(sys.argv[1], "rb").read(), open(sys.argv[2], "wb"), 0
while pos < len(raw):
    d = zlib.decompressobj(31)
    try:
        d.decompress(raw[pos:])
    except zlib.error:
        break
    if not d.eof:
        break
    end = len(raw) - len(d.unused_data)
    out.write(raw[pos:end])
    pos = end
PY
warc_read "kill -9, the whole records" "$T/k.whole.warc.gz"
oks() {
	"$PYTHON3" -c 'import json, sys
print(json.dumps(sorted(set(json.loads(l)["url"] for l in open(sys.argv[1]) if json.loads(l)["ok"]))))' "$1"
}
is "$(wq "sorted(set(r['target_uri'] for r in of('response')) & set($(oks "$T/kill.jsonl")))")" \
	"$(oks "$T/kill.jsonl")" \
	"kill -9: every URL the report lists as fetched has its response in the archive"
evf "${EVC[@]}" -c 8 --discard --warc-compression-level 9 --warc-file "$W/k" \
	--resume "$T/kill.jsonl" -i "$T/kill.list"
is "$EVF_RC" 0 "kill -9, then --resume: exit 0"
is "$(grep -c '"ok":true' "$T/kill.jsonl")" 60 "kill -9, then --resume: 60 ok lines"
warc_read "kill -9, both runs" "$T/k.whole.warc.gz" "$W/k-00001.warc.gz"
is "$(wq "len(set(r['target_uri'] for r in of('response')))")" 60 \
	"kill -9, then --resume: the two files hold a response for each of the 60 URLs"

# ------------------------------------------------------------ a rerun
# A later run never writes into a file that exists: an earlier run's
# file, maybe cut by kill -9, would hide every record after its cut gzip
# member.  It starts the next free name, PREFIX-00001.warc.gz.
rm -rf "$W" && mkdir -p "$W"
evf "${EVC[@]}" --discard --warc-file "$W/app" "$H/n/first"
cp "$W/app.warc.gz" "$T/app.first"
evf "${EVC[@]}" --discard --warc-file "$W/app" "$H/n/second"
is "$EVF_RC" 0 "rerun: exit 0"
is "$(files_in "$W" | tr '\n' ' ')" "app-00001.warc.gz app.warc.gz " "rerun: the next free name"
cmp -s "$T/app.first" "$W/app.warc.gz"
ok $? "rerun: the first run's file is untouched"
warc_read rerun "$W/app-00001.warc.gz"
warc_common rerun
is "$(wq "[R[0]['type'], sorted(r['target_uri'] for r in R[1:])]")" \
	"[\"warcinfo\", [\"$H/n/second\", \"$H/n/second\"]]" \
	"rerun: its own warcinfo, then the second run's exchange"
# a file cut as kill -9 cuts one (20 bytes off its last member): the next
# run's records are all readable, in a file of their own
head -c -20 "$W/app.warc.gz" >"$W/app.cut" && mv "$W/app.cut" "$W/app.warc.gz"
evf "${EVC[@]}" --discard --warc-file "$W/app" "$H/n/third"
is "$EVF_RC" 0 "after a cut file: exit 0"
warc_read "after a cut file" "$W/app-00002.warc.gz"
is "$(wq "[r['target_uri'] for r in of('response')]")" "[\"$H/n/third\"]" \
	"after a cut file: the third run's records read back whole"

# -------------------------------------------------- compression levels
# the same text at level 0 (stored), the default (1) and 9: each file
# reads back whole, the records are the same, and only the sizes differ
rm -rf "$W" && mkdir -p "$W"
"$PYTHON3" -c 'import sys; sys.stdout.write("evfetch compresses this line well\n" * 4000)' \
	>"$WWW_DIR/text.txt"
for lvl in 0 1 9; do
	evf "${EVC[@]}" --discard --warc-file "$W/l$lvl" --warc-compression-level "$lvl" \
		"$H/text.txt"
	is "$EVF_RC" 0 "--warc-compression-level $lvl: exit 0"
	warc_read "level $lvl" "$W/l$lvl.warc.gz"
	warc_common "level $lvl"
	is "$(rq response "$H/text.txt" "r['payload_sha256']")" "[\"$(sha256_of "$WWW_DIR/text.txt")\"]" \
		"level $lvl: the payload is the file"
done
s0=$(stat -c %s "$W/l0.warc.gz") s1=$(stat -c %s "$W/l1.warc.gz") s9=$(stat -c %s "$W/l9.warc.gz")
[ "$s0" -gt 136000 ] && [ "$s1" -lt $((s0 / 10)) ] && [ "$s9" -le "$s1" ]
ok $? "levels: 0 stores (${s0} bytes for 136 KB of text), 1 and 9 compress (${s1}, ${s9})"
for bad in 10 -1 x; do
	evf "${EVC[@]}" --discard --warc-file "$W/bad" --warc-compression-level "$bad" "$H/hello.txt"
	is "$EVF_RC" 2 "--warc-compression-level $bad: usage error (exit 2)"
done
evf "${EVC[@]}" --discard --warc-compression-level 0 "$H/hello.txt"
is "$EVF_RC" 2 "--warc-compression-level without --warc-file: usage error (exit 2)"
like "$(cat "$EVF_ERR")" 'needs --warc-file' "... and says it needs --warc-file"

# ------------------------------------------------------------ bad options
rm -rf "$W" && mkdir -p "$W"
for bad in abc 0 -5 1X; do
	evf "${EVC[@]}" --discard --warc-file "$W/bad" --warc-max-size "$bad" "$H/hello.txt"
	is "$EVF_RC" 2 "--warc-max-size $bad: usage error (exit 2)"
	like "$(cat "$EVF_ERR")" 'warc-max-size' "--warc-max-size $bad: the message names the option"
done
evf "${EVC[@]}" --discard --warc-file "" "$H/hello.txt"
is "$EVF_RC" 2 "--warc-file '': usage error (exit 2)"
is "$(files_in "$W")" "" "bad options: no file written"
: >"$T/plainfile"
for prefix in "$T/no/such/dir/x" "$T/plainfile/x"; do
	evf "${EVC[@]}" --discard --warc-file "$prefix" "$H/hello.txt"
	sane_rc && [ "$EVF_RC" -ne 0 ]
	ok $? "unwritable prefix ${prefix#"$T"/}: fails without a crash (exit $EVF_RC)"
	like "$(cat "$EVF_ERR")" "${prefix#"$T"/}" "unwritable prefix ${prefix#"$T"/}: the message names the file"
done
evf "${EVC[@]}" --discard --warc-file "$T/no/such/dir/y" --warc-max-size 1K "$H/hello.txt"
sane_rc && [ "$EVF_RC" -ne 0 ]
ok $? "unwritable prefix with --warc-max-size: fails without a crash (exit $EVF_RC)"

done_testing
