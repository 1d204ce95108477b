/*
 * Kernel core: ECs on other cores, the scheduler and the kernel's user-memory
 * access. A child PD runs on another core, writes into memory delegated to it,
 * the root reads the result through its own mapping; two ECs on one core both
 * make progress only if the timer preempts them; yield returns; ec_status of a
 * running EC; a revoke stops a child reading the page on another core (TLB
 * shootdown); copies to unmapped or read-only user buffers end the call with
 * E_RANGE and the kernel goes on. Run as the root task; TAP output.
 */
#include "utest.h"

#define SHARED_VA   0x10000000UL    /* child: one page shared with the root */
#define MAGIC       0xc0ffee42u
#define SPIN_GOAL   200000u         /* iterations each spinner needs from the other */
#define UNMAPPED_VA 0x30000000UL    /* never mapped in the root */

static mword cpu;                   /* core the children run on: the last one */
static volatile uint64_t spins[2];  /* shared with the children (same data segment) */
static volatile uint32_t release;   /* the root lets a blocked child go */

/* Child: write MAGIC into the shared page, then exit with 5. */
static void child_write(mword a)
{
    *(volatile uint32_t *)a = MAGIC;
    sys_exit(5);
}

/* Child i: count until the other spinner has counted SPIN_GOAL too (needs preemption). */
static void child_spin(mword i)
{
    while (spins[i] < SPIN_GOAL || spins[1 - i] < SPIN_GOAL) {
        spins[i]++;
        cpu_pause();
    }
    sys_exit((long)i);
}

/* Child: yield until the root releases it; exit with yield's status. */
static void child_yield(mword a)
{
    (void)a;
    int st = E_OK;
    while (!release && st == E_OK)
        st = sys_yield_pause();
    sys_exit(st);
}

static void test_child_on_another_core_writes_delegated_memory(void)
{
    mword pd, window, ec;
    struct ec_info ei;
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(child_give(pd, SHARED_VA, 1, MEM_R | MEM_W, &window), E_OK);
    CHECK_ST(child_ec(pd, cpu, child_write, SHARED_VA, &ec), E_OK);
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    tap_check(exited_with(&ei, 5) && ei.cpu == cpu, "the child exited with its code on core %lu",
              cpu);
    tap_check(*(volatile uint32_t *)window == MAGIC,
              "the root reads the child's write through its window");
}

static void test_two_ecs_on_one_core_both_progress(void)
{
    mword pd, ec[2];
    struct ec_info ei;
    struct core_counters before, after;
    CHECK_ST(sys_counters(cpu, &before), E_OK);
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(child_ec(pd, cpu, child_spin, 0, &ec[0]), E_OK);
    CHECK_ST(child_ec(pd, cpu, child_spin, 1, &ec[1]), E_OK);
    for (int i = 0; i < 2; i++) {
        CHECK_ST(ec_wait(ec[i], &ei), E_OK);
        tap_check(exited_with(&ei, i), "spinner %d finished: the timer preempted the other one", i);
    }
    CHECK_ST(sys_counters(cpu, &after), E_OK);
    tap_check(after.ctx_switches >= before.ctx_switches + 3,
              "core %lu switched ECs (%lu -> %lu)", cpu, (unsigned long)before.ctx_switches,
              (unsigned long)after.ctx_switches);
}

static void test_yield_returns_and_running_status(void)
{
    mword pd, ec;
    struct ec_info ei;
    CHECK_ST(sys_yield(), E_OK);
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(child_ec(pd, cpu, child_yield, 0, &ec), E_OK);
    CHECK_ST(sys_ec_status(ec, 0, &ei), E_OK);
    tap_check(ei.state == EC_RUNNING && ei.cpu == cpu,
              "a yielding EC reports EC_RUNNING on its core");
    release = 1;
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    tap_check(exited_with(&ei, E_OK), "yield returned E_OK every time");
}

/* Child: read the page at a forever, counting reads in spins[0] (stops only by a fault). */
static void child_reader(mword a)
{
    for (;;) {
        (void)*(volatile uint32_t *)a;
        spins[0]++;
        cpu_pause();
    }
}

static void test_revoke_shoots_down_a_running_child(void)
{
    mword pd, window, ec;
    struct ec_info ei;
    struct core_counters before, after;
    spins[0] = 0;
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(child_give(pd, SHARED_VA, 1, MEM_R, &window), E_OK);
    CHECK_ST(child_ec(pd, cpu, child_reader, SHARED_VA, &ec), E_OK);
    while (spins[0] < 1000)
        sys_yield_pause();
    CHECK_ST(sys_counters(cpu, &before), E_OK);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, window, 1, MEM_RWX, 0), E_OK);
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    tap_check(faulted_on(&ei, SHARED_VA, FAULT_R),
              "the child faults on its next read after the revoke");
    CHECK_ST(sys_counters(cpu, &after), E_OK);
    tap_check(cpu == 0 || after.ipis_received > before.ipis_received,
              "the child's core took a shootdown IPI (%lu -> %lu)",
              (unsigned long)before.ipis_received, (unsigned long)after.ipis_received);
    struct lookup_info li;
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_MEM, window, &li), E_OK);
}

#ifdef PTSYNC_shared
#define CORE_ROOTS 0                /* every core runs the PD on its one root: none per core */
#else
#define CORE_ROOTS 1
#endif

static void test_per_core_roots_are_made_once_per_core(void)
{
    mword pd, ec[2];
    struct pd_info pi;
    struct ec_info ei;
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(sys_pd_info(pd, &pi), E_OK);
    tap_check(pi.loc_roots == 0, "a PD that never ran has no per-core root (%lu)",
              (unsigned long)pi.loc_roots);
    release = 1;
    CHECK_ST(child_ec(pd, cpu, child_yield, 0, &ec[0]), E_OK);
    CHECK_ST(child_ec(pd, cpu, child_yield, 0, &ec[1]), E_OK);
    CHECK_ST(sys_pd_info(pd, &pi), E_OK);
    tap_check(pi.loc_roots == CORE_ROOTS, "two ECs on one core share one per-core root (%lu)",
              (unsigned long)pi.loc_roots);
    for (int i = 0; i < 2; i++)
        CHECK_ST(ec_wait(ec[i], &ei), E_OK);
    if (cpu != 0) {
        CHECK_ST(child_ec(pd, 0, child_yield, 0, &ec[0]), E_OK);
        CHECK_ST(ec_wait(ec[0], &ei), E_OK);
        CHECK_ST(sys_pd_info(pd, &pi), E_OK);
        tap_check(pi.loc_roots == 2 * CORE_ROOTS, "an EC on a second core adds its root (%lu)",
                  (unsigned long)pi.loc_roots);
    }
}

static void test_bad_user_buffers_give_e_range(void)
{
    struct core_counters *ro = (struct core_counters *)(mword)&test_bad_user_buffers_give_e_range;
    CHECK_ST(sys_counters(0, (struct core_counters *)UNMAPPED_VA), E_RANGE);
    CHECK_ST(sys_counters(0, ro), E_RANGE);
    CHECK_ST(sys_console_write((const char *)UNMAPPED_VA, 8), E_RANGE);
    struct lookup_info li;
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_MEM, INFO_PAGE_ADDR, (struct lookup_info *)UNMAPPED_VA),
             E_RANGE);
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_MEM, INFO_PAGE_ADDR, &li), E_OK);
    tap_check(li.rights == MEM_R && li.size == 4096,
              "after the faulting copies the kernel still answers");
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    const struct info_page *ip = (const struct info_page *)arg;
    cpu = ip->num_cpus - 1;
    test_child_on_another_core_writes_delegated_memory();
    test_two_ecs_on_one_core_both_progress();
    test_yield_returns_and_running_status();
    test_revoke_shoots_down_a_running_child();
    test_per_core_roots_are_made_once_per_core();
    test_bad_user_buffers_give_e_range();
    return utest_done("core_sched");
}
