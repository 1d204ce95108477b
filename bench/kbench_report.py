#!/usr/bin/python3
"""Report of the in-QEMU kernel benchmark (bench/kbench.sh): table, CSV and plots.

Usage: kbench_report.py <out prefix> <cores>:<figures file> ...
A figures file holds "row value" lines (instructions under -icount shift=0).
"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt

# row: (what it measures, Linux 6.1 in the same QEMU as issue 10 measured it, goal of issue 10)
ROWS = {
    "null_call": ("null system call (unknown number, answered without pd_lock)", "328", 60),
    "fault_lazy_sync": ("user fault resolved by a lazy per-core sync", "2,000", 150),
    "delegate_511_per_page": ("delegate 511 pages in one call, tables there, per page",
                              "1,053", 30),
    "delegate_512_tables_per_page": ("delegate 512 pages in one call, 2 tables built, per page",
                                     "1,053", 30),
    "revoke_511_per_page": ("revoke 511 pages in one call, tables kept, per page", "501", 30),
    "revoke_512_tables_per_page": ("revoke 512 pages in one call, 2 tables freed, per page",
                                   "501", 30),
    "delegate_one": ("delegate one page per call", "2,000", 600),
    "revoke_one": ("revoke one page, no other core involved", "10,970", 1000),
    "revoke_write_right": ("revoke only the write right of one page", "2,936", 1000),
    "revoke_one_emptying_tables": ("revoke one page that empties its page tables", "10,970", 2000),
    "revoke_one_of_1021_siblings": ("revoke one of 1,021 sibling delegations", "-", 1200),
    "shootdown_per_further_core": ("added cost per further core running the PD",
                                   "550 ... 660", 120),
    "round_trip_yield": ("round trip between two PDs on one core (yield)", "10,776", 400),
    "pager_round_trip": ("pager round trip (fault, delegate, resume)", "2,746", 2000),
    "vm_exit_round_trip": ("VM exit round trip (vmmcall, VMM woken, resume; SVM)", "-", 3000),
    "scaling_ratio_pct": ("per call, most cores at once vs one core, % (own PDs)", "-", 125),
}


def load(path):
    """The figures of one file as a dict row -> int."""
    out = {}
    for line in open(path):
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = int(parts[1])
    return out


def main(prefix, runs):
    cores = [int(r.split(":", 1)[0]) for r in runs]
    figs = {n: load(r.split(":", 1)[1]) for n, r in zip(cores, runs)}
    names = sorted({k for f in figs.values() for k in f if k != "cores"},
                   key=lambda k: (k not in ROWS, list(ROWS).index(k) if k in ROWS else 0, k))
    with open(prefix + ".csv", "w") as f:
        f.write("row," + ",".join(f"smp{n}" for n in cores) + ",goal\n")
        for k in names:
            goal = ROWS[k][2] if k in ROWS else ""
            f.write(k + "," + ",".join(str(figs[n].get(k, "")) for n in cores) + f",{goal}\n")
    w = max(len(ROWS[k][0]) for k in ROWS)
    lines = ["Tessera kernel benchmark: instructions per operation under -icount shift=0",
             "(QEMU 7.2, -machine q35 -cpu max, median of 15; Linux column: issue 10's figures)",
             "",
             f"{'operation':<{w}} " + " ".join(f"{'smp' + str(n):>8}" for n in cores) +
             f" {'Linux 6.1':>11} {'goal':>6} {'met':>4}"]
    for k in ROWS:
        if not any(k in figs[n] for n in cores):
            continue
        vals = [figs[n].get(k) for n in cores]
        met = all(v is not None and v <= ROWS[k][2] for v in vals)
        lines.append(f"{ROWS[k][0]:<{w}} " +
                     " ".join(f"{v if v is not None else '-':>8}" for v in vals) +
                     f" {ROWS[k][1]:>11} {ROWS[k][2]:>6} {'yes' if met else 'no':>4}")
    lines += ["", "Shootdown: one-page revoke with k other cores running the PD / another PD"]
    for n in cores:
        f = figs[n]
        ks = [k for k in range(1, n) if f"shootdown_running_pd_k{k}" in f]
        lines.append(f"  smp{n}: k=0 {f.get('shootdown_k0', '-')}; " + "; ".join(
            f"k={k} {f[f'shootdown_running_pd_k{k}']} / {f[f'shootdown_other_pd_k{k}']}"
            for k in ks))
    lines += ["", "Scaling: instructions per call (all cores counted) while k cores make independent",
              "delegate/lookup/revoke calls in PDs of their own (goal: k = 8 at most 1.25 x k = 1)"]
    for n in cores:
        f = figs[n]
        ks = [k for k in (1, 2, 4, 8) if f"scaling_k{k}_per_call" in f]
        lines.append(f"  smp{n}: " + "; ".join(f"k={k} {f[f'scaling_k{k}_per_call']}" for k in ks) +
                     f"; k={ks[-1]} / k=1: {f.get('scaling_ratio_pct', '-')}%" if ks else
                     f"  smp{n}: -")
    open(prefix + ".txt", "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))
    plot(prefix + ".png", cores, figs)


def plot(path, cores, figs):
    """Cost per operation (smallest core count) against the goals; shootdown cost against k;
    scaling against cores."""
    fig, (a, b, c) = plt.subplots(1, 3, figsize=(20, 6), gridspec_kw={"width_ratios": [3, 2, 2]})
    n0 = cores[0]
    keys = [k for k in ROWS if k in figs[n0]]
    x = range(len(keys))
    a.bar([i - 0.2 for i in x], [figs[n0][k] for k in keys], width=0.4, label=f"Tessera (smp{n0})")
    a.bar([i + 0.2 for i in x], [ROWS[k][2] for k in keys], width=0.4, label="goal (issue 10)")
    a.set_yscale("log")
    a.set_ylabel("instructions (log)")
    a.set_xticks(list(x))
    a.set_xticklabels([k.replace("_", "\n", 2) for k in keys], fontsize=6, rotation=60)
    a.set_title("cost per operation under -icount")
    a.legend()
    n1 = cores[-1]
    f = figs[n1]
    ks = [k for k in range(1, n1) if f"shootdown_running_pd_k{k}" in f]
    b.plot([0] + ks, [f.get("shootdown_k0", 0)] + [f[f"shootdown_running_pd_k{k}"] for k in ks],
           "o-", label="k other cores run the PD (IPIs)")
    b.plot([0] + ks, [f.get("shootdown_k0", 0)] + [f[f"shootdown_other_pd_k{k}"] for k in ks],
           "s-", label="k other cores run another PD")
    b.set_xlabel("other cores k")
    b.set_ylabel("instructions per one-page revoke")
    b.set_title(f"shootdown cost (smp{n1})")
    b.legend()
    ks = [k for k in (1, 2, 4, 8) if f"scaling_k{k}_per_call" in f]
    if ks:
        base = f["scaling_k1_per_call"]
        c.plot(ks, [f[f"scaling_k{k}_per_call"] / base for k in ks], "o-", label="Tessera")
        c.axhline(1.25, linestyle="--", color="gray", label="goal: 1.25 x one core")
        c.set_ylim(0, max(1.5, max(f[f"scaling_k{k}_per_call"] / base for k in ks) * 1.1))
    c.set_xlabel("cores k making calls at once")
    c.set_ylabel("instructions per call / one core's")
    c.set_title(f"scaling, independent PDs (smp{n1})")
    c.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
