/*
 * The per-PD kernel directory ("kdir"): the page directory behind PML4 511 / PDPT 511,
 * 1 GiB from PD_IOBMP, shared by all per-core roots of one PD. Space_pio keeps its
 * I/O bitmap there (PD entry 0), Space_obj its capability table (PD entries 256..511).
 * Each space owns one region of it (struct kdir_region) and populates it on demand:
 *
 *   unpopulated  -> reads fault; the fault handler maps a SHARED read-only page
 *                   (zeros for capabilities, ones for the I/O bitmap) without
 *                   allocating: a missing page table is filled with a shared PT
 *                   whose entries already point to the shared page.
 *   written      -> a PRIVATE page (and a private PT) from a reserve taken before.
 *
 * Why not the generic engine's update (kernel/ptab.c): it would write through the
 * shared PT that many PDs reference. The walk here is two levels (PD -> PT); its
 * entries are built and read with the engine's entry helpers (a kernel Hpt table);
 * translations only ever change hole -> shared -> private (never back) while the PD
 * lives, which is what makes the flush rules simple: a stale TLB entry can only point to the
 * shared page (see space_obj.c, space_pio.c).
 *
 * Pure logic: memory comes through struct ptab_env (host tests use fake memory).
 * Concurrency: writers of one region are serialised by the caller (the mdb lock);
 * the fault path (any core running the PD) only fills holes with CAS.
 */
#pragma once
#include "ptab.h"
#include "layout.h"
#include "paging.h"                 /* PFERR_*: the error codes the fault paths see */

#define KDIR_BASE    PD_IOBMP               /* first byte the per-PD directory maps */
#define KDIR_SPAN    GiB(1)                 /* one PDPT entry */

/* A shared read-only page and a shared PT mapping it at PT indices [first, last]. */
struct kdir_shared {
    paddr_t page;               /* the shared page: every byte is `fill` */
    paddr_t pt;                 /* the shared PT */
};

/* One space's part of a PD's kdir. */
struct kdir_region {
    const struct ptab_env *env;
    const struct kdir_shared *shared;
    paddr_t dir;                /* the PD's kdir (a PD-level table) */
    vaddr_t first, last;        /* the region, inclusive */
    uint8_t fill;               /* initial byte of a private page (the shared page's) */
    bool stale;                 /* a shared translation was replaced since kdir_unreserve */
    size_t pages;               /* private (backing) pages */
    size_t tables;              /* private page tables */
    paddr_t res_head;           /* reserved frames, linked through their first word */
    size_t res_count;
};

int  kdir_shared_init(struct kdir_shared *sh, const struct ptab_env *env, uint8_t fill,
                      vaddr_t va_first, vaddr_t va_last);
void kdir_shared_free(struct kdir_shared *sh, const struct ptab_env *env);
void kdir_region_init(struct kdir_region *r, const struct ptab_env *env,
                      const struct kdir_shared *sh,
                      paddr_t dir, vaddr_t first, vaddr_t last, uint8_t fill);
void kdir_region_release(struct kdir_region *r);
bool kdir_fault(const struct ptab_env *env, const struct kdir_shared *sh, paddr_t dir, vaddr_t va);
int  kdir_reserve(struct kdir_region *r, vaddr_t va, vaddr_t last);
bool kdir_unreserve(struct kdir_region *r);
uint8_t *kdir_page(struct kdir_region *r, vaddr_t va);
const uint8_t *kdir_peek(const struct kdir_region *r, vaddr_t va);
void kdir_flush_local(vaddr_t va);

/* Memory for every space's tables and pages (the kernel's pool; fake memory on the host). */
extern const struct ptab_env *space_env;

paddr_t kdir_current(void);
