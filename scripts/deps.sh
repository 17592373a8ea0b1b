#!/usr/bin/env bash
# Installs what las needs on a fresh Debian 12 machine (as root): DPDK 22.11,
# the headers and libclang for bindgen, and the tools the lab and tests use
# (tshark decodes every pcap las writes in the tests; Debian's prometheus
# brings promtool, which checks las's /metrics in tests/metrics_e2e.rs, and
# the Prometheus server the lab runs against las), and g++ for the fuzz
# targets (libfuzzer-sys compiles libFuzzer's C++ sources); nftables,
# conntrack and bc for the lab's NAT step; lua5.4 (luac checks the pktgen
# kit's Lua script), jq and ethtool for the perf/ scripts, valgrind for
# perf/instructions.sh.
# Idempotent: does nothing when everything is present.
set -euo pipefail
need=()
have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
for p in dpdk dpdk-dev libdpdk-dev libclang-dev pkg-config libpcap-dev iproute2 iperf3 iputils-ping procps psmisc tcpdump tshark prometheus g++ nftables conntrack bc lua5.4 jq ethtool valgrind; do
  have_pkg "$p" || need+=("$p")
done
if ((${#need[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages ${need[*]}; run as root (or install them) first" >&2
    exit 1
  fi
  echo "deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # tshark (the tests' independent decoder) must not ask whether
  # non-root users may capture: answer no before installing.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "deps: cargo (Rust toolchain) not found; install Rust (https://rustup.rs) first" >&2
  exit 1
fi
