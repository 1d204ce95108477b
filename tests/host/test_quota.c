/* Host tests of the kernel-memory quotas (kernel/quota.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <cmocka.h>
#include "quota.h"
#include "abi.h"

static void charges_stay_within_the_limit(void **st)
{
    (void)st;
    struct quota q;
    quota_init_root(&q, 10);
    assert_int_equal(quota_charge(&q, 7), E_OK);
    assert_int_equal(quota_charge(&q, 4), E_NOMEM);
    assert_int_equal(quota_used(&q), 7);
    assert_int_equal(quota_charge(&q, 3), E_OK);
    assert_int_equal(quota_room(&q), 0);
    assert_int_equal(quota_charge(&q, 1), E_NOMEM);
    quota_uncharge(&q, 10);
    assert_int_equal(quota_used(&q), 0);
    assert_int_equal(quota_charge(&q, UINT64_MAX), E_NOMEM);    /* no wrap-around */
    assert_int_equal(quota_used(&q), 0);
}

static void a_child_quota_is_charged_to_the_parent_and_returned(void **st)
{
    (void)st;
    struct quota root, a, b;
    quota_init_root(&root, 100);
    assert_int_equal(quota_give(&root, &a, 60), E_OK);
    assert_int_equal(quota_used(&root), 60);
    assert_int_equal(quota_give(&root, &b, 41), E_NOMEM);       /* the parent cannot pay */
    assert_int_equal(quota_used(&root), 60);
    assert_int_equal(quota_give(&root, &b, 40), E_OK);
    /* A at its quota cannot take anything from its sibling or the parent. */
    assert_int_equal(quota_charge(&a, 60), E_OK);
    assert_int_equal(quota_charge(&a, 1), E_NOMEM);
    assert_int_equal(quota_charge(&b, 40), E_OK);
    assert_int_equal(quota_used(&root), 100);
    quota_uncharge(&a, 60);
    quota_return(&a);
    assert_int_equal(quota_used(&root), 40);
    assert_int_equal(quota_charge(&a, 1), E_NOMEM);             /* a returned account is empty */
    quota_uncharge(&b, 40);
    quota_return(&b);
    assert_int_equal(quota_used(&root), 0);
}

static void a_sharing_account_charges_its_payer(void **st)
{
    (void)st;
    struct quota root, a, s, t;
    quota_init_root(&root, 100);
    assert_int_equal(quota_give(&root, &a, 20), E_OK);
    assert_int_equal(quota_give(&a, &s, QUOTA_SHARED), E_OK);
    assert_int_equal(quota_give(&s, &t, QUOTA_SHARED), E_OK);   /* t's payer is a, too */
    assert_ptr_equal(t.payer, &a);
    assert_int_equal(quota_charge(&t, 15), E_OK);
    assert_int_equal(quota_used(&t), 15);
    assert_int_equal(quota_used(&s), 0);
    assert_int_equal(quota_used(&a), 15);
    assert_int_equal(quota_charge(&s, 6), E_NOMEM);
    assert_int_equal(quota_room(&s), 5);
    assert_int_equal(quota_give(&s, &root, 6), E_NOMEM);        /* giving charges the payer */
    quota_uncharge(&t, 15);
    quota_return(&t);
    quota_return(&s);
    assert_int_equal(quota_used(&a), 0);
    assert_int_equal(quota_used(&root), 20);
}

struct race { struct quota *q; int ok; };

/* Charge one frame at a time until the quota refuses; count the successes. */
static void *racer(void *arg)
{
    struct race *r = arg;
    while (quota_charge(r->q, 1) == E_OK)
        r->ok++;
    return NULL;
}

static void concurrent_charges_never_pass_the_limit(void **st)
{
    (void)st;
    struct quota root, a;
    quota_init_root(&root, 1u << 20);
    assert_int_equal(quota_give(&root, &a, 100000), E_OK);
    struct quota s;
    assert_int_equal(quota_give(&a, &s, QUOTA_SHARED), E_OK);
    pthread_t th[4];
    struct race r[4] = { { &a, 0 }, { &s, 0 }, { &a, 0 }, { &s, 0 } };
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, racer, &r[i]);
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(r[0].ok + r[1].ok + r[2].ok + r[3].ok, 100000);
    assert_int_equal(quota_used(&a), 100000);
    assert_int_equal(quota_used(&s), r[1].ok + r[3].ok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(charges_stay_within_the_limit),
        cmocka_unit_test(a_child_quota_is_charged_to_the_parent_and_returned),
        cmocka_unit_test(a_sharing_account_charges_its_payer),
        cmocka_unit_test(concurrent_charges_never_pass_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
