#!/usr/bin/python3
"""Instruction counts of the ptab host benchmark: runs `ptab_bench --instr` under callgrind
(valgrind from Debian), which dumps the cost of each phase, and writes instructions per entry
beside the timed results: <prefix>-instr.txt and .csv.

Usage: ptab_instr.py <ptab_bench binary> <out prefix>
"""
import glob
import os
import subprocess
import sys
import tempfile

# (op, case): goal of issue 10 in instructions per entry (None: keep it)
GOALS = {
    ("map", "4K leaves: one update for 1 GiB"): 40,
    ("map", "2M leaves: one update for 1 GiB"): 45,
    ("map", "4K leaves: one update per page"): 250,
    ("unmap", "4K leaves: one update per page"): 250,
    ("lookup", "random lookups: 4K leaves"): 50,
}


def dumps(binary):
    """(op, case, entries, instructions) of each phase callgrind dumped."""
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "cg.out")
        subprocess.run(["valgrind", "--tool=callgrind", "--collect-atstart=yes",
                        f"--callgrind-out-file={out}", binary, "--instr"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        rows = []
        for path in sorted(glob.glob(out + ".*"), key=lambda p: int(p.rsplit(".", 1)[1])):
            trigger, total = None, None
            for line in open(path):
                if line.startswith("desc: Trigger: Client Request: "):
                    trigger = line.split(": ", 3)[3].strip()
                elif line.startswith(("totals:", "summary:")):
                    total = int(line.split()[1])
            if trigger and total is not None and trigger.count("|") == 2:
                op, case, n = trigger.split("|")
                rows.append((op, case, int(n), total))
        return rows


def main(binary, prefix):
    rows = dumps(binary)
    if not rows:
        sys.exit("ptab_instr: callgrind dumped no phases")
    lines = ["ptab host benchmark: instructions per entry (callgrind, one run, Hpt, 4 levels, -O2)",
             f"{'case':<34} {'op':<7} {'entries':>8} {'instr/entry':>12} {'goal':>6}"]
    with open(prefix + "-instr.csv", "w") as f:
        f.write("case,op,entries,instr_per_entry,goal\n")
        for op, case, n, total in rows:
            goal = GOALS.get((op, case), "")
            lines.append(f"{case:<34} {op:<7} {n:>8} {total / n:>12.1f} {goal:>6}")
            f.write(f"{case},{op},{n},{total / n:.2f},{goal}\n")
    open(prefix + "-instr.txt", "w").write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
