#!/usr/bin/env bash
# valgrind.sh - part of the integration suite with the CLI and test_embed
# under valgrind's memcheck.
#
#   tests/valgrind.sh [SCRIPT...]     from a build directory without
#                                     sanitizers, or `make check-valgrind`
#
# SCRIPT names tests/integration/SCRIPT.sh; the default set is below.  Each
# run of evfetch (and test_embed) goes through EVFETCH_WRAPPER, which
# tests/lib/common.sh and embed.sh put in front of the program:
#
#   valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect
#            --error-exitcode=99 --log-file=valgrind-logs/SCRIPT/%p.log
#
# The reports go to files, so the tests still see the program's own stderr;
# an error or a definite/indirect leak also makes the program exit with 99,
# which the tests notice.  Counted as TAP test points: every test point of
# every script, plus one per script for "valgrind reported nothing".  A
# script that fails shows its failing points; every non-empty valgrind log
# is printed.  A few timing checks cannot hold at valgrind's speed: they
# are shown as ignored and not counted (VALGRIND_TIMING_TESTS, an ERE on
# test names).  Ends with "N passed, N failed".
#
# VALGRIND picks the valgrind binary; VALGRIND_FLAGS adds options (e.g.
# --suppressions=FILE); VALGRIND_JOBS=2 runs two scripts at once (faster,
# but the timing checks of faults.sh then fail); EVF_TIMEOUT (seconds per program run, default 240 here) bounds a
# run that valgrind slows down.
set -u
top_srcdir=${TOP_SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}
builddir=${TOP_BUILDDIR:-$PWD}
export TOP_SRCDIR=$top_srcdir TOP_BUILDDIR=$builddir
export EVFETCH=${EVFETCH:-$builddir/src/cli/evfetch}
export LIBTOOL=${LIBTOOL:-$builddir/libtool}
export EVF_TIMEOUT=${EVF_TIMEOUT:-240}
valgrind=${VALGRIND:-valgrind}

# The default set, about six minutes: basic (TLS and plain HTTP against
# nginx, keep-alive, HEAD, many URLs), faults (the engine's error paths:
# resets, truncation, timeouts, DNS, bad framing, poisoned connections),
# tls (verification failures, the TLS error paths), embed (test_embed:
# the library in a caller's loop, freeing the client with transfers in
# flight), h2 (HTTP/2 against nginx and h2o: multiplexing, GOAWAY after
# 1,000 requests, every feature over streams) and embed-h2 (test_embed
# over HTTP/2 streams).  `tests/valgrind.sh basic faults tls output cli embed` adds the
# CLI's file output and argument/input handling (about seven minutes).
scripts=("$@")
[ ${#scripts[@]} -gt 0 ] || scripts=(basic faults tls embed h2 embed-h2)

passed=0 failed=0
finish() {
	echo "valgrind: $passed passed, $failed failed"
	echo "$passed passed, $failed failed"
	[ "$failed" -eq 0 ]
	exit
}

if ! command -v "$valgrind" >/dev/null; then
	echo "valgrind: $valgrind not found (Debian: apt-get install valgrind)"
	failed=1
	finish
fi
if [ ! -e "$EVFETCH" ] || [ ! -x "$LIBTOOL" ]; then
	echo "valgrind: run from a build directory ($EVFETCH or $LIBTOOL is missing)"
	failed=1
	finish
fi

logs=$builddir/valgrind-logs
rm -rf "$logs"
mkdir -p "$logs"

# Timing checks that valgrind's slowness (20-50 times) breaks by design,
# not by a fault of the code: they are reported, but not counted.
timing=${VALGRIND_TIMING_TESTS:-'timer was never late|bytes arriving on an idle connection: the next body'}

# run_one NAME: the script with every program under valgrind; its TAP goes
# to $logs/NAME/tap.out, its exit status to $logs/NAME/rc.
run_one() {
	local name=$1 dir=$logs/$1 start
	mkdir -p "$dir"
	start=$(date +%s)
	EVFETCH_WRAPPER="$valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=99 --num-callers=40 --log-file=$dir/%p.log ${VALGRIND_FLAGS:-}" \
		bash "$top_srcdir/tests/integration/$name.sh" >"$dir/tap.out" 2>"$dir/stderr"
	echo $? >"$dir/rc"
	echo $(($(date +%s) - start)) >"$dir/seconds"
}

jobs=${VALGRIND_JOBS:-1}
names=()
for s in "${scripts[@]}"; do
	name=$(basename "${s%.sh}")
	if [ ! -f "$top_srcdir/tests/integration/$name.sh" ]; then
		echo "FAIL $name: no such script tests/integration/$name.sh"
		failed=$((failed + 1))
		continue
	fi
	names+=("$name")
	while [ "$(jobs -r -p | wc -l)" -ge "$jobs" ]; do
		wait -n
	done
	run_one "$name" &
done
wait

for name in "${names[@]}"; do
	dir=$logs/$name
	rc=$(cat "$dir/rc" 2>/dev/null || echo 1)
	took=$(cat "$dir/seconds" 2>/dev/null || echo '?')
	if grep -q '^1\.\.0 # SKIP' "$dir/tap.out"; then
		echo "SKIP $name: $(sed -n 's/^1\.\.0 # SKIP //p' "$dir/tap.out")"
		continue
	fi
	p=$(grep -c -E '^ok ' "$dir/tap.out")
	# a failing TODO test does not count, as in automake's TAP driver
	grep -E '^not ok ' "$dir/tap.out" | grep -v -E '# TODO' >"$dir/failures"
	grep -E "$timing" "$dir/failures" >"$dir/ignored"
	f=$(grep -c -v -E "$timing" "$dir/failures")
	ign=$(grep -c . "$dir/ignored")
	runs=$(find "$dir" -name '[0-9]*.log' | wc -l)
	reports=$(find "$dir" -name '[0-9]*.log' -size +0 | LC_ALL=C sort)
	if [ "$f" -eq 0 ] && [ "$rc" -ne 0 ] && [ "$ign" -eq 0 ]; then
		f=1 # a crashed script or one without a plan
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	if [ -z "$reports" ]; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
	fi
	what="$p passed, $f failed, $runs programs run under valgrind"
	if [ "$f" -eq 0 ] && [ -z "$reports" ]; then
		echo "PASS $name: $what, no valgrind reports ($took s)"
	else
		echo "FAIL $name: $what, $(printf '%s' "$reports" | grep -c .) with valgrind reports" \
			"($took s; exit status $rc)"
		grep -v -E "$timing" "$dir/failures" | head -n 20 | sed 's/^/     /'
	fi
	[ "$ign" -gt 0 ] && sed 's/^/     ignored, timing under valgrind: /' "$dir/ignored"
	for r in $reports; do
		echo "     ---- $r ----"
		head -n 80 "$r" | sed 's/^/     /'
	done
done
finish
