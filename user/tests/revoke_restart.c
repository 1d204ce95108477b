/*
 * A partial-rights revoke of a unit with many derived mappings goes node by node in bounded
 * steps (kernel/mdb.c revoke_deep), resuming at
 * op->at only while the mapping database is unchanged (db->gen). Any other call that
 * changes the database between steps (here: core 1 delegating and revoking an unrelated
 * page of the root) makes every step walk again from the unit, re-skip every node
 * already done, and stop after one more node. The same revoke then takes ~WIDE steps
 * of O(WIDE) work instead of WIDE/64 steps of O(64). The kernel counts each revoke step
 * and its work (core_counters.revoke_steps, revoke_work, revoke_step_max), so the checks
 * compare steps and work, quiet against noisy, and do not depend on how long QEMU lets
 * each vCPU run; pd_lock's hand-off lets core 1 in between the steps (kernel/fairlock.c).
 * Timer ticks are printed. TAP output.
 */
#include "utest.h"

#define WIDE        60000u
#define VA_A        0x40000000000UL
#define VA_B        0x48000000000UL
#define VA_D        0x50000000000UL
#define SLOW        4u                  /* allowed factor over the quiet revoke's steps, work */
#define SLACK_STEPS 2u                  /* ... plus this many steps */

static volatile mword go, stop, calls;
static mword noise_pd, noise_page;

/* Core 1: change the database with every call (delegate, then revoke, an unrelated page). */
static void noiser(mword arg)
{
    (void)arg;
    while (!go)
        sys_yield_pause();
    while (!stop) {
        if (sys_delegate(SEL_ROOT_PD, noise_pd, SPACE_MEM, noise_page, VA_D, 1, MEM_R) != E_OK)
            sys_exit(1);
        if (sys_revoke(SEL_ROOT_PD, SPACE_MEM, noise_page, 1, MEM_RWX, 0) != E_OK)
            sys_exit(2);
        calls++;
    }
    sys_exit(0);
}

/* page -> A (one node) -> B at WIDE addresses (WIDE nodes derived from one unit). */
static bool build(mword a, mword b, mword page)
{
    if (sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, page, VA_A, 1, MEM_R | MEM_W) != E_OK)
        return false;
    for (mword i = 0; i < WIDE; i++)
        if (sys_delegate(a, b, SPACE_MEM, VA_A, VA_B + i * PAGE_SIZE_USER, 1, MEM_R | MEM_W) !=
            E_OK)
            return false;
    return true;
}

/* What a revoke of core 0 cost: timer ticks, steps, work, the largest step's work. */
struct cost {
    uint64_t ticks, steps, work, step_max;
};

/* Revoke W from page on core 0; its cost. */
static struct cost revoke_w(mword page)
{
    struct core_counters a = utest_counters(0);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, page, 1, MEM_W, 0), E_OK);
    struct core_counters b = utest_counters(0);
    return (struct cost){ b.timer_ticks - a.timer_ticks, b.revoke_steps - a.revoke_steps,
                          b.revoke_work - a.revoke_work, b.revoke_step_max };
}

/* Print cost c of the revoke what. */
static void print_cost(const char *what, struct cost c)
{
    printf("# revoke_restart: %s: %lu steps, work %lu (largest step %lu), %lu ticks\n", what,
           (unsigned long)c.steps, (unsigned long)c.work, (unsigned long)c.step_max,
           (unsigned long)c.ticks);
}

int main(mword arg)
{
    if (!utest_init(arg) || !utest_need_cores(2, "core 1 changes the database"))
        return utest_done("revoke_restart");
    mword a1, b1, a2, b2, ec, p1 = mem_alloc(1), p2 = mem_alloc(1);
    struct ec_info ei;
    noise_page = mem_alloc(1);
    CHECK_ST(child_pd(&a1), E_OK);
    CHECK_ST(child_pd(&b1), E_OK);
    CHECK_ST(child_pd(&a2), E_OK);
    CHECK_ST(child_pd(&b2), E_OK);
    CHECK_ST(child_pd(&noise_pd), E_OK);
    tap_check(p1 && p2 && noise_page && build(a1, b1, p1) && build(a2, b2, p2),
              "two pages each delegated to %u mappings", WIDE);
    struct cost quiet = revoke_w(p1);
    print_cost("quiet partial revoke", quiet);
    CHECK_ST(child_ec(SEL_ROOT_PD, 1, noiser, 0, &ec), E_OK);
    go = 1;
    while (calls < 10)
        sys_yield_pause();
    mword c0 = calls;
    struct cost noisy = revoke_w(p2);
    mword during = calls - c0;
    stop = 1;
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    tap_check(exited_with(&ei, 0), "core 1's calls all succeeded");
    printf("# revoke_restart: %lu calls of core 1 during the noisy revoke\n",
           (unsigned long)during);
    print_cost("the same revoke while core 1 changes the database", noisy);
    struct lookup_info li;
    CHECK_ST(sys_lookup(b2, SPACE_MEM, VA_B, &li), E_OK);
    tap_check(li.rights == MEM_R, "the revoke removed W (rights %x)", li.rights);
    tap_check(during > 0, "core 1 changed the database during the revoke (%lu pairs of calls)",
              (unsigned long)during);
    tap_check(noisy.steps <= SLOW * quiet.steps + SLACK_STEPS,
              "the revoke takes at most %u times as many steps under another core's calls "
              "(%lu vs %lu)",
              SLOW, (unsigned long)noisy.steps, (unsigned long)quiet.steps);
    tap_check(noisy.work <= SLOW * quiet.work + SLACK_STEPS * UTEST_STEP_WORK_MAX,
              "the revoke does at most %u times the work under another core's calls "
              "(%lu vs %lu)",
              SLOW, (unsigned long)noisy.work, (unsigned long)quiet.work);
    tap_check(quiet.work >= WIDE && noisy.step_max <= UTEST_STEP_WORK_MAX,
              "every step is bounded: the work counts each of the %u mappings (%lu), no step "
              "did more than %u (%lu)",
              WIDE, (unsigned long)quiet.work, UTEST_STEP_WORK_MAX,
              (unsigned long)noisy.step_max);
    return utest_done("revoke_restart");
}
