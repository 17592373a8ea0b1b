#!/usr/bin/env bash
# What one instruction and one random cache line cost inside las's worker
# loop on this machine: the yardstick for the two issue-11 targets ("<= 70
# cycles added over testpmd" and "1M MACs x 64k sessions >= 0.85x the
# 1k-MAC rate"). See perf/README.md, "Calibrating the targets".
#
# It builds las from HEAD with perf/calibrate.patch applied, in a git
# worktree of its own. That is a throwaway build: the patch gives the worker
# two knobs the product does not have, read from the environment:
#   LAS_PAD_OPS=k    k rounds of four independent add/rotate chains per
#                    packet (cheap ALU work, ~14 instructions a round);
#   LAS_PAD_LINES=j  j random 64-byte lines of a 256 MiB buffer per packet,
#                    prefetched in the burst's check stage next to the MAC
#                    buckets and read where the packet is delivered: the
#                    access pattern of a MAC bucket in a table far larger
#                    than the caches.
# Then it runs perf/bench.sh with that build, the variants alternating, for
# ROUNDS rounds:
#   ops    ip:64, 4096-packet pcap, 8 sessions, 1000 MACs, LAS_PAD_OPS in OPS
#   lines  ip:64, PACKETS-packet pcap, 8 sessions, 1000 MACs, LAS_PAD_LINES
#          in LINES; with CORNER=1 also the corner (1,048,576 MACs x 65,535
#          sessions, no pad) on the same pcap size
# and, with INSTR=1, perf/instructions.sh at the smallest and the largest
# OPS, to turn rounds into instructions. It prints a table and appends it to
# perf/results/calibrate-<UTC date>.txt (bench.sh appends its own rows to
# perf/results/<UTC date>.txt as always). Run as root; ~15 minutes with the
# defaults.
#
# Knobs (defaults in brackets):
#   ROUNDS   rounds of all variants                          [3]
#   DUR      seconds measured per bench run                  [5]
#   WARM     seconds before measuring                        [3]
#   OPS      LAS_PAD_OPS values, first one the baseline      ["0 32 64"]
#   LINES    LAS_PAD_LINES values, first one the baseline    ["0 1 2 4"]
#   PACKETS  pcap size of the lines runs                     [1048576]
#   CORNER   1 = also the 1M-MAC x 65,535-session point      [1]
#   INSTR    1 = count instructions (valgrind, ~2 minutes)   [1]
#   CALIB_TARGET  cargo target directory of the patched build
#                 [<repo>/target/calibrate]
set -euo pipefail

CMDLINE="$0 $*"
for v in ROUNDS DUR WARM OPS LINES PACKETS CORNER INSTR CALIB_TARGET; do
    if [[ -n ${!v+x} ]]; then CMDLINE="$v=\"${!v}\" $CMDLINE"; fi
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PERF_NAME=calibrate
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
ROUNDS=${ROUNDS:-3}
DUR=${DUR:-5}
WARM=${WARM:-3}
OPS=${OPS:-"0 32 64"}
LINES=${LINES:-"0 1 2 4"}
PACKETS=${PACKETS:-1048576}
CORNER=${CORNER:-1}
INSTR=${INSTR:-1}
CALIB_TARGET=${CALIB_TARGET:-$ROOT/target/calibrate}

[[ $(id -u) == 0 ]] || die "run as root (DPDK needs it)"
numbers ROUNDS DUR WARM PACKETS CORNER INSTR
for v in $OPS; do [[ $v =~ ^[0-9]+$ ]] || die "OPS: $v is not a whole number"; done
for v in $LINES; do [[ $v =~ ^[0-9]+$ ]] || die "LINES: $v is not a whole number"; done
[[ -n $OPS || -n $LINES ]] || die "OPS and LINES are both empty: nothing to measure"
command -v git >/dev/null || die "git is needed (the patched build is a git worktree of HEAD)"
git -C "$ROOT" rev-parse --verify -q HEAD >/dev/null || die "$ROOT is not a git checkout with a HEAD"

# --- the patched build --------------------------------------------------------
WORK=$(mktemp -d /tmp/las-calibrate.XXXXXX)
WT=$WORK/tree
cleanup() {
    git -C "$ROOT" worktree remove --force "$WT" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
git -C "$ROOT" worktree add -q --detach "$WT" HEAD || die "git worktree add failed"
git -C "$WT" apply --check "$ROOT/perf/calibrate.patch" 2>"$WORK/apply.err" ||
    die "perf/calibrate.patch no longer applies to HEAD ($(head -1 "$WORK/apply.err")): redo it on src/worker/engine.rs (perf/README.md says what it does)"
git -C "$WT" apply "$ROOT/perf/calibrate.patch"
say "building the patched las in $CALIB_TARGET (HEAD $(git -C "$ROOT" rev-parse --short HEAD) + perf/calibrate.patch)"
(cd "$WT" && CARGO_TARGET_DIR=$CALIB_TARGET cargo build --release --bin las) >&2 ||
    die "building the patched las failed"
LAS=$CALIB_TARGET/release/las
[[ -x $LAS ]] || die "no binary at $LAS after the build"

# --- runs -----------------------------------------------------------------------
# bench VARIANT ROUND ENV...: one bench.sh run of the patched build; keeps
# "variant round mpps oncpu_cyc testpmd_cyc" in $WORK/rows.
bench() {
    local variant=$1 round=$2 log
    shift 2
    log=$WORK/$variant-$round.log
    say "round $round: $variant"
    env "$@" LAS_BIN="$LAS" PROFILES=ip:64 DUR="$DUR" WARM="$WARM" "$ROOT/perf/bench.sh" >"$log" 2>&1 ||
        { tail -15 "$log" >&2; die "bench.sh failed for $variant (round $round): its output is above"; }
    # The result row: profile net tp_mpps cpu% tp_cyc | las_mpps out cpu% busy total on-cpu | ratio
    awk -v v="$variant" -v r="$round" '$1 == "ip-64B" && $6 == "|" {print v, r, $7, $12, $5; n++}
        END {exit n == 1 ? 0 : 1}' "$log" >>"$WORK/rows" ||
        die "no result row in the bench output for $variant (round $round): see $log"
}
: >"$WORK/rows"
for r in $(seq 1 "$ROUNDS"); do
    for o in $OPS; do bench "ops=$o" "$r" LAS_PAD_OPS="$o" PACKETS=4096 SESSIONS=8 MACS=1000; done
    for l in $LINES; do bench "lines=$l" "$r" LAS_PAD_LINES="$l" PACKETS="$PACKETS" SESSIONS=8 MACS=1000; done
    if [[ $CORNER == 1 && -n $LINES ]]; then
        bench corner "$r" LAS_PAD_LINES=0 PACKETS="$PACKETS" SESSIONS=65535 MACS=1048576
    fi
done

# Instructions per packet of las's own code at the smallest and largest OPS.
: >"$WORK/instr"
if [[ $INSTR == 1 && -n $OPS ]]; then
    command -v valgrind >/dev/null || die "INSTR=1 needs valgrind (apt-get install -y valgrind), or run with INSTR=0"
    lo=$(tr ' ' '\n' <<<"$OPS" | grep . | sort -n | head -1)
    hi=$(tr ' ' '\n' <<<"$OPS" | grep . | sort -n | tail -1)
    for o in $lo $hi; do
        say "counting instructions at LAS_PAD_OPS=$o (valgrind)"
        LAS_PAD_OPS=$o LAS_BIN=$LAS "$ROOT/perf/instructions.sh" >"$WORK/instr-$o.log" 2>&1 ||
            { tail -15 "$WORK/instr-$o.log" >&2; die "perf/instructions.sh failed at LAS_PAD_OPS=$o"; }
        n=$(awk '$1 == "las" && $2 ~ /^[0-9.]+$/ {print $2; exit}' "$WORK/instr-$o.log")
        [[ -n $n ]] || die "no 'las' instruction count in perf/instructions.sh's output at LAS_PAD_OPS=$o"
        echo "$o $n" >>"$WORK/instr"
    done
fi

# --- the table ------------------------------------------------------------------
DATE=$(date -u +%FT%TZ)
COMMIT=$(git -C "$ROOT" rev-parse --short HEAD)
{
    echo "# las calibration $DATE, HEAD $COMMIT + perf/calibrate.patch; $CMDLINE"
    python3 - "$WORK/rows" "$WORK/instr" <<'EOF'
import sys, statistics as st
rows = {}
order = []
for line in open(sys.argv[1]):
    v, r, mpps, cyc, tcyc = line.split()
    if v not in rows:
        rows[v] = []
        order.append(v)
    rows[v].append((float(mpps), float(cyc), float(tcyc)))
instr = dict(tuple(map(float, l.split())) for l in open(sys.argv[2]) if l.strip())
def mean(v, i):
    return st.mean(x[i] for x in rows[v])
print(f"{'variant':10} {'runs':>4} {'las Mpps':>9} {'range':>13} {'on-CPU cyc':>10} {'added':>6} {'testpmd cyc':>11}")
for v in order:
    m = [x[0] for x in rows[v]]
    print(f"{v:10} {len(m):4} {st.mean(m):9.2f} {min(m):6.2f}-{max(m):<6.2f} {mean(v,1):10.0f} "
          f"{mean(v,1)-mean(v,2):6.0f} {mean(v,2):11.0f}")
ops = [v for v in order if v.startswith("ops=")]
if len(ops) >= 2:
    base = mean(ops[0], 1)
    k0 = int(ops[0][4:])
    print()
    for v in ops[1:]:
        k = int(v[4:])
        d = mean(v, 1) - base
        line = f"{v}: {d:+.0f} on-CPU cycles per packet over {ops[0]}"
        if k0 in instr and max(instr) in instr and max(instr) > min(instr):
            per_round = (instr[max(instr)] - instr[min(instr)]) / (max(instr) - min(instr))
            di = per_round * (k - k0)
            line += f", {di:+.0f} instructions: {d/di:.3f} cycles per instruction"
        print(line)
    if instr and min(instr) == k0:
        print(f"las's own instructions per packet at {ops[0]}: {instr[k0]:.0f}")
lines = [v for v in order if v.startswith("lines=")]
if len(lines) >= 2:
    base = mean(lines[0], 1)
    print()
    for v in lines[1:]:
        j = int(v[6:]) - int(lines[0][6:])
        d = mean(v, 1) - base
        print(f"{v}: {d:+.0f} on-CPU cycles per packet over {lines[0]}" + (f" ({d/j:.0f} per line)" if j else ""))
    if "corner" in rows:
        c = mean("corner", 1)
        print(f"corner (1M MACs x 65,535 sessions): {c-base:+.0f} cycles over {lines[0]}; "
              f"rate {st.mean(x[0] for x in rows['corner'])/st.mean(x[0] for x in rows[lines[0]]):.2f}x of it")
        print(f"0.85x of {lines[0]} allows {base/0.85-base:.0f} cycles more per packet than {lines[0]}")
EOF
} | tee -a "$ROOT/perf/results/calibrate-$(date -u +%F).txt"
