#!/bin/sh
# test_installed.sh - the library as a package would ship it.
#
# Installs libnmkit.so, its headers, its pkg-config files and the driver
# plugins into a DESTDIR of its own (make's install rules for just those,
# nothing else of the build tree is touched), then:
#  1. the installed .so exports exactly the symbols of libnm/libnmkit.map,
#     each with its version node, and the header declares the same names;
#  2. the headers compile on their own, as C99 with -pedantic;
#  3. tests/installed_client.c, built with the configure's compiler and
#     flags (sanitizers included) and `pkg-config --cflags --libs nmkit`
#     pointed at the DESTDIR (PKG_CONFIG_SYSROOT_DIR), runs against a broker
#     of its own (NMKIT_BROKER, a fresh NMKIT_RUNDIR): frames, info, list,
#     counters, and the error paths the header documents.
set -u

top=${NMKIT_TEST_BUILDDIR:-.}
src=${srcdir:-.}
CC=${NMKIT_TEST_CC:-cc}
CFLAGS=${NMKIT_TEST_CFLAGS:-}
LDFLAGS=${NMKIT_TEST_LDFLAGS:-}
PKG_CONFIG=${NMKIT_TEST_PKG_CONFIG:-pkg-config}

if [ -z "${NMKIT_BROKER:-}" ] || [ ! -x "$NMKIT_BROKER" ]; then
	echo "test_installed: NMKIT_BROKER must name the nmkitd binary"
	exit 99
fi
for tool in readelf "$PKG_CONFIG"; do
	if ! command -v "$tool" > /dev/null 2>&1; then
		echo "test_installed: $tool is missing"
		exit 77
	fi
done

tmp=$(mktemp -d /tmp/nmkit-test-installed-XXXXXX) || exit 99
cleanup() {
	[ -f "$tmp/run/nmkitd.pid" ] && kill "$(cat "$tmp/run/nmkitd.pid")" 2>/dev/null
	[ -f "$tmp/scratch/nmkitd.pid" ] && kill "$(cat "$tmp/scratch/nmkitd.pid")" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM
dest=$tmp/root
mkdir -p "$tmp/run" "$tmp/scratch" "$dest" || exit 99
fails=0
fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# --- install ---------------------------------------------------------------
# A make of its own, not part of the one running the tests: none of its
# flags, no jobserver.  Everything is built already, so it only copies.
if ! env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES -u DESTDIR \
	"${NMKIT_TEST_MAKE:-make}" -s -C "$top" DESTDIR="$dest" \
	install-libLTLIBRARIES install-nmkitincludeHEADERS install-compatnetHEADERS \
	install-pkgconfigDATA install-driverLTLIBRARIES > "$tmp/install.log" 2>&1; then
	cat "$tmp/install.log"
	echo "test_installed: installing into $dest failed"
	exit 99
fi

pcfile=$(find "$dest" -name nmkit.pc | head -n 1)
if [ -z "$pcfile" ]; then
	echo "test_installed: no nmkit.pc under $dest"
	exit 99
fi
PKG_CONFIG_LIBDIR=$(dirname "$pcfile")
PKG_CONFIG_PATH=
PKG_CONFIG_SYSROOT_DIR=$dest
export PKG_CONFIG_LIBDIR PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR
pc_cflags=$("$PKG_CONFIG" --cflags nmkit) || exit 99
pc_libs=$("$PKG_CONFIG" --libs nmkit) || exit 99
pc_netmap=$("$PKG_CONFIG" --cflags nmkit-netmap) || exit 99
libdir=$("$PKG_CONFIG" --libs-only-L nmkit | sed 's/^ *-L//; s/ .*//')
driverdir=$("$PKG_CONFIG" --variable=driverdir nmkit)
case $driverdir in "$dest"/*) ;; *) driverdir=$dest$driverdir ;; esac
echo "pkg-config nmkit: $pc_cflags $pc_libs"
case "$pc_cflags $pc_libs" in
*"$dest"*) ;;
*) fail "pkg-config does not point into $dest: $pc_cflags $pc_libs" ;;
esac
so=$libdir/libnmkit.so.0
if [ ! -f "$so" ]; then
	echo "test_installed: $so is not installed"
	ls -lR "$dest"
	exit 99
fi

# --- 1. the exported symbols -----------------------------------------------
map=$src/libnm/libnmkit.map
# The names of the version script's global: sections, and their nodes.
awk '
	/\/\*/ { incomment = 1 }
	incomment { if ($0 ~ /\*\//) incomment = 0; next }
	/^[A-Za-z_][A-Za-z0-9_.]* *\{/ { node = $1; sub(/\{.*/, "", node); next }
	/global:/ { global = 1; next }
	/local:/ { global = 0; next }
	/^}/ { global = 0; next }
	global { gsub(/[ \t;]/, ""); if ($0 != "") print $0 "@@" node }
' "$map" | LC_ALL=C sort > "$tmp/map.txt"
# Every defined dynamic symbol of the .so, as name@@node (readelf shows the
# default version with @@); the version nodes themselves are ABS symbols.
readelf --dyn-syms -W "$so" | awk '
	$1 ~ /^[0-9]+:$/ && $7 != "UND" {
		if ($7 == "ABS" && $8 ~ /^NMKIT_/) next
		print $8
	}' | LC_ALL=C sort > "$tmp/so.txt"
if [ ! -s "$tmp/map.txt" ]; then
	fail "no symbols read from $map"
elif ! diff -u "$tmp/map.txt" "$tmp/so.txt" > "$tmp/sym.diff"; then
	fail "the exported symbols of $so differ from $map (- map, + .so):"
	cat "$tmp/sym.diff"
else
	echo "ok: $(wc -l < "$tmp/so.txt") symbols exported, each in its version node"
fi
# No wildcard in the script: each symbol by name.
if grep -v '^[[:space:]]*\*' "$map" | grep -q 'nmk_[A-Za-z0-9_]*\*'; then
	fail "$map exports by wildcard"
fi
# The header declares what the script exports, no more, no less.
hdr=$(find "$dest" -path '*/nmkit/nmkit.h' | head -n 1)
grep -o 'NMK_API [^(]*(' "$hdr" |
	grep -oE 'nmk_[a-z0-9_]+\($' | tr -d '(' | LC_ALL=C sort > "$tmp/hdr.txt"
sed 's/@@.*//' "$tmp/map.txt" | LC_ALL=C sort > "$tmp/mapnames.txt"
if ! diff -u "$tmp/mapnames.txt" "$tmp/hdr.txt" > "$tmp/hdr.diff"; then
	fail "the installed nmkit.h declares other functions than $map exports (- map, + header):"
	cat "$tmp/hdr.diff"
else
	echo "ok: the installed header declares exactly the exported functions"
fi
soname=$(readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\].*/\1/p')
[ "$soname" = libnmkit.so.0 ] || fail "SONAME is '$soname', expected libnmkit.so.0"

# --- 2. the headers on their own -------------------------------------------
cat > "$tmp/h1.c" <<'EOF'
#include <nmkit/nmkit.h>
int use(void);
int use(void)
{
	struct nmk_open_params op = NMK_OPEN_PARAMS_INIT;
	struct nmk_vale_stats st = NMK_VALE_STATS_INIT;
	return (int)op.size + NMK_HAS_FIELD(struct nmk_vale_stats, &st, drop_nodest);
}
EOF
printf '#include <net/netmap_user.h>\n#include <nmkit/nmkit.h>\nint x;\n' > "$tmp/h2.c"
# shellcheck disable=SC2086
if ! $CC -std=c99 -pedantic -Wall -Wextra -Werror $pc_cflags -c -o "$tmp/h1.o" "$tmp/h1.c"; then
	fail "<nmkit/nmkit.h> does not compile as C99 with -pedantic"
fi
if command -v c++ > /dev/null 2>&1; then
	cp "$tmp/h1.c" "$tmp/h1.cc"
	# shellcheck disable=SC2086
	if ! c++ -std=c++11 -Wall -Wextra -Werror $pc_cflags -c -o "$tmp/h1xx.o" "$tmp/h1.cc"; then
		fail "<nmkit/nmkit.h> does not compile as C++11"
	fi
fi
# shellcheck disable=SC2086
if ! $CC -Wall -Wextra -Werror $pc_netmap -c -o "$tmp/h2.o" "$tmp/h2.c"; then
	fail "<net/netmap_user.h> (pkg-config nmkit-netmap) does not compile"
fi

# --- 3. a program against the installed library -----------------------------
client=$tmp/installed_client
# shellcheck disable=SC2086
if ! $CC $CFLAGS -std=gnu11 -Wall -Wextra -Werror -o "$client" "$src/tests/installed_client.c" \
	$pc_cflags $LDFLAGS $pc_libs -Wl,-rpath,"$libdir"; then
	fail "installed_client does not build against the installed library"
	exit 1
fi
# Nothing of the build tree on the library path.
NMKIT_RUNDIR=$tmp/run NMKIT_DRIVER_PATH=$driverdir env -u LD_LIBRARY_PATH -u LD_PRELOAD \
	"$client" "$libdir" "$tmp/scratch"
rc=$?
[ "$rc" -eq 0 ] || fail "installed_client exited $rc"

if [ "$fails" -ne 0 ]; then
	echo "test_installed: $fails failure(s)"
	exit 1
fi
echo "test_installed: all checks passed"
exit 0
