#!/usr/bin/python3
"""Report of the lab (bench/lab.sh, docs/lab.md): one table variant x metric, CSV and plots.

Usage: lab_report.py <out prefix> <name>|<switch>|<make>|<machine>|<cores>|<figures file> ...
A figures file holds kbench's "row value" lines: instructions under -icount shift=0 (QEMU) or
Bochs's TSC, and counter rows "ctr_<scenario>_<counter>" summed over the scenario's samples and
all cores (divided here by the samples: per operation).
"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

# metric: (key, label, kbench row): in a row "kK" is the largest k = cores - 1, in a label {K};
# "ctr_" rows are per operation
METRICS = [
    ("null_call", "null call (instr.)", "null_call"),
    ("fault", "lazy-sync fault (instr.)", "fault_lazy_sync"),
    ("delegate_one", "delegate 1 page (instr.)", "delegate_one"),
    ("revoke_one", "revoke 1 page, PD not running (instr.)", "revoke_one"),
    ("revoke_511_pp", "revoke 511 pages, per page (instr.)", "revoke_511_per_page"),
    ("self_revoke_1", "own revoke 1 page (instr.)", "self_revoke_1"),
    ("self_revoke_32", "own revoke 32 pages (instr.)", "self_revoke_32"),
    ("self_revoke_64", "own revoke 64 pages (instr.)", "self_revoke_64"),
    ("self_revoke_511", "own revoke 511 pages (instr.)", "self_revoke_511"),
    ("self_deleg_1", "own delegate 1 page (instr.)", "self_delegate_1"),
    ("self_deleg_511", "own delegate 511 pages (instr.)", "self_delegate_511"),
    ("self_revoke_empty", "own revoke 1 page emptying tables", "self_revoke_emptying"),
    ("sd_k0", "revoke, no other core (instr.)", "shootdown_k0"),
    ("sd_running", "revoke, {K} cores run the PD (instr.)", "shootdown_running_pd_kK"),
    ("sd_other", "revoke, {K} cores run another PD (instr.)", "shootdown_other_pd_kK"),
    ("sd_further", "per further core running the PD (instr.)", "shootdown_per_further_core"),
    ("rt_yield", "yield round trip, 2 PDs (instr.)", "round_trip_yield"),
    ("pager", "pager round trip (instr.)", "pager_round_trip"),
    ("large_deleg", "delegate 16 MiB, one call (instr.)", "large_delegate_16m"),
    ("large_revoke", "revoke 16 MiB, one call (instr.)", "large_revoke_16m"),
    ("sd_run_ipis", "IPIs per revoke, {K} run the PD", "ctr_shootdown_running_ipis"),
    ("sd_run_flush", "full flushes per revoke, {K} run the PD", "ctr_shootdown_running_full_flushes"),
    ("sd_run_defer", "deferred acks per revoke, {K} run the PD", "ctr_shootdown_running_deferred"),
    ("sd_oth_ipis", "IPIs per revoke, {K} run another PD", "ctr_shootdown_other_ipis"),
    ("sd_oth_flush", "full flushes per revoke, {K} run another", "ctr_shootdown_other_full_flushes"),
    ("sd_oth_avoid", "flushes avoided per revoke, {K} another",
     "ctr_shootdown_other_flushes_avoided"),
    ("own32_invlpg", "INVLPGs per own revoke of 32", "ctr_self_revoke_32_invlpgs"),
    ("own32_flush", "full flushes per own revoke of 32", "ctr_self_revoke_32_full_flushes"),
    ("own64_invlpg", "INVLPGs per own revoke of 64", "ctr_self_revoke_64_invlpgs"),
    ("own64_flush", "full flushes per own revoke of 64", "ctr_self_revoke_64_full_flushes"),
    ("own511_invlpg", "INVLPGs per own revoke of 511", "ctr_self_revoke_511_invlpgs"),
    ("rt_cr3", "CR3 loads per yield round trip", "ctr_round_trip_cr3_loads"),
    ("rt_flush", "full flushes per yield round trip", "ctr_round_trip_full_flushes"),
    ("rt_avoid", "flushes avoided per yield round trip", "ctr_round_trip_flushes_avoided"),
    ("win_fault", "window ops per lazy fault", "ctr_fault_lazy_sync_pt_window"),
    ("win_deleg", "window ops per delegate 1 page", "ctr_delegate_one_pt_window"),
    ("lin_deleg", "linear ops per delegate 1 page", "ctr_delegate_one_pt_linear"),
    ("win_own1", "window ops per own revoke 1", "ctr_self_revoke_1_pt_window"),
    ("win_flush_empty", "window flushes per own emptying revoke",
     "ctr_self_revoke_emptying_pt_window_flushes"),
    ("flush_empty", "full flushes per own emptying revoke", "ctr_self_revoke_emptying_full_flushes"),
    ("pgs_fault", "table pages per lazy fault (PTCOUNT)", "ctr_fault_lazy_sync_pt_pages"),
    ("tlb_fault", "their TLB entries per lazy fault", "ctr_fault_lazy_sync_pt_tlb"),
    ("pgs_deleg", "table pages per delegate 1 page", "ctr_delegate_one_pt_pages"),
    ("tlb_deleg", "their TLB entries per delegate 1", "ctr_delegate_one_pt_tlb"),
    ("pgs_revoke", "table pages per revoke 1 page", "ctr_revoke_one_pt_pages"),
    ("tlb_revoke", "their TLB entries per revoke 1", "ctr_revoke_one_pt_tlb"),
    ("pgs_own_d1", "table pages per own delegate 1", "ctr_self_delegate_1_pt_pages"),
    ("tlb_own_d1", "their TLB entries per own delegate 1", "ctr_self_delegate_1_pt_tlb"),
    ("pgs_own_r1", "table pages per own revoke 1", "ctr_self_revoke_1_pt_pages"),
    ("tlb_own_r1", "their TLB entries per own revoke 1", "ctr_self_revoke_1_pt_tlb"),
    ("pgs_own_r511", "table pages per own revoke 511", "ctr_self_revoke_511_pt_pages"),
    ("tlb_own_r511", "their TLB entries per own revoke 511", "ctr_self_revoke_511_pt_tlb"),
    ("pgs_own_empty", "table pages per own emptying revoke", "ctr_self_revoke_emptying_pt_pages"),
    ("tlb_own_empty", "their TLB entries per own emptying", "ctr_self_revoke_emptying_pt_tlb"),
    ("tables_16m", "table frames for 16 MiB (2M-aligned)", "large_tables"),
    ("leaf_kib", "leaf size of that mapping (KiB)", "large_leaf_kib"),
    ("walk_levels", "levels a TLB miss walks to it", "large_walk_levels"),
    ("pd_kept", "master tables kept per PD, 3 entries used", "roots_pd_kept"),
    ("core_roots", "per-core roots per (PD, core)", "roots_per_core"),
    ("core_frames", "frames per (PD, core)", "roots_frames_per_core"),
    ("core_faults", "lazy-sync faults per (PD, core), 3 entries", "roots_lazy_syncs_per_core"),
    ("core_eager", "eager copies per (PD, core), 3 entries", "roots_eager_syncs_per_core"),
]

# Rows kbench computes as a difference of two medians (unsigned there): negative if it wrapped.
SIGNED = {"shootdown_per_further_core"}

# The plots: (metric, title).
PLOTS = [
    ("sd_running", "revoke while {K} cores run the PD"),
    ("sd_other", "revoke while {K} cores run another PD"),
    ("sd_oth_ipis", "IPIs per revoke, {K} cores run another PD"),
    ("self_revoke_64", "own revoke of 64 pages (instr.)"),
    ("own64_flush", "full flushes per own revoke of 64"),
    ("rt_flush", "full flushes per yield round trip"),
    ("tables_16m", "table frames for 16 MiB"),
    ("large_deleg", "delegate 16 MiB (instr.)"),
    ("walk_levels", "levels walked on a TLB miss"),
]


def load(path):
    """The figures of one file as a dict row -> int."""
    out = {}
    try:
        for line in open(path):
            parts = line.split()
            if len(parts) == 2:
                out[parts[0]] = int(parts[1])
    except OSError:
        pass
    return out


def value(figs, row, cores):
    """The metric's value in figs (None if absent): counter rows per operation."""
    row = row.replace("kK", f"k{cores - 1}")
    if row not in figs:
        return None
    v = figs[row]
    if row in SIGNED and v >= 1 << 62:
        # a difference below zero, wrapped as unsigned in kbench before its division by k
        return v - (1 << 64) // max(cores - 1, 1)
    if row.startswith("ctr_"):
        return v / max(figs.get("samples", 15), 1)
    return v


def fmt(v):
    """A table cell."""
    if v is None:
        return "-"
    if v >= 1 << 63:
        return "failed"     # kbench's ~0: the scenario's check failed
    if isinstance(v, float) and v != int(v):
        return f"{v:.2f}"
    return str(int(v))


def main(prefix, runs):
    rows = []               # (name, switch, make, machine, cores, figures)
    for r in runs:
        name, switch, make, machine, cores, path = r.split("|", 5)
        rows.append((name, switch, make, machine, int(cores), load(path)))
    variants = list(dict.fromkeys(r[0] for r in rows))
    meta = {r[0]: r[1:4] for r in rows}
    smps = sorted({r[4] for r in rows})
    with open(prefix + ".csv", "w") as f:
        f.write("variant,switch,make,machine,cores," + ",".join(m[0] for m in METRICS) + "\n")
        for name, switch, make, machine, cores, figs in rows:
            f.write(f"{name},{switch},{make.replace(',', ' ')},{machine},{cores}," +
                    ",".join(fmt(value(figs, m[2], cores)) for m in METRICS) + "\n")
    w = max(len(m[1]) for m in METRICS)
    cw = max(9, max(len(v) for v in variants) + 1)
    lines = ["Tessera lab: every variant of bench/lab/variants.txt on the in-QEMU benchmark",
             "(user/tests/kbench.c; instructions under -icount shift=0, -machine q35; Bochs: its",
             "TSC on corei7_skylake_x; counters per operation, summed over all cores)", ""]
    lines.append("variants:")
    for v in variants:
        s, mk, machine = meta[v]
        lines.append(f"  {v:<{cw}} switch {s}: {mk if mk != '-' else '(today)'} on {machine}")
    for n in smps:
        by = {r[0]: r[5] for r in rows if r[4] == n}
        lines += ["", f"-smp {n} (K = {n - 1})",
                  f"{'metric':<{w}} " + "".join(f"{v:>{cw}}" for v in variants)]
        for key, label, row in METRICS:
            vals = [value(by.get(v, {}), row, n) for v in variants]
            if all(x is None for x in vals):
                continue
            lines.append(f"{label.replace('{K}', str(n - 1)):<{w}} " +
                         "".join(f"{fmt(x):>{cw}}" for x in vals))
    open(prefix + ".txt", "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(prefix + ".png", rows, variants, meta, smps[-1])


def plot(path, rows, variants, meta, n):
    """One bar chart per metric of PLOTS: every variant at n cores, coloured by its switch."""
    by = {r[0]: r[5] for r in rows if r[4] == n}
    colours = {"0": "gray", "1": "tab:purple", "2": "tab:green", "3": "tab:olive",
               "4": "tab:blue", "5": "tab:orange"}
    cols = 3
    fig, axes = plt.subplots((len(PLOTS) + cols - 1) // cols, cols, figsize=(18, 13))
    metric = {m[0]: m for m in METRICS}
    for ax, (key, title) in zip(axes.flat, PLOTS):
        vals = [value(by.get(v, {}), metric[key][2], n) for v in variants]
        vals = [x if x is None or x < 1 << 63 else None for x in vals]
        ax.bar(range(len(variants)), [x if x is not None else 0 for x in vals],
               color=[colours.get(meta[v][0], "black") for v in variants])
        ax.set_xticks(range(len(variants)))
        ax.set_xticklabels(variants, rotation=60, ha="right", fontsize=7)
        ax.set_title(title.replace("{K}", str(n - 1)) + f" (smp {n})", fontsize=9)
        for i, x in enumerate(vals):
            if x is not None:
                ax.text(i, x, fmt(x), ha="center", va="bottom", fontsize=6)
    for ax in list(axes.flat)[len(PLOTS):]:
        ax.axis("off")
    fig.suptitle("Tessera lab: switch 0 grey (today), 2 green, 3 olive, 4 blue, 5 orange")
    fig.tight_layout()
    fig.savefig(path, dpi=100)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
