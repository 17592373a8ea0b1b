#!/usr/bin/env bash
# Runs every test of las: formatting, lints, the API docs' links, unit
# tests (with and without DPDK), end-to-end pcap tests through the real
# binary and real DPDK, and the namespace lab, then a short run of every
# fuzz target (fuzz/README.md).
# Needs root (DPDK, network namespaces).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "== cargo clippy"
cargo clippy --all-targets -- -D warnings
cargo clippy --no-default-features --lib --tests -- -D warnings
echo "== cargo doc (broken or private links are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps --quiet
echo "== pure modules without DPDK"
cargo test --no-default-features --lib
echo "== all tests (unit, pcap end-to-end, lab)"
# The end-to-end tests need root and are #[ignore]d so that a plain
# `cargo test` says so; here they run.
cargo test -- --test-threads=1 --include-ignored
echo "== pcap end-to-end again with the staged burst loop (src/worker/engine.rs)"
# Small tables take the direct loop; the staged one, which large tables
# take, gets the same end-to-end tests here.
LAS_BURST_LOOP=staged cargo test --test pcap_e2e --test tap_offload -- --test-threads=1 --include-ignored
echo "== pcap end-to-end again without the fast path (src/worker/engine/fast.rs)"
# Both loops take the fast path for known unicast; here every packet
# goes through the full rules, in each loop, which must give the same
# results.
LAS_BURST_LOOP=full cargo test --test pcap_e2e -- --test-threads=1 --include-ignored
LAS_BURST_LOOP=staged-full cargo test --test pcap_e2e -- --test-threads=1 --include-ignored
echo "== fuzz targets (scripts/fuzz.sh, ${FUZZ_SECONDS:-15} s each)"
scripts/fuzz.sh
