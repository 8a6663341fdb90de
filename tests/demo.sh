#!/bin/sh
# The README's demo, briefly: two processes, one pipe, every frame in order.
set -eu
dir=$(mktemp -d /tmp/nmkit-test-demo-XXXXXX)
trap 'kill $(cat "$dir/nmkitd.pid" 2>/dev/null) 2>/dev/null; rm -rf "$dir"' EXIT
out=$(NMKIT_RUNDIR=$dir "${NMKIT_TEST_BUILDDIR:-.}/apps/nmkit-demo" -t 0.5)
echo "$out"
echo "$out" | grep -q 'every frame arrived, in order'
echo "$out" | grep -Eq 'received [1-9][0-9]* frames in .* Mpps'
