/*
 * Mapping database against a reference model (test_mdb_model.c): random
 * delegate/revoke/teardown sequences over several spaces, checked unit by unit after
 * every operation. Seeded and reproducible: MDB_SEED=<n> reruns one sequence; the
 * seed is printed on failure.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "test_mdb_model.h"

#define OPS     10000   /* operations per seed */
#define SEEDS   12      /* seeds per run: 120,000 operations */

static uint64_t rng, seed;

/* xorshift64: the next pseudo-random number. */
static uint64_t xorshift(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* Fail with the seed and operation number so that the run can be repeated. */
static void fail_with_seed(const char *what)
{
    fail_msg("seed %llu, operation %ld: %s (rerun with MDB_SEED=%llu)",
             (unsigned long long)seed, model_op_no, what, (unsigned long long)seed);
}

/* Run one seeded sequence of OPS operations. */
static void run_sequence(uint64_t sd)
{
    seed = sd;
    rng = sd * 0x9e3779b97f4a7c15ULL + 1;
    model_rand = xorshift;
    model_fail = fail_with_seed;
    model_start();
    while (model_op_no < OPS)
        model_op();
    model_finish();
}

/* Random delegate/revoke/teardown sequences behave exactly like the reference model. */
static void random_sequences_match_the_reference_model(void **state)
{
    (void)state;
    const char *env = getenv("MDB_SEED");
    if (env) {
        run_sequence(strtoull(env, NULL, 0));
        return;
    }
    for (uint64_t sd = 1; sd <= SEEDS; sd++)
        run_sequence(sd);
    printf("# delegations: ok %ld, busy %ld, noent %ld, perm %ld, range %ld, arg %ld, nomem %ld;"
           " created %ld, upgraded %ld; prefixes %ld; max nodes per space %ld; between revoke"
           " steps %ld\n",
           model_seen[E_OK], model_seen[E_BUSY], model_seen[E_NOENT], model_seen[E_PERM],
           model_seen[E_RANGE], model_seen[E_ARG], model_nomems, model_creates, model_upgrades,
           model_prefixes, model_max_nodes, model_interleaved);
    /* The sequence must reach every outcome, or the comparison proves little. */
    assert_true(model_seen[E_OK] > 1000 && model_seen[E_BUSY] > 100 && model_seen[E_NOENT] > 100);
    assert_true(model_seen[E_PERM] > 10 && model_upgrades > 100 && model_nomems > 100 &&
                model_max_nodes > 8 && model_interleaved > 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_sequences_match_the_reference_model),
    };
    return cmocka_run_group_tests_name("mdb_random", tests, NULL, NULL);
}
