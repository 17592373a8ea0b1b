#!/usr/bin/env bash
# las throughput benchmark: the I/O ceiling (dpdk-testpmd, io forwarding) and
# las on the same net_pcap vdev, same cores, same mbuf pool size, per profile.
# See perf/README.md. Run as root from anywhere:  perf/bench.sh
#
# Environment knobs (defaults in brackets):
#   PROFILES   space-separated ENCAP:SIZE list; ENCAP is ip or udp (L2TPv3
#              over IPv4) or ip6 or udp6 (over IPv6: las-trafgen --underlay
#              ipv6, UDP checksum computed), SIZE the inner frame without FCS
#              (60..9000); e.g. "ip:64 ip6:64 udp:64 udp6:64" puts v4 and
#              v6 side by side (column "net")         ["ip:64 ip:1514"]
#   DUR        seconds measured per run                   [10]
#   WARM       seconds before measuring (learning, cache) [3]
#   PACKETS    packets in each pcap                       [4096]
#   SESSIONS   pseudowires                                [8]
#   MACS       inner source MACs                          [1000]
#   BCAST      inner broadcast percentage                 [0]
#   CORES      control core,worker core                   [0,1]
#   TX         vdev TX side: "drop" (no tx stream: net_pcap drops, no copy) or
#              "devnull" (tx_pcap=/dev/null: libpcap writes every packet) [drop]
#   NICE       nice level of testpmd and las, each started in its own session
#              (setsid) whose autogroup gets the same nice level: the poll
#              threads compete with whatever else runs on the worker core, and
#              with sched_autogroup a plain nice does not help (-20 = take
#              ~97% of the core against one busy process of another session;
#              0 = share fairly)                          [-20]
#   HUGE       1 = use hugepages if possible, 0 = force --no-huge [1]
#   PERF       1 = also `perf record` the las worker core during the window,
#              with its time by stage (perf/stages.py)       [0]
#   SWEEP      1 = instead of PROFILES, measure every (MACs, sessions) point of
#              SWEEP_MACS x SWEEP_SESSIONS (points with fewer MACs than
#              sessions are skipped) with profile SWEEP_PROFILE, all on pcaps
#              of the same PACKETS (default 1048576 in a sweep, so that a
#              million MACs are all sources); writes perf/results/sweep-<UTC
#              date>.tsv and plots perf/sweep.png (python3-matplotlib,
#              installed with apt-get when missing)           [0]
#   SWEEP_MACS      ["1000 65536 1048576"]
#   SWEEP_SESSIONS  ["8 4096 65535"]
#   SWEEP_PROFILE   ["ip:64"]
#   CARGO_TARGET_DIR  where cargo builds                  [<repo>/target]
#   LAS_BIN    a prebuilt las to measure instead (no build; las-trafgen is
#              still built here): to compare two builds in one session   []
#   MAC_REFRESH  [dataplane] mac_refresh for las (seconds between refresh
#              events of an active MAC; configs/las.example.toml tells
#              operators with hundreds of thousands of MACs to raise it)
#              [las's default, 1]
#   MAC_TABLE  [dataplane] mac_table_size for las instead of the one
#              las-trafgen writes (every MAC plus 1/16 and 1024 of slack;
#              the table rounds its buckets up to a power of two)    []
#   BURST      packets per RX/TX burst, for las ([dataplane] burst) and
#              testpmd (--burst) alike; 1..64                      [32]
#   LAS_BURST_LOOP  passed to las: auto, staged, staged-full, direct or
#              full forces the worker's burst loop (src/worker/engine.rs) [auto]
#   POINTS     a file to append the measured points to, tab-separated, with
#              a header line when the file is new or empty (the columns of
#              the sweep table; perf/targets.sh collects its rounds so) []
set -euo pipefail

# The knobs given in the environment, to record the exact command.
CMDLINE="$0 $*"
for v in PROFILES DUR WARM PACKETS SESSIONS MACS BCAST CORES TX NICE HUGE PERF SWEEP SWEEP_MACS SWEEP_SESSIONS SWEEP_PROFILE LAS_BIN MAC_REFRESH MAC_TABLE BURST LAS_BURST_LOOP POINTS; do
    if [[ -n ${!v+x} ]]; then CMDLINE="$v=\"${!v}\" $CMDLINE"; fi
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PERF_NAME=bench
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
PROFILES=${PROFILES:-"ip:64 ip:1514"}
DUR=${DUR:-10}
WARM=${WARM:-3}
SWEEP=${SWEEP:-0}
SWEEP_MACS=${SWEEP_MACS:-"1000 65536 1048576"}
SWEEP_SESSIONS=${SWEEP_SESSIONS:-"8 4096 65535"}
SWEEP_PROFILE=${SWEEP_PROFILE:-"ip:64"}
if [[ $SWEEP == 1 ]]; then PACKETS=${PACKETS:-1048576}; else PACKETS=${PACKETS:-4096}; fi
SESSIONS=${SESSIONS:-8}
MACS=${MACS:-1000}
BCAST=${BCAST:-0}
CORES=${CORES:-0,1}
TX=${TX:-drop}
NICE=${NICE:--20}
HUGE=${HUGE:-1}
PERF=${PERF:-0}
MAC_REFRESH=${MAC_REFRESH:-}
MAC_TABLE=${MAC_TABLE:-}
BURST=${BURST:-32}
POINTS=${POINTS:-}

[[ $(id -u) == 0 ]] || die "run as root (DPDK needs it)"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
command -v dpdk-testpmd >/dev/null || die "dpdk-testpmd is needed (apt-get install -y dpdk)"
numbers DUR WARM SWEEP PACKETS SESSIONS MACS BCAST HUGE PERF BURST
(( BURST >= 1 && BURST <= 64 )) || die "BURST=$BURST: expected 1..64 (las's limit)"
[[ -z $MAC_REFRESH || $MAC_REFRESH =~ ^[1-9][0-9]*$ ]] || die "MAC_REFRESH=$MAC_REFRESH: expected a whole number >= 1"
[[ -z $MAC_TABLE || $MAC_TABLE =~ ^[1-9][0-9]*$ ]] || die "MAC_TABLE=$MAC_TABLE: expected a whole number >= 1"
case $TX in
    devnull) TXSPEC=",tx_pcap=/dev/null" ;;
    drop) TXSPEC="" ;;
    *) die "TX must be devnull or drop" ;;
esac

# --- build ------------------------------------------------------------------
say "building release binaries (no-op when up to date)"
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --bin las --bin las-trafgen) >&2
LAS=${LAS_BIN:-$TARGET/release/las}
[[ -x $LAS ]] || die "LAS_BIN=$LAS is not an executable"
TRAFGEN=$TARGET/release/las-trafgen

# --- scratch, cleanup -------------------------------------------------------
WORK=$(mktemp -d /tmp/las-bench.XXXXXX)
PIDS=()
PREFIXES=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do
        if kill -0 "$p" 2>/dev/null; then
            kill -TERM "$p" 2>/dev/null || true
            for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
            kill -KILL "$p" 2>/dev/null || true
        fi
        wait "$p" 2>/dev/null || true
    done
    PIDS=()
    for p in "${PREFIXES[@]}"; do rm -rf "/run/dpdk/$p"; rm -f /dev/hugepages/"$p"map_*; done
    PREFIXES=()
}
trap 'rc=$?; cleanup; rm -rf "$WORK"; exit $rc' EXIT
trap 'exit 130' INT TERM

# Stops one process we started (SIGINT, then SIGKILL after 3 s).
stop_pid() {
    local p=$1
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 1 30); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
}

# Nanoseconds the poll thread (rte-worker-<core>) of process $1 has run on a CPU.
thread_ns() {
    local t
    for t in /proc/"$1"/task/*; do
        if [[ $(cat "$t/comm" 2>/dev/null) == *worker-$WORKER_CORE ]]; then
            awk '{print $1}' "$t/schedstat"
            return
        fi
    done
    echo 0
}
now() { date +%s.%N; }
# Gives the autogroup (session) of process $1 the nice level $NICE.
boost() {
    sleep 0.05
    [[ -w /proc/$1/autogroup ]] && echo "$NICE" >"/proc/$1/autogroup" 2>/dev/null || true
}

# --- memory -----------------------------------------------------------------
EAL_MEM=()
HUGE_DESC=""
if [[ $HUGE == 1 ]]; then
    cur=$(cat /proc/sys/vm/nr_hugepages 2>/dev/null || echo 0)
    if (( cur < 512 )); then
        echo 512 > /proc/sys/vm/nr_hugepages 2>/dev/null || true
    fi
    if ! mount | grep -q ' type hugetlbfs '; then
        mkdir -p /dev/hugepages
        mount -t hugetlbfs nodev /dev/hugepages 2>/dev/null || true
    fi
    free_pages=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
    pagesz_kb=$(awk '/Hugepagesize/ {print $2}' /proc/meminfo)
    if mount | grep -q ' type hugetlbfs ' && (( free_pages * pagesz_kb >= 400 * 1024 )); then
        HUGE_DESC="hugepages (${free_pages} x ${pagesz_kb} kB free)"
        EAL_MEM=(-m 400 --huge-unlink)
    fi
fi
# EAL memory for a pool of $1 mbufs of $2 bytes (net_pcap's infinite_rx
# holds the whole pcap in it): sets EAL_MEM, reserving more hugepages
# when needed; big sweeps need more than the default 512.
eal_mem() {
    local mb=$(( $1 * ($2 + 256) / 1048576 + 320 ))
    if (( mb < 400 )); then mb=400; fi
    if [[ $HUGE_DESC == hugepages* ]]; then
        local pagesz_kb need cur
        pagesz_kb=$(awk '/Hugepagesize/ {print $2}' /proc/meminfo)
        need=$(( (mb + 64) * 1024 / pagesz_kb ))
        cur=$(cat /proc/sys/vm/nr_hugepages)
        if (( cur < need )); then
            echo "$need" > /proc/sys/vm/nr_hugepages || true
        fi
        local free
        free=$(awk '/HugePages_Free/ {print $2}' /proc/meminfo)
        (( free * pagesz_kb >= mb * 1024 )) || die "need $mb MB of hugepages for $1 mbufs, only $((free * pagesz_kb / 1024)) MB free"
        EAL_MEM=(-m "$mb" --huge-unlink)
    else
        EAL_MEM=(--no-huge -m "$((mb + 600))")
    fi
}
if [[ -z $HUGE_DESC ]]; then
    HUGE_DESC="NO hugepages (--no-huge; expect 1.4-1.8x lower numbers)"
    EAL_MEM=(--no-huge -m 1024)
    say "WARNING: running without hugepages (--no-huge): results are much lower than with hugepages"
fi

CTRL_CORE=${CORES%%,*}
WORKER_CORE=${CORES##*,}
MODEL=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
NCPU=$(nproc)
HYPER=$(lscpu | sed -n 's/^Hypervisor vendor:[[:space:]]*//p' | head -1)
commit_of "$ROOT"
[[ -n ${LAS_BIN:-} ]] && COMMIT="$COMMIT (las: $LAS_BIN)"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

# --- testpmd: the I/O ceiling -----------------------------------------------
# Writes the mean Rx-pps (Mpps) over the measured window to $log.mpps and the
# poll thread's CPU share to $log.share.
# (Not run in a subshell, so that the EXIT trap knows the pid.)
run_testpmd() {
    local vdev=$1 mbufs=$2 log=$3 mbufsz=$4 prefix="las-bench-tp-$$"
    PREFIXES+=("$prefix")
    setsid stdbuf -oL nice -n "$NICE" dpdk-testpmd -l "$CTRL_CORE,$WORKER_CORE" --no-pci --file-prefix "$prefix" \
        "${EAL_MEM[@]}" --vdev "$vdev" -- --forward-mode=io --nb-cores=1 --stats-period=1 \
        --total-num-mbufs="$mbufs" --mbuf-size="$mbufsz" --rxd=1024 --txd=1024 --burst="$BURST" \
        </dev/null >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    boost "$pid"
    # testpmd prints a stats block every ~stats-period (in practice every
    # 2 s: its loop sleeps 1 s and checks the period), with Rx-pps measured
    # over the time since the previous block. Use the blocks printed during
    # the DUR-second window that starts WARM s after the first one, and note
    # the poll thread's CPU time over that window.
    samples() { local c; c=$(grep -c 'Rx-pps' "$log" 2>/dev/null) || true; echo "${c:-0}"; }
    local waited=0
    while (( $(samples) < 1 )); do
        kill -0 "$pid" 2>/dev/null || { tail -20 "$log" >&2; die "testpmd exited (log above)"; }
        (( waited++ < 300 )) || die "testpmd printed no stats in 60 s"
        sleep 0.2
    done
    sleep "$WARM"
    local n0 n1 r0 t0 r1 t1
    n0=$(samples); r0=$(thread_ns "$pid"); t0=$(now)
    sleep "$DUR"
    r1=$(thread_ns "$pid"); t1=$(now)
    waited=0
    while (( $(samples) <= n0 + 1 )) && (( waited++ < 25 )); do sleep 0.2; done
    n1=$(samples)
    awk -v r0="$r0" -v r1="$r1" -v t0="$t0" -v t1="$t1" \
        'BEGIN {printf "%.3f\n", (r1 - r0) / 1e9 / (t1 - t0)}' >"$log.share"
    stop_pid "$pid"
    rm -rf "/run/dpdk/$prefix"
    # The Rx-pps of the blocks printed from the window start to just after its end.
    tr -d '\033' <"$log" | grep -o 'Rx-pps: *[0-9]*' | awk '{print $2}' \
        | sed -n "$((n0 + 1)),${n1}p" >"$log.pps"
    [[ -s $log.pps ]] || { tail -20 "$log" >&2; die "testpmd gave no Rx-pps samples (log above)"; }
    awk '{s+=$1; n++} END {printf "%.3f\n", s/n/1e6}' "$log.pps" >"$log.mpps"
}

# --- las ----------------------------------------------------------------------
counters() { "$LAS" show counters --json --socket "$1"; }
ports() { "$LAS" show ports --json --socket "$1"; }

# Runs las, measures, writes the results as JSON to $4.
run_las() {
    local cfg=$1 sock=$2 log=$3 detail=$4 prefix="las-bench-las-$$"
    PREFIXES+=("$prefix")
    rm -f "$sock"
    RUST_LOG=info setsid nice -n "$NICE" "$LAS" --config "$cfg" --cores "$CTRL_CORE,$WORKER_CORE" -- \
        --file-prefix "$prefix" "${EAL_MEM[@]}" </dev/null >"$log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    boost "$pid"
    for _ in $(seq 1 600); do
        [[ -S $sock ]] && break
        kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "las exited early (log above)"; }
        sleep 0.1
    done
    [[ -S $sock ]] || { cat "$log" >&2; die "las did not open $sock"; }
    sleep "$WARM"
    local c0 c1 p0 p1 t0 t1 r0 r1 perfpid=""
    p0=$(ports "$sock"); c0=$(counters "$sock"); t0=$(now); r0=$(thread_ns "$pid")
    if [[ $PERF == 1 ]] && command -v perf >/dev/null; then
        perf record -q -C "$WORKER_CORE" -o "$detail.perf.data" -- sleep "$DUR" >/dev/null 2>&1 &
        perfpid=$!
    fi
    sleep "$DUR"
    r1=$(thread_ns "$pid"); c1=$(counters "$sock"); t1=$(now); p1=$(ports "$sock")
    [[ -n $perfpid ]] && wait "$perfpid" || true
    "$LAS" show switches --socket "$sock" >"$detail.switches" 2>&1 || true
    stop_pid "$pid"
    rm -rf "/run/dpdk/$prefix"
    rm -f "$sock"
    jq -n --argjson c0 "$c0" --argjson c1 "$c1" --argjson p0 "$p0" --argjson p1 "$p1" \
        --arg t0 "$t0" --arg t1 "$t1" --arg r0 "$r0" --arg r1 "$r1" '
        (($t1|tonumber) - ($t0|tonumber)) as $dt
        | (($c1.workers | map(.rx_packets) | add) - ($c0.workers | map(.rx_packets) | add)) as $rx
        | ((($r1|tonumber) - ($r0|tonumber)) / 1e9) as $oncpu
        | (($c1.workers | map(.busy_cycles) | add) - ($c0.workers | map(.busy_cycles) | add)) as $busy
        | (($p1.ports | map(.tx_packets) | add) - ($p0.ports | map(.tx_packets) | add)) as $tx
        | (($p1.ports | map(.rx_missed + .rx_nombuf) | add) - ($p0.ports | map(.rx_missed + .rx_nombuf) | add)) as $miss
        | [ $c1.drops | to_entries[] | {k: .key, v: (.value - ($c0.drops[.key] // 0))} | select(.v > 0) ]
            | sort_by(-.v) as $drops
        | ($drops | map(.v) | add // 0) as $dropped
        | {
            dt: $dt, rx: $rx, tsc_hz: $c1.tsc_hz,
            share: ($oncpu / $dt),
            cyc_oncpu: (if $rx > 0 then $c1.tsc_hz * $oncpu / $rx else 0 end), tx: $tx, missed: $miss, dropped: $dropped,
            mpps: ($rx / $dt / 1e6),
            out_mpps: ($tx / $dt / 1e6),
            cyc_busy: (if $rx > 0 then $busy / $rx else 0 end),
            cyc_total: (if $rx > 0 then $c1.tsc_hz * $dt / $rx else 0 end),
            drop_pct: (if $rx > 0 then 100 * $dropped / $rx else 100 end),
            top_drops: ($drops[:5] | map("\(.k)=\(.v)") | join(" ")),
            ok: ($rx > 0 and $tx > 0 and $dropped <= 0.01 * $rx)
          }' >"$detail"
}

# --- profiles -----------------------------------------------------------------
ROWS=()
CHECKS=()
INVALID=0
# Points of a sweep, tab-separated (see the header line).
TSV=$WORK/points.tsv
printf 'profile\tmacs\tsessions\tpackets\ttestpmd_mpps\ttestpmd_cyc\tlas_mpps\tlas_out_mpps\tlas_busy_cyc\tlas_oncpu_cyc\tadded_cyc\tratio\tvalid\n' >"$TSV"

# Measures one profile: $1 = ENCAP:SIZE, $2 = sessions, $3 = MACs.
run_profile() {
    local prof=$1 sessions=$2 macs=$3
    local encap=${prof%%:*} size=${prof##*:} underlay=ipv4 net=v4
    case $encap in
        ip | udp) ;;
        ip6 | udp6) encap=${encap%6} underlay=ipv6 net=v6 ;;
        *) die "bad profile $prof: ENCAP must be ip, udp, ip6 or udp6" ;;
    esac
    [[ $prof == *:* && $size =~ ^[0-9]+$ ]] || die "bad profile $prof: expected ENCAP:SIZE, e.g. ip6:64"
    # The label in the table (the net column says v4 or v6); the name in
    # the checks and file names says -v6 too (v4 names are as before).
    local label="$encap-${size}B"
    [[ $SWEEP == 1 ]] && label="$label-${macs}m-${sessions}s"
    local name=$label
    [[ $net == v6 ]] && name="$label-v6"
    local pcap=$WORK/$name.pcap cfg=$WORK/$name.toml sock=$WORK/$name.sock
    local vdev="net_pcap0,rx_pcap=$pcap,infinite_rx=1$TXSPEC"
    if ! "$TRAFGEN" --out "$pcap" --sessions "$sessions" --macs "$macs" --size "$size" \
        --packets "$PACKETS" --encap "$encap" --underlay "$underlay" --broadcast-pct "$BCAST" \
        --device "$vdev" --socket "$sock" --config-out "$cfg" 2>"$WORK/$name.trafgen.log"; then
        cat "$WORK/$name.trafgen.log" >&2
        die "$name: las-trafgen refused (log above)"
    fi
    local mbufs mbufsz
    mbufs=$(sed -n 's/^mbufs = //p' "$cfg")
    mbufsz=$(sed -n 's/^mbuf_size = //p' "$cfg")
    [[ -n $mbufs && -n $mbufsz ]] || die "$name: no mbufs/mbuf_size in the generated $cfg"
    if [[ -n $MAC_REFRESH ]]; then
        grep -q '^mac_refresh' "$cfg" && die "$name: the generated $cfg sets mac_refresh already"
        sed -i "s/^\[dataplane\]\$/[dataplane]\nmac_refresh = $MAC_REFRESH/" "$cfg"
        grep -q "^mac_refresh = $MAC_REFRESH\$" "$cfg" || die "$name: could not set mac_refresh in $cfg"
    fi
    if [[ -n $MAC_TABLE ]]; then
        sed -i "s/^mac_table_size = .*/mac_table_size = $MAC_TABLE/" "$cfg"
        grep -q "^mac_table_size = $MAC_TABLE\$" "$cfg" || die "$name: could not set mac_table_size in $cfg"
    fi
    if grep -q '^burst = ' "$cfg"; then
        sed -i "s/^burst = .*/burst = $BURST/" "$cfg"
    else
        sed -i "s/^\[dataplane\]\$/[dataplane]\nburst = $BURST/" "$cfg"
    fi
    grep -q "^burst = $BURST\$" "$cfg" || die "$name: could not set burst in $cfg"
    eal_mem "$mbufs" "$mbufsz"

    say "$name: testpmd io forwarding for $((WARM + DUR)) s"
    run_testpmd "$vdev" "$mbufs" "$WORK/$name.testpmd.log" "$mbufsz"
    local tp tpshare
    tp=$(cat "$WORK/$name.testpmd.log.mpps")
    tpshare=$(cat "$WORK/$name.testpmd.log.share")
    say "$name: las for $((WARM + DUR)) s"
    local d=$WORK/$name.las.json
    run_las "$cfg" "$sock" "$WORK/$name.las.log" "$d"
    local lm om cb ct co lshare hz ok
    read -r lm om cb ct co lshare hz ok < <(jq -r '"\(.mpps) \(.out_mpps) \(.cyc_busy) \(.cyc_total) \(.cyc_oncpu) \(.share) \(.tsc_hz) \(.ok)"' "$d")
    # testpmd cycles per packet while on the CPU, with las's TSC frequency.
    local tpc ratio
    tpc=$(awk -v m="$tp" -v s="$tpshare" -v hz="$hz" 'BEGIN {printf "%.0f", (m > 0 ? hz * s / (m * 1e6) : 0)}')
    ratio=$(awk -v a="$lm" -v b="$tp" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')
    ROWS+=("$(printf '%-24s %3s %8.3f %5.0f%% %8.0f | %8.3f %8.3f %5.0f%% %7.0f %8.0f %9.0f | %5s' \
        "$label" "$net" "$tp" "$(awk -v s="$tpshare" 'BEGIN {print s * 100}')" "$tpc" \
        "$lm" "$om" "$(awk -v s="$lshare" 'BEGIN {print s * 100}')" "$cb" "$ct" "$co" "$ratio")")
    local chk
    chk=$(jq -r --arg n "$name" '"\($n): las rx \(.rx) tx \(.tx) dropped \(.dropped) (\(.drop_pct*100|round/100)%) missed/nombuf \(.missed) in \(.dt*100|round/100) s; top drops: \(if .top_drops == "" then "none" else .top_drops end)"' "$d")
    if [[ $ok != true ]]; then
        chk="$chk  <-- INVALID: las did not forward (tx 0 or >1% drops)"
        ROWS[-1]="${ROWS[-1]}  INVALID"
        INVALID=1
    fi
    CHECKS+=("$chk")
    CHECKS+=("$name: $(grep -o 'MAC table of .*' "$WORK/$name.las.log" | head -1)")
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%s\t%s\n' "$prof" "$macs" "$sessions" "$PACKETS" \
        "$tp" "$tpc" "$lm" "$om" "$cb" "$co" "$(awk -v a="$co" -v b="$tpc" 'BEGIN {print a - b}')" "$ratio" "$ok" >>"$TSV"
    if [[ $PERF == 1 && -f $d.perf.data ]]; then
        mkdir -p "$ROOT/perf/results"
        cp "$d.perf.data" "$ROOT/perf/results/perf-$name.data"
        {
            echo "# perf record -C $WORKER_CORE during the las window of $name; commit $COMMIT$DIRTY${LAS_BIN:+ (las: $LAS_BIN)}; $DATE"
            echo "# share per process:"
            perf report -i "$d.perf.data" --sort comm --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -8
            echo "# the las poll thread (rte-worker-$WORKER_CORE) by symbol:"
            perf report -i "$d.perf.data" --comm "rte-worker-$WORKER_CORE" --sort dso,sym \
                --stdio 2>/dev/null | grep -v '^#' | grep -v '^$' | head -50
            echo "# the poll thread by stage (perf/stages.py: each las sample at its innermost las source frame):"
            python3 "$ROOT/perf/stages.py" "$d.perf.data" "$LAS" "rte-worker-$WORKER_CORE" "$co" 2>&1
        } >"$ROOT/perf/results/perf-$name.txt" || true
        CHECKS+=("$name: perf profile of the worker core in perf/results/perf-$name.txt")
    fi
    CHECKS+=("$(sed 's/^/    /' "$d.switches")")
    rm -f "$pcap"
}

if [[ $SWEEP == 1 ]]; then
    # Debian's python (apt installs matplotlib there), not a pyenv shim.
    PY=/usr/bin/python3
    [[ -x $PY ]] || PY=python3
    if ! "$PY" -c 'import matplotlib' 2>/dev/null; then
        say "installing python3-matplotlib for the sweep plot"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-matplotlib >/dev/null \
            || die "python3-matplotlib is needed for the plot (apt-get install python3-matplotlib)"
    fi
    for m in $SWEEP_MACS; do
        for ss in $SWEEP_SESSIONS; do
            if (( m < ss )); then continue; fi
            run_profile "$SWEEP_PROFILE" "$ss" "$m"
        done
    done
else
    for prof in $PROFILES; do
        run_profile "$prof" "$SESSIONS" "$MACS"
    done
fi

# --- report -------------------------------------------------------------------
{
    echo "== las bench $DATE  commit $COMMIT$DIRTY"
    echo "command:  $CMDLINE"
    echo "machine:  $MODEL, $NCPU CPUs${HYPER:+, hypervisor $HYPER}; $HUGE_DESC"
    echo "setup:    cores $CORES (testpmd: main $CTRL_CORE + 1 fwd core $WORKER_CORE; las: control $CTRL_CORE + 1 worker $WORKER_CORE)"
    if [[ $SWEEP == 1 ]]; then
        echo "          vdev net_pcap0,rx_pcap=<profile>.pcap,infinite_rx=1$TXSPEC; $PACKETS pkts/pcap, sweep of MACs {$SWEEP_MACS} x sessions {$SWEEP_SESSIONS}, ${BCAST}% broadcast"
    else
        echo "          vdev net_pcap0,rx_pcap=<profile>.pcap,infinite_rx=1$TXSPEC; $PACKETS pkts/pcap, $SESSIONS sessions, $MACS MACs, ${BCAST}% broadcast"
    fi
    echo "          ${WARM} s warm-up, ${DUR} s measured; burst $BURST; nice $NICE; load before: $LOAD0"
    echo "cpu% = share of the wall time the poll thread (core $WORKER_CORE) was on a CPU (< 100%: other processes ran there)"
    echo "cyc = TSC cycles per received packet: busy = las busy_cycles, total = tsc_hz*dt, on-cpu = tsc_hz*thread CPU time"
    echo "out Mpps = frames las sent per second (flood copies included)"
    echo "net = the underlay: v4 = L2TPv3 over IPv4, v6 = over IPv6 (UDP checksum computed both ways); testpmd replays the same pcap"
    printf '%-24s %3s %8s %6s %8s | %8s %8s %6s %7s %8s %9s | %5s\n' \
        "" "" testpmd "" "" las las "" "" "" "" las/
    printf '%-24s %3s %8s %6s %8s | %8s %8s %6s %7s %8s %9s | %5s\n' \
        profile net Mpps cpu% cyc/pkt Mpps out cpu% busy total on-cpu tpmd
    printf '%s\n' "${ROWS[@]}"
    echo "checks:"
    printf '  %s\n' "${CHECKS[@]}"
    echo
} | tee -a "$ROOT/perf/results/$(date -u +%F).txt"
if [[ $SWEEP == 1 ]]; then
    out=$ROOT/perf/results/sweep-$(date -u +%F).tsv
    { echo "# las bench sweep $DATE commit $COMMIT$DIRTY; $CMDLINE"; cat "$TSV"; } >"$out"
    say "sweep table in $out"
    "$PY" "$ROOT/perf/plot_sweep.py" "$out" "$ROOT/perf/sweep.png" || die "plotting $out failed"
    say "sweep plot in perf/sweep.png"
fi
if [[ -n $POINTS ]]; then
    [[ -s $POINTS ]] || head -1 "$TSV" >"$POINTS" || die "cannot write POINTS=$POINTS"
    tail -n +2 "$TSV" >>"$POINTS" || die "cannot append to POINTS=$POINTS"
fi
if (( INVALID )); then
    say "some profiles are INVALID (las dropped instead of forwarding): see the checks above"
    exit 2
fi
