#!/bin/bash
# The arrows between folders run one way (docs/architecture.md, "Layers"):
#
#   apps/, lua/      -> the public headers (libnm/include) only
#   libnm/ (API)     -> libnm/kinds, vale/ -> libnm/core -> os/
#   drivers/         -> the public headers only
#   nmkitd           -> everything in libnm/, vale/ and os/ (the control half)
#
# The build already enforces this with per-folder include paths; this test
# reads every #include of every source file and names each one that points
# against the arrows, so that a path that the compiler happens to find
# (./, ../, a top-level -I) cannot sneak one in either.
set -u
S=${srcdir:-.}
cd "$S" || exit 99

# The layer of a file, from its path.
layer_of() {
	case $1 in
	libnm/include/*) echo public ;;
	libnm/core/*) echo core ;;
	libnm/kinds/*) echo kinds ;;
	libnm/*) echo api ;;
	vale/*) echo vale ;;
	os/*) echo os ;;
	drivers/*) echo driver ;;
	apps/nmkitd/*) echo broker ;;
	apps/*|lua/*) echo app ;;
	bench/*) echo bench ;;
	tests/*) echo test ;;
	*) echo other ;;
	esac
}

# The layers a layer may include from (its own folder always).
allowed() {
	case $1 in
	public) echo "public" ;;
	os) echo "os" ;;
	core) echo "core os public" ;;
	kinds) echo "kinds core os public" ;;
	vale) echo "vale core os public" ;;
	api) echo "api kinds vale core os public" ;;
	driver) echo "public" ;;
	broker) echo "broker api kinds vale core os public" ;;
	app) echo "public" ;;
	bench) echo "public os" ;;
	*) echo "public os core kinds vale api broker driver app bench test" ;;
	esac
}

# Where the include paths of the build point, in the project.
dirs="libnm/include libnm/include/nmkit/compat os libnm/core libnm/kinds vale libnm apps/nmkitd"

bad=0 checked=0
while IFS= read -r f; do
	from=$(layer_of "$f")
	[ "$from" = test ] && continue
	ok=" $(allowed "$from") "
	here=$(dirname "$f")
	while IFS= read -r inc; do
		name=$(printf '%s\n' "$inc" | sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]([^>"]+)[>"].*/\1/')
		[ "$name" = config.h ] && continue
		checked=$((checked + 1))
		target=
		for d in "$here" $dirs; do
			if [ -f "$d/$name" ]; then
				target=$(realpath --relative-to=. "$d/$name")
				break
			fi
		done
		[ -n "$target" ] || continue        # a system header
		to=$(layer_of "$target")
		if [ "$(dirname "$target")" = "$here" ]; then
			continue                    # its own folder
		fi
		case "$here/:$target" in
		lua/*:lua/*) continue ;;        # nmlua is one program: lua/ and lua/rt/
		esac
		if false; then
			:
		fi
		case $ok in
		*" $to "*) ;;
		*)
			echo "FAIL: $f ($from) includes $target ($to): $from may use only: $(allowed "$from")"
			bad=$((bad + 1)) ;;
		esac
	done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$f")
done < <(find libnm vale os drivers apps bench lua -name '*.[ch]' 2>/dev/null | sort)

[ "$checked" -gt 100 ] || { echo "FAIL: only $checked includes found: is srcdir right?"; exit 1; }
if [ "$bad" -ne 0 ]; then
	echo "FAIL: $bad include(s) against the layers"
	exit 1
fi
echo "PASS: $checked includes, none against the layers"
