#!/bin/bash
# symbols.sh - the shared library exports the API and nothing else.
#
# Reads the dynamic symbol table of the built libevfetch.so (nm -D) and
# checks that every exported symbol starts with evf_, that every function
# declared with EVF_API in include/evfetch.h is exported, that nothing
# else with the evf_ prefix is (the library's internal helpers share the
# prefix and must stay hidden), and that docs/evfetch.3 documents every
# function of the header.
if [ -z "${BASH_VERSION:-}" ]; then exec bash "$0" "$@"; fi
: "${TOP_SRCDIR:=$(cd "$(dirname "$0")/../.." && pwd)}"
. "$TOP_SRCDIR/tests/lib/common.sh"

LIB=$TOP_BUILDDIR/.libs/libevfetch.so
HEADER=$TOP_SRCDIR/include/evfetch.h
MAN3=$TOP_SRCDIR/docs/evfetch.3
[ -e "$LIB" ] || skip_all "no shared library at $LIB (static-only build?)"
command -v nm >/dev/null || skip_all "nm not found"

# Symbols every ELF shared object defines for the linker's own use.
LINKER_SYMBOLS='^(_init|_fini|_edata|_end|__bss_start|_DYNAMIC|_GLOBAL_OFFSET_TABLE_)$'

nm -D --defined-only "$LIB" >"$T/nm.out" 2>"$T/nm.err"
ok $? "nm -D reads $LIB" || diag_file "$T/nm.err"
# "ADDRESS TYPE NAME", without symbol versions ("name@@VERS")
awk 'NF >= 3 { sub(/@.*/, "", $3); print $2, $3 }' "$T/nm.out" >"$T/defined"
awk '$1 ~ /^[TtWi]$/ { print $2 }' "$T/defined" | LC_ALL=C sort -u >"$T/functions"
awk '{ print $2 }' "$T/defined" | grep -Ev "$LINKER_SYMBOLS" | LC_ALL=C sort -u >"$T/exported"

cmp_ok "$(grep -c . "$T/functions")" -gt 0 "the library exports functions"
bad=$(grep -v '^evf_' "$T/functions")
is "$bad" "" "every exported function starts with evf_"
bad=$(grep -v '^evf_' "$T/exported")
is "$bad" "" "every exported symbol of any kind starts with evf_"

# Declarations are one per EVF_API line: "EVF_API type *evf_name(...".
grep '^EVF_API' "$HEADER" | grep -o 'evf_[a-z0-9_]*[[:space:]]*(' |
	tr -d '( \t' | LC_ALL=C sort -u >"$T/declared"
cmp_ok "$(grep -c . "$T/declared")" -eq "$(grep -c '^EVF_API' "$HEADER")" \
	"each EVF_API line of evfetch.h declares one evf_ function"

missing=$(LC_ALL=C comm -23 "$T/declared" "$T/functions")
is "$missing" "" "every function declared in evfetch.h is exported"
extra=$(LC_ALL=C comm -13 "$T/declared" "$T/functions")
is "$extra" "" "no exported function is missing from evfetch.h (internals stay hidden)"

undocumented=
while read -r f; do
	grep -q "\\b$f\\b" "$MAN3" || undocumented="$undocumented $f"
done <"$T/declared"
is "$undocumented" "" "docs/evfetch.3 documents every function of evfetch.h"

done_testing
