#!/bin/sh
# test_nmlua_netns.sh - scripts/namespaces.lua: two namespaces' veths on a
# switch through the AF_PACKET driver, a ping and a UDP stream between them.
# Needs root and network namespaces (skips without them).
set -u
t=test_nmlua_netns
. "$(dirname "$0")/nmlua_env.sh"
if [ "$(id -u)" -ne 0 ] || ! ip netns add nmltest$$ 2>/dev/null; then
	echo "SKIP: needs root and network namespaces"
	exit 77
fi
ip netns del nmltest$$
command -v iperf3 > /dev/null || { echo "test_nmlua_netns: iperf3 is missing (.ci/deps installs it)"; exit 99; }
NMKIT_DRIVER_PATH=${NMKIT_TEST_BUILDDIR:-.}/drivers/af_packet/.libs
export NMKIT_DRIVER_PATH

out=$dir/ns.out
p=nml$$
if timeout 90 "$nmlua" "$scripts/namespaces.lua" --time 2 --prefix "$p" --switch valens1 > "$out" 2>&1; then
	ping=$(grep "^ping ${p}a -> ${p}b: 10 sent, 10 received" "$out")
	udp=$(grep "^udp ${p}a -> ${p}b: [0-9.]* Mbit/s received" "$out")
	rate=$(echo "$udp" | sed -n 's/.*: \([0-9.]*\) Mbit.*/\1/p')
	if [ -n "$ping" ] && [ -n "$rate" ] && awk -v r="$rate" 'BEGIN { exit !(r > 1) }'; then
		ok "$ping"
		ok "$udp"
	else
		cat "$out"; fail "ping 10/10 and a UDP stream"
	fi
else
	cat "$out"; fail "namespaces.lua exits 0"
fi
ip netns list | grep -q "^${p}[ab]" && fail "the namespaces are left behind"
[ "$fails" -eq 0 ] || exit 1
exit 0
