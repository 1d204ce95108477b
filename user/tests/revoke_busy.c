/*
 * Waiting for the kernel lock is harmless: while core 0 holds
 * pd_lock for a long revoke, core 1 runs two ECs of a child: a pure user-mode
 * spinner that records the largest gap between two of its time-stamp reads,
 * and an EC making system calls that need pd_lock (lookup) in a loop. A core
 * whose EC waits for the lock must keep taking its timer interrupts and keep
 * running its other ECs: core 1 takes about as many timer ticks as core 0
 * during the revoke, and the spinner is never held off for as long as the
 * revoke lasts. Before, the caller spun with interrupts off for the whole
 * revoke, so core 1 took at most one tick and the spinner stood still.
 * The long revoke: 1 GiB delegated as 4K pages (source and destination differ
 * modulo 2 MiB) into FANOUT children, whose page tables it detaches; with
 * less RAM than that (boot with -m 2G, tests/qemu/user.sh), REVOKE_PAGES pages
 * where nothing is mapped. If it is over in fewer than MIN_TICKS timer periods
 * the measurement cannot tell and is a skip. Run as the root task; TAP output.
 */
#include "utest.h"

#define REVOKE_BASE     (1UL << 44)     /* 16 TiB: nothing mapped or delegated there */
#define REVOKE_PAGES    (1UL << 30)     /* 4 TiB of 4 KiB pages */
#define STACK_VA        0x20000000UL    /* child: two stacks */
#define STACK_SPAN      ((CHILD_STACK_PAGES + 1) * PAGE_SIZE_USER)
#define MIN_TICKS       4u              /* the revoke must last this long to tell */
#define BIG_VA          0x40000000000UL /* child: 4 TiB, 2 MiB aligned */
#define BIG_PAGES       (1UL << 30 >> 12)   /* 1 GiB of 4 KiB pages */
#define SIZE_2M         (2UL << 20)
#define FANOUT          32u             /* children holding the range */

static volatile uint64_t spins, max_gap, last_seen, calls, lock_errors, stop;
static volatile bool spinning, calling;

/* Spinner: count, and record the largest gap between two consecutive reads of the TSC and the
   last. */
static void child_spinner(mword arg)
{
    (void)arg;
    uint64_t last = utest_rdtsc();
    spinning = true;
    while (!stop) {
        uint64_t now = utest_rdtsc();
        if (now - last > max_gap)
            max_gap = now - last;
        last = last_seen = now;
        spins++;
    }
    sys_exit(0);
}

/* Caller: system calls that take pd_lock (a lookup without a capability: E_CAP under the lock). */
static void child_caller(mword arg)
{
    (void)arg;
    struct lookup_info li;
    calling = true;
    while (!stop) {
        lock_errors += sys_lookup(SEL_ROOT_PD, SPACE_MEM, 0, &li) != E_CAP;
        calls++;
    }
    sys_exit(0);
}

static void test_waiting_for_the_lock_keeps_the_core_running(void)
{
    mword pd, ec_spin, ec_call, stacks;
    struct ec_info ei;
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(child_give(pd, STACK_VA, 2 * STACK_SPAN / PAGE_SIZE_USER, MEM_R | MEM_W, &stacks),
             E_OK);
    ec_spin = sel_alloc();
    ec_call = sel_alloc();
    CHECK_ST(sys_create_ec(ec_spin, pd, 1, (mword)child_spinner,
                           ec_stack_ptr((void *)(STACK_VA + CHILD_STACK_PAGES * PAGE_SIZE_USER)),
                           0),
             E_OK);
    CHECK_ST(sys_create_ec(ec_call, pd, 1, (mword)child_caller,
                           ec_stack_ptr((void *)(STACK_VA + STACK_SPAN +
                                                 CHILD_STACK_PAGES * PAGE_SIZE_USER)),
                           0),
             E_OK);
    mword base = REVOKE_BASE, pages = REVOKE_PAGES, w = mem_take(BIG_PAGES + 1, SIZE_2M), kid;
    unsigned given = 0;
    for (unsigned i = 0; w != 0 && i < FANOUT; i++)
        given +=
            child_pd(&kid) == E_OK && sys_delegate(SEL_ROOT_PD, kid, SPACE_MEM, w + PAGE_SIZE_USER,
                                                   BIG_VA, BIG_PAGES, MEM_R) == E_OK;
    if (w != 0) {
        base = w + PAGE_SIZE_USER;
        pages = BIG_PAGES;
    }
    tap_check(w == 0 || given == FANOUT, "%u children hold 1 GiB each (%u; %s)", FANOUT, given,
              w ? "in the window" : "no room: an empty range instead");
    while (!spinning || !calling)
        sys_yield_pause();
    struct core_counters a0 = utest_counters(0), a1 = utest_counters(1);
    uint64_t s0 = spins, k0 = calls, c0 = utest_rdtsc();
    max_gap = 0;
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, base, pages, MEM_RWX, 0), E_OK);
    uint64_t seen = last_seen;      /* before c1: the spinner keeps storing later reads */
    uint64_t c1 = utest_rdtsc(), gap = MAX(max_gap, c1 > seen ? c1 - seen : 0), s1 = spins;
    uint64_t k1 = calls;
    struct core_counters b0 = utest_counters(0), b1 = utest_counters(1);
    stop = 1;
    CHECK_ST(ec_wait(ec_spin, &ei), E_OK);
    CHECK_ST(ec_wait(ec_call, &ei), E_OK);
    uint64_t d0 = b0.timer_ticks - a0.timer_ticks, d1 = b1.timer_ticks - a1.timer_ticks;
    printf(
        "# revoke_busy: revoke of %lu pages in %lu Mcycles; timer ticks core 0 +%lu, core 1 +%lu; "
        "spinner +%lu loops, largest gap %lu Mcycles; caller +%lu calls, %lu re-issued\n",
        (unsigned long)pages, (unsigned long)((c1 - c0) >> 20), (unsigned long)d0,
        (unsigned long)d1, (unsigned long)(s1 - s0), (unsigned long)(gap >> 20),
        (unsigned long)(k1 - k0), (unsigned long)(b1.lock_retries - a1.lock_retries));
    tap_check(lock_errors == 0,
              "every call of the caller returned E_CAP from under the lock (%lu other)",
              (unsigned long)lock_errors);
    if (d0 < MIN_TICKS) {
        tap_check(
            true,
            "core 1 keeps taking timer ticks while its EC waits # SKIP the revoke lasted only "
            "%lu timer ticks of core 0 (%u needed to tell)",
            (unsigned long)d0, MIN_TICKS);
        return;
    }
    tap_check(2 * d1 + 2 >= d0,
              "core 1 keeps taking timer ticks while its EC waits (%lu of core 0's %lu)",
              (unsigned long)d1, (unsigned long)d0);
    tap_check(2 * gap < c1 - c0,
              "the spinner on core 1 is never held off for half of the revoke "
              "(largest gap %lu of %lu Mcycles)",
              (unsigned long)(gap >> 20), (unsigned long)((c1 - c0) >> 20));
    tap_check(s1 > s0, "the spinner progressed during the revoke (+%lu loops)",
              (unsigned long)(s1 - s0));
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    if (utest_need_cores(2, "the waiting EC runs on core 1"))
        test_waiting_for_the_lock_keeps_the_core_running();
    return utest_done("revoke_busy");
}
