/*
 * Self-checks of Space_mem (command-line word "selftest"): the lecture's
 * make_current and the lazy sync of per-core roots, on a scratch PD.
 */
#include "pd.h"
#include "arch.h"
#include "frame.h"
#include "kmalloc.h"
#include "kalloc_far.h"
#include "paging.h"
#include "selftest.h"
#include "tlb.h"

static struct shootdown_batch check_batch;  /* the self-checks' updates (one check at a time) */

#define CHECK_VA  0x40000000UL          /* 1 GiB: PML4 slot 0 */
#define OTHER_VA  0x8000000000UL        /* 512 GiB: PML4 slot 1 */

/* A scratch PD with a per-core root for this core, after one warm-up PD (shared pages). */
static struct pd *scratch_pd(size_t *free_before)
{
    struct pd *warm = pd_create(NULL, PD_QUOTA_KERNEL);
    if (warm)
        pd_destroy_empty(warm);
    *free_before = kernel_pool.nfree;
    struct pd *pd = pd_create(NULL, PD_QUOTA_KERNEL);
    if (pd && space_mem_loc(&pd->mem, cpu_id()) != E_OK) {
        pd_destroy_empty(pd);
        return NULL;
    }
    return pd;
}

/* CR3 loads done by make_current: flushing ones, and no-flush ones (PCID). */
static uint64_t cr3_loads(const struct cpu_local *c)
{
    return c->counters.full_flushes + c->counters.flushes_avoided;
}

#ifdef PTSYNC_shared
SELFTEST(ptsync_shared_gives_every_core_the_master_root_with_its_kernel_half_and_no_frame)
{
    size_t before;
    struct pd *pd = scratch_pd(&before);
    if (!pd)
        return SELFTEST_FAIL("out of memory");
    size_t frames = space_mem_frames(&pd->mem);
    unsigned same = 0;
    for (unsigned c = 0; c < smp_cpus.count; c++)
        same += space_mem_loc(&pd->mem, c) == E_OK && pd->mem.loc[c].root == pd->mem.hpt.root &&
                cpuset_chk(&pd->mem.rooted, c);
    bool grew = space_mem_frames(&pd->mem) != frames || pd->mem.loc_roots;
    struct ptab_map m;
    bool kernel = kmem_lookup(pd->mem.hpt.root, CORE_STACK_TOP(smp_cpus.count - 1) - PAGE_SIZE, &m);
    bool local = kmem_lookup(pd->mem.hpt.root, CPU_LOCAL, &m);
    pd_destroy_empty(pd);
    if (same != smp_cpus.count)
        return SELFTEST_FAIL("%u of %u cores got the master's root", same, smp_cpus.count);
    if (grew)
        return SELFTEST_FAIL("a core's first root cost frames (%lu)", (unsigned long)frames);
    if (!kernel || local)
        return SELFTEST_FAIL("the master's kernel half: stacks %d, core-local slot %d", kernel,
                             local);
    if (kernel_pool.nfree != before)
        return SELFTEST_FAIL("leaked %ld frames", (long)(before - kernel_pool.nfree));
    return true;
}
#endif

SELFTEST(make_current_reloads_only_when_the_pd_changes_or_is_marked_stale)
{
    struct cpu_local *c = this_cpu();
    struct pd *prev = c->pd;
    size_t before;
    struct pd *pd = scratch_pd(&before);
    if (!pd)
        return SELFTEST_FAIL("out of memory");
    uint64_t f0 = cr3_loads(c);
    make_current(pd);
    bool loaded = c->pd == pd && arch_root_loaded() == pd->mem.loc[c->id].root;
    uint64_t f1 = cr3_loads(c);
    make_current(pd);
    uint64_t f2 = cr3_loads(c);
    cpuset_set(&pd->mem.htlb, c->id);
    make_current(pd);
    uint64_t f3 = cr3_loads(c);
    bool cleared = !cpuset_chk(&pd->mem.htlb, c->id);
    /* Back to what ran before (the core's own root at boot). */
    c->pd = prev;
    arch_root_load(prev ? prev->mem.loc[c->id].root : c->root, 0, false);
    pd_destroy_empty(pd);
    if (!loaded || f1 != f0 + 1)
        return SELFTEST_FAIL("first make_current did not load the PD's root");
    if (f2 != f1)
        return SELFTEST_FAIL("make_current of the current PD reloaded CR3");
    if (f3 != f2 + 1 || !cleared)
        return SELFTEST_FAIL("a stale mark did not force one reload and get cleared");
    if (kernel_pool.nfree != before)
        return SELFTEST_FAIL("leaked %ld frames", (long)(before - kernel_pool.nfree));
    return true;
}

SELFTEST(a_lazy_sync_copies_one_top_level_entry_once_and_is_counted)
{
    struct cpu_local *c = this_cpu();
    size_t before;
    struct pd *pd = scratch_pd(&before);
    paddr_t page = kframe_alloc();
    if (!pd || !page ||
        space_mem_map(&check_batch, &pd->mem, CHECK_VA, PAGE_SIZE, page, MEM_R | MEM_W) != E_OK)
        return SELFTEST_FAIL("out of memory");
    uint64_t s0 = c->counters.lazy_syncs;
    bool first = space_mem_sync(&pd->mem, CHECK_VA);
    bool again = space_mem_sync(&pd->mem, CHECK_VA);
    bool same_slot = space_mem_sync(&pd->mem, CHECK_VA + GiB(1));
    bool empty_slot = space_mem_sync(&pd->mem, OTHER_VA);
    uint64_t s1 = c->counters.lazy_syncs;
    const pte_t *loc = kmem_ptr(pd->mem.loc[c->id].root, HPT_LEVELS - 1);
    const pte_t *hpt = kmem_ptr(pd->mem.hpt.root, PTAB_SLOT_LINK);
    bool shared = loc[0] == hpt[0] && loc[1] == 0;
    space_mem_map(&check_batch, &pd->mem, CHECK_VA, PAGE_SIZE, 0, 0);
    shootdown_batch_flush(&check_batch);
    kframe_free(page);
    pd_destroy_empty(pd);
#if defined(PTSYNC_eager)
    const bool lazy = false;    /* the map copied the entry into loc[cpu]: no sync is left */
#elif defined(PTSYNC_shared)
    const bool lazy = false;    /* loc[cpu] is hpt's root: no entry to copy, no fault to take */
#else
    const bool lazy = true;
#endif
    if (first != lazy || again || same_slot || empty_slot)
        return SELFTEST_FAIL("syncs: first %d, again %d, same slot %d, empty slot %d", first, again,
                             same_slot, empty_slot);
    if (s1 != s0 + lazy)
        return SELFTEST_FAIL("%lu lazy syncs counted, want %d", (unsigned long)(s1 - s0), lazy);
    if (!shared)
        return SELFTEST_FAIL("loc[cpu] does not hold exactly the master's top-level entry");
    if (kernel_pool.nfree != before)
        return SELFTEST_FAIL("leaked %ld frames", (long)(before - kernel_pool.nfree));
    return true;
}

static paddr_t watched_table;           /* frame the shootdown hook checks */
static unsigned hook_calls;
static bool watched_was_free;

/* tlb_shootdown_hook: note whether the watched table is back in the pool already. */
static void watch_table(struct pd *pd)
{
    (void)pd;
    hook_calls++;
    watched_was_free |= kframe_is_free(watched_table);
}

/* Frame of the page table (level 0) that maps va in m's master table, 0 if there is none. */
static paddr_t pt_of(const struct space_mem *m, vaddr_t va)
{
    unsigned l;
    pte_t e = ptab_entry_load(ptab_walk(&m->hpt, va, 1, false, &l));
    return l == 1 && ptab_entry_is_table(&m->hpt, 1, e) ? ptab_entry_frame(&m->hpt, 1, e) : 0;
}

SELFTEST(a_table_detached_by_an_unmap_is_freed_only_after_the_shootdown)
{
    struct cpu_local *c = this_cpu();
    size_t before;
    struct pd *pd = scratch_pd(&before);
    paddr_t page = kframe_alloc();
    if (!pd || !page ||
        space_mem_map(&check_batch, &pd->mem, CHECK_VA, PAGE_SIZE, page, MEM_R) != E_OK)
        return SELFTEST_FAIL("out of memory");
    watched_table = pt_of(&pd->mem, CHECK_VA);
    hook_calls = 0;
    watched_was_free = false;
    uint64_t t0 = c->counters.tables_freed;
    tlb_shootdown_hook = watch_table;
    space_mem_map(&check_batch, &pd->mem, CHECK_VA, MiB(2), 0, 0);  /* the whole PT goes away */
    shootdown_batch_flush(&check_batch);
    tlb_shootdown_hook = NULL;
    bool free_after = kframe_is_free(watched_table);
    uint64_t freed = c->counters.tables_freed - t0;
    kframe_free(page);
    pd_destroy_empty(pd);
    if (hook_calls != 1)
        return SELFTEST_FAIL("%u shootdowns for one unmap, want 1", hook_calls);
    if (watched_was_free)
        return SELFTEST_FAIL("the detached table was free during the shootdown");
    if (!free_after || freed < 1)
        return SELFTEST_FAIL("the detached table was not freed after it (%lu freed)",
                             (unsigned long)freed);
    if (kernel_pool.nfree != before)
        return SELFTEST_FAIL("leaked %ld frames", (long)(before - kernel_pool.nfree));
    return true;
}

#define MANY_PDS 40                     /* more than twice a batch (SHOOTDOWN_BATCH_PDS) */
static struct pd *many_pd[MANY_PDS];
static paddr_t many_table[MANY_PDS];
static unsigned many_early;             /* shootdowns that found their PD's table free already */

/* tlb_shootdown_hook: the table detached from this PD must still be allocated. */
static void watch_many(struct pd *pd)
{
    for (unsigned i = 0; i < MANY_PDS; i++)
        if (many_pd[i] == pd && frame_is_free(&kernel_pool, many_table[i]))
            many_early++;
}

/* many_pd[0..MANY_PDS): first, then new PDs, each mapping page at CHECK_VA through a PT of its
   own (many_table[i]); false if out of memory (many_pd holds the PDs made so far). */
static bool many_pds_map(struct pd *first, paddr_t page)
{
    bool ok = first && page;
    for (unsigned i = 0; i < MANY_PDS; i++) {
        many_pd[i] = i == 0 ? first : ok ? pd_create(NULL, PD_QUOTA_KERNEL) : NULL;
        ok = ok && many_pd[i] &&
             space_mem_map(&check_batch, &many_pd[i]->mem, CHECK_VA, PAGE_SIZE, page, MEM_R) ==
             E_OK;
        many_table[i] = ok ? pt_of(&many_pd[i]->mem, CHECK_VA) : 0;
    }
    shootdown_batch_flush(&check_batch);
    return ok;
}

/* Unmap CHECK_VA in every many_pd in one batch, watching each shootdown (many_early); the
   tables freed. */
static uint64_t many_pds_unmap(void)
{
    many_early = 0;
    uint64_t t0 = this_cpu()->counters.tables_freed;
    tlb_shootdown_hook = watch_many;
    for (unsigned i = 0; i < MANY_PDS; i++)
        /* its only entry: the PT is detached */
        space_mem_map(&check_batch, &many_pd[i]->mem, CHECK_VA, PAGE_SIZE, 0, 0);
    shootdown_batch_flush(&check_batch);
    tlb_shootdown_hook = NULL;
    return this_cpu()->counters.tables_freed - t0;
}

SELFTEST(one_flush_over_more_pds_than_a_batch_holds_frees_each_table_after_its_shootdown)
{
    size_t before;
    struct pd *first = scratch_pd(&before);
    paddr_t page = kframe_alloc();
    bool ok = many_pds_map(first, page);
    uint64_t freed = ok ? many_pds_unmap() : 0;
    for (unsigned i = 0; i < MANY_PDS; i++)
        if (many_pd[i])
            pd_destroy_empty(many_pd[i]);
    if (page)
        kframe_free(page);
    if (!ok)
        return SELFTEST_FAIL("out of memory");
    if (many_early)
        return SELFTEST_FAIL("%u of %u PDs' detached tables were free before their shootdown",
                             many_early, MANY_PDS);
    if (freed < MANY_PDS)
        return SELFTEST_FAIL("%lu tables freed, want %u", (unsigned long)freed, MANY_PDS);
    if (kernel_pool.nfree != before)
        return SELFTEST_FAIL("leaked %ld frames", (long)(before - kernel_pool.nfree));
    return true;
}
