#!/usr/bin/env bash
# las soak: las forwards a replayed pcap (net_pcap infinite_rx) for a long
# time while its memory is sampled; its resident memory must stay flat.
# A leak on the per-packet path, a table that grows on the worker, or
# mbufs that are never freed show here long before they show in a test.
# See perf/README.md. Run as root from anywhere:  perf/soak.sh
#
# Environment knobs (defaults in brackets):
#   SOAK      seconds of traffic                             [600]
#   EVERY     seconds between samples                        [10]
#   SETTLE    seconds before the baseline sample (tables fill, caches warm) [60]
#   PROFILE   ENCAP:SIZE                                     [ip:64]
#   PACKETS, SESSIONS, MACS, BCAST  as in perf/bench.sh      [4096 8 1000 10]
#   CORES     control core,worker core                       [0,1]
#   MAX_GROWTH_KB  allowed growth of VmRSS and RssAnon after SETTLE [1024]
#   CARGO_TARGET_DIR  where cargo builds                     [<repo>/target]
#   LAS_BIN   a prebuilt las to soak instead (las-trafgen is still built) []
#
# Prints one line per sample (seconds, VmRSS, RssAnon, mbufs in use, Mpps
# over the interval) and a verdict; appends everything to
# perf/results/soak-<UTC date>.txt. Exit status: 0 flat, 1 grew, 2 las
# did not forward or stopped; any failing step stops with `soak: …`.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PERF_NAME=soak
PERF_DIE_STATUS=2
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
SOAK=${SOAK:-600}
EVERY=${EVERY:-10}
SETTLE=${SETTLE:-60}
PROFILE=${PROFILE:-ip:64}
PACKETS=${PACKETS:-4096}
SESSIONS=${SESSIONS:-8}
MACS=${MACS:-1000}
BCAST=${BCAST:-10}
CORES=${CORES:-0,1}
MAX_GROWTH_KB=${MAX_GROWTH_KB:-1024}

[[ $(id -u) == 0 ]] || die "run as root (DPDK needs it)"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
numbers SOAK EVERY SETTLE PACKETS SESSIONS MACS BCAST MAX_GROWTH_KB
(( SETTLE < SOAK )) || die "SETTLE ($SETTLE) must be shorter than SOAK ($SOAK)"

say "building release binaries (no-op when up to date)"
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --bin las --bin las-trafgen) >&2
LAS=${LAS_BIN:-$TARGET/release/las}
[[ -x $LAS ]] || die "LAS_BIN=$LAS is not an executable"
TRAFGEN=$TARGET/release/las-trafgen

WORK=$(mktemp -d /tmp/las-soak.XXXXXX)
PREFIX="las-soak-$$"
PID=""
cleanup() {
    if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$PID" 2>/dev/null || true
    fi
    rm -rf "/run/dpdk/$PREFIX" "$WORK"
    rm -f /dev/hugepages/"$PREFIX"map_* 2>/dev/null || true
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 130' INT TERM

# Hugepages when there are enough (the rates are then meaningful), else
# --no-huge: the memory checks hold either way.
EAL_MEM=(--no-huge -m 1024)
MEMDESC="--no-huge"
cur=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
(( cur >= 512 )) || echo 512 >/proc/sys/vm/nr_hugepages 2>/dev/null || true
if ! mount | grep -q ' type hugetlbfs '; then
    mkdir -p /dev/hugepages
    mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
fi
free_pages=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
pagesz_kb=$(awk '/Hugepagesize/ {print $2}' /proc/meminfo)
if mount | grep -q ' type hugetlbfs ' && (( free_pages * pagesz_kb >= 400 * 1024 )); then
    EAL_MEM=(-m 400 --huge-unlink)
    MEMDESC="hugepages"
fi

encap=${PROFILE%%:*}
size=${PROFILE##*:}
pcap=$WORK/soak.pcap
cfg=$WORK/soak.toml
sock=$WORK/las.sock
vdev="net_pcap0,rx_pcap=$pcap,infinite_rx=1"
"$TRAFGEN" --out "$pcap" --sessions "$SESSIONS" --macs "$MACS" --size "$size" \
    --packets "$PACKETS" --encap "$encap" --broadcast-pct "$BCAST" \
    --device "$vdev" --socket "$sock" --config-out "$cfg" 2>"$WORK/trafgen.log" ||
    { cat "$WORK/trafgen.log" >&2; die "las-trafgen refused (log above)"; }

say "las for $SOAK s ($PROFILE, $SESSIONS sessions, $MACS MACs, $BCAST % broadcast, $MEMDESC)"
RUST_LOG=info setsid "$LAS" --config "$cfg" --cores "$CORES" -- --file-prefix "$PREFIX" "${EAL_MEM[@]}" \
    </dev/null >"$WORK/las.log" 2>&1 &
PID=$!
for _ in $(seq 1 600); do
    [[ -S $sock ]] && break
    kill -0 "$PID" 2>/dev/null || { cat "$WORK/las.log" >&2; die "las exited early (log above)"; }
    sleep 0.1
done
[[ -S $sock ]] || { cat "$WORK/las.log" >&2; die "las did not open $sock"; }

status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$PID/status"; }
rx_total() { jq '[.workers[].rx_packets] | add' <<<"$1"; }

OUT=$ROOT/perf/results/soak-$(date -u +%Y-%m-%d).txt
mkdir -p "$ROOT/perf/results"
{
    echo "# perf/soak.sh $(date -u +%Y-%m-%dT%H:%M:%SZ) commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)${LAS_BIN:+ (las: $LAS_BIN)}"
    echo "# SOAK=$SOAK EVERY=$EVERY SETTLE=$SETTLE PROFILE=$PROFILE PACKETS=$PACKETS SESSIONS=$SESSIONS MACS=$MACS BCAST=$BCAST CORES=$CORES $MEMDESC"
    echo "# $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1), $(nproc) CPUs"
    printf '%6s %10s %10s %10s %8s\n' secs vmrss_kb anon_kb mbufs_used mpps
} | tee -a "$OUT"

t0=$(date +%s)
prev_rx=0
prev_t=$t0
base_rss=""
base_anon=""
max_rss=0
max_anon=0
stalled=0
while :; do
    sleep "$EVERY"
    kill -0 "$PID" 2>/dev/null || { tail -30 "$WORK/las.log" >&2; die "las stopped during the soak (log above)"; }
    now=$(date +%s)
    el=$((now - t0))
    c=$("$LAS" show counters --json --socket "$sock") || die "las did not answer show counters"
    rx=$(rx_total "$c")
    used=$(jq '.control.mbufs_in_use' <<<"$c")
    rss=$(status_kb VmRSS)
    anon=$(status_kb RssAnon)
    mpps=$(awk -v a="$prev_rx" -v b="$rx" -v dt=$((now - prev_t)) 'BEGIN {printf "%.2f", (b - a) / dt / 1e6}')
    (( rx > prev_rx )) || stalled=1
    prev_rx=$rx
    prev_t=$now
    printf '%6d %10d %10d %10d %8s\n' "$el" "$rss" "$anon" "$used" "$mpps" | tee -a "$OUT"
    if (( el >= SETTLE )); then
        if [[ -z $base_rss ]]; then
            base_rss=$rss
            base_anon=$anon
        fi
        (( rss > max_rss )) && max_rss=$rss
        (( anon > max_anon )) && max_anon=$anon
    fi
    (( el >= SOAK )) && break
done

grow_rss=$((max_rss - base_rss))
grow_anon=$((max_anon - base_anon))
verdict="FLAT"
rc=0
if (( stalled )); then
    verdict="STALLED (an interval without forwarded packets)"
    rc=2
elif (( grow_rss > MAX_GROWTH_KB || grow_anon > MAX_GROWTH_KB )); then
    verdict="GREW"
    rc=1
fi
echo "RESULT soak $verdict: after ${SETTLE}s VmRSS ${base_rss} kB -> max ${max_rss} kB (+${grow_rss}), RssAnon ${base_anon} kB -> max ${max_anon} kB (+${grow_anon}); allowed +${MAX_GROWTH_KB} kB" | tee -a "$OUT"
"$LAS" show counters --socket "$sock" | head -n 40 >>"$OUT" 2>&1 || true
exit "$rc"
