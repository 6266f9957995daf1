#!/bin/bash
# jsonl.sh - --input-format jsonl: a batch of API calls, each line with its
# own method, headers, body or body_file and id, against nginx (bodies
# stored by its dav module); the report echoes each id; bad lines end with
# one failed report line each and never stop the run; the tool's -H and
# -X apply where a line says nothing.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"

need_evfetch
start_nginx "$T/nginx"
H=http://127.0.0.1:$HTTP_PORT
PUT=$WWW_DIR/put
printf 'from a file\n' >"$T/file.txt"

cat >"$T/in.jsonl" <<JSONL
{"url": "$H/post/a.json", "method": "POST", "headers": {"Content-Type": "application/json"}, "body": "{\"n\":1}", "id": "first"}
{"url": "$H/put/b.txt", "method": "PUT", "body_file": "$T/file.txt", "id": 2}
{"url": "$H/method", "method": "DELETE", "id": {"k": [1, 2]}}
{"url": "$H/x-test", "headers": ["X-Test: from the line"], "id": null}
{"url": "$H/post/c.txt", "body": "no method given"}
# a comment, skipped
{"url": "$H/method"}
{"url": 5, "id": "bad url type"}
not json at all
{"url": "$H/method", "method": "BAD METHOD", "id": "bad method"}
{"url": "$H/put/d.txt", "body_file": "$T/missing.txt", "id": "missing file"}
["an", "array"]
{"url": "$H/method", "url": "$H/twice"}
JSONL
evf -c 4 --no-progress --input-format jsonl -i "$T/in.jsonl" --report "$T/r.jsonl" -d "$T/out" \
	-H 'X-Test: from the command line'
is "$EVF_RC" 1 "some lines fail: exit status 1"
is "$(grep -c . "$T/r.jsonl")" 12 "one report line for each of the 12 lines that are not comments"
is "$(rep_count "$T/r.jsonl" 'r["ok"] is True')" 6 "6 requests ok"
is "$(cat "$PUT/a.json")" '{"n":1}' "POST with a JSON body from the line, stored"
is "$(cat "$PUT/b.txt")" "from a file" "PUT with a body_file, stored"
is "$(cat "$PUT/c.txt")" "no method given" "a body without a method is POSTed"
grep '"id":"first"' "$T/r.jsonl" | grep -q '"status":201'
is $? 0 "the report echoes a string id"
grep -Eq '"id":2(,|\})' "$T/r.jsonl"
is $? 0 "...a number id"
grep -q '"id":{"k":\[1,2\]}' "$T/r.jsonl"
is $? 0 "...an object id, compact"
grep -q '"id":null' "$T/r.jsonl"
is $? 0 "...a null id"
is "$(for f in "$T/out"/*method*; do cat "$f"; echo; done | sort | tr '\n' ' ')" "DELETE GET " \
	"the line's method, else GET"
is "$(cat "$T/out"/*x-test*)" "from the line" "a line's header replaces the tool's -H of that name"
grep -q '"error":"no \\"url\\" string"' "$T/r.jsonl"
is $? 0 "a url that is not a string: one failed line, saying so"
grep -q '"error":"not JSON' "$T/r.jsonl"
is $? 0 "a line that is not JSON: one failed line, saying so"
grep '"id":"bad method"' "$T/r.jsonl" | grep -q '"error_kind":"invalid"'
is $? 0 "a bad method: kind invalid, with the id"
grep '"id":"missing file"' "$T/r.jsonl" | grep -q 'cannot open the body_file'
is $? 0 "a missing body_file: says which file"
grep -q '"error":"not a JSON object"' "$T/r.jsonl"
is $? 0 "an array: not a JSON object"
grep -q 'not JSON: duplicate object key' "$T/r.jsonl"
is $? 0 "a key given twice is refused"

printf '{"url": "%s/method", "body": "x"}\n{"url": "%s/auth", "headers": {"Authorization": "Bearer line"}}\n' \
	"$H" "$H" >"$T/x.jsonl"
printf 'default login net password rc\n' >"$T/netrc"
evf --no-progress --input-format jsonl -i "$T/x.jsonl" -X PUT --netrc-file "$T/netrc" -d "$T/x"
is "$(cat "$T/x"/*method*)" "PUT" "a line's body without a method takes -X's"
is "$(cat "$T/x"/*auth*)" "Bearer line" "a line's Authorization, not --netrc's as well"

evf --input-format yaml "$H/method"
is "$EVF_RC" 2 "--input-format yaml: usage error"
evf --no-progress --input-format jsonl -X PUT "$H/method"
is "$(cat "$EVF_OUT")" "PUT" "URLs on the command line stay URLs, with -X"

done_testing
