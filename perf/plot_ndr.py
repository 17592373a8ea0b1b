#!/usr/bin/env python3
"""Plots a perf/ndr.sh table: NDR and PDR of las and of testpmd io (the
ceiling) per profile, in Mpps and in Gbit/s.

Usage: perf/plot_ndr.py perf/results/ndr-<date>.tsv perf/results/ndr-<date>.png
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def num(s):
    try:
        return float(s)
    except ValueError:
        return 0.0


def main(tsv, png):
    with open(tsv) as f:
        first = f.readline()
        rest = f.readlines()
    title = first[1:].strip().split(";")[0] if first.startswith("#") else ""
    lines = rest if first.startswith("#") else [first] + rest
    rows = list(csv.DictReader(lines, delimiter="\t"))
    if not rows:
        sys.exit(f"{tsv}: no rows")
    profiles = list(dict.fromkeys(r["profile"] for r in rows))
    duts = list(dict.fromkeys(r["dut"] for r in rows))
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    width = 0.8 / (2 * len(duts))
    for ax, unit in zip(axes, ("mpps", "gbps")):
        k = 0
        for dut in duts:
            for bound, hatch in (("ndr", None), ("pdr", "//")):
                ys = []
                for p in profiles:
                    r = next((r for r in rows if r["profile"] == p and r["dut"] == dut), None)
                    ys.append(num(r[f"{bound}_{unit}"]) if r else 0.0)
                xs = [i + (k - (2 * len(duts) - 1) / 2) * width for i in range(len(profiles))]
                bars = ax.bar(xs, ys, width, label=f"{dut} {bound.upper()}", hatch=hatch,
                              color="C0" if dut == "las" else "grey", alpha=0.9 if bound == "ndr" else 0.6)
                for b, y in zip(bars, ys):
                    ax.annotate(f"{y:.2f}", (b.get_x() + b.get_width() / 2, y), ha="center",
                                va="bottom", fontsize=7)
                k += 1
        ax.set_xticks(range(len(profiles)))
        ax.set_xticklabels(profiles)
        ax.set_xlabel("profile (encapsulation:inner frame size with FCS)")
        ax.set_ylabel("Mpps offered" if unit == "mpps" else "Gbit/s on the wire (L1)")
        ax.grid(True, axis="y", alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title + " (memif, one worker core)", fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=100)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
