/*
 * x86-64 paging (lecture slide "PDEs and PTEs"; Intel SDM Vol. 3, 4.5 and 4.7): the bits
 * of a page-table entry and of the page-fault error code, one definition each, shared by
 * C and assembly. The Hpt format descriptor (kernel/ptab_hpt.c) encodes entries from these;
 * elsewhere entries are built and read through the engine's accessors (include/ptab.h).
 */
#pragma once
#include "asm_const.h"

/*      name        bit                         meaning */
#define PTE_P       UL_(0x001)              /*  0  present */
#define PTE_W       UL_(0x002)              /*  1  writable */
#define PTE_U       UL_(0x004)              /*  2  user accessible */
#define PTE_PWT     UL_(0x008)              /*  3  page write-through (PAT index bit 0) */
#define PTE_PCD     UL_(0x010)              /*  4  page cache disable (PAT index bit 1) */
#define PTE_A       UL_(0x020)              /*  5  accessed (preset: the walker need not set it) */
#define PTE_D       UL_(0x040)              /*  6  dirty (leaves only) */
#define PTE_PS      UL_(0x080)              /*  7  page size: 2 MiB (PDE) / 1 GiB (PDPTE) leaf */
#define PTE_PAT_4K  UL_(0x080)              /*  7  level 0: PAT index bit 2 */
#define PTE_G       UL_(0x100)              /*  8  global (leaves only, needs CR4.PGE) */
#define PTE_PAT_BIG UL_(0x1000)             /* 12  2 MiB / 1 GiB leaf: PAT index bit 2 */
#define PTE_NX      UL_(0x8000000000000000) /* 63  execute disable (needs EFER.NXE) */
#define PTE_ADDR    UL_(0x000FFFFFFFFFF000) /* 51:12 frame / next-table address */

/* An entry pointing to a kernel table: the leaves decide the rights (user tables add PTE_U). */
#define PTE_TABLE   (PTE_P | PTE_W | PTE_A)

/*      #PF error code  bit                 meaning */
#define PFERR_P     UL_(0x01)               /*  0  page was present (protection violation) */
#define PFERR_W     UL_(0x02)               /*  1  write access */
#define PFERR_U     UL_(0x04)               /*  2  user-mode access */
#define PFERR_RSVD  UL_(0x08)               /*  3  reserved bit set in an entry: never resolvable */
#define PFERR_I     UL_(0x10)               /*  4  instruction fetch */
