/* Page-table frames of PDs from the far pool (see include/kalloc_far.h). */
#include "kalloc_far.h"
#include "arch.h"
#include "frame.h"
#include "kmalloc.h"
#include "kstring.h"
#include "quarantine.h"
#include "selftest.h"
#include "spinlock.h"

static struct spinlock far_lock = SPINLOCK_INIT;

/* Is pa a frame of the far pool? */
static bool in_far(paddr_t pa)
{
    return pa >= far_pool.base && (pa - far_pool.base) / PAGE_SIZE < far_pool.nframes;
}

/* A zeroed far frame (zeroed through the window), 0 if the far pool has none. */
static paddr_t far_alloc(void)
{
    paddr_t pa;
    if (!__atomic_load_n(&far_pool.nfree, __ATOMIC_RELAXED))
        return 0;
    mword fl = irq_save();
    spin_lock(&far_lock);
    int err = frame_alloc(&far_pool, 1, 0, &pa);
    if (!err)
        quarantine_on_alloc(pa, 1);
    spin_unlock(&far_lock);
    irq_restore(fl);
    if (err)
        return 0;
    memset(kmem_ptr(pa, TMAP_SLOT_FRESH), 0, PAGE_SIZE);
    return pa;
}

/* env->alloc: a zeroed far frame, else a pool frame, counted as a PD's; 0 if neither. */
static paddr_t tables_alloc(void *ctx)
{
    paddr_t pa = far_alloc();
    if (!pa)
        return kptab_env_pd.alloc(ctx);
    kframe_account(1);
    return pa;
}

/* env->free: give a table frame back to the pool it came from. */
static void tables_free(void *ctx, paddr_t pa)
{
    if (!in_far(pa)) {
        kptab_env_pd.free(ctx, pa);
        return;
    }
    mword fl = irq_save();
    spin_lock(&far_lock);
    quarantine_on_free(pa, 1);
    frame_free(&far_pool, pa, 1);
    spin_unlock(&far_lock);
    irq_restore(fl);
    kframe_account(-1);
}

const struct ptab_env kptab_env_tables = {
    .ctx = NULL, .p2v = kmem_p2v, .lin = &kmem_linear, .alloc = tables_alloc,
    .free = tables_free, .flush = NULL, .trace = NULL,
};

/* Free frames of the kernel pool and the far pool together. */
size_t kframes_free_total(void)
{
    return __atomic_load_n(&kernel_pool.nfree, __ATOMIC_RELAXED) +
           __atomic_load_n(&far_pool.nfree, __ATOMIC_RELAXED);
}

/* Is pa a free frame of the kernel pool or of the far pool? */
bool kframe_is_free(paddr_t pa)
{
    return in_far(pa) ? frame_is_free(&far_pool, pa) : frame_is_free(&kernel_pool, pa);
}

SELFTEST(page_tables_come_from_the_far_pool_outside_the_linear_map_and_go_back_to_it)
{
    paddr_t far_end = far_pool.base + far_pool.nframes * PAGE_SIZE;
    for (unsigned i = 0; i < kernel_pool.nuser; i++)
        if (kernel_pool.user[i].start < far_end && far_pool.base < kernel_pool.user[i].end)
            return SELFTEST_FAIL("user memory [%lx, %lx) overlaps the far pool",
                                 kernel_pool.user[i].start, kernel_pool.user[i].end);
    size_t far0 = far_pool.nfree, pool0 = kernel_pool.nfree;
    uint64_t held0 = kframe_pd_frames();
    paddr_t pa = kptab_env_tables.alloc(NULL);
    if (!pa)
        return SELFTEST_FAIL("out of memory");
    uint64_t *w = kptab_env_tables.p2v(NULL, pa, 0);
    bool zero = true;
    for (unsigned i = 0; i < PTAB_ENTRIES; i++)
        zero &= w[i] == 0;
    w[1] = pa;
    bool far = in_far(pa), linear = kmem_in_pool(pa, PAGE_SIZE);
    bool seen = ((const uint64_t *)kmem_ptr(pa, PTAB_SLOT_LINK))[1] == pa;
    bool held = kframe_pd_frames() == held0 + 1;
    kptab_env_tables.free(NULL, pa);
    if (!zero || !seen || !held)
        return SELFTEST_FAIL("table frame %lx: zeroed %d, seen in another slot %d, held %d", pa,
                             zero, seen, held);
    if (far0 && (!far || linear || far_pool.nfree != far0 || kernel_pool.nfree != pool0))
        return SELFTEST_FAIL("frame %lx: far %d, linear %d; far pool %lu -> %lu free", pa, far,
                             linear, (unsigned long)far0, (unsigned long)far_pool.nfree);
    if (!far0 && (far || !linear))
        return SELFTEST_FAIL("without a far pool the frame %lx is not a pool frame", pa);
    return kframe_pd_frames() == held0 ? true : SELFTEST_FAIL("the frame is still held");
}
