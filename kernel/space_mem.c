/*
 * Space_mem: master table, per-core roots, lazy sync, make_current, and the
 * mapping-database hooks that apply delegation and revocation to the master
 * table (lecture: "Memory space of a protection domain", "Syncing Page Tables").
 */
#include "space_mem.h"
#include "pd.h"
#include "arch.h"
#include "kmalloc.h"
#include "kalloc_far.h"
#include "frame.h"
#include "layout.h"
#include "panic.h"
#include "tlb.h"
#include "pcid.h"
#include "quarantine.h"
#include "spinlock.h"
#include "syscall.h"
#include "device.h"

#define RESERVE_MARGIN    16            /* pool frames kept beyond a delegation's table bound */
#define DID_MAX           256           /* domain ids handed to dpts: 1 .. DID_MAX - 1 at most */

static uint64_t did_used[DID_MAX / 64];  /* domain ids of live dpts (bit 0: reserved) */

/* Leaf levels of user mappings: 4 KiB, 2 MiB, and 1 GiB if the CPU has 1 GiB pages; 4 KiB
   only with the lab switch HPT_LEAVES=4k (mk/lab.conf). */
static unsigned hpt_leaf_mask(void)
{
#ifdef HPT_LEAVES_4k
    return BIT(0);
#else
    return arch_has_1g_pages() ? ptab_hpt.leaf_mask : ptab_hpt.leaf_mask & ~BIT(2);
#endif
}

/* hpt's frame source (ctx: its space): a table frame charged to its PD, counted in the space. */
static paddr_t hpt_frame_alloc(void *ctx)
{
    struct space_mem *m = ctx;
    const struct ptab_env *env = &container_of(m, struct pd, mem)->tables_env;
    paddr_t pa = env->alloc(env->ctx);
    if (pa)
        m->hpt_tables++;
    return pa;
}

/* hpt's frame sink for a frame it frees itself: a table that lost an install race, or every
   table when the space goes (detached tables are freed by shootdown_batch_flush). */
static void hpt_frame_free(void *ctx, paddr_t pa)
{
    struct space_mem *m = ctx;
    const struct ptab_env *env = &container_of(m, struct pd, mem)->tables_env;
    m->hpt_tables--;
    env->free(env->ctx, pa);
}

#ifdef PTACCESS_recursive
/*
 * The lab switch PTACCESS=recursive (docs/lab.md, switch 1). Every per-core root of a PD has
 * PML4_RECURSIVE -> itself and PML4_MASTER -> the PD's master hpt (kmem_root_windows). Taking
 * the recursive slot l times and then slot s makes the CPU's walker stop at the level-l table
 * of the root s points to: WIN_TABLE(l, s) is that table for address 0.
 */
#define WIN_FIELD(k, slot)  ((vaddr_t)(slot) << PTAB_LEVEL_SHIFT(k))
#define WIN_HIGH            (~(vaddr_t)0 << PTAB_LEVEL_SHIFT(HPT_LEVELS))  /* sign extension */
#define WIN_SELF(n)         ((n) ? WIN_FIELD(HPT_LEVELS - 1, PML4_RECURSIVE) : 0)
#define WIN_R(l)            (WIN_SELF((l) >= 1) | ((l) >= 2 ? WIN_FIELD(2, PML4_RECURSIVE) : 0) | \
                             ((l) >= 3 ? WIN_FIELD(1, PML4_RECURSIVE) : 0))
#define WIN_TABLE(l, s)     (WIN_HIGH | WIN_R(l) | WIN_FIELD(HPT_LEVELS - 1 - (l), s))
_Static_assert(HPT_LEVELS == 4, "the window macros spell out 4 levels");
_Static_assert(WIN_TABLE(0, PML4_RECURSIVE) == PT_WINDOW && WIN_TABLE(0, PML4_MASTER) ==
               PT_MASTER_WIN, "the window's level-0 tables start at the layout's addresses");

/* Whether this core has root loaded. */
static bool root_loaded(paddr_t root)
{
    return arch_root_loaded() == root;
}

/* The master hpt t's lowest level the window shows at the call: every level if t's PD is
   loaded here and this core holds pd_lock (no other core changes a master table then), else
   the kept levels only (root and PDPTs are never detached while the PD lives); none if t's PD
   is not loaded here (then p2v: the linear map or the temporal window). Counted per call. */
static unsigned master_from(const struct ptab *t)
{
    struct cpu_local *c = this_cpu();
    const struct space_mem *m = container_of(t, struct space_mem, hpt);
    if (!m->loc[c->id].root || !root_loaded(m->loc[c->id].root)) {
        c->counters.pt_linear_ops++;
        return PTAB_MAX_LEVELS;
    }
    c->counters.pt_window_ops++;
    return pd_lock_mine() ? 0 : t->keep_level;
}

/* A per-core root t's lowest level the window shows at the call: its root, if loaded here. */
static unsigned loc_from(const struct ptab *t)
{
    struct cpu_local *c = this_cpu();
    if (!root_loaded(t->root)) {
        c->counters.pt_linear_ops++;
        return PTAB_MAX_LEVELS;
    }
    c->counters.pt_window_ops++;
    return t->levels - 1;
}

static const struct ptab_window master_window = {
    { WIN_TABLE(0, PML4_MASTER), WIN_TABLE(1, PML4_MASTER), WIN_TABLE(2, PML4_MASTER),
      WIN_TABLE(3, PML4_MASTER) }, master_from };
static const struct ptab_window loc_window = {
    { WIN_TABLE(0, PML4_RECURSIVE), WIN_TABLE(1, PML4_RECURSIVE), WIN_TABLE(2, PML4_RECURSIVE),
      WIN_TABLE(3, PML4_RECURSIVE) }, loc_from };

/* After an update of pd's hpt that detached a table: if the window showed it (pd loaded here),
   drop this core's translations of pd's PCID, so that a later update in the same batch cannot
   reach a detached table through a stale window translation (the batch's shootdown covers the
   other cores; under pd_lock none of them updates a master table meanwhile). */
static void window_flush(struct pd *pd)
{
    struct cpu_local *c = this_cpu();
    if (!pd->mem.loc[c->id].root || !root_loaded(pd->mem.loc[c->id].root))
        return;
    c->counters.full_flushes++;
    c->counters.pt_window_flushes++;
    arch_root_swap(pd->mem.loc[c->id].root);
}
#endif

#ifdef PTCOUNT_1
#define SEEN_MAX 64                     /* distinct pages one operation is expected to reach */

/* The lab test build PTCOUNT=1: per core, the table pages (4 KiB) and TLB entries (2 MiB of
   the linear map, else 4 KiB) reached since the operation began (space_mem_count_begin). */
static struct seen {
    unsigned pages, entries;
    vaddr_t page[SEEN_MAX], entry[SEEN_MAX];
} seen[NUM_CPU];
static bool counting;                   /* from the first system call on: every core is up */

/* Add x to the set v[0..*n) (no room: counted as new each time); true if it was new. */
static bool seen_add(vaddr_t *v, unsigned *n, vaddr_t x)
{
    for (unsigned i = 0; i < *n && i < SEEN_MAX; i++)
        if (v[i] == x)
            return false;
    if (*n < SEEN_MAX)
        v[*n] = x;
    ++*n;
    return true;
}

/* The engine reached the table at table: count its page and TLB entry if new this operation. */
void ptab_touch(const void *table)
{
    if (!__atomic_load_n(&counting, __ATOMIC_RELAXED))
        return;                         /* boot: a core's data may not be mapped yet */
    struct cpu_local *c = this_cpu();
    struct seen *s = &seen[c->id];
    vaddr_t va = (vaddr_t)table;
    bool linear = va >= KERNEL_BASE && va < KERNEL_LINEAR_END;
    c->counters.pt_pages += seen_add(s->page, &s->pages, ALIGN_DOWN(va, PAGE_SIZE));
    c->counters.pt_tlb += seen_add(s->entry, &s->entries,
                                   ALIGN_DOWN(va, linear ? LARGE_SIZE : PAGE_SIZE));
}

/* PTCOUNT=1: a system call or page fault begins on this core (a new set of pages reached). */
void space_mem_count_begin(void)
{
    struct seen *s = &seen[this_cpu()->id];
    s->pages = s->entries = 0;
    __atomic_store_n(&counting, true, __ATOMIC_RELAXED);
}
#endif

/* Set up an empty memory space whose roots will use kdir; E_NOMEM. */
int space_mem_init(struct space_mem *m, paddr_t kdir)
{
    m->hpt_tables = 0;
    m->hpt_kept = SPACE_MEM_ROOT_FRAMES;    /* the root (and its kernel half's PDPT) */
    m->env = (struct ptab_env){ .ctx = m, .p2v = kmem_p2v, .lin = &kmem_linear,
                                .alloc = hpt_frame_alloc, .free = hpt_frame_free, .flush = NULL,
                                .trace = NULL };
#ifdef PTACCESS_recursive
    m->env.win = &master_window;
    container_of(m, struct pd, mem)->tables_env.win = &loc_window;  /* the per-core roots' */
#endif
    int err = ptab_init(&m->hpt, &ptab_hpt, &m->env, HPT_LEVELS, 0);
    if (err)
        return err;
    m->hpt.leaf_mask = hpt_leaf_mask();
    m->hpt.keep_level = HPT_LEVELS - 2;     /* top-level user entries are shared by loc[] */
#ifdef PTSYNC_shared
    /* One root per PD: every core loads hpt's root, which so takes the kernel half (a PDPT,
       counted in hpt_tables and kept while the PD lives). */
    if (kmem_root_init(&m->hpt, 0, kdir) != E_OK) {
        kmem_root_fini(&m->hpt);
        ptab_release(&m->hpt);
        return E_NOMEM;
    }
#endif
    cpuset_init(&m->htlb);
    m->pcid = pcid_assign(&m->htlb);
    mdb_space_init(&m->mdb, &space_mem_ops, m, USER_LIMIT / PAGE_SIZE);
    m->kdir = kdir;
    m->loc_roots = 0;
    cpuset_init(&m->rooted);
    m->dpt = NULL;
    m->nested = NULL;
    return E_OK;
}

/* dpt's frame source (ctx: the dpt): a table frame charged to its PD, counted in the dpt. */
static paddr_t dpt_frame_alloc(void *ctx)
{
    struct space_dpt *d = ctx;
    const struct ptab_env *env = &container_of(d->m, struct pd, mem)->tables_env;
    paddr_t pa = env->alloc(env->ctx);
    if (pa)
        d->tables++;
    return pa;
}

/* dpt's frame sink: the frame back to its PD's pool, uncharged. */
static void dpt_frame_free(void *ctx, paddr_t pa)
{
    struct space_dpt *d = ctx;
    const struct ptab_env *env = &container_of(d->m, struct pd, mem)->tables_env;
    d->tables--;
    env->free(env->ctx, pa);
}

/* A free domain id (marked used), 0 if none is left. */
static unsigned did_alloc(void)
{
    unsigned n = MIN(DID_MAX, iommu_domains());
    for (unsigned d = 1; d < n; d++)
        if (!(did_used[d / 64] & BIT(d % 64))) {
            did_used[d / 64] |= BIT(d % 64);
            return d;
        }
    return 0;
}

/* Give m its dpt (an empty root, a domain id) unless it has one; *built tells whether this
 * call made it. E_NOENT without an IOMMU, E_NOMEM (no heap memory, frame or domain id). */
int space_mem_dpt(struct space_mem *m, bool *built)
{
    *built = false;
    if (m->dpt)
        return E_OK;
    if (!iommu_present())
        return E_NOENT;
    struct kmalloc *heap = &container_of(m, struct pd, mem)->heap;
    struct space_dpt *d = kheap_alloc(heap, sizeof(*d));
    unsigned did = d ? did_alloc() : 0;
    if (!did) {
        if (d)
            kheap_free(heap, d);
        return E_NOMEM;
    }
    *d = (struct space_dpt){ .m = m, .did = did };
    d->env = (struct ptab_env){ .ctx = d, .p2v = kmem_p2v, .lin = &kmem_linear,
                                .alloc = dpt_frame_alloc,
                                .free = dpt_frame_free, .flush = iommu_cache_flush,
                                .trace = NULL };
    if (ptab_init(&d->t, &ptab_dpt, &d->env, iommu_dpt_levels(), iommu_dpt_caps()) != E_OK) {
        did_used[did / 64] &= ~BIT(did % 64);
        kheap_free(heap, d);
        return E_NOMEM;
    }
    d->t.leaf_mask = BIT(0);                /* 4 KiB leaves: a reduction never splits */
    m->dpt = d;
    *built = true;
    return E_OK;
}

/* Free m's dpt (no device assigned, nothing mapped in it) and its domain id. */
void space_mem_dpt_drop(struct space_mem *m)
{
    struct space_dpt *d = m->dpt;
    if (!d)
        return;
    ptab_release(&d->t);
    iommu_flush_domain((uint16_t)d->did);
    did_used[d->did / 64] &= ~BIT(d->did % 64);
    m->dpt = NULL;
    kheap_free(&container_of(m, struct pd, mem)->heap, d);
}

/* The nested table's frame source (ctx: it): charged to its PD, counted in the table. */
static paddr_t nested_frame_alloc(void *ctx)
{
    struct space_nested *n = ctx;
    const struct ptab_env *env = &container_of(n->m, struct pd, mem)->tables_env;
    paddr_t pa = env->alloc(env->ctx);
    if (pa)
        n->tables++;
    return pa;
}

/* The nested table's frame sink: the frame back to its PD's pool, uncharged. */
static void nested_frame_free(void *ctx, paddr_t pa)
{
    struct space_nested *n = ctx;
    const struct ptab_env *env = &container_of(n->m, struct pd, mem)->tables_env;
    n->tables--;
    env->free(env->ctx, pa);
}

/* Give m its nested table (an empty root in the CPU's nested format) unless it has one;
 * *built tells whether this call made it. E_NOENT without SVM/VMX, E_NOMEM. */
int space_mem_nested(struct space_mem *m, bool *built)
{
    *built = false;
    if (m->nested)
        return E_OK;
    if (virt_kind() == VIRT_NONE)
        return E_NOENT;
    struct kmalloc *heap = &container_of(m, struct pd, mem)->heap;
    struct space_nested *n = kheap_alloc(heap, sizeof(*n));
    if (!n)
        return E_NOMEM;
    *n = (struct space_nested){ .m = m };
    n->env = (struct ptab_env){ .ctx = n, .p2v = kmem_p2v, .alloc = nested_frame_alloc,
                                .free = nested_frame_free, .flush = NULL, .trace = NULL };
    if (ptab_init(&n->npt, virt_nested_fmt(), &n->env, virt_nested_levels(),
                  virt_nested_caps()) != E_OK) {
        kheap_free(heap, n);
        return E_NOMEM;
    }
    n->npt.leaf_mask = BIT(0);              /* 4 KiB leaves: a reduction never splits */
    n->npt.keep_level = 0;                  /* no table detaches: a guest may be walking it */
    m->nested = n;
    *built = true;
    return E_OK;
}

/* Free m's nested table (no vCPU uses it; everything unmapped from it, or never mapped). */
void space_mem_nested_drop(struct space_mem *m)
{
    struct space_nested *n = m->nested;
    if (!n)
        return;
    ptab_release(&n->npt);
    m->nested = NULL;
    kheap_free(&container_of(m, struct pd, mem)->heap, n);
}

/* Free a per-core root built by space_mem_loc_build (installed in no space_mem, or dropped);
   PTSYNC=shared: it names hpt's root, nothing to free. */
void space_mem_loc_discard(struct ptab *t)
{
#ifdef PTSYNC_shared
    (void)t;
#else
    kmem_root_fini(t);                              /* the root's kernel-half PDPT */
    ptab_release(t);
#endif
}

/* Free loc[cpu], if any. */
static void loc_drop(struct space_mem *m, unsigned cpu)
{
    if (!m->loc[cpu].root)
        return;
    space_mem_loc_discard(&m->loc[cpu]);
    cpuset_clr(&m->rooted, cpu);
    m->loc[cpu].root = 0;
#ifndef PTSYNC_shared
    m->loc_roots--;
#endif
}

/* Free all tables (caller has shot down the TLBs and unmapped everything through the mdb). */
void space_mem_destroy(struct space_mem *m)
{
    device_pd_gone(container_of(m, struct pd, mem));
    space_mem_dpt_drop(m);
    space_mem_nested_drop(m);
    for (unsigned c = 0; c < NUM_CPU; c++)
        loc_drop(m, c);
#ifdef PTSYNC_shared
    kmem_root_fini(&m->hpt);                /* the kernel half is the kernel's, but its PDPT */
#endif
    ptab_release(&m->hpt);
    pcid_release(m->pcid);
}

/* Build a root for core cpu in *t (PML4 + kernel PDPT with m's kdir, charged to m's PD), not
   installed: E_NOMEM. PTSYNC=shared: *t names hpt's root, which every core loads (no frame). */
int space_mem_loc_build(struct space_mem *m, unsigned cpu, struct ptab *t)
{
#ifdef PTSYNC_shared
    (void)cpu;
    *t = m->hpt;
    t->own_level = HPT_LEVELS;              /* owns no table: release frees nothing */
    return E_OK;
#endif
    if (ptab_init(t, &ptab_hpt, &container_of(m, struct pd, mem)->tables_env, HPT_LEVELS, 0) !=
        E_OK)
        return E_NOMEM;
    t->leaf_mask = m->hpt.leaf_mask;
    t->own_level = HPT_LEVELS - 1;          /* owns only its root; lower levels are hpt's */
    if (kmem_root_init(t, cpu, m->kdir) != E_OK) {
        space_mem_loc_discard(t);
        return E_NOMEM;
    }
#ifdef PTACCESS_recursive
    kmem_root_windows(t, m->hpt.root);
#endif
    return E_OK;
}

/* The lab switch PTSYNC=eager: copy the root entries over [va, +size) of the user region from
 * hpt into every per-core root m has, counted on this core. Root entries of the user half are
 * never taken out of hpt (keep_level), so a copy stays valid and two cores that copy the same
 * entry store the same value. */
static void eager_sync(struct space_mem *m, vaddr_t va, uint64_t size)
{
#ifdef PTSYNC_eager
    const vaddr_t span = PTAB_LEVEL_SIZE(HPT_LEVELS - 1);
    for (vaddr_t a = ALIGN_DOWN(va, span); a < va + size && a < USER_ADDR; a += span)
        for (unsigned c = 0; c < NUM_CPU; c++)
            if (cpuset_chk(&m->rooted, c) && ptab_sync_root(&m->loc[c], &m->hpt, a) == E_OK)
                this_cpu()->counters.eager_syncs++;
#else
    (void)m, (void)va, (void)size;
#endif
}

/* Make t (from space_mem_loc_build for cpu) m's root for core cpu, which has none (PTSYNC=eager:
 * then fill it with every user root entry of hpt). */
void space_mem_loc_install(struct space_mem *m, unsigned cpu, const struct ptab *t)
{
    ASSERT(!m->loc[cpu].root);
    m->loc[cpu] = *t;
#ifndef PTSYNC_shared
    m->loc_roots++;                     /* PTSYNC=shared: hpt's root, no root of the core's */
#endif
    cpuset_set(&m->rooted, cpu);        /* after the root: a shootdown that sees it asks cpu */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* a map after this sees cpu in rooted */
    eager_sync(m, 0, USER_ADDR);
}

/* Create loc[cpu], which does not exist yet: PML4 + kernel PDPT with the PD's kdir; E_NOMEM. */
int space_mem_loc_create(struct space_mem *m, unsigned cpu)
{
    struct ptab t;
    int err = space_mem_loc_build(m, cpu, &t);
    if (err == E_OK)
        space_mem_loc_install(m, cpu, &t);
    return err;
}

/* Load m's root for core c; keep m's PCID's TLB entries unless stale or shared. */
static void load_root(const struct space_mem *m, struct cpu_local *c, bool stale)
{
    paddr_t root = m->loc[c->id].root;
    if (!tlb_pcid || stale || m->pcid == PCID_SHARED) {
        c->counters.full_flushes++;
        arch_root_load(root, tlb_pcid ? m->pcid : 0, false);
        return;
    }
    c->counters.flushes_avoided++;
    arch_root_load(root, m->pcid, true);
}

/*
 * Lecture: Pd::make_current. If this core is marked stale for pd, clear the mark
 * and reload (flush); else if pd is already current, nothing to do; else load
 * pd's root for this core. The per-core root must exist (space_mem_loc before
 * the EC first runs here).
 */
void make_current(struct pd *pd)
{
    struct cpu_local *c = this_cpu();
    bool stale = cpuset_tst_clr(&pd->mem.htlb, c->id);
    struct pd *prev = c->pd;
    if (!stale && prev == pd)
        return;
    /* Publish current, then look at the mark again: a shootdown that marked us after
       the first look but read current before this store sent no IPI (Dekker pair
       with the fence in tlb_shootdown). Without PCID every load flushes anyway.
       Until the new root is in CR3 the previous PD's stays visible as pd_leaving, so a
       shootdown of it waits for this core instead of freeing tables its walker may use. */
    if (prev != pd)
        __atomic_store_n(&c->pd_leaving, prev, __ATOMIC_SEQ_CST);
    __atomic_store_n(&c->pd, pd, __ATOMIC_SEQ_CST);
    stale |= cpuset_tst_clr(&pd->mem.htlb, c->id);
    load_root(&pd->mem, c, stale);
    __atomic_store_n(&c->pd_leaving, NULL, __ATOMIC_RELEASE);
}

/* Leave this core's current PD (it is being destroyed): load the core's own root (its kernel
   tables, no user half, PCID 0), so that no walk of this core reaches the PD's tables. */
void make_current_none(void)
{
    struct cpu_local *c = this_cpu();
    struct pd *prev = c->pd;
    if (!prev)
        return;
    __atomic_store_n(&c->pd_leaving, prev, __ATOMIC_SEQ_CST);
    __atomic_store_n(&c->pd, NULL, __ATOMIC_SEQ_CST);
    c->counters.full_flushes++;
    arch_root_load(c->root, 0, false);
    __atomic_store_n(&c->pd_leaving, NULL, __ATOMIC_SEQ_CST);
}

/* The user region spans several root entries, so ptab_sync_level puts its entries at the root. */
_Static_assert(USER_ADDR - 1 >= PTAB_LEVEL_SIZE(HPT_LEVELS - 1), "user slots are root entries");

/* ptab_sync_root of loc[c] from hpt for addr: PTACCESS=recursive reads and writes both roots
   through the window when loc[c] is loaded (a fault of m's user code: always). */
static int sync_root(struct space_mem *m, struct cpu_local *c, vaddr_t addr)
{
#ifdef PTACCESS_recursive
    if (root_loaded(m->loc[c->id].root)) {
        unsigned i = ptab_index(addr, HPT_LEVELS - 1);
        c->counters.pt_window_ops++;
        return ptab_sync_entry(&m->loc[c->id], (const pte_t *)WIN_TABLE(3, PML4_MASTER) + i,
                               (pte_t *)WIN_TABLE(3, PML4_RECURSIVE) + i);
    }
#endif
    return ptab_sync_root(&m->loc[c->id], &m->hpt, addr);
}

/* Page fault at user address addr below USER_ADDR: sync loc[cpu] from hpt; true if resolved. */
bool space_mem_sync(struct space_mem *m, vaddr_t addr)
{
#ifdef PTSYNC_shared
    (void)m, (void)addr;
    return false;                       /* the core runs on hpt itself: nothing to copy */
#endif
    struct cpu_local *c = this_cpu();
    if (sync_root(m, c, addr) != E_OK)
        return false;
    c->counters.lazy_syncs++;
    return true;
}

/* Generic page-table permissions for MEM_* rights of a user page. */
static unsigned perm_of(unsigned rights)
{
    unsigned p = PTAB_U;
    p |= (rights & MEM_R) ? PTAB_R : 0;
    p |= (rights & MEM_W) ? PTAB_W : 0;
    p |= (rights & MEM_X) ? PTAB_XU : 0;
    return p;
}

/* MEM_* rights of generic page-table permissions (struct ptab_attr.perm). */
unsigned space_mem_rights(unsigned perm)
{
    return ((perm & PTAB_R) ? MEM_R : 0) | ((perm & PTAB_W) ? MEM_W : 0) |
           ((perm & PTAB_XU) ? MEM_X : 0);
}

/* Index of pd in b; a new entry (empty range, *added) after flushing b if it is full. */
static unsigned batch_enter(struct shootdown_batch *b, struct pd *pd, bool *added)
{
    unsigned i = 0;
    while (i < b->n && b->pd[i] != pd)
        i++;
    *added = i == b->n;
    if (!*added)
        return i;
    if (i == SHOOTDOWN_BATCH_PDS) {
        shootdown_batch_flush(b);           /* no slot left: shoot down (and free) what b has */
        i = 0;
    }
    b->n = i + 1;
    b->pd[i] = pd;
    b->lo[i] = ~(vaddr_t)0;
    b->hi[i] = 0;
    b->full[i] = false;
    b->tables[i] = 0;
    return i;
}

/* Quarantine (test build) the frames an update of pd put on b's df after the state (n0, chain0). */
static void batch_quarantine(struct shootdown_batch *b, struct pd *pd, unsigned n0, paddr_t chain0)
{
    for (unsigned k = n0; k < b->df.n; k++)
        quarantine_detached(&pd->mem, b->df.slot[k]);
    for (paddr_t f = b->df.chain; f && f != chain0; f = ptab_dfree_next(&kptab_env_tables, f))
        quarantine_detached(&pd->mem, f);
}

/*
 * Apply one update to pd's hpt with its flush noted in b (also for the part done before a
 * failure); *res what it did. E_NOMEM etc. from ptab_update. b is never NULL: every
 * update of a master table is shot down (and its detached tables freed) through a batch.
 */
static int batch_update(struct shootdown_batch *b, struct pd *pd, vaddr_t va, uint64_t size,
                        paddr_t pa, unsigned perm, struct ptab_result *res)
{
    ASSERT(b);
    struct ptab_attr a = { perm, perm && device_mmio(pa, size) ? PTAB_UC : PTAB_WB };
    bool added;
    if (b->df.n == PTAB_DFREE_SLOTS)
        shootdown_batch_flush(b);           /* room for detached tables */
    unsigned i = batch_enter(b, pd, &added);
    unsigned n0 = b->df.n;
    paddr_t chain0 = b->df.chain;
    size_t count0 = b->df.count;
    int err = ptab_update(&pd->mem.hpt, va, size, pa, a, &b->df, res);
#ifdef PTACCESS_recursive
    if (res->detached)
        window_flush(pd);
#endif
    pd->mem.hpt_tables -= b->df.count - count0;    /* detached: out of hpt */
    b->tables[i] += b->df.count - count0;           /* still charged to pd until freed */
    pd->mem.hpt_kept += res->rooted;    /* PDPTs: never detached (keep_level) */
    if (res->rooted) {                  /* root entries made: PTSYNC=eager copies them */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        eager_sync(&pd->mem, va, size);
    }
    batch_quarantine(b, pd, n0, chain0);
    if (res->flush || res->detached) {
        b->lo[i] = MIN(b->lo[i], va);
        b->hi[i] = MAX(b->hi[i], va + size);
        b->full[i] |= res->detached;
    } else if (added && b->df.count == count0) {
        b->n--;                            /* nothing to shoot down: the entry is the last one */
    }
    return err;
}

/* Apply one update to pd's hpt and note its flush (also of the part done before a failure);
   E_NOMEM only from a table allocation (E_ALIGN/E_RANGE would be a kernel bug upstream). */
static int hpt_try(struct shootdown_batch *b, struct pd *pd, vaddr_t va, uint64_t size, paddr_t pa,
                   unsigned perm)
{
    struct ptab_result res;
    int err = batch_update(b, pd, va, size, pa, perm, &res);
    if (!err && !res.flush && !res.detached)
        this_cpu()->counters.flushes_avoided++;     /* into a hole or an upgrade */
    return err;
}

/* Apply a mapping update to pd's hpt; the mdb's hooks must not fail (delegate reserved memory). */
static void hpt_update(struct shootdown_batch *b,
                       struct pd *pd, vaddr_t va, uint64_t size, paddr_t pa, unsigned perm)
{
    int err = hpt_try(b, pd, va, size, pa, perm);
    if (err)
        panic("space_mem: hpt update %lx+%lx failed (%d) after reservation", va, size, err);
}

/*
 * Reduce [va, +size) of pd's hpt to perm (0: unmap) when the update itself ran out of
 * memory: it had to split a large leaf that the range covers only in part, and a revoke
 * cannot reserve for that (one call may split any number of leaves in derived PDs).
 * Rule: hpt may hold less than the mapping database, never more. So every leaf the
 * range covers in full gets perm (one entry store, no allocation), and every leaf it
 * covers in part is removed whole (a whole aligned leaf is one store as well). The page
 * fault handler maps the pages the PD still holds again from the database
 * (space_mem_restore). Both kinds of update allocate nothing, so this cannot fail.
 */
static void hpt_drop(struct shootdown_batch *b, struct pd *pd, vaddr_t va, uint64_t size,
                     unsigned perm)
{
    vaddr_t end = va + size;
    while (va < end) {
        struct ptab_map m;
        bool mapped = ptab_lookup(&pd->mem.hpt, va, &m);
        vaddr_t stop = m.va + m.size;
        int err = E_OK;
        if (mapped && m.va >= va && stop <= end)
            err = hpt_try(b, pd, m.va, m.size, m.pa, perm);
        else if (mapped)
            err = hpt_try(b, pd, m.va, m.size, 0, 0);
        if (err)
            panic("space_mem: whole-leaf update %lx+%lx failed (%d)", m.va, m.size, err);
        va = stop;
    }
}

/* Reduce [va, +size) of pd's hpt to perm (0: unmap); never fails (hpt_drop without memory). */
static void hpt_reduce(struct shootdown_batch *b,
                       struct pd *pd, vaddr_t va, uint64_t size, paddr_t pa, unsigned perm)
{
    __atomic_add_fetch(&pd->mem.reductions, 1, __ATOMIC_RELEASE);
    int err = hpt_try(b, pd, va, size, pa, perm);
    if (err == E_NOMEM)
        hpt_drop(b, pd, va, size, perm);
    else if (err)
        panic("space_mem: hpt reduce %lx+%lx failed (%d)", va, size, err);
}

/* The PD whose memory space is s. */
static struct pd *pd_of(struct mdb_space *s)
{
    return container_of((struct space_mem *)s->owner, struct pd, mem);
}

/* The PD of a map, protect or unmap hook on s with batch b, which must be a batch: what the
   hook changes in the master table waits in it for the caller's flush. */
static struct pd *hook_pd(struct mdb_space *s, struct shootdown_batch *b)
{
    ASSERT(b);
    return pd_of(s);
}

/* Dpt permissions for MEM_* rights: none without MEM_D. */
static unsigned dperm_of(unsigned rights)
{
    if (!(rights & MEM_D))
        return 0;
    return PTAB_R | ((rights & MEM_W) ? PTAB_W : 0);
}

/* Apply one update to m's dpt, then invalidate the IOTLB of its domain (also for a new
   translation: in caching mode a unit may cache a not-present one) and free the tables it
   detached. 4 KiB leaves: a reduction takes no memory; a mapping's tables were checked for. */
static void dpt_update(struct space_dpt *d, vaddr_t va, uint64_t size, paddr_t pa, unsigned perm)
{
    struct ptab_dfree df;
    struct ptab_result res;
    ptab_dfree_init(&df);
    int err = ptab_update(&d->t, va, size, pa, (struct ptab_attr){ perm, PTAB_WB }, &df, &res);
    iommu_flush_domain((uint16_t)d->did);
    ptab_dfree_release(&df, &d->env);
    if (err)
        panic("space_mem: dpt update %lx+%lx failed (%d)", va, size, err);
}

/* Nested-table permissions for MEM_* rights: none without MEM_G; user (Npt walks are user
   accesses), readable, writable with MEM_W, executable with MEM_X. */
static unsigned nperm_of(unsigned rights)
{
    if (!(rights & MEM_G))
        return 0;
    return PTAB_U | PTAB_R | ((rights & MEM_W) ? PTAB_W : 0) |
           ((rights & MEM_X) ? PTAB_XU | PTAB_XS : 0);
}

/* Apply one update to pd's nested table and free the tables it detached; a reduction counts
   in nested_gen and puts pd in b, so that the shootdown forces its vCPUs out of the guest on
   every core running pd before b's flush returns (they flush the nested TLB at their next
   entry). 4 KiB leaves: a reduction takes no memory; a mapping's tables were checked for. */
static void nested_update(struct shootdown_batch *b, struct pd *pd, vaddr_t va, uint64_t size,
                          paddr_t pa, unsigned perm)
{
    struct space_nested *n = pd->mem.nested;
    struct ptab_dfree df;
    struct ptab_result res;
    ptab_dfree_init(&df);
    struct ptab_attr a = { perm, perm && device_mmio(pa, size) ? PTAB_UC : PTAB_WB };
    int err = ptab_update(&n->npt, va, size, pa, a, &df, &res);
    if (res.flush || res.detached) {
        __atomic_add_fetch(&n->gen, 1, __ATOMIC_SEQ_CST);
        bool added;
        unsigned i = batch_enter(b, pd, &added);
        b->lo[i] = MIN(b->lo[i], va);
        b->hi[i] = MAX(b->hi[i], va + PAGE_SIZE);
    }
    ASSERT(df.count == 0);              /* keep_level 0: nothing detached */
    if (err)
        panic("space_mem: nested update %lx+%lx failed (%d)", va, size, err);
}

/* Reduce [va, end) of pd's nested table to MEM_* rights (each 4 KiB leaf with its frame). */
static void nested_reduce(struct shootdown_batch *b, struct pd *pd, vaddr_t va, vaddr_t end,
                          unsigned rights)
{
    struct space_nested *n = pd->mem.nested;
    unsigned perm = nperm_of(rights);
    if (!n)
        return;
    while (va < end) {
        struct ptab_map map;
        bool mapped = ptab_lookup(&n->npt, va, &map);
        vaddr_t stop = MIN(end, map.va + map.size);
        if (mapped && map.attr.perm != perm)
            nested_update(b, pd, va, stop - va, perm ? map.pa + (va - map.va) : 0, perm);
        va = stop;
    }
}

/* mdb hook: map pages [base, +size) -> physical pages target.. with rights (with MEM_D also in
   dpt, with MEM_G in the nested table); flush noted in b. */
static void mem_map(struct mdb_space *s, struct shootdown_batch *b, uint64_t base, uint64_t size,
                    uint64_t target, unsigned rights)
{
    struct pd *pd = hook_pd(s, b);
    hpt_update(b, pd, base << PAGE_SHIFT, size << PAGE_SHIFT, target << PAGE_SHIFT,
               perm_of(rights));
    if ((rights & MEM_D) && pd->mem.dpt)
        dpt_update(pd->mem.dpt, base << PAGE_SHIFT, size << PAGE_SHIFT, target << PAGE_SHIFT,
                   dperm_of(rights));
    if ((rights & MEM_G) && pd->mem.nested)
        nested_update(b, pd, base << PAGE_SHIFT, size << PAGE_SHIFT, target << PAGE_SHIFT,
                      nperm_of(rights));
}

/* Does d map a page of [va, end)? (Holes are skipped whole.) */
static bool dpt_holds(const struct space_dpt *d, vaddr_t va, vaddr_t end)
{
    while (va < end) {
        struct ptab_map map;
        if (ptab_lookup(&d->t, va, &map))
            return true;
        va = map.va + map.size;
    }
    return false;
}

/* Reduce [va, end) of m's dpt to MEM_* rights: removed without MEM_D, read-only without MEM_W
   (each 4 KiB leaf with its frame); the IOTLB invalidated before the return. */
static void dpt_reduce(struct space_mem *m, vaddr_t va, vaddr_t end, unsigned rights)
{
    unsigned perm = dperm_of(rights);
    struct space_dpt *d = m->dpt;
    if (!d)
        return;
    end = MIN(end, (vaddr_t)ptab_span(&d->t));  /* nothing is mapped beyond what dpt spans */
    if (va >= end)
        return;
    if (!perm || perm == (PTAB_R | PTAB_W)) {
        if (!perm && dpt_holds(d, va, end))
            dpt_update(d, va, end - va, 0, 0);
        return;
    }
    while (va < end) {
        struct ptab_map map;
        bool mapped = ptab_lookup(&d->t, va, &map);
        vaddr_t stop = MIN(end, map.va + map.size);
        if (mapped && map.attr.perm != perm)
            dpt_update(d, va, stop - va, map.pa + (va - map.va), perm);
        va = stop;
    }
}

/* mdb hook: reduce [base, +size) to rights (frames from the current mappings); flush in b. */
static void mem_protect(struct mdb_space *s, struct shootdown_batch *b, uint64_t base,
                        uint64_t size, unsigned rights)
{
    struct pd *pd = hook_pd(s, b);
    vaddr_t va = base << PAGE_SHIFT, end = (base + size) << PAGE_SHIFT;
    while (va < end) {
        struct ptab_map m;
        bool mapped = ptab_lookup(&pd->mem.hpt, va, &m);
        vaddr_t stop = MIN(end, m.va + m.size);
        if (mapped)
            hpt_reduce(b, pd, va, stop - va, m.pa + (va - m.va), perm_of(rights));
        va = stop;
    }
    dpt_reduce(&pd->mem, base << PAGE_SHIFT, end, rights);
    nested_reduce(b, pd, base << PAGE_SHIFT, end, rights);
}

/* mdb hook: remove [base, +size); flush and detached tables noted in b. */
static void mem_unmap(struct mdb_space *s, struct shootdown_batch *b, uint64_t base, uint64_t size)
{
    struct pd *pd = hook_pd(s, b);
    hpt_reduce(b, pd, base << PAGE_SHIFT, size << PAGE_SHIFT, 0, 0);
    dpt_reduce(&pd->mem, base << PAGE_SHIFT, (base + size) << PAGE_SHIFT, 0);
    nested_reduce(b, pd, base << PAGE_SHIFT, (base + size) << PAGE_SHIFT, 0);
}

/* Pool frames that mapping n pages may need for page tables (upper bound per level). */
static size_t table_bound(uint64_t n)
{
    return (size_t)(n / 512 + 2 + n / (512 * 512) + 2 + n / (512UL * 512 * 512) + 2);
}

/* mdb hook (reserve), a check that sets nothing aside: E_OK if s's PD can still be charged
   the tables mapping [base, +size) may need and the pool holds them (the delegation's nodes
   are already taken), else E_NOMEM. Sound because the caller holds pd_lock from this check to
   the perform's map hooks, and after boot only pd_lock's holder takes frames from the pool. A
   PD with a quota of its own needs no margin: the pool holds every frame its quota can still
   be charged. */
static int mem_tables_room(struct mdb_space *s, uint64_t base, uint64_t size)
{
    (void)base;
    const struct quota *q = &pd_of(s)->quota;
    size_t need = table_bound(size) + (q->payer->parent ? 0 : RESERVE_MARGIN);
    return quota_room(q) >= need && kframes_free_total() >= need ? E_OK : E_NOMEM;
}

/* Do pages [va, +pages) lie within the addresses a dpt translates: E_OK, else E_RANGE. */
int space_mem_dpt_span(uint64_t va, uint64_t pages)
{
    uint64_t limit = iommu_dpt_span();
    return va >= limit || pages > (limit - va) / PAGE_SIZE ? E_RANGE : E_OK;
}

/* Can pages [va, +pages) be mapped in m's hpt and also in its dpt (dma) and its nested table
   (guest): E_NOMEM if m's PD cannot be charged every table's bound together and, with dma and
   no dpt yet, the dpt's root (a check under pd_lock, as mem_tables_room's). */
int space_mem_side_room(const struct space_mem *m, uint64_t pages, bool dma, bool guest)
{
    const struct quota *q = &container_of(m, struct pd, mem)->quota;
    size_t need = (1 + (size_t)dma + (size_t)guest) * table_bound(pages) +
                  (dma && !m->dpt ? 1 : 0) + (q->payer->parent ? 0 : RESERVE_MARGIN);
    return quota_room(q) >= need && kframes_free_total() >= need ? E_OK : E_NOMEM;
}

const struct mdb_ops space_mem_ops = { mem_map, mem_protect, mem_unmap, mem_tables_room };

/*
 * Flush b: shoot down every PD it holds (each over its changed range, or whole if it lost
 * a table), then free its detached tables; b is empty afterwards. Every frame on b's df
 * was detached from the master table of a PD in b, so the shootdowns cover every frame.
 */
void shootdown_batch_flush(struct shootdown_batch *b)
{
    for (unsigned i = 0; i < b->n; i++) {
        /* One range per PD: its bounding box (INVLPG covers superpages it touches). */
        struct tlb_range r = { b->lo[i], (b->hi[i] - b->lo[i]) / PAGE_SIZE, b->full[i] };
        tlb_shootdown(b->pd[i], &r);
    }
    this_cpu()->counters.tables_freed += b->df.count;
    ptab_dfree_release(&b->df, &kptab_env_tables);    /* every frame was a PD's hpt table */
    for (unsigned i = 0; i < b->n; i++)
        quota_uncharge(&b->pd[i]->quota, b->tables[i]);
    for (unsigned i = 0; i < b->n; i++)
        quarantine_check_roots(&b->pd[i]->mem);
    b->n = 0;
}

/* Map pages [va, va+size) -> pa with MEM_* rights in hpt (no mdb); flush and detached tables
 * noted in b (the caller flushes it). E_NOMEM and the other statuses of ptab_update. */
int space_mem_map(struct shootdown_batch *b, struct space_mem *m, vaddr_t va, uint64_t size,
                  paddr_t pa, unsigned rights)
{
    struct ptab_result res;
    return batch_update(b, container_of(m, struct pd, mem), va, size, pa, perm_of(rights),
                        &res);
}

/*
 * Page fault at va needing MEM_* rights need that hpt cannot serve: if hpt has nothing
 * at va but the mapping database says m holds the page with need, map that one page
 * again (4 KiB, the database's frame and rights) and shoot down what the update
 * changed, through b (pd_lock's holder's, empty; flushed again before the return). Caller
 * holds pd_lock. False if m does not hold the page so, if hpt has a mapping there, or if
 * there is no memory for the tables (nothing changed then).
 */
bool space_mem_restore(struct shootdown_batch *b, struct space_mem *m, vaddr_t va, unsigned need)
{
    struct mdb_info in;
    struct ptab_map map;
    vaddr_t page = ALIGN_DOWN(va, PAGE_SIZE);
    if (ptab_lookup(&m->hpt, page, &map))   /* restored meanwhile by another core, or held */
        return (space_mem_rights(map.attr.perm) & need) == need;   /* fewer rights: no restore */
    if (mdb_lookup(&m->mdb, page >> PAGE_SHIFT, &in) != E_OK || (in.rights & need) != need)
        return false;
    paddr_t pa = (in.target + ((page >> PAGE_SHIFT) - in.base)) << PAGE_SHIFT;
    int err = hpt_try(b, container_of(m, struct pd, mem), page, PAGE_SIZE, pa, perm_of(in.rights));
    shootdown_batch_flush(b);               /* tables a failed update detached again */
    if (err)
        return false;
    this_cpu()->counters.mdb_remaps++;
    return true;
}

/* Table frames the master hpt holds (root included), counted by walking every table. */
size_t space_mem_hpt_tables(const struct space_mem *m)
{
#ifdef PTSYNC_shared
    return ptab_tables(&m->hpt) - kmem_root_kernel_tables(&m->hpt);  /* the PDPT is m's */
#else
    return ptab_tables(&m->hpt);
#endif
}

/* Table frames the master hpt holds (root included), from the counter its updates keep: O(1). */
size_t space_mem_hpt_count(const struct space_mem *m)
{
    return m->hpt_tables;
}

/* Tables of m's hpt at the kept levels (root, PDPTs): they stay while the PD lives. O(1). */
size_t space_mem_hpt_kept(const struct space_mem *m)
{
    return m->hpt_kept;
}

/* Pool frames of m: master tables and per-core roots (PD_LOC_ROOT_FRAMES each). */
size_t space_mem_frames(const struct space_mem *m)
{
    size_t dpt = m->dpt ? m->dpt->tables : 0;
    size_t nested = m->nested ? m->nested->tables : 0;
    return m->hpt_tables + dpt + nested + (size_t)m->loc_roots * PD_LOC_ROOT_FRAMES;
}

/* Whether the mapping of hpt at va grants every right in need (MEM_*). */
bool space_mem_allows(const struct space_mem *m, vaddr_t va, unsigned need)
{
    struct ptab_map map;
    return ptab_lookup(&m->hpt, va, &map) && (space_mem_rights(map.attr.perm) & need) == need;
}
