/*
 * A revoke is bounded by work done, not by units. One page is
 * delegated to child A, then from A to child B at WIDE addresses (WIDE mappings derived
 * from one unit, a wide tree) and down a chain of DEEP mappings alternating between B
 * and C (a deep tree). The root revokes the page while an EC of the root on core 1 keeps
 * making capability calls (lookup, which takes the kernel lock): every call waits for at
 * most one bounded step, where a revoke that drops every derived mapping of a unit in one
 * step keeps the lock for all of them. The kernel measures both halves, independent of how
 * QEMU schedules the vCPUs: each revoke step's work (core_counters.revoke_step_max, at most
 * UTEST_STEP_WORK_MAX entries; revoke_work counts every mapping dropped) and the critical
 * sections of pd_lock that passed a waiting core (lock_bypass_max, below the number of
 * cores). The calls' latencies (TSC, calibrated against core 1's timer ticks) are
 * reported as median and maximum in ticks. The revoke is complete: nothing of the page is
 * left in A, B or C. Then a revoke of the whole user range of an empty PD (2^35 - 1
 * pages, nothing mapped) must take at most EMPTY_STEPS steps, as must one of a child that
 * holds only its program. Run as the root task with 512M of RAM (tests/qemu/user.sh);
 * TAP output.
 */
#include "utest.h"

#define WIDE        60000u              /* mappings of the page in B, children of A's */
#define DEEP        4000u               /* chain B -> C -> B ... of the page */
#define VA_A        0x40000000000UL
#define VA_B        0x48000000000UL     /* B: WIDE pages, then the chain's pages */
#define VA_C        0x50000000000UL
#define MAX_CALLS   (1u << 16)          /* latencies the prober records */
#define CAL_TICKS   8u                  /* timer periods of the TSC calibration */
#define EMPTY_STEPS 2u                  /* bound of a whole-range revoke of an empty space */

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
    struct core_counters k0 = utest_counters(0);
    uint64_t r0 = win0 = utest_rdtsc();
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, page, 1, MEM_RWX, 0), E_OK);
    uint64_t r1 = win1 = utest_rdtsc();
    struct core_counters k1 = utest_counters(0);
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
    uint64_t steps = k1.revoke_steps - k0.revoke_steps, work = k1.revoke_work - k0.revoke_work;
    unsigned ncpu = info_page()->num_cpus;
    uint64_t bypass = utest_counters(1).lock_bypass_max;
    printf("# revoke_wide: %lu steps, work %lu, largest step %lu; core 1 passed over by at most "
           "%lu critical sections while it waited\n",
           (unsigned long)steps, (unsigned long)work, (unsigned long)k1.revoke_step_max,
           (unsigned long)bypass);
    tap_check(n > 0, "core 1 made capability calls during the revoke (%lu)", n);
    tap_check(work >= WIDE + DEEP + 1 && k1.revoke_step_max <= UTEST_STEP_WORK_MAX,
              "the revoke ran in bounded steps: its work counts each of the %u mappings "
              "(%lu in %lu steps), no step did more than %u (%lu)",
              WIDE + DEEP + 1, (unsigned long)work, (unsigned long)steps, UTEST_STEP_WORK_MAX,
              (unsigned long)k1.revoke_step_max);
    tap_check(bypass <= ncpu - 1,
              "every call of core 1 waited for at most %u critical sections of pd_lock, each a "
              "bounded step at most (%lu)",
              ncpu - 1, (unsigned long)bypass);
    unsigned l = left(a, b, c, 1);
    tap_check(l == 0, "the revoke is complete: %u pages of the trees still mapped", l);
}

/* Steps of core 0 a revoke by pd_sel of the whole user range took (flags: REVOKE_SELF or 0). */
static uint64_t whole_range_steps(mword pd_sel, mword flags, uint64_t cyc)
{
    uint64_t s0 = utest_counters(0).revoke_steps, t0 = utest_rdtsc();
    CHECK_ST(sys_revoke(pd_sel, SPACE_MEM, 0, USER_LIMIT / PAGE_SIZE_USER, MEM_RWX, flags), E_OK);
    uint64_t d = utest_rdtsc() - t0, steps = utest_counters(0).revoke_steps - s0;
    printf("# revoke_wide: whole-range revoke: %lu steps, %lu.%02lu ticks\n",
           (unsigned long)steps, (unsigned long)(d / cyc), (unsigned long)(d * 100 / cyc % 100));
    return steps;
}

static void test_a_whole_range_revoke_skips_what_is_not_held(uint64_t cyc)
{
    mword empty = sel_alloc(), child;
    CHECK_ST(sys_create_pd(empty, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    uint64_t steps = whole_range_steps(empty, REVOKE_SELF, cyc);
    tap_check(steps <= EMPTY_STEPS,
              "a whole-range revoke of an empty space takes at most %u steps (%lu)", EMPTY_STEPS,
              (unsigned long)steps);
    CHECK_ST(child_pd(&child), E_OK);
    steps = whole_range_steps(child, 0, cyc);
    tap_check(steps <= EMPTY_STEPS,
              "a whole-range revoke of a child holding its program takes at most %u steps (%lu)",
              EMPTY_STEPS, (unsigned long)steps);
}

int main(mword arg)
{
    if (!utest_init(arg) || !utest_need_cores(2, "core 1 makes the calls"))
        return utest_done("revoke_wide");
    uint64_t cyc = utest_tsc_per_tick(1, CAL_TICKS);
    printf("# revoke_wide: %lu TSC cycles per timer period of core 1\n", (unsigned long)cyc);
    tap_check(cyc > 0, "the TSC advances over timer periods");
    test_a_whole_range_revoke_skips_what_is_not_held(cyc);
    test_calls_wait_for_one_bounded_step(cyc);
    return utest_done("revoke_wide");
}
