/*
 * Virtual memory layout (lecture slide "Virtual Memory Layout").
 *
 * The slide's table, region by region, with the page-table indices of the
 * first byte (PML4 PDPT PD PT). "LAST" is the inclusive end as on the slide;
 * only USER_ADDR is an exclusive end ("End 0x0000_7FFF_FFFF_F000").
 */
#pragma once
#include "asm_const.h"

#define PAGE_SHIFT      12
#define PAGE_SIZE       UL_(0x1000)
#define LARGE_SIZE      UL_(0x200000)                   /* 2 MiB page */

/*                                               PML4 PDPT  PD  PT size     purpose */
#define USER_BASE     UL_(0x0000000000000000) /*    0    0   0   0          User */
#define USER_ADDR     UL_(0x00007FFFFFFFF000) /*  255  511 511 511 ~128 TiB User end (exclusive) */
#define KERNEL_BASE   UL_(0xFFFFFFFF81000000) /*  511  510   8   0          Kernel code+data+heap */
#define KERNEL_LAST   UL_(0xFFFFFFFFBDFDFFFF) /*  511  510 495 479 ~976 MiB */
#define CPU_STACK     UL_(0xFFFFFFFFBFFFD000) /*  511  510 511 509 4 KiB    Stack */
#define CPU_LAPIC     UL_(0xFFFFFFFFBFFFE000) /*  511  510 511 510 4 KiB    LAPIC */
#define CPU_LOCAL     UL_(0xFFFFFFFFBFFFF000) /*  511  510 511 511 4 KiB    Core-local data */
#define PD_IOBMP      UL_(0xFFFFFFFFC0000000) /*  511  511   0   0 8 KiB    I/O bitmap */
#define PD_IOBMP_LAST UL_(0xFFFFFFFFC0001FFF)
#define CPU_TMAP      UL_(0xFFFFFFFFDF000000) /*  511  511 248   0 16 MiB   Temporal mappings */
#define CPU_TMAP_LAST UL_(0xFFFFFFFFDFFFFFFF)
#define PD_CAPS       UL_(0xFFFFFFFFE0000000) /*  511  511 256   0 512 MiB  Capabilities */
#define PT_MASTER_WIN UL_(0xFFFFFE8000000000) /*  509    0   0   0 512 GiB  PD's master table */
#define PT_WINDOW     UL_(0xFFFFFF0000000000) /*  510    0   0   0 512 GiB  Recursive window */
#define PD_CAPS_LAST  UL_(0xFFFFFFFFFFFFFFFF)

#define KERNEL_SIZE     (KERNEL_LAST - KERNEL_BASE + 1)
#define PD_IOBMP_SIZE   (PD_IOBMP_LAST - PD_IOBMP + 1)
#define CPU_TMAP_SIZE   (CPU_TMAP_LAST - CPU_TMAP + 1)
#define PD_CAPS_SIZE    (PD_CAPS_LAST - PD_CAPS + 1)

/*
 * Additions the slide does not show (each one says what and why):
 *
 * KERNEL_LOAD      Physical load address of the kernel image (2 MiB aligned,
 *                  so the image starts a 2 MiB page of the linear map).
 * KERNEL_LINEAR_END  The kernel region *is* the linear map of the kernel pool:
 *                  virt = KERNEL_BASE + (phys - KERNEL_LOAD), so every
 *                  page-table frame is reachable by arithmetic (the lecture's
 *                  software page-table walk). It is mapped with 2 MiB pages,
 *                  so it ends at the last 2 MiB boundary inside the region;
 *                  the remaining 1.875 MiB up to KERNEL_LAST hold KERNEL_MMIO.
 * KERNEL_MMIO ..   Device registers the kernel drives (PCI configuration space,
 *   KERNEL_MMIO_END  the IOMMU's registers), uncached, handed out by kmem_map_mmio
 *                  at boot; one page table of the master kernel PD, shared by every
 *                  core, so a mapping added later is seen by all of them.
 * CPU_GLOBAL       Global alias of every core's data page: core c's page is
 *                  also at CPU_GLOBAL + c * 4 KiB on all cores, so a core can
 *                  read another core's state (IPI counters, the current PD for
 *                  TLB shootdown). Lies in the gap between the kernel
 *                  region and the stack page; NUM_CPU pages, one PT.
 * TRAMPOLINE_LO .. TRAMPOLINE_LIMIT  Where the AP real-mode start-up code may
 *                  go (smp_install_trampoline picks a free page holding no
 *                  loader data): a STARTUP IPI names a page below 1 MiB, vectors
 *                  0xA0..0xBF are reserved, and page 0 holds the real-mode IVT.
 * LOW_RESERVED     Low memory the kernel never hands out (BIOS data, trampoline).
 * CPU_STACK_GUARD  Unmapped page below the core's 4 KiB stack, so an overflow
 *                  faults (and becomes a double fault on the IST stack)
 *                  instead of silently corrupting memory.
 * CPU_IST          The core's interrupt stacks (TSS IST slots 1..CPU_IST_SLOTS),
 *                  4 KiB each, every one above an unmapped guard page of its
 *                  own: slot s's guard at CPU_IST_GUARD(s), its top at
 *                  CPU_IST_TOP(s). An overflow of one faults (the #DF stack's
 *                  own overflow is a triple fault) instead of writing into a
 *                  neighbouring frame.
 * PML4_KERNEL ..   The table slots of the kernel half that every root shares:
 *   PDPT_KDIR      PML4 511 -> a PDPT per root whose entry 510 is the core's
 *                  kernel PD and whose entry 511 is the PD's kernel directory.
 * PT_WINDOW ..     Only with the lab switch PTACCESS=recursive (docs/lab.md,
 *   PT_MASTER_WIN  switch 1): in every per-core root of a PD, PML4 510 points to
 *                  the root itself (the recursive slot) and PML4 509 to the PD's
 *                  master table, both supervisor-only and no-execute. The CPU's
 *                  walker then shows the loaded root's tables in PT_WINDOW and,
 *                  through the recursive slot taken l times before slot 509, the
 *                  master's level-l tables (kernel/space_mem.c: master_window).
 *                  The default build leaves both slots empty.
 */
#define KERNEL_LOAD         UL_(0x200000)               /* physical */
#define TRAMPOLINE_LO       UL_(0x1000)                 /* physical: lowest AP start-up page */
#define TRAMPOLINE_LIMIT    UL_(0xA0000)                /* physical: AP start-up page below this */
#define LOW_RESERVED        UL_(0x100000)               /* physical: first 1 MiB, never allocated */
#define KERNEL_VOFFSET      (KERNEL_BASE - KERNEL_LOAD) /* virt - phys for the pool */
#define KERNEL_LINEAR_END   UL_(0xFFFFFFFFBDE00000)     /* 511 510 495 0, exclusive */
#define POOL_SIZE           (KERNEL_LINEAR_END - KERNEL_BASE)
#define KERNEL_MMIO         KERNEL_LINEAR_END           /* 511 510 495 0 */
#define KERNEL_MMIO_END     (KERNEL_LAST + 1)           /* 511 510 495 480, exclusive */
#define POOL_END_PHYS       (KERNEL_LOAD + POOL_SIZE)   /* exclusive */
#define CPU_GLOBAL          UL_(0xFFFFFFFFBE000000)     /* 511 510 496 0 */
#define CPU_STACK_GUARD     (CPU_STACK - PAGE_SIZE)     /* 511 510 511 508 */
#define CPU_STACK_TOP       (CPU_STACK + PAGE_SIZE)
#define CPU_PRIVATE_PD_BASE UL_(0xFFFFFFFFBFE00000)     /* 511 510 511 0: 2 MiB with a private PT */
#define CPU_IST_SLOTS       4                           /* IST stacks per core */
#define CPU_IST             (CPU_STACK_GUARD - 2 * CPU_IST_SLOTS * PAGE_SIZE) /* 511 510 511 500 */
#define CPU_IST_GUARD(s)    (CPU_IST + (2 * ((s) - 1)) * PAGE_SIZE) /* slot s = 1..CPU_IST_SLOTS */
#define CPU_IST_TOP(s)      (CPU_IST_GUARD(s) + 2 * PAGE_SIZE)
/* Lab switch PTSYNC=shared (docs/lab.md, switch 3): one root per PD on every core, so no slot
 * can differ between cores. Each core's stacks then lie in a 64 KiB area of its own that every
 * root maps (the layout of CPU_IST .. CPU_STACK: guard, IST 1, ..., guard, IST 4, guard, stack),
 * and every core's TSS in one array less than 64 KiB below PD_IOBMP (the TSS's 16-bit
 * iomap_base must reach the running PD's bitmap from each of them). */
#define CPU_AREA_BASE       UL_(0xFFFFFFFFBE200000)     /* 511 510 497 0 */
#define CPU_AREA_SIZE       UL_(0x10000)                /* per core, aligned: rsp finds it */
#define CPU_AREA(c)         (CPU_AREA_BASE + (vaddr_t)(c) * CPU_AREA_SIZE)
#define CPU_AREA_IST_TOP(c, s) (CPU_AREA(c) + 2 * (s) * PAGE_SIZE)     /* s = 1..CPU_IST_SLOTS */
#define CPU_AREA_STACK_OFF  ((2 * CPU_IST_SLOTS + 1) * PAGE_SIZE)      /* above its guard */
#define CPU_AREA_STACK_TOP(c) (CPU_AREA(c) + CPU_AREA_STACK_OFF + PAGE_SIZE)
#define CPU_TSS             (PD_IOBMP - 12 * PAGE_SIZE) /* 511 510 511 500: core c's at c * 128 */
#define CPU_TSS_STRIDE      128
#define CPU_TSS_PAGES       ((NUM_CPU * CPU_TSS_STRIDE + PAGE_SIZE - 1) / PAGE_SIZE)
#ifdef PTSYNC_shared
#define CORE_STACK_TOP(c)   CPU_AREA_STACK_TOP(c)
#define CORE_IST_TOP(c, s)  CPU_AREA_IST_TOP(c, s)
#else
#define CORE_STACK_TOP(c)   CPU_STACK_TOP               /* core-local: one address for all */
#define CORE_IST_TOP(c, s)  CPU_IST_TOP(s)
#endif
#define HPT_LEVELS          4                   /* 4-level paging (no LA57) */
#define PML4_USER_SLOTS     256                 /* PML4 entries of the user half */
#define PML4_KERNEL         511                 /* PML4 entry of KERNEL_BASE .. PD_CAPS_LAST */
#define PDPT_KERNEL         510                 /* its PDPT entry of the kernel region */
#define PDPT_KDIR            511                /* its PDPT entry of the per-PD kdir (PD_IOBMP) */
#define PML4_RECURSIVE      510                 /* PTACCESS=recursive: root -> itself */
#define PML4_MASTER         509                 /* PTACCESS=recursive: root -> PD's master */

#ifndef NUM_CPU
#define NUM_CPU 64
#endif

#ifndef __ASSEMBLER__
#include "ptab.h"
/* Index of va at paging level l (0 = PT ... 3 = PML4): checks the comment column. */
#define LAYOUT_IDX(va, l)   (((va) >> PTAB_LEVEL_SHIFT(l)) & (PTAB_ENTRIES - 1))
#define LAYOUT_AT(va, a, b, c, d) \
    (LAYOUT_IDX(va, 3) == (a) && LAYOUT_IDX(va, 2) == (b) && LAYOUT_IDX(va, 1) == (c) && \
     LAYOUT_IDX(va, 0) == (d))
_Static_assert(LAYOUT_AT(USER_ADDR, 255, 511, 511, 511) && LAYOUT_AT(KERNEL_BASE, 511, 510, 8, 0) &&
               LAYOUT_AT(KERNEL_LAST, 511, 510, 495, 479) &&
               LAYOUT_AT(CPU_STACK, 511, 510, 511, 509) &&
               LAYOUT_AT(CPU_LAPIC, 511, 510, 511, 510) &&
               LAYOUT_AT(CPU_LOCAL, 511, 510, 511, 511) &&
               LAYOUT_AT(PD_IOBMP, 511, 511, 0, 0) && LAYOUT_AT(CPU_TMAP, 511, 511, 248, 0) &&
               LAYOUT_AT(PD_CAPS, 511, 511, 256, 0) && LAYOUT_AT(CPU_GLOBAL, 511, 510, 496, 0) &&
               LAYOUT_AT(KERNEL_LINEAR_END, 511, 510, 495, 0) &&
               LAYOUT_AT(CPU_STACK_GUARD, 511, 510, 511, 508) &&
               LAYOUT_AT(PT_MASTER_WIN, 509, 0, 0, 0) && LAYOUT_AT(PT_WINDOW, 510, 0, 0, 0),
               "the index columns of the table are right");

_Static_assert(LAYOUT_IDX(KERNEL_BASE, 3) == PML4_KERNEL &&
                   LAYOUT_IDX(KERNEL_BASE, 2) == PDPT_KERNEL &&
                   LAYOUT_IDX(PD_IOBMP, 3) == PML4_KERNEL && LAYOUT_IDX(PD_IOBMP, 2) == PDPT_KDIR &&
                   LAYOUT_IDX(USER_ADDR - 1, 3) == PML4_USER_SLOTS - 1 &&
                   LAYOUT_IDX(PT_WINDOW, 3) == PML4_RECURSIVE &&
                   LAYOUT_IDX(PT_MASTER_WIN, 3) == PML4_MASTER &&
                   PML4_MASTER >= PML4_USER_SLOTS,
               "the kernel half's shared slots are the ones the layout uses");
_Static_assert(PAGE_SHIFT == PTAB_PAGE_BITS && PAGE_SIZE == PTAB_PAGE_SIZE &&
               LARGE_SIZE == PTAB_LEVEL_SIZE(1),
               "the layout's pages are the engine's level-0 and level-1 entries");

/* The table as the slide states it. */
_Static_assert(USER_ADDR == 0x00007FFFFFFFF000UL, "user end");
_Static_assert(KERNEL_BASE == 0xFFFFFFFF81000000UL && KERNEL_LAST == 0xFFFFFFFFBDFDFFFFUL,
               "kernel");
_Static_assert(CPU_STACK == 0xFFFFFFFFBFFFD000UL && CPU_LAPIC == CPU_STACK + PAGE_SIZE &&
               CPU_LOCAL == CPU_LAPIC + PAGE_SIZE &&
               CPU_LOCAL + PAGE_SIZE - 1 == 0xFFFFFFFFBFFFFFFFUL,
               "stack, LAPIC and core-local data are consecutive 4 KiB pages");
_Static_assert(PD_IOBMP_SIZE == 8192, "I/O bitmap is 8 KiB");
_Static_assert(CPU_TMAP_SIZE == 16UL << 20, "temporal mappings are 16 MiB");
_Static_assert(PD_CAPS_SIZE == 512UL << 20, "capabilities are 512 MiB");
/* Alignment and order: no region overlaps the next. */
_Static_assert(KERNEL_BASE % LARGE_SIZE == 0 && KERNEL_LOAD % LARGE_SIZE == 0,
               "2 MiB aligned kernel");
_Static_assert(KERNEL_LINEAR_END % LARGE_SIZE == 0 && KERNEL_LINEAR_END - 1 <= KERNEL_LAST,
               "linear map inside kernel region");
_Static_assert(KERNEL_LAST < CPU_GLOBAL, "global alias above kernel region");
_Static_assert(CPU_GLOBAL + NUM_CPU * PAGE_SIZE <= CPU_STACK_GUARD && NUM_CPU <= 512,
               "global alias fits one PT below the guard");
_Static_assert(CPU_GLOBAL / LARGE_SIZE != CPU_STACK / LARGE_SIZE,
               "global alias and core-local slot use different PD entries");
_Static_assert(CPU_PRIVATE_PD_BASE == (CPU_STACK & ~(LARGE_SIZE - 1)),
               "core-local slot is PD entry 511");
_Static_assert(LAYOUT_AT(CPU_IST, 511, 510, 511, 500) &&
                   CPU_IST_TOP(CPU_IST_SLOTS) == CPU_STACK_GUARD,
               "IST stacks with their guards fill the private PT just below the stack guard");
_Static_assert(CPU_LOCAL + PAGE_SIZE == PD_IOBMP, "I/O bitmap follows core-local data");
#ifdef PTSYNC_shared
_Static_assert(CPU_AREA_BASE >= CPU_GLOBAL + LARGE_SIZE && CPU_AREA_BASE % CPU_AREA_SIZE == 0 &&
                   CPU_AREA(NUM_CPU) <= CPU_PRIVATE_PD_BASE &&
                   CPU_AREA_STACK_OFF + PAGE_SIZE <= CPU_AREA_SIZE,
               "PTSYNC=shared: the stack areas lie between the global alias and the private PD");
_Static_assert(CPU_TSS >= CPU_PRIVATE_PD_BASE && CPU_TSS + CPU_TSS_PAGES * PAGE_SIZE <= CPU_LAPIC &&
                   NUM_CPU * CPU_TSS_STRIDE <= CPU_TSS_PAGES * PAGE_SIZE &&
                   PD_IOBMP - CPU_TSS <= 0xFFFF,
               "PTSYNC=shared: every TSS reaches PD_IOBMP with a 16-bit iomap_base");
#endif
_Static_assert(PD_IOBMP_LAST < CPU_TMAP && CPU_TMAP_LAST + 1 == PD_CAPS,
               "temporal mappings, then capabilities");
_Static_assert(PD_IOBMP % (1UL << 30) == 0, "per-PD slot is PDPT entry 511");
#endif
