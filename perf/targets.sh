#!/usr/bin/env bash
# Issue 11's four targets in one command, over several rounds, each one a
# ratio or a difference taken inside its round (perf/bench.sh runs testpmd
# and las back to back on the same pcap), so that a shared VM whose speed
# drifts by ±20 % from one minute to the next (perf/README.md) moves both
# sides of a comparison together. It reports every round and the median.
# Run as root from anywhere:  perf/targets.sh
#
# One round is four perf/bench.sh runs, ip:64 (about 100 s with the
# defaults):
#   unicast  4096-packet pcap, 1000 MACs, 8 sessions, no broadcast;
#            target 1: las's on-CPU cycles per packet minus testpmd's
#            (cycles "added" over testpmd io) <= 70
#   flood    the same with 100 % broadcast;
#            target 3: flood output frames/s >= 1.8 x the unicast output
#            of the same round
#   base     CORNER_PACKETS-packet pcap, 1000 MACs, 8 sessions
#   corner   the same pcap size, CORNER_MACS MACs, CORNER_SESSIONS sessions;
#            target 2: corner / base las rate >= 0.85
# Target 4 (no allocation on the worker after start) has its tests in CI
# (mactable::churn_does_not_grow, tests/mactable_alloc.rs); SOAK=600 also
# runs perf/soak.sh for 10 minutes (RSS must stay flat) and reports its
# verdict.
#
# LAS_BINS="a b" compares builds: every round measures each in turn, and
# the report has a table and the targets per build. A change worth a few
# per cent shows here only as a difference that holds round after round.
#
# Environment knobs (defaults in brackets):
#   ROUNDS           rounds                                      [5]
#   DUR, WARM        seconds measured / warm-up per bench run    [6 3]
#   CORNER_MACS      MACs at the corner                          [1048576]
#   CORNER_SESSIONS  sessions at the corner                      [65535]
#   CORNER_PACKETS   pcap size of base and corner                [1048576]
#   SOAK             seconds of perf/soak.sh after the rounds (600 = the
#                    issue's ten minutes; its SETTLE is 60), 0 = none [0]
#   LAS_BIN          a prebuilt las to measure (as in perf/bench.sh)  []
#   LAS_BINS         several prebuilt las binaries, space-separated, to
#                    compare round by round (instead of LAS_BIN)  []
#   CORES, NICE, HUGE, BURST, LAS_BURST_LOOP, MAC_REFRESH: passed through
#                    to perf/bench.sh when set
#
# Prints the table and appends it, with the command, commit and machine, to
# perf/results/targets-<UTC date>.txt; the rows of every bench run go to
# perf/results/<UTC date>.txt as usual. Exit status 0 when every run
# measured (met or not), non-zero with `targets: …` when a step failed.
set -euo pipefail

CMDLINE="$0 $*"
for v in ROUNDS DUR WARM CORNER_MACS CORNER_SESSIONS CORNER_PACKETS SOAK LAS_BIN LAS_BINS CORES NICE HUGE BURST LAS_BURST_LOOP MAC_REFRESH; do
    if [[ -n ${!v+x} ]]; then CMDLINE="$v=\"${!v}\" $CMDLINE"; fi
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PERF_NAME=targets
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
ROUNDS=${ROUNDS:-5}
DUR=${DUR:-6}
WARM=${WARM:-3}
CORNER_MACS=${CORNER_MACS:-1048576}
CORNER_SESSIONS=${CORNER_SESSIONS:-65535}
CORNER_PACKETS=${CORNER_PACKETS:-1048576}
SOAK=${SOAK:-0}
numbers ROUNDS DUR WARM CORNER_MACS CORNER_SESSIONS CORNER_PACKETS SOAK
(( ROUNDS >= 1 )) || die "ROUNDS=$ROUNDS: expected at least 1"
(( CORNER_MACS >= CORNER_SESSIONS )) || die "CORNER_MACS=$CORNER_MACS: fewer MACs than CORNER_SESSIONS=$CORNER_SESSIONS"
[[ $(id -u) == 0 ]] || die "run as root (DPDK needs it)"
command -v python3 >/dev/null || die "python3 is needed for the medians"
(( SOAK == 0 || SOAK > 60 )) || die "SOAK=$SOAK: 0 (no soak) or more than perf/soak.sh's 60-s SETTLE"
# The builds: LAS_BINS, else LAS_BIN, else "" (perf/bench.sh builds the tree).
read -r -a BINS <<<"${LAS_BINS:-${LAS_BIN:-}}"
(( ${#BINS[@]} > 0 )) || BINS=("")
for b in "${BINS[@]}"; do
    [[ -z $b || -x $b ]] || die "las binary $b is not an executable"
done

W=$(mktemp -d /tmp/las-targets.XXXXXX)
trap 'rm -rf "$W"' EXIT
trap 'exit 130' INT TERM

TREE="the working tree's build"
# One perf/bench.sh run; every knob it reads is set here, so that nothing
# from this script's environment (PACKETS, MACS, …) leaks into the wrong run.
bench() {
    local what=$1
    shift
    if ! env -u LAS_BIN SWEEP=0 PERF=0 PROFILES=ip:64 DUR="$DUR" WARM="$WARM" "$@" \
        POINTS="$W/$what.tsv" "$ROOT/perf/bench.sh" >"$W/last.log" 2>&1; then
        tail -30 "$W/last.log" >&2
        die "perf/bench.sh failed for $what (its output above)"
    fi
}

START=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for r in $(seq 1 "$ROUNDS"); do
    for i in "${!BINS[@]}"; do
        b=${BINS[$i]}
        say "round $r of $ROUNDS, ${b:-$TREE}: unicast, flood, base, corner ($(date -u +%H:%M:%S) UTC)"
        lb=()
        [[ -z $b ]] || lb=(LAS_BIN="$b")
        bench "$i-unicast" "${lb[@]}" PACKETS=4096 MACS=1000 SESSIONS=8 BCAST=0
        bench "$i-flood" "${lb[@]}" PACKETS=4096 MACS=1000 SESSIONS=8 BCAST=100
        bench "$i-base" "${lb[@]}" PACKETS="$CORNER_PACKETS" MACS=1000 SESSIONS=8 BCAST=0
        bench "$i-corner" "${lb[@]}" PACKETS="$CORNER_PACKETS" MACS="$CORNER_MACS" SESSIONS="$CORNER_SESSIONS" BCAST=0
    done
done

soak="not run (SOAK=600 runs perf/soak.sh)"
if (( SOAK > 0 )); then
    say "soak: perf/soak.sh for $SOAK s, ${BINS[0]:-$TREE}"
    rc=0
    lb=()
    [[ -z ${BINS[0]} ]] || lb=(LAS_BIN="${BINS[0]}")
    env -u LAS_BIN "${lb[@]}" SOAK="$SOAK" "$ROOT/perf/soak.sh" >"$W/soak.log" 2>&1 || rc=$?
    result=$(grep '^RESULT soak' "$W/soak.log" | tail -1 || true)
    case $rc in
        0) soak="met: $result" ;;
        1) soak="NOT met: $result" ;;
        *)
            tail -20 "$W/soak.log" >&2
            die "perf/soak.sh failed (status $rc, its output above)"
            ;;
    esac
fi

commit_of "$ROOT"
MODEL=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
mkdir -p "$ROOT/perf/results"
{
    echo "== las targets (issue 11) $START  commit $COMMIT$DIRTY"
    echo "command:  $CMDLINE"
    echo "machine:  $MODEL, $(nproc) CPUs; $ROUNDS round(s) of perf/bench.sh ip:64, ${WARM} s warm-up, ${DUR} s measured"
    python3 - "$W" "$CORNER_MACS" "$CORNER_SESSIONS" "$CORNER_PACKETS" "$COMMIT$DIRTY" "${BINS[@]}" <<'EOF'
import csv, statistics, sys

w, cmacs, csess, cpkts, tree = sys.argv[1:6]
bins = sys.argv[6:]
f = lambda r, k: float(r[k])

def rows(name):
    with open(f"{w}/{name}.tsv") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))

def line(no, what, vals, goal, ok, fmt):
    med = statistics.median(vals)
    hits = sum(ok(v) for v in vals)
    verdict = "met" if ok(med) else "NOT met"
    print(f"target {no}: {what} {goal}: median {fmt.format(med)} "
          f"(rounds {fmt.format(min(vals))}-{fmt.format(max(vals))}; {hits} of {len(vals)} rounds meet it): {verdict}")

for i, b in enumerate(bins):
    uni, flood, base, corner = (rows(f"{i}-{n}") for n in ("unicast", "flood", "base", "corner"))
    n = min(map(len, (uni, flood, base, corner)))
    if n == 0:
        sys.exit("targets: no rounds measured")
    added = [f(u, "las_oncpu_cyc") - f(u, "testpmd_cyc") for u in uni[:n]]
    fl = [f(x, "las_out_mpps") / f(u, "las_out_mpps") for x, u in zip(flood[:n], uni[:n])]
    cr = [f(c, "las_mpps") / f(x, "las_mpps") for c, x in zip(corner[:n], base[:n])]
    print(f"las: {b or 'the build of ' + tree}")
    print("round  testpmd cyc  las cyc  added | unicast out  flood out  flood/uni | base Mpps  corner Mpps  corner/base")
    for r in range(n):
        u, x, c = uni[r], base[r], corner[r]
        print(f"{r + 1:5d}  {f(u, 'testpmd_cyc'):11.0f}  {f(u, 'las_oncpu_cyc'):7.0f}  {added[r]:5.0f} |"
              f" {f(u, 'las_out_mpps'):11.2f}  {f(flood[r], 'las_out_mpps'):9.2f}  {fl[r]:9.2f} |"
              f" {f(x, 'las_mpps'):9.2f}  {f(c, 'las_mpps'):11.2f}  {cr[r]:11.2f}")
    med = lambda k, rs: statistics.median(f(x, k) for x in rs)
    print(f"median                             | {med('las_out_mpps', uni[:n]):11.2f}  "
          f"{med('las_out_mpps', flood[:n]):9.2f}            | {med('las_mpps', base[:n]):9.2f}  "
          f"{med('las_mpps', corner[:n]):11.2f}")
    print()
    line(1, "cycles las adds over testpmd io, 1k MACs x 8 sessions,", added, "<= 70", lambda v: v <= 70, "{:.0f}")
    line(2, f"rate at {cmacs} MACs x {csess} sessions / 1k MACs x 8 ({cpkts}-packet pcap)",
         cr, ">= 0.85", lambda v: v >= 0.85, "{:.2f}")
    line(3, "flood output / unicast output,", fl, ">= 1.8", lambda v: v >= 1.8, "{:.2f}")
    print()
EOF
    echo "target 4: no allocation on the worker after start: the churn tests run in CI; soak: $soak"
    echo
} | tee -a "$ROOT/perf/results/targets-$(date -u +%F).txt"
