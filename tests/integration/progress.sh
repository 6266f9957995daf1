#!/bin/bash
# progress.sh - what evfetch shows on a terminal: the progress line (the
# total, rates, ETA, failures by kind, its fit at any width), error lines
# above it, the quiet modes and the closing summary.  Runs evfetch on a
# pseudo-terminal (tests/lib/ptyrun.py).
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

# pty COLS NAME ARGS...: run evfetch ARGS on a COLS-wide terminal in $EVF_CWD;
# PTY_RC is its exit status, $T/NAME.raw what it wrote, $T/NAME.lines the
# screen lines (split at carriage returns and newlines, erase-to-end-of-line
# sequences dropped).
pty() {
	local cols=$1 name=$2
	shift 2
	(cd "$EVF_CWD" && exec "$PYTHON3" "$TOP_SRCDIR/tests/lib/ptyrun.py" "$cols" \
		"$T/$name.raw" timeout -k 5 30 "$@")
	PTY_RC=$?
	tr '\r' '\n' <"$T/$name.raw" | sed 's/\x1b\[K//g' >"$T/$name.lines"
}

# --- the total ------------------------------------------------------------------------
# -c 1 takes six URLs at a time from the input (twice -c, and four per slot
# for hosts' adjacent URLs); the first one trickles for 1.2 s, so for a
# while 0 of 10 are done and 6 have been taken.
{
	echo "# ten URLs"
	echo "$H/trickle/3?interval=0.4"
	for i in 1 2 3 4 5 6 7 8 9; do echo "$H/ok/$i"; echo; done
} >"$T/ten.txt"
pty 100 file "$EVFETCH" -c 1 --discard -i "$T/ten.txt"
is "$PTY_RC" 0 "a regular file: exit status 0"
like "$(cat "$T/file.lines")" '0/10 done' "a regular file: the total (10) is shown before the reader gets to the end"
unlike "$(cat "$T/file.lines")" '\+ done' "a regular file: never 'N+'"
like "$(grep '0/10 done' "$T/file.lines")" '^\[[ =>]*\] +0% ' "a regular file: a bar from the start"

pty 100 stdinfile bash -c 'exec "$2" -c 1 --discard -i - <"$1"' sh "$T/ten.txt" "$EVFETCH"
like "$(cat "$T/stdinfile.lines")" '0/10 done' "-i - on a regular file: the total is known early too"

pty 100 pipe bash -c 'cat "$1" | exec "$2" -c 1 --discard -i -' sh "$T/ten.txt" "$EVFETCH"
is "$PTY_RC" 0 "a pipe: exit status 0"
like "$(cat "$T/pipe.lines")" '0/6\+ done' "a pipe: 'N+' while more may come"
is "$(grep -c '^\[.*+ done' "$T/pipe.lines")" 0 "a pipe: no bar while the total is unknown"

args=()
for i in 1 2 3 4 5 6 7 8 9; do args+=("$H/ok/$i"); done
pty 100 args "$EVFETCH" -c 1 --discard "$H/trickle/3?interval=0.4" "${args[@]}"
like "$(cat "$T/args.lines")" '0/10 done' "URL arguments: the total is their number"
unlike "$(cat "$T/args.lines")" '\+ done' "URL arguments: never 'N+'"

# --- the line at any width ---------------------------------------------------------------
# Three URLs end at once, the fourth trickles for ~1.2 s: the line (redrawn
# every 200 ms) must show 3 of 4 done, fit the terminal and be cleared.
for cols in 100 40; do
	pty "$cols" "w$cols" "$EVFETCH" --discard "$H/ok/1" "$H/ok/2" "$H/ok/3" \
		"$H/trickle/4?interval=0.3"
	is "$PTY_RC" 0 "$cols columns: exit status 0"
	is "$(awk -v c="$cols" '/^\[/ && length($0) >= c' "$T/w$cols.lines" | head -n 3)" "" \
		"$cols columns: no progress line as wide as the terminal"
	like "$(tail -n 2 "$T/w$cols.lines")" '4 URLs, 4 ok, 0 failed' \
		"$cols columns: the summary comes last"
done
like "$(cat "$T/w100.lines")" '(^|
)\[=+>? *\]  75% 3/4 done, 0 failed, 1 active, [0-9.]+ URLs/s, [0-9.]+ [kMG]?B, [0-9.]+ [kMG]?B/s, ETA [0-9]+s(
|$)' "100 columns: bar, percentage, counts, active, URLs/s, bytes, bytes/s and ETA"
like "$(cat "$T/w40.lines")" '(^|
)\[[=> ]{10,}\]  75% 3/4[ ,]' "40 columns: still a bar, of 10 columns at least, and the counts"
like "$(cat "$T/w40.lines")" '75% 3/4[^
]*, 0 failed' "40 columns: the failures still there"
is "$(grep -c '1 active' "$T/w40.lines")" 0 "40 columns: the text is shortened (no active count)"

# Failures by kind on the line, in the order of their codes.
pty 120 kinds "$EVFETCH" --discard "not a url" "$REFUSED" "$H/ok/1" \
	"$H/trickle/4?interval=0.3"
like "$(cat "$T/kinds.lines")" '3/4 done, 2 failed \(1 url, 1 connect\), ' \
	"the line: failures by kind"

# --- error lines above the bar, --no-errors, -s -S ---------------------------------------
# The bar is up (the trickle takes 1.2 s) when, at 0.5 s, a silent server
# makes the second URL fail.
STALL="$H/stall-headers"
pty 100 above "$EVFETCH" --discard --idle-timeout 0.5 "$H/trickle/4?interval=0.3" "$STALL"
is "$PTY_RC" 1 "error above the bar: exit status 1"
errline="evfetch: $STALL: timeout: "
like "$(cat "$T/above.lines")" "(^|
)${errline//\?/\?}[^[]*(
|$)" "error above the bar: the error line stands alone, no piece of the bar in it"
is "$(awk -v e="$errline" 'index($0, e) == 1 { print NR; exit }' "$T/above.lines" |
	xargs -I{} awk -v n={} 'NR < n && /^\[/ { b++ } NR > n && /^\[/ { a++ } END { print (b > 0) " " (a > 0) }' "$T/above.lines")" "1 1" \
	"error above the bar: the bar is shown before the error line and again after it"
like "$(grep -a -c $'\r\x1b\[Kevfetch: ' "$T/above.raw")" '^[1-9]' \
	"error above the bar: the bar is wiped before the line is printed"

# Twenty failures 10 ms apart, between two redraws of the timer (every
# 200 ms): the bar comes back under each error line at once, not at the
# next tick.
urls=()
for ((i = 0; i < 20; i++)); do
	urls+=("$H/late/1?wait=0.$((30 + i))&status=500")
done
pty 100 burst "$EVFETCH" --discard -f -c 30 "$H/trickle/3?interval=0.3" "${urls[@]}"
is "$PTY_RC" 1 "twenty errors: exit status 1"
is "$(grep -c ': http: ' "$T/burst.lines")" 20 "twenty errors: twenty error lines"
n=$(awk 'NF == 0 { next } prev && /^\[/ { n++ } { prev = /: http: / } END { print n + 0 }' "$T/burst.lines")
ok "$((n >= 10 ? 0 : 1))" "twenty errors: the bar is drawn again right after most error lines ($n of 20)"

pty 100 noerr "$EVFETCH" --discard --no-errors --idle-timeout 0.5 "$H/trickle/4?interval=0.3" "$STALL"
is "$PTY_RC" 1 "--no-errors: exit status 1"
is "$(grep -c "$errline" "$T/noerr.lines")" 0 "--no-errors: no error line"
like "$(cat "$T/noerr.lines")" '(^|
)\[[=> ]+\] +[0-9]+% 1/2( done)?, 1 failed \(1 timeout\)' "--no-errors: the bar, with the failure counted"
like "$(grep . "$T/noerr.lines" | tail -n 1)" '^evfetch: 2 URLs, 1 ok, 1 failed \(1 timeout\)' "--no-errors: the summary"

pty 100 sS "$EVFETCH" --discard -s -S "$H/ok/1" "$REFUSED"
is "$PTY_RC" 1 "-s -S: exit status 1"
is "$(grep -v '^$' "$T/sS.lines")" "evfetch: $REFUSED: connect: connect to 127.0.0.1:$REFUSED_PORT failed: Connection refused" \
	"-s -S: the error line and nothing else (no bar, no summary)"
evf --discard -s --show-error "$H/ok/1" "$REFUSED"
is "$(cat "$EVF_ERR")" "evfetch: $REFUSED: connect: connect to 127.0.0.1:$REFUSED_PORT failed: Connection refused" \
	"-s --show-error: the error line only"
evf --discard -s "$H/ok/1" "$REFUSED"
is "$(cat "$EVF_ERR")" "" "-s alone: nothing"
evf --discard --no-progress -S "$H/ok/1" "$REFUSED"
like "$(cat "$EVF_ERR")" "^evfetch: $REFUSED: connect: .*
evfetch: 2 URLs, 1 ok, 1 failed \(1 connect\)" "-S alone: as without it, the error line and the summary"
evf --discard -s -S --no-errors "$H/ok/1" "$REFUSED"
is "$(cat "$EVF_ERR")" "" "-s -S --no-errors: nothing"
evf --help
for opt in --show-error --no-errors; do
	like "$(cat "$EVF_OUT")" "(^|[^a-z-])$opt([^a-z-]|\$)" "--help mentions $opt"
done
like "$(cat "$EVF_OUT")" "(^|[[:space:],])-S([[:space:],]|\$)" "--help mentions -S"

# --- the summary ------------------------------------------------------------------------
R=$T/sum.jsonl
evf -f --discard --no-progress --report "$R" "$H/ok/1" "$REFUSED" "not a url" \
	"$H/status/404" "$REFUSED?again"
is "$EVF_RC" 1 "summary: exit status 1"
is "$(tail -n 1 "$EVF_ERR" | sed 's/, [0-9.]* [kMG]*B in .*;/, (time);/')" \
	"evfetch: 5 URLs, 1 ok, 4 failed (1 url, 2 connect, 1 http), (time); report in $R" \
	"summary: failures by kind, in a fixed order, and the report's path"
evf --discard --no-progress --report - "$REFUSED"
like "$(tail -n 1 "$EVF_ERR")" '^evfetch: 1 URL, 0 ok, 1 failed \(1 connect\), .*; report on standard output$' \
	"summary: a report on standard output is named so"
evf --discard --no-progress "$H/ok/1"
like "$(tail -n 1 "$EVF_ERR")" '^evfetch: 1 URL, 1 ok, 0 failed, [^;(]*\([0-9]+ URLs?/s\)$' \
	"summary: nothing failed, no report: neither is mentioned"

done_testing
