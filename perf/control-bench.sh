#!/usr/bin/env bash
# The control plane's setup rate: `las-trafgen ctl` plays many LACs in the
# network namespace cb-lac, each opening an RFC 3931 control connection to
# las and many sessions (SCCRQ/SCCRP/SCCCN, ICRQ/ICRP/ICCN as Cisco IOS
# sends them), while a data stream flows over sessions established before;
# las runs in the namespace cb-las on net_af_packet over a veth pair.
# Prints sessions established per second, time to all up, retransmissions
# and the stream's loss, per run. See perf/README.md. Run as root.
#
# Environment knobs (defaults in brackets):
#   RUNS        space-separated session counts, one run each ["1000 10000"]
#   ENCAPS      space-separated encapsulations, "ip" and/or "udp" ["ip udp"]
#   LACS        LACs (control connections) per run      [100]
#   PER_VC      sessions per VC ID (one switch each)    [2]
#   FLAVOUR     cisco (IETF + vendor-9 AVPs) or ietf    [cisco]
#   COOKIE      cookie length the LACs assign (0/4/8)   [0]
#   STEADY      pre-established sessions with a stream  [2]
#   STEADY_PPS  frames/s each of them sends             [1000]
#   TIMEOUT     seconds a run may take                  [60]
#   CORES       las control core,worker core            [0,1]
#   GEN_CORE    core of the load generator              [0]
#   LAS_L2TP    extra lines for las's [l2tp] section, e.g.
#               $'punt_rate = 0\ncontrol_rate = 100000' (default: las's
#               defaults: punt_rate 10000/s per worker, control_rate
#               1000 messages/s per peer)            [""]
#   LAS_DATAPLANE extra lines for las's [dataplane], e.g. "punt_ring = 8192"
#               (default 1024)                         [""]
#   CARGO_TARGET_DIR  where cargo builds                [<repo>/target]
# Namespaces cb-las and cb-lac, addresses 198.19.200.0/24 (las .1, LACs
# from .10). Both namespaces are removed at the end.
set -euo pipefail

CMDLINE="$0 $*"
for v in RUNS ENCAPS LACS PER_VC FLAVOUR COOKIE STEADY STEADY_PPS TIMEOUT CORES GEN_CORE LAS_L2TP LAS_DATAPLANE; do
    if [[ -n ${!v+x} ]]; then CMDLINE="$v=\"${!v}\" $CMDLINE"; fi
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PERF_NAME=control-bench
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
RUNS=${RUNS:-"1000 10000"}
ENCAPS=${ENCAPS:-"ip udp"}
LACS=${LACS:-100}
PER_VC=${PER_VC:-2}
FLAVOUR=${FLAVOUR:-cisco}
COOKIE=${COOKIE:-0}
STEADY=${STEADY:-2}
STEADY_PPS=${STEADY_PPS:-1000}
TIMEOUT=${TIMEOUT:-60}
CORES=${CORES:-0,1}
GEN_CORE=${GEN_CORE:-0}
LAS_L2TP=${LAS_L2TP:-}
LAS_DATAPLANE=${LAS_DATAPLANE:-}
NS_LAS=cb-las
NS_LAC=cb-lac
LAS_IP=198.19.200.1
FIRST_LAC=10

[[ $(id -u) == 0 ]] || die "run as root (namespaces, raw sockets, DPDK)"
command -v jq >/dev/null || die "jq is needed (apt-get install -y jq)"
numbers LACS PER_VC COOKIE STEADY GEN_CORE
numbers STEADY_PPS
decimals TIMEOUT
for n in $RUNS; do
    [[ $n =~ ^[0-9]+$ ]] || die "RUNS=\"$RUNS\": $n is not a whole number of sessions"
done
command -v ip >/dev/null || die "ip (iproute2) is needed"
(( LACS + STEADY + FIRST_LAC <= 254 )) || die "LACS + STEADY must be at most $((254 - FIRST_LAC)) (one /24)"
for e in $ENCAPS; do [[ $e == ip || $e == udp ]] || die "ENCAPS: ip or udp, not $e"; done

say "building release binaries (no-op when up to date)"
(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --bin las --bin las-trafgen) >&2 \
    || die "cargo build failed"
LAS=$TARGET/release/las
TRAFGEN=$TARGET/release/las-trafgen

WORK=$(mktemp -d /tmp/las-cb.XXXXXX)
LAS_PID=""
PREFIX="las-cb-$$"
stop_las() {
    [[ -n $LAS_PID ]] || return 0
    kill -TERM "$LAS_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$LAS_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$LAS_PID" 2>/dev/null || true
    wait "$LAS_PID" 2>/dev/null || true
    LAS_PID=""
    rm -rf "/run/dpdk/$PREFIX"
}
del_ns() {
    local ns=$1 p
    ip netns list 2>/dev/null | grep -qw "^$ns" || return 0
    # Only what runs in our own namespaces.
    for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
    ip netns del "$ns" 2>/dev/null || true
}
cleanup() {
    stop_las
    del_ns "$NS_LAC"
    del_ns "$NS_LAS"
    rm -rf "$WORK"
}
trap 'rc=$?; cleanup; exit $rc' EXIT
trap 'exit 130' INT TERM

# --- the namespaces -------------------------------------------------------------
for ns in $NS_LAS $NS_LAC; do
    if ip netns list | grep -qw "^$ns"; then
        [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] \
            || die "namespace $ns exists and has processes (another control-bench running?)"
        ip netns del "$ns"
    fi
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
done
ip link add ul0 netns "$NS_LAS" type veth peer name ul0 netns "$NS_LAC" \
    || die "cannot create the veth pair"
ip netns exec "$NS_LAS" ip link set ul0 up
ip netns exec "$NS_LAC" ip link set ul0 up
# Checksums filled in by the sender: af_packet hands las the frame as is.
ip netns exec "$NS_LAC" ethtool -K ul0 tx off >/dev/null 2>&1 || true
for i in $(seq 0 $((LACS + STEADY - 1))); do
    ip netns exec "$NS_LAC" ip addr add "198.19.200.$((FIRST_LAC + i))/24" dev ul0
done
# Let the kernel keep ARP entries for las's address while sessions come up.
ip netns exec "$NS_LAC" sysctl -qw net.ipv4.neigh.ul0.gc_stale_time=3600 || true

commit_of "$ROOT"
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
MODEL=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)

las_config() {
    local n=$1 cfg=$2
    local maxs=$(( n + STEADY + 1024 )); (( maxs > 65535 )) && maxs=65535
    local maxsw=$(( n / PER_VC + 64 )); (( maxsw > 65535 )) && maxsw=65535
    local per=$(( (n + LACS - 1) / LACS + 16 ))
    cat >"$cfg" <<EOF
# Generated by perf/control-bench.sh for $n sessions over $LACS LACs.
[eal]
args = ["--no-pci"]

[dataplane]
mbufs = 16383
max_sessions = $maxs
max_switches = $maxsw
mac_table_size = 65536
$LAS_DATAPLANE

[control]
socket = "$WORK/las.sock"

[l2tp]
allow = ["198.19.200.0/24"]
max_sessions_per_tunnel = $per
# Each LAC may create a switch for every VC ID it brings (the default
# quota, 64 per peer, is for untrusted peers).
auto_switches_per_peer = $per
$LAS_L2TP

[[port]]
name = "wan0"
device = "net_af_packet0,iface=ul0"
address = "$LAS_IP/24"
mac = "02:00:00:00:c8:01"
EOF
}

# Packets the kernel dropped from full per-CPU backlogs (all namespaces).
softnet_drops() {
    local s=0 a b
    while read -r a b _; do s=$((s + 16#$b)); done </proc/net/softnet_stat
    echo "$s"
}
# rx/tx dropped of both ends of the veth pair (ul0 in each namespace):
# frames the kernel dropped between the LACs and las, which neither las's
# counters nor the generator's sockets see.
veth_drops() {
    local ns
    for ns in "$NS_LAC" "$NS_LAS"; do
        ip -s -j -n "$ns" link show ul0 2>/dev/null |
            jq -r '.[0].stats64 | "\(.rx.dropped) \(.tx.dropped)"' 2>/dev/null || echo "0 0"
    done | tr '\n' ' '
}
veth_drops_since() { # earlier veth_drops output
    local -a a b
    read -r -a a <<<"$1"
    read -r -a b <<<"$(veth_drops)"
    echo "$NS_LAC ul0 rx $((b[0] - a[0])) tx $((b[1] - a[1])), $NS_LAS ul0 rx $((b[2] - a[2])) tx $((b[3] - a[3]))"
}

ROWS=()
NOTES=()
MET_ALL=1
for encap in $ENCAPS; do
    for n in $RUNS; do
        name="$encap-$n"
        cfg=$WORK/$name.toml
        las_config "$n" "$cfg"
        rm -f "$WORK/las.sock"
        # `ip netns exec` execs las: $! is las itself.
        RUST_LOG=warn ip netns exec "$NS_LAS" "$LAS" --config "$cfg" --cores "$CORES" -- \
            --file-prefix "$PREFIX" --no-huge -m 1024 </dev/null >"$WORK/$name.las.log" 2>&1 &
        LAS_PID=$!
        for _ in $(seq 1 300); do
            [[ -S $WORK/las.sock ]] && break
            kill -0 "$LAS_PID" 2>/dev/null || { cat "$WORK/$name.las.log" >&2; die "$name: las exited early (log above)"; }
            sleep 0.1
        done
        [[ -S $WORK/las.sock ]] || { cat "$WORK/$name.las.log" >&2; die "$name: las did not open its socket"; }
        say "$name: $n sessions from $LACS LACs over $encap (+$STEADY steady sessions at $STEADY_PPS frames/s each)"
        json=$WORK/$name.json
        backlog0=$(softnet_drops)
        veth0=$(veth_drops)
        rc=0
        ip netns exec "$NS_LAC" taskset -c "$GEN_CORE" "$TRAFGEN" ctl --las "$LAS_IP" \
            --first-lac "198.19.200.$FIRST_LAC" --lacs "$LACS" --sessions "$n" --encap "$encap" \
            --flavour "$FLAVOUR" --cookie-len "$COOKIE" --sessions-per-vc "$PER_VC" \
            --steady "$STEADY" --steady-pps "$STEADY_PPS" --timeout "$TIMEOUT" --json "$json" \
            2> >(sed -u 's/^ctl: /control-bench:   /' >&2) || rc=$?
        (( rc == 0 )) && [[ -s $json ]] || { tail -20 "$WORK/$name.las.log" >&2; die "$name: las-trafgen ctl failed (status $rc)"; }
        # Datagrams the LACs' own sockets dropped (receive buffer full): loss
        # on the generator's side, not las's. Cumulative over the runs.
        gen_udp=$(ip netns exec "$NS_LAC" awk '/^Udp:/ {n++; if (n == 1) for (i = 1; i <= NF; i++) h[i] = $i; else for (i = 1; i <= NF; i++) if (h[i] == "RcvbufErrors") print $i}' /proc/net/snmp)
        gen_raw=$(ip netns exec "$NS_LAC" awk 'NR > 1 {s += $NF} END {print s + 0}' /proc/net/raw)
        backlog=$(( $(softnet_drops) - backlog0 ))
        counters=$("$LAS" show counters --json --socket "$WORK/las.sock" 2>/dev/null || echo '{}')
        ports=$("$LAS" show ports --json --socket "$WORK/las.sock" 2>/dev/null || echo '{}')
        stop_las
        read -r est fail allup rate retr msgs lost sent recv before met < <(jq -r \
            '"\(.established) \(.failed) \(.all_up_s // "-") \(.sessions_per_s | round) \(.retransmissions) \(.messages_sent) \(.steady_lost) \(.steady_sent) \(.steady_received) \(.steady_flowing_before) \(.target_met)"' "$json")
        [[ $met == true ]] || MET_ALL=0
        if [[ $allup != - ]]; then allup=$(printf '%.2f' "$allup"); fi
        ROWS+=("$(printf '%-10s %8s %6s %7s %9s %9s %8s %8s | %8s %8s %6s %6s' \
            "$name" "$n" "$est" "$fail" "$allup" "$rate" "$msgs" "$retr" "$sent" "$recv" "$lost" "$before")")
        NOTES+=("$name: time to each tenth up (s): $(jq -r '.deciles_s | map(. * 100 | round / 100) | join(" ")' "$json")")
        errs=$(jq -r '.errors | join("; ")' "$json")
        [[ -n $errs ]] && NOTES+=("$name: errors: $errs")
        drops=$(jq -r '[(.drops // {}) | to_entries[] | select(.value > 0) | "\(.key)=\(.value)"] | join(" ")' <<<"$counters" 2>/dev/null || true)
        ctl=$(jq -r '[(.control // {}) | to_entries[] | select(.value > 0) | select(.key | test("refused|limit|drop|lost|fail")) | "\(.key)=\(.value)"] | join(" ")' <<<"$counters" 2>/dev/null || true)
        missed=$(jq -r '[(.ports // [])[] | "\(.name) rx_missed=\(.rx_missed) rx_nombuf=\(.rx_nombuf) tx_errors=\(.tx_errors)"] | join(" ")' <<<"$ports" 2>/dev/null || true)
        NOTES+=("$name: las drops: ${drops:-none}; las control refusals/limits: ${ctl:-none}; port: ${missed:-?}")
        NOTES+=("$name: generator sockets (netns $NS_LAC, cumulative): UDP RcvbufErrors=${gen_udp:-?}, raw IP drops=${gen_raw:-?}; sends refused: $(jq -r '"control \(.control_send_failed), stream \(.steady_send_failed)"' "$json"); kernel backlog drops (softnet_stat, whole host) during the run: $backlog")
        NOTES+=("$name: veth drops during the run (kernel, outside las): $(veth_drops_since "$veth0")")
        NOTES+=("$name: target (all $n up in <= 10 s, steady stream without loss): $met")
        cp "$json" "$ROOT/perf/results/control-$(date -u +%F)-$name.json"
    done
done

OUT=$ROOT/perf/results/control-$(date -u +%F).txt
{
    echo "== las control-plane setup rate $DATE  commit $COMMIT$DIRTY"
    echo "command:  $CMDLINE"
    echo "machine:  $MODEL, $(nproc) CPUs; load before: $LOAD0"
    echo "setup:    las in netns $NS_LAS on net_af_packet (veth), control core ${CORES%%,*}, worker ${CORES##*,}, --no-huge;"
    echo "          las-trafgen ctl in netns $NS_LAC on core $GEN_CORE: $LACS LACs (1 control connection each), $PER_VC sessions per VC ID,"
    echo "          flavour $FLAVOUR, cookie $COOKIE bytes; $STEADY steady sessions at $STEADY_PPS frames/s each"
    echo "          las [l2tp] extra: ${LAS_L2TP:-none (defaults: punt_rate 10000/s per worker, control_rate 1000 msgs/s per peer)}"
    echo "          las [dataplane] extra: ${LAS_DATAPLANE:-none (default punt_ring 1024)}"
    echo "up = sessions whose ICCN las acknowledged; all-up = s from the first SCCRQ to the last ICCN acked; rate = up / all-up"
    echo "msgs/retr = control messages the LACs sent first / retransmitted; steady = data frames over the pre-established sessions"
    printf '%-10s %8s %6s %7s %9s %9s %8s %8s | %8s %8s %6s %6s\n' run sessions up failed all-up-s sess/s msgs retr \
        "st-sent" "st-recv" "lost" "before"
    printf '%s\n' "${ROWS[@]}"
    echo "notes:"
    printf '  %s\n' "${NOTES[@]}"
    if (( MET_ALL )); then echo "target (10k sessions in <= 10 s, no forwarding loss): met in every run"; else echo "target (10k sessions in <= 10 s, no forwarding loss): NOT met in every run (see the notes)"; fi
    echo
} | tee -a "$OUT"
say "table appended to $OUT"
