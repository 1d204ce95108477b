/*
 * Page-table use-after-free detector (see include/quarantine.h). One tag word
 * per frame of the kernel pool and of the far pool (2.5 MiB of bss in this test build): 0 = not
 * quarantined, else the low 32 bits of the owning space_mem's address (all of
 * the pool's linear map has the upper 32 bits set) and the number of full
 * shootdowns of that space begun before the detach. Built only with
 * PTAB_QUARANTINE (mk/i4core.mk).
 */
#include "quarantine.h"
#ifdef PTAB_QUARANTINE
#include "frame.h"
#include "kalloc_far.h"
#include "arch.h"
#include "layout.h"
#include "paging.h"
#include "ptab.h"
#include "panic.h"
#include "printk.h"
#include "space_mem.h"

#define HIGH_HALF   0xffffffff00000000UL    /* upper address bits of every pool object */

static uint64_t tags[POOL_SIZE / PAGE_SIZE];   /* one per pool frame */
static uint64_t far_tags[FAR_POOL_MAX / PAGE_SIZE]; /* one per far-pool frame */
static bool announced;

/* The tag word of frame pa of the kernel or the far pool, or NULL outside both. */
static uint64_t *tag_of(paddr_t pa)
{
    if (pa >= far_pool.base && (pa - far_pool.base) / PAGE_SIZE < far_pool.nframes)
        return &far_tags[(pa - far_pool.base) / PAGE_SIZE];
    if (pa < kernel_pool.base || (pa - kernel_pool.base) / PAGE_SIZE >= kernel_pool.nframes)
        return NULL;
    return &tags[(pa - kernel_pool.base) / PAGE_SIZE];
}

/* The space a tag names. */
static const struct space_mem *space_of_tag(uint64_t t)
{
    return (const struct space_mem *)(HIGH_HALF | (t >> 32));
}

/* Whether a full shootdown of the tag's space, begun after the detach, has completed. */
static bool covered(uint64_t t)
{
    return (int32_t)((uint32_t)space_of_tag(t)->tlb_full_done - (uint32_t)t) > 0;
}

/* Frame pa was detached from m's master table (pd_lock held): quarantine it. */
void quarantine_detached(const struct space_mem *m, paddr_t pa)
{
    if (!announced)
        printk("ptab quarantine: on (detached table frames wait for their shootdown)\n");
    announced = true;
    uint64_t *t = tag_of(pa);
    if (!t)
        return;
    ASSERT(((vaddr_t)m & HIGH_HALF) == HIGH_HALF);
    *t = ((vaddr_t)m << 32) | (uint32_t)m->tlb_full_started;
}

/* Panic for frame pa with tag t (what: "freed" or "allocated"). */
static noreturn void quarantine_panic(paddr_t pa, uint64_t t, const char *what)
{
    const struct space_mem *m = space_of_tag(t);
    panic("ptab quarantine: table frame %lx %s before a shootdown of its PD covered it "
          "(space %p: detached after %u full shootdowns began, %u completed)",
          pa, what, (const void *)m, (unsigned)(uint32_t)t, (unsigned)(uint32_t)m->tlb_full_done);
}

/* n frames at pa are being freed: panic if one is quarantined, else poison them. */
void quarantine_on_free(paddr_t pa, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t *t = tag_of(pa + i * PAGE_SIZE);
        if (!t || !*t)
            continue;
        if (!covered(*t))
            quarantine_panic(pa + i * PAGE_SIZE, *t, "freed");
        *t = 0;
        uint64_t *w = kmem_ptr(pa + i * PAGE_SIZE, TMAP_SLOT_FRESH);
        for (unsigned k = 0; k < PTAB_ENTRIES; k++)
            w[k] = QUARANTINE_POISON;
    }
}

/* n frames at pa were just allocated: panic if one is quarantined. */
void quarantine_on_alloc(paddr_t pa, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t *t = tag_of(pa + i * PAGE_SIZE);
        if (t && *t)
            quarantine_panic(pa + i * PAGE_SIZE, *t, "allocated");
    }
}

/* Panic if table frame pa (reached from root through a level-l entry) is free or quarantined. */
static void check_frame(const struct space_mem *m, paddr_t pa, const char *root)
{
    uint64_t *t = tag_of(pa);
    bool freed = kframe_is_free(pa);
    if (freed || (t && *t))
        panic("ptab quarantine: %s root of space %p reaches %s table frame %lx", root,
              (const void *)m, freed ? "freed" : "quarantined", pa);
}

/*
 * The detector reads entries itself instead of through the engine's visitor: it checks the
 * engine's frees, so it does not run on the engine, and it runs after every flush under
 * pd_lock, where the visitor's per-entry format calls doubled a long revoke's time.
 */

/* Check every table below the table at level l in frame pa (its first `entries` entries). */
static void walk(const struct space_mem *m, paddr_t pa, unsigned l, unsigned entries)
{
    const pte_t *tb = kmem_ptr(pa, l);
    for (unsigned i = 0; l > 0 && i < entries; i++)
        if ((tb[i] & PTE_P) && !(tb[i] & PTE_PS)) {
            check_frame(m, tb[i] & PTE_ADDR, "master");
            walk(m, tb[i] & PTE_ADDR, l - 1, PTAB_ENTRIES);
        }
}

/* After m's pending shootdowns and frees: panic if a live root of m reaches a freed frame. */
void quarantine_check_roots(const struct space_mem *m)
{
    walk(m, m->hpt.root, HPT_LEVELS - 1, PML4_USER_SLOTS);
    for (unsigned c = 0; c < NUM_CPU; c++) {
        if (!m->loc[c].root)
            continue;
        const pte_t *tb = kmem_ptr(m->loc[c].root, HPT_LEVELS - 1);
        for (unsigned i = 0; i < PML4_USER_SLOTS; i++)
            if (tb[i] & PTE_P)
                check_frame(m, tb[i] & PTE_ADDR, "per-core");
    }
}
#endif
