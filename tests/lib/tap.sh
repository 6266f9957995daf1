# tap.sh - a small TAP producer for the bash integration tests.
#
# Sourced, never run.  Tests are counted as they run and the plan is printed
# at the end by done_testing, so a script never has to know its test count.
#
#   ok STATUS NAME          pass when STATUS is 0 (a shell exit status):
#                           `cmp a b; ok $? "same bytes"`
#   run_ok NAME CMD...      pass when CMD exits 0
#   is GOT EXPECTED NAME    string equality
#   isnt GOT UNEXPECTED NAME
#   like GOT ERE NAME       bash =~ match (extended regular expression)
#   unlike GOT ERE NAME
#   cmp_ok GOT OP EXPECTED NAME   integer comparison, OP one of
#                           -eq -ne -lt -le -gt -ge (or == != < <= > >=)
#   pass NAME / fail NAME
#   skip REASON [COUNT]     record COUNT skipped tests
#   todo_start REASON / todo_end   tests in between are TODO: reported, but
#                           their failures do not fail the script
#   diag TEXT...            '# TEXT' lines on stdout (each input line)
#   diag_file FILE [LINES]  the last LINES (default 40) lines of FILE as diag
#   skip_all REASON         print "1..0 # SKIP REASON" and exit 0
#   bail_out REASON         print "Bail out! REASON" and exit 1
#   done_testing            print the plan; exit 1 when any test failed
#
# Hooks: when a test fails, tap.sh calls every function named in
# TAP_FAIL_HOOKS (an array) once, right after that failure, so helpers can
# print what they know (the last command run, a server's log).  done_testing
# calls every function in TAP_END_FAIL_HOOKS once when any test failed.
# Each check function returns 0 on pass and 1 on failure so that callers can
# add their own diagnostics: `is "$a" "$b" name || diag_file log`.

if [ -n "${_TAP_SH_LOADED:-}" ]; then
	return 0
fi
_TAP_SH_LOADED=1

TAP_COUNT=0
TAP_FAILED=0
TAP_DONE=0
TAP_FAIL_HOOKS=()
TAP_END_FAIL_HOOKS=()

# Print each line of the arguments as a TAP diagnostic.
diag() {
	local line
	while IFS= read -r line || [ -n "$line" ]; do
		printf '# %s\n' "$line"
	done <<<"$*"
}

diag_file() {
	local file=$1 lines=${2:-40}
	if [ ! -e "$file" ]; then
		diag "($file does not exist)"
		return 0
	fi
	diag "---- last $lines lines of $file ----"
	diag "$(tail -n "$lines" -- "$file" | cut -c1-300)"
	diag "---- end of $file ----"
}

_tap_name() {
	# A '#' in a test name would start a TAP directive; escape it.
	local name=${1//\#/\\#}
	printf '%s' "${name//$'\n'/ }"
}

_tap_result() {
	local status=$1 name=$2 directive=
	TAP_COUNT=$((TAP_COUNT + 1))
	if [ -n "${TAP_TODO:-}" ]; then
		directive=" # TODO $(_tap_name "$TAP_TODO")"
	fi
	if [ "$status" -eq 0 ]; then
		printf 'ok %d - %s%s\n' "$TAP_COUNT" "$(_tap_name "$name")" "$directive"
		return 0
	fi
	# A failing TODO test is expected to fail: it does not count.
	[ -n "$directive" ] || TAP_FAILED=$((TAP_FAILED + 1))
	printf 'not ok %d - %s%s\n' "$TAP_COUNT" "$(_tap_name "$name")" "$directive"
	_tap_where
	return 1
}

# Where the failed check was called: "file:line (function)", innermost
# first, skipping tap.sh's own frames.
_tap_where() {
	local i=0 frame line func file where=
	while frame=$(caller "$i"); do
		i=$((i + 1))
		read -r line func file <<<"$frame"
		[ "$file" != "${BASH_SOURCE[0]}" ] || continue
		where="$where${where:+ <- }${file##*/}:$line ($func)"
	done
	[ -z "$where" ] || diag "  at $where"
}

_tap_fail_hooks() {
	local hook
	for hook in "${TAP_FAIL_HOOKS[@]}"; do
		"$hook"
	done
}

pass() { _tap_result 0 "$1"; }

fail() {
	_tap_result 1 "$1"
	_tap_fail_hooks
	return 1
}

ok() {
	local status=$1 name=$2
	case $status in
	'' | *[!0-9]*)
		_tap_result 1 "$name"
		diag "  ok: status '$status' is not an exit status"
		_tap_fail_hooks
		return 1
		;;
	esac
	if ! _tap_result "$status" "$name"; then
		diag "  exit status: $status (expected 0)"
		_tap_fail_hooks
		return 1
	fi
}

run_ok() {
	local name=$1
	shift
	"$@"
	local status=$?
	if ! _tap_result "$status" "$name"; then
		diag "  command: $*"
		diag "  exit status: $status (expected 0)"
		_tap_fail_hooks
		return 1
	fi
}

# Show a value for a diagnostic: quoted, control characters visible, and
# cut short when it is long.
_tap_show() {
	local v=$1 max=${2:-400}
	if [ "${#v}" -gt "$max" ]; then
		v="${v:0:$max}... (${#1} characters)"
	fi
	printf "'%s'" "$(printf '%s' "$v" | cat -v)"
}

is() {
	local got=$1 expected=$2 name=$3
	if [ "$got" == "$expected" ]; then
		_tap_result 0 "$name"
		return 0
	fi
	_tap_result 1 "$name"
	diag "       got: $(_tap_show "$got")"
	diag "  expected: $(_tap_show "$expected")"
	_tap_fail_hooks
	return 1
}

isnt() {
	local got=$1 unexpected=$2 name=$3
	if [ "$got" != "$unexpected" ]; then
		_tap_result 0 "$name"
		return 0
	fi
	_tap_result 1 "$name"
	diag "       got: $(_tap_show "$got")"
	diag "  expected: anything else"
	_tap_fail_hooks
	return 1
}

like() {
	local got=$1 re=$2 name=$3
	if [[ $got =~ $re ]]; then
		_tap_result 0 "$name"
		return 0
	fi
	_tap_result 1 "$name"
	diag "                got: $(_tap_show "$got")"
	diag "  expected to match: /$re/"
	_tap_fail_hooks
	return 1
}

unlike() {
	local got=$1 re=$2 name=$3
	if ! [[ $got =~ $re ]]; then
		_tap_result 0 "$name"
		return 0
	fi
	_tap_result 1 "$name"
	diag "                    got: $(_tap_show "$got")"
	diag "  expected not to match: /$re/"
	_tap_fail_hooks
	return 1
}

cmp_ok() {
	local got=$1 op=$2 expected=$3 name=$4 res=1
	case $op in
	'==') op=-eq ;; '!=') op=-ne ;; '<') op=-lt ;;
	'<=') op=-le ;; '>') op=-gt ;; '>=') op=-ge ;;
	esac
	if [[ $got =~ ^-?[0-9]+$ && $expected =~ ^-?[0-9]+$ ]]; then
		case $op in
		-eq) ((got == expected)) && res=0 ;;
		-ne) ((got != expected)) && res=0 ;;
		-lt) ((got < expected)) && res=0 ;;
		-le) ((got <= expected)) && res=0 ;;
		-gt) ((got > expected)) && res=0 ;;
		-ge) ((got >= expected)) && res=0 ;;
		esac
	fi
	if [ "$res" -eq 0 ]; then
		_tap_result 0 "$name"
		return 0
	fi
	_tap_result 1 "$name"
	diag "  got: $(_tap_show "$got")"
	diag "  expected: $op $expected"
	_tap_fail_hooks
	return 1
}

skip() {
	local reason=$1 count=${2:-1} i
	for ((i = 0; i < count; i++)); do
		TAP_COUNT=$((TAP_COUNT + 1))
		printf 'ok %d # skip %s\n' "$TAP_COUNT" "$(_tap_name "$reason")"
	done
}

todo_start() { TAP_TODO=${1:-not settled}; }
todo_end() { TAP_TODO=; }

skip_all() {
	printf '1..0 # SKIP %s\n' "$(_tap_name "$1")"
	TAP_DONE=1
	exit 0
}

bail_out() {
	printf 'Bail out! %s\n' "$(_tap_name "$1")"
	TAP_DONE=1
	exit 1
}

done_testing() {
	local hook
	if [ "$TAP_FAILED" -gt 0 ]; then
		for hook in "${TAP_END_FAIL_HOOKS[@]}"; do
			"$hook"
		done
	fi
	TAP_DONE=1
	if [ "$TAP_COUNT" -eq 0 ]; then
		printf '1..0 # SKIP no tests ran\n'
		exit 0
	fi
	printf '1..%d\n' "$TAP_COUNT"
	if [ "$TAP_FAILED" -gt 0 ]; then
		diag "failed $TAP_FAILED of $TAP_COUNT tests"
		exit 1
	fi
	exit 0
}
