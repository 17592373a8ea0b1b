#!/usr/bin/env python3
"""Instructions per packet of one function, instruction by instruction.

perf/instructions.sh counts by source line; below that, what the compiler
made of a line (spills to the stack, bounds checks, moves of a struct)
shows only in the machine code. This joins callgrind's per-instruction
counts (instructions.sh runs callgrind with --dump-instr=yes; KEEP=1
keeps its work directory) to `objdump -d` of the same binary:

    KEEP=1 perf/instructions.sh            # prints the work directory
    perf/asm_costs.py /tmp/las-instr.XXXX/cg.out.1 burst_direct \\
        target/release/las > burst_direct.asm

The worker's dump is the `cg.out.N` that holds the function. The packet
count comes from the work directory's report.txt (or PACKETS=n). Prints a
summary (instructions a packet executed in the function itself, with
what it inlines; how many touch the stack; branches) and then the
disassembly with the count a packet of every instruction in front.
Calls out of the function are not in its count (callgrind charges them
to the callee).
"""
import collections
import os
import re
import subprocess
import sys


def names(table, s):
    """callgrind's name compression: "(id) name" defines, "(id)" refers."""
    m = re.match(r"\((\d+)\)(?: (.*))?", s)
    if not m:
        return s
    if m.group(2):
        table[m.group(1)] = m.group(2)
    return table.get(m.group(1), "?")


def costs(path, want):
    """Self cost of every instruction address in functions matching `want`."""
    fns = {}
    cost = collections.Counter()
    fn = None
    addr = 0
    after_calls = False
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("fn="):
                fn = names(fns, line[3:])
                continue
            if line.startswith("cfn="):
                names(fns, line[4:])
                continue
            if line.startswith("calls="):
                # The next cost line is the call's inclusive cost.
                after_calls = True
                continue
            if line[0] not in "0123456789+-*":
                continue
            parts = line.split()
            a = parts[0]
            if a.startswith("0x"):
                addr = int(a, 16)
            elif a[0] in "+-":
                addr += int(a, 0)
            elif a != "*":
                addr = int(a, 0)
            if after_calls:
                after_calls = False
                continue
            if fn and want in fn and len(parts) >= 3:
                cost[addr] += int(parts[2])
    return cost


def packets(cg):
    if os.environ.get("PACKETS"):
        return int(os.environ["PACKETS"])
    report = os.path.join(os.path.dirname(cg), "report.txt")
    with open(report) as f:
        m = re.search(r"\((\d+) packets counted\)", f.read())
    if not m:
        sys.exit(f"asm_costs: no packet count in {report}; set PACKETS")
    return int(m.group(1))


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    cg, want, binary = sys.argv[1:]
    cost = costs(cg, want)
    if not cost:
        sys.exit(f"asm_costs: no function matching {want!r} in {cg}")
    n = packets(cg)
    lo, hi = min(cost), max(cost)
    dis = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", "-C",
         f"--start-address={lo}", f"--stop-address={hi + 16}", binary],
        capture_output=True, text=True, check=True).stdout
    rows = []
    total = stack = branches = 0.0
    for line in dis.splitlines():
        m = re.match(r"\s*([0-9a-f]+):\s*(.*)", line)
        if not m:
            continue
        c = cost.get(int(m.group(1), 16), 0) / n
        text = m.group(2)
        total += c
        if "(%rsp)" in text:
            stack += c
        if re.match(r"j[a-z]+\s", text):
            branches += c
        rows.append(f"{c:8.2f}  {m.group(1)}: {text}")
    if abs(total * n - sum(cost.values())) > n:
        print("asm_costs: some counted addresses are not in the disassembly "
              "(another binary than the one counted?)", file=sys.stderr)
    print(f"{want}: {total:.1f} instructions a packet ({n} packets), "
          f"{stack:.1f} touching the stack, {branches:.1f} branches")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
