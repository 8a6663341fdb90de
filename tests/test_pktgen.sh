#!/bin/sh
# test_pktgen.sh - pkt-gen over VALE and pipes (reference §5.1): its output
# lines have netmap's formats, and every packet is accounted for:
#   - tx -> rx over a VALE switch: received + the sender's drop_full and
#     drop_nodst counters (vale-ctl -l) = sent, exactly;
#   - tx -> rx over a pipe with 1500-byte frames: received = sent;
#   - ping / pong over VALE: RTT lines;
#   - txseq -> rxseq over a pipe, stopped with SIGINT: no sequence gap,
#     received = sent.
# Runs against its own broker in its own runtime directory.
set -u

top=${NMKIT_TEST_BUILDDIR:-.}
pg=$top/apps/pkt-gen/pkt-gen
vc=$top/apps/vale-ctl/vale-ctl
hold=$top/tests/helpers/hold_port
for f in "$pg" "$vc" "$hold"; do
	if [ ! -x "$f" ]; then
		echo "test_pktgen: $f is not built"
		exit 99
	fi
done
if [ -z "${NMKIT_BROKER:-}" ] || [ ! -x "$NMKIT_BROKER" ]; then
	echo "test_pktgen: NMKIT_BROKER must name the nmkitd binary"
	exit 99
fi

dir=$(mktemp -d /tmp/nmkit-test-pktgen-XXXXXX) || exit 99
NMKIT_RUNDIR=$dir
export NMKIT_RUNDIR
pids=
cleanup() {
	for p in $pids; do
		kill -9 "$p" 2>/dev/null
	done
	[ -f "$dir/nmkitd.pid" ] && kill "$(cat "$dir/nmkitd.pid")" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fails=0
sw=valepg$$
pipe=pgp$$
seqpipe=pgs$$

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# start NAME ARGS...: run pkt-gen ARGS in the background, output in
# $dir/NAME.out and $dir/NAME.err; its pid in $last.
start() {
	name=$1
	shift
	"$pg" "$@" > "$dir/$name.out" 2> "$dir/$name.err" &
	last=$!
	pids="$pids $last"
	echo "run: pkt-gen $* ($name, pid $last)"
}

# await PID SECS NAME: wait for PID to exit within SECS seconds (else kill
# it and fail); its exit status must be 0.
await() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		if [ $i -ge $(($2 * 20)) ]; then
			fail "$3 did not finish within $2 s; stderr: $(tail -5 "$dir/$3.err")"
			kill -9 "$1" 2>/dev/null
			break
		fi
		sleep 0.05
		i=$((i + 1))
	done
	wait "$1"
	rc=$?
	[ $rc = 0 ] || fail "$3 exited with $rc; stderr: $(tail -5 "$dir/$3.err")"
}

# ready NAME: wait (5 s at most) until pkt-gen NAME printed its start line,
# that is, until its port is open.
ready() {
	i=0
	while ! grep -q -E '^(Sending on|Receiving from|Working on) ' "$dir/$1.out" 2>/dev/null; do
		if [ $i -ge 100 ]; then
			fail "$1 did not start: $(cat "$dir/$1.err")"
			return 1
		fi
		sleep 0.05
		i=$((i + 1))
	done
}

# match NAME FILE REGEX: some line of $dir/NAME.FILE must match REGEX.
match() {
	if grep -q -E -- "$3" "$dir/$1.$2"; then
		echo "ok: $1.$2 matches /$3/"
	else
		fail "$1.$2 has no line matching /$3/:"
		sed 's/^/    /' "$dir/$1.$2"
	fi
}

# count NAME WORD: N from "WORD N packets ..." on stdout.
count() {
	sed -n "s/^$2 \\([0-9][0-9]*\\) packets .*/\\1/p" "$dir/$1.out"
}

num='[0-9]+\.[0-9]{3} [KMGT]?'
mac='([0-9a-f]{2}:){5}[0-9a-f]{2}'
d_prefix='^[0-9]{3}\.[0-9]{6} [A-Za-z_0-9]+ \[[0-9]+\] '
start_re='queues, [0-9]+ threads and [0-9]+ cpus\.$'
sent_re='^Sent [0-9]+ packets [0-9]+ bytes [0-9]+ events [0-9]+ bytes each in [0-9]+\.[0-9]{2} seconds\.$'
recv_re='^Received [0-9]+ packets [0-9]+ bytes [0-9]+ events [0-9]+ bytes each in [0-9]+\.[0-9]{2} seconds\.$'
speed_re="^Speed: ${num}pps Bandwidth: ${num}bps \\(raw ${num}bps\\)\\. Average batch: [0-9]+\\.[0-9]{2} pkts\$"
speed_n_re='^Speed: [0-9]+ pps Bandwidth: [0-9]+ bps \(raw [0-9]+ bps\)\. Average batch: [0-9]+\.[0-9]{2} pkts$'
ival_re="${d_prefix}${num}pps \\(${num}pkts ${num}bps in [0-9]+ usec\\) [0-9]+\\.[0-9]{2} avg_batch [0-9]+ min_space\$"
ival_a_re="${d_prefix}${num}pps \\[avg/std ${num}/${num} pps\\]\\(${num}pkts ${num}bps in [0-9]+ usec\\) [0-9]+\\.[0-9]{2} avg_batch [0-9]+ min_space\$"
ival_n_re="${d_prefix}[0-9]+ pps \\([0-9]+ pkts [0-9]+ bps in [0-9]+ usec\\) [0-9]+\\.[0-9]{2} avg_batch [0-9]+ min_space\$"

# ---- tx -> rx over VALE ----------------------------------------------------
# The receiver (-W: it ends after 1 s of silence, -A: pps statistics), a
# holder that keeps port a (and so its counters) after the sender is gone,
# then the sender.
start vrx -f rx -i "$sw:b" -W -A
rx=$last
ready vrx
"$hold" "$sw:a" > "$dir/hold.out" 2>&1 &
holder=$!
pids="$pids $holder"
i=0
while ! grep -q ready "$dir/hold.out"; do
	[ $i -ge 100 ] && { fail "hold_port $sw:a: $(cat "$dir/hold.out")"; break; }
	sleep 0.05
	i=$((i + 1))
done
start vtx -f tx -i "$sw:a" -n 200000 -l 60
await $last 15 vtx
await $rx 15 vrx

match vtx out "^Sending on $sw:a: 1 $start_re"
match vtx out "^10\\.0\\.0\\.1 -> 10\\.1\\.0\\.1 \\($mac -> ff:ff:ff:ff:ff:ff\\)\$"
match vtx out "$sent_re"
match vtx out '^Sent 200000 packets 12000000 bytes [0-9]+ events 60 bytes each'
match vtx out "$speed_re"
match vrx out "^Receiving from $sw:b: 1 $start_re"
match vrx out "$recv_re"
match vrx out "$speed_re"
match vrx err "$ival_a_re"

recv=$(count vrx Received)
row=$("$vc" -l | awk -v n="$sw:a" '$1 == n { print $5, $9, $11 }')
echo "vale: received ${recv:-?}; port a tx_pkts, drop_full, drop_nodst: ${row:-?}"
set -- $row
if [ -z "$recv" ] || [ $# -ne 3 ]; then
	fail "cannot read the counts (received '$recv', vale-ctl row '$row')"
elif [ "$1" != 200000 ]; then
	fail "vale-ctl says port a sent $1 frames, not 200000"
elif [ $((recv + $2 + $3)) != 200000 ]; then
	fail "received $recv + drop_full $2 + drop_nodst $3 != 200000 sent"
else
	echo "ok: received $recv + drop_full $2 + drop_nodst $3 = 200000"
fi
kill "$holder" 2>/dev/null
wait "$holder" 2>/dev/null

# ---- tx -> rx over a pipe, 1500-byte frames ---------------------------------
# Pipes lose nothing; -N prints plain numbers.
start prx -f rx -i "$pipe}1" -W -N -w 0
rx=$last
ready prx
start ptx -f tx -i "$pipe{1" -n 200000 -l 1500 -w 0
await $last 15 ptx
await $rx 15 prx
match ptx out "^Sending on netmap:$pipe\\{1: 1 $start_re"
match ptx out '^Sent 200000 packets 300000000 bytes [0-9]+ events 1500 bytes each in [0-9]+\.[0-9]{2} seconds\.$'
match ptx out "$speed_re"
match prx out '^Received 200000 packets 300000000 bytes [0-9]+ events 1500 bytes each in [0-9]+\.[0-9]{2} seconds\.$'
match prx out "$speed_n_re"
match prx err "$ival_n_re"

# ---- ping / pong over VALE ----------------------------------------------------
# 3000 pings at 2000 per second: at least one per-second RTT line.
start pong -f pong -i "$sw:pong"
pong=$last
ready pong
start ping -f ping -i "$sw:ping" -n 3000 -R 2000
await $last 15 ping
kill -INT $pong 2>/dev/null
await $pong 5 pong
match ping out "^Working on $sw:ping: 1 $start_re"
match ping err "${d_prefix}count [0-9]+ RTT: min [0-9]+ av [0-9]+ ns\$"
match ping err "${d_prefix}k: [0-9]+ \\.\\. [0-9]+\$"
match ping err "${d_prefix}RTT over 3000 packets: min [0-9]+ av [0-9]+ ns\$"
if grep -q 'count 0 RTT' "$dir/ping.err"; then
	fail "a second without any reply: $(cat "$dir/ping.err")"
fi

# ---- txseq -> rxseq over a pipe, stopped by SIGINT --------------------------
start rxseq -f rxseq -i "$seqpipe}1" -W -w 0
rx=$last
ready rxseq
start txseq -f txseq -i "$seqpipe{1" -w 0
tx=$last
ready txseq
sleep 1
kill -INT $tx
await $tx 10 txseq
await $rx 10 rxseq
match txseq out "$sent_re"
match rxseq out "$recv_re"
if grep -q -E 'Sequence (GAP|OUT OF ORDER)|frags, expected' "$dir/rxseq.err"; then
	fail "rxseq saw a sequence error:"
	grep -E 'Sequence|frags' "$dir/rxseq.err" | head -5
else
	echo "ok: rxseq saw no sequence gap"
fi
s=$(count txseq Sent)
r=$(count rxseq Received)
if [ -z "$s" ] || [ "$s" != "$r" ]; then
	fail "txseq sent '$s' packets, rxseq received '$r'"
else
	echo "ok: txseq sent $s, rxseq received $r"
fi

# A sanitizer build reports on stderr.
if grep -l -E 'AddressSanitizer|LeakSanitizer|runtime error:' "$dir"/*.err 2>/dev/null; then
	fail "sanitizer reports (above files)"
fi

if [ $fails -ne 0 ]; then
	echo "test_pktgen: $fails failure(s)"
	exit 1
fi
echo "test_pktgen: all passed"
exit 0
