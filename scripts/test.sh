#!/usr/bin/env bash
# Every test: the suite on a normal build, then again on an ASan+UBSan
# build, then every libFuzzer target for a short while (tests/fuzz/run.sh,
# in build-fuzz/) and part of the suite under valgrind (tests/valgrind.sh,
# in build/).  Ends with "N passed, N failed" summed over everything that
# ran.  EVF_FUZZ_SECONDS sets the time per fuzz target (default 20).
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

# Fuzzing and valgrind print their own "N passed, N failed" (fuzz targets;
# TAP points plus one per script for a clean valgrind log): add them in.
# No such line at all counts as one failure.
run_counted() { # NAME CMD...
	local name=$1 log line p f
	shift
	echo "== $name"
	log=$(mktemp "${TMPDIR:-/tmp}/evfetch-$name.XXXXXX") || { failed=$((failed + 1)); return; }
	"$@" 2>&1 | tee "$log"
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$log" | tail -n 1)
	rm -f "$log"
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		return
	fi
	p=${line%% passed*}
	f=${line#*, }
	passed=$((passed + p))
	failed=$((failed + ${f%% failed}))
}
run_counted fuzz tests/fuzz/run.sh "${EVF_FUZZ_SECONDS:-20}"
run_counted valgrind sh -c 'cd "$1" && exec make -s check-valgrind' sh "$top/build"

[ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ]
