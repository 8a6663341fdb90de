#!/bin/sh
# test_nmlua_scripts.sh - every traffic script of scripts/ with a short
# --time, checking what it prints: the reporter's lines with non-zero
# rates, no loss where none is expected, the latency percentiles, the
# replayed frames all received, the VLAN splitter's frames where they
# belong.  (scripts/namespaces.lua needs root: test_nmlua_netns.sh.)
set -u
t=test_nmlua_scripts
. "$(dirname "$0")/nmlua_env.sh"

run() {
	name=$1
	shift
	out=$dir/$name.out
	if ! timeout 60 "$nmlua" "$scripts/$name.lua" "$@" > "$out" 2>&1; then
		cat "$out"
		fail "$name exits 0"
		return 1
	fi
	return 0
}

# The summary line of counter $2 in $1, e.g. "rx vale0:sink0".
summary() {
	grep "^summary $2:" "$1"
}

# quickstart: live rates every second, then no loss at a rate the sink keeps up with.
if run quickstart --time 2 --rate 50kpps --switch valeq1; then
	out=$dir/quickstart.out
	s=$(summary "$out" "rx valeq1:sink0")
	n=$(echo "$s" | sed -n 's/.*received \([0-9]*\) frames.*/\1/p')
	if [ -n "$n" ] && [ "$n" -gt 50000 ] && echo "$s" | grep -q "lost 0$"; then
		ok "quickstart: $s"
	else
		cat "$out"; fail "quickstart: received ${n:-?} frames without loss"
	fi
	if grep -E '^\[ *[0-9.]+ s\] rx valeq1:sink0 +0\.[0-9]*[1-9][0-9]* Mpps' "$out" > /dev/null; then
		ok "quickstart: live rates"
	else
		cat "$out"; fail "quickstart: a live rate line with a non-zero rate"
	fi
fi
# quickstart at full speed, in CSV: rates non-zero.
if run quickstart --time 1 --switch valeq2 --format csv; then
	if grep -q '^time,counter,dir,mpps' "$dir/quickstart.out" &&
	   grep -E '^[0-9.]+,tx valeq2:gen0,tx,[1-9]' "$dir/quickstart.out" > /dev/null; then
		ok "quickstart: csv at full speed"
	else
		cat "$dir/quickstart.out"; fail "quickstart: csv"
	fi
fi
if run quickstart --time 1 --switch valeq3 --format json --rate 100kpps; then
	grep -q '^{"time":[0-9.]*,"counter":"rx valeq3:sink0","dir":"rx","mpps":0.0[0-9]*' "$dir/quickstart.out" &&
		ok "quickstart: json" || { cat "$dir/quickstart.out"; fail "quickstart: json"; }
fi

# patch: two switches, every frame through the patch, none lost.
if run patch --time 2 --rate 50kpps --switches valep1 valep2; then
	out=$dir/patch.out
	s=$(summary "$out" "rx valep2:sink0")
	n=$(echo "$s" | sed -n 's/.*received \([0-9]*\) frames.*/\1/p')
	sent=$(summary "$out" "tx valep1:gen0" | sed -n 's/.*sent \([0-9]*\) frames.*/\1/p')
	if [ -n "$n" ] && [ "$n" -gt 20000 ] && [ "$n" = "$sent" ] && echo "$s" | grep -q 'lost 0$'; then
		ok "patch: $s"
	else
		cat "$out"; fail "patch: sent ${sent:-?} = received ${n:-?}, lost 0"
	fi
	grep -q "^patch forwarded $n frames" "$out" && ok "patch: forwarded all" || fail "patch: forwarded count"
fi

# latency: the percentiles.
if run latency --time 2 --rate 20kpps --switch valel1; then
	l=$(grep '^latency all: p50 .* p99 .* p99.9 .* max .*(\([0-9]*\) samples)' "$dir/latency.out")
	if [ -n "$l" ]; then ok "latency: $l"; else cat "$dir/latency.out"; fail "latency percentiles"; fi
fi

# replay: a capture written here (200 frames, 1 ms apart), played with its
# timing: every frame arrives, and it takes about 0.2 s.
cap=$dir/trace.pcap
"$nmlua" -e "
local pcap, proto = require 'nmkit.pcap', require 'nmkit.proto'
local w = pcap.writer('$cap', { nanos = true })
for i = 1, 200 do
  local t = proto.udp4{ size = 60 + i, dst_mac = string.format('02:00:00:00:%02x:%02x', i % 7, i) }
  w:write(t.bytes, t.len, 1.7e18 + i * 1e6)
end
w:close()" > "$dir/mkcap.out" 2>&1 || { cat "$dir/mkcap.out"; fail "writing a capture"; }
if run replay "$cap" --time 5 --switch valer1; then
	l=$(grep '^replayed 200 frames' "$dir/replay.out")
	secs=$(echo "$l" | sed -n 's/.* in \([0-9.]*\) s.*/\1/p')
	if echo "$l" | grep -q 'the sink received 200$' &&
	   awk -v s="$secs" 'BEGIN { exit !(s >= 0.18 && s < 0.6) }'; then
		ok "replay: $l"
	else
		cat "$dir/replay.out"; fail "replay: 200 frames in about 0.2 s, all received"
	fi
fi
if run replay "$cap" --time 5 --switch valer2 --speed 0 --loop 5; then
	grep -q '^replayed 1000 frames.*the sink received 1000$' "$dir/replay.out" &&
		ok "replay: 5 loops at full speed" || { cat "$dir/replay.out"; fail "replay --loop 5 --speed 0"; }
fi

# vlan-split: the Lua lookup puts each VLAN's frames on its port.
if run vlan-split --time 2 --vlans 10,20,30 --switch valev1; then
	out=$dir/vlan-split.out
	good=0
	for v in 10 20 30; do
		l=$(grep "^vlan $v -> valev1:v$v: received" "$out")
		n=$(echo "$l" | sed -n 's/.*received \([0-9]*\),.*/\1/p')
		if [ -n "$n" ] && [ "$n" -gt 10000 ] && echo "$l" | grep -q 'wrong vlan 0$'; then
			good=$((good + 1))
		fi
	done
	if [ "$good" = 3 ]; then ok "vlan-split: every VLAN on its port, none elsewhere"; else cat "$out"; fail "vlan-split"; fi
fi

[ "$fails" -eq 0 ] || exit 1
exit 0
