/*
 * Intrusive AVL tree (lib/avl.c): random inserts and removals checked against a reference
 * membership array after every step (floor, ceil, node count, the AVL invariants); also the
 * edge keys 0 and UINT64_MAX, duplicates refused by the checker, and a broken tree caught.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
#include "avl.h"
#include "compiler.h"

#define KEYS    256     /* key space of the random test: dense enough for floor/ceil misses */
#define STEPS   20000   /* random operations per seed */
#define SEEDS   8

struct item {
    uint64_t key;
    struct avl_node link;
};

static uint64_t rng;

/* The next pseudo-random number (xorshift64). */
static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

/* The key of the item that embeds a. */
static uint64_t item_key(const struct avl_node *a)
{
    return container_of(a, const struct item, link)->key;
}

/* The key of a's item, or -1 for no node (as the reference reports it). */
static long key_or_none(const struct avl_node *a)
{
    return a ? (long)item_key(a) : -1;
}

/* The largest height an AVL tree of n nodes can have: 1.45 log2(n + 2), rounded up. */
static int height_bound(long n)
{
    int lg = 0;
    while ((1L << lg) < n + 2)
        lg++;
    return (int)(1.45 * lg) + 1;
}

/* Compare the tree with the reference: count, invariants, floor and ceil of every key. */
static void compare(struct avl_node *root, const bool *in, long n)
{
    assert_int_equal(avl_check(root, item_key), n);
    assert_true(!root || root->height <= height_bound(n));
    long below = -1;
    for (long k = 0; k < KEYS; k++) {
        if (in[k])
            below = k;
        assert_int_equal(key_or_none(avl_floor(root, (uint64_t)k, item_key)), below);
    }
    long above = -1;
    for (long k = KEYS - 1; k >= 0; k--) {
        if (in[k])
            above = k;
        assert_int_equal(key_or_none(avl_ceil(root, (uint64_t)k, item_key)), above);
    }
}

static void random_inserts_and_removals_match_a_reference(void **state)
{
    (void)state;
    static struct item items[KEYS];
    for (uint64_t seed = 1; seed <= SEEDS; seed++) {
        rng = seed * 0x9e3779b97f4a7c15ull;
        bool in[KEYS] = { false };
        long n = 0;
        struct avl_node *root = NULL;
        for (long k = 0; k < KEYS; k++)
            items[k].key = (uint64_t)k;
        for (long step = 0; step < STEPS; step++) {
            long k = (long)(rnd() % KEYS);
            /* Bias towards growth in the first half and shrinking in the second. */
            bool grow = rnd() % 4 != 0 ? step < STEPS / 2 : step >= STEPS / 2;
            if (grow && !in[k]) {
                avl_insert(&root, &items[k].link, item_key);
                in[k] = true;
                n++;
            } else if (!grow && in[k]) {
                avl_remove(&root, &items[k].link, item_key);
                in[k] = false;
                n--;
            } else {
                continue;
            }
            if (step % 16 == 0 || n < 8)
                compare(root, in, n);
            else
                assert_int_equal(avl_check(root, item_key), n);
        }
        compare(root, in, n);
    }
}

static void sequential_keys_stay_balanced(void **state)
{
    (void)state;
    static struct item items[4096];
    struct avl_node *root = NULL;
    for (long k = 0; k < 4096; k++) {
        items[k].key = (uint64_t)k * 3;
        avl_insert(&root, &items[k].link, item_key);
    }
    assert_int_equal(avl_check(root, item_key), 4096);
    assert_true(root->height <= 13);
    for (long k = 0; k < 4096; k += 2)
        avl_remove(&root, &items[k].link, item_key);
    assert_int_equal(avl_check(root, item_key), 2048);
    assert_int_equal(key_or_none(avl_floor(root, 4, item_key)), 3);
    assert_int_equal(key_or_none(avl_ceil(root, 4, item_key)), 9);
    assert_null(avl_floor(root, 2, item_key));
    assert_null(avl_ceil(root, 3 * 4095 + 1, item_key));
}

static void extreme_keys_and_absent_removal(void **state)
{
    (void)state;
    struct item lo = { .key = 0 }, hi = { .key = UINT64_MAX }, mid = { .key = 1ull << 63 };
    struct avl_node *root = NULL;
    avl_remove(&root, &lo.link, item_key);              /* empty tree: nothing happens */
    assert_null(root);
    assert_int_equal(avl_check(root, item_key), 0);
    avl_insert(&root, &hi.link, item_key);
    avl_insert(&root, &lo.link, item_key);
    avl_insert(&root, &mid.link, item_key);
    assert_int_equal(avl_check(root, item_key), 3);
    assert_ptr_equal(avl_floor(root, UINT64_MAX, item_key), &hi.link);
    assert_ptr_equal(avl_ceil(root, 0, item_key), &lo.link);
    assert_ptr_equal(avl_floor(root, UINT64_MAX - 1, item_key), &mid.link);
    struct item absent = { .key = 5 };
    avl_remove(&root, &absent.link, item_key);          /* key not present: unchanged */
    assert_int_equal(avl_check(root, item_key), 3);
    avl_remove(&root, &hi.link, item_key);
    avl_remove(&root, &lo.link, item_key);
    assert_ptr_equal(root, &mid.link);
    assert_int_equal(avl_check(root, item_key), 1);
}

static void the_checker_catches_broken_trees(void **state)
{
    (void)state;
    struct item a = { .key = 1 }, b = { .key = 2 }, c = { .key = 3 };
    struct avl_node *root = NULL;
    avl_insert(&root, &a.link, item_key);
    avl_insert(&root, &b.link, item_key);
    avl_insert(&root, &c.link, item_key);
    assert_ptr_equal(root, &b.link);
    assert_int_equal(avl_check(root, item_key), 3);
    b.link.height = 3;                                  /* a wrong height */
    assert_int_equal(avl_check(root, item_key), -1);
    b.link.height = 2;
    a.key = 4;                                          /* out of order */
    assert_int_equal(avl_check(root, item_key), -1);
    a.key = 2;                                          /* a duplicate key */
    assert_int_equal(avl_check(root, item_key), -1);
    a.key = 1;
    b.link.right = NULL;                                /* rebuild as the chain c -> a -> b */
    b.link.left = NULL;
    a.link.right = &b.link;
    a.link.height = 2;
    b.link.height = 1;
    c.link.left = &a.link;
    c.link.height = 3;                                  /* c -> a -> b: heights exact, unbalanced */
    assert_int_equal(avl_check(&c.link, item_key), -1);
    c.link.height = 2;                                  /* and the wrong height is caught too */
    assert_int_equal(avl_check(&c.link, item_key), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(random_inserts_and_removals_match_a_reference),
        cmocka_unit_test(sequential_keys_stay_balanced),
        cmocka_unit_test(extreme_keys_and_absent_removal),
        cmocka_unit_test(the_checker_catches_broken_trees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
