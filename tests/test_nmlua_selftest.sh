#!/bin/sh
# test_nmlua_selftest.sh - every nmkit.* module's selftest() through
# `nmlua -t all`, and luacheck over the modules and scripts when it is
# installed.
set -u
t=test_nmlua_selftest
. "$(dirname "$0")/nmlua_env.sh"

out=$dir/selftest.out
if "$nmlua" -t all > "$out" 2>&1 && grep -q '^[0-9]* passed, 0 failed$' "$out"; then
	ok "selftests: $(tail -n 1 "$out")"
else
	cat "$out"
	fail "selftests"
fi
# Every module that has a selftest is in the list that -t all runs.
for f in "$(dirname "$0")"/../lua/nmkit/*.lua; do
	m=$(basename "$f" .lua)
	[ "$m" = init ] && m=nmkit || m=nmkit.$m
	if grep -q '^function M.selftest' "$f" && ! grep -q "^$m: selftest passed" "$out"; then
		fail "$m has a selftest that -t all did not run"
	fi
done

if command -v luacheck > /dev/null 2>&1; then
	top=$(dirname "$0")/..
	if (cd "$top" && luacheck --no-color -q lua/nmkit scripts bench/nmlua-bench.lua) > "$dir/luacheck.out" 2>&1; then
		ok "luacheck clean"
	else
		cat "$dir/luacheck.out"
		fail "luacheck"
	fi
fi

"$nmlua" --version | grep -q '^nmlua .*LuaJIT' && ok "--version" || fail "--version"
[ "$fails" -eq 0 ] || exit 1
exit 0
