/*
 * Cutting or merging a mapping costs the same however many mappings were delegated from it.
 * Two attacks, each while an EC of the root on core 1 keeps making capability calls (lookup,
 * which takes the kernel lock) and records the longest one that overlaps the attack:
 *  - cut: child A holds two pages as one mapping, and KIDS mappings in B are delegated from
 *    its first page; the root revokes write access to the second page, which cuts A's mapping
 *    in two (a kernel that moved or scanned the children at the cut kept the lock for all of
 *    them in one step);
 *  - merge: B holds A's pages 0 and 2 (two mappings from one), KIDS / 2 mappings in C derived
 *    from each; delegating page 1 into the gap makes them one mapping again (a kernel that
 *    moved the children of one into the other did so inside one delegate call).
 * The longest call of core 1 must stay below STEP_TICKS timer periods (the lock is held for
 * one bounded step at a time); it is printed in TSC cycles, which under -icount count
 * instructions: with 20,000 children, 671,977 for the cut and 234,439 for the merge when they
 * moved the children, 17,379 and 14,493 when they move none. Run with 512M of RAM
 * (tests/qemu/lib.bash: mem_for); TAP output.
 */
#include "utest.h"

#define KIDS        10000u              /* mappings derived from the mapping that is cut */
#define VA_A        0x40000000000UL
#define VA_B        0x48000000000UL
#define VA_C        0x50000000000UL
#define CAL_TICKS   8u                  /* timer periods of the TSC calibration */
#define STEP_TICKS  5u                  /* bound of a call's latency during an attack */
#define MEM_RW      (MEM_R | MEM_W)

static volatile mword go, stop, calls;
static volatile uint64_t win0, win1 = ~0UL;     /* the attack's TSC window (set by the root) */
static volatile uint64_t lat_max;               /* longest call overlapping the window */

/* One lookup call (it takes the kernel lock), timed: its start in *t0; returns its end. */
static uint64_t timed_lookup(uint64_t *t0)
{
    struct lookup_info li;
    *t0 = utest_rdtsc();
    if (sys_lookup(SEL_ROOT_PD, SPACE_OBJ, SEL_ROOT_PD, &li) != E_OK)
        sys_exit(1);
    return utest_rdtsc();
}

/* Root EC on core 1: lookup calls until stop; the longest one inside the window is kept. */
static void prober(mword arg)
{
    (void)arg;
    while (!go)
        sys_yield_pause();
    for (uint64_t t0, t1; !stop; calls++) {
        t1 = timed_lookup(&t0);
        if (win0 && t1 >= win0 && t0 <= win1)
            lat_max = MAX(lat_max, t1 - t0);
    }
    sys_exit(0);
}

/* Delegate page src of pd s to n consecutive pages of pd d from dst, one call each. */
static bool fan_out(mword s, mword src, mword d, mword dst, mword n)
{
    for (mword i = 0; i < n; i++)
        if (sys_delegate(s, d, SPACE_MEM, src, dst + i * PAGE_SIZE_USER, 1, MEM_RW) != E_OK)
            return false;
    return true;
}

/* Open the measuring window; the prober must be running. */
static void window_open(void)
{
    win0 = 0;
    lat_max = 0;
    win1 = ~0UL;
    mword seen = calls;
    while (calls < seen + 100)
        sys_yield_pause();
    win0 = utest_rdtsc();
}

/* Close the window, let the prober finish a few more calls; returns the longest call. */
static uint64_t window_close(void)
{
    win1 = utest_rdtsc();
    mword seen = calls;
    while (calls < seen + 100)
        sys_yield_pause();
    return lat_max;
}

/* Report a latency of d cycles against the bound. */
static void report(const char *what, uint64_t d, uint64_t cyc)
{
    printf("# revoke_cut: %s: longest call of core 1 %lu.%02lu ticks (%lu cycles)\n", what,
           (unsigned long)(d / cyc), (unsigned long)(d * 100 / cyc % 100), (unsigned long)d);
    tap_check(d < STEP_TICKS * cyc, "%s: every call of core 1 completed within %u timer periods",
              what, STEP_TICKS);
}

static void test_a_cut_is_one_bounded_step(uint64_t cyc)
{
    mword a, b, page = mem_alloc(2);
    struct lookup_info li;
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    tap_check(page && sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, page, VA_A, 2, MEM_RW) == E_OK &&
                  fan_out(a, VA_A, b, VA_B, KIDS),
              "cut: A holds two pages, %u mappings in B derive from the first", KIDS);
    window_open();
    uint64_t t0 = utest_rdtsc();
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, page + PAGE_SIZE_USER, 1, MEM_W, 0), E_OK);
    uint64_t d = utest_rdtsc() - t0;
    uint64_t worst = window_close();
    printf("# revoke_cut: the revoke took %lu.%02lu ticks\n", (unsigned long)(d / cyc),
           (unsigned long)(d * 100 / cyc % 100));
    report("cut", worst, cyc);
    tap_check(sys_lookup(a, SPACE_MEM, VA_A + PAGE_SIZE_USER, &li) == E_OK &&
                  !(li.rights & MEM_W),
              "cut: A's second page lost write access");
    tap_check(sys_lookup(b, SPACE_MEM, VA_B + (KIDS - 1) * PAGE_SIZE_USER, &li) == E_OK &&
                  (li.rights & MEM_W),
              "cut: B's mappings of the first page keep it");
}

static void test_a_merge_is_one_bounded_call(uint64_t cyc)
{
    mword a, b, c, page = mem_alloc(3);
    struct lookup_info li;
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    CHECK_ST(child_pd(&c), E_OK);
    mword p = PAGE_SIZE_USER;
    tap_check(page && sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, page, VA_A, 3, MEM_RW) == E_OK &&
                  sys_delegate(a, b, SPACE_MEM, VA_A, VA_B, 1, MEM_RW) == E_OK &&
                  sys_delegate(a, b, SPACE_MEM, VA_A + 2 * p, VA_B + 2 * p, 1, MEM_RW) == E_OK &&
                  fan_out(b, VA_B, c, VA_C, KIDS / 2) &&
                  fan_out(b, VA_B + 2 * p, c, VA_C + KIDS / 2 * p, KIDS / 2),
              "merge: B holds A's pages 0 and 2, %u mappings in C derive from each", KIDS / 2);
    window_open();
    CHECK_ST(sys_delegate(a, b, SPACE_MEM, VA_A + p, VA_B + p, 1, MEM_RW), E_OK);
    report("merge", window_close(), cyc);
    CHECK_ST(sys_revoke(b, SPACE_MEM, VA_B + 2 * p, 1, MEM_RWX, 0), E_OK);
    tap_check(sys_lookup(c, SPACE_MEM, VA_C + (KIDS - 1) * p, &li) == E_NOENT &&
                  sys_lookup(c, SPACE_MEM, VA_C, &li) == E_OK,
              "merge: revoking B's page 2 removes exactly what derives from it");
}

int main(mword arg)
{
    mword ec;
    struct ec_info ei;
    bool init = utest_init(arg), two = init && info_page()->num_cpus >= 2;
    if (init && !two)
        tap_check(true, "core 1 makes the calls # SKIP only one core");
    if (!two)
        return utest_done("revoke_cut");
    uint64_t cyc = utest_tsc_per_tick(1, CAL_TICKS);
    tap_check(cyc > 0, "the TSC advances over timer periods");
    CHECK_ST(child_ec(SEL_ROOT_PD, 1, prober, 0, &ec), E_OK);
    go = 1;
    test_a_cut_is_one_bounded_step(cyc);
    test_a_merge_is_one_bounded_call(cyc);
    stop = 1;
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    tap_check(exited_with(&ei, 0), "the prober's calls all succeeded");
    return utest_done("revoke_cut");
}
