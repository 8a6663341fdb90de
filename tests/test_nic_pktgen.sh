#!/bin/bash
# pkt-gen on NICs through the afpacket driver plugin: two network
# namespaces joined by a veth pair, a sender in one ("afpacket:<if>") and a
# receiver in the other ("netmap:<if>", so the best driver is picked): every
# frame sent arrives.
set -u
B=${NMKIT_TEST_BUILDDIR:-.}
if [ "$(id -u)" != 0 ] || ! ip netns add nmkt$$a 2>/dev/null; then
	echo "SKIP: needs root and network namespaces"
	exit 77
fi
ns1=nmkt$$a ns2=nmkt$$b va=nmk$$a vb=nmk$$b
dir=$(mktemp -d /tmp/nmkit-test-nic-XXXXXX)
export NMKIT_RUNDIR=$dir NMKIT_DRIVER_PATH=$B/drivers/af_packet/.libs
cleanup() {
	kill %1 2>/dev/null
	ip netns del $ns1 2>/dev/null
	ip netns del $ns2 2>/dev/null
	kill "$(cat "$dir/nmkitd.pid" 2>/dev/null)" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

ip netns add $ns2
ip link add $va type veth peer name $vb || fail "cannot create a veth pair"
ip link set $va netns $ns1
ip link set $vb netns $ns2
ip -n $ns1 link set $va up
ip -n $ns2 link set $vb up
# No IPv6 on these links: the kernel would send its own frames on them.
ip netns exec $ns1 sysctl -qw net.ipv6.conf.all.disable_ipv6=1
ip netns exec $ns2 sysctl -qw net.ipv6.conf.all.disable_ipv6=1

"$B/apps/vale-ctl/vale-ctl" --drivers | grep -q '^afpacket' || fail "the afpacket plugin is not found"

ip netns exec $ns2 "$B/apps/pkt-gen/pkt-gen" -f rx -i netmap:$vb -W -w 0 > "$dir/rx.out" 2>&1 &
sleep 1
# Paced (100 Kpps): a veth has no flow control, and under a loaded make -j
# check a receiver descheduled for a few ms would lose a burst to its full
# socket ring, which says nothing about nmkit.
ip netns exec $ns1 "$B/apps/pkt-gen/pkt-gen" -f tx -i afpacket:$va -n 50000 -l 60 -w 0 -R 100000 \
	> "$dir/tx.out" 2>&1 || fail "sender: $(cat "$dir/tx.out")"
wait %1
cat "$dir/tx.out" "$dir/rx.out" | grep -a -E '^(Sent|Received|Speed)'
grep -aq '^Sent 50000 packets' "$dir/tx.out" || fail "sender: $(cat "$dir/tx.out")"
got=$(grep -a '^Received' "$dir/rx.out" | awk '{print $2}')
[ "${got:-0}" -ge 50000 ] || fail "received ${got:-0} of 50000: $(cat "$dir/rx.out")"
echo "PASS: 50000 frames over afpacket between two namespaces"
