/*
 * A revoke is bounded by work done, not by units. One page is
 * delegated to child A, then from A to child B at WIDE addresses (WIDE mappings derived
 * from one unit, a wide tree) and down a chain of DEEP mappings alternating between B
 * and C (a deep tree). The root revokes the page while an EC of the root on core 1 keeps
 * making capability calls (lookup, which takes the kernel lock): every call completes
 * within a few timer periods, where a revoke that drops every derived mapping of a unit
 * in one step keeps the lock for many. Latencies are measured with the TSC, calibrated
 * against core 1's timer ticks (core_counters), and reported as median and maximum in
 * ticks. The revoke is complete: nothing of the page is left in A, B or C. Then a
 * revoke of the whole user range of an empty PD (2^35 - 1 pages, nothing mapped) must
 * take less than EMPTY_TICKS timer periods, as must one of a child that holds only its
 * program. Run as the root task with 512M of RAM (tests/qemu/user.sh); TAP output.
 */
#include "utest.h"

#define WIDE        60000u              /* mappings of the page in B, children of A's */
#define DEEP        4000u               /* chain B -> C -> B ... of the page */
#define VA_A        0x40000000000UL
#define VA_B        0x48000000000UL     /* B: WIDE pages, then the chain's pages */
#define VA_C        0x50000000000UL
#define MAX_CALLS   (1u << 16)          /* latencies the prober records */
#define CAL_TICKS   8u                  /* timer periods of the TSC calibration */
#define LOCK_TICKS  5u                  /* bound of a call's latency during the revoke */
#define EMPTY_TICKS 3u                  /* bound of a whole-range revoke of an empty space */

static volatile mword go, stop, calls;
static volatile uint64_t lat_t0[MAX_CALLS], lat_t1[MAX_CALLS];    /* ring of the last calls */
static volatile uint64_t win0, win1 = ~0UL;     /* the revoke's TSC window (set by the root) */
static volatile uint64_t lat_max, lat_n;        /* over every call overlapping the window */

/* Root EC on core 1: lookup calls until stop, each one's start and end recorded. */
static void prober(mword arg)
{
    (void)arg;
    struct lookup_info li;
    while (!go)
        sys_yield_pause();
    while (!stop) {
        uint64_t t0 = utest_rdtsc();
        int st = sys_lookup(SEL_ROOT_PD, SPACE_OBJ, SEL_ROOT_PD, &li);
        uint64_t t1 = utest_rdtsc();
        if (st != E_OK)
            sys_exit(1);
        lat_t0[calls % MAX_CALLS] = t0;
        lat_t1[calls % MAX_CALLS] = t1;
        calls++;
        if (win0 && t1 >= win0 && t0 <= win1) {
            lat_n++;
            lat_max = MAX(lat_max, t1 - t0);
        }
    }
    sys_exit(0);
}

/* Sort a[0..n) in place (shell sort). */
static void sort(uint64_t *a, mword n)
{
    for (mword gap = n / 2; gap; gap /= 2)
        for (mword i = gap; i < n; i++)
            for (mword j = i; j >= gap && a[j - gap] > a[j]; j -= gap) {
                uint64_t t = a[j];
                a[j] = a[j - gap];
                a[j - gap] = t;
            }
}

static uint64_t sorted[MAX_CALLS];

/* Build the trees: A holds the page; B holds WIDE copies from A, and B/C a chain of DEEP. */
static bool build(mword a, mword b, mword c, mword page)
{
    if (sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, page, VA_A, 1, MEM_R | MEM_W) != E_OK)
        return false;
    for (mword i = 0; i < WIDE; i++)
        if (sys_delegate(a, b, SPACE_MEM, VA_A, VA_B + i * PAGE_SIZE_USER, 1, MEM_R | MEM_W) !=
            E_OK)
            return false;
    /* The chain: C[0] from B[0], B[WIDE] from C[0], C[1] from B[WIDE], ... */
    mword src_pd = b, src = VA_B;
    for (mword i = 0; i < DEEP; i++) {
        bool to_c = i % 2 == 0;
        mword dst_pd = to_c ? c : b, dst = to_c ? VA_C + i / 2 * PAGE_SIZE_USER
                                               : VA_B + (WIDE + i / 2) * PAGE_SIZE_USER;
        if (sys_delegate(src_pd, dst_pd, SPACE_MEM, src, dst, 1, MEM_R | MEM_W) != E_OK)
            return false;
        src_pd = dst_pd;
        src = dst;
    }
    return true;
}

/* Pages of the trees still mapped, every stride-th of B's and all of the chain's. */
static unsigned left(mword a, mword b, mword c, mword stride)
{
    struct lookup_info li;
    unsigned n = sys_lookup(a, SPACE_MEM, VA_A, &li) != E_NOENT;
    for (mword i = 0; i < WIDE + DEEP / 2; i += stride)
        n += sys_lookup(b, SPACE_MEM, VA_B + i * PAGE_SIZE_USER, &li) != E_NOENT;
    for (mword i = 0; i < DEEP / 2; i++)
        n += sys_lookup(c, SPACE_MEM, VA_C + i * PAGE_SIZE_USER, &li) != E_NOENT;
    return n;
}

static void test_calls_wait_for_one_bounded_step(uint64_t cyc)
{
    mword a, b, c, ec, page = mem_alloc(1);
    struct ec_info ei;
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    CHECK_ST(child_pd(&c), E_OK);
    uint64_t s0 = utest_rdtsc();
    tap_check(page && build(a, b, c, page),
              "one page delegated to %u mappings in a wide and %u in a deep tree", WIDE, DEEP);
    printf("# revoke_wide: trees built in %lu ticks\n",
           (unsigned long)((utest_rdtsc() - s0) / cyc));
    CHECK_ST(child_ec(SEL_ROOT_PD, 1, prober, 0, &ec), E_OK);
    go = 1;
    while (calls < 100)
        sys_yield_pause();
    uint64_t r0 = win0 = utest_rdtsc();
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, page, 1, MEM_RWX, 0), E_OK);
    uint64_t r1 = win1 = utest_rdtsc();
    mword seen = calls;
    while (calls < seen + 100)
        sys_yield_pause();
    stop = 1;
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    tap_check(exited_with(&ei, 0), "the prober's calls all succeeded");
    mword n = 0;
    for (mword i = 0; i < MIN(calls, (mword)MAX_CALLS); i++)
        if (lat_t1[i] >= r0 && lat_t0[i] <= r1)
            sorted[n++] = lat_t1[i] - lat_t0[i];
    sort(sorted, n);
    uint64_t med = n ? sorted[n / 2] : 0, max = lat_max;
    n = lat_n;
    printf(
        "# revoke_wide: revoke took %lu.%02lu ticks; %lu calls of core 1 during it: "
        "median %lu.%02lu (of the last %u), max %lu.%02lu ticks\n",
        (unsigned long)((r1 - r0) / cyc), (unsigned long)((r1 - r0) * 100 / cyc % 100), n,
        (unsigned long)(med / cyc), (unsigned long)(med * 100 / cyc % 100), MAX_CALLS,
        (unsigned long)(max / cyc), (unsigned long)(max * 100 / cyc % 100));
    tap_check(n > 0, "core 1 made capability calls during the revoke (%lu)", n);
    tap_check(max < LOCK_TICKS * cyc,
              "every call of core 1 during the revoke completed within %u timer periods",
              LOCK_TICKS);
    unsigned l = left(a, b, c, 1);
    tap_check(l == 0, "the revoke is complete: %u pages of the trees still mapped", l);
}

static void test_a_whole_range_revoke_skips_what_is_not_held(uint64_t cyc)
{
    mword empty = sel_alloc(), child;
    CHECK_ST(sys_create_pd(empty, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    uint64_t t0 = utest_rdtsc();
    CHECK_ST(sys_revoke(empty, SPACE_MEM, 0, USER_LIMIT / PAGE_SIZE_USER, MEM_RWX, REVOKE_SELF),
             E_OK);
    uint64_t d = utest_rdtsc() - t0;
    printf("# revoke_wide: whole-range revoke of an empty space: %lu.%02lu ticks\n",
           (unsigned long)(d / cyc), (unsigned long)(d * 100 / cyc % 100));
    tap_check(d < EMPTY_TICKS * cyc,
              "a whole-range revoke of an empty space takes less than %u timer periods",
              EMPTY_TICKS);
    CHECK_ST(child_pd(&child), E_OK);
    t0 = utest_rdtsc();
    CHECK_ST(sys_revoke(child, SPACE_MEM, 0, USER_LIMIT / PAGE_SIZE_USER, MEM_RWX, 0), E_OK);
    d = utest_rdtsc() - t0;
    tap_check(d < EMPTY_TICKS * cyc,
              "a whole-range revoke of a child holding its program takes less than %u "
              "timer periods (%lu.%02lu)",
              EMPTY_TICKS, (unsigned long)(d / cyc), (unsigned long)(d * 100 / cyc % 100));
}

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("revoke_wide");
    if (info_page()->num_cpus < 2) {
        tap_check(true, "core 1 makes the calls # SKIP only one core");
        return utest_done("revoke_wide");
    }
    uint64_t cyc = utest_tsc_per_tick(1, CAL_TICKS);
    printf("# revoke_wide: %lu TSC cycles per timer period of core 1\n", (unsigned long)cyc);
    tap_check(cyc > 0, "the TSC advances over timer periods");
    test_a_whole_range_revoke_skips_what_is_not_held(cyc);
    test_calls_wait_for_one_bounded_step(cyc);
    return utest_done("revoke_wide");
}
