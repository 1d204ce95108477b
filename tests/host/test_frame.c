/* Frame allocator: the kernel pool as a bitmap, plus user memory outside it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "frame.h"

#define BASE    0x200000UL              /* pool starts at 2 MiB, like the kernel's */
#define NFRAMES 1024                    /* 4 MiB pool */
#define END     (BASE + NFRAMES * FRAME_SIZE)

static struct frame_pool pool;
static uint64_t bitmap[FRAME_BITMAP_WORDS(NFRAMES)];

static int setup(void **state)
{
    (void)state;
    frame_pool_init(&pool, BASE, NFRAMES, bitmap);
    return 0;
}

/* Allocate one frame, failing the test if there is none. */
static paddr_t alloc1(void)
{
    paddr_t pa = 0;
    assert_int_equal(frame_alloc(&pool, 1, 0, &pa), 0);
    return pa;
}

static void a_new_pool_has_no_free_frames(void **state)
{
    (void)state;
    paddr_t pa = 0;
    assert_int_equal(pool.nfree, 0);
    assert_int_equal(frame_alloc(&pool, 1, 0, &pa), -1);
}

static void ram_inside_the_pool_becomes_free_frames(void **state)
{
    (void)state;
    frame_pool_add_ram(&pool, BASE, BASE + 16 * FRAME_SIZE);
    assert_int_equal(pool.nfree, 16);
    assert_true(frame_is_free(&pool, BASE));
    assert_false(frame_is_free(&pool, BASE + 16 * FRAME_SIZE));
}

static void ram_outside_the_pool_is_recorded_as_user_memory(void **state)
{
    (void)state;
    /* One range straddling the pool's end, one entirely above it, one below. */
    frame_pool_add_ram(&pool, END - 4 * FRAME_SIZE, END + 8 * FRAME_SIZE);
    frame_pool_add_ram(&pool, 0x100000000UL, 0x140000000UL);
    frame_pool_add_ram(&pool, 0x100000, BASE);
    assert_int_equal(pool.nfree, 4);
    assert_int_equal(pool.nuser, 3);
    assert_int_equal(pool.user[0].start, END);
    assert_int_equal(pool.user[0].end, END + 8 * FRAME_SIZE);
    assert_int_equal(pool.user[1].start, 0x100000000UL);
    assert_int_equal(pool.user[2].start, 0x100000);
    assert_int_equal(pool.user[2].end, BASE);
}

static void partial_frames_at_the_edges_of_ram_are_not_used(void **state)
{
    (void)state;
    frame_pool_add_ram(&pool, BASE + 100, BASE + 3 * FRAME_SIZE - 1);
    assert_int_equal(pool.nfree, 1);
    assert_true(frame_is_free(&pool, BASE + FRAME_SIZE));
}

static void reserved_ranges_are_never_allocated(void **state)
{
    (void)state;
    frame_pool_add_ram(&pool, BASE, END);
    /* A "kernel image" at the start and a "module" in the middle, unaligned. */
    frame_pool_reserve(&pool, BASE, BASE + 10 * FRAME_SIZE + 1);
    frame_pool_reserve(&pool, BASE + 500 * FRAME_SIZE + 5, BASE + 501 * FRAME_SIZE);
    assert_int_equal(pool.nfree, NFRAMES - 11 - 1);
    for (size_t i = 0; i < NFRAMES - 12; i++) {
        paddr_t pa = alloc1();
        assert_true(pa >= BASE + 11 * FRAME_SIZE);
        assert_true(pa != BASE + 500 * FRAME_SIZE);
    }
}

static void reserving_inside_user_memory_splits_the_range(void **state)
{
    (void)state;
    frame_pool_add_ram(&pool, 0x100000000UL, 0x100010000UL);
    frame_pool_reserve(&pool, 0x100004000UL, 0x100005000UL);
    assert_int_equal(pool.nuser, 2);
    paddr_t total = 0;
    for (unsigned i = 0; i < pool.nuser; i++) {
        assert_true(pool.user[i].end <= 0x100004000UL || pool.user[i].start >= 0x100005000UL);
        total += pool.user[i].end - pool.user[i].start;
    }
    assert_int_equal(total, 0xF000);
}

static void allocation_hands_out_distinct_frames_until_exhaustion_then_fails(void **state)
{
    (void)state;
    enum { N = 64 };
    paddr_t got[N], pa = 0;
    frame_pool_add_ram(&pool, BASE, BASE + N * FRAME_SIZE);
    for (int i = 0; i < N; i++) {
        got[i] = alloc1();
        assert_true(got[i] % FRAME_SIZE == 0 && got[i] >= BASE && got[i] < BASE + N * FRAME_SIZE);
        for (int k = 0; k < i; k++)
            assert_true(got[k] != got[i]);
    }
    assert_int_equal(frame_alloc(&pool, 1, 0, &pa), -1);
}

static void a_failed_allocation_changes_nothing(void **state)
{
    (void)state;
    frame_pool_add_ram(&pool, BASE, BASE + 8 * FRAME_SIZE);
    uint64_t before[FRAME_BITMAP_WORDS(NFRAMES)];
    memcpy(before, bitmap, sizeof(before));
    paddr_t pa = 0xdead;
    assert_int_equal(frame_alloc(&pool, 9, 0, &pa), -1);
    assert_int_equal(pa, 0xdead);
    assert_int_equal(pool.nfree, 8);
    assert_memory_equal(before, bitmap, sizeof(before));
}

static void a_freed_frame_can_be_allocated_again(void **state)
{
    (void)state;
    frame_pool_add_ram(&pool, BASE, BASE + 2 * FRAME_SIZE);
    paddr_t a = alloc1(), b = alloc1(), c = 0;
    assert_int_equal(frame_alloc(&pool, 1, 0, &c), -1);
    frame_free(&pool, a, 1);
    assert_true(frame_is_free(&pool, a));
    assert_int_equal(alloc1(), a);
    assert_true(b != a);
}

static void multi_frame_allocations_are_contiguous_and_aligned(void **state)
{
    (void)state;
    frame_pool_add_ram(&pool, BASE, END);
    paddr_t one = alloc1(), pa = 0;
    assert_int_equal(frame_alloc(&pool, 16, 64 * 1024, &pa), 0);
    assert_true(pa % (64 * 1024) == 0);
    assert_true(pa > one);
    for (int i = 0; i < 16; i++)
        assert_false(frame_is_free(&pool, pa + i * FRAME_SIZE));
    assert_int_equal(pool.nfree, NFRAMES - 17);
}

static void aligned_allocation_skips_holes_too_small_or_misaligned(void **state)
{
    (void)state;
    /* Free: 2 frames at BASE+4K (misaligned for 8 KiB), 1 at BASE+32K (too small), 2 at
       BASE+64K. */
    frame_pool_add_ram(&pool, BASE + 0x1000, BASE + 0x3000);
    frame_pool_add_ram(&pool, BASE + 0x8000, BASE + 0x9000);
    frame_pool_add_ram(&pool, BASE + 0x10000, BASE + 0x12000);
    paddr_t pa = 0;
    assert_int_equal(frame_alloc(&pool, 2, 0x2000, &pa), 0);
    assert_int_equal(pa, BASE + 0x10000);
    assert_int_equal(frame_alloc(&pool, 2, 0x2000, &pa), -1);
}

static void frames_outside_the_pool_are_never_free(void **state)
{
    (void)state;
    frame_pool_add_ram(&pool, 0, 0x200000000UL);
    assert_false(frame_is_free(&pool, BASE - FRAME_SIZE));
    assert_false(frame_is_free(&pool, END));
    assert_int_equal(pool.nfree, NFRAMES);
}


/* Whether the pool has n free frames aligned to a frames anywhere (the reference answer). */
static bool fits_somewhere(size_t n, size_t a)
{
    for (size_t i = 0; i + n <= NFRAMES; i++) {
        if (((BASE / FRAME_SIZE) + i) % a)
            continue;
        size_t k = 0;
        while (k < n && frame_is_free(&pool, BASE + (i + k) * FRAME_SIZE))
            k++;
        if (k == n)
            return true;
    }
    return false;
}

/* The one free run, wherever the search starts (the hint before, inside, after it, at the
   end): found exactly. */
static void the_last_free_run_is_found_from_every_hint(void **state)
{
    (void)state;
    frame_pool_add_ram(&pool, BASE, END);
    frame_pool_reserve(&pool, BASE, END);
    for (size_t run = 0; run + 3 <= NFRAMES; run += 61) {
        frame_free(&pool, BASE + run * FRAME_SIZE, 3);
        for (size_t hint = 0; hint < NFRAMES; hint += 37) {
            paddr_t pa = 0;
            pool.hint = hint;
            assert_int_equal(frame_alloc(&pool, 3, 0, &pa), 0);
            assert_int_equal(pa, BASE + run * FRAME_SIZE);
            assert_int_equal(pool.nfree, 0);
            frame_free(&pool, pa, 3);
        }
        pool.hint = run + 1;                 /* the hint inside the run: a 4-frame run fails */
        paddr_t pa = 0;
        assert_int_equal(frame_alloc(&pool, 4, 0, &pa), -1);
        assert_int_equal(pool.nfree, 3);
        frame_pool_reserve(&pool, BASE + run * FRAME_SIZE, BASE + (run + 3) * FRAME_SIZE);
    }
}

/* Random allocations and frees of 1..8 frames, some aligned, with random hints: an allocation
   succeeds exactly when a fitting run exists, and hands out only free frames. */
static void under_pressure_an_allocation_fails_only_without_room(void **state)
{
    (void)state;
    frame_pool_add_ram(&pool, BASE, END);
    static paddr_t held[NFRAMES];
    static size_t held_n[NFRAMES];
    size_t nheld = 0;
    unsigned seed = 7;
    for (int round = 0; round < 20000; round++) {
        seed = seed * 1103515245u + 12345u;
        bool take = nheld == 0 || (seed >> 16) % 8 < 5;     /* mostly allocate: high pressure */
        if (!take) {
            size_t j = (seed >> 4) % nheld;
            frame_free(&pool, held[j], held_n[j]);
            held[j] = held[nheld - 1];
            held_n[j] = held_n[--nheld];
            continue;
        }
        size_t n = 1 + (seed >> 8) % 8, a = (seed >> 12) % 4 == 0 ? 4 : 1;
        pool.hint = (seed >> 3) % NFRAMES;
        bool want = fits_somewhere(n, a);
        size_t free0 = pool.nfree;
        paddr_t pa = 0;
        int err = frame_alloc(&pool, n, a * FRAME_SIZE, &pa);
        assert_int_equal(err == 0, want);
        if (err) {
            assert_int_equal(pool.nfree, free0);
            continue;
        }
        assert_int_equal(((pa / FRAME_SIZE) % a), 0);
        assert_int_equal(pool.nfree, free0 - n);
        held[nheld] = pa;
        held_n[nheld++] = n;
    }
}

#define T(f) cmocka_unit_test_setup(f, setup)
int main(void)
{
    const struct CMUnitTest tests[] = {
        T(a_new_pool_has_no_free_frames),
        T(ram_inside_the_pool_becomes_free_frames),
        T(ram_outside_the_pool_is_recorded_as_user_memory),
        T(partial_frames_at_the_edges_of_ram_are_not_used),
        T(reserved_ranges_are_never_allocated),
        T(reserving_inside_user_memory_splits_the_range),
        T(allocation_hands_out_distinct_frames_until_exhaustion_then_fails),
        T(a_failed_allocation_changes_nothing),
        T(a_freed_frame_can_be_allocated_again),
        T(multi_frame_allocations_are_contiguous_and_aligned),
        T(aligned_allocation_skips_holes_too_small_or_misaligned),
        T(frames_outside_the_pool_are_never_free),
        T(the_last_free_run_is_found_from_every_hint),
        T(under_pressure_an_allocation_fails_only_without_room),
    };
    return cmocka_run_group_tests_name("frame", tests, NULL, NULL);
}
