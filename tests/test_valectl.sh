#!/bin/sh
# test_valectl.sh - vale-ctl's exit codes, messages and listing formats
# (reference §4.14): the test scripts written for netmap's vale-ctl depend
# on them.  Runs against its own broker in its own runtime directory.
set -u

top=${NMKIT_TEST_BUILDDIR:-.}
vc=$top/apps/vale-ctl/vale-ctl
hold=$top/tests/helpers/hold_port
for f in "$vc" "$hold"; do
	if [ ! -x "$f" ]; then
		echo "test_valectl: $f is not built"
		exit 99
	fi
done
if [ -z "${NMKIT_BROKER:-}" ] || [ ! -x "$NMKIT_BROKER" ]; then
	echo "test_valectl: NMKIT_BROKER must name the nmkitd binary"
	exit 99
fi

dir=$(mktemp -d /tmp/nmkit-test-valectl-XXXXXX) || exit 99
NMKIT_RUNDIR=$dir
export NMKIT_RUNDIR
holder=
cleanup() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	[ -f "$dir/nmkitd.pid" ] && kill "$(cat "$dir/nmkitd.pid")" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fails=0
sw=vale$$
sw2=vale$$b

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# check RC PATTERN ARGS...: vale-ctl ARGS must exit with RC, and its output
# (stdout and stderr) must match the extended regexp PATTERN (if not empty).
check() {
	want=$1
	pat=$2
	shift 2
	out=$("$vc" "$@" 2>&1)
	rc=$?
	if [ "$rc" != "$want" ]; then
		fail "vale-ctl $*: exit $rc, expected $want; output: $out"
		return 1
	fi
	if [ -n "$pat" ] && ! printf '%s\n' "$out" | grep -Eq -- "$pat"; then
		fail "vale-ctl $*: output does not match /$pat/: $out"
		return 1
	fi
	echo "ok: vale-ctl $* -> $rc"
	return 0
}

# retry RC PATTERN ARGS...: like check, for up to 3 s (the broker sees a
# holder's death asynchronously).
retry() {
	i=0
	while [ $i -lt 150 ]; do
		out=$("$vc" "$@" 2>&1)
		[ $? = "$1" ] && break
		sleep 0.02
		i=$((i + 1))
	done
	check "$@"
}

# Open PORT in a helper process until release is called.
hold() {
	: > "$dir/hold.out"
	"$hold" "$1" > "$dir/hold.out" 2>&1 &
	holder=$!
	i=0
	while ! grep -q ready "$dir/hold.out"; do
		if ! kill -0 "$holder" 2>/dev/null || [ $i -ge 500 ]; then
			fail "hold_port $1: $(cat "$dir/hold.out")"
			holder=
			return 1
		fi
		sleep 0.01
		i=$((i + 1))
	done
	return 0
}

release() {
	kill "$holder" 2>/dev/null
	wait "$holder" 2>/dev/null
	holder=
}

# ---- create and remove ----------------------------------------------------
check 0 '' -n pv1
check 1 'failed to create pv1: File exists' -n pv1
check 1 'failed to create vale1' -n vale1
check 1 'failed to create' -n 'bad-name'
check 0 '' -n pv2 -C 256,128
check 0 'tx_slots 512 rx_slots 512 tx_rings 2 rx_rings 2' -n pv3 -C 512,512,2 -v
check 1 'failed to delete nope: No such file' -r nope

# ---- attach and detach ----------------------------------------------------
check 1 "failed to attach $sw:missing: No such file" -a "$sw:missing"
check 0 '' -a "$sw:pv1"
check 1 "failed to attach $sw:pv1: .*busy" -a "$sw:pv1"
check 1 'failed to delete pv1: .*busy' -r pv1
check 1 "failed to detach $sw:pv2" -d "$sw:pv2"
check 1 "failed to detach $sw:nope" -d "$sw:nope"
check 1 "failed to detach $sw2:pv1" -d "$sw2:pv1"
check 0 '' -a "$sw2:pv2"
check 0 '' -a "$sw:pv3"

# ---- listings -------------------------------------------------------------
out=$("$vc" 2>&1)
rc=$?
[ $rc = 0 ] || fail "vale-ctl (list): exit $rc: $out"
echo "$out"
bad=$(printf '%s\n' "$out" | grep -Ev '^[^ ]+ bridge_idx [0-9]+ port_idx [0-9]+$')
[ -z "$bad" ] || fail "listing lines not in netmap's format: $bad"
for p in "$sw:pv1" "$sw:pv3" "$sw2:pv2"; do
	line=$(printf '%s\n' "$out" | grep -E "^$p bridge_idx ")
	if [ -z "$line" ]; then
		fail "listing misses $p"
		continue
	fi
	b=$(echo "$line" | cut -d' ' -f3)
	i=$(echo "$line" | cut -d' ' -f5)
	one=$("$vc" -l "$p" 2>&1)
	if [ "$one" != "$(printf 'bridge_idx: %s\nport_idx: %s' "$b" "$i")" ]; then
		fail "vale-ctl -l $p: '$one', expected bridge_idx: $b / port_idx: $i"
	else
		echo "ok: vale-ctl -l $p"
	fi
done
b1=$(printf '%s\n' "$out" | grep -E "^$sw:pv1 " | cut -d' ' -f3)
b3=$(printf '%s\n' "$out" | grep -E "^$sw:pv3 " | cut -d' ' -f3)
b2=$(printf '%s\n' "$out" | grep -E "^$sw2:pv2 " | cut -d' ' -f3)
[ "$b1" = "$b3" ] || fail "ports of one switch with bridge_idx $b1 and $b3"
[ "$b1" != "$b2" ] || fail "two switches with one bridge_idx $b1"
i1=$(printf '%s\n' "$out" | grep -E "^$sw:pv1 " | cut -d' ' -f5)
i3=$(printf '%s\n' "$out" | grep -E "^$sw:pv3 " | cut -d' ' -f5)
[ "$i1" != "$i3" ] || fail "two ports of $sw with port_idx $i1"
check 1 "failed to list $sw:nope" -l "$sw:nope"
check 1 'failed to list foo:bar' -l foo:bar
check 0 '^port +bridge +port' -l
check 0 "^$sw:pv1: memsize: [1-9][0-9]* tx_slots: 1024 rx_slots: 1024 tx_rings: 1 rx_rings: 1 mem_id: [0-9]+" -g "$sw:pv1"
check 0 "^$sw2:pv2: memsize: [1-9][0-9]* tx_slots: 256 rx_slots: 128" -g "$sw2:pv2"
check 0 '^pv3: memsize: [1-9][0-9]* tx_slots: 512 rx_slots: 512 tx_rings: 2 rx_rings: 2' -g pv3
check 1 'failed to get info of nope' -g nope

# ---- an ephemeral port: listed while open, not a persistent port ----------
if hold "$sw:eph"; then
	check 0 "^$sw:eph bridge_idx [0-9]+ port_idx [0-9]+$"
	check 1 'failed to delete eph' -r eph
	check 1 "failed to detach $sw:eph" -d "$sw:eph"
	release
	i=0
	while "$vc" | grep -q "^$sw:eph "; do
		[ $i -ge 150 ] && break
		sleep 0.02
		i=$((i + 1))
	done
	"$vc" | grep -q "^$sw:eph " && fail "$sw:eph still listed after its last user left"
fi

# ---- ports in use: no detach, no removal, no attach ------------------------
if hold "$sw:pv1"; then
	check 1 "failed to detach $sw:pv1: .*busy" -d "$sw:pv1"
	check 1 'failed to delete pv1: .*busy' -r pv1
	release
	retry 0 '' -d "$sw:pv1"
fi
check 1 "failed to detach $sw:pv1" -d "$sw:pv1"
# Detached, pv1 is reachable by its own name; open, it cannot go anywhere.
if hold "netmap:pv1"; then
	check 1 'failed to delete pv1: .*busy' -r pv1
	check 1 "failed to attach $sw:pv1: .*busy" -a "$sw:pv1"
	release
	retry 0 '' -r pv1
fi
check 1 'failed to delete pv1: No such file' -r pv1
check 0 '' -d "$sw2:pv2"
check 0 '' -r pv2
check 0 '' -d "$sw:pv3"
check 0 '' -r pv3
out=$("$vc" 2>&1)
[ -z "$out" ] || fail "ports left at the end: $out"

# ---- usage --------------------------------------------------------------------
check 1 '' -x
check 1 'failed to attach' -h "$sw:pv1"
check 1 '' -n

if [ $fails -ne 0 ]; then
	echo "$fails check(s) failed"
	exit 1
fi
echo "all checks passed"
exit 0
