#!/usr/bin/env bash
# fuzz.sh - run libFuzzer targets for a while each; `make fuzz` calls it.
#
#   fuzz.sh SECONDS PROGRAM...      (from the build directory)
#
# For each PROGRAM (tests/fuzz/fuzz_NAME) the work happens in
# fuzz-work/NAME/ of the build directory:
#   corpus/   the growing corpus, kept between runs; the seed corpus
#             $FUZZ_SRCDIR/corpus/NAME/ is read but never written
#   crashes/  inputs that crashed, leaked, hung or ran out of memory
#   log       libFuzzer's output
# A target passes when libFuzzer ran it for SECONDS without finding
# anything.  SECONDS=0 only runs the corpus once (a quick regression run).
# Prints one line per target with its executions and executions per
# second, the end of the log of each failure, and "N passed, N failed".
#
# Per-target libFuzzer options: $FUZZ_SRCDIR/NAME.dict is used as the
# dictionary when it exists; FUZZ_FLAGS adds options to every run.
set -u
secs=${1:?usage: fuzz.sh SECONDS PROGRAM...}
shift
srcdir=${FUZZ_SRCDIR:-$(cd "$(dirname "$0")" && pwd)}
passed=0 failed=0

case $secs in '' | *[!0-9]*)
	echo "fuzz.sh: SECONDS must be a number, not '$secs'" >&2
	exit 2 ;;
esac

# max_len per target: the HTTP parser needs room to go past the 4096-byte
# head limit; libFuzzer's default would stop at 4096.
max_len_of() {
	case $1 in
	fuzz_http1) echo 20000 ;;
	*) echo 4096 ;;
	esac
}

stat_of() { # LOG NAME: the value of libFuzzer's final "stat::NAME:" line
	sed -n "s/^stat::$2: *\([0-9]*\).*/\1/p" "$1" | tail -n 1
}

for prog in "$@"; do
	name=$(basename "$prog")
	work=fuzz-work/$name
	mkdir -p "$work/corpus" "$work/crashes"
	seeds=$srcdir/corpus/$name
	opts=(-max_len="$(max_len_of "$name")" -timeout=10 -rss_limit_mb=2048
		-print_final_stats=1 -artifact_prefix="$work/crashes/")
	[ -f "$srcdir/$name.dict" ] && opts+=(-dict="$srcdir/$name.dict")
	if [ "$secs" -eq 0 ]; then
		opts+=(-runs=0)
	else
		opts+=(-max_total_time="$secs")
	fi
	dirs=("$work/corpus")
	[ -d "$seeds" ] && dirs+=("$seeds")
	old=$(ls "$work/crashes")
	start=$(date +%s)
	# shellcheck disable=SC2086
	"$prog" "${opts[@]}" ${FUZZ_FLAGS:-} "${dirs[@]}" >"$work/log" 2>&1
	rc=$?
	took=$(($(date +%s) - start))
	execs=$(stat_of "$work/log" number_of_executed_units)
	rate=$(stat_of "$work/log" average_exec_per_sec)
	size=$(find "$work/corpus" -type f | wc -l)
	new=$(ls "$work/crashes" | grep -v -x -F -e "$old" -e '')
	line=$(printf '%-14s %9s executions in %4d s, %7s exec/s, corpus %d' \
		"$name:" "${execs:-?}" "$took" "${rate:-?}" "$size")
	if [ "$rc" -eq 0 ] && [ -z "$new" ]; then
		passed=$((passed + 1))
		echo "PASS $line"
	else
		failed=$((failed + 1))
		echo "FAIL $line (exit status $rc)"
		[ -n "$new" ] && printf '%s\n' "$new" | sed "s|^|     crashing input: $work/crashes/|"
		grep -E '^(==[0-9]+==ERROR|SUMMARY|fuzz_[a-z0-9]+: check failed|.*runtime error)' \
			"$work/log" | head -n 5 | sed 's/^/     /'
		echo "     ---- end of $work/log ----"
		tail -n 40 "$work/log" | sed 's/^/     /'
	fi
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
