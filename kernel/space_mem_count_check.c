/*
 * Self-check of the frame books of Space_mem (command-line word "selftest"): the table
 * counters that hpt's updates keep (pd_info.hpt_tables and hpt_kept, read in O(1)) equal a
 * walk of the tables, pool_free + pd_frames stays constant, and once everything is unmapped
 * only the kept tables (root, PDPTs) are left, through pseudo-random maps, protects and
 * unmaps of a scratch PD that make and split 2 MiB and 1 GiB leaves, detach tables and
 * collapse them, in three 512 GiB regions.
 */
#include "pd.h"
#include "frame.h"
#include "kmalloc.h"
#include "kalloc_far.h"
#include "arch.h"
#include "selftest.h"

static struct shootdown_batch check_batch;  /* the self-check's updates (one check at a time) */

#define OPS          400                /* random updates */
#define REGIONS      3                  /* 512 GiB regions the updates touch */
#define REGION_SIZE  GiB(512)
#define LCG_MUL      6364136223846793005UL  /* Knuth's MMIX linear congruential generator */
#define LCG_ADD      1442695040888963407UL

/* Next value of the generator state *s. */
static uint64_t lcg(uint64_t *s)
{
    *s = *s * LCG_MUL + LCG_ADD;
    return *s >> 33;
}

/* ptab_visit: count a table entry of the top level in *arg (a size_t); descend into none. */
static bool count_top_table(void *arg, const struct ptab_entry *e)
{
    *(size_t *)arg += !e->leaf;
    return false;
}

/* Tables at the kept levels, by looking: the root and a PDPT per present top-level entry. */
static size_t kept_by_walk(const struct space_mem *m)
{
    size_t n = 1;
    ptab_visit(&m->hpt, 0, ptab_span(&m->hpt), count_top_table, &n);
    return n;
}

/* A random address of the test regions near a page, 2 MiB or 1 GiB boundary. */
static vaddr_t pick_va(uint64_t *s)
{
    static const uint64_t gib[] = { 0, 1, 2 }, mib2[] = { 0, 1, 511 }, page[] = { 0, 1, 511 };
    return (1 + lcg(s) % REGIONS) * REGION_SIZE + gib[lcg(s) % 3] * GiB(1) +
           mib2[lcg(s) % 3] * MiB(2) + page[lcg(s) % 3] * PAGE_SIZE;
}

/* OPS pseudo-random maps, protects and unmaps of pd, each followed by its flush: after each,
   the counters equal a walk and the frame books still hold books0; false (why) if not. */
static bool random_updates(struct pd *pd, uint64_t books0, char *why, size_t why_len)
{
    static const uint64_t sizes[] = { PAGE_SIZE, 2 * PAGE_SIZE, MiB(2), MiB(2) + PAGE_SIZE, GiB(1),
                                      GiB(1) + MiB(2) };
    static const unsigned rights[] = { 0, MEM_R, MEM_R | MEM_W, MEM_R | MEM_X };
    uint64_t s = 1;
    for (unsigned i = 0; i < OPS; i++) {
        vaddr_t va = pick_va(&s);
        uint64_t size = sizes[lcg(&s) % 6];
        unsigned r = rights[lcg(&s) % 4];
        /* The frame follows the address, so that aligned ranges can take large leaves. */
        int err = space_mem_map(&check_batch, &pd->mem, va, size, va % GiB(64), r);
        shootdown_batch_flush(&check_batch);
        size_t walk = space_mem_hpt_tables(&pd->mem), count = space_mem_hpt_count(&pd->mem);
        size_t kept = space_mem_hpt_kept(&pd->mem), kept_walk = kept_by_walk(&pd->mem);
        uint64_t books = kframes_free_total() + kframe_pd_frames();
        if (err || walk != count || kept != kept_walk || books != books0)
            return SELFTEST_FAIL("update %u (%lx+%lx rights %u): status %d, counter %lu, walk %lu, "
                                 "kept %lu, by walk %lu, books %lu -> %lu",
                                 i, va, size, r, err, (unsigned long)count, (unsigned long)walk,
                                 (unsigned long)kept, (unsigned long)kept_walk,
                                 (unsigned long)books0, (unsigned long)books);
    }
    return true;
}

SELFTEST(the_master_table_counter_matches_a_walk_and_the_frame_books_balance)
{
    struct pd *warm = pd_create(NULL, PD_QUOTA_KERNEL);    /* the spaces' shared pages, once */
    if (warm)
        pd_destroy_empty(warm);
    size_t free0 = kframes_free_total();
    uint64_t books0 = kframes_free_total() + kframe_pd_frames();
    struct pd *pd = pd_create(NULL, PD_QUOTA_KERNEL);
    if (!pd)
        return SELFTEST_FAIL("out of memory");
    bool ok = random_updates(pd, books0, why, why_len);
    for (unsigned k = 1; ok && k <= REGIONS; k++)
        space_mem_map(&check_batch, &pd->mem, k * REGION_SIZE, REGION_SIZE, 0, 0);
    shootdown_batch_flush(&check_batch);
    size_t left = space_mem_hpt_count(&pd->mem), walk = space_mem_hpt_tables(&pd->mem);
    size_t kept = space_mem_hpt_kept(&pd->mem);
    pd_destroy_empty(pd);
    if (!ok)
        return false;
    if (left != walk || left != kept || kept > SPACE_MEM_ROOT_FRAMES + REGIONS)
        return SELFTEST_FAIL("all unmapped: counter %lu, walk %lu, kept %lu (want only the root "
                             "and at most %u PDPTs)", (unsigned long)left, (unsigned long)walk,
                             (unsigned long)kept, REGIONS);
    if (kframes_free_total() != free0 || kframes_free_total() + kframe_pd_frames() != books0)
        return SELFTEST_FAIL("leaked %ld frames (books %lu -> %lu)",
                             (long)(free0 - kframes_free_total()), (unsigned long)books0,
                             (unsigned long)(kframes_free_total() + kframe_pd_frames()));
    return true;
}
