#!/usr/bin/env bash
# run.sh - build every libFuzzer target from scratch and run each one.
#
#   tests/fuzz/run.sh [SECONDS]        (default 60 seconds per target)
#
# Configures a fresh build directory with CC=clang --enable-fuzzing
# ($FUZZ_BUILD_DIR, default build-fuzz/ at the top of the source tree),
# builds the targets and runs `make fuzz FUZZ_SECONDS=SECONDS` there (see
# tests/fuzz/fuzz.sh).  The corpus each target grew in an earlier run
# (build-fuzz/fuzz-work/*/corpus) is kept, everything else is rebuilt.
# Ends with "N passed, N failed", counting targets; when configure or the
# build fails that is one failure.  FUZZ_CC picks another clang.
set -u
secs=${1:-60}
top=$(cd "$(dirname "$0")/../.." && pwd)
dir=${FUZZ_BUILD_DIR:-$top/build-fuzz}
cc=${FUZZ_CC:-clang}
jobs=$(nproc 2>/dev/null || echo 2)

give_up() {
	echo "fuzz: $1" >&2
	[ -f "$dir/build.log" ] && tail -n 30 "$dir/build.log" >&2
	echo "0 passed, 1 failed"
	exit 1
}

case $secs in '' | *[!0-9]*) give_up "SECONDS must be a number, not '$secs'" ;; esac
command -v "$cc" >/dev/null || give_up "$cc not found (Debian: apt-get install clang libclang-rt-dev)"
if [ ! -x "$top/configure" ]; then
	(cd "$top" && autoreconf -fi) || give_up "autoreconf failed"
fi

# Only ever wipe a directory this script made.
if [ -e "$dir" ] && [ ! -e "$dir/.fuzz-build" ] && [ -n "$(ls -A "$dir")" ]; then
	give_up "$dir exists and was not made by $0; set FUZZ_BUILD_DIR"
fi
saved=
if [ -d "$dir/fuzz-work" ]; then
	saved=$(mktemp -d "${TMPDIR:-/tmp}/evfetch-fuzz-corpus.XXXXXX") || give_up "mktemp failed"
	for c in "$dir"/fuzz-work/*/corpus; do
		[ -d "$c" ] || continue
		t=$(basename "$(dirname "$c")")
		mkdir -p "$saved/$t" && mv "$c" "$saved/$t/corpus"
	done
fi
rm -rf "$dir"
mkdir -p "$dir" && touch "$dir/.fuzz-build" || give_up "cannot create $dir"
if [ -n "$saved" ]; then
	mkdir -p "$dir/fuzz-work"
	mv "$saved"/* "$dir/fuzz-work/" 2>/dev/null
	rm -rf "$saved"
fi
cd "$dir" || give_up "cannot enter $dir"

echo "== fuzz: configure and build in $dir"
"$top/configure" -q CC="$cc" --enable-fuzzing >build.log 2>&1 ||
	give_up "configure CC=$cc --enable-fuzzing failed (see $dir/config.log)"
make -j"$jobs" fuzz-build >>build.log 2>&1 || give_up "the fuzz targets did not build"
echo "== fuzz: $secs s per target"
make fuzz FUZZ_SECONDS="$secs" 2>&1 | grep -v '^make\(\[[0-9]*\]\)\?: '
exit "${PIPESTATUS[0]}"
