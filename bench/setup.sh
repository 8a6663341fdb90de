#!/usr/bin/env bash
# make bench's setup: DPDK's testpmd and memif PMD, the reference that
# two-core figures are read against.  Never part of make check.
set -u
if command -v dpdk-testpmd >/dev/null 2>&1; then
	exit 0
fi
run() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else return 1; fi; }
echo "bench: installing dpdk-dev (dpdk-testpmd, the memif reference)..." >&2
if ! { run apt-get update -qq && run env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq dpdk-dev >/dev/null; }; then
	echo "bench: could not install dpdk-dev: the DPDK reference rows will be missing" >&2
fi
exit 0
