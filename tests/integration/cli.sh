#!/bin/bash
# cli.sh - the command-line contract: usage errors (exit 2), --help and
# --version, URL lists from files and standard input, malformed URLs, the
# shape of the JSON report, exit statuses, -s and -v.  What a terminal
# shows is in progress.sh.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
start_badserver
H=http://127.0.0.1:$BADSERVER_PORT
refused_port
REFUSED=http://127.0.0.1:$REFUSED_PORT/refused

# --- usage errors ---------------------------------------------------------------------
# usage_error NAME ARGS...: exit status 2, a message on stderr, nothing on
# stdout, no report file and no request to the server.
usage_error() {
	local name=$1 before after
	shift
	before=$(grep -c ' req=' "$BADSERVER_LOG")
	rm -f "$T/usage.jsonl"
	evf --report "$T/usage.jsonl" "$@"
	is "$EVF_RC" 2 "$name: exit status 2"
	isnt "$(head -c 2000 "$EVF_ERR")" "" "$name: a message on stderr"
	is "$(wc -c <"$EVF_OUT")" 0 "$name: nothing on stdout"
	after=$(grep -c ' req=' "$BADSERVER_LOG")
	if [ "$before" = "$after" ] && [ ! -s "$T/usage.jsonl" ]; then
		pass "$name: nothing was fetched"
	else
		fail "$name: nothing was fetched (requests $before -> $after, report: $(head -c 200 "$T/usage.jsonl" 2>/dev/null))"
	fi
}

U="$H/ok/5"
usage_error "-c 0" -c 0 "$U"
usage_error "-c abc" -c abc "$U"
usage_error "-c ''" -c '' "$U"
usage_error "-c -3" -c -3 "$U"
usage_error "-c 5x" -c 5x "$U"
usage_error "-c with no value" "$U" -c
usage_error "an unknown long option" --no-such-option "$U"
usage_error "an unknown short option" -Z "$U"
usage_error "no URL at all"
usage_error "-o with two URLs" -o "$T/o.out" "$U" "$H/ok/6"
usage_error "a missing input file" -i "$T/does-not-exist.txt"
usage_error "-m abc" -m abc "$U"
usage_error "--connect-timeout -1" --connect-timeout -1 "$U"
usage_error "--per-host x" --per-host x "$U"
usage_error "-H without a colon" -H 'NoColonHere' "$U"
usage_error "-H with a line break" -H $'X-A: b\r\nX-Injected: yes' "$U"
usage_error "a malformed --resolve" --resolve 'nonsense' "$U"

# Long options are taken by their whole name only: getopt_long alone would
# take "--use" as --user (or --user-agent) and send the password as a header.
usage_error "--use (a prefix of --user and --user-agent)" --use alice:secret "$U"
like "$(cat "$EVF_ERR")" "unknown option '--use'" "--use: named as unknown"
unlike "$(cat "$EVF_ERR")" secret "--use: the value is not repeated on stderr"
usage_error "--use=alice:secret" --use=alice:secret "$U"
unlike "$(cat "$EVF_ERR")" secret "--use=VALUE: the value is not repeated on stderr"
usage_error "--user-agen (cut short)" --user-agen x "$U"
like "$(cat "$EVF_ERR")" "unknown option '--user-agen'" "--user-agen: named as unknown"
usage_error "--user-agen last, without its value" "$U" --user-agen
usage_error "--disc=1 (a prefix with a value)" --disc=1 "$U"
usage_error "--no (a prefix of three options)" --no "$U"

# curl's -d sends data; ours names a directory and must not create 'a=b/'.
usage_error "-d 'a=b' (request data, as for curl)" -d 'a=b' "$U"
like "$(cat "$EVF_ERR")" "'a=b' looks like request data" "-d 'a=b': says why"
[ ! -e "$EVF_CWD/a=b" ]
ok $? "-d 'a=b': no directory a=b was made"
usage_error "-d @data.json" -d @data.json "$U"
usage_error "-d '{\"a\":1}'" -d '{"a":1}' "$U"
is "$(files_in "$EVF_CWD")" "" "-d with request data: nothing made in the working directory"
mkdir "$EVF_CWD/k=v"
evf -d 'k=v' --no-progress "$H/name/kv.txt"
is "$EVF_RC" 0 "-d with an existing directory named k=v: exit status 0"
is "$(cat "$EVF_CWD/k=v/kv.txt" 2>/dev/null)" /name/kv.txt "-d with an existing directory named k=v: the body is saved there"
rm -rf "$EVF_CWD/k=v"
evf --user-agent 'exact/1' --no-progress "$H/echo"
is "$EVF_RC" 0 "--user-agent by its whole name: exit status 0"
like "$(cat "$EVF_OUT")" $'User-Agent: exact/1\r' "--user-agent by its whole name: sent"
evf --user-agent='exact/2' --max-time=10 --no-progress "$H/echo"
is "$EVF_RC" 0 "--opt=value: exit status 0"
like "$(cat "$EVF_OUT")" $'User-Agent: exact/2\r' "--user-agent=VALUE: sent"

# --- --help and --version --------------------------------------------------------------
evf --help
is "$EVF_RC" 0 "--help: exit status 0"
help=$(cat "$EVF_OUT")
for opt in --discard --per-host --cacert --capath --resolve --dns-servers \
	--connect-timeout --head --report --no-progress --help --version; do
	like "$help" "(^|[^a-z-])$opt([^a-z-]|$)" "--help mentions $opt"
done
for opt in i o d c k m H A I f s v h V; do
	like "$help" "(^|[[:space:],])-$opt([[:space:],]|$)" "--help mentions -$opt"
done
like "$help" '--connect-timeout SEC[^-]*\(default 30; 0 = none\)' "--help: the default of --connect-timeout"
like "$help" '--idle-timeout SEC[^-]*\(default 60;[[:space:]]+0 = none\)' "--help: the default of --idle-timeout"
like "$help" '--max-time SEC[^-]*default none' "--help: -m has no default limit"
evf -h
is "$EVF_RC" 0 "-h: exit status 0"
is "$(cat "$EVF_OUT")" "$help" "-h prints the same text as --help"

version=$(sed -n 's/^#define EVF_VERSION_STRING "\(.*\)"$/\1/p' "$TOP_SRCDIR/include/evfetch.h")
evf --version
is "$EVF_RC" 0 "--version: exit status 0"
like "$(cat "$EVF_OUT")" "(^|[^0-9.])${version//./\\.}([^0-9.]|$)" "--version prints $version"
evf -V
is "$EVF_RC" 0 "-V: exit status 0"
like "$(cat "$EVF_OUT")" "${version//./\\.}" "-V prints $version"

# --- URL lists ------------------------------------------------------------------------------
cat >"$T/list.txt" <<EOF
# a comment line

$H/ok/1

# another comment
$H/ok/2
$H/ok/3
EOF
R=$T/list.jsonl
evf -i "$T/list.txt" --discard --no-progress --report "$R"
is "$EVF_RC" 0 "-i FILE with blank lines and comments: exit status 0"
is "$(_report urls "$R" | LC_ALL=C sort)" "$(printf '%s\n' "$H/ok/1" "$H/ok/2" "$H/ok/3")" \
	"-i FILE: exactly the three URLs"

R=$T/stdin.jsonl
EVF_STDIN=$T/list.txt evf -i - --discard --no-progress --report "$R"
is "$EVF_RC" 0 "-i - (standard input): exit status 0"
is "$(rep_lines "$R")" 3 "-i -: three report lines"

R=$T/both.jsonl
evf -i "$T/list.txt" --discard --no-progress --report "$R" "$H/ok/4" "$H/ok/5"
is "$(rep_lines "$R")" 5 "-i FILE and URL arguments: all five URLs"

printf '%s\n' "$H/ok/7" "$H/ok/7" >"$T/dups.txt"
R=$T/dups.jsonl
evf -i "$T/dups.txt" --discard --no-progress --report "$R"
is "$(rep_lines "$R")" 2 "the same URL twice: two report lines"

printf '%s' "$H/ok/8" >"$T/nonl.txt"
R=$T/nonl.jsonl
evf -i "$T/nonl.txt" --discard --no-progress --report "$R"
is "$(rep_get "$R" ok "$H/ok/8")" true "-i: a last line without a newline is used"

: >"$T/empty.txt"
R=$T/empty.jsonl
evf -i "$T/empty.txt" --discard --no-progress --report "$R"
is "$EVF_RC" 0 "-i with an empty file: exit status 0"
is "$(rep_lines "$R")" 0 "-i with an empty file: no report lines"

# Input is streamed: the first URL is fetched before the list ends.
rm -f "$T/fifo"
mkfifo "$T/fifo"
R=$T/stream.jsonl
(cd "$EVF_CWD" && exec timeout 30 "$EVFETCH" -i - --discard --no-progress \
	--report "$R") <"$T/fifo" >/dev/null 2>"$T/stream.err" &
stream_pid=$!
exec 7>"$T/fifo"
printf '%s\n' "$H/ok/11?stream=1" >&7
seen=1
for ((i = 0; i < 100; i++)); do
	grep -q 'stream=1' "$BADSERVER_LOG" && { seen=0; break; }
	sleep 0.05
done
ok "$seen" "-i -: the first URL is fetched while standard input is still open"
printf '%s\n' "$H/ok/12?stream=2" >&7
exec 7>&-
wait "$stream_pid"
is "$?" 0 "-i -: streamed input: exit status 0"
is "$(rep_lines "$R")" 2 "-i -: streamed input: two report lines"

# --- malformed URLs ---------------------------------------------------------------------------
bad_urls=("http://" "ftp://x/" "not a url" "http://127.0.0.1:99999/" "https://[::1/" "")
for u in "${bad_urls[@]}"; do
	R=$T/bad.jsonl
	evf --discard --no-progress --report "$R" "$u"
	is "$EVF_RC" 1 "malformed URL '$u': exit status 1"
	is "$(rep_lines "$R")" 1 "malformed URL '$u': one report line"
	is "$(rep_get "$R" error_kind)" url "malformed URL '$u': error_kind url"
	is "$(rep_get "$R" url)" "$u" "malformed URL '$u': the url field is the input"
done

# The error field says which part of a malformed URL is wrong.
R=$T/badparts.jsonl
evf --discard --no-progress --report "$R" "https://h:99999/" "https://h:12ab/" \
	"https://[::1/" "https://h/a|b" "$H/ok/8"
is "$(rep_get "$R" error "https://h:99999/")" "the port is out of range (1 to 65535)" \
	"a port out of range: the error field says so"
is "$(rep_get "$R" error "https://h:12ab/")" "the port is not a number" \
	"a port with letters: the error field says so"
is "$(rep_get "$R" error "https://[::1/")" "the IPv6 address has no closing ']'" \
	"an unclosed IPv6 bracket: the error field says so"
is "$(rep_get "$R" error "https://h/a|b")" \
	"the path contains a character that must be percent-encoded" \
	"a '|' in the path: the error field says so"
is "$(rep_get "$R" ok "$H/ok/8")" true "the good URL next to them is fetched"

R=$T/badmix.jsonl
evf --discard --no-progress --report "$R" "http://" "$H/ok/9" "ftp://x/" "not a url"
is "$EVF_RC" 1 "three malformed URLs and a good one: exit status 1"
is "$(rep_lines "$R")" 4 "three malformed URLs and a good one: four lines"
is "$(rep_count "$R" 'r["error_kind"] == "url"')" 3 "three lines with error_kind url"
is "$(rep_get "$R" ok "$H/ok/9")" true "the good URL is still fetched"

printf '%s\n' "http://" "$H/ok/10" "not a url" >"$T/badlist.txt"
R=$T/badlist.jsonl
evf -i "$T/badlist.txt" --discard --no-progress --report "$R"
is "$(rep_count "$R" 'r["error_kind"] == "url"')" 2 "-i: malformed lines are reported with error_kind url"

# --- the report ---------------------------------------------------------------------------------
R=$T/shape.jsonl
evf -f --discard --no-progress --report "$R" \
	"$H/ok/100" "$H/status/404" "not a url" "$REFUSED" "$H/close-early"
is "$EVF_RC" 1 "a run with every kind of outcome: exit status 1"
is "$(rep_lines "$R")" 5 "one report line per URL"
report_ok "$R" "every line parses as JSON with url, ok, status, bytes, error, error_kind, time_total_ms, tls_version, reused"
is "$(rep_get "$R" ok "$H/ok/100")" true "report: the good URL is ok"
is "$(rep_get "$R" bytes "$H/ok/100")" 100 "report: bytes"
is "$(rep_get "$R" error "$H/ok/100")" null "report: error null on success"
is "$(rep_get "$R" error_kind "$H/ok/100")" null "report: error_kind null on success"
is "$(rep_get "$R" error_kind "$H/status/404")" http "report: -f and a 404 -> http"
is "$(rep_get "$R" error_kind "$REFUSED")" connect "report: refused -> connect"
is "$(rep_get "$R" error_kind "$H/close-early")" truncated "report: cut short -> truncated"
is "$(rep_count "$R" 'isinstance(r["time_total_ms"], (int, float)) and r["time_total_ms"] >= 0')" 5 \
	"report: time_total_ms is a number on every line"

# --report - writes the report to standard output.
evf --discard --no-progress --report - "$H/ok/3" "$H/ok/4"
is "$EVF_RC" 0 "--report -: exit status 0"
cp "$EVF_OUT" "$T/stdout-report.jsonl"
report_ok "$T/stdout-report.jsonl" "--report -: standard output holds only report lines"
is "$(rep_lines "$T/stdout-report.jsonl")" 2 "--report -: two lines"

# Hostile URLs still give valid JSON with the URL as given.
hostile=("$H/name/quote\"back\\slash" "$H/name/tab	x" "$H/name/$(printf '\x01\x1f')" \
	"$H/name/caf$(printf '\xc3\xa9')" "$H/name/bad$(printf '\xff\xfe')utf8")
R=$T/hostile.jsonl
evf --discard --no-progress --report "$R" "${hostile[@]}"
is "$(rep_lines "$R")" "${#hostile[@]}" "hostile URLs: one line each"
report_ok "$R" "hostile URLs: the report is still valid JSON"
for u in "${hostile[@]:0:4}"; do
	is "$(rep_count "$R" "r['url'] == $(printf '%s' "$u" | "$PYTHON3" -c 'import json,sys; print(json.dumps(sys.stdin.read()))')")" 1 \
		"hostile URL $(printf '%q' "$u"): the url field round-trips"
done

# --- exit statuses, -s and -v ------------------------------------------------------------------------
evf --discard --no-progress "$H/ok/1" "$H/ok/2"
is "$EVF_RC" 0 "all URLs ok: exit status 0"
evf --discard --no-progress "$H/ok/1" "$REFUSED"
is "$EVF_RC" 1 "one URL failed: exit status 1"
isnt "$(cat "$EVF_ERR")" "" "a failure is mentioned on stderr"

evf -s --discard "$H/ok/1" "$REFUSED"
is "$EVF_RC" 1 "-s: still exit status 1"
is "$(cat "$EVF_ERR")" "" "-s: nothing on stderr"

# 0 turns a timeout off, also one the library has a default for: it is
# accepted and passed on.
evf --connect-timeout 0 --idle-timeout 0 -m 0 --discard --no-progress "$H/ok/100"
is "$EVF_RC" 0 "--connect-timeout 0 --idle-timeout 0 -m 0: exit status 0"
evf --connect-timeout=0 --idle-timeout=0 --discard --no-progress "$H/trickle/2?interval=0.3"
is "$EVF_RC" 0 "--connect-timeout=0 --idle-timeout=0 with a slow body: exit status 0"

# The summary counts in words that agree with the number.
evf --discard --no-progress "$H/ok/1"
like "$(tail -n 1 "$EVF_ERR")" '^evfetch: 1 URL, 1 ok, 0 failed, ' "the summary of one URL says '1 URL'"
unlike "$(cat "$EVF_ERR")" '(^|[^0-9])1 URLs' "the summary never says '1 URLs'"
evf --discard --no-progress "$H/ok/1" "$H/ok/2"
like "$(tail -n 1 "$EVF_ERR")" '^evfetch: 2 URLs, 2 ok, 0 failed, ' "the summary of two URLs says '2 URLs'"
evf --discard --no-progress "$H/trickle/2?interval=0.5"
like "$(tail -n 1 "$EVF_ERR")" '^evfetch: 1 URL, 1 ok, .* \(1 URL/s\)$' \
	"one URL in about a second: '(1 URL/s)'"

evf -v --discard --no-progress "$H/ok/1" "$H/ok/2"
is "$EVF_RC" 0 "-v: exit status 0"
like "$(cat "$EVF_ERR")" "/ok/1" "-v: the first URL is mentioned on stderr"
like "$(cat "$EVF_ERR")" "/ok/2" "-v: the second URL is mentioned on stderr"

done_testing
