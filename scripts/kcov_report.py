#!/usr/bin/env python3
"""Kernel edge coverage of a fuzz run (KCOV=1 build): which guards of which object file ran.

usage: kcov_report.py <kernel.map> <serial log>

The linker map lists, in guard order, each object's __sancov_guards input section (address, size);
guard i (0-based from the output section start) is bit i of the "fuzz: kcov-bits <byte> <hex>"
lines the fuzzer prints at its end. Prints one line per source file and totals for kernel/, arch/.
"""
import re
import sys


def guard_ranges(map_path):
    """[(first guard, count, source path)] from the linker map, and the total."""
    text = open(map_path).read().split('\n')
    start, ranges = None, []
    for i, line in enumerate(text):
        if line.startswith('__sancov_guards'):
            m = re.match(r'\s*0x([0-9a-f]+)', line[len('__sancov_guards'):].strip() or text[i + 1])
            start = int(m.group(1), 16)
            continue
        if start is None or not line.startswith(' __sancov_guards'):
            continue
        rest = line[len(' __sancov_guards'):].strip() or text[i + 1].strip()
        m = re.match(r'0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S+)', rest)
        if not m:
            continue
        addr, size, obj = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
        src = re.sub(r'^.*?/kernel/(kernel|arch|lib)/', r'\1/', obj)[:-2]
        ranges.append(((addr - start) // 4, size // 4, src))
    return ranges


def hit_bits(log_path):
    """Bytes of the hit bitmap from the serial log."""
    bits = {}
    for line in open(log_path, errors='replace'):
        m = re.search(r'fuzz: kcov-bits (\d+) ([0-9a-f]+)', line)
        if m:
            off, hx = int(m.group(1)), m.group(2)
            for k in range(len(hx) // 2):
                bits[off + k] = int(hx[2 * k:2 * k + 2], 16)
    return bits


def main():
    ranges, bits = guard_ranges(sys.argv[1]), hit_bits(sys.argv[2])
    per = {}
    for first, n, src in ranges:
        hit = sum(1 for g in range(first, first + n) if bits.get(g // 8, 0) >> (g % 8) & 1)
        h, t = per.get(src, (0, 0))
        per[src] = (h + hit, t + n)
    tot = {}
    for src in sorted(per):
        h, t = per[src]
        print(f'kcov: {src:32s} {h:5d} / {t:5d} edges  {100.0 * h / max(t, 1):5.1f}%')
        top = src.split('/')[0]
        th, tt = tot.get(top, (0, 0))
        tot[top] = (th + h, tt + t)
    for top in sorted(tot):
        h, t = tot[top]
        print(f'kcov: total {top}/ {h} / {t} edges ({100.0 * h / max(t, 1):.1f}%)')


if __name__ == '__main__':
    main()
