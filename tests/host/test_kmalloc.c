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

/* Free the pages the allocator kept (class pages are never given back). */
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
    void *a = kmalloc_alloc(&k, 40);
    kmalloc_free(&k, a);
    assert_ptr_equal(kmalloc_alloc(&k, 40), a);
    assert_int_equal(k.pages, 1);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_freed_object_is_reused_for_the_same_class),
        cmocka_unit_test(objects_are_zeroed_aligned_and_do_not_overlap),
        cmocka_unit_test(a_large_object_takes_a_whole_page_and_frees_it),
        cmocka_unit_test(zero_and_oversized_requests_fail),
        cmocka_unit_test(out_of_pages_returns_null_and_keeps_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
