/*
 * Model-based randomized test of the page-table engine: random map, unmap and
 * protect operations of mixed sizes and alignments against a plain reference
 * model, checked by lookups over everything touched. Seeded and reproducible:
 * PTAB_SEED=<n> reruns a seed, PTAB_OPS=<n> changes the number of operations.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include "ptab_fixture.h"
#include "ptab_model.h"

#define WINDOW_SIZE GiB(4)                 /* window across a top-level boundary: */
#define WINDOW_BASE(levels) ((levels) > 3 ? GiB(512) - GiB(2) : GiB(256) - GiB(2))

static uint64_t seed;

/* Run ops random operations on a table of format f against the model; fails with the seed. */
static void run_random(const struct ptab_fmt *f, unsigned levels, unsigned caps, unsigned leaf_mask,
                       long ops, bool window)
{
    struct fx x; struct ptab_model m;
    uint64_t s = seed;
    long flushes = 0, detaches = 0;
    if (window)
        fx_init_window(&x, f, levels, caps, 1 << 16);
    else
        fx_init(&x, f, levels, caps, 1 << 16);
    if (leaf_mask)
        x.t.leaf_mask = leaf_mask;
    model_init(&m, WINDOW_BASE(levels), WINDOW_SIZE / PG);
    for (long i = 0; i < ops; i++) {
        struct ptab_op op = model_random_op(&m, &x.t, &s);
        int r = fx_upd(&x, op.va, op.size, op.pa, op.attr);
        bool want_flush = model_apply(&m, &op);
        if (r != E_OK)
            fail_msg("seed %lu op %ld: update failed with %d", (unsigned long)seed, i, r);
        if (want_flush && !x.res.flush)
            fail_msg("seed %lu op %ld: flush needed but not reported", (unsigned long)seed, i);
        if (x.res.flush && !want_flush && !x.res.detached)
            fail_msg("seed %lu op %ld: flush reported without a reason", (unsigned long)seed, i);
        vaddr_t bad = model_check(&m, &x.t, op.va, op.size);
        if (bad != ~0UL)
            fail_msg("seed %lu op %ld (%#lx+%#lx -> %#lx perm %#x): %#lx differs from the model",
                     (unsigned long)seed, i, (unsigned long)op.va, (unsigned long)op.size,
                     (unsigned long)op.pa, op.attr.perm, (unsigned long)bad);
        flushes += x.res.flush;
        detaches += x.res.detached;
        ptab_dfree_release(&x.df, &x.fm.env);       /* the shootdown is over */
    }
    vaddr_t bad = model_check(&m, &x.t, WINDOW_BASE(levels), WINDOW_SIZE);
    if (bad != ~0UL)
        fail_msg("seed %lu: final check: %#lx differs from the model", (unsigned long)seed,
                 (unsigned long)bad);
    printf("# %s%s: %ld ops, %ld needed a flush, %ld detached tables, %zu window remaps\n",
           f->name, window ? " (window)" : "", ops, flushes, detaches, x.fm.remaps);
    assert_true(flushes > 0 && detaches > 0 && flushes < ops);
    model_destroy(&m);
    fx_done(&x);
}

/* Operations to run: PTAB_OPS or the default. */
static long ops(long dflt)
{
    const char *e = getenv("PTAB_OPS");
    return e ? strtol(e, NULL, 0) * dflt / 100000 : dflt;
}

/* 100,000 random operations on a 4-level Hpt agree with the model. */
static void hpt_agrees_with_model_over_100000_random_operations(void **state)
{
    (void)state;
    run_random(&ptab_hpt, 4, 0, 0, ops(100000), false);
}

/* Random operations on an Hpt without 1G pages agree with the model. */
static void hpt_without_1g_pages_agrees_with_model(void **state)
{
    (void)state;
    run_random(&ptab_hpt, 4, 0, BIT(0) | BIT(1), ops(10000), false);
}

/* Random operations on an Ept with mode-based execute agree with the model. */
static void ept_agrees_with_model(void **state)
{
    (void)state;
    run_random(&ptab_ept, 4, PTAB_CAP_EPT_MBEC, 0, ops(10000), false);
}

/* Random operations on a 3-level Dpt with all options agree with the model. */
static void dpt_agrees_with_model(void **state)
{
    (void)state;
    run_random(&ptab_dpt, 3, PTAB_CAP_DPT_X | PTAB_CAP_DPT_EMT | PTAB_CAP_DPT_SNP, 0, ops(10000),
               false);
}

/* Random operations on an Hpt whose frames are reached only through one window page per p2v
   slot agree with the model: the engine uses no table pointer after its slot moved on. */
static void hpt_through_a_window_page_per_slot_agrees_with_model(void **state)
{
    (void)state;
    run_random(&ptab_hpt, 4, 0, 0, ops(10000), true);
}

int main(void)
{
    const char *e = getenv("PTAB_SEED");
    seed = e ? strtoull(e, NULL, 0) : (uint64_t)time(NULL) * 2654435761u;
    if (!seed)
        seed = 1;
    printf("# ptab_random seed %lu (rerun with PTAB_SEED=%lu)\n", (unsigned long)seed,
           (unsigned long)seed);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hpt_agrees_with_model_over_100000_random_operations),
        cmocka_unit_test(hpt_without_1g_pages_agrees_with_model),
        cmocka_unit_test(ept_agrees_with_model),
        cmocka_unit_test(dpt_agrees_with_model),
        cmocka_unit_test(hpt_through_a_window_page_per_slot_agrees_with_model),
    };
    return cmocka_run_group_tests_name("ptab_random", tests, NULL, NULL);
}
