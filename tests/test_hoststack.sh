#!/bin/bash
# vale-ctl -h: a NIC attached with its host stack.  The other end of a veth
# lives in a namespace; our end is attached to a switch with -h, which also
# wires a tap (<if>_h) to this host's IP stack: the namespace pings the
# host's address on that tap through the switch, and -d removes both.
set -u
B=${NMKIT_TEST_BUILDDIR:-.}
if [ "$(id -u)" != 0 ] || [ ! -c /dev/net/tun ] || ! ip netns add nmkh$$ 2>/dev/null; then
	echo "SKIP: needs root, /dev/net/tun and network namespaces"
	exit 77
fi
ns=nmkh$$ va=nmh$$a vb=nmh$$b sw=valeh$(( $$ % 100000 ))
dir=$(mktemp -d /tmp/nmkit-test-host-XXXXXX)
mkdir "$dir/drivers"
cp "$B/drivers/af_packet/.libs/afpacket.so" "$B/drivers/tap/.libs/tap.so" "$dir/drivers/"
chmod 755 "$dir/drivers"
export NMKIT_RUNDIR=$dir NMKIT_DRIVER_PATH=$dir/drivers
cleanup() {
	"$B/apps/vale-ctl/vale-ctl" -d $sw:$vb >/dev/null 2>&1
	ip netns del $ns 2>/dev/null
	ip link del $vb 2>/dev/null
	kill "$(cat "$dir/nmkitd.pid" 2>/dev/null)" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

ip link add $va type veth peer name $vb || fail "cannot create a veth pair"
ip link set $va netns $ns
ip -n $ns addr add 10.79.0.1/24 dev $va
ip -n $ns link set $va up
ip link set $vb up
sysctl -qw net.ipv6.conf.$vb.disable_ipv6=1

"$B/apps/vale-ctl/vale-ctl" -h $sw:$vb || fail "vale-ctl -h $sw:$vb"
for i in $(seq 30); do ip link show ${vb}_h >/dev/null 2>&1 && break; sleep 0.1; done
ip link show ${vb}_h >/dev/null 2>&1 || fail "no host tap ${vb}_h"
ip addr add 10.79.0.2/24 dev ${vb}_h
ip link set ${vb}_h up
"$B/apps/vale-ctl/vale-ctl" | grep -q "^$sw:${vb}_h " || fail "the host port is not listed"
ip netns exec $ns ping -c 3 -W 2 10.79.0.2 || fail "ping through the switch to the host stack"
"$B/apps/vale-ctl/vale-ctl" -d $sw:$vb || fail "vale-ctl -d"
for i in $(seq 30); do ip link show ${vb}_h >/dev/null 2>&1 || break; sleep 0.1; done
ip link show ${vb}_h >/dev/null 2>&1 && fail "the host tap is still there after -d"
echo "PASS: vale-ctl -h wires the host stack through a tap, -d removes it"
