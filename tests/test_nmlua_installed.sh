#!/bin/sh
# test_nmlua_installed.sh - nmlua from an installed prefix, not the build
# tree.
#
# The distribution's files (make distdir) are configured for a prefix of
# this test's own, built and installed there; the copy and its build are
# then removed, and with no NMLUA_PATH, NMKIT_BROKER or LD_LIBRARY_PATH:
#  1. `nmlua --version` names the version, libnmkit's and LuaJIT's;
#  2. `nmlua -t all` passes: the modules and the generated cdefs.lua are
#     found in the prefix's share/lua/5.1;
#  3. the installed share/nmkit/scripts/quickstart.lua --time 2 receives
#     frames without loss, the broker started from the prefix's sbin.
set -u

top=${NMKIT_TEST_BUILDDIR:-.}
MAKE=${NMKIT_TEST_MAKE:-make}

tmp=$(mktemp -d /tmp/nmkit-test-nmlua-installed-XXXXXX) || exit 99
cleanup() {
	[ -f "$tmp/run/nmkitd.pid" ] && kill "$(cat "$tmp/run/nmkitd.pid")" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
prefix=$tmp/prefix
mkdir -p "$tmp/run" || exit 99
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}
ok() {
	echo "ok: $*"
}

# --- build and install ------------------------------------------------------
# Makes of their own, not part of the one running the tests: none of its
# flags, no jobserver.  The compiler and flags are the configure's
# (sanitizers included).
mk() {
	env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u DESTDIR "$MAKE" "$@"
}
log=$tmp/build.log
if ! mk -s -C "$top" distdir distdir="$tmp/src" > "$log" 2>&1; then
	cat "$log"
	echo "test_nmlua_installed: make distdir failed"
	exit 99
fi
if ! (cd "$tmp/src" &&
	./configure --prefix="$prefix" CC="${NMKIT_TEST_CC:-cc}" \
		CFLAGS="${NMKIT_TEST_CFLAGS:-}" LDFLAGS="${NMKIT_TEST_LDFLAGS:-}" &&
	mk -j2 install) > "$log" 2>&1; then
	tail -n 60 "$log"
	fail "configure --prefix, make install from the distributed files"
	exit 1
fi
rm -rf "$tmp/src"
nmlua=$prefix/bin/nmlua
[ -x "$nmlua" ] || { fail "no $nmlua"; exit 1; }

# Nothing of the build tree: the environment of make check is dropped.
run() {
	env -u NMLUA_PATH -u NMKIT_BROKER -u LD_LIBRARY_PATH -u LD_PRELOAD -u LUA_PATH \
		NMKIT_RUNDIR="$tmp/run" timeout 60 "$@"
}

# --- 1. --version -----------------------------------------------------------
v=$(run "$nmlua" --version 2>&1)
if echo "$v" | grep -qE '^nmlua [0-9.]+ \(nmkit [0-9.]+, LuaJIT [0-9.]+'; then
	ok "$v"
else
	fail "nmlua --version: '$v'"
fi

# --- 2. the modules from the prefix ----------------------------------------
out=$tmp/selftest.out
if run "$nmlua" -t all > "$out" 2>&1 && grep -qE '^[0-9]+ passed, 0 failed' "$out"; then
	ok "nmlua -t all: $(tail -n 1 "$out")"
else
	cat "$out"
	fail "nmlua -t all from the prefix"
fi
where=$(run "$nmlua" -e 'print(package.searchpath("nmkit.cdefs", package.path))' 2>&1)
case $where in
"$prefix"/share/lua/5.1/nmkit/cdefs.lua) ok "modules from $prefix/share/lua/5.1" ;;
*) fail "nmkit.cdefs found at '$where', not in $prefix" ;;
esac

# --- 3. quickstart from the prefix -----------------------------------------
script=$prefix/share/nmkit/scripts/quickstart.lua
out=$tmp/quickstart.out
if [ ! -f "$script" ]; then
	fail "no $script"
elif ! run "$nmlua" "$script" --time 2 --rate 50kpps --switch valei1 > "$out" 2>&1; then
	cat "$out"
	fail "quickstart.lua --time 2 from the prefix exits 0"
else
	s=$(grep '^summary rx valei1:sink0:' "$out")
	n=$(echo "$s" | sed -n 's/.*received \([0-9]*\) frames.*/\1/p')
	if [ -n "$n" ] && [ "$n" -gt 0 ] && echo "$s" | grep -q "lost 0$"; then
		ok "quickstart from the prefix: $s"
	else
		cat "$out"
		fail "quickstart from the prefix: frames received without loss"
	fi
	# The broker that served it is the prefix's.
	if [ -f "$tmp/run/nmkitd.pid" ] &&
	   [ "$(readlink "/proc/$(cat "$tmp/run/nmkitd.pid")/exe")" = "$prefix/sbin/nmkitd" ]; then
		ok "the broker is $prefix/sbin/nmkitd"
	else
		fail "the broker that ran is not $prefix/sbin/nmkitd"
	fi
fi

if [ "$fails" -ne 0 ]; then
	echo "test_nmlua_installed: $fails failure(s)"
	exit 1
fi
echo "test_nmlua_installed: all checks passed"
exit 0
