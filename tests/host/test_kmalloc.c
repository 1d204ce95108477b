/* Host tests of the kernel object allocator (kernel/kmalloc.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "kmalloc.h"

/* Fake page allocator: a page budget, and every page given out so the test can free it. */
struct fake { int left; int freed; int n; void *page[128]; };

static void *page_alloc(void *ctx)
{
    struct fake *f = ctx;
    assert_true(f->n < 128);
    if (f->left == 0)
        return NULL;
    f->left--;
    return f->page[f->n++] = aligned_alloc(KMALLOC_PAGE, KMALLOC_PAGE);
}

/* Free the pages the allocator still holds (empty class pages were given back already). */
static void fake_done(struct fake *f)
{
    for (int i = 0; i < f->n; i++)
        free(f->page[i]);
}

static void page_free(void *ctx, void *page)
{
    struct fake *f = ctx;
    f->freed++;
    for (int i = 0; i < f->n; i++)
        if (f->page[i] == page)
            f->page[i] = NULL;
    free(page);
}

static void a_freed_object_is_reused_for_the_same_class(void **st)
{
    (void)st;
    struct fake f = { .left = 4 };
    struct kmalloc k;
    kmalloc_init(&k, page_alloc, page_free, &f);
    void *a = kmalloc_alloc(&k, 40), *keep = kmalloc_alloc(&k, 40);    /* keep: slab stays */
    kmalloc_free(&k, a);
    assert_ptr_equal(kmalloc_alloc(&k, 40), a);
    assert_int_equal(k.pages, 1);
    assert_non_null(keep);
    fake_done(&f);
}

static void objects_are_zeroed_aligned_and_do_not_overlap(void **st)
{
    (void)st;
    struct fake f = { .left = 100 };
    struct kmalloc k;
    kmalloc_init(&k, page_alloc, page_free, &f);
    uint8_t *p[200];
    for (int i = 0; i < 200; i++) {
        size_t sz = 1 + (size_t)(i * 37) % 2000;
        p[i] = kmalloc_alloc(&k, sz);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % 16, 0);
        for (size_t j = 0; j < sz; j++)
            assert_int_equal(p[i][j], 0);
        memset(p[i], 0xA5, sz);
    }
    for (int i = 0; i < 200; i++)
        kmalloc_free(&k, p[i]);
    assert_int_equal(k.live, 0);
    fake_done(&f);
}

static void a_large_object_takes_a_whole_page_and_frees_it(void **st)
{
    (void)st;
    struct fake f = { .left = 1 };
    struct kmalloc k;
    kmalloc_init(&k, page_alloc, page_free, &f);
    void *p = kmalloc_alloc(&k, 3000);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % KMALLOC_PAGE, 0);
    kmalloc_free(&k, p);
    assert_int_equal(f.freed, 1);
    assert_int_equal(k.pages, 0);
    fake_done(&f);
}

static void zero_and_oversized_requests_fail(void **st)
{
    (void)st;
    struct fake f = { .left = 10 };
    struct kmalloc k;
    kmalloc_init(&k, page_alloc, page_free, &f);
    assert_null(kmalloc_alloc(&k, 0));
    assert_null(kmalloc_alloc(&k, KMALLOC_PAGE + 1));
    assert_int_equal(k.pages, 0);
}

static void out_of_pages_returns_null_and_keeps_state(void **st)
{
    (void)st;
    struct fake f = { .left = 1 };
    struct kmalloc k;
    kmalloc_init(&k, page_alloc, page_free, &f);
    int n = 0;
    while (kmalloc_alloc(&k, 1000))     /* class 1024: four per page */
        n++;
    assert_int_equal(n, 4);
    assert_null(kmalloc_alloc(&k, 3000));
    assert_int_equal(k.live, 4);
    assert_int_equal(k.pages, 1);
    fake_done(&f);
}


static void an_emptied_slab_goes_back_at_once(void **st)
{
    (void)st;
    struct fake f = { .left = 4 };
    struct kmalloc k;
    kmalloc_init(&k, page_alloc, page_free, &f);
    void *a = kmalloc_alloc(&k, 100), *b = kmalloc_alloc(&k, 100);
    assert_int_equal(k.pages, 1);
    kmalloc_free(&k, a);
    assert_int_equal(k.pages, 1);
    assert_int_equal(f.freed, 0);
    kmalloc_free(&k, b);
    assert_int_equal(k.pages, 0);
    assert_int_equal(k.live, 0);
    assert_int_equal(f.freed, 1);
    fake_done(&f);
}

/* Every class: fill two slabs, free all in a scattered order; every page goes back. */
static void every_class_gives_all_its_pages_back(void **st)
{
    (void)st;
    for (unsigned c = 0; c < KMALLOC_CLASSES; c++) {
        struct fake f = { .left = 8 };
        struct kmalloc k;
        kmalloc_init(&k, page_alloc, page_free, &f);
        size_t size = kmalloc_class_size(c);
        size_t per = (KMALLOC_PAGE - KMALLOC_SLAB_HDR) / size, n = 2 * per + 1;
        void **p = calloc(n, sizeof(*p));
        for (size_t i = 0; i < n; i++) {
            p[i] = kmalloc_alloc(&k, size);
            assert_non_null(p[i]);
            assert_ptr_equal(kmalloc_owner(p[i]), &k);
            memset(p[i], 0x5a, size);
        }
        assert_int_equal(k.pages, 3);
        for (size_t i = 0; i < n; i++) {
            size_t j = (i * 7) % n;         /* n is odd and not a multiple of 7: a permutation */
            if (n % 7 == 0)
                j = i;
            kmalloc_free(&k, p[j]);
        }
        assert_int_equal(k.pages, 0);
        assert_int_equal(k.live, 0);
        assert_int_equal(f.freed, 3);
        free(p);
        fake_done(&f);
    }
}

/* A slab that was full takes objects again once one is freed, before a new page is taken. */
static void a_full_slab_is_used_again_before_a_new_page(void **st)
{
    (void)st;
    struct fake f = { .left = 2 };
    struct kmalloc k;
    kmalloc_init(&k, page_alloc, page_free, &f);
    void *p[2];
    p[0] = kmalloc_alloc(&k, KMALLOC_SMALL_MAX);
    p[1] = kmalloc_alloc(&k, KMALLOC_SMALL_MAX);
    assert_int_equal(k.pages, 1);
    kmalloc_free(&k, p[0]);
    assert_ptr_equal(kmalloc_alloc(&k, KMALLOC_SMALL_MAX), p[0]);
    assert_int_equal(k.pages, 1);
    assert_null(kmalloc_owner(kmalloc_alloc(&k, KMALLOC_SMALL_MAX + 1)));  /* a whole page */
    fake_done(&f);
}

/* Two heaps over one page source: an object names its heap. */
static void objects_name_their_heap(void **st)
{
    (void)st;
    struct fake f = { .left = 4 };
    struct kmalloc k1, k2;
    kmalloc_init(&k1, page_alloc, page_free, &f);
    kmalloc_init(&k2, page_alloc, page_free, &f);
    void *a = kmalloc_alloc(&k1, 64), *b = kmalloc_alloc(&k2, 64);
    assert_ptr_equal(kmalloc_owner(a), &k1);
    assert_ptr_equal(kmalloc_owner(b), &k2);
    kmalloc_free(&k1, a);
    kmalloc_free(&k2, b);
    assert_int_equal(k1.pages + k2.pages, 0);
    fake_done(&f);
}

/* Every size up to the largest class gets the smallest class holding it: two objects from a
   fresh slab lie one object size apart. */
static void every_size_gets_the_smallest_class(void **st)
{
    (void)st;
    for (size_t size = 1; size <= KMALLOC_SMALL_MAX; size++) {
        struct fake f = { .left = 1 };
        struct kmalloc k;
        kmalloc_init(&k, page_alloc, page_free, &f);
        unsigned c = 0;
        while (kmalloc_class_size(c) < size)
            c++;
        char *a = kmalloc_alloc(&k, size), *b = kmalloc_alloc(&k, size);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(a > b ? a - b : b - a, kmalloc_class_size(c));
        kmalloc_free(&k, a);
        kmalloc_free(&k, b);
        assert_int_equal(k.pages, 0);
        fake_done(&f);
    }
}

/* Random allocations and frees against a count of live objects: pages never exceed what the
   live objects need per class, and all go back at the end. */
static void random_use_holds_no_more_pages_than_needed(void **st)
{
    (void)st;
    enum { N = 600 };
    struct fake f = { .left = 128 };
    struct kmalloc k;
    kmalloc_init(&k, page_alloc, page_free, &f);
    void *p[N] = { 0 };
    size_t sz[N] = { 0 };
    unsigned seed = 12345;
    for (int round = 0; round < 20000; round++) {
        seed = seed * 1103515245u + 12345u;
        int i = (int)((seed >> 8) % N);
        if (p[i]) {
            kmalloc_free(&k, p[i]);
            p[i] = NULL;
        } else {
            sz[i] = 1 + (seed >> 4) % 700;
            p[i] = kmalloc_alloc(&k, sz[i]);
            if (p[i])
                memset(p[i], 0xa5, sz[i]);
        }
        if (round % 1000 == 0) {
            size_t live[KMALLOC_CLASSES] = { 0 }, need = 0;
            for (int j = 0; j < N; j++)
                if (p[j]) {
                    unsigned c = 0;
                    while (kmalloc_class_size(c) < sz[j])
                        c++;
                    live[c]++;
                }
            for (unsigned c = 0; c < KMALLOC_CLASSES; c++)
                need += live[c];
            assert_true(k.pages <= need);   /* no page without a live object */
        }
    }
    for (int i = 0; i < N; i++)
        kmalloc_free(&k, p[i]);
    assert_int_equal(k.pages, 0);
    assert_int_equal(k.live, 0);
    fake_done(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_freed_object_is_reused_for_the_same_class),
        cmocka_unit_test(objects_are_zeroed_aligned_and_do_not_overlap),
        cmocka_unit_test(a_large_object_takes_a_whole_page_and_frees_it),
        cmocka_unit_test(zero_and_oversized_requests_fail),
        cmocka_unit_test(out_of_pages_returns_null_and_keeps_state),
        cmocka_unit_test(an_emptied_slab_goes_back_at_once),
        cmocka_unit_test(every_class_gives_all_its_pages_back),
        cmocka_unit_test(every_size_gets_the_smallest_class),
        cmocka_unit_test(a_full_slab_is_used_again_before_a_new_page),
        cmocka_unit_test(objects_name_their_heap),
        cmocka_unit_test(random_use_holds_no_more_pages_than_needed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
