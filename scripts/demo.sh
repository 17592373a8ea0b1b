#!/usr/bin/env bash
# The las demo: builds las and las-edge, then runs the namespace lab —
# las on a DPDK net_af_packet port, three las-edge sites in their own
# network namespaces — and shows hosts in virtual switch 100 pinging and
# talking TCP through las, site C (switch 200) isolated, ARP crossing,
# a MAC move re-learned, a stopped site's MACs aging out, and las's
# per-switch counters. Cleans up everything it made. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cargo build --release --bins
target="${CARGO_TARGET_DIR:-target}"
case "$target" in /*) ;; *) target="$PWD/$target" ;; esac
export LAS_BIN="${LAS_BIN:-$target/release/las}"
export LAS_EDGE_BIN="${LAS_EDGE_BIN:-$target/release/las-edge}"
# The NAT step idles past the NAT's timeout: 40 s here, 300 s in the tests.
export LAB_NAT_IDLE="${LAB_NAT_IDLE:-40}"
exec lab/lab.sh run
