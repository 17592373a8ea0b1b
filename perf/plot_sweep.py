#!/usr/bin/env python3
"""Plots a perf/bench.sh sweep table: las and testpmd Mpps, and the cycles
las adds per packet, against the number of MACs, one line per session count.

Usage: perf/plot_sweep.py perf/results/sweep-<date>.tsv perf/sweep.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(tsv, png):
    with open(tsv) as f:
        lines = [l for l in f if not l.startswith("#")]
    rows = list(csv.DictReader(lines, delimiter="\t"))
    if not rows:
        sys.exit(f"{tsv}: no points")
    title = ""
    with open(tsv) as f:
        first = f.readline()
        if first.startswith("#"):
            title = first[1:].strip().split(";")[0]
    invalid = [r for r in rows if r["valid"] != "true"]
    rows = [r for r in rows if r["valid"] == "true"]
    if invalid:
        title += f"; {len(invalid)} INVALID point(s) left out"
    if not rows:
        sys.exit(f"{tsv}: no valid points")
    sessions = sorted({int(r["sessions"]) for r in rows})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    for s in sessions:
        pts = sorted((int(r["macs"]), r) for r in rows if int(r["sessions"]) == s)
        x = [m for m, _ in pts]
        ax1.plot(x, [float(r["las_mpps"]) for _, r in pts], "o-", label=f"las, {s} sessions")
        ax1.plot(x, [float(r["testpmd_mpps"]) for _, r in pts], "x:", color="grey",
                 label="testpmd io" if s == sessions[0] else None)
        ax2.plot(x, [float(r["added_cyc"]) for _, r in pts], "o-", label=f"{s} sessions")
    for ax in (ax1, ax2):
        ax.set_xscale("log")
        ax.set_xlabel(f"MACs learned (pcap of {rows[0]['packets']} packets, {rows[0]['profile']})")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax1.set_ylabel("Mpps received (one worker core)")
    ax1.set_ylim(bottom=0)
    ax2.set_ylabel("cycles/packet las adds over testpmd io")
    ax2.set_ylim(bottom=0)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=100)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
