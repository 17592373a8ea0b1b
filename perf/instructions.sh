#!/usr/bin/env bash
# Instructions per packet of las's worker, counted by valgrind's callgrind
# on the same las-trafgen pcap as perf/bench.sh. Where bench.sh measures
# time (and on a shared VM spreads ±20 %), this counts: the same binary
# and pcap give the same count to a fraction of a per cent, so a change of
# a few instructions per packet shows. It says nothing about cache misses
# (valgrind ignores prefetches and runs ~50x slower): use it for the
# in-cache cost, bench.sh for rates. See perf/README.md.
# Run as root from anywhere:  perf/instructions.sh
#
# Environment knobs (defaults in brackets):
#   ENCAP      ip or udp (over IPv4), ip6 or udp6 (over IPv6)  [ip]
#   SIZE       inner frame size without FCS                   [64]
#   SESSIONS   pseudowires                                    [8]
#   MACS       inner source MACs                              [1000]
#   PACKETS    packets in the pcap                            [4096]
#   BCAST      inner broadcast percentage                     [0]
#   UDP6_CHECKSUM  udp6 only: compute or zero (las-trafgen --udp6-checksum) [compute]
#   WARM       seconds under valgrind before counting         [15]
#   DUR        seconds counted (~100k packets a second)       [20]
#   TOP        hottest source lines to list                   [25]
#   CALLERS    las lines to list with the library code they inline
#              counted in (addr2line -i on every hot instruction) [25]
#   CARGO_TARGET_DIR  where cargo builds                      [<repo>/target]
#   LAS_BIN    a prebuilt las to count instead (no build)     []
#   LAS_BURST_LOOP  passed to las: auto, staged, staged-full, direct or full [auto]
#   ASM        las functions whose demangled name contains this: each
#              one's machine code (objdump -d), every instruction with its
#              count a packet, goes to ASM_OUT, and a summary line (count,
#              instructions touching the stack, jumps) to the report  []
#   ASM_OUT    where the listing goes          [/tmp/las-asm-<ASM>.txt]
# Writes the report to stdout and appends it to
# perf/results/instructions-<UTC date>.txt. The hottest lines show the
# source text of the working tree: with LAS_BIN built from another commit,
# the line numbers are that commit's.
set -euo pipefail

CMDLINE="$0 $*"
for v in ENCAP SIZE SESSIONS MACS PACKETS BCAST UDP6_CHECKSUM WARM DUR TOP LAS_BIN LAS_BURST_LOOP ASM; do
    if [[ -n ${!v+x} ]]; then CMDLINE="$v=\"${!v}\" $CMDLINE"; fi
done
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PERF_NAME=instructions
# shellcheck source=perf/lib.sh
. "$ROOT/perf/lib.sh"
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
ENCAP=${ENCAP:-ip}
SIZE=${SIZE:-64}
SESSIONS=${SESSIONS:-8}
MACS=${MACS:-1000}
PACKETS=${PACKETS:-4096}
BCAST=${BCAST:-0}
UDP6_CHECKSUM=${UDP6_CHECKSUM:-compute}
WARM=${WARM:-15}
DUR=${DUR:-20}
TOP=${TOP:-25}
CALLERS=${CALLERS:-25}
ASM=${ASM:-}
ASM_OUT=${ASM_OUT:-/tmp/las-asm-${ASM//[^A-Za-z0-9_]/_}.txt}


[[ $(id -u) == 0 ]] || die "run as root (DPDK)"
for t in valgrind callgrind_annotate jq python3 addr2line; do
    command -v "$t" >/dev/null || die "$t not found (scripts/deps.sh installs valgrind and jq)"
done
underlay=ipv4
csum=()
case $UDP6_CHECKSUM in
    compute) ;;
    zero) [[ $ENCAP == udp6 ]] || die "UDP6_CHECKSUM=zero is for ENCAP=udp6"; csum=(--udp6-checksum zero) ;;
    *) die "UDP6_CHECKSUM=$UDP6_CHECKSUM: expected compute or zero" ;;
esac
case $ENCAP in
    ip | udp) ;;
    ip6 | udp6) ENCAP=${ENCAP%6} underlay=ipv6 ;;
    *) die "ENCAP=$ENCAP: expected ip, udp, ip6 or udp6" ;;
esac
numbers SIZE SESSIONS MACS PACKETS BCAST WARM DUR TOP CALLERS

(cd "$ROOT" && CARGO_TARGET_DIR=$TARGET cargo build --release --bin las --bin las-trafgen) >&2 ||
    die "cargo build failed"
LAS=${LAS_BIN:-$TARGET/release/las}
TRAFGEN=$TARGET/release/las-trafgen
lasreal=$(readlink -f "$LAS")
[[ -x $LAS ]] || die "LAS_BIN=$LAS is not an executable"

WORK=$(mktemp -d /tmp/las-instr.XXXXXX)
PREFIX="las-instr-$$"
VPID=""
cleanup() {
    [[ -n $VPID ]] && kill -9 "$VPID" 2>/dev/null
    rm -rf "/run/dpdk/$PREFIX"
    [[ ${KEEP:-0} == 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT

pcap=$WORK/b.pcap cfg=$WORK/b.toml sock=$WORK/las.sock
"$TRAFGEN" --out "$pcap" --sessions "$SESSIONS" --macs "$MACS" --size "$SIZE" --packets "$PACKETS" \
    --encap "$ENCAP" --underlay "$underlay" --broadcast-pct "$BCAST" "${csum[@]}" \
    --device "net_pcap0,rx_pcap=$pcap,infinite_rx=1" --socket "$sock" --config-out "$cfg" \
    2>"$WORK/trafgen.log" || {
    cat "$WORK/trafgen.log" >&2
    die "las-trafgen refused (log above)"
}
mbufs=$(sed -n 's/^mbufs = //p' "$cfg")
mbufsz=$(sed -n 's/^mbuf_size = //p' "$cfg")
mem=$((mbufs * (mbufsz + 256) / 1048576 + 600))

# --fair-sched: without it the polling worker keeps valgrind's big lock
# and the control socket answers too late (and SIGINT is never handled).
say "las under callgrind: ${WARM} s warm-up, ${DUR} s counted"
valgrind --tool=callgrind --fair-sched=yes --dump-instr=yes \
    --callgrind-out-file="$WORK/cg.out" "$LAS" --config "$cfg" --cores 0,1 -- \
    --file-prefix "$PREFIX" --no-huge -m "$mem" >"$WORK/las.log" 2>&1 &
VPID=$!
for _ in $(seq 1 1200); do
    [[ -S $sock ]] && break
    kill -0 "$VPID" 2>/dev/null || { tail -30 "$WORK/las.log" >&2; die "las exited early (log above)"; }
    sleep 0.1
done
[[ -S $sock ]] || die "las did not open its control socket in 120 s under valgrind"
sleep "$WARM"
rx() { "$LAS" show counters --json --socket "$sock" | jq '[.workers[].rx_packets] | add'; }
# Zero the counts, count for DUR seconds, dump: the first dump is the
# window (a later dump's names refer back to the first, which
# callgrind_annotate cannot follow).
r0=$(rx) || die "las show counters failed"
callgrind_control -z "$VPID" >/dev/null || die "callgrind_control -z failed"
sleep "$DUR"
r1=$(rx) || die "las show counters failed"
callgrind_control -d "$VPID" >/dev/null || die "callgrind_control -d failed"
kill -INT "$VPID"
wait "$VPID" || true
VPID=""
pkts=$((r1 - r0))
((pkts > 1000)) || die "only $pkts packets in the window (las log: $WORK/las.log; KEEP=1 keeps it)"

# The dump (all threads: the worker's share is printed).
worker=$WORK/cg.out.1
[[ -s $worker ]] || die "no callgrind dump in $WORK (KEEP=1 keeps it)"
commit_of "$ROOT"
[[ -n ${LAS_BIN:-} ]] && COMMIT="$COMMIT (las: $LAS_BIN)"
OUT=$ROOT/perf/results/instructions-$(date -u +%F).txt
mkdir -p "$(dirname "$OUT")"
python3 - "$WORK" "$pkts" "$TOP" "$ROOT" "$CALLERS" "$lasreal" "$LAS" "$ASM" "$ASM_OUT" >"$WORK/report.txt" <<'EOF' || die "report failed"
import re, subprocess, sys
from collections import defaultdict
work, pkts, top, root = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4] + "/"
# Callgrind dumps instruction addresses as the executable's own (the
# addresses addr2line reads), also for a PIE.
callers, lasbin, lasarg = int(sys.argv[5]), sys.argv[6], sys.argv[7]
# The callgrind format (valgrind's docs/cl-format): fl/fi/fe set the file
# of the cost lines that follow, fn the function; "calls=" is followed by
# one line with the call's inclusive cost. Names may be compressed as
# "(id) name" once and "(id)" after; positions may be relative (+n, -n, *).
names = defaultdict(dict)
def name(kind, v):
    m = re.match(r"\((\d+)\)\s*(.*)$", v)
    if not m: return v
    if m.group(2): names[kind][m.group(1)] = m.group(2)
    return names[kind].get(m.group(1), v)
selfc, incl, lines = defaultdict(int), defaultdict(int), defaultdict(int)
# Self cost by instruction address, of las's own executable only.
addrs = defaultdict(int)
fl = fi = fn = ob = None
npos = 1
last = [0, 0]
in_call = False
total = 0
def sub(v, prev):
    if v == "*": return prev
    if v[0] in "+-":
        n = int(v[1:], 0)
        return prev + n if v[0] == "+" else prev - n
    return int(v, 0)
for l in open(f"{work}/cg.out.1", errors="replace"):
    l = l.rstrip("\n")
    if not l or l[0] == "#": continue
    if l[0].isdigit() or l[0] in "+-*":
        f = l.split()
        for k in range(npos):
            last[k] = sub(f[k], last[k])
        c = int(f[npos]) if len(f) > npos else 0
        incl[fn] += c
        if in_call:
            in_call = False
            continue
        selfc[fi] += c
        lines[(fi, last[npos - 1])] += c
        if npos == 2 and ob in (lasbin, lasarg):
            addrs[last[0]] += c
        continue
    if l.startswith("positions:"):
        npos = len(l.split()) - 1
        continue
    key, _, v = l.partition("=")
    if key == "fl": fl = fi = name("fl", v)
    elif key in ("fi", "fe"): fi = name("fl", v)
    elif key == "fn": fn = name("fn", v); fi = fl
    elif key in ("cfl", "cfi"): name("fl", v)
    elif key == "cfn": name("fn", v)
    elif key == "ob": ob = name("ob", v)
    elif key == "cob": name("ob", v)
    elif key == "calls": in_call = True
    elif key == "summary" or key == "totals": total = int(v.split()[0])
def find(suffix):
    return sum(v for k, v in incl.items() if k and k.endswith(suffix))
loop = find("las::worker::engine::Worker::poll_once")
rx, tx = find("las_rx_burst"), find("las_tx_burst")
if loop == 0: sys.exit("no Worker::poll_once in the profile")
own = loop - rx - tx
print(f"instructions per packet ({pkts} packets counted)")
print(f"  worker poll loop    {loop / pkts:8.1f}")
print(f"  PMD receive         {rx / pkts:8.1f}   (las_rx_burst and below)")
print(f"  PMD send            {tx / pkts:8.1f}   (las_tx_burst and below)")
print(f"  las                 {own / pkts:8.1f}   (the rest)")
if total: print(f"  (the poll loop is {100 * loop / total:.1f} % of all threads' instructions)")
def group(f):
    f = f or "?"
    if f.startswith(root): return f[len(root):]
    if f.startswith("/rustc/") or "/.cargo/" in f: return "(Rust library code inlined: bounds checks, iterators, Option)"
    if "dpdk" in f or f.endswith("shim.c"): return "(DPDK inlines and the C shim)"
    return "(PMD, libc: no source)"
files = defaultdict(int)
for f, v in selfc.items(): files[group(f)] += v
print("\nby source file (self cost of all threads, inlined code at its own file):")
for f, v in sorted(files.items(), key=lambda x: -x[1]):
    if v / pkts >= 0.5: print(f"  {v / pkts:8.1f}  {f}")
src = {}
def text(f, n):
    if f not in src:
        try: src[f] = open(f, errors="replace").read().split("\n")
        except OSError: src[f] = []
    return src[f][n - 1].strip()[:80] if 0 < n <= len(src[f]) else ""
print("\nhottest lines of las (self cost per packet):")
hot = sorted(((v, f, n) for (f, n), v in lines.items() if f and f.startswith(root)), reverse=True)
for v, f, n in hot[:top]:
    print(f"  {v / pkts:6.1f}  {f[len(root):]}:{n}  {text(f, n)}")
print("\nhottest lines of inlined Rust library code (self cost per packet):")
hot = sorted(((v, f, n) for (f, n), v in lines.items() if group(f).startswith("(Rust")), reverse=True)
for v, f, n in hot[:max(top // 2, 1)]:
    print(f"  {v / pkts:6.1f}  {re.sub(r'^.*/library/', '', f)}:{n}")
# Each instruction of las's executable counted at the innermost las
# source line in its inline chain (addr2line -i lists the chain innermost
# first): slice indexing, Option and iterator code then counts where las
# wrote it. Also summed by the las function that line belongs to.
if callers > 0 and addrs:
    hot = [a for a, v in addrs.items() if v > 0]
    q = "\n".join(hex(a) for a in hot) + "\n"
    out = subprocess.run(["addr2line", "-e", lasbin, "-a", "-i", "-f", "-C"], input=q,
                         capture_output=True, text=True, check=True).stdout.split("\n")
    at, chain, chains = None, [], {}
    i = 0
    while i < len(out):
        l = out[i]
        if re.fullmatch(r"0x[0-9a-f]+", l):
            if at is not None: chains[at] = chain
            at, chain = int(l, 16), []
            i += 1
            continue
        if i + 1 < len(out):
            chain.append((l, out[i + 1]))
        i += 2
    if at is not None: chains[at] = chain
    byline, byfn = defaultdict(int), defaultdict(int)
    for a, v in addrs.items():
        where = ("(no las line)", "")
        for func, loc in chains.get(a, []):
            file = loc.split(" (")[0].rsplit(":", 1)[0]
            if file.startswith(root + "src/"):
                where = (loc.split(" (")[0][len(root):], func)
                break
        byline[where[0]] += v
        byfn[re.sub(r"::\{closure.*", "", re.sub(r"<.*?>", "", where[1]) or "?")] += v
    print("\nlas lines with the library code they inline (per packet):")
    for w, v in sorted(byline.items(), key=lambda x: -x[1])[:callers]:
        f, _, n = w.rpartition(":")
        t = text(root + f, int(n)) if n.isdigit() else ""
        print(f"  {v / pkts:6.1f}  {w}  {t}")
    print("\nlas functions, inlined code included (per packet):")
    for w, v in sorted(byfn.items(), key=lambda x: -x[1])[:callers]:
        print(f"  {v / pkts:6.1f}  {w}")
# ASM: below the source lines, what the compiler made of them (spills,
# moves of structs, bounds checks), from the same per-address counts.
asm, asm_out = sys.argv[8], sys.argv[9]
if asm:
    syms = subprocess.run(["nm", "-C", "-S", "--defined-only", lasbin],
                          capture_output=True, text=True, check=True).stdout
    ranges = []
    for l in syms.splitlines():
        f = l.split(" ", 3)
        if len(f) == 4 and f[2] in "tTwW" and asm in f[3]:
            ranges.append((int(f[0], 16), int(f[1], 16), f[3]))
    if not ranges: sys.exit(f"ASM={asm}: no function of {lasbin} has it in its name")
    print(f"\nmachine code (ASM={asm}; listing in {asm_out}):")
    with open(asm_out, "w") as out:
        for lo, size, fname in ranges:
            dis = subprocess.run(["objdump", "-d", "--no-show-raw-insn", "-C",
                                  f"--start-address={lo}", f"--stop-address={lo + size}", lasbin],
                                 capture_output=True, text=True, check=True).stdout
            n = stack = jumps = 0.0
            rows = []
            for l in dis.splitlines():
                m = re.match(r"\s*([0-9a-f]+):\s*(.*)", l)
                if not m: continue
                c = addrs.get(int(m.group(1), 16), 0) / pkts
                n += c
                if "(%rsp)" in m.group(2): stack += c
                if re.match(r"j[a-z]+\s", m.group(2)): jumps += c
                rows.append(f"{c:8.2f}  {m.group(1)}: {m.group(2)}")
            line = (f"  {n:6.1f}  {fname}: {stack:.1f} touching the stack, "
                    f"{jumps:.1f} jumps (inlined code included, calls out not)")
            print(line)
            out.write(line.strip() + "\n" + "\n".join(rows) + "\n\n")
EOF
{
    echo "== $(date -u '+%F %T') UTC  commit $COMMIT$DIRTY"
    echo "   $CMDLINE"
    echo "   $ENCAP over $underlay${csum:+ (UDP checksum zero)}, ${SIZE} B inner, $SESSIONS sessions, $MACS MACs, $PACKETS-packet pcap, ${BCAST}% broadcast; valgrind $(valgrind --version)"
    cat "$WORK/report.txt"
    echo
} | tee -a "$OUT"
