#!/bin/bash
# The pcap driver's file ports: 200 frames of 60..1514 bytes, each with its
# own contents, replayed from a pcap file ("pcap:src@in=IN") through a VALE
# switch (flooded: unknown destinations) and written by another pcap port
# ("pcap:dst@out=OUT") come out the same, in order and byte for byte; with
# @loop=2 twice over; a bad parameter value is refused, naming the key.
set -u
B=${NMKIT_TEST_BUILDDIR:-.}
so=$B/drivers/pcap/.libs/pcap.so
if [ ! -f "$so" ]; then
	echo "SKIP: the pcap driver plugin is not built (libpcap missing?)"
	exit 77
fi
if ! command -v python3 >/dev/null; then
	echo "SKIP: python3 is not installed"
	exit 77
fi
dir=$(mktemp -d /tmp/nmkit-test-pcapdrv-XXXXXX)
mkdir "$dir/drv" "$dir/run"
cp "$so" "$dir/drv/pcap.so" && chmod 0755 "$dir/drv/pcap.so"
export NMKIT_RUNDIR=$dir/run NMKIT_DRIVER_PATH=$dir/drv
sw=valepd$(( $$ % 100000 ))
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	kill "$(cat "$dir/run/nmkitd.pid" 2>/dev/null)" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Frames: a unicast destination nobody has (so the switch floods it), a
# source per frame, and random contents.
python3 - "$dir/in.pcap" <<'EOF' || fail "cannot write the input file"
import random, struct, sys
rnd = random.Random(7)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
    for i in range(200):
        n = 60 + (i * 7919) % (1514 - 60 + 1)
        if i == 1: n = 1514
        dst = bytes([0x02, 0xee, 0, 0, i >> 8, i & 255])
        src = bytes([0x02, 0x55, 0, 1, i >> 8, i & 255])
        body = bytes(rnd.randrange(256) for _ in range(n - 14))
        frame = dst + src + b"\x88\xb5" + body
        f.write(struct.pack("<IIII", 1000 + i // 100, (i % 100) * 1000, n, n))
        f.write(frame)
EOF

# Compare the frames of two pcap files (any precision); times copies of a.
cat > "$dir/cmp.py" <<'EOF'
import struct, sys
def frames(path):
    d = open(path, "rb").read()
    magic = struct.unpack("<I", d[:4])[0]
    e = "<" if magic in (0xa1b2c3d4, 0xa1b23c4d) else ">"
    off, out = 24, []
    while off + 16 <= len(d):
        _, _, cap, ln = struct.unpack(e + "IIII", d[off:off + 16])
        out.append(d[off + 16:off + 16 + cap])
        off += 16 + cap
    return out
a, b, times = frames(sys.argv[1]), frames(sys.argv[2]), int(sys.argv[3])
exp = a * times
if len(b) != len(exp):
    print("%d frames out, %d expected" % (len(b), len(exp))); sys.exit(1)
for i, (x, y) in enumerate(zip(exp, b)):
    if x != y:
        print("frame %d differs: %d bytes in, %d out" % (i, len(x), len(y))); sys.exit(1)
print("%d frames identical" % len(b))
EOF
count() {
	python3 -c '
import struct, sys
try: d = open(sys.argv[1], "rb").read()
except OSError: print(0); sys.exit()
off, n = 24, 0
while off + 16 <= len(d):
    cap = struct.unpack("<I", d[off + 8:off + 12])[0]
    if off + 16 + cap > len(d): break
    off += 16 + cap; n += 1
print(n)' "$1"
}

# One replay: the capturing bridge first, then the replaying one; wait for
# the frames (at most 10 s), stop both.
replay() {   # $1: extra in-port parameters, $2: output file, $3: frames expected
	"$B/apps/bridge/bridge" -w 0 -i $sw:out -i "pcap:dst@out=$2" 2>"$dir/b_out.err" &
	local bo=$!
	pids+=($bo)
	for i in $(seq 100); do
		"$B/apps/vale-ctl/vale-ctl" -l $sw:out >/dev/null 2>&1 && break
		sleep 0.05
	done
	"$B/apps/bridge/bridge" -w 0 -i $sw:in -i "pcap:src@in=$dir/in.pcap$1" 2>"$dir/b_in.err" &
	local bi=$!
	pids+=($bi)
	for i in $(seq 200); do
		[ "$(count "$2")" -ge "$3" ] && break
		kill -0 $bi 2>/dev/null || break
		sleep 0.05
	done
	kill -TERM $bi $bo 2>/dev/null
	wait $bi $bo 2>/dev/null
}

# 1. One pass, byte for byte.
replay "" "$dir/out.pcap" 200
python3 "$dir/cmp.py" "$dir/in.pcap" "$dir/out.pcap" 1 \
	|| fail "replay: $(cat "$dir/b_in.err" "$dir/b_out.err")"
# Nanosecond timestamps in the output file header.
[ "$(od -An -tx1 -N4 "$dir/out.pcap" | tr -d ' ')" = "4d3cb2a1" ] || fail "not a nanosecond pcap file"

# 2. Two passes.
replay "@loop=2" "$dir/out2.pcap" 400
python3 "$dir/cmp.py" "$dir/in.pcap" "$dir/out2.pcap" 2 \
	|| fail "loop=2: $(cat "$dir/b_in.err" "$dir/b_out.err")"

# 3. Real timing: 200 frames over 1.1 s of file time arrive, in order.
replay "@timing=real" "$dir/out3.pcap" 200
python3 "$dir/cmp.py" "$dir/in.pcap" "$dir/out3.pcap" 1 \
	|| fail "timing=real: $(cat "$dir/b_in.err" "$dir/b_out.err")"

# 4. Bad parameters are refused, naming the key.
"$B/apps/bridge/bridge" -w 0 -i $sw:x -i "pcap:src@in=$dir/in.pcap@timing=bogus" > "$dir/bad.err" 2>&1 \
	&& fail "timing=bogus was accepted"
grep -q 'bad value "bogus" for parameter timing' "$dir/bad.err" || fail "bad value message: $(cat "$dir/bad.err")"
"$B/apps/bridge/bridge" -w 0 -i $sw:x -i "pcap:src@in=$dir/in.pcap@speed=9" > "$dir/bad2.err" 2>&1 \
	&& fail "an unknown parameter was accepted"
grep -q 'unknown parameter "speed"' "$dir/bad2.err" || fail "unknown parameter message: $(cat "$dir/bad2.err")"
"$B/apps/bridge/bridge" -w 0 -i $sw:x -i "pcap:src@in=$dir/none.pcap" > "$dir/bad3.err" 2>&1 \
	&& fail "a missing input file was accepted"
grep -q 'in=.*none.pcap: .*No such file' "$dir/bad3.err" || fail "missing file message: $(cat "$dir/bad3.err")"
echo "PASS: pcap file ports replay and record frames byte for byte"
