#!/usr/bin/env bash
# NDR/PDR search over net_memif: las-trafgen (DPDK, memif client) replays a
# pcap at a set rate into las (memif server), counts what las sends back on
# the same memif port, and binary-searches the highest rate with no loss
# (NDR) and with at most PDR_PCT loss (PDR); then the same search against
# dpdk-testpmd (io forwarding, same memif pair) as the ceiling.
# See perf/README.md ("NDR/PDR over memif"). Run as root: perf/ndr.sh
#
# Environment knobs (defaults in brackets):
#   PROFILES    space-separated ENCAP:FRAME list; FRAME is the inner Ethernet
#               frame size *with* FCS as in RFC 2544 (64 = 60 bytes on the
#               wire without FCS), or "imix" (64:574:1518 in 7:4:1); ENCAP
#               is ip or udp (L2TPv3 over IPv4) or ip6 or udp6 (over IPv6,
#               las-trafgen --underlay ipv6, as in perf/bench.sh)
#                                                        ["ip:64 ip:1518"]
#   DUR         seconds per trial                        [2]
#   PACKETS     packets in each pcap                     [4096]
#   SESSIONS    pseudowires                              [8]
#   MACS        inner source MACs                        [1000]
#   CORES       trafgen + las control core, las worker core  [0,1]
#   PDR_PCT     loss allowed at the PDR, in percent      [0.5]
#   PRECISION   search precision, percent of the rate    [2]
#   MIN_RATE    lowest rate tried, packets/s             [10000]
#   MAX_RATE    highest rate tried, packets/s; 0 = what trafgen can offer [0]
#   MAX_TRIALS  trials per search at most                [25]
#   TESTPMD     1 = also search testpmd io (the ceiling) [1]
#   ZC          1 = the generator's memif side in zero-copy mode (its mbufs
#               are the shared memory: no copy on its TX and RX; needs
#               hugepages, ignored without); 0 = copy mode  [1]
#   RSIZE       memif ring size, log2 (the client, trafgen, sets it for both
#               directions; 10 = 1024 slots, DPDK's default, absorbs ~0.2 ms
#               of a stalled poller at 5 Mpps)           [12]
#   NICE        nice level of the three DPDK processes, each in its own
#               session (autogroup), as in perf/bench.sh [-20]
#   HUGE        1 = hugepages if possible, 0 = force --no-huge [1]
#   CARGO_TARGET_DIR  where cargo builds                 [<repo>/target]
set -euo pipefail

CMDLINE="$0 $*"
for v in PROFILES DUR PACKETS SESSIONS MACS CORES PDR_PCT PRECISION MIN_RATE MAX_RATE MAX_TRIALS TESTPMD RSIZE ZC NICE HUGE; do
    if [[ -n ${!v+x} ]]; then CMDLINE="$v=\"${!v}\" $CMDLINE"; fi
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PERF_NAME=ndr
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILES=${PROFILES:-"ip:64 ip:1518"}
DUR=${DUR:-2}
PACKETS=${PACKETS:-4096}
SESSIONS=${SESSIONS:-8}
MACS=${MACS:-1000}
CORES=${CORES:-0,1}
PDR_PCT=${PDR_PCT:-0.5}
PRECISION=${PRECISION:-2}
MIN_RATE=${MIN_RATE:-10000}
MAX_RATE=${MAX_RATE:-0}
MAX_TRIALS=${MAX_TRIALS:-25}
TESTPMD=${TESTPMD:-1}
NICE=${NICE:--20}
HUGE=${HUGE:-1}
RSIZE=${RSIZE:-12}
ZC=${ZC:-1}

[[ $(id -u) == 0 ]] || die "run as root (DPDK needs it)"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
numbers PACKETS SESSIONS MACS MAX_TRIALS TESTPMD HUGE RSIZE ZC
decimals DUR PDR_PCT PRECISION MIN_RATE MAX_RATE
if [[ $TESTPMD == 1 ]]; then
    command -v dpdk-testpmd >/dev/null || die "dpdk-testpmd is needed (apt-get install -y dpdk), or TESTPMD=0"
fi
ls /usr/lib/*/dpdk/pmds-*/librte_net_memif.so* >/dev/null 2>&1 \
    || die "DPDK's memif driver is missing (apt-get install -y librte-net-memif23)"
CTRL_CORE=${CORES%%,*}
WORKER_CORE=${CORES##*,}
[[ $CTRL_CORE != "$WORKER_CORE" ]] || die "CORES needs two different cores (trafgen+control, worker), got $CORES"

# --- build ------------------------------------------------------------------
say "building release binaries (no-op when up to date)"
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --bin las --bin las-trafgen) >&2 \
    || die "cargo build failed"
LAS=$TARGET/release/las
TRAFGEN=$TARGET/release/las-trafgen

# --- scratch, cleanup ---------------------------------------------------------
WORK=$(mktemp -d /tmp/las-ndr.XXXXXX)
PIDS=()
PREFIXES=()
stop_pid() {
    local p=$1
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}
cleanup() {
    local p
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
    for p in "${PREFIXES[@]}"; do rm -rf "/run/dpdk/$p"; rm -f /dev/hugepages/"$p"map_*; done
    PREFIXES=()
}
trap 'rc=$?; cleanup; rm -rf "$WORK"; exit $rc' EXIT
trap 'exit 130' INT TERM
boost() {
    sleep 0.05
    [[ -w /proc/$1/autogroup ]] && echo "$NICE" >"/proc/$1/autogroup" 2>/dev/null || true
}

# --- memory: two DPDK processes at a time -----------------------------------
EAL_LAS=()
EAL_TG=()
HUGE_DESC=""
if [[ $HUGE == 1 ]]; then
    cur=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
    if (( cur < 512 )); then echo 512 >/proc/sys/vm/nr_hugepages 2>/dev/null || true; fi
    if ! mount | grep -q ' type hugetlbfs '; then
        mkdir -p /dev/hugepages
        mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
    fi
    free_pages=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    pagesz_kb=$(awk '/Hugepagesize/ {print $2}' /proc/meminfo)
    if mount | grep -q ' type hugetlbfs ' && (( free_pages * pagesz_kb >= 700 * 1024 )); then
        HUGE_DESC="hugepages (${free_pages} x ${pagesz_kb} kB free)"
        EAL_LAS=(-m 400 --huge-unlink)
        EAL_TG=(-m 256 --huge-unlink)
        if [[ $ZC == 1 ]]; then
            # memif zero-copy shares the generator's memory segments by fd:
            # one file per segment list, kept (removed at exit).
            EAL_TG=(-m 256 --single-file-segments)
            MEMIF_ZC=",zero-copy=yes"
        fi
    fi
fi
MEMIF_ZC=${MEMIF_ZC:-}
if [[ -z $HUGE_DESC ]]; then
    HUGE_DESC="NO hugepages (--no-huge; expect much lower numbers)"
    EAL_LAS=(--no-huge -m 1024)
    EAL_TG=(--no-huge -m 512)
    say "WARNING: running without hugepages (--no-huge): results are much lower than with hugepages"
fi

MODEL=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
HYPER=$(lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -1)
commit_of "$ROOT"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# Runs the search against the memif server already listening on $1 (a
# socket path); $2 = pcap, $3 = JSON out, $4 = log, $5 = RX queues,
# $6... = extra trafgen options.
run_trafgen() {
    local sock=$1 pcap=$2 json=$3 log=$4 rxq=$5 prefix="las-ndr-tg-$$"
    shift 5
    PREFIXES+=("$prefix")
    setsid nice -n "$NICE" "$TRAFGEN" send --pcap "$pcap" --duration "$DUR" --rx-queues "$rxq" \
        --min-rate "$MIN_RATE" --max-rate "$MAX_RATE" --pdr-pct "$PDR_PCT" \
        --precision-pct "$PRECISION" --max-trials "$MAX_TRIALS" --json "$json" "$@" -- \
        -l "$CTRL_CORE" --no-pci --file-prefix "$prefix" "${EAL_TG[@]}" \
        --vdev "net_memif0,role=client,socket=$sock,rsize=$RSIZE$MEMIF_ZC" </dev/null >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    boost "$pid"
    # The search prints its trials as it goes.
    tail -f --pid="$pid" "$log" 2>/dev/null | grep --line-buffered -E '^trafgen: (trial|NDR|PDR|generator)' \
        | sed -u 's/^trafgen: /ndr:   /' >&2 || true
    local rc=0
    wait "$pid" || rc=$?
    PIDS=("${PIDS[@]/$pid/}")
    rm -rf "/run/dpdk/$prefix"
    if (( rc != 0 )) || [[ ! -s $json ]]; then
        tail -20 "$log" >&2
        die "las-trafgen send failed (status $rc; log above)"
    fi
}

ROWS=()
CHECKS=()
TSV=$WORK/ndr.tsv
printf 'profile\tframe\tmean_wire_bytes\tdut\tndr_mpps\tndr_gbps\tpdr_mpps\tpdr_gbps\tcyc_at_ndr\ttrials\tgen_max_mpps\n' >"$TSV"

# Mpps and Gbit/s (L1: outer frame + FCS 4 + preamble/SFD 8 + gap 12) of a
# bound in $1 (JSON file), key $2 (ndr|pdr): the rate the generator really
# offered in the trial at the bound (below the target when it was late).
rate_of() {
    jq -r --arg k "$2" '(.[$k].trial.offered_pps // .[$k].pps // 0) as $p | (.mean_frame + 24) as $w
        | "\($p / 1e6 * 1000 | round / 1000) \($p * $w * 8 / 1e9 * 100 | round / 100)"' "$1"
}

run_profile() {
    local prof=$1 encap=${1%%:*} frame=${1##*:}
    local name="$encap-$frame" size_args underlay=ipv4
    case $encap in
        ip | udp) ;;
        ip6 | udp6) encap=${encap%6} underlay=ipv6 ;;
        *) die "bad profile $prof (ENCAP ip, udp, ip6 or udp6)" ;;
    esac
    if [[ $frame == imix ]]; then
        size_args=(--imix)
    else
        [[ $frame =~ ^[0-9]+$ ]] && (( frame >= 64 && frame <= 9004 )) \
            || die "bad profile $prof (frame size 64..9004 or imix)"
        size_args=(--size "$((frame - 4))")
    fi
    local pcap=$WORK/$name.pcap cfg=$WORK/$name.toml sock=$WORK/$name.sock msock=$WORK/$name.memif
    "$TRAFGEN" --out "$pcap" --sessions "$SESSIONS" --macs "$MACS" "${size_args[@]}" \
        --packets "$PACKETS" --encap "$encap" --underlay "$underlay" --broadcast-pct 0 \
        --device "net_memif0,role=server,socket=$msock" --socket "$sock" --config-out "$cfg" \
        2>"$WORK/$name.gen.log" || { cat "$WORK/$name.gen.log" >&2; die "$name: las-trafgen refused (log above)"; }

    # --- las ---
    say "$name: las (control core $CTRL_CORE, worker core $WORKER_CORE) <- trafgen (core $CTRL_CORE)"
    local prefix="las-ndr-las-$$" log=$WORK/$name.las.log
    PREFIXES+=("$prefix")
    rm -f "$sock"
    RUST_LOG=info setsid nice -n "$NICE" "$LAS" --config "$cfg" --cores "$CTRL_CORE,$WORKER_CORE" -- \
        --file-prefix "$prefix" "${EAL_LAS[@]}" </dev/null >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    boost "$pid"
    for _ in $(seq 1 300); do
        [[ -S $sock ]] && break
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$name: las exited early (log above)"; }
        sleep 0.1
    done
    [[ -S $sock ]] || { cat "$log" >&2; die "$name: las did not open $sock"; }
    local lj=$WORK/$name.las.json
    run_trafgen "$msock" "$pcap" "$lj" "$WORK/$name.tg-las.log" 2 --las-socket "$sock"
    "$LAS" show switches --socket "$sock" >"$WORK/$name.switches" 2>&1 || true
    stop_pid "$pid"
    PIDS=("${PIDS[@]/$pid/}")
    rm -rf "/run/dpdk/$prefix"

    # --- testpmd io on the same memif pair ---
    local tj=$WORK/$name.testpmd.json
    if [[ $TESTPMD == 1 ]]; then
        say "$name: testpmd io (main core $CTRL_CORE, forwarding core $WORKER_CORE) <- trafgen (core $CTRL_CORE)"
        local tprefix="las-ndr-tp-$$" tlog=$WORK/$name.testpmd.log
        PREFIXES+=("$tprefix")
        local mbufsz
        mbufsz=$(sed -n 's/^mbuf_size = //p' "$cfg")
        setsid stdbuf -oL nice -n "$NICE" dpdk-testpmd -l "$CTRL_CORE,$WORKER_CORE" --no-pci \
            --file-prefix "$tprefix" "${EAL_LAS[@]}" --vdev "net_memif0,role=server,socket=$msock" -- \
            --forward-mode=io --port-topology=loop --nb-cores=1 --rxq=1 --txq=1 --stats-period=5 \
            --total-num-mbufs=16384 --mbuf-size="${mbufsz:-2176}" --rxd=1024 --txd=1024 --burst=32 \
            </dev/null >"$tlog" 2>&1 &
        local tpid=$!
        PIDS+=("$tpid")
        boost "$tpid"
        local waited=0
        until grep -q 'packet forwarding\|Port statistics\|Press enter' "$tlog" 2>/dev/null; do
            kill -0 "$tpid" 2>/dev/null || { tail -20 "$tlog" >&2; die "$name: testpmd exited (log above)"; }
            (( waited++ < 150 )) || { tail -20 "$tlog" >&2; die "$name: testpmd did not start in 30 s"; }
            sleep 0.2
        done
        run_trafgen "$msock" "$pcap" "$tj" "$WORK/$name.tg-testpmd.log" 1 --echo
        stop_pid "$tpid"
        PIDS=("${PIDS[@]/$tpid/}")
        rm -rf "/run/dpdk/$tprefix"
    fi

    # --- the row ---
    local wire nm ng pm pg cyc ntr gen
    wire=$(jq -r '.mean_frame + 24 | . * 10 | round / 10' "$lj")
    read -r nm ng < <(rate_of "$lj" ndr)
    read -r pm pg < <(rate_of "$lj" pdr)
    cyc=$(jq -r '.ndr.trial.las_busy_cyc // 0 | round' "$lj")
    ntr=$(jq -r '.trials | length' "$lj")
    gen=$(jq -r '(.generator_max_pps // 0) / 1e6 * 100 | round / 100' "$lj")
    local tnm="-" tng="-" tpm="-" tpg="-" ratio="-" tntr="-" tgen="-"
    if [[ $TESTPMD == 1 ]]; then
        read -r tnm tng < <(rate_of "$tj" ndr)
        read -r tpm tpg < <(rate_of "$tj" pdr)
        tntr=$(jq -r '.trials | length' "$tj")
        tgen=$(jq -r '(.generator_max_pps // 0) / 1e6 * 100 | round / 100' "$tj")
        ratio=$(awk -v a="$nm" -v b="$tnm" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
        printf '%s\t%s\t%s\ttestpmd\t%s\t%s\t%s\t%s\t\t%s\t%s\n' "$prof" "$frame" "$wire" "$tnm" "$tng" "$tpm" "$tpg" "$tntr" "$tgen" >>"$TSV"
    fi
    printf '%s\t%s\t%s\tlas\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$prof" "$frame" "$wire" "$nm" "$ng" "$pm" "$pg" "$cyc" "$ntr" "$gen" >>"$TSV"
    ROWS+=("$(printf '%-10s %7s | %7s %7s %7s %7s %9s %6s | %7s %7s %7s %7s %6s | %5s' \
        "$name" "$wire" "$nm" "$ng" "$pm" "$pg" "$cyc" "$ntr" "$tnm" "$tng" "$tpm" "$tpg" "$tntr" "$ratio")")
    local note
    note=$(jq -r --arg n "$name" '"\($n): las: generator max \((.generator_max_pps // 0) / 1e6 * 1000 | round / 1000) Mpps, searched \(.min_rate) .. \(.max_rate | round) pps; NDR trial: \(.ndr.trial // {} | "offered \(.offered) received \(.received) of \(.expected), las rx \(.las_rx) drops \(.las_drops)\(if .late then " (generator LATE: offered \(.offered_pps | round) of \(.rate | round) pps)" else "" end)")\(if (.ndr.failed_at_pps == null and .ndr.pps != null) then " -- NDR = the maximum tried: limited by the generator, not las" else "" end)\(if .ndr.converged and .pdr.converged then "" else " -- NOT converged in \(.trials | length) trials" end)"' "$lj")
    CHECKS+=("$note")
    if [[ $TESTPMD == 1 ]]; then
        note=$(jq -r --arg n "$name" '"\($n): testpmd: generator max \((.generator_max_pps // 0) / 1e6 * 1000 | round / 1000) Mpps\(if (.ndr.failed_at_pps == null and .ndr.pps != null) then " -- NDR = the maximum tried: limited by the generator" else "" end)\(if .ndr.converged and .pdr.converged then "" else " -- NOT converged" end)"' "$tj")
        CHECKS+=("$note")
    fi
    CHECKS+=("$(sed 's/^/    /' "$WORK/$name.switches")")
    mkdir -p "$ROOT/perf/results"
    cp "$lj" "$ROOT/perf/results/ndr-$(date -u +%F)-$name-las.json"
    [[ $TESTPMD == 1 ]] && cp "$tj" "$ROOT/perf/results/ndr-$(date -u +%F)-$name-testpmd.json"
    rm -f "$pcap"
}

for prof in $PROFILES; do
    run_profile "$prof"
done

# --- report -------------------------------------------------------------------
OUT=$ROOT/perf/results/ndr-$(date -u +%F).txt
{
    echo "== las NDR/PDR over memif $DATE  commit $COMMIT$DIRTY"
    echo "command:  $CMDLINE"
    echo "machine:  $MODEL, $(nproc) CPUs${HYPER:+, hypervisor $HYPER}; $HUGE_DESC"
    echo "setup:    las-trafgen send (memif client) on core $CTRL_CORE; las: control core $CTRL_CORE, 1 worker on core $WORKER_CORE (memif server);"
    [[ $TESTPMD == 1 ]] && echo "          testpmd io --port-topology=loop: main core $CTRL_CORE, forwarding core $WORKER_CORE (memif server)"
    echo "          $PACKETS pkts/pcap, $SESSIONS sessions, $MACS MACs, 0% broadcast; ${DUR} s per trial; NDR = 0 loss, PDR <= ${PDR_PCT}% loss;"
    echo "          memif rings of $((1 << RSIZE)) slots${MEMIF_ZC:+, generator side zero-copy}; precision ${PRECISION}%; nice $NICE; load before: $LOAD0"
    echo "Mpps = packets/s the generator offered in the trial at the bound; Gbit/s = Mpps x wire bytes x 8 (wire = outer frame + FCS + preamble + gap = +24)"
    echo "cyc@NDR = las busy_cycles / packets its worker received during the trial at the NDR rate (not saturated: includes idle polls of busy loops)"
    printf '%-10s %7s | %7s %7s %7s %7s %9s %6s | %7s %7s %7s %7s %6s | %5s\n' \
        "" "" las las las las las las testpmd testpmd testpmd testpmd testpmd "NDR"
    printf '%-10s %7s | %7s %7s %7s %7s %9s %6s | %7s %7s %7s %7s %6s | %5s\n' \
        profile wire-B "NDR" "Gbit/s" "PDR" "Gbit/s" "cyc@NDR" trials "NDR" "Gbit/s" "PDR" "Gbit/s" trials "las/tp"
    printf '%s\n' "${ROWS[@]}"
    echo "checks:"
    printf '  %s\n' "${CHECKS[@]}"
    echo
} | tee -a "$OUT"
STAMP=$(date -u -d "$DATE" +%F-%H%M%S)
TSVOUT=$ROOT/perf/results/ndr-$STAMP.tsv
{ echo "# las NDR/PDR over memif $DATE commit $COMMIT$DIRTY; $CMDLINE"; cat "$TSV"; } >"$TSVOUT"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
    say "installing python3-matplotlib for the plot"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-matplotlib >/dev/null \
        || die "python3-matplotlib is needed for the plot (apt-get install python3-matplotlib)"
fi
"$PY" "$ROOT/perf/plot_ndr.py" "$TSVOUT" "$ROOT/perf/results/ndr-$STAMP.png" || die "plotting $TSVOUT failed"
say "table in $OUT, plot in perf/results/ndr-$STAMP.png"
