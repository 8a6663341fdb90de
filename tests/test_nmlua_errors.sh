#!/bin/sh
# test_nmlua_errors.sh - what nmlua does with bad input and failing tasks:
#   - a bad port name, rate unit or option: one line naming the script's
#     line (or the option) and the bad value, a non-zero exit;
#   - a task that raises: its traceback names the script's file and line,
#     the other tasks stop, the run exits non-zero, the broker still answers;
#   - a task that ignores the stop: the run still ends (bounded), non-zero;
#   - Ctrl-C stops every task cleanly and the summary is printed;
#   - nmlua -e and the prompt.
set -u
t=test_nmlua_errors
. "$(dirname "$0")/nmlua_env.sh"

# expect NAME STATUS PATTERN CMD...: exit status STATUS (or "nonzero"), and
# stderr+stdout with exactly one line matching PATTERN.
expect() {
	name=$1 want=$2 pat=$3
	shift 3
	out=$dir/$name.out
	timeout 60 "$@" > "$out" 2>&1
	st=$?
	if [ "$want" = nonzero ]; then [ "$st" -ne 0 ] && [ "$st" -ne 124 ]; else [ "$st" -eq "$want" ]; fi
	good=$?
	if [ "$good" -eq 0 ] && [ "$(grep -c -E "$pat" "$out")" -ge 1 ]; then
		ok "$name (status $st): $(grep -E "$pat" "$out" | head -n 1)"
	else
		cat "$out"
		fail "$name: status $st (want $want), a line matching '$pat'"
	fi
}

cat > "$dir/badport.lua" <<'LUA'
local nm = require "nmkit"
function main()
  nm.open("vale0:no spaces here")
end
LUA
expect bad-port nonzero '^nmlua: badport\.lua:3: .*vale0:no spaces here' "$nmlua" "$dir/badport.lua"
[ "$(wc -l < "$dir/bad-port.out")" -eq 1 ] && ok "bad-port: one line" || fail "bad-port: one line"

expect bad-rate nonzero "^nmlua: quickstart\\.lua:[0-9]+: bad rate '5Mpx'" \
	"$nmlua" "$scripts/quickstart.lua" --rate 5Mpx --time 1 --switch valee1
[ "$(wc -l < "$dir/bad-rate.out")" -eq 1 ] && ok "bad-rate: one line" || fail "bad-rate: one line"
cat > "$dir/badmac.lua" <<'LUA'
local proto = require "nmkit.proto"
function main()
  proto.udp4({ src_mac = "02:00:zz:00:00:01" })
end
LUA
expect bad-mac nonzero "^nmlua: badmac\\.lua:3: proto.udp4: src_mac: bad MAC address '02:00:zz:00:00:01'" \
	"$nmlua" "$dir/badmac.lua"
[ "$(wc -l < "$dir/bad-mac.out")" -eq 1 ] && ok "bad-mac: one line" || fail "bad-mac: one line"
expect bad-option 2 "unknown option '--tim'" "$nmlua" "$scripts/quickstart.lua" --tim 1
expect bad-value 2 "malformed argument 'soon'" "$nmlua" "$scripts/quickstart.lua" --time soon
expect help 0 '[-]-rate <rate>' "$nmlua" "$scripts/quickstart.lua" --help

cat > "$dir/taskfail.lua" <<'LUA'
local nm = require "nmkit"
function main()
  local a = nm.spawn("spinner", "valee2:a")
  local b = nm.spawn("bad")
  b:join()
  a:join()
end
function spinner(port)
  local ring = nm.open(port):tx_ring(0)
  while nm.running() do ring:send(ring:space()) end
end
function bad()
  local t = nil
  return t.field   -- line 14
end
LUA
expect task-fails nonzero "^nmlua: task 'bad' failed: .*taskfail\\.lua:14: attempt to index" "$nmlua" "$dir/taskfail.lua"
grep -q 'stack traceback' "$dir/task-fails.out" && grep -q "taskfail.lua:14: in function" "$dir/task-fails.out" &&
	ok "task-fails: a traceback with the script's line" || fail "task-fails: traceback"
# The broker still serves everybody.
expect after-failure 0 '^summary rx valee2:sink0: received [1-9]' "$nmlua" "$scripts/quickstart.lua" --time 1 --switch valee2 --rate 100kpps

cat > "$dir/stuck.lua" <<'LUA'
local nm = require "nmkit"
function main()
  nm.spawn("stuck")
  nm.stop_after(0.5)
end
function stuck()
  local x = 0
  while true do x = x + 1 end
end
LUA
expect stuck nonzero "task 'stuck' did not stop within 10 s" "$nmlua" "$dir/stuck.lua"

# Ctrl-C: the tasks stop, the summary comes, status 0.
"$nmlua" "$scripts/quickstart.lua" --time 30 --switch valee3 --rate 100kpps > "$dir/int.out" 2>&1 &
pid=$!
sleep 2
kill -INT "$pid"
wait "$pid"
st=$?
if [ "$st" -eq 0 ] && grep -q '^summary rx valee3:sink0: received [1-9]' "$dir/int.out"; then
	ok "Ctrl-C: clean stop with the summary"
else
	cat "$dir/int.out"; fail "Ctrl-C: status $st"
fi

expect dash-e 0 '^42$' "$nmlua" -e 'print(6 * 7)'
printf 'x = 6 * 7\nx\n' | timeout 10 "$nmlua" -i > "$dir/prompt.out" 2>&1
grep -q '^42$' "$dir/prompt.out" && ok "the prompt evaluates" || { cat "$dir/prompt.out"; fail "prompt"; }

[ "$fails" -eq 0 ] || exit 1
exit 0
