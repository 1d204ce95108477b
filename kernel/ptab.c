/*
 * The generic page-table engine (lecture: "Generic page table entry handling").
 *
 * A virtual address splits into one 9-bit index per level above the 12-bit
 * page offset (4 levels shown; LA57 and 5-level Dpt add a level 4 on top):
 *
 *   47        39 38        30 29        21 20        12 11           0
 *  +------------+------------+------------+------------+--------------+
 *  |  level 3   |  level 2   |  level 1   |  level 0   | page offset  |
 *  +------------+------------+------------+------------+--------------+
 *
 * Concurrency: updates of one table are serialised by the caller; walkers
 * (hardware, lookups, sync_from on other cores) run concurrently. Every entry
 * changes with one atomic store, a new table is complete before its entry is
 * published, and a table that an update detaches is never written through its
 * live entries again: it waits on a ptab_dfree list for the TLB shootdown.
 */
#include "ptab.h"
#include "abi.h"
#include "panic.h"

#define LEVEL_SHIFT(l)  PTAB_LEVEL_SHIFT(l)
#define LEVEL_SIZE(l)   PTAB_LEVEL_SIZE(l)
#define LEVEL_INDEX(va, l) ptab_index(va, l)
#define LINK_MASK       BITS(51, 12)    /* frame field of a dfree chain link (see dfree_push) */
#define EMPTY_BLOCK     16              /* entries empty() reads per step */
#define GENERAL         (-1)            /* update_one: the update needs update_table's recursion */

/* The state of one ptab_update, passed down the recursion. */
struct upd {
    struct ptab *t;
    vaddr_t va, end;                    /* range, truncated to the table's span */
    paddr_t pa;                         /* frame for va */
    struct ptab_attr attr;
    bool unmap;
    pte_t bits[PTAB_MAX_LEVELS];        /* leaf bits per level, encoded once */
    struct ptab_dfree *df;
    struct ptab_result *res;
#ifdef PTACCESS_recursive
    unsigned wmin;                      /* lowest level reached through the window (win_from) */
#endif
};

/* The lowest level u reaches through a recursive window (none by default). */
static inline unsigned upd_wmin(const struct upd *u)
{
#ifdef PTACCESS_recursive
    return u->wmin;
#else
    (void)u;
    return PTAB_MAX_LEVELS;
#endif
}

/* The lab test build PTCOUNT=1: tell the kernel which table page the engine reaches. */
static inline void touch(const void *table)
{
#ifdef PTCOUNT_1
    ptab_touch(table);
#else
    (void)table;
#endif
}

/* The table in frame pa through env's linear range; NULL if the range does not hold it. */
static inline pte_t *lin_tab(const struct ptab_env *env, paddr_t pa)
{
    const struct ptab_linear *lin = env->lin;
    if (lin && pa - lin->base < lin->end - lin->base)
        return (pte_t *)(uintptr_t)(pa + lin->off);
    return NULL;
}

/* Virtual address of the table at level l in frame pa (good until the next table of level l):
   a frame in the environment's linear range without a call. */
static inline pte_t *tab(const struct ptab *t, paddr_t pa, unsigned l)
{
    pte_t *va = lin_tab(t->env, pa);
    va = va ? va : t->env->p2v(t->env->ctx, pa, l);
    touch(va);
    return va;
}

/* The lowest level of t's tables that tabv may reach through t's recursive window during this
   operation (the lab switch PTACCESS=recursive; else none: PTAB_MAX_LEVELS). */
static inline unsigned win_from(const struct ptab *t)
{
#ifdef PTACCESS_recursive
    return t->env->win ? t->env->win->from(t) : PTAB_MAX_LEVELS;
#else
    (void)t;
    return PTAB_MAX_LEVELS;
#endif
}

/* The live table at level l in frame pa that translates va: through the recursive window if l
   is wmin or above (win_from), else as tab(). */
static inline pte_t *tabv(const struct ptab *t, paddr_t pa, unsigned l, vaddr_t va, unsigned wmin)
{
#ifdef PTACCESS_recursive
    if (l >= wmin) {
        vaddr_t above = (va & (ptab_span(t) - 1)) >> LEVEL_SHIFT(l + 1);
        pte_t *w = (pte_t *)(t->env->win->table[l] + (above << PTAB_PAGE_BITS));
        touch(w);
        return w;
    }
#else
    (void)va, (void)wmin;
#endif
    return tab(t, pa, l);
}

/* Read an entry that other cores may be writing. */
static pte_t load(const pte_t *p)
{
    return ptab_entry_load(p);
}

/* Tell the environment an entry changed (written's work, when there is some). */
static noinline void tell_env(const struct ptab *t, pte_t *p, pte_t v)
{
    if (t->caps & PTAB_CAP_CLFLUSH)
        t->env->flush(t->env->ctx, p);
    if (t->env->trace)
        t->env->trace(t->env->ctx, p, v);
}

/* Whether t's environment wants to hear of entry writes (tell_env has work). */
static inline bool env_listens(const struct ptab *t)
{
    return (t->caps & PTAB_CAP_CLFLUSH) || t->env->trace;
}

/* Tell the environment an entry changed: cache flush for non-coherent walkers, test trace. */
static inline void written(const struct ptab *t, pte_t *p, pte_t v)
{
    if (unlikely(env_listens(t)))
        tell_env(t, p, v);
}

/* Atomically replace an entry (release: what it points to is visible first). */
static void store(const struct ptab *t, pte_t *p, pte_t v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
    written(t, p, v);
}

/* Frame an entry at level l points to (a leaf's frame without its attribute bits). */
static paddr_t frame(const struct ptab *t, unsigned l, pte_t e)
{
    return e & t->fmt->addr_mask & ~(LEVEL_SIZE(l) - 1);
}

/* Frame of the child table that the table entry e points to. */
static paddr_t child_table(const struct ptab *t, pte_t e)
{
    return e & t->fmt->addr_mask;
}

/* True if the present entry e at level l refers to a table. */
static bool is_table(const struct ptab *t, unsigned l, pte_t e)
{
    return ptab_fmt_present(t->fmt, e) && !ptab_fmt_is_leaf(t->fmt, l, e);
}

/* Bytes of address space t translates. */
uint64_t ptab_span(const struct ptab *t)
{
    return 1UL << LEVEL_SHIFT(t->levels);
}

/* Set up an empty table with its own root; E_NOMEM if no frame. */
int ptab_init(struct ptab *t, const struct ptab_fmt *fmt, const struct ptab_env *env,
              unsigned levels, unsigned caps)
{
    ASSERT(levels >= fmt->min_levels && levels <= fmt->max_levels);
    ASSERT(!(caps & PTAB_CAP_CLFLUSH) || env->flush);
    t->fmt = fmt;
    t->env = env;
    t->levels = levels;
    t->leaf_mask = fmt->leaf_mask;
    t->caps = caps;
    t->keep_level = levels;
    t->own_level = 0;
    t->root = env->alloc(env->ctx);
    return t->root ? E_OK : E_NOMEM;
}

/* Free the table at level l in frame pa and every owned table below it. */
static void free_tree(const struct ptab *t, paddr_t pa, unsigned l)
{
    if (l < t->own_level)
        return;
    pte_t *tb = tab(t, pa, l);
    for (unsigned i = 0; l > 0 && i < PTAB_ENTRIES; i++)
        if (is_table(t, l, tb[i]))
            free_tree(t, child_table(t, tb[i]), l - 1);
    t->env->free(t->env->ctx, pa);
}

/* Free every table frame owned by t (all levels >= own_level), root included. */
void ptab_release(struct ptab *t)
{
    if (t->root)
        free_tree(t, t->root, t->levels - 1);
    t->root = 0;
}

/* Allocate a zeroed table and publish it in the empty entry p with CAS; the entry p holds after
 * that, 0 if no memory. *won (unless NULL) grows by one if the table published is ours. */
static pte_t install(const struct ptab *t, pte_t *p, size_t *won)
{
    paddr_t pa = t->env->alloc(t->env->ctx);
    if (!pa)
        return 0;
    pte_t e = ptab_table_entry(t, pa);
    if (ptab_entry_fill(t, p, e)) {
        if (won)
            ++*won;
        return e;
    }
    /* Another core won the race: ours was never published, free it at once. */
    t->env->free(t->env->ctx, pa);
    return load(p);
}

/* Pointer to the entry for va at level (or at the leaf/hole above it); *reached = its level.
 * With alloc, holes on the way are filled with new tables (CAS). NULL only if alloc failed. */
pte_t *ptab_walk(const struct ptab *t, vaddr_t va, unsigned level, bool alloc, unsigned *reached)
{
    paddr_t tpa = t->root;
    unsigned wmin = win_from(t);
    for (unsigned l = t->levels - 1;; l--) {
        pte_t *p = tabv(t, tpa, l, va, wmin) + LEVEL_INDEX(va, l);
        pte_t e = load(p);
        *reached = l;
        if (l <= level)
            return p;
        if (!ptab_fmt_present(t->fmt, e)) {
            if (!alloc)
                return p;
            if (!(e = install(t, p, NULL)))
                return NULL;
        }
        if (ptab_fmt_is_leaf(t->fmt, l, e))
            return p;
        tpa = child_table(t, e);
    }
}

/* Translate va; true if mapped (m describes the mapping), false if a hole (m->va/size describe
 * it). */
bool ptab_lookup(const struct ptab *t, vaddr_t va, struct ptab_map *m)
{
    unsigned l;
    pte_t e = load(ptab_walk(t, va, 0, false, &l));
    m->level = l;
    m->size = LEVEL_SIZE(l);
    m->va = ALIGN_DOWN(va, m->size);
    m->pa = 0;
    m->attr.perm = 0;
    m->attr.mt = PTAB_WB;
    if (!ptab_fmt_present(t->fmt, e))
        return false;
    m->pa = frame(t, l, e);
    return t->fmt->decode(t->caps, l, e, &m->attr);
}

/* Put a detached frame on df. Frames detached by an unmap are chained through word 0 (the link is
 * non-present, its frame field inverted like Linux's L1TF PTE inversion); other frames need a slot
 * because stale walkers must still see their old entries. False if no slot is free. */
static bool dfree_push(struct ptab_dfree *df, const struct ptab *t, paddr_t pa, unsigned l,
                       bool unmap)
{
    if (unmap) {
        *tab(t, pa, l) = df->chain ? (~df->chain & LINK_MASK) : 0;
        df->chain = pa;
    } else if (df->n < PTAB_DFREE_SLOTS) {
        df->slot[df->n++] = pa;
    } else {
        return false;
    }
    df->count++;
    return true;
}

/* The frame after f on df's chain of frames detached by unmaps (0 at the end). */
paddr_t ptab_dfree_next(const struct ptab_env *env, paddr_t f)
{
    const pte_t *p = env->p2v(env->ctx, f, PTAB_SLOT_LINK);
    touch(p);
    pte_t link = *p;
    return link ? (~link & LINK_MASK) : 0;
}

/* Free every frame on df (call after the shootdown). */
void ptab_dfree_release(struct ptab_dfree *df, const struct ptab_env *env)
{
    for (unsigned i = 0; i < df->n; i++)
        env->free(env->ctx, df->slot[i]);
    while (df->chain) {
        paddr_t pa = df->chain;
        df->chain = ptab_dfree_next(env, pa);
        env->free(env->ctx, pa);
    }
    ptab_dfree_init(df);
}

/* Number of table frames in the subtree at level l in frame pa. */
static size_t count_tree(const struct ptab *t, paddr_t pa, unsigned l)
{
    size_t n = 1;
    const pte_t *tb = l > 0 ? tab(t, pa, l) : NULL;
    for (unsigned i = 0; l > 0 && i < PTAB_ENTRIES; i++) {
        pte_t e = load(&tb[i]);
        if (e && is_table(t, l, e))     /* holes are all-zero: most need no format call */
            n += l > 1 ? count_tree(t, child_table(t, e), l - 1) : 1;
    }
    return n;
}

/* What one ptab_visit passes down the recursion. */
struct visit {
    const struct ptab *t;
    vaddr_t va, end;                    /* range, truncated to the table's span */
    vaddr_t high;                       /* bits of the caller's va above the span */
    ptab_visitor fn;
    void *arg;
};

/* Visit the present entries of the table at level l in frame tpa (entry 0 maps base) in range. */
static void visit_table(const struct visit *v, paddr_t tpa, unsigned l, vaddr_t base)
{
    const struct ptab *t = v->t;
    const pte_t *tb = tab(t, tpa, l);
    vaddr_t lo = MAX(v->va, base), hi = MIN(v->end - 1, base + PTAB_ENTRIES * LEVEL_SIZE(l) - 1);
    for (unsigned i = LEVEL_INDEX(lo, l); i <= LEVEL_INDEX(hi, l); i++) {
        pte_t e = load(&tb[i]);
        if (!e || !ptab_fmt_present(t->fmt, e))
            continue;                   /* holes are all-zero: most need no format call */
        struct ptab_entry x = { .va = v->high | (base + i * LEVEL_SIZE(l)), .level = l,
                                .leaf = ptab_fmt_is_leaf(t->fmt, l, e), .e = e };
        x.pa = x.leaf ? frame(t, l, e) : child_table(t, e);
        if (v->fn(v->arg, &x) && !x.leaf)
            visit_table(v, x.pa, l - 1, base + i * LEVEL_SIZE(l));
    }
}

/* Visit every present entry overlapping [va, va+size), top-down in address order. */
void ptab_visit(const struct ptab *t, vaddr_t va, uint64_t size, ptab_visitor fn, void *arg)
{
    vaddr_t span = ptab_span(t);
    struct visit v = { .t = t, .va = va & (span - 1), .high = va & ~(span - 1), .fn = fn,
                       .arg = arg };
    ASSERT(size <= span - v.va);
    v.end = v.va + size;
    if (size)
        visit_table(&v, t->root, t->levels - 1, 0);
}


/* Number of table frames reachable from t's root, root included. */
size_t ptab_tables(const struct ptab *t)
{
    return count_tree(t, t->root, t->levels - 1);
}

/* Move the unlinked table at level l in frame pa, which points to no table, onto the
 * deferred-free list. */
static void detach_frame(struct upd *u, paddr_t pa, unsigned l)
{
    if (!dfree_push(u->df, u->t, pa, l, u->unmap))
        panic("ptab: detach without a free slot");
    u->res->detached = u->res->flush = true;
}

/* Move the unlinked subtree at level l in frame pa onto the deferred-free list. */
static void detach_tree(struct upd *u, paddr_t pa, unsigned l)
{
    const pte_t *tb = tab(u->t, pa, l);
    for (unsigned i = 0; l > 0 && i < PTAB_ENTRIES; i++) {
        pte_t e = load(&tb[i]);
        if (e && is_table(u->t, l, e))  /* holes are all-zero: most need no format call */
            detach_tree(u, child_table(u->t, e), l - 1);
    }
    detach_frame(u, pa, l);
}

/* True if the change old -> new of a present leaf only adds access rights. */
static bool upgrade_only(const struct ptab *t, unsigned l, pte_t old, pte_t new)
{
    struct ptab_attr a, b;
    if (frame(t, l, old) != frame(t, l, new))
        return false;
    t->fmt->decode(t->caps, l, old, &a);
    t->fmt->decode(t->caps, l, new, &b);
    return a.mt == b.mt && (a.perm & ~b.perm) == 0 && ((a.perm ^ b.perm) & ~PTAB_ACCESS) == 0;
}

/* Whether replacing the leaf or hole old at level l by new (a change) needs a TLB flush.
 * (Invariant: an entry is present iff it is non-zero; holes are all-zero for L1TF.) */
static bool leaf_change_flushes(const struct ptab *t, unsigned l, pte_t old, pte_t new)
{
    return old && (!new || !upgrade_only(t, l, old, new));
}

/* Write leaf value new over the leaf or hole old at p and record the flush decision. */
static void set_leaf(struct upd *u, pte_t *p, unsigned l, pte_t old, pte_t new)
{
    if (old == new)
        return;
    store(u->t, p, new);
    u->res->changed++;
    if (leaf_change_flushes(u->t, l, old, new))
        u->res->flush = true;
}

/* The leaf entry that maps the entry at level l starting at va lo. */
static pte_t leaf_for(const struct upd *u, unsigned l, vaddr_t lo)
{
    return u->unmap ? 0 : (u->pa + (lo - u->va)) | u->bits[l];
}

/* set_leaf for the level-0 entries first..last of the table tb whose entry 0 maps base: the
 * 4 KiB loop, with the environment check hoisted and the result recorded once. */
static void update_leaves(struct upd *u, pte_t *tb, unsigned first, unsigned last, vaddr_t base)
{
    const struct ptab *t = u->t;
    bool tell = env_listens(t);
    pte_t new = leaf_for(u, 0, base + first * PTAB_PAGE_SIZE);
    pte_t step = u->unmap ? 0 : PTAB_PAGE_SIZE;
    size_t changed = 0;
    bool flush = false;
    for (unsigned i = first; i <= last; i++, new += step) {
        pte_t old = load(&tb[i]);
        if (old == new)
            continue;
        __atomic_store_n(&tb[i], new, __ATOMIC_RELEASE);
        if (unlikely(tell))
            tell_env(t, &tb[i], new);
        changed++;
        flush = flush || leaf_change_flushes(t, 0, old, new);
    }
    u->res->changed += changed;
    u->res->flush |= flush;
}

/* True if level l may hold a leaf for lo (format, run-time limit and frame alignment). */
static bool leaf_fits(const struct upd *u, unsigned l, vaddr_t lo)
{
    return (u->t->leaf_mask & BIT(l)) && IS_ALIGNED(u->pa + (lo - u->va), LEVEL_SIZE(l));
}

/* Replace the table entry old at p (level l) by the leaf/hole new; false if it must stay. */
static bool replace_table(struct upd *u, pte_t *p, unsigned l, pte_t old, pte_t new)
{
    paddr_t child = child_table(u->t, old);
    if (l - 1 >= u->t->keep_level)
        return false;
    if (!u->unmap && count_tree(u->t, child, l - 1) > PTAB_DFREE_SLOTS - u->df->n)
        return false;
    /* Atomically replace the table, then hand the old subtree to the deferred list. */
    store(u->t, p, new);
    u->res->changed += ptab_fmt_present(u->t->fmt, new);
    detach_tree(u, child, l - 1);
    return true;
}

/* Replace the large leaf old at p (level l) by a table replicating it; E_NOMEM if no frame. */
static int split(struct upd *u, pte_t *p, unsigned l, pte_t old)
{
    const struct ptab *t = u->t;
    struct ptab_attr a;
    paddr_t pa = t->env->alloc(t->env->ctx);
    if (!pa)
        return E_NOMEM;
    /* Fill the new table with the same translation in smaller leaves... */
    t->fmt->decode(t->caps, l, old, &a);
    pte_t bits = t->fmt->leaf(t->caps, l - 1, a), *tb = tab(t, pa, l - 1);
    for (unsigned i = 0; i < PTAB_ENTRIES; i++)
        store(t, &tb[i], (frame(t, l, old) + i * LEVEL_SIZE(l - 1)) | bits);
    /* ...then swap it in: every walker sees the old or the identical new translation. */
    store(t, p, ptab_table_entry(t, pa));
    return E_OK;
}

/* False if the table tb at level l-1 cannot be collapsed into one leaf at level l: no such leaf,
 * or its last entry does not continue its first (a table being filled in order fails at once). */
static bool may_collapse(const struct ptab *t, const pte_t *tb, unsigned l)
{
    return (t->leaf_mask & BIT(l)) &&
           load(&tb[PTAB_ENTRIES - 1]) == load(&tb[0]) + (PTAB_ENTRIES - 1) * LEVEL_SIZE(l - 1);
}

/* The leaf that could replace the table tb at level l-1 (all leaves, uniform, contiguous), or 0. */
static pte_t collapsed(const struct ptab *t, const pte_t *tb, unsigned l)
{
    struct ptab_attr a;
    pte_t e0 = load(&tb[0]), step = LEVEL_SIZE(l - 1);
    if (!may_collapse(t, tb, l) || !ptab_fmt_present(t->fmt, e0) ||
        !ptab_fmt_is_leaf(t->fmt, l - 1, e0) || !IS_ALIGNED(frame(t, l - 1, e0), LEVEL_SIZE(l)))
        return 0;
    for (unsigned i = 1; i < PTAB_ENTRIES - 1; i++)
        if (load(&tb[i]) != e0 + i * step)
            return 0;
    t->fmt->decode(t->caps, l - 1, e0, &a);
    return frame(t, l - 1, e0) | t->fmt->leaf(t->caps, l, a);
}

/* The entries of block k of the table tb (EMPTY_BLOCK entries) ORed together. Plain loads, one
 * instruction an entry: the caller serialises updates of tb and walkers only set bits in present
 * entries, so no entry turns from zero to non-zero or back meanwhile. */
static pte_t block_bits(const pte_t *tb, unsigned k)
{
    const pte_t *b = tb + k * EMPTY_BLOCK;
    pte_t any = 0;
#pragma GCC unroll 16
    for (unsigned i = 0; i < EMPTY_BLOCK; i++)
        any |= b[i];
    return any;
}

/* True if the table tb has no present entry. The scan goes out from the block of index near
 * (the entry just changed: its neighbours are the likely survivors), alternately down and up. */
static bool empty(const pte_t *tb, unsigned near)
{
    unsigned blocks = PTAB_ENTRIES / EMPTY_BLOCK, b = near / EMPTY_BLOCK;
    for (unsigned d = 0; d < blocks; d++) {
        unsigned k = (b + ((d & 1) ? (d + 1) / 2 : blocks - d / 2)) % blocks;
        if (block_bits(tb, k))
            return false;
    }
    return true;
}

/* The live table the table entry p of t at level l (holding e) points to. Through the window
 * when p's table came through it and the child's level (wmin: upd_wmin) is shown too: a window
 * address shifted by one level's index bits is the window address of the table its entry points
 * to (the top index, a recursive slot, drops out; p's index becomes the lowest). */
static inline pte_t *child_tabv(const struct ptab *t, unsigned wmin, pte_t *p, unsigned l,
                                pte_t e)
{
#ifdef PTACCESS_recursive
    if (l - 1 >= wmin) {
        unsigned high = 64 - LEVEL_SHIFT(t->levels);        /* sign-extension bits */
        vaddr_t w = (vaddr_t)p << PTAB_LEVEL_BITS;
        pte_t *c = (pte_t *)(vaddr_t)((int64_t)(w << high) >> high);
        touch(c);
        return c;
    }
#else
    (void)p, (void)wmin;
#endif
    return tab(t, child_table(t, e), l - 1);
}

/* After an update below the table entry p at level l: drop the table if the update emptied it
 * (unmap or failure), or collapse it into one large leaf if a map made it uniform.
 * Kept tables (keep_level) stay. */
static void tidy(struct upd *u, pte_t *p, unsigned l, int r)
{
    const struct ptab *t = u->t;
    pte_t e = load(p), leaf = 0;
    if (!is_table(t, l, e) || l - 1 >= t->keep_level)
        return;
    const pte_t *tb = child_tabv(t, upd_wmin(u), p, l, e);
    if (!u->unmap && r == E_OK)
        leaf = collapsed(t, tb, l);
    if (!leaf && (!(u->unmap || r != E_OK) || !empty(tb, LEVEL_INDEX(u->va, l - 1))))
        return;
    /* An empty table holds no translation a stale walker could need: it may go on the chain.
       Either way the table points to no table (empty, or all leaves). */
    bool unmap = u->unmap;
    u->unmap = !leaf;
    if (u->unmap || u->df->n < PTAB_DFREE_SLOTS) {
        store(t, p, leaf);
        detach_frame(u, child_table(t, e), l - 1);
    }
    u->unmap = unmap;
}

static int update_table(struct upd *u, paddr_t tpa, unsigned l, vaddr_t base);

/* Apply the update to the entry p at level l that covers [lo, lo + LEVEL_SIZE(l)). */
static int update_entry(struct upd *u, pte_t *p, unsigned l, vaddr_t lo)
{
    const struct ptab_fmt *f = u->t->fmt;
    bool full = u->va <= lo && lo + LEVEL_SIZE(l) <= u->end;
    pte_t old = load(p);
    int r = E_OK;

    /* The whole entry changes and a leaf fits: one store (a table below is detached). */
    if (full && (u->unmap || leaf_fits(u, l, lo))) {
        if (!is_table(u->t, l, old)) {
            set_leaf(u, p, l, old, leaf_for(u, l, lo));
            return E_OK;
        }
        if (replace_table(u, p, l, old, leaf_for(u, l, lo)))
            return E_OK;
    }
    /* Otherwise descend: fill a hole with a table, or split a leaf that only partly changes. */
    if (!ptab_fmt_present(f, old)) {
        if (u->unmap)
            return E_OK;
        if (!install(u->t, p, l == u->t->levels - 1 ? &u->res->rooted : NULL))
            return E_NOMEM;
    } else if (ptab_fmt_is_leaf(f, l, old)) {
        if (!u->unmap && old == ((u->pa + (lo - u->va)) | u->bits[l]))
            return E_OK;    /* the leaf already maps exactly this */
        if ((r = split(u, p, l, old)) != E_OK)
            return r;
    }
    r = update_table(u, child_table(u->t, load(p)), l - 1, lo);
    tidy(u, p, l, r);
    return r;
}

/* Apply the update to the entries of the table at level l in frame tpa, whose entry 0 maps base. */
static int update_table(struct upd *u, paddr_t tpa, unsigned l, vaddr_t base)
{
    pte_t *tb = tabv(u->t, tpa, l, base, upd_wmin(u));
    vaddr_t size = LEVEL_SIZE(l);
    vaddr_t lo = MAX(u->va, base), hi = MIN(u->end - 1, base + PTAB_ENTRIES * size - 1);
    if (l == 0) {   /* fast path: every level-0 entry is a leaf or a hole */
        update_leaves(u, tb, LEVEL_INDEX(lo, 0), LEVEL_INDEX(hi, 0), base);
        return E_OK;
    }
    for (unsigned i = LEVEL_INDEX(lo, l); i <= LEVEL_INDEX(hi, l); i++) {
        int r = update_entry(u, &tb[i], l, base + i * size);
        if (r != E_OK)
            return r;
    }
    return E_OK;
}

/* ptab_update of the single entry at level lvl that the update covers exactly (a leaf fits, or
 * it unmaps): one walk down, then tidy upwards while tables empty or collapse. GENERAL if a leaf
 * above or a table at lvl needs the general recursion (split, replace_table). */
static int update_one(struct upd *u, unsigned lvl)
{
    const struct ptab *t = u->t;
    pte_t *path[PTAB_MAX_LEVELS], *p;
    paddr_t tpa = t->root;
    unsigned l = t->levels - 1;
    int r = E_OK;
    for (; l > lvl; l--) {
        p = path[l] = tabv(t, tpa, l, u->va, upd_wmin(u)) + LEVEL_INDEX(u->va, l);
        pte_t e = load(p);
        if (!e && u->unmap)
            break;                  /* a hole above: nothing to unmap; tidy as the recursion */
        if (!e && !(e = install(t, p, l == t->levels - 1 ? &u->res->rooted : NULL))) {
            r = E_NOMEM;
            break;
        }
        if (ptab_fmt_is_leaf(t->fmt, l, e))
            return GENERAL;         /* a large leaf above: split or keep, as update_entry does */
        tpa = child_table(t, e);
    }
    if (l == lvl) {                 /* reached the entry (no hole above an unmap, no E_NOMEM) */
        p = tabv(t, tpa, lvl, u->va, upd_wmin(u)) + LEVEL_INDEX(u->va, lvl);
        pte_t old = load(p);
        if (lvl > 0 && is_table(t, lvl, old))
            return GENERAL;
        set_leaf(u, p, lvl, old, leaf_for(u, lvl, u->va));
        if (!u->unmap && !may_collapse(t, p - LEVEL_INDEX(u->va, lvl), lvl + 1))
            return E_OK;            /* a map that empties nothing and collapses nothing */
        l = lvl;
    }
    /* Tidy the tables on the path, bottom up, while each one goes (emptied or collapsed). */
    for (l++; l < t->levels; l++) {
        pte_t before = load(path[l]);
        tidy(u, path[l], l, r);
        if (load(path[l]) == before)
            break;
    }
    return r;
}

/* Map [va, va+size) to pa.. with attr (attr.perm without R/W/X unmaps). E_ALIGN, E_RANGE,
 * E_NOMEM. */
int ptab_update(struct ptab *t, vaddr_t va, uint64_t size, paddr_t pa, struct ptab_attr attr,
                struct ptab_dfree *df, struct ptab_result *res)
{
    struct upd u = { .t = t,
                     .va = va & (ptab_span(t) - 1),
                     .pa = pa,
                     .attr = attr,
                     .df = df,
                     .res = res };
#ifdef PTACCESS_recursive
    u.wmin = win_from(t);
#endif
    res->flush = res->detached = false;
    res->changed = res->rooted = 0;
    if (!IS_ALIGNED(va | size | pa, PTAB_PAGE_SIZE))
        return E_ALIGN;
    if (attr.mt >= PTAB_MTYPES || (attr.perm & ~PTAB_PERM_ALL))
        return E_ARG;
    pte_t leaf0 = (attr.perm & PTAB_ACCESS) ? t->fmt->leaf(t->caps, 0, attr) : 0;
    u.unmap = !ptab_fmt_present(t->fmt, leaf0);
    if (size == 0)
        return E_OK;
    if (size > ptab_span(t) - u.va)
        return E_RANGE;
    paddr_t last = pa + size - 1;
    if (!u.unmap && (last < pa || (last & ~t->fmt->addr_mask & ~(PTAB_PAGE_SIZE - 1))))
        return E_RANGE;
    u.end = u.va + size;
    unsigned one = (unsigned)(__builtin_ctzl(size) - PTAB_PAGE_BITS) / PTAB_LEVEL_BITS;
    bool single = one < t->levels && size == LEVEL_SIZE(one) && IS_ALIGNED(u.va, size) &&
                  (u.unmap || leaf_fits(&u, one, u.va));
    if (single && !u.unmap)
        u.bits[one] = one ? t->fmt->leaf(t->caps, one, attr) : leaf0;
    int r = single ? update_one(&u, one) : GENERAL;
    if (r != GENERAL)
        return r;
    for (unsigned l = 0; l < t->levels && !u.unmap; l++)
        u.bits[l] = (t->leaf_mask & BIT(l)) ? t->fmt->leaf(t->caps, l, attr) : 0;
    return update_table(&u, t->root, t->levels - 1, 0);
}

/* Level of the single entry that sync_from copies for the region [lo, hi). */
unsigned ptab_sync_level(const struct ptab *t, vaddr_t lo, vaddr_t hi)
{
    /* The entry must cover every bit in which the region's first and last byte differ. */
    vaddr_t diff = lo ^ (hi - 1);
    unsigned bits = diff ? 64 - (unsigned)__builtin_clzl(diff) : 0;
    unsigned l = bits > PTAB_PAGE_BITS ? (bits - PTAB_PAGE_BITS) / 9 : 0;
    return MIN(l, t->levels - 1);
}

/* Copy src's entry for addr into dst at the level where lo and hi-1 differ (ptab_sync_level).
 * E_OK if dst changed, E_NOENT if src has nothing there or dst already has it, E_NOMEM. */
int ptab_sync_from(struct ptab *dst, const struct ptab *src, vaddr_t addr, vaddr_t lo, vaddr_t hi)
{
    unsigned ls = ptab_sync_level(src, lo, hi), ld;
    ASSERT(dst->fmt == src->fmt && dst->levels == src->levels);
    if (ls == src->levels - 1)
        return ptab_sync_root(dst, src, addr);
    pte_t e = load(ptab_walk(src, addr, ls, false, &ls));
    if (!ptab_fmt_present(src->fmt, e))
        return E_NOENT;
    pte_t *p = ptab_walk(dst, addr, ls, true, &ld);
    if (!p)
        return E_NOMEM;
    if (ld != ls || load(p) == e)
        return E_NOENT;
    store(dst, p, e);
    return E_OK;
}

/* Copy the root entry e into p of dst unless e is a hole or p holds it already: E_OK if dst
   changed, E_NOENT. */
static int sync_slot(struct ptab *dst, pte_t e, pte_t *p)
{
    if (!e || load(p) == e)
        return E_NOENT;                 /* a hole is all-zero (ptab.h) */
    store(dst, p, e);
    return E_OK;
}

/* ptab_sync_root with the two root entries given (s in src's root, d the same slot of dst's,
   e.g. through a recursive window): E_OK if dst changed, E_NOENT. */
int ptab_sync_entry(struct ptab *dst, const pte_t *s, pte_t *d)
{
    touch(s);
    touch(d);
    return sync_slot(dst, load(s), d);
}

/* ptab_sync_root for roots that are not both in their environments' linear ranges, or that
   the recursive window shows (PTACCESS=recursive). */
static noinline int sync_root_far(struct ptab *dst, const struct ptab *src, unsigned i)
{
    unsigned l = src->levels - 1;
    vaddr_t va = (vaddr_t)i << LEVEL_SHIFT(l);
    pte_t e = load(tabv(src, src->root, l, va, win_from(src)) + i);
    if (!e)
        return E_NOENT;
    /* After the load: a shared slot. */
    return sync_slot(dst, e, tabv(dst, dst->root, l, va, win_from(dst)) + i);
}

/* ptab_sync_from at the root level (a region of several root entries, e.g. [0, USER_ADDR) of a
 * 4-level Hpt: the lazy sync of a user slot), without a walk or a call when both roots are in
 * their linear ranges. E_OK if dst changed, E_NOENT. */
int ptab_sync_root(struct ptab *dst, const struct ptab *src, vaddr_t addr)
{
    unsigned i = LEVEL_INDEX(addr, src->levels - 1);
    pte_t *s = lin_tab(src->env, src->root), *d = lin_tab(dst->env, dst->root);
#ifdef PTACCESS_recursive
    if (src->env->win || dst->env->win)
        return sync_root_far(dst, src, i);
#endif
    if (!s || !d)
        return sync_root_far(dst, src, i);
    touch(s);
    touch(d);
    return sync_slot(dst, load(s + i), d + i);
}

/* Point the entry for va at level (tables on the way are created) to the table in frame pa,
 * replacing what was there (the caller owns it). E_NOMEM, E_BUSY if a leaf lies above level. */
int ptab_attach(struct ptab *t, vaddr_t va, unsigned level, paddr_t pa)
{
    unsigned l;
    ASSERT(level > 0 && level < t->levels);
    pte_t *p = ptab_walk(t, va, level, true, &l);
    if (!p)
        return E_NOMEM;
    if (l != level)
        return E_BUSY;
    store(t, p, ptab_table_entry(t, pa));
    return E_OK;
}

/* The entry of t's format that points to the table in frame pa. */
pte_t ptab_table_entry(const struct ptab *t, paddr_t pa)
{
    return pa | t->fmt->table(t->caps);
}

/* The leaf entry at level that maps the frame pa with attributes a. */
pte_t ptab_leaf_entry(const struct ptab *t, unsigned level, paddr_t pa, struct ptab_attr a)
{
    return pa | t->fmt->leaf(t->caps, level, a);
}

/* The frame the present entry e at level refers to: its table's, or its leaf's whole mapping. */
paddr_t ptab_entry_frame(const struct ptab *t, unsigned level, pte_t e)
{
    return is_table(t, level, e) ? child_table(t, e) : frame(t, level, e);
}

/* True if the entry e at level points to a table. */
bool ptab_entry_is_table(const struct ptab *t, unsigned level, pte_t e)
{
    return level > 0 && is_table(t, level, e);
}

/* Attributes of the present entry e at level: a leaf's, or the rights a table entry lets through
 * (mt WB: a table entry has no memory type of its own). */
struct ptab_attr ptab_entry_attr(const struct ptab *t, unsigned level, pte_t e)
{
    struct ptab_attr a;
    t->fmt->decode(t->caps, level, e, &a);
    if (is_table(t, level, e))
        a = (struct ptab_attr){ a.perm & (PTAB_ACCESS | PTAB_U), PTAB_WB };
    return a;
}

/* Fill the hole at p with e (CAS); true if it was still a hole. */
bool ptab_entry_fill(const struct ptab *t, pte_t *p, pte_t e)
{
    pte_t old = 0;
    if (!__atomic_compare_exchange_n(p, &old, e, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return false;
    written(t, p, e);
    return true;
}

/* Atomically replace the entry at p by e; the old entry. */
pte_t ptab_entry_swap(const struct ptab *t, pte_t *p, pte_t e)
{
    pte_t old = __atomic_exchange_n(p, e, __ATOMIC_ACQ_REL);
    written(t, p, e);
    return old;
}
