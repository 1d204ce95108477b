/* x86-64 4-level paging: entry bits (lecture slide "PDEs and PTEs") and index helpers. */
#pragma once
#include "asm_const.h"

/*      name        bit                     meaning */
#define PTE_P       UL_(0x001)          /*  0  present */
#define PTE_W       UL_(0x002)          /*  1  writable */
#define PTE_U       UL_(0x004)          /*  2  user accessible */
#define PTE_PWT     UL_(0x008)          /*  3  page write-through */
#define PTE_PCD     UL_(0x010)          /*  4  page cache disable */
#define PTE_A       UL_(0x020)          /*  5  accessed */
#define PTE_D       UL_(0x040)          /*  6  dirty (leaves only) */
#define PTE_PS      UL_(0x080)          /*  7  page size: 2 MiB (PDE) / 1 GiB (PDPTE) leaf */
#define PTE_G       UL_(0x100)          /*  8  global (leaves only, needs CR4.PGE) */
#define PTE_NX      UL_(0x8000000000000000) /* 63  execute disable (needs EFER.NXE) */
#define PTE_ADDR    UL_(0x000FFFFFFFFFF000) /* 51:12 frame / next-table address */
#define PTE_LADDR   UL_(0x000FFFFFFFE00000) /* 51:21 2 MiB page address */

#define PT_ENTRIES  512
#define PT_BITS     9
#define PT_SHIFT(l) (12 + PT_BITS * (l))   /* level 0 = PT, 1 = PD, 2 = PDPT, 3 = PML4 */

#ifndef __ASSEMBLER__
#include "types.h"
typedef uint64_t pte_t;

/* Index of va in the table of level l (0 = PT ... 3 = PML4). */
static inline unsigned pt_index(vaddr_t va, unsigned l)
{
    return (va >> PT_SHIFT(l)) & (PT_ENTRIES - 1);
}
#endif
