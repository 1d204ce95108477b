#!/usr/bin/env python3
"""Page-table dumps of make inspect: parse, check, draw (lecture: "Syncing Page Tables").

Reads the serial log of user/tests/inspect.c on the INSPECT=1 kernel (lines "@pt ..." printed by
kernel/inspect.c, the scenario line "# inspect A=.. B=.. revoked=.. synced=.."), prints TAP lines
for the consistency checks, and draws one SVG per dump tag into <outdir>: before.svg (tag 0) and
after.svg (tag 1, after the revoke and the lazy-sync fault on core 1).

Per PD the picture has four columns: the master root (hpt) with its present user entries, the
lower-level tables below each entry (PDPT, PD, PT frames; 2 MiB and 1 GiB leaves marked), and
the root of each core (loc[cpu]). An entry's colour is the frame it points to: a core's entry
of the master's colour shares the master's lower levels (same frame); a dashed white entry is
one the master has and the core has not synced yet. Each core root's last row is its kernel
half: PML4 entry 511 -> the root's own PDPT, whose entry 510 is the core's kernel PD (same in
every PD on that core, with the core-local slot's page table) and entry 511 the PD's kernel
directory (same on every core of the PD).

usage: scripts/inspect.py <serial log> <outdir>   (exit status 0 unless a check fails)
"""
import os
import re
import sys
from html import escape

L4_SHIFT = 39
LEAF_NAME = {0: "4K", 1: "2M", 2: "1G"}
TABLE_NAME = {3: "PML4", 2: "PDPT", 1: "PD", 0: "PT"}
PALETTE = ["#8dd3c7", "#fdb462", "#bebada", "#fb8072", "#80b1d3", "#b3de69", "#fccde5",
           "#ffffb3", "#bc80bd", "#ccebc5"]


class Dump:
    """One SYS_INSPECT output: a PD's master table and per-core roots."""

    def __init__(self, tag, sel, root, kdir):
        self.tag, self.sel, self.root, self.kdir = tag, sel, root, kdir
        self.master = []            # (level, va, entry, pa, leaf)
        self.locs = {}              # cpu -> {"root": pa, "r": {slot: (entry, pa)}, "k": (...)}

    def top(self):
        """The master's root entries: slot -> (entry, pa)."""
        return {va >> L4_SHIFT: (e, pa) for (l, va, e, pa, _) in self.master if l == 3}

    def leaf(self, va):
        """The master's leaf that maps va: (level, va, entry, pa), or None."""
        for (l, v, e, pa, leaf) in self.master:
            if leaf and v <= va < v + (1 << (12 + 9 * l)):
                return (l, v, e, pa)
        return None


def parse(path):
    """Dumps by (tag, sel) (a repeat by (tag, sel, n)) and the scenario line's fields."""
    dumps, scen, cur = {}, {}, None
    for raw in open(path, "rb").read().decode("latin-1").splitlines():
        line = raw.strip().replace("\r", "")
        m = re.match(r"# inspect (.*)$", line)
        if m:
            scen.update({k: int(v, 16) if k in ("revoked", "synced") else int(v)
                         for k, v in (w.split("=") for w in m.group(1).split())})
            continue
        if "# 1 GiB page of A: given" in line:
            scen["big"] = True
        if not line.startswith("@pt "):
            continue
        w = line.split()[1:]
        if w[0] == "begin":
            cur = Dump(int(w[1]), int(w[2]), int(w[3], 16), int(w[4], 16))
        elif w[0] == "end" and cur:
            key = (cur.tag, cur.sel)
            dumps[key if key not in dumps else key + (len(dumps),)] = cur   # repeats kept
            cur = None
        elif w[0] == "m" and cur:
            cur.master.append((int(w[1]), int(w[2], 16), int(w[3], 16), int(w[4], 16),
                               w[5] == "L"))
        elif w[0] == "loc" and cur:
            cur.locs[int(w[1])] = {"root": int(w[2], 16), "r": {}, "k": None}
        elif w[0] == "r" and cur:
            cur.locs[int(w[1])]["r"][int(w[2])] = (int(w[3], 16), int(w[4], 16))
        elif w[0] == "k" and cur:
            cur.locs[int(w[1])]["k"] = tuple(int(x, 16) for x in w[2:6])
    return dumps, scen


class Tap:
    """TAP lines; counts failures."""

    def __init__(self):
        self.failed = 0

    def check(self, ok, name):
        print(("ok" if ok else "not ok") + " - inspect: " + name)
        self.failed += 0 if ok else 1


def check(dumps, scen, tap):
    """The consistency checks of the dumps (see the module text)."""
    a, b = scen.get("A"), scen.get("B")
    need = [(t, s) for t in (0, 1) for s in (a, b)]
    tap.check(a is not None and all(k in dumps for k in need),
              "the log has the scenario line and dumps of A and B before and after")
    if a is None or not all(k in dumps for k in need):
        return
    tap.check(sum(1 for k in dumps if k[:2] == (2, b)) == 8,
              "the log has the 8 dumps of B made while B ran on core 1 (each is checked below)")
    shared = True
    for d in dumps.values():
        top = d.top()
        for cpu, loc in d.locs.items():
            for slot, ent in loc["r"].items():
                shared &= top.get(slot) == ent
    tap.check(shared, "every user entry of every core's root equals the master's entry "
              "(the lower levels are the master's frames)")
    roots = [d.root for d in dumps.values() if d.tag == 0] + \
        [loc["root"] for d in dumps.values() if d.tag == 0 for loc in d.locs.values()]
    tap.check(len(roots) == len(set(roots)), "master and per-core roots are distinct frames")
    slot = scen["synced"] >> L4_SHIFT
    before, after = dumps[(0, a)], dumps[(1, a)]
    tap.check(1 in before.locs and slot not in before.locs[1]["r"] and slot in before.top(),
              "before the fault core 1's root of A lacks slot %d, which the master has" % slot)
    tap.check(1 in after.locs and after.locs[1]["r"].get(slot) == after.top().get(slot),
              "after the fault core 1's root of A has slot %d, equal to the master's" % slot)
    tap.check(0 in before.locs and before.locs[0]["r"].get(slot) == before.top().get(slot),
              "core 0's root of A had slot %d synced from its first run" % slot)
    rv = scen["revoked"]
    tap.check(before.leaf(rv) is not None and before.leaf(rv)[0] == 0 and after.leaf(rv) is None,
              "the revoked page %x is a 4K leaf of A's master before and gone after" % rv)
    tap.check(after.leaf(scen["synced"]) is not None,
              "its neighbour %x stays mapped after the revoke" % scen["synced"])
    tap.check(any(l == 1 and leaf for (l, _, _, _, leaf) in after.master),
              "A's master holds a 2 MiB leaf")
    if scen.get("big"):
        tap.check(any(l == 2 and leaf for (l, _, _, _, leaf) in after.master),
                  "A's master holds a 1 GiB leaf")
    tap.check(0 not in dumps[(0, b)].locs and 1 in dumps[(0, b)].locs,
              "B, which ran only on core 1, has a root on core 1 and none on core 0")
    kdir_ok, kpd = True, {}
    for d in dumps.values():
        for cpu, loc in d.locs.items():
            k = loc["k"]
            kdir_ok &= k is not None and k[2] == d.kdir
            if k:
                kpd.setdefault(cpu, set()).add((k[1], k[3]))
    tap.check(kdir_ok, "every core root's PDPT entry 511 is its PD's kernel directory")
    tap.check(all(len(v) == 1 for v in kpd.values()) and
              len({next(iter(v)) for v in kpd.values()}) == len(kpd),
              "PDPT entry 510 is the core's kernel PD (one per core, the same in every PD) "
              "with the core's own core-local page table")


def subtree(d, slot, revoked=None):
    """Text lines of the master's tables below root slot (PT leaves summarised; the revoked
    page marked where its PT is), each with its highlight (leaf level, "rv" or None)."""
    lo, hi = slot << L4_SHIFT, (slot + 1) << L4_SHIFT
    ents = [x for x in d.master if lo <= x[1] < hi and x[0] < 3]
    lines, i = [], 0
    while i < len(ents):
        l, va, e, pa, leaf = ents[i]
        pad = "  " * (2 - l)
        if leaf and l == 0:
            run = [x for x in ents[i:] if x[0] == 0 and x[4]]
            j = i
            while j < len(ents) and ents[j][0] == 0:
                j += 1
            run = ents[i:j]
            vas = " ".join("%x" % x[1] for x in run) if len(run) <= 4 else \
                "%x .. %x" % (run[0][1], run[-1][1])
            lines.append((pad + "%d x 4K: %s" % (len(run), vas), None))
            if revoked is not None and run[0][1] >> 21 == revoked >> 21:
                gone = all(x[1] != revoked for x in run)
                lines.append((pad + ("%x: revoked, gone" if gone else "%x: revoked next")
                              % revoked, "rv"))
            i = j
            continue
        if leaf:
            lines.append((pad + "%s leaf %x -> frame %x" % (LEAF_NAME[l], va, pa), l))
        else:
            lines.append((pad + "%s %x (at %x)" % (TABLE_NAME[l - 1], pa, va), None))
        i += 1
    return lines


def draw(dumps, scen, tag, path):
    """One SVG of every PD's tables under tag."""
    lh, cw = 16, [190, 390, 270]
    ds = [dumps[k] for k in sorted(dumps) if k[0] == tag]
    cpus = sorted({c for d in ds for c in d.locs})
    colors = {}

    def color(frame):
        return colors.setdefault(frame, PALETTE[len(colors) % len(PALETTE)])

    out, y = [], 40
    x_tree, x_loc = 10 + cw[0] + 20, 10 + cw[0] + 20 + cw[1] + 20
    width = x_loc + len(cpus) * (cw[2] + 10) + 10
    title = {0: "before", 1: "after the revoke of %x and the lazy-sync fault on core 1"
             % scen.get("revoked", 0)}.get(tag, "tag %d" % tag)
    out.append('<text x="10" y="22" font-size="15" font-weight="bold">Tessera page tables, '
               '%s</text>' % escape(title))
    for d in ds:
        name = {scen.get("A"): "PD A", scen.get("B"): "PD B"}.get(d.sel, "PD")
        out.append('<text x="10" y="%d" font-size="13" font-weight="bold">%s (selector %d):'
                   ' master root %x, kernel directory %x</text>' % (y + 12, name, d.sel,
                                                                    d.root, d.kdir))
        y += 22
        heads = [(10, "master root (hpt)"), (x_tree, "lower levels (the master's frames)")] + \
            [(x_loc + i * (cw[2] + 10), "core %d root loc[%d] %x" % (c, c, d.locs[c]["root"])
              if c in d.locs else "core %d: no root" % c) for i, c in enumerate(cpus)]
        for x, h in heads:
            out.append('<text x="%d" y="%d" font-size="11" font-style="italic">%s</text>'
                       % (x, y + 10, escape(h)))
        y += 16
        top = d.top()
        for slot in sorted(top):
            e, pa = top[slot]
            lines = subtree(d, slot, scen.get("revoked") if d.sel == scen.get("A") else None)
            h = max(1, len(lines)) * lh + 6
            out.append('<rect x="10" y="%d" width="%d" height="%d" fill="%s" stroke="#333"/>'
                       % (y, cw[0], lh + 4, color(pa)))
            out.append('<text x="14" y="%d" font-size="11">[%d] -> PDPT %x</text>'
                       % (y + 14, slot, pa))
            out.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#333" '
                       'marker-end="url(#arr)"/>' % (10 + cw[0], y + 10, x_tree, y + 10))
            out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s" '
                       'fill-opacity="0.35" stroke="#333"/>' % (x_tree, y, cw[1], h, color(pa)))
            for i, (t, big) in enumerate(lines):
                fill = {1: "#d95f02", 2: "#b2182b", "rv": "#1a1aff"}.get(big, "#000")
                weight = "bold" if big else "normal"
                out.append('<text x="%d" y="%d" font-size="11" fill="%s" font-weight="%s" '
                           'xml:space="preserve">%s</text>' % (x_tree + 4, y + 14 + i * lh, fill,
                                                               weight, escape(t)))
            for i, c in enumerate(cpus):
                x = x_loc + i * (cw[2] + 10)
                loc = d.locs.get(c)
                if not loc:
                    continue
                ent = loc["r"].get(slot)
                was = dumps.get((0, d.sel)) if tag != 0 else None
                new = ent and was and slot not in was.locs.get(c, {"r": {}})["r"]
                if ent:
                    same = "= master" if ent == top[slot] else "DIFFERS from master"
                    same += " (new)" if new else ""
                    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="%s" '
                               'stroke="#333" stroke-width="%d"/>'
                               % (x, y, cw[2], lh + 4, color(ent[1]), 3 if new else 1))
                    txt = "[%d] -> PDPT %x %s" % (slot, ent[1], same)
                else:
                    out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="white" '
                               'stroke="#999" stroke-dasharray="4,3"/>' % (x, y, cw[2], lh + 4))
                    txt = "[%d] not synced (faults, then copied)" % slot
                out.append('<text x="%d" y="%d" font-size="11">%s</text>'
                           % (x + 4, y + 14, escape(txt)))
            y += h + 6
        out.append('<rect x="10" y="%d" width="%d" height="%d" fill="#eee" stroke="#999"/>'
                   % (y, cw[0], lh + 4))
        out.append('<text x="14" y="%d" font-size="11">[511] none: no kernel half</text>'
                   % (y + 14))
        for i, c in enumerate(cpus):
            loc = d.locs.get(c)
            if not loc or not loc["k"]:
                continue
            x = x_loc + i * (cw[2] + 10)
            pdpt, kpd, kdir, local = loc["k"]
            rows = ["[511] -> own PDPT %x" % pdpt,
                    "  [510] kernel PD %x (core %d's)" % (kpd, c),
                    "      [511] core-local PT %x" % local,
                    "  [511] kernel dir %x (this PD's)" % kdir]
            out.append('<rect x="%d" y="%d" width="%d" height="%d" fill="#e7e1ef" '
                       'stroke="#333"/>' % (x, y, cw[2], len(rows) * lh + 6))
            for j, t in enumerate(rows):
                out.append('<text x="%d" y="%d" font-size="11" xml:space="preserve">%s</text>'
                           % (x + 4, y + 14 + j * lh, escape(t)))
        y += 4 * lh + 30
    legend = ["Same colour = same frame: a core's root entry of the master's colour shares the "
              "master's lower levels.",
              "Dashed: not synced on that core yet; thick, (new): synced since the first dump "
              "(the lazy-sync fault). Orange: 2 MiB leaf; red: 1 GiB leaf; blue: the revoked page."]
    for t in legend:
        out.append('<text x="10" y="%d" font-size="11">%s</text>' % (y, escape(t)))
        y += lh
    y += 6
    head = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
            'font-family="monospace"><defs><marker id="arr" markerWidth="8" markerHeight="8" '
            'refX="8" refY="4" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#333"/></marker>'
            '</defs><rect width="100%%" height="100%%" fill="white"/>' % (width, y))
    with open(path, "w") as f:
        f.write(head + "\n" + "\n".join(out) + "\n</svg>\n")


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    dumps, scen = parse(argv[1])
    tap = Tap()
    check(dumps, scen, tap)
    os.makedirs(argv[2], exist_ok=True)
    for tag, name in ((0, "before.svg"), (1, "after.svg")):
        if any(k[0] == tag for k in dumps):
            draw(dumps, scen, tag, os.path.join(argv[2], name))
            print("# inspect: drew %s" % os.path.join(argv[2], name))
    return 1 if tap.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
