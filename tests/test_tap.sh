#!/bin/bash
# The tap driver plugin.  A tap "wire" and a veth on one VALE switch: the
# broker creates the tap when it is first opened through the plugin (made
# persistent by a first "tap:<name>@persist=1" open so that vale-ctl -a can
# find it by name), attaches it and the root end of a veth pair to the
# switch, and the tap is then moved into namespace nsT (the open descriptor
# keeps working).  A ping from the veth's namespace nsA to the tap's address
# in nsT must cross the switch.  Then pkt-gen sends 100 frames straight into
# a tap ("tap:<name>") and the tap interface must count them as received.
set -u
B=$(cd "${NMKIT_TEST_BUILDDIR:-.}" && pwd)
vc=$B/apps/vale-ctl/vale-ctl
pg=$B/apps/pkt-gen/pkt-gen
for t in ping timeout; do
	if ! command -v $t > /dev/null 2>&1; then
		echo "SKIP: $t is not installed"
		exit 77
	fi
done
if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root"
	exit 77
fi
if [ ! -c /dev/net/tun ]; then
	echo "SKIP: no /dev/net/tun"
	exit 77
fi
nsA=nmktA$$ nsT=nmktT$$
if ! ip netns add $nsA 2>/dev/null; then
	echo "SKIP: needs network namespaces"
	exit 77
fi
tap=nmktap$$ tap2=nmktq$$ vA=nmkva$$ vB=nmkvb$$
SW=vale$(( $$ % 100000 ))
dir=$(mktemp -d /tmp/nmkit-test-tap-XXXXXX)
# The plugins are loaded only from a directory that nobody else may write.
drv=$dir/drivers
mkdir -m 0755 "$drv"
install -m 0755 -o root "$B/drivers/af_packet/.libs/afpacket.so" "$drv/" &&
	install -m 0755 -o root "$B/drivers/tap/.libs/tap.so" "$drv/" || {
	echo "FAIL: the plugins are not built"
	exit 1
}
export NMKIT_RUNDIR=$dir/run NMKIT_DRIVER_PATH=$drv
mkdir -m 0700 "$NMKIT_RUNDIR"
cleanup() {
	if [ -f "$NMKIT_RUNDIR/nmkitd.pid" ]; then
		timeout 3 "$vc" -d $SW:$tap > /dev/null 2>&1
		timeout 3 "$vc" -d $SW:$vB > /dev/null 2>&1
		kill "$(cat "$NMKIT_RUNDIR/nmkitd.pid")" 2>/dev/null
	fi
	# The taps are persistent: delete them wherever they are.
	ip -n $nsT link del $tap 2>/dev/null
	ip link del $tap 2>/dev/null
	ip link del $tap2 2>/dev/null
	ip netns del $nsA 2>/dev/null
	ip netns del $nsT 2>/dev/null
	ip link del $vB 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

"$vc" --drivers | grep -q '^tap' || fail "the tap plugin is not found: $("$vc" --drivers 2>&1)"

# --- pkt-gen straight into a tap ----------------------------------------
# The first open creates it (create=1 is the default); persist=1 keeps it.
out=$(timeout 10 "$pg" -f tx -i tap:$tap2@persist=1 -n 1 -l 60 -w 0 2>&1) ||
	fail "pkt-gen creating $tap2: $out"
[ -e /sys/class/net/$tap2/tun_flags ] || fail "$tap2 was not created: $out"
sysctl -qw net.ipv6.conf.$tap2.disable_ipv6=1
before=$(cat /sys/class/net/$tap2/statistics/rx_packets)
out=$(timeout 10 "$pg" -f tx -i tap:$tap2 -n 100 -l 60 -w 0 2>&1) ||
	fail "pkt-gen -i tap:$tap2: $out"
after=$(cat /sys/class/net/$tap2/statistics/rx_packets)
[ $((after - before)) = 100 ] ||
	fail "$tap2 received $((after - before)) frames, expected 100: $out"
ok "pkt-gen -i tap:$tap2 -n 100: the tap counted 100 frames received"
ip link del $tap2

# --- the network ---------------------------------------------------------
ip netns add $nsT || fail "cannot create namespace $nsT"
ip link add $vA type veth peer name $vB || fail "cannot create a veth pair"
ip link set $vA netns $nsA || fail "cannot move $vA to $nsA"
for n in $nsA $nsT; do
	ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec $n sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
sysctl -qw net.ipv6.conf.$vB.disable_ipv6=1
# Checksums computed by the sender: the switch is no device that would.
ethtool -K $vB tx off > /dev/null 2>&1
ip netns exec $nsA ethtool -K $vA tx off > /dev/null 2>&1
ip -n $nsA addr add 10.78.0.1/24 dev $vA
ip -n $nsA link set $vA up
ip link set $vB up

# The tap: created by the driver, kept after that open.
out=$(timeout 10 "$pg" -f tx -i tap:$tap@persist=1 -n 1 -l 60 -w 0 2>&1) ||
	fail "pkt-gen creating $tap: $out"
[ -e /sys/class/net/$tap/tun_flags ] || fail "$tap was not created: $out"
sysctl -qw net.ipv6.conf.$tap.disable_ipv6=1

# --- attach --------------------------------------------------------------
for i in $tap $vB; do
	out=$(timeout 10 "$vc" -a $SW:$i 2>&1) || fail "vale-ctl -a $SW:$i: $out"
	ok "vale-ctl -a $SW:$i"
done
for i in $tap $vB; do
	n=0
	until timeout 5 "$vc" -l $SW:$i > /dev/null 2>&1; do
		n=$((n + 1))
		[ $n -lt 30 ] || fail "vale-ctl -l $SW:$i: not listed after 3 s"
		sleep 0.1
	done
done
# A second opener beside the broker's: the driver made a multi-queue tap.
out=$(timeout 10 "$pg" -f tx -i tap:$tap -n 10 -l 60 -w 0 2>&1) ||
	fail "a second opener of $tap beside the broker: $out"
ok "a second opener of $tap works beside the broker's (IFF_MULTI_QUEUE)"
# One ring pair only, said clearly.
out=$(timeout 10 "$pg" -f tx -i tap:$tap@rings=2 -n 1 -w 0 2>&1) &&
	fail "tap:$tap@rings=2 was accepted: $out"
printf '%s\n' "$out" | grep -q 'not supported' || fail "tap:$tap@rings=2: unclear refusal: $out"
ok "tap:$tap@rings=2 refused"
# The broker holds the tap open; it works on from another namespace.
ip link set $tap netns $nsT || fail "cannot move $tap to $nsT"
ip -n $nsT addr add 10.78.0.2/24 dev $tap
ip -n $nsT link set $tap up
ok "$tap (10.78.0.2) in $nsT, $vA (10.78.0.1) in $nsA, $vB and $tap on $SW"

# --- traffic -------------------------------------------------------------
out=$(timeout 15 ip netns exec $nsA ping -c 3 -W 2 10.78.0.2 2>&1) ||
	fail "ping 10.78.0.2 through $SW: $out"
ok "ping from $nsA to the tap in $nsT: $(printf '%s\n' "$out" | grep 'packets transmitted')"

# --- detach --------------------------------------------------------------
for i in $tap $vB; do
	out=$(timeout 10 "$vc" -d $SW:$i 2>&1) || fail "vale-ctl -d $SW:$i: $out"
	ok "vale-ctl -d $SW:$i"
done
echo "PASS: a tap and a veth talk through $SW"
