#!/usr/bin/env python3
"""The include graph of the kernel's layers (docs/ARCHITECTURE.md, "Layers"); TAP lines.

Every file of include/, lib/, kernel/ and arch/x86_64/ belongs to one layer:
  base    constants and types every layer may use
  pure    generic logic and interfaces without kernel state (host-tested); generic interfaces
          the architecture implements (tlb.h)
  arch    everything that touches x86 hardware
  kernel  generic kernel logic: protection domains, execution contexts, spaces, system calls
A file includes only headers of its own layer or below it (base, pure < arch < kernel), with
two fixed doors: generic kernel code reaches arch/ only through ARCH_HOOKS, and arch/ reaches
the kernel only from ENTRY_POINTS, each with the kernel headers it names. Generic kernel code
runs no instruction itself (no inline asm, none of cpu.h's RAW_X86 helpers). The module graph
(a .c file and its header are one module) has no cycle that crosses layers, and no header
includes itself through others.

usage: scripts/layers.py [repository root]   (exit status 0 unless a check fails)
"""
import glob
import os
import re
import sys

# Constants, types and the system-call ABI's records (no functions).
BASE = {"include/types.h", "include/compiler.h", "include/abi.h", "include/syscall.h",
        "arch/x86_64/include/asm_const.h", "arch/x86_64/include/layout.h",
        "arch/x86_64/include/paging.h", "arch/x86_64/include/multiboot.h"}

# Generic headers of kernel state (every other header of include/ is pure), and the sources of
# kernel/ without it (every other one is kernel): host-tested logic and the kernel's utilities.
KERNEL_HEADERS = {"ec", "vcpu", "kcov", "pd", "quarantine", "root", "sched", "space_mem", "uaccess"}
PURE_SOURCES = {"acpi", "bootmem", "cmdline", "elf", "format", "frame", "kmalloc", "mdb",
                "panic", "pcid", "printk", "ptab", "quota", "ptab_dpt", "ptab_ept", "ptab_hpt",
                "selftest", "kdir", "space_obj", "space_pio", "string", "sysarg"}

# The arch header generic kernel code may include (besides the base constants).
ARCH_HOOKS = {"arch.h", "virt.h"}

# cpu.h's instruction helpers that generic kernel code leaves to the arch hooks (arch.h).
RAW_X86 = {"cpuid", "rdmsr", "wrmsr", "invlpg", "outb", "outw", "inb", "rdtsc", "xgetbv",
           "xsetbv", "clear_dr6", "read_rflags", "read_cr0", "read_cr2", "read_cr3", "read_cr4",
           "write_cr0", "write_cr2", "write_cr3", "write_cr4"}
RAW = re.compile(r"\b(__asm__|asm|" + "|".join(sorted(RAW_X86)) + r")\s*(__volatile__\s*)?\(")

# Arch files the hardware enters the kernel through, and the kernel headers each may include.
ENTRY_POINTS = {
    "arch/x86_64/fault.c": {"ec.h", "pd.h", "sched.h"},    # page faults: Space_mem sync, pio, obj
    "arch/x86_64/trap.c": {"sched.h"},                      # interrupts and exceptions
    "arch/x86_64/smp.c": {"sched.h"},                       # a started core enters its scheduler
    "arch/x86_64/tlb.c": {"pd.h"},                          # shootdown: the PD's cores and marks
}

RANK = {"base": 0, "pure": 0, "arch": 1, "kernel": 2}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def layer(path):
    """The layer of a file of the tree."""
    stem = os.path.splitext(os.path.basename(path))[0]
    if path in BASE:
        return "base"
    if path.startswith("arch/"):
        return "arch"
    if path.startswith("lib/"):
        return "pure"
    if path.startswith("include/"):
        return "kernel" if stem in KERNEL_HEADERS else "pure"
    return "pure" if stem in PURE_SOURCES else "kernel"


def resolve(src, name):
    """The file #include "name" in src reads (its directory, include/, arch/x86_64/include/)."""
    for d in (os.path.dirname(src), "include", "arch/x86_64/include"):
        p = os.path.normpath(os.path.join(d, name))
        if os.path.isfile(p):
            return p
    return None


def includes(files):
    """{file: [included file, ...]} for the quoted includes that resolve inside the tree."""
    graph = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            names = [m.group(1) for m in map(INCLUDE.match, fh) if m]
        graph[f] = [p for p in (resolve(f, n) for n in names) if p]
    return graph


def violations(graph):
    """Lines naming every include that goes against the layers."""
    bad = []
    for src, targets in sorted(graph.items()):
        ls = layer(src)
        for dst in targets:
            ld, name = layer(dst), os.path.basename(dst)
            if ld == "base" or ld == ls and not (ls == "kernel" and dst.startswith("arch/")):
                continue
            if ls == "kernel" and ld == "arch":
                if name not in ARCH_HOOKS:
                    bad.append(f"{src} includes {dst}: not an arch hook header (ARCH_HOOKS)")
                continue
            if ls == "arch" and ld == "kernel":
                if name not in ENTRY_POINTS.get(src, ()):
                    bad.append(f"{src} includes {dst}: arch reaches the kernel only from an "
                               "entry point (ENTRY_POINTS)")
                continue
            if RANK[ld] > RANK[ls]:
                bad.append(f"{src} ({ls}) includes {dst} ({ld}): a layer above it")
    return bad


def raw_x86(texts):
    """Lines naming every instruction that generic kernel code runs itself."""
    bad = []
    for f, text in sorted(texts.items()):
        if layer(f) != "kernel" or f.startswith("arch/"):
            continue
        for n, line in enumerate(text.split("\n"), 1):
            m = RAW.search(line.split("//")[0])
            if m:
                bad.append(f"{f}:{n}: {m.group(1)}: an instruction outside the arch hooks")
    return bad


def sccs(nodes, edges):
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in sorted(nodes):
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            w = next(it, None)
            if w is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        x = stack.pop()
                        on.discard(x)
                        comp.append(x)
                        if x == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
            elif w not in index:
                index[w] = low[w] = counter[0]
                counter[0] += 1
                stack.append(w)
                on.add(w)
                work.append((w, iter(sorted(edges.get(w, ())))))
            elif w in on:
                low[v] = min(low[v], index[w])
    return out


def module_cycles(graph):
    """Cycles of modules that cross layers, the entry points' kernel includes left out.

    A module is a source file with the headers of the same name on its side of the tree (generic:
    include/, kernel/, lib/; arch: arch/x86_64/), in the layer of its source: who includes the
    header calls the source. A base header is a module alone, and so is a generic header that
    arch/ implements (tlb.h): an interface the generic code calls the architecture through.
    """
    def side(p):
        return "arch" if p.startswith("arch/") else "generic"

    impl = {}
    for f in graph:
        if not f.endswith(".h"):
            impl.setdefault((side(f), os.path.splitext(os.path.basename(f))[0]), layer(f))

    def mod(p):
        stem = os.path.splitext(os.path.basename(p))[0]
        if p in BASE:
            return "base:" + stem
        return impl.get((side(p), stem), layer(p)) + ":" + stem
    edges = {}
    for src, targets in graph.items():
        for dst in targets:
            if os.path.basename(dst) in ENTRY_POINTS.get(src, ()):
                continue
            if mod(src) != mod(dst):
                edges.setdefault(mod(src), set()).add(mod(dst))
    nodes = {mod(f) for f in graph}
    return [c for c in sccs(nodes, edges) if len({m.split(":")[0] for m in c}) > 1]


def header_cycles(graph):
    """Headers that include themselves through other headers."""
    hdrs = {f for f in graph if f.endswith(".h")}
    edges = {h: {d for d in graph[h] if d in hdrs} for h in hdrs}
    return sccs(hdrs, edges)


def checks(graph, files, texts):
    """[(passed, name, detail lines)] of every check on the graph and the generic sources."""
    bad = violations(graph)
    raw = raw_x86(texts)
    cycles = module_cycles(graph)
    loops = header_cycles(graph)
    missing = sorted(set(ENTRY_POINTS) - set(files))
    return [(not bad, "every include goes down a layer or through a door", bad),
            (not cycles, "no module cycle crosses layers",
             ["modules in one cycle: " + ", ".join(c) for c in cycles]),
            (not loops, "no header includes itself",
             ["headers in one cycle: " + ", ".join(c) for c in loops]),
            (not missing, "every entry point named exists", missing),
            (not raw, "generic kernel code runs no instruction itself", raw)]


# Attacks on the checker itself: an include added to the tree's graph that must make a check
# fail that passes on the tree.
ATTACKS = [
    ("an arch header includes a kernel header", "arch/x86_64/include/cpu.h", "include/pd.h"),
    ("an arch source that is no entry point includes a kernel header", "arch/x86_64/lapic.c",
     "include/ec.h"),
    ("pure logic includes an arch header", "kernel/frame.c", "arch/x86_64/include/kmem.h"),
    ("kernel code includes an arch header that is no hook", "kernel/pd.c",
     "arch/x86_64/include/longmode.h"),
    ("two headers include each other", "include/panic.h", "include/printk.h"),
    ("kernel code includes a second arch header", "kernel/space_mem.c",
     "arch/x86_64/include/cpu.h"),
]

# Attacks on the instruction check: a line added to a generic kernel source.
RAW_ATTACKS = [
    ("kernel code writes CR3 itself", "kernel/space_mem.c", "    write_cr3(root);"),
    ("kernel code runs inline asm", "kernel/sched.c", '    __asm__ __volatile__("hlt");'),
]


def main():
    os.chdir(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), ".."))
    files = sorted(glob.glob("include/*.h") + glob.glob("lib/*.c") + glob.glob("kernel/*.c") +
                   glob.glob("arch/x86_64/*.[cS]") + glob.glob("arch/x86_64/include/*.h"))
    graph = includes(files)
    texts = {}
    for f in files:
        with open(f, encoding="utf-8") as fh:
            texts[f] = fh.read()
    failed = 0
    results = checks(graph, files, texts)
    for ok, name, details in results:
        print(("ok - " if ok else "not ok - ") + "layers: " + name)
        for d in details:
            print("# " + d)
        failed += not ok
    for name, src, dst in ATTACKS:
        attacked = {f: list(t) for f, t in graph.items()}
        attacked.setdefault(src, []).append(dst)
        if dst == "include/printk.h":
            attacked.setdefault(dst, []).append(src)
        caught = any(before and not after for (before, _, _), (after, _, _)
                     in zip(results, checks(attacked, files, texts)))   # a passing check fails
        print(("ok - " if caught else "not ok - ") + "layers: refused when " + name)
        failed += not caught
    for name, src, line in RAW_ATTACKS:
        attacked = dict(texts)
        attacked[src] = texts[src] + "\n" + line + "\n"
        caught = any(before and not after for (before, _, _), (after, _, _)
                     in zip(results, checks(graph, files, attacked)))
        print(("ok - " if caught else "not ok - ") + "layers: refused when " + name)
        failed += not caught
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
