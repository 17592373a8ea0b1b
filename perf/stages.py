#!/usr/bin/env python3
"""The las worker's time by stage, from a `perf record` of its core.

    perf/stages.py PERF_DATA LAS_BIN [COMM [CYCLES_PER_PACKET]]

perf/bench.sh runs it for PERF=1 (COMM is the poll thread, e.g.
rte-worker-1; CYCLES_PER_PACKET its on-CPU cycles per packet, which turns
shares into a cycle budget). Nearly all of las's per-packet code is inlined
into `Worker::poll_once`, so perf's symbols say little. Each sample in las's
executable is placed instead at the innermost frame of its inline chain
(`addr2line -i`) that is las's own source (not Rust's library, not a
crate), and that file and function name the stage. Samples in the PMD and
the other DPDK libraries are I/O. A sample counts where the core was
interrupted; with perf's cpu-clock event (this VM has no hardware
counters) a stall is charged to the instruction that waited or one near
it, so a cache miss shows at the stage that used the line, give or take an
instruction.
"""
import collections
import os
import re
import subprocess
import sys


def die(msg):
    print(f"stages: {msg}", file=sys.stderr)
    sys.exit(1)


if len(sys.argv) < 3:
    die("usage: perf/stages.py PERF_DATA LAS_BIN [COMM [CYCLES_PER_PACKET]]")
data, lasbin = sys.argv[1], sys.argv[2]
comm = sys.argv[3] if len(sys.argv) > 3 else None
cpp = float(sys.argv[4]) if len(sys.argv) > 4 and sys.argv[4] else None
lasreal = os.path.realpath(lasbin)

cmd = ["perf", "script", "-i", data, "-F", "ip,sym,symoff,dso", "--no-demangle"]
if comm:
    cmd[4:4] = ["--comm", comm]
try:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
except (OSError, subprocess.CalledProcessError) as e:
    die(f"perf script failed: {e}")

# Symbol addresses of las's executable (mangled, as perf prints them).
syms = {}
for line in subprocess.run(["nm", "--defined-only", lasbin], capture_output=True, text=True,
                           check=True).stdout.splitlines():
    parts = line.split()
    if len(parts) == 3:
        syms[parts[2]] = int(parts[0], 16)

stage = collections.Counter()
samples = 0
las_addrs = collections.Counter()
shim = collections.Counter()
for line in out.splitlines():
    m = re.match(r"\s*([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$", line)
    if not m:
        continue
    samples += 1
    sym, dso = m.group(2), m.group(3)
    if os.path.realpath(dso) != lasreal:
        base = os.path.basename(dso)
        if "librte_net" in base:
            stage["I/O: the PMD (net_pcap receive copy, send)"] += 1
        elif base.startswith("librte_"):
            stage["I/O: other DPDK libraries (mempool, mbuf, ring)"] += 1
        elif "kernel" in base or base.startswith("["):
            stage["kernel (timer ticks, interrupts)"] += 1
        else:
            stage[f"I/O: {base.split('.so')[0]} (memcpy, TLS from the PMD)"] += 1
        continue
    s = re.match(r"(.*)\+0x([0-9a-f]+)$", sym)
    if not s or s.group(1) not in syms:
        stage["las, no symbol"] += 1
        continue
    name = s.group(1)
    if name.startswith("las_"):
        # The C shim (src/dpdk/shim.c): DPDK's inline functions wrapped.
        shim[name] += 1
        stage["I/O: las's C shim around DPDK inlines"] += 1
        continue
    las_addrs[syms[name] + int(s.group(2), 16)] += 1

if samples == 0:
    die(f"no samples{' of ' + comm if comm else ''} in {data}")

# Innermost las frame of every sampled address.
q = "\n".join(hex(a) for a in las_addrs) + "\n"
res = subprocess.run(["addr2line", "-e", lasbin, "-a", "-i", "-f", "-C"], input=q,
                     capture_output=True, text=True, check=True).stdout.split("\n")
chains, at, chain, i = {}, None, [], 0
while i < len(res):
    l = res[i]
    if re.fullmatch(r"0x[0-9a-f]+", l):
        if at is not None:
            chains[at] = chain
        at, chain = int(l, 16), []
        i += 1
        continue
    if i + 1 < len(res):
        chain.append((l, res[i + 1].split(" (")[0]))
    i += 2
if at is not None:
    chains[at] = chain


def own(path):
    """las's own source file, relative (src/...), or None."""
    if "/library/" in path or "/.cargo/" in path or path.startswith("/rustc/"):
        return None
    k = path.rfind("/src/")
    return path[k + 1:] if k >= 0 else None


STAGES = [
    # (file regex, function regex, stage); the first match wins.
    (r"src/worker/classify\.rs|src/wire/(checksum|ipv4|ipv6|udp|ethernet)\.rs", r"", "classify (outer headers, checksum)"),
    (r"src/worker/engine\.rs", r"::rx_one$|::reassemble$|::other$", "classify (outer headers, checksum)"),
    (r"src/worker/sessions\.rs", r"", "session lookup (index)"),
    (r"src/worker/decide\.rs", r"check_session|cookie_matches|header_len|accept", "session checks (source, cookie, sequence)"),
    (r"src/wire/l2tp/data\.rs", r"", "session checks (source, cookie, sequence)"),
    (r"src/worker/engine\.rs", r"::check$", "session checks (source, cookie, sequence)"),
    (r"src/switch/mactable\.rs", r"hash|::key$", "MAC table: hashing the keys"),
    (r"src/worker/decide\.rs", r"::macs$|::eth_header$", "MAC table: hashing the keys"),
    (r"src/switch/mactable\.rs", r"::put$", "MAC table: learn (put)"),
    (r"src/switch/mactable\.rs", r"lookup", "MAC table: lookup"),
    (r"src/switch/mactable\.rs", r"", "MAC table: bucket scans and entry checks (learn and lookup)"),
    (r"src/worker/decide\.rs", r"policy_verdict|policy_quick", "policy (L2 filter, VLAN, MSS, storm)"),
    (r"src/switch/(filter|policy|storm|flap|mod)\.rs|src/wire/vlan\.rs", r"", "policy (L2 filter, VLAN, MSS, storm)"),
    (r"src/worker/decide\.rs", r"", "forwarding decision"),
    (r"src/wire/l2tp/encap\.rs", r"", "encap and output"),
    (r"src/worker/engine\.rs", r"::output$|fragment_out", "encap and output"),
    (r"src/worker/engine/fast\.rs", r"encap_send|output_fast|output_slow", "encap and output"),
    (r"src/worker/engine/fast\.rs", r"", "fast path glue (its questions and counts)"),
    (r"src/worker/engine\.rs", r"::flood$|::flood_bulk$", "flood copies"),
    (r"src/worker/engine\.rs", r"::deliver$", "decap (trim, strip, receive counts)"),
    (r"src/worker/engine\.rs", r"::switch$|is_mesh", "switch glue (VLAN domain, learn/lookup calls)"),
    (r"src/worker/engine\.rs", r"::send$|::flush", "I/O: las's send buffering"),
    (r"src/worker/engine\.rs", r"apply_commands|::apply$|publish", "control commands, counter publishing"),
    (r"src/worker/engine\.rs", r"", "burst loop (stages, prefetches, counters)"),
    (r"src/dpdk/", r"", "I/O: las's mbuf and burst glue (src/dpdk)"),
    (r"src/worker/capture\.rs", r"", "capture check"),
    (r"src/", r"", "las, other"),
]


def stage_of(f, fn):
    for fre, fnre, st in STAGES:
        if re.match(fre, f) and re.search(fnre, fn):
            return st
    return "las, other"


byfile = collections.Counter()
for a, n in las_addrs.items():
    where = None
    for fn, loc in chains.get(a, []):
        f = own(loc.rsplit(":", 1)[0])
        if f:
            fn = re.sub(r"::\{closure.*", "", re.sub(r"<.*?>", "", fn))
            where = (f, fn)
            break
    if where is None:
        stage["inlined library code with no las frame"] += n
        continue
    stage[stage_of(*where)] += n
    byfile[where[0]] += n

print(f"# {samples} samples{' of ' + comm if comm else ''}"
      + (f"; {cpp:.0f} on-CPU cycles per packet" if cpp else ""))
print(f"{'share':>7} {'cyc/pkt':>8}  stage")
for st, n in stage.most_common():
    share = n / samples
    c = f"{share * cpp:8.0f}" if cpp else f"{'':8}"
    print(f"{100 * share:6.1f}% {c}  {st}")
print("# las's own samples by the innermost las source file:")
for f, n in byfile.most_common(12):
    print(f"{100 * n / samples:6.1f}%           {f}")
