#!/bin/bash
# output.sh - where bodies go: -d names derived safely from URLs (never
# outside the directory, never through a link planted there), failed
# transfers leave nothing behind, -o (also onto symlinks, devices, FIFOs
# and descriptor names), and several bodies on standard output each whole,
# never interleaved.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/servers.sh"

need_evfetch
need_python
start_badserver
H=http://127.0.0.1:$BADSERVER_PORT

# Everything evfetch writes for -d runs must land in $P/dl.  The working
# directory and TMPDIR are watched too.
P=$T/outside
mkdir -p "$P/dl" "$P/cwd" "$P/tmp"
EVF_CWD=$P/cwd
export TMPDIR=$P/tmp
snapshot() {
	(cd "$P" && find . -path ./dl -prune -o -print | LC_ALL=C sort)
}
snapshot >"$T/before"

N=0
# name_of URL: fetch URL into a fresh directory; NAME is the one file made
# there ("" when none, "<several>" when more than one).
name_of() {
	N=$((N + 1))
	DIR=$P/dl/$N
	mkdir -p "$DIR"
	evf -d "$DIR" --no-progress --report "$T/names.$N.jsonl" "$1"
	local files
	files=$(files_in "$DIR")
	case $files in
	*$'\n'*) NAME="<several>" ;;
	*) NAME=$files ;;
	esac
}

# --- names ---------------------------------------------------------------------------
name_of "$H/name/a/b/name.txt"
is "$NAME" name.txt "/a/b/name.txt -> name.txt"
is "$(cat "$DIR/name.txt" 2>/dev/null)" "/name/a/b/name.txt" "/a/b/name.txt: the body"

name_of "$H/name/q.txt?a=b&c=../../d"
is "$NAME" q.txt "the query is dropped from the name"

name_of "$H/name/frag.txt#part"
is "$NAME" frag.txt "a fragment is dropped from the name"

name_of "$H/name/dir/"
is "$NAME" index.html "a trailing slash -> index.html"

name_of "$H/"
is "$NAME" index.html "the root path -> index.html"

name_of "$H"
is "$NAME" index.html "no path at all -> index.html"

name_of "$H/%2e%2e/x"
is "$NAME" x "/%2e%2e/x -> x"

# Hostile last segments: one plain file inside the directory, whose name
# is not '.', '..', hidden, or anything with a '/'.
for path in '..%2fetc%2fpasswd' '%2e%2e' '..' '.hidden' '%2e' 'a%2fb' 'a%00b' \
	'%0a' 'a%5c..%5cb' '%2e%2e%2f%2e%2e%2fescape'; do
	name_of "$H/$path"
	like "$NAME" '^[^./][^/]*$' "'/$path' gives one plain, visible file (got '$NAME')"
	if [ -n "$NAME" ] && [ "$NAME" != "<several>" ]; then
		[ -f "$DIR/$NAME" ] && [ ! -L "$DIR/$NAME" ]
		ok $? "'/$path': a regular file"
	else
		fail "'/$path': a regular file"
	fi
done

name_of "$H/name/$(printf 'x%.0s' {1..300}).txt"
cmp_ok "${#NAME}" -le 255 "a 300-character segment gives a name the file system takes"
cmp_ok "${#NAME}" -ge 1 "a 300-character segment still gives a file"

# Collisions in one run: three different URLs with the same last segment.
N=$((N + 1))
DIR=$P/dl/$N
mkdir -p "$DIR"
evf -d "$DIR" --no-progress --report "$T/coll.jsonl" \
	"$H/name/x/same.txt" "$H/name/y/same.txt" "$H/name/z/same.txt"
is "$EVF_RC" 0 "three URLs named same.txt: exit status 0"
is "$(files_in "$DIR" | wc -l)" 3 "three URLs named same.txt: three files"
[ -f "$DIR/same.txt" ]
ok $? "one of them is same.txt"
is "$(files_in "$DIR" | grep -vc '^same')" 0 "the others keep 'same' at the start of the name"
is "$(cat "$DIR"/* 2>/dev/null | LC_ALL=C sort)" \
	"$(printf '/name/%s/same.txt\n' x y z)" "the three files hold the three bodies"
is "$(rep_count "$T/coll.jsonl" 'r["file"] is not None')" 3 \
	"the report names a file for each" 
is "$("$PYTHON3" -c '
import json, sys
print(len({json.loads(l)["file"] for l in open(sys.argv[1])}))' "$T/coll.jsonl")" 3 \
	"the report names three different files"

# --- nothing outside the directory ----------------------------------------------------
snapshot >"$T/after"
is "$(diff "$T/before" "$T/after")" "" "-d: nothing was written outside the directory"
is "$(find "$T" -name passwd -o -name escape | wc -l)" 0 "-d: no file named passwd or escape anywhere"
is "$(files_in "$P/tmp")" "" "-d: TMPDIR is left empty"

# --- failed transfers leave nothing ----------------------------------------------------
DIR=$P/dl/failed
mkdir -p "$DIR"
evf -d "$DIR" --no-progress --report "$T/failed.jsonl" \
	"$H/close-early" "$H/truncate-chunked" "$H/reset-mid" "$H/bad-chunk"
is "$EVF_RC" 1 "four failing URLs with -d: exit status 1"
is "$(rep_count "$T/failed.jsonl" 'not r["ok"]')" 4 "four failing URLs: four failures"
is "$(files_in "$DIR")" "" "failed transfers leave no file and no temp file in the directory"
is "$(rep_count "$T/failed.jsonl" 'r.get("file") is None')" 4 \
	"failed transfers: the report names no file"

DIR=$P/dl/mixed
mkdir -p "$DIR"
evf -d "$DIR" --no-progress "$H/name/good.txt" "$H/close-early"
is "$(files_in "$DIR")" good.txt "a good and a failed URL: only the good file"

mkdir -p "$P/o"
evf -o "$P/o/out.bin" --no-progress "$H/close-early"
is "$EVF_RC" 1 "-o with a failing transfer: exit status 1"
is "$(files_in "$P/o")" "" "-o with a failing transfer: no file and no temp file"

evf -o "$P/o/out.bin" --no-progress --report "$T/o.jsonl" "$H/ok/300000"
is "$EVF_RC" 0 "-o: exit status 0"
badserver_body 300000 >"$T/expected"
cmp -s "$T/expected" "$P/o/out.bin"
ok $? "-o: the file is byte-exact"
is "$(files_in "$P/o")" out.bin "-o: only that file"
like "$(rep_get "$T/o.jsonl" file)" '(^|/)out\.bin$' "-o: the report names the file"

evf -o "$P/o/chunked.bin" --no-progress "$H/chunked/100000"
badserver_body 100000 >"$T/expected"
cmp -s "$T/expected" "$P/o/chunked.bin"
ok $? "-o with a chunked body: byte-exact"

# -o - is standard output, as in curl and wget; ./- is a file.
evf -o - --no-progress --report "$T/odash.jsonl" "$H/ok/5000"
is "$EVF_RC" 0 "-o -: exit status 0"
badserver_body 5000 >"$T/expected"
cmp -s "$T/expected" "$EVF_OUT"
ok $? "-o -: the body goes to standard output"
is "$(files_in "$EVF_CWD")" "" "-o -: no file named '-'"
is "$(rep_get "$T/odash.jsonl" file)" null "-o -: the report names no file"
evf -o ./- --no-progress "$H/ok/5000"
cmp -s "$T/expected" "$EVF_CWD/-"
ok $? "-o ./-: a file named '-'"
rm -f "$EVF_CWD/-"

# --- -o onto links, devices and FIFOs -----------------------------------------------------
# A rename over these would replace the link or the node itself: links are
# followed, devices and FIFOs are written in place.
badserver_body 5000 >"$T/expected"
D=$P/odev
mkdir -p "$D"
if [ "$(id -u)" = 0 ]; then
	# A clone of /dev/null, never the real one.
	mknod "$D/null" c 1 3
	evf -o "$D/null" --no-progress "$H/ok/5000"
	is "$EVF_RC" 0 "-o onto a character device: exit status 0"
	[ -c "$D/null" ]
	ok $? "-o onto a character device: still that device"
	is "$(files_in "$D")" null "-o onto a character device: no temp file beside it"
	rm -f "$D/null"
else
	skip "mknod needs root" 3
fi

mkfifo "$D/fifo"
timeout 30 cat "$D/fifo" >"$T/fifo.out" &
reader=$!
evf -o "$D/fifo" --no-progress "$H/ok/5000"
is "$EVF_RC" 0 "-o onto a FIFO: exit status 0"
# The reader waits for a writer that never comes when the FIFO was replaced.
[ -p "$D/fifo" ] || kill "$reader" 2>/dev/null
wait "$reader"
cmp -s "$T/expected" "$T/fifo.out"
ok $? "-o onto a FIFO: the reader gets the body"
[ -p "$D/fifo" ]
ok $? "-o onto a FIFO: still a FIFO"
is "$(files_in "$D")" fifo "-o onto a FIFO: no temp file beside it"
rm -f "$D/fifo"

# A link to a file in another directory: the temp file goes there too.
mkdir -p "$D/real" "$D/link"
echo old >"$D/real/file.bin"
ln -s ../real/file.bin "$D/link/file.bin"
evf -o "$D/link/file.bin" --no-progress --report "$T/olink.jsonl" "$H/ok/5000"
is "$EVF_RC" 0 "-o onto a symlink to a file: exit status 0"
[ -L "$D/link/file.bin" ] && [ "$(readlink "$D/link/file.bin")" = ../real/file.bin ]
ok $? "-o onto a symlink: the link stays as it was"
cmp -s "$T/expected" "$D/real/file.bin"
ok $? "-o onto a symlink: its target gets the body"
is "$(files_in "$D")" "$(printf '%s\n' link link/file.bin real real/file.bin)" \
	"-o onto a symlink: no temp file left, no other file made"
like "$(rep_get "$T/olink.jsonl" file)" '/link/file\.bin$' "-o onto a symlink: the report names the link"

# A dangling link: the file it names is created.
ln -s new.bin "$D/real/dangling"
evf -o "$D/real/dangling" --no-progress "$H/ok/5000"
is "$EVF_RC" 0 "-o onto a dangling symlink: exit status 0"
[ -L "$D/real/dangling" ] && cmp -s "$T/expected" "$D/real/new.bin"
ok $? "-o onto a dangling symlink: the link stays, the file it names gets the body"

# Someone else's link in a sticky, world-writable directory (a /tmp trap
# aimed at the caller's files) is refused, as fs.protected_symlinks does;
# the caller's own link there is followed.
mkdir -p "$D/sticky" "$D/victim"
chmod 1777 "$D/sticky"
echo precious >"$D/victim/file"
ln -s ../victim/file "$D/sticky/trap"
if [ "$(id -u)" = 0 ] && chown -h nobody "$D/sticky/trap" 2>/dev/null; then
	evf -o "$D/sticky/trap" --no-progress "$H/ok/5000"
	is "$EVF_RC" 2 "-o onto another user's link in a sticky directory: refused (exit status 2)"
	like "$(cat "$EVF_ERR")" "refusing to follow '.*sticky/trap'" \
		"-o onto another user's link in a sticky directory: says why"
	is "$(cat "$D/victim/file")" precious "-o onto another user's link in a sticky directory: the target is untouched"
	[ -L "$D/sticky/trap" ]
	ok $? "-o onto another user's link in a sticky directory: the link stays"
else
	skip "needs root to plant another user's link" 4
fi
ln -s ../victim/file "$D/sticky/mine"
evf -o "$D/sticky/mine" --no-progress "$H/ok/5000"
cmp -s "$T/expected" "$D/victim/file"
ok $? "-o onto the caller's own link in a sticky directory: followed"
rm -rf "$D/sticky" "$D/victim"

# A name for an open descriptor (what /dev/stdout is): written in place.
ln -s /proc/self/fd/1 "$D/stdout"
evf -o "$D/stdout" --no-progress "$H/ok/5000"
is "$EVF_RC" 0 "-o onto a link to /proc/self/fd/1: exit status 0"
cmp -s "$T/expected" "$EVF_OUT"
ok $? "-o onto a link to /proc/self/fd/1: the body goes to standard output"
[ -L "$D/stdout" ]
ok $? "-o onto a link to /proc/self/fd/1: the link stays"
(cd "$EVF_CWD" && timeout 50 "$EVFETCH" -o "$D/stdout" --no-progress "$H/ok/5000" \
	2>/dev/null </dev/null | cat >"$T/pipe.out")
cmp -s "$T/expected" "$T/pipe.out"
ok $? "-o onto a link to /proc/self/fd/1 with standard output a pipe: the body goes there"

# -d never writes through a link, a device or a FIFO that has the name.
D=$P/dlinks
mkdir -p "$D"
echo keep >"$P/victim"
ln -s ../victim "$D/name.txt"
mkfifo "$D/fifo.txt"
evf -d "$D" --no-progress "$H/name/name.txt" "$H/name/fifo.txt"
is "$EVF_RC" 0 "-d with a symlink and a FIFO under the names: exit status 0"
is "$(cat "$P/victim")" keep "-d: the file a planted symlink points to is untouched"
[ -L "$D/name.txt" ] && [ -p "$D/fifo.txt" ]
ok $? "-d: the symlink and the FIFO stay as they were"
is "$(cat "$D/name.txt.1" "$D/fifo.txt.1" 2>/dev/null)" "$(printf '%s\n' /name/name.txt /name/fifo.txt)" \
	"-d: the bodies are saved under the next free names"

# --- standard output --------------------------------------------------------------------
evf --no-progress "$H/ok/200000"
is "$EVF_RC" 0 "one URL to standard output: exit status 0"
badserver_body 200000 >"$T/expected"
cmp -s "$T/expected" "$EVF_OUT"
ok $? "one URL to standard output: byte-exact"

# Twenty bodies of one distinct character each and distinct sizes (some
# chunked, several larger than any sensible in-memory spool), fetched at
# once: standard output must be exactly the twenty bodies, each one run.
chars=(a b c d e f g h i j k l m n o p q r s t)
urls=()
: >"$T/expect-runs"
for ((i = 0; i < 20; i++)); do
	size=$((1000 + i * 37000))
	u="$H/fill/$size?c=${chars[i]}"
	((i % 3 == 0)) && u="$u&chunked=1"
	urls+=("$u")
	printf '%s %d\n' "${chars[i]}" "$size" >>"$T/expect-runs"
done
# Two failures in the middle: their partial bodies (digits) must not appear.
urls+=("$H/close-early" "$H/reset-mid")
evf -c 22 --no-progress --report "$T/stdout.jsonl" "${urls[@]}"
is "$EVF_RC" 1 "twenty bodies and two failures to standard output: exit status 1"
"$PYTHON3" - "$EVF_OUT" >"$T/runs" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
runs, i = [], 0
while i < len(data):
    j = i
    while j < len(data) and data[j] == data[i]:
        j += 1
    runs.append("%s %d" % (chr(data[i]), j - i))
    i = j
print("\n".join(sorted(runs)))
EOF
is "$(cat "$T/runs")" "$(LC_ALL=C sort "$T/expect-runs")" \
	"standard output holds each body whole, never interleaved, and nothing else"

evf --discard --no-progress "$H/ok/1000" "$H/ok/2000"
is "$EVF_RC" 0 "--discard: exit status 0"
is "$(wc -c <"$EVF_OUT")" 0 "--discard: nothing on standard output"

is "$(files_in "$P/tmp")" "" "TMPDIR is left empty at the end"

done_testing
