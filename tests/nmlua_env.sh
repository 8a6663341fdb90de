# nmlua_env.sh - sourced by the nmlua tests: the runner, the scripts, and a
# broker of the test's own in a runtime directory that goes at exit.
# Sets $nmlua, $scripts, $dir; the caller's name is in $t.
nmlua=${NMLUA:-}
scripts=${NMLUA_SCRIPTS:-}
if [ -z "$nmlua" ] || [ ! -x "$nmlua" ]; then
	echo "$t: NMLUA must name the nmlua binary"
	exit 99
fi
if [ -z "${NMKIT_BROKER:-}" ] || [ ! -x "$NMKIT_BROKER" ]; then
	echo "$t: NMKIT_BROKER must name the nmkitd binary"
	exit 99
fi
dir=$(mktemp -d "/tmp/nmkit-$t-XXXXXX") || exit 99
NMKIT_RUNDIR=$dir
export NMKIT_RUNDIR
cleanup() {
	[ -f "$dir/nmkitd.pid" ] && kill "$(cat "$dir/nmkitd.pid")" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
ok() {
	echo "ok: $*"
}

# The number after `word` in the line of $1 (a file) that matches $2.
field() {
	grep -E "$2" "$1" | head -n 1 | sed -n "s/.* $3 \([0-9][0-9.]*\).*/\1/p"
}
