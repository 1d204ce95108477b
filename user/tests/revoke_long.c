/*
 * Long revokes are preemptible: 4 GiB (a million 4K pages: source and
 * destination differ modulo 2 MiB, so no large page fits), delegated from the
 * root to FANOUT children, are revoked with one call on core 0. The timer of
 * core 0 must keep ticking during the call: its interrupts are taken inside the
 * call, between its steps (core_counters.kernel_ticks), and none but the one
 * pending at its end is held back until after it; a revoke with interrupts off
 * for its whole length would take no tick inside and one (coalesced) after.
 * Counting where each tick lands does not depend on how QEMU schedules the vCPU
 * (a tick that falls while the vCPU waits for the host is taken at the next
 * window, still inside the call); the call's length in timer periods (TSC,
 * calibrated on core 0) is printed and must reach MIN_TICKS for the
 * measurement to tell. Each step is bounded (core_counters.revoke_step_max).
 * The result is complete: no page of the range is
 * left in any child. FANOUT children make the call last several timer periods
 * under TCG (FANOUT * 2048 page tables to detach). Run as the root task with
 * 8G of RAM (tests/qemu/user.sh); TAP output.
 */
#include "utest.h"

#define LONG_VA     0x40000000000UL             /* child: 4 TiB, 2 MiB aligned */
#define LONG_PAGES  (4UL << 30 >> 12)           /* 4 GiB of 4 KiB pages: a million */
#define SIZE_2M     (2UL << 20)
#define MIN_TICKS   3u                          /* the revoke must last this long to tell */
#define EDGE_TICKS  2u                          /* ticks outside the call: at its end, between
                                                   the counter reads and the call */
#define CAL_TICKS   4u                          /* timer periods of the TSC calibration */
#define FANOUT      48u                         /* children holding the whole range */
#define PROBE_STRIDE 127u                        /* lookups after the revoke: every 127th page */

static void test_core_0_takes_timer_ticks_during_a_long_revoke(void)
{
    mword pd[FANOUT];
    struct lookup_info li;
    mword w = mem_take(LONG_PAGES + 1, SIZE_2M);
    tap_check(w != 0, "4 GiB in the window (boot with -m 8G)");
    if (w == 0)
        return;
    unsigned given = 0;
    for (unsigned i = 0; i < FANOUT; i++)
        given += child_pd(&pd[i]) == E_OK &&
                 sys_delegate(SEL_ROOT_PD, pd[i], SPACE_MEM, w + PAGE_SIZE_USER, LONG_VA,
                              LONG_PAGES, MEM_R) == E_OK;
    tap_check(given == FANOUT, "%u children hold the range (%u)", FANOUT, given);
    CHECK_ST(sys_lookup(pd[0], SPACE_MEM, LONG_VA + SIZE_2M, &li), E_OK);
    tap_check(li.size == PAGE_SIZE_USER, "the range is mapped with 4K pages (lookup size 0x%lx)",
              li.size);
    uint64_t per_tick = utest_tsc_per_tick(0, CAL_TICKS);
    struct core_counters a0 = utest_counters(0);
    uint64_t t1 = utest_ticks(1), c0 = utest_rdtsc();
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, w + PAGE_SIZE_USER, LONG_PAGES, MEM_RWX, 0), E_OK);
    uint64_t c1 = utest_rdtsc();
    struct core_counters b0 = utest_counters(0);
    uint64_t d0 = b0.timer_ticks - a0.timer_ticks, d1 = utest_ticks(1) - t1;
    uint64_t inside = b0.kernel_ticks - a0.kernel_ticks, outside = d0 - inside;
    uint64_t periods = per_tick ? (c1 - c0) / per_tick : 0; /* the call's length in periods */
    printf("# revoke_long: %u x %lu pages in %lu Mcycles (%lu timer periods of core 0), %lu "
           "steps (largest %lu); timer ticks core 0 +%lu (%lu inside the call), core 1 +%lu\n",
           FANOUT, LONG_PAGES, (unsigned long)((c1 - c0) >> 20), (unsigned long)periods,
           (unsigned long)(b0.revoke_steps - a0.revoke_steps), (unsigned long)b0.revoke_step_max,
           (unsigned long)d0, (unsigned long)inside, (unsigned long)d1);
    tap_check(b0.revoke_step_max <= UTEST_STEP_WORK_MAX,
              "every revoke step is bounded: at most %u entries (%lu)", UTEST_STEP_WORK_MAX,
              (unsigned long)b0.revoke_step_max);
    /* A revoke shorter than MIN_TICKS timer periods cannot tell preemptible from not (a fast
       host): that is an inconclusive measurement, reported as a skip, not a kernel failure.
       The ticks compared are core 0's own: under -icount with one host thread the cores'
       virtual times advance unevenly, so core 1's ticks are printed but not compared. */
    if (periods >= MIN_TICKS)
        tap_check(inside >= 1 && outside <= EDGE_TICKS,
                  "core 0 took its timer interrupts during the revoke (%lu of %lu ticks inside "
                  "the call, %lu periods long; at most %u outside)",
                  (unsigned long)inside, (unsigned long)d0, (unsigned long)periods, EDGE_TICKS);
    else
        tap_check(
            true,
            "core 0 took its timer interrupts during the revoke # SKIP the revoke lasted only "
            "%lu of the %u timer periods needed to tell: raise FANOUT",
            (unsigned long)periods, MIN_TICKS);
    unsigned left = 0, probed = 0;
    for (unsigned p = 0; p < FANOUT; p++) {
        for (mword i = 0; i < LONG_PAGES; i += PROBE_STRIDE, probed++)
            left += sys_lookup(pd[p], SPACE_MEM, LONG_VA + i * PAGE_SIZE_USER, &li) != E_NOENT;
        left += sys_lookup(pd[p], SPACE_MEM, LONG_VA + (LONG_PAGES - 1) * PAGE_SIZE_USER, &li) !=
                E_NOENT;
        probed++;
    }
    tap_check(left == 0,
              "the preempted revoke is complete: %u of %u probed pages (every %u-th and the last) "
              "still mapped",
              left, probed, PROBE_STRIDE);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    if (utest_need_cores(2, "core 1 is the reference clock"))
        test_core_0_takes_timer_ticks_during_a_long_revoke();
    return utest_done("revoke_long");
}
