#!/bin/bash
# heads.sh - -D/--dump-header writes the response heads as curl does (status
# line, header lines, blank line, CRLF), each whole even with many URLs at
# once, over HTTP/1.1 and HTTP/2; -O/--remote-name saves under the names -d
# gives, in the current directory or the -d one.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"

need_evfetch
need_python
export NGINX_H2=1
start_nginx "$T/nginx"
mkdir -p "$EVF_CWD"
BASE=https://127.0.0.1:$HTTPS_PORT
E() { evf --no-progress --cacert "$CA_FILE" "$@"; }

# heads FILE: "count status-lines ok|why": every block of FILE is one whole
# head (a status line, then only "Name: value" lines, CRLF, a blank line).
heads() {
	"$PYTHON3" - "$1" <<'EOF'
import re, sys
data = open(sys.argv[1], "rb").read().decode("latin-1")
if not data.endswith("\r\n\r\n"):
    print("0 - no blank line at the end"); sys.exit()
blocks = data[:-4].split("\r\n\r\n")
statuses = []
for b in blocks:
    lines = b.split("\r\n")
    m = re.fullmatch(r"HTTP/(1\.1|2) (\d{3}) ", lines[0])
    bad = [l for l in lines[1:] if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+: .*", l) or "\n" in l]
    if not m or bad:
        print("%d - a broken head: %r" % (len(blocks), b[:200])); sys.exit()
    statuses.append(m.group(2))
print("%d %s ok" % (len(blocks), ",".join(sorted(set(statuses)))))
EOF
}

# --- one URL -----------------------------------------------------------------------
E --http1.1 -D "$T/h1" "$BASE/hello.txt"
is "$EVF_RC" 0 "-D FILE: exit 0"
is "$(cat "$EVF_OUT")" hello "-D FILE: the body still goes to stdout"
is "$(head -n 1 "$T/h1")" $'HTTP/1.1 200 \r' "-D FILE: the status line"
like "$(cat "$T/h1")" $'\r\nContent-Length: 6\r\n' "-D FILE: header lines as sent, CRLF"
is "$(heads "$T/h1")" "1 200 ok" "-D FILE: one whole head, blank line at the end"

E --http1.1 -D - "$BASE/hello.txt"
is "$(tr -d '\r' <"$EVF_OUT" | tail -n 2 | head -n 1)" "" "-D -: a blank line before the body"
is "$(tail -n 1 "$EVF_OUT")" hello "-D -: the body after the head on stdout"
is "$(head -n 1 "$EVF_OUT")" $'HTTP/1.1 200 \r' "-D -: the head first"

E -D "$T/h2" "$BASE/hello.txt"
is "$(head -n 1 "$T/h2")" $'HTTP/2 200 \r' "-D over HTTP/2: HTTP/2 status line"
like "$(cat "$T/h2")" $'\r\ncontent-length: 6\r\n' "-D over HTTP/2: names as sent (lower case)"

E -I --http1.1 -D "$T/hh" "$BASE/1k.bin"
like "$(cat "$T/hh")" $'\r\nContent-Length: 1024\r\n' "-I -D: the head of a HEAD request"

E -L --http1.1 -D "$T/hr" "$BASE/redirect"
is "$(heads "$T/hr")" "1 200 ok" "-L -D: the final head only (redirects are followed inside the library)"

E -D "$T/h404" "$BASE/status/404"
is "$(heads "$T/h404")" "1 404 ok" "-D: the head of a 404 too"
E -f -D "$T/h404f" "$BASE/status/404"
is "$EVF_RC:$(wc -c <"$T/h404f")" "1:0" "-D with -f: a failed status is no head handed on (as documented)"

E -D "$T/no/such/dir/h" "$BASE/hello.txt"
is "$EVF_RC" 2 "-D into a missing directory: usage error"
like "$(cat "$EVF_ERR")" "dump-header: cannot create" "-D into a missing directory: says so"

# --- many URLs at once --------------------------------------------------------------
: >"$T/urls"
for i in $(seq 1 60); do
	echo "$BASE/n/$i" >>"$T/urls"
	echo "$BASE/16k.bin?$i" >>"$T/urls"
done
echo "$BASE/status/404" >>"$T/urls"
E -c 30 --discard -i "$T/urls" -D "$T/many"
is "$(heads "$T/many")" "121 200,404 ok" "-D, 121 URLs over HTTP/2 at -c 30: 121 whole heads"
E -c 30 --http1.1 --discard -i "$T/urls" -D "$T/many1"
is "$(heads "$T/many1")" "121 200,404 ok" "-D, 121 URLs over HTTP/1.1 at -c 30: 121 whole heads"

# --- -O ----------------------------------------------------------------------------
E -O "$BASE/hello.txt"
is "$EVF_RC" 0 "-O: exit 0"
is "$(cat "$EVF_CWD/hello.txt" 2>/dev/null)" hello "-O: saved as ./hello.txt"
is "$(cat "$EVF_OUT")" "" "-O: nothing on stdout"
E -O "$BASE/hello.txt"
is "$(cat "$EVF_CWD/hello.txt.1" 2>/dev/null)" hello "-O again: hello.txt.1, as -d names a taken name"
E -O -d "$T/dl" "$BASE/1k.bin" "$BASE/n/"
is "$(sha256_of "$T/dl/1k.bin")" "$(cat "$T/nginx/www/1k.bin.sha256")" "-O -d DIR: saved into DIR"
is "$(cat "$T/dl/index.html" 2>/dev/null)" "ok /n/" "-O, last segment empty: index.html, as -d"
E -O "$BASE/n/%2e%2e%2fescaped"
[ -f "$EVF_CWD/_._escaped" ] && [ ! -e "$T/escaped" ]
ok $? "-O: a hostile segment is made safe as -d does"
E -O -o "$T/x" "$BASE/hello.txt"
is "$EVF_RC" 2 "-O with -o: usage error"
E -O --discard "$BASE/hello.txt"
is "$EVF_RC" 2 "-O with --discard: usage error"

done_testing
