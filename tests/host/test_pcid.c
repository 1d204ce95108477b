/* PCID allocator: every PD gets its own identifier, a reused one is flushed first. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>
#include "pcid.h"
#include "cpuset.h"

#define RANDOM_SEED   0x5eed
#define RANDOM_STEPS  200000

static struct pcid_alloc a;

static int setup(void **state)
{
    (void)state;
    pcid_init(&a);
    return 0;
}

/* Take every identifier pcid_get still has; returns how many. */
static unsigned drain(void)
{
    unsigned n = 0;
    bool flush;
    while (pcid_get(&a, &flush) != PCID_SHARED)
        n++;
    return n;
}

static void fresh_pcids_are_distinct_nonzero_and_need_no_flush(void **state)
{
    (void)state;
    static bool seen[PCID_COUNT];
    for (unsigned i = 1; i < PCID_COUNT; i++) {
        bool flush = true;
        unsigned id = pcid_get(&a, &flush);
        assert_int_not_equal(id, PCID_SHARED);
        assert_true(id < PCID_COUNT);
        assert_false(seen[id]);
        assert_false(flush);
        seen[id] = true;
    }
}

static void when_all_are_owned_a_pd_gets_the_shared_pcid_which_always_flushes(void **state)
{
    (void)state;
    bool flush = false;
    assert_int_equal(drain(), PCID_COUNT - 1);
    assert_int_equal(pcid_get(&a, &flush), PCID_SHARED);
    assert_true(flush);
}

static void a_freed_pcid_is_not_reused_while_clean_ones_remain(void **state)
{
    (void)state;
    bool flush;
    unsigned id = pcid_get(&a, &flush);
    pcid_put(&a, id);
    for (unsigned i = 2; i < PCID_COUNT; i++) {
        assert_int_not_equal(pcid_get(&a, &flush), id);
        assert_false(flush);
    }
}

static void a_recycled_pcid_is_handed_out_with_the_flush_flag(void **state)
{
    (void)state;
    bool flush = false;
    drain();
    pcid_put(&a, 77);
    assert_int_equal(pcid_get(&a, &flush), 77);
    assert_true(flush);
}

static void a_pcid_recycled_twice_is_flushed_both_times(void **state)
{
    (void)state;
    bool flush = false;
    drain();
    for (int round = 0; round < 2; round++) {
        pcid_put(&a, 9);
        flush = false;
        assert_int_equal(pcid_get(&a, &flush), 9);
        assert_true(flush);
    }
}

static void putting_the_shared_pcid_frees_nothing(void **state)
{
    (void)state;
    bool flush;
    drain();
    pcid_put(&a, PCID_SHARED);
    assert_int_equal(pcid_get(&a, &flush), PCID_SHARED);
}

/*
 * Random get/put against a model: an identifier is never owned twice, and the
 * flush flag is set exactly when the identifier was owned before and has not
 * been flushed since.
 */
static void random_get_put_matches_the_model(void **state)
{
    (void)state;
    static bool owned[PCID_COUNT], used[PCID_COUNT];
    static unsigned held[PCID_COUNT];
    unsigned n = 0;
    srand(RANDOM_SEED);
    for (int step = 0; step < RANDOM_STEPS; step++) {
        if (n && rand() % 2) {
            unsigned i = (unsigned)rand() % n, id = held[i];
            held[i] = held[--n];
            owned[id] = false;
            pcid_put(&a, id);
            continue;
        }
        bool flush;
        unsigned id = pcid_get(&a, &flush);
        if (n == PCID_COUNT - 1) {
            assert_int_equal(id, PCID_SHARED);
            continue;
        }
        assert_int_not_equal(id, PCID_SHARED);
        assert_false(owned[id]);
        assert_int_equal(flush, used[id]);
        owned[id] = used[id] = true;
        held[n++] = id;
    }
}

/* Without PCIDs every space shares PCID_SHARED and no core is marked; releasing it is a no-op. */
static void without_pcids_pcid_assign_hands_out_the_shared_one(void **state)
{
    (void)state;
    struct cpuset htlb;
    cpuset_init(&htlb);
    tlb_pcid = false;
    assert_int_equal(pcid_assign(&htlb), PCID_SHARED);
    assert_int_equal(cpuset_count(&htlb), 0);
    pcid_release(PCID_SHARED);
}

/*
 * With PCIDs: fresh identifiers mark no core; once all are owned a space shares PCID_SHARED;
 * an identifier given back comes out again last, and then marks every core in htlb.
 */
static void pcid_assign_marks_every_core_for_a_recycled_pcid(void **state)
{
    (void)state;
    static unsigned held[PCID_COUNT];
    struct cpuset htlb;
    unsigned n = 0, id;
    tlb_pcid = true;
    for (;;) {
        cpuset_init(&htlb);
        id = pcid_assign(&htlb);
        if (id == PCID_SHARED)
            break;
        assert_int_equal(cpuset_count(&htlb), 0);
        held[n++] = id;
    }
    assert_int_equal(n, PCID_COUNT - 1);
    pcid_release(held[77]);
    cpuset_init(&htlb);
    assert_int_equal(pcid_assign(&htlb), held[77]);
    assert_int_equal(cpuset_count(&htlb), NUM_CPU);
    for (unsigned i = 0; i < n; i++)
        pcid_release(held[i]);
    tlb_pcid = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(fresh_pcids_are_distinct_nonzero_and_need_no_flush, setup),
        cmocka_unit_test_setup(when_all_are_owned_a_pd_gets_the_shared_pcid_which_always_flushes,
                               setup),
        cmocka_unit_test_setup(a_freed_pcid_is_not_reused_while_clean_ones_remain, setup),
        cmocka_unit_test_setup(a_recycled_pcid_is_handed_out_with_the_flush_flag, setup),
        cmocka_unit_test_setup(a_pcid_recycled_twice_is_flushed_both_times, setup),
        cmocka_unit_test_setup(putting_the_shared_pcid_frees_nothing, setup),
        cmocka_unit_test_setup(random_get_put_matches_the_model, setup),
        cmocka_unit_test(without_pcids_pcid_assign_hands_out_the_shared_one),
        cmocka_unit_test(pcid_assign_marks_every_core_for_a_recycled_pcid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
