/*
 * Temporal mappings (layout.h: CPU_TMAP, 16 MiB): a per-core window through which the
 * kernel reaches any physical frame, so page tables can live in RAM outside the linear
 * map (NOVA's Pd::kern.remap). The region is PD entries 248..255 of the kernel directory
 * behind PML4 511 / PDPT 511: eight page tables, shared by every PD's kdir and by the
 * cores' own roots, each core writing only its own pages of them.
 *
 * Core c owns TMAP_CPU_PAGES pages, in TMAP_DEPTHS sets of TMAP_SET slots: set d serves
 * nesting depth d (a kernel-mode page fault taken while the window is in use runs one set
 * higher), slot s of a set one of the page-table engine's simultaneous pointers (the
 * table's level, PTAB_SLOT_LINK) or TMAP_SLOT_FRESH (a frame being zeroed or poisoned by
 * the allocator). Mapping a slot to a new frame writes its entry and INVLPGs the page on
 * this core; the entries are global, so the INVLPG removes the old translation whatever
 * PCID it was cached under. Another core never touches this core's pages, so it holds no
 * translation of them that it could use (only speculative ones).
 */
#pragma once
#include "layout.h"
#include "ptab.h"
#include "types.h"

#define TMAP_PAGES      (CPU_TMAP_SIZE / PAGE_SIZE)     /* 4096 window pages */
#define TMAP_PTS        (TMAP_PAGES / PTAB_ENTRIES)     /* its page tables */
#define TMAP_CPU_PAGES  (TMAP_PAGES / NUM_CPU)          /* pages of one core */
#define TMAP_SLOT_FRESH PTAB_SLOTS                      /* the allocator's slot */
#define TMAP_SET        8                               /* slots per nesting depth */
#define TMAP_DEPTHS     (TMAP_CPU_PAGES / TMAP_SET)     /* nesting depths per core */
_Static_assert(TMAP_SLOT_FRESH < TMAP_SET, "a set holds the engine's slots and the allocator's");
_Static_assert(TMAP_DEPTHS >= 2, "every core has a set for a nested page fault");

void tmap_init(void);
void tmap_fill_dir(paddr_t dir);
paddr_t tmap_dir(void);
void *tmap_map(paddr_t pa, unsigned slot);
unsigned tmap_enter(void);
void tmap_leave(unsigned depth);
