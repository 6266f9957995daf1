#!/usr/bin/env bash
# Every test: the suite on a normal build, then again on an ASan+UBSan
# build.  Ends with "N passed, N failed" summed over everything that ran.
set -u
cd "$(dirname "$0")/.."
top=$PWD
jobs=$(nproc)
status=0

[ -x configure ] || autoreconf -fi || exit 1

run_suite() { # NAME CONFIGURE-ARGS...
	local name=$1
	shift
	echo "== $name: configure, build, make check"
	mkdir -p "$top/$name"
	(
		cd "$top/$name" &&
			{ [ -f Makefile ] || "$top/configure" -q "$@"; } &&
			make -j"$jobs" >/dev/null &&
			make -j"$jobs" check
	) || status=1
}

run_suite build --enable-werror
san="-fsanitize=address,undefined -fno-sanitize-recover=undefined"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	run_suite build-asan CFLAGS="-O1 -g -fno-omit-frame-pointer $san" LDFLAGS="$san"

# every TAP test point of every run counts
passed=0 failed=0
for trs in $(find "$top/build" "$top/build-asan" -name '*.trs' 2>/dev/null); do
	p=$(grep -c '^:test-result: PASS' "$trs")
	f=$(grep -c -E '^:test-result: (FAIL|XPASS|ERROR)' "$trs")
	passed=$((passed + p))
	failed=$((failed + f))
	if grep -q '^:global-test-result: \(FAIL\|ERROR\)' "$trs" && [ "$f" -eq 0 ]; then
		failed=$((failed + 1))   # a crashed or plan-less script
	fi
done
[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
