#!/bin/bash
# nmdump with the real tcpdump and tshark: the UDP frames pkt-gen sends
# through a switch are decoded with the right addresses and ports, both
# from a pipe (-w - | tcpdump -nr -) and from a file (tshark -r), and a BPF
# filter keeps only the matching frames.
set -u
B=${NMKIT_TEST_BUILDDIR:-.}/apps
for t in tcpdump tshark; do
	if ! command -v $t >/dev/null; then
		echo "SKIP: $t is not installed (.ci/deps installs it)"
		exit 77
	fi
done
dir=$(mktemp -d /tmp/nmkit-test-nmdump-XXXXXX)
export NMKIT_RUNDIR=$dir
sw=valend$(( $$ % 100000 ))
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	kill "$(cat "$dir/nmkitd.pid" 2>/dev/null)" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# The receiver must be open before a monitor of it can be.
"$B/pkt-gen/pkt-gen" -f rx -i $sw:b > "$dir/rx.out" 2>&1 &
pids+=($!)
for i in $(seq 100); do
	"$B/vale-ctl/vale-ctl" -l $sw:b >/dev/null 2>&1 && break
	sleep 0.05
done

# 1. A pipe into tcpdump.
"$B/nmdump/nmdump" -i $sw:b/r -c 20 -w - 2>"$dir/nd1.err" | tcpdump -nr - > "$dir/td.out" 2>"$dir/td.err" &
pids+=($!)
sleep 0.5
"$B/pkt-gen/pkt-gen" -f tx -i $sw:a -n 20 -l 60 -s 10.0.0.7:4000 -d 10.1.0.9:5000 > "$dir/tx1.out" 2>&1 \
	|| fail "pkt-gen tx failed: $(cat "$dir/tx1.out")"
for i in $(seq 100); do
	[ "$(grep -c UDP "$dir/td.out" 2>/dev/null)" -ge 20 ] && break
	sleep 0.05
done
cat "$dir/td.out" | head -3
[ "$(grep -c 'IP 10.0.0.7.4000 > 10.1.0.9.5000: UDP, length 18' "$dir/td.out")" -eq 20 ] \
	|| fail "tcpdump did not decode 20 UDP frames: $(cat "$dir/td.out" "$dir/td.err" "$dir/nd1.err")"
grep -q '20 packets captured' "$dir/nd1.err" || fail "nmdump summary: $(cat "$dir/nd1.err")"

# 2. A file for tshark, with a BPF filter that keeps one of two flows.
"$B/nmdump/nmdump" -i $sw:b/r -c 10 -w "$dir/cap.pcap" udp dst port 6000 2>"$dir/nd2.err" &
nd=$!
pids+=($nd)
sleep 0.5
"$B/pkt-gen/pkt-gen" -f tx -i $sw:a -n 10 -l 100 -s 10.0.0.7:4000 -d 10.1.0.9:5000 > /dev/null 2>&1
"$B/pkt-gen/pkt-gen" -f tx -i $sw:a -n 10 -l 100 -s 10.0.0.8:4001 -d 10.1.0.10:6000 > /dev/null 2>&1
for i in $(seq 100); do
	kill -0 $nd 2>/dev/null || break
	sleep 0.05
done
kill -0 $nd 2>/dev/null && fail "nmdump did not stop after 10 matching frames: $(cat "$dir/nd2.err")"
tshark -r "$dir/cap.pcap" -T fields -e ip.src -e udp.srcport -e ip.dst -e udp.dstport -e frame.len \
	> "$dir/ts.out" 2>"$dir/ts.err" || fail "tshark: $(cat "$dir/ts.err")"
head -2 "$dir/ts.out"
[ "$(grep -cP '^10\.0\.0\.8\t4001\t10\.1\.0\.10\t6000\t100$' "$dir/ts.out")" -eq 10 ] \
	|| fail "tshark did not decode the 10 filtered frames: $(cat "$dir/ts.out")"
[ "$(wc -l < "$dir/ts.out")" -eq 10 ] || fail "the filter let other frames through"
grep -q '20 packets received by filter' "$dir/nd2.err" || fail "nmdump summary: $(cat "$dir/nd2.err")"
# Nanosecond timestamps in the file header (magic a1b23c4d, little-endian).
[ "$(od -An -tx1 -N4 "$dir/cap.pcap" | tr -d ' ')" = "4d3cb2a1" ] || fail "not a nanosecond pcap file"

# 3. Errors name the cause.
"$B/nmdump/nmdump" -i $sw:nobody/r 2>&1 | grep -q "no such open port" || fail "monitor of a closed port"
"$B/nmdump/nmdump" -i $sw:b/r 'udp port' 2>&1 | grep -q "bad filter" || fail "bad filter"
echo "PASS: nmdump with tcpdump and tshark"
