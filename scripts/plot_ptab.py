#!/usr/bin/python3
"""Plot the ptab host benchmark: ns per entry for map/unmap next to the memset limit.

Usage: plot_ptab.py <results.csv> <out.png>
"""
import csv
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt


def main(src, dst):
    rows = [r for r in csv.DictReader(open(src)) if r["op"] in ("map", "unmap")]
    labels = [r["case"].replace(": ", "\n") + "\n" + r["op"] for r in rows]
    ns = [float(r["ns_per_entry"]) for r in rows]
    lim = [float(r["memset_ns_per_entry"]) for r in rows]
    x = range(len(rows))
    fig, ax = plt.subplots(figsize=(11, 5))
    ax.bar([i - 0.2 for i in x], ns, width=0.4, label="ptab_update", color="tab:blue")
    ax.bar([i + 0.2 for i in x], lim, width=0.4, label="memset of the entry bytes (limit)", color="tab:orange")
    ax.set_yscale("log")
    ax.set_ylabel("ns per entry (log)")
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=7)
    ax.set_title("Tessera ptab host benchmark: map/unmap 1 GiB (Hpt, -O2, median)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
