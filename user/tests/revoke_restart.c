/*
 * A partial-rights revoke of a unit with many derived mappings goes node by node in bounded
 * steps (kernel/mdb.c revoke_deep), resuming at
 * op->at only while the mapping database is unchanged (db->gen). Any other call that
 * changes the database between steps (here: core 1 delegating and revoking an unrelated
 * page of the root) makes every step walk again from the unit, re-skip every node
 * already done, and stop after one more node. The same revoke then takes ~WIDE steps
 * of O(WIDE) work instead of WIDE/64 steps of O(64). TAP output.
 */
#include "utest.h"

#define WIDE        60000u
#define VA_A        0x40000000000UL
#define VA_B        0x48000000000UL
#define VA_D        0x50000000000UL
#define SLOW        4u                  /* allowed factor over the quiet revoke (+2 ticks) */

static volatile mword go, stop, calls;
static mword noise_pd, noise_page;

static uint64_t ticks0(void)
{
    struct core_counters cc;
    return sys_counters(0, &cc) == E_OK ? cc.timer_ticks : 0;
}

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

/* Ticks of core 0 a revoke of W from page took. */
static uint64_t revoke_w(mword page)
{
    uint64_t t = ticks0();
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, page, 1, MEM_W, 0), E_OK);
    return ticks0() - t;
}

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("revoke_restart");
    if (info_page()->num_cpus < 2) {
        tap_check(true, "core 1 changes the database # SKIP only one core");
        return utest_done("revoke_restart");
    }
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
    uint64_t quiet = revoke_w(p1);
    printf("# revoke_restart: quiet partial revoke of %u mappings: %lu ticks\n", WIDE,
           (unsigned long)quiet);
    CHECK_ST(child_ec(SEL_ROOT_PD, 1, noiser, 0, &ec), E_OK);
    go = 1;
    while (calls < 10)
        sys_yield_pause();
    mword c0 = calls;
    uint64_t noisy = revoke_w(p2);
    mword during = calls - c0;
    stop = 1;
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    tap_check(exited_with(&ei, 0), "core 1's calls all succeeded");
    printf(
        "# revoke_restart: the same revoke while core 1 changes the database: %lu ticks (%lu "
        "calls of core 1)\n",
        (unsigned long)noisy, (unsigned long)during);
    struct lookup_info li;
    CHECK_ST(sys_lookup(b2, SPACE_MEM, VA_B, &li), E_OK);
    tap_check(li.rights == MEM_R, "the revoke removed W (rights %x)", li.rights);
    tap_check(noisy <= SLOW * quiet + 2,
              "the revoke takes at most %u times as long under another core's calls "
              "(%lu vs %lu ticks)",
              SLOW, (unsigned long)noisy, (unsigned long)quiet);
    return utest_done("revoke_restart");
}
