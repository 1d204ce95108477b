#!/usr/bin/env python3
"""Print the N longest C functions of a tree: lines from the signature to the closing brace.

Usage: scripts/longest_functions.py [N] [ROOT] [DIR...]   (defaults: 5, ., kernel arch include lib user)
Looks at the DIRs below ROOT (*.c and *.h). A definition is a line at column 0
that opens a parameter list and is followed, at column 0, by "{"; it ends at the first "}" at
column 0 (the tree's style, see docs/ARCHITECTURE.md).
"""
import os
import re
import sys

DIRS = ("kernel", "arch", "include", "lib", "user")
NAME = re.compile(r"([A-Za-z_][A-Za-z_0-9]*)\s*\(")


def functions(path):
    """(name, first line, length) of every function defined in path."""
    with open(path, errors="replace") as f:
        lines = f.read().split("\n")
    out, i = [], 0
    while i < len(lines):
        line = lines[i]
        if line[:1].isalpha() and "(" in line and not line.rstrip().endswith(";"):
            j = i
            while j < len(lines) and "{" not in lines[j] and not lines[j].rstrip().endswith(";"):
                j += 1
            if j < len(lines) and lines[j].startswith("{") or (j == i and line.rstrip().endswith("{")):
                k = j + 1
                while k < len(lines) and not lines[k].startswith("}"):
                    k += 1
                m = NAME.search(line)
                if m and k < len(lines):
                    out.append((m.group(1), i + 1, k - i + 1))
                    i = k
        i += 1
    return out


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    root = sys.argv[2] if len(sys.argv) > 2 else "."
    found = []
    for d in sys.argv[3:] or DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for fn in files:
                if fn.endswith((".c", ".h")):
                    p = os.path.join(dirpath, fn)
                    found += [(length, os.path.relpath(p, root), line, name)
                              for name, line, length in functions(p)]
    found.sort(key=lambda f: (-f[0], f[1], f[2]))
    for length, path, line, name in found[:n]:
        print(f"{length:4d}  {path}:{line}  {name}")


if __name__ == "__main__":
    main()
