#!/bin/bash
# install.sh - what `make install` puts in place is usable on its own.
#
# Installs the build tree into a private DESTDIR, checks the expected files
# are there (and the private ones are not), builds examples/minimal.c
# against the installed header and library through pkg-config (with
# PKG_CONFIG_SYSROOT_DIR pointing into the DESTDIR), runs it against a port
# where nothing listens and, when nginx is available, against a real HTTPS
# URL; builds examples/fetchd.c, which uses evhttp as well, with the
# command evfetch(3) gives and fetches through it; checks that the README's
# embedding example is that same program;
# and finally that `make uninstall` removes every file again.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"
. "$TOP_SRCDIR/tests/lib/nginx.sh"

[ -f "$TOP_BUILDDIR/Makefile" ] || skip_all "no Makefile in $TOP_BUILDDIR"
command -v pkg-config >/dev/null || skip_all "pkg-config not found"
MINIMAL_SRC=$TOP_SRCDIR/examples/minimal.c
DEST=$T/inst

# A make started from inside `make check` must not join its jobserver.
sub_make() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL "${MAKE:-make}" -s -C "$TOP_BUILDDIR" "$@"
}

sub_make install DESTDIR="$DEST" >"$T/install.log" 2>&1
ok $? "make install DESTDIR=... succeeds" || diag_file "$T/install.log" 30

PC=$(find "$DEST" -name evfetch.pc -path '*/pkgconfig/*' | head -n 1)
isnt "$PC" "" "evfetch.pc is installed" || bail_out "no evfetch.pc under $DEST"
export PKG_CONFIG_PATH=$(dirname "$PC")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_SYSROOT_DIR=$DEST
# Some pkg-config implementations (pkgconf) apply the sysroot to
# --variable too: keep the paths relative to the DESTDIR either way.
pc_var() {
	local v
	v=$(pkg-config --variable="$1" evfetch)
	printf '%s\n' "${v#"$DEST"}"
}
prefix=$(pc_var prefix)
libdir=$(pc_var libdir)
includedir=$(pc_var includedir)
diag "prefix $prefix, libdir $libdir, includedir $includedir"
is "$(dirname "$PC")" "$DEST$libdir/pkgconfig" "evfetch.pc is in \$libdir/pkgconfig"

# ------------------------------------------------------- installed files

installed() { # PATH NAME: a file that must be there
	[ -e "$DEST$1" ]
	ok $? "installed: ${1#"$prefix"/}"
}
run_ok "installed: bin/evfetch (executable)" test -x "$DEST$prefix/bin/evfetch"
installed "$includedir/evfetch.h"
installed "$libdir/pkgconfig/evfetch.pc"
installed "$prefix/share/man/man1/evfetch.1"
installed "$prefix/share/man/man3/evfetch.3"
sonames=$(cd "$DEST$libdir" 2>/dev/null && ls libevfetch.so.0* 2>/dev/null | tr '\n' ' ')
like "$sonames" 'libevfetch\.so\.0 ' "installed: lib/libevfetch.so.0* ($sonames)"
installed "$libdir/libevfetch.so"

files_in "$DEST" >"$T/files"
private=$(grep -E 'libevfetch-core|libllhttp|llhttp\.h|internal\.h|fetchd|minimal|test_' "$T/files")
is "$private" "" "nothing private (convenience libraries, tests, examples) is installed"
diag "installed files:"
diag "$(cd "$DEST" && find . ! -type d | LC_ALL=C sort | sed 's/^\./  /')"

if command -v groff >/dev/null; then
	warnings=$(groff -man -ww -z "$DEST$prefix/share/man/man3/evfetch.3" 2>&1)
	is "$warnings" "" "evfetch.3 formats without groff warnings"
else
	skip "groff not found"
fi

# --------------------------------------- a program built on the install

flags=$(pkg-config --cflags --libs evfetch 2>"$T/pc.err")
ok $? "pkg-config --cflags --libs evfetch" || diag_file "$T/pc.err"
like "$flags" "-I$DEST" "the -I flag points into the DESTDIR (sysroot applied)"
like "$flags" "-L$DEST.* -levfetch" "the -L flag points into the DESTDIR"

# The flags the tree was built with (a sanitizer build needs them too).
build_var() {
	sed -n "s/^$1 = //p" "$TOP_BUILDDIR/Makefile" | head -n 1
}
CC_BUILD=$(build_var CC)
CFLAGS_BUILD=$(build_var CFLAGS)
LDFLAGS_BUILD=$(build_var LDFLAGS)
# shellcheck disable=SC2086
${CC_BUILD:-cc} $CFLAGS_BUILD -Wall -Werror -o "$T/minimal" "$MINIMAL_SRC" \
	$flags $LDFLAGS_BUILD >"$T/cc.log" 2>&1
ok $? "examples/minimal.c builds against the installed library, warning-free" ||
	diag_file "$T/cc.log"

run_minimal() {
	(cd "$T" && LD_LIBRARY_PATH=$DEST$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
		timeout -k 5 30 "$T/minimal" "$@") >"$T/minimal.out" 2>"$T/minimal.err"
}

if [ -x "$T/minimal" ]; then
	libs=$(LD_LIBRARY_PATH=$DEST$libdir ldd "$T/minimal" 2>/dev/null | grep libevfetch)
	like "$libs" "$DEST" "the program loads libevfetch from the DESTDIR"

	if [ -n "$PYTHON3" ]; then dead=$(free_port); else dead=1; fi
	run_minimal "http://127.0.0.1:$dead/"
	is "$?" 1 "a refused connection makes the program exit 1"
	like "$(cat "$T/minimal.out")" "^http://127.0.0.1:$dead/: connect: " \
		"the program reports the connect error" || diag_file "$T/minimal.err"

	if [ -n "$NGINX" ] && [ -x "$NGINX" ] && [ -n "$PYTHON3" ] && [ -n "$OPENSSL_BIN" ]; then
		start_nginx "$T/nginx"
		url=https://127.0.0.1:$HTTPS_PORT/1k.bin
		run_minimal --cacert "$CA_FILE" "$url" "https://127.0.0.1:$HTTPS_PORT/n/x"
		is "$?" 0 "the program fetches over HTTPS with the installed library" ||
			diag_file "$T/minimal.err"
		like "$(cat "$T/minimal.out")" "^$url: HTTP 200, 1024 bytes" \
			"the program reports status and size"
	else
		skip "nginx, python3 or openssl not found" 2
	fi
else
	skip "the program did not build" 4
fi

# ------------------------- a server that also uses evhttp, as evfetch(3) says

# evfetch(3) gives the command for a program that uses evhttp besides the
# library; examples/fetchd.c is such a program.  Linking it with what
# pkg-config says must succeed: with only libevent_core on the command line
# the linker refuses evhttp's symbols ("DSO missing from command line").
FETCHD_SRC=$TOP_SRCDIR/examples/fetchd.c
DOC_CMD='cc server.c $(pkg-config --cflags --libs evfetch) -o server'
doc=$(sed -n '/^\.EX/,/^\.EE/{s/\\-/-/g;/^cc server\.c /p}' "$TOP_SRCDIR/docs/evfetch.3")
is "$doc" "$DOC_CMD" "evfetch(3) shows how to build a server that also uses evhttp"
libs=$(pkg-config --libs evfetch)
like "$libs" '-levent_extra' "pkg-config --libs evfetch names libevent_extra (evdns, evhttp)"
like "$libs" '-levent_core' "pkg-config --libs evfetch names libevent_core"
unlike "$libs" '-lssl|-lcrypto|-lz( |$)' "OpenSSL and zlib are private to the library"
like "$(pkg-config --static --libs evfetch)" '-lssl.*-lcrypto.*-lz' \
	"pkg-config --static --libs evfetch adds OpenSSL and zlib"
# shellcheck disable=SC2086
${CC_BUILD:-cc} $CFLAGS_BUILD -Wall -Werror -o "$T/fetchd" "$FETCHD_SRC" \
	$(pkg-config --cflags --libs evfetch) $LDFLAGS_BUILD >"$T/cc-fetchd.log" 2>&1
ok $? "examples/fetchd.c (evhttp and evfetch) builds with that command" ||
	diag_file "$T/cc-fetchd.log"
if [ -x "$T/fetchd" ] && [ -n "${HTTPS_PORT:-}" ] && command -v curl >/dev/null; then
	LD_LIBRARY_PATH=$DEST$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH} \
		"$T/fetchd" --port 0 --cacert "$CA_FILE" >"$T/fetchd.out" 2>"$T/fetchd.err" &
	fetchd_pid=$!
	at_exit "stop_pid $fetchd_pid"
	for ((i = 0; i < 100; i++)); do
		[ -s "$T/fetchd.out" ] && break
		sleep 0.05
	done
	fport=$(head -n 1 "$T/fetchd.out")
	u=$("$PYTHON3" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' \
		"https://127.0.0.1:$HTTPS_PORT/n/linked")
	body=$(curl -s --max-time 20 "http://127.0.0.1:$fport/fetch?url=$u")
	like "$body" '"ok":1,.*"status":200' "the server built on the installed library fetches" ||
		diag_file "$T/fetchd.err"
	stop_pid "$fetchd_pid"
else
	skip "the server did not build, or no nginx or curl"
fi

# --------------------------------- the README's example is that program

readme=
for f in "$TOP_SRCDIR/README.md" "$TOP_SRCDIR/docs/README-embedding.md"; do
	if [ -f "$f" ] && grep -q '^## Embedding' "$f"; then
		readme=$f
		break
	fi
done
if [ -n "$readme" ]; then
	# the first C block after the "## Embedding" heading
	awk '/^## Embedding/ { s = 1 } s && /^```c$/ { c = 1; next }
	     c && /^```$/ { exit } c { print }' "$readme" >"$T/readme.c"
	cmp -s "$T/readme.c" "$MINIMAL_SRC"
	ok $? "the embedding example in ${readme#"$TOP_SRCDIR"/} is examples/minimal.c" ||
		diag "$(diff "$MINIMAL_SRC" "$T/readme.c" | head -n 20)"
else
	skip "no '## Embedding' section in README.md or docs/README-embedding.md"
fi

# ------------------------------------------------------------- uninstall

sub_make uninstall DESTDIR="$DEST" >"$T/uninstall.log" 2>&1
ok $? "make uninstall DESTDIR=... succeeds" || diag_file "$T/uninstall.log" 30
left=$(find "$DEST" ! -type d | sed "s|^$DEST||")
is "$left" "" "make uninstall removes every installed file"

done_testing
