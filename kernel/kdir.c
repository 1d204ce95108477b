/*
 * The per-PD kernel directory (see include/kdir.h): on-demand shared pages,
 * private pages from a reserve, release. A virtual address in the kdir splits into
 *
 *   29         21 20         12 11           0
 *  +-------------+-------------+--------------+
 *  |  PD index   |  PT index   | page offset  |     (PML4 511, PDPT 511 above)
 *  +-------------+-------------+--------------+
 */
#include "kdir.h"
#include "abi.h"
#include "panic.h"

/*      entry kind      attributes                                          meaning */
#define KDIR_SHARED      (struct ptab_attr){ PTAB_R, PTAB_WB }          /* read-only, no execute */
#define KDIR_PRIVATE     (struct ptab_attr){ PTAB_R | PTAB_W, PTAB_WB } /* read-write, no execute */
#define KDIR_CHUNK       PTAB_LEVEL_SIZE(1)                             /* one PT maps 2 MiB */

/* The kdir's two levels as an Hpt table of the kernel: its entries through the engine's helpers. */
static struct ptab kpd_tables(const struct ptab_env *env)
{
    return (struct ptab){ .fmt = &ptab_hpt, .env = env, .levels = 2, .leaf_mask = BIT(0),
                          .caps = PTAB_CAP_HPT_KERNEL };
}

/* Kernel address of frame pa in the env's slot (PD level 1, PT level 0, a page PTAB_SLOT_LINK). */
static void *p2v(const struct ptab_env *env, paddr_t pa, unsigned slot)
{
    return env->p2v(env->ctx, pa, slot);
}

/* The PD entry of dir that covers va. */
static pte_t *dir_entry(const struct ptab_env *env, paddr_t dir, vaddr_t va)
{
    return (pte_t *)p2v(env, dir, 1) + ptab_index(va, 1);
}

/* The PT entry for va in the PT at pa. */
static pte_t *pt_entry(const struct ptab_env *env, paddr_t pt, vaddr_t va)
{
    return (pte_t *)p2v(env, pt, 0) + ptab_index(va, 0);
}

/* Read an entry another core may be filling. */
static pte_t load(const pte_t *p)
{
    return ptab_entry_load(p);
}

/* Frame the present PD entry (level 1) or PT entry (level 0) e points to. */
static paddr_t frame(const struct ptab_env *env, unsigned level, pte_t e)
{
    struct ptab t = kpd_tables(env);
    return ptab_entry_frame(&t, level, e);
}

/* The PD entry pointing to the PT at pa. */
static pte_t table_entry(const struct ptab_env *env, paddr_t pt)
{
    struct ptab t = kpd_tables(env);
    return ptab_table_entry(&t, pt);
}

/* The PT entry mapping the page at pa with a. */
static pte_t page_entry(const struct ptab_env *env, paddr_t pa, struct ptab_attr a)
{
    struct ptab t = kpd_tables(env);
    return ptab_leaf_entry(&t, 0, pa, a);
}

/* Fill a hole with CAS (the fault path); true if it was still a hole. */
static bool fill_hole(const struct ptab_env *env, pte_t *p, pte_t e)
{
    struct ptab t = kpd_tables(env);
    return ptab_entry_fill(&t, p, e);
}

/* Create sh: a page of fill bytes and a PT mapping it read-only at [va_first, va_last]; E_NOMEM. */
int kdir_shared_init(struct kdir_shared *sh, const struct ptab_env *env, uint8_t fill,
                     vaddr_t va_first, vaddr_t va_last)
{
    ASSERT(ptab_index(va_first, 1) == ptab_index(va_last, 1) || (ptab_index(va_first, 0) == 0 &&
           ptab_index(va_last, 0) == PTAB_ENTRIES - 1));
    sh->page = env->alloc(env->ctx);
    sh->pt = env->alloc(env->ctx);
    if (!sh->page || !sh->pt) {
        kdir_shared_free(sh, env);
        return E_NOMEM;
    }
    __builtin_memset(p2v(env, sh->page, PTAB_SLOT_LINK), fill, PTAB_PAGE_SIZE);
    /* One PT serves every PD entry of the region (the ASSERT: it has the same indices in each). */
    for (unsigned i = ptab_index(va_first, 0); i <= ptab_index(va_last, 0); i++)
        ((pte_t *)p2v(env, sh->pt, 0))[i] = page_entry(env, sh->page, KDIR_SHARED);
    return E_OK;
}

/* Free sh's frames (host tests). */
void kdir_shared_free(struct kdir_shared *sh, const struct ptab_env *env)
{
    if (sh->page)
        env->free(env->ctx, sh->page);
    if (sh->pt)
        env->free(env->ctx, sh->pt);
    sh->page = sh->pt = 0;
}

/* Attach r to region [first, last] of dir; nothing is allocated. */
void kdir_region_init(struct kdir_region *r, const struct ptab_env *env,
                      const struct kdir_shared *sh,
                      paddr_t dir, vaddr_t first, vaddr_t last, uint8_t fill)
{
    ASSERT(first >= KDIR_BASE && first <= last);
    *r = (struct kdir_region){ .env = env, .shared = sh, .dir = dir, .first = first, .last = last,
                              .fill = fill };
}

/* True if the PD entry e points to a PT of this region's own (not the shared PT). */
static bool private_pt(const struct kdir_region *r, pte_t e)
{
    return e && frame(r->env, 1, e) != r->shared->pt;
}

/* True if the PT entry e maps a private page. */
static bool private_page(const struct kdir_region *r, pte_t e)
{
    return e && frame(r->env, 0, e) != r->shared->page;
}

/* Free the private pages of the private PT at pt, then the PT. */
static void release_pt(struct kdir_region *r, paddr_t pt)
{
    pte_t *tb = p2v(r->env, pt, 0);
    for (unsigned i = 0; i < PTAB_ENTRIES; i++)
        if (private_page(r, tb[i]))
            r->env->free(r->env->ctx, frame(r->env, 0, tb[i]));
    r->env->free(r->env->ctx, pt);
}

/* Take one reserved frame; panics if the caller reserved too little (a kernel bug). */
static paddr_t take(struct kdir_region *r)
{
    paddr_t pa = r->res_head;
    if (!pa)
        panic("kdir: reserve exhausted at %lu pages", (unsigned long)r->pages);
    r->res_head = *(paddr_t *)p2v(r->env, pa, PTAB_SLOT_LINK);
    r->res_count--;
    return pa;
}

/* Free every private page and table of r, empty its PD entries and any reserve. */
void kdir_region_release(struct kdir_region *r)
{
    for (vaddr_t v = ALIGN_DOWN(r->first, KDIR_CHUNK); v <= r->last && v >= KDIR_BASE;
         v += KDIR_CHUNK) {
        pte_t *p = dir_entry(r->env, r->dir, v), e = load(p);
        if (private_pt(r, e))
            release_pt(r, frame(r->env, 1, e));
        __atomic_store_n(p, 0, __ATOMIC_RELEASE);
        if (v + KDIR_CHUNK == 0)
            break;
    }
    while (r->res_head)
        r->env->free(r->env->ctx, take(r));
    r->pages = r->tables = 0;
}

/* Fault path: map sh at va in dir if va is a hole there; true if va then reads sh or a page. */
bool kdir_fault(const struct ptab_env *env, const struct kdir_shared *sh, paddr_t dir, vaddr_t va)
{
    pte_t *p = dir_entry(env, dir, va), e = load(p);
    /* No PT yet: the shared PT maps the shared page without any allocation. */
    if (!e && fill_hole(env, p, table_entry(env, sh->pt)))
        return load(pt_entry(env, sh->pt, va)) != 0;
    e = load(p);
    if (frame(env, 1, e) == sh->pt)
        return load(pt_entry(env, sh->pt, va)) != 0;
    /* A private PT: fill the hole at va (losing a race to a writer is fine). */
    fill_hole(env, pt_entry(env, frame(env, 1, e), va), page_entry(env, sh->page, KDIR_SHARED));
    return true;
}

/* Number of frames making [va, last] private needs from the present state. */
static size_t reserve_need(const struct kdir_region *r, vaddr_t va, vaddr_t last)
{
    size_t need = 0;
    for (vaddr_t v = ALIGN_DOWN(va, PTAB_PAGE_SIZE);; v = ALIGN_DOWN(v, KDIR_CHUNK) + KDIR_CHUNK) {
        vaddr_t stop = MIN(ALIGN_DOWN(v, KDIR_CHUNK) + KDIR_CHUNK - 1, last);
        size_t npages = (ALIGN_DOWN(stop, PTAB_PAGE_SIZE) - v) / PTAB_PAGE_SIZE + 1;
        pte_t e = load(dir_entry(r->env, r->dir, v));
        if (!private_pt(r, e))
            need += 1 + npages;     /* a new PT and every page of the chunk in range */
        else
            for (size_t i = 0; i < npages; i++)
                need += !private_page(r, load(pt_entry(r->env, frame(r->env, 1, e),
                                                       v + i * PTAB_PAGE_SIZE)));
        if (stop == last)
            return need;
    }
}

/* Set aside the frames that making [va, last] private needs; E_NOMEM (nothing kept). */
int kdir_reserve(struct kdir_region *r, vaddr_t va, vaddr_t last)
{
    ASSERT(va >= r->first && last <= r->last && va <= last);
    size_t need = reserve_need(r, va, last);
    while (r->res_count < need) {
        paddr_t pa = r->env->alloc(r->env->ctx);
        if (!pa) {
            kdir_unreserve(r);
            return E_NOMEM;
        }
        *(paddr_t *)p2v(r->env, pa, PTAB_SLOT_LINK) = r->res_head;
        r->res_head = pa;
        r->res_count++;
    }
    return E_OK;
}

/* Give back unused reserved frames; returns and clears r->stale. */
bool kdir_unreserve(struct kdir_region *r)
{
    bool stale = r->stale;
    while (r->res_head)
        r->env->free(r->env->ctx, take(r));
    r->stale = false;
    return stale;
}

/* A fresh frame from the reserve, every byte = b. */
static paddr_t take_filled(struct kdir_region *r, uint8_t b)
{
    paddr_t pa = take(r);
    __builtin_memset(p2v(r->env, pa, PTAB_SLOT_LINK), b, PTAB_PAGE_SIZE);
    return pa;
}

/* Publish e at p with an exchange; a shared translation it replaces may be cached: flush. */
static void replace(struct kdir_region *r, pte_t *p, pte_t e, vaddr_t va)
{
    struct ptab t = kpd_tables(r->env);
    if (ptab_entry_swap(&t, p, e)) {
        r->stale = true;
        kdir_flush_local(va);
    }
}

/* Make va's page private (frames from the reserve; panics if it is short); its kernel address. */
uint8_t *kdir_page(struct kdir_region *r, vaddr_t va)
{
    ASSERT(va >= r->first && va <= r->last);
    pte_t *pd = dir_entry(r->env, r->dir, va);
    /* Step 1: a private PT. In place of the shared PT it starts as a copy, so every other
     * page keeps its translation: a later write there sees the shared page and flushes. */
    pte_t old = load(pd);
    if (!private_pt(r, old)) {
        paddr_t pt = take_filled(r, 0);
        if (old)
            __builtin_memcpy(p2v(r->env, pt, 0), p2v(r->env, r->shared->pt, 1), PTAB_PAGE_SIZE);
        replace(r, pd, table_entry(r->env, pt), va);
        r->tables++;
    }
    pte_t *pt = pt_entry(r->env, frame(r->env, 1, load(pd)), va), e = load(pt);
    if (private_page(r, e))
        return p2v(r->env, frame(r->env, 0, e), PTAB_SLOT_LINK);
    /* Step 2: the page itself, initialised before it is published. */
    paddr_t pg = take_filled(r, r->fill);
    replace(r, pt, page_entry(r->env, pg, KDIR_PRIVATE), va);
    r->pages++;
    return p2v(r->env, pg, PTAB_SLOT_LINK);
}

/* Kernel address of va's private page, or NULL if it reads the shared page or nothing. */
const uint8_t *kdir_peek(const struct kdir_region *r, vaddr_t va)
{
    pte_t e = load(dir_entry(r->env, r->dir, va));
    if (!private_pt(r, e))
        return NULL;
    e = load(pt_entry(r->env, frame(r->env, 1, e), va));
    return private_page(r, e) ? p2v(r->env, frame(r->env, 0, e), PTAB_SLOT_LINK) : NULL;
}
