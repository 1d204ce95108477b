#!/usr/bin/env python3
"""Count the definitions of the hardware constants that issue 14 names (and alike), per constant.

Usage: scripts/hw_constant_defs.py [ROOT]   (default .)
Searches kernel/, arch/, include/, user/, lib/, tests/host/ for each constant's definitions (a
#define, a typedef, a function that encodes it, or a raw literal standing for it) and prints how many
there are; a constant is fine when it has exactly one.
"""
import os
import re
import sys

DIRS = ("kernel", "arch", "include", "user", "lib", "tests/host")
D = r"^\s*#\s*define\s+"
CONSTANTS = {
    "PTE present":           D + r"(PTE|HPT)_P\b",
    "PTE writable":          D + r"(PTE_W|HPT_RW)\b",
    "PTE user":              D + r"(PTE_U|HPT_US)\b",
    "PTE PWT":               D + r"(PTE|HPT)_PWT\b",
    "PTE PCD":               D + r"(PTE|HPT)_PCD\b",
    "PTE accessed":          D + r"(PTE|HPT)_A\b",
    "PTE dirty":             D + r"(PTE|HPT)_D\b",
    "PTE page size":         D + r"(PTE|HPT)_PS\b",
    "PTE global":            D + r"(PTE|HPT)_G\b",
    "PTE PAT (4K)":          D + r"(PTE|HPT)_PAT_4K\b",
    "PTE PAT (large)":       D + r"(PTE|HPT)_PAT_BIG\b",
    "PTE no-execute":        D + r"(PTE|HPT)_NX\b",
    "PTE frame field":       D + r"(PTE|HPT)_ADDR\b",
    "pte_t":                 r"typedef\s+uint64_t\s+pte_t\b",
    "#PF P":                 D + r"(PF|KPD_ERR|PFERR)_P\b",
    "#PF W":                 D + r"(KPD_ERR|PFERR)_W\b|" + D + r"PF_W\s+\(1u << 1\)\s+/\* write access",
    "#PF U":                 D + r"(PF|KPD_ERR|PFERR)_U\b",
    "#PF RSVD":              D + r"(PF|PFERR)_RSVD\b",
    "#PF I":                 D + r"(PF|KPD_ERR|PFERR)_I\b",
    "ELF PF_W named like #PF W": D + r"PF_W\s+\(1u << 1\)\s+/\* write \*/",
    "table-entry bits":      r"return HPT_P \| HPT_RW \| HPT_US \| HPT_A;|" + D + r"(ATTR_TABLE|KPD_TABLE|KPD_ENTRY|PTE_TABLE)\b",
    "PML4 slot 511":         D + r"(PML4_KERNEL|ROOT_KERNEL_SLOT|PML4_PER_PD)\b|boot_pml4\) \+ 511 \* 8",
    "PDPT slot 510":         D + r"PDPT_KERNEL\b|\+ 510 \* 8",
    "PDPT slot 511 (kpd)":   D + r"(KPD_SLOT|PDPT_KPD_SLOT|PDPT_KPD|PDPT_KDIR)\b",
    "user-half PML4 slots":  D + r"(KERNEL_HALF|ROOT_USER|PML4_USER_SLOTS)\s+256\b",
    "paging levels":         D + r"(HPT_LEVELS|HPT_TOP)\b",
    "CS RPL mask":           D + r"CS_RPL_MASK\b|cs & 3\b",
    "rights of permissions": r"^(static )?unsigned (rights_of|space_mem_rights)\(unsigned perm\)$|\(m\.attr\.perm & PTAB_XU\) \? MEM_X",
    "entries per table":     D + r"(PT_ENTRIES|PTAB_ENTRIES)\b",
    "index of va at level":  r"static inline unsigned (pt_index|ptab_index)\(|" + D + r"LEVEL_INDEX\(va, l\) \(\(|" + D + r"LAYOUT_IDX\(va, l\)\s+\(\(\(va\) >> \(12",
    "1 GiB page CPUID bit":  D + r"CPUID_EXT_EDX_1G\b",
    "CR3 frame field":       D + r"CR3_ADDR\b|cr3\(\) & PTE_ADDR|old & ~PTE_ADDR",
    "COM1 I/O base":         D + r"COM1\s",
    "UART LSR offset":       D + r"(UART_LSR\s|COM1_LSR\s+\(COM1 \+ 5\))",
    "UART LSR.THRE":         D + r"LSR_THRE\b",
    "#DB vector":            D + r"VEC_DB\b",
    "#UD vector":            D + r"VEC_UD\b",
    "#GP vector":            D + r"VEC_GP\b",
    "#PF vector":            D + r"VEC_PF\b|vector == 14\b",
}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    text = []
    for d in DIRS:
        for dirpath, _, files in os.walk(os.path.join(root, d)):
            for fn in files:
                if fn.endswith((".c", ".h", ".S")):
                    with open(os.path.join(dirpath, fn), errors="replace") as f:
                        text += f.read().split("\n")
    total = dup = 0
    for name, rx in CONSTANTS.items():
        n = sum(1 for line in text if re.search(rx, line))
        total += n
        dup += n > 1
        print(f"{n:3d}  {name}")
    print(f"{total:3d}  definitions of {len(CONSTANTS)} constants; {dup} defined more than once")


if __name__ == "__main__":
    main()
