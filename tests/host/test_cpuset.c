/* Cpuset: single-bit operations are atomic, whole-set operations see every member. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>
#include "cpuset.h"

#define RACE_THREADS 4      /* threads hammering one set */
#define RACE_ROUNDS  20000  /* iterations per thread */

/* A new set is empty: no member, count zero, iteration yields nothing. */
static void an_initialised_set_is_empty(void **state)
{
    (void)state;
    struct cpuset s;
    cpuset_init(&s);
    assert_int_equal(cpuset_count(&s), 0);
    assert_int_equal(cpuset_next(&s, 0), NUM_CPU);
    for (unsigned c = 0; c < NUM_CPU; c++)
        assert_false(cpuset_chk(&s, c));
}

/* Set adds exactly one member, clr removes exactly that one. */
static void set_and_clr_change_only_their_own_cpu(void **state)
{
    (void)state;
    struct cpuset s;
    cpuset_init(&s);
    cpuset_set(&s, NUM_CPU - 1);
    cpuset_set(&s, 0);
    assert_true(cpuset_chk(&s, 0));
    assert_true(cpuset_chk(&s, NUM_CPU - 1));
    assert_int_equal(cpuset_count(&s), NUM_CPU > 1 ? 2 : 1);
    cpuset_clr(&s, 0);
    assert_false(cpuset_chk(&s, 0));
    assert_true(cpuset_chk(&s, NUM_CPU - 1));
}

/* Test-and-clear reports membership and leaves the cpu absent. */
static void tst_clr_returns_previous_membership(void **state)
{
    (void)state;
    struct cpuset s;
    cpuset_init(&s);
    cpuset_set(&s, NUM_CPU / 2);
    assert_true(cpuset_tst_clr(&s, NUM_CPU / 2));
    assert_false(cpuset_chk(&s, NUM_CPU / 2));
    assert_false(cpuset_tst_clr(&s, NUM_CPU / 2));
}

/* Iteration visits every member once, in increasing order, including the last cpu. */
static void iteration_visits_members_in_order(void **state)
{
    (void)state;
    struct cpuset s;
    unsigned cpu, n = 0, prev = 0;
    cpuset_init(&s);
    for (unsigned c = 0; c < NUM_CPU; c += 3)
        cpuset_set(&s, c);
    cpuset_set(&s, NUM_CPU - 1);
    cpuset_for_each(cpu, &s) {
        assert_true(cpu % 3 == 0 || cpu == NUM_CPU - 1);
        assert_true(n == 0 || cpu > prev);
        prev = cpu;
        n++;
    }
    assert_int_equal(n, cpuset_count(&s));
    assert_int_equal(prev, NUM_CPU - 1);
}

/* Union adds the members of the source and keeps those of the destination. */
static void union_keeps_both_sets_members(void **state)
{
    (void)state;
    struct cpuset a, b;
    cpuset_init(&a);
    cpuset_init(&b);
    cpuset_set(&a, 0);
    cpuset_set(&b, NUM_CPU - 1);
    cpuset_union(&a, &b);
    assert_true(cpuset_chk(&a, 0));
    assert_true(cpuset_chk(&a, NUM_CPU - 1));
    assert_false(cpuset_chk(&b, 0) && NUM_CPU > 1);
}

static struct cpuset shared;

/* Thread body: toggle the thread's own cpus (all in word 0 when possible). */
static void *toggle_own_bits(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    for (unsigned r = 0; r < RACE_ROUNDS; r++) {
        for (unsigned c = id; c < NUM_CPU; c += RACE_THREADS)
            cpuset_set(&shared, c);
        for (unsigned c = id; c < NUM_CPU; c += 2 * RACE_THREADS)
            cpuset_clr(&shared, c);
    }
    return NULL;
}

/* Concurrent set/clr on neighbouring bits of one word lose no update. */
static void concurrent_set_and_clr_lose_no_update(void **state)
{
    (void)state;
    pthread_t t[RACE_THREADS];
    cpuset_init(&shared);
    for (uintptr_t i = 0; i < RACE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, toggle_own_bits, (void *)i), 0);
    for (unsigned i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    /* Cpu c was set last iff it is not cleared: c % (2*THREADS) >= THREADS. */
    for (unsigned c = 0; c < NUM_CPU; c++)
        assert_int_equal(cpuset_chk(&shared, c), c % (2 * RACE_THREADS) >= RACE_THREADS);
}

static unsigned wins[RACE_THREADS];
static unsigned inside, overlaps;

/* Thread body: the bit is a token; the winner of tst_clr holds it alone, then puts it back. */
static void *race_tst_clr(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    for (unsigned r = 0; r < RACE_ROUNDS; r++) {
        if (!cpuset_tst_clr(&shared, 0))
            continue;
        if (__atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST) != 1)
            __atomic_add_fetch(&overlaps, 1, __ATOMIC_SEQ_CST);
        wins[id]++;
        __atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
        cpuset_set(&shared, 0);
    }
    return NULL;
}

/* Racing test-and-clear hands one set bit to exactly one core at a time. */
static void racing_tst_clr_grants_the_bit_to_one_core_at_a_time(void **state)
{
    (void)state;
    pthread_t t[RACE_THREADS];
    unsigned total = 0;
    cpuset_init(&shared);
    cpuset_set(&shared, 0);
    inside = overlaps = 0;
    for (uintptr_t i = 0; i < RACE_THREADS; i++) {
        wins[i] = 0;
        assert_int_equal(pthread_create(&t[i], NULL, race_tst_clr, (void *)i), 0);
    }
    for (unsigned i = 0; i < RACE_THREADS; i++)
        pthread_join(t[i], NULL);
    for (unsigned i = 0; i < RACE_THREADS; i++)
        total += wins[i];
    assert_int_equal(overlaps, 0);
    assert_true(total > 0);
    assert_true(cpuset_chk(&shared, 0));    /* the token is back, not lost */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_initialised_set_is_empty),
        cmocka_unit_test(set_and_clr_change_only_their_own_cpu),
        cmocka_unit_test(tst_clr_returns_previous_membership),
        cmocka_unit_test(iteration_visits_members_in_order),
        cmocka_unit_test(union_keeps_both_sets_members),
        cmocka_unit_test(concurrent_set_and_clr_lose_no_update),
        cmocka_unit_test(racing_tst_clr_grants_the_bit_to_one_core_at_a_time),
    };
    return cmocka_run_group_tests_name("cpuset", tests, NULL, NULL);
}
