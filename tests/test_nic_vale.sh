#!/bin/bash
# A VALE switch between two NICs: two network namespaces, each joined to the
# root namespace by a veth pair whose root end is attached to one VALE switch
# with "vale-ctl -a" (the broker forwards between the interface, opened
# through the afpacket plugin, and the switch).  Ping and an iperf3 TCP
# stream must go through; after "vale-ctl -d" on both ends they must not.
set -u
B=$(cd "${NMKIT_TEST_BUILDDIR:-.}" && pwd)
vc=$B/apps/vale-ctl/vale-ctl
for t in iperf3 ping ethtool timeout; do
	if ! command -v $t > /dev/null 2>&1; then
		echo "SKIP: $t is not installed"
		exit 77
	fi
done
ns1=nmkv$$a ns2=nmkv$$b
if [ "$(id -u)" != 0 ] || ! ip netns add $ns1 2>/dev/null; then
	echo "SKIP: needs root and network namespaces"
	exit 77
fi
# Unique names: the root ends live in the root namespace, shared with any
# other run of this test.
v1a=nmv$$1a v1b=nmv$$1b v2a=nmv$$2a v2b=nmv$$2b
SW=vale$(( $$ % 100000 ))
dir=$(mktemp -d /tmp/nmkit-test-nicvale-XXXXXX)
export NMKIT_RUNDIR=$dir NMKIT_DRIVER_PATH=$B/drivers/af_packet/.libs
srv=
cleanup() {
	[ -n "$srv" ] && kill $srv 2>/dev/null
	if [ -f "$dir/nmkitd.pid" ]; then
		# Detach first (best effort), so the broker lets go of the
		# interfaces even if it were slow to die.
		timeout 3 "$vc" -d $SW:$v1b > /dev/null 2>&1
		timeout 3 "$vc" -d $SW:$v2b > /dev/null 2>&1
		kill "$(cat "$dir/nmkitd.pid")" 2>/dev/null
	fi
	ip netns del $ns1 2>/dev/null
	ip netns del $ns2 2>/dev/null
	# Deleting the namespaces deletes the veth pairs; this is in case
	# one was never moved.
	ip link del $v1b 2>/dev/null
	ip link del $v2b 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
fail() { echo "FAIL: $*"; exit 1; }
ok() { echo "ok: $*"; }

[ -x "$vc" ] || fail "$vc is not built"
"$vc" --drivers | grep -q '^afpacket' || fail "the afpacket plugin is not found"

# --- the network ---------------------------------------------------------
ip netns add $ns2 || fail "cannot create namespace $ns2"
ip link add $v1a type veth peer name $v1b || fail "cannot create a veth pair"
ip link add $v2a type veth peer name $v2b || fail "cannot create a veth pair"
ip link set $v1a netns $ns1 || fail "cannot move $v1a to $ns1"
ip link set $v2a netns $ns2 || fail "cannot move $v2a to $ns2"
# No IPv6 anywhere on the path: the kernel would send its own frames
# (router solicitations, DAD) through the switch.
for n in $ns1 $ns2; do
	ip netns exec $n sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec $n sysctl -qw net.ipv6.conf.default.disable_ipv6=1
done
sysctl -qw net.ipv6.conf.$v1b.disable_ipv6=1
sysctl -qw net.ipv6.conf.$v2b.disable_ipv6=1
# Frames cross the switch as the wire would carry them: the senders must
# compute checksums and never hand over segments larger than the MTU
# (checksum and segmentation offloads leave that to a "device" which here
# is the switch, and it does not do it).
for n in $ns1:$v1a $ns2:$v2a; do
	ip netns exec ${n%%:*} ethtool -K ${n#*:} tx off > /dev/null 2>&1 ||
		fail "cannot turn off checksum offload on ${n#*:}"
	for f in tso gso gro; do
		ip netns exec ${n%%:*} ethtool -K ${n#*:} $f off > /dev/null 2>&1
	done
done
for i in $v1b $v2b; do
	for f in tx tso gso gro; do
		ethtool -K $i $f off > /dev/null 2>&1
	done
done
ip -n $ns1 addr add 10.77.0.1/24 dev $v1a
ip -n $ns2 addr add 10.77.0.2/24 dev $v2a
ip -n $ns1 link set lo up
ip -n $ns2 link set lo up
ip -n $ns1 link set $v1a up
ip -n $ns2 link set $v2a up
ip link set $v1b up
ip link set $v2b up
ok "namespaces $ns1 ($v1a 10.77.0.1) and $ns2 ($v2a 10.77.0.2), root ends $v1b $v2b"

# --- attach --------------------------------------------------------------
out=$(timeout 10 "$vc" -a $SW:nosuchif 2>&1)
rc=$?
[ $rc = 1 ] || fail "vale-ctl -a $SW:nosuchif: exit $rc, expected 1: $out"
[ -n "$out" ] || fail "vale-ctl -a $SW:nosuchif: exit 1 but no message"
ok "vale-ctl -a $SW:nosuchif -> 1 ($out)"

for i in $v1b $v2b; do
	out=$(timeout 10 "$vc" -a $SW:$i 2>&1)
	rc=$?
	[ $rc = 0 ] || fail "vale-ctl -a $SW:$i: exit $rc: $out"
	ok "vale-ctl -a $SW:$i -> 0"
done
# The attachment is made by the broker, which may need a moment: wait
# up to 3 s for it to be listed.
for i in $v1b $v2b; do
	n=0
	until timeout 5 "$vc" -l $SW:$i > /dev/null 2>&1; do
		n=$((n + 1))
		[ $n -lt 30 ] || fail "vale-ctl -l $SW:$i: not listed after 3 s: $("$vc" -l $SW:$i 2>&1)"
		sleep 0.1
	done
	ok "vale-ctl -l $SW:$i: $("$vc" -l $SW:$i 2>&1 | tr '\n' ' ')"
done
list=$(timeout 5 "$vc" -l 2>&1) || fail "vale-ctl -l: $list"
for i in $v1b $v2b; do
	printf '%s\n' "$list" | grep -q "^$SW:$i[[:space:]]" ||
		fail "vale-ctl -l does not list $SW:$i: $list"
done
ok "vale-ctl -l lists $SW:$v1b and $SW:$v2b"

# --- traffic -------------------------------------------------------------
out=$(timeout 15 ip netns exec $ns1 ping -c 3 -W 2 10.77.0.2 2>&1) ||
	fail "ping 10.77.0.2 through $SW: $out"
ok "ping through $SW: $(printf '%s\n' "$out" | grep 'packets transmitted')"

# The server serves one client and exits; timeout bounds it if the client
# never comes.
timeout 30 ip netns exec $ns2 iperf3 -s -1 -B 10.77.0.2 > "$dir/iperf3-s.out" 2>&1 &
srv=$!
n=0
until ip netns exec $ns2 ss -ltnH 2>/dev/null | grep -q '10.77.0.2:5201'; do
	n=$((n + 1))
	[ $n -lt 50 ] || fail "the iperf3 server does not listen: $(cat "$dir/iperf3-s.out")"
	sleep 0.1
done
timeout 20 ip netns exec $ns1 iperf3 -c 10.77.0.2 -t 3 -J > "$dir/iperf3-c.json" 2>&1 ||
	fail "iperf3 client: $(cat "$dir/iperf3-c.json")"
# iperf3 -J prints indented JSON, one field a line: the first
# bits_per_second after "sum_received" is the receiver's rate.
bps=$(awk -F: '/"sum_received"/ { f = 1 }
	f && /"bits_per_second"/ { v = $2; gsub(/[ \t,]/, "", v); print v; exit }' "$dir/iperf3-c.json")
awk -v b="${bps:-0}" 'BEGIN { exit !(b + 0 > 0) }' ||
	fail "iperf3: no data received (bits_per_second '${bps:-}'): $(cat "$dir/iperf3-c.json")"
wait $srv 2>/dev/null
srv=
ok "iperf3 TCP through $SW: $(awk -v b="$bps" 'BEGIN { printf "%.1f Mbit/s", b / 1e6 }')"

# --- detach --------------------------------------------------------------
for i in $v1b $v2b; do
	out=$(timeout 10 "$vc" -d $SW:$i 2>&1)
	rc=$?
	[ $rc = 0 ] || fail "vale-ctl -d $SW:$i: exit $rc: $out"
	ok "vale-ctl -d $SW:$i -> 0"
done
list=$(timeout 5 "$vc" -l 2>&1)
for i in $v1b $v2b; do
	printf '%s\n' "$list" | grep -q "^$SW:$i[[:space:]]" &&
		fail "vale-ctl -l still lists $SW:$i after -d: $list"
done
ok "vale-ctl -l no longer lists them"
if out=$(timeout 10 ip netns exec $ns1 ping -c 2 -W 1 10.77.0.2 2>&1); then
	fail "ping still goes through after detaching: $out"
fi
ok "ping fails after detaching: $(printf '%s\n' "$out" | grep 'packets transmitted')"
echo "PASS: ping and iperf3 across VALE switch $SW between two NICs; -d stops them"
