/*
 * IPI targeting and flush-free delegation (lecture: "TLB Invalidations and
 * Shootdowns"). PD X spins on cores 1..k, PD Y on
 * cores k+1..n-1, the root on core 0. A revoke of a page of X sends exactly
 * one shootdown IPI to each core running X and none to the others; a revoke in
 * a PD that runs nowhere sends none. Delegation into a hole, and an upgrade of
 * an existing mapping, flush nothing: no full flush, INVLPG or IPI anywhere.
 * X ran once on the Y cores before: those are marked (flushes_avoided), not
 * IPI'd. Spinners report that they run before any counter is read, so the
 * numbers are deterministic. The lab switch TLB_TARGETS (mk/lab.conf) changes
 * who gets the IPI: =htlb every marked core (here every other core, all ran X),
 * =all every other core (also for the PD that runs nowhere); the checks expect
 * what the variant does. Run as the root task; TAP output.
 */
#include "utest.h"

#if defined(TLB_TARGETS_htlb) || defined(TLB_TARGETS_all)
#define IPI_MARKED  1               /* the cores that ran X but run Y get an IPI too */
#else
#define IPI_MARKED  0
#endif
#ifdef TLB_TARGETS_all
#define IPI_ALL     1               /* every other core gets one, whatever it ran */
#else
#define IPI_ALL     0
#endif

#define PAGE_X_VA  0x10000000UL     /* X: the page that is revoked */
#define HOLE_VA    0x11000000UL     /* X: an empty address delegated into */
#define UPGRADE_VA 0x12000000UL     /* X: mapped read-only, then delegated again with W */

static volatile uint64_t running[INFO_MAX_CPUS];    /* spinner on core c has started */
static volatile uint64_t stop;

/* Spinner: report that it runs on its core, then spin in user mode until told to stop. */
static void child_spin(mword cpu)
{
    running[cpu] = 1;
    while (!stop)
        cpu_pause();
    sys_exit(0);
}

/* Child: read the word at a, exit 0. */
static void child_read(mword a)
{
    (void)*(volatile uint32_t *)a;
    sys_exit(0);
}

/* Counters of cores 0..n-1 into cc[]; false if a call failed. */
static bool read_all(unsigned n, struct core_counters *cc)
{
    for (unsigned c = 0; c < n; c++)
        if (sys_counters(c, &cc[c]) != E_OK)
            return false;
    return true;
}

/* Sum over all n cores of the growth of the counter at byte offset off. */
static uint64_t grown(unsigned n, const struct core_counters *a, const struct core_counters *b,
                      size_t off)
{
    uint64_t sum = 0;
    for (unsigned c = 0; c < n; c++)
        sum += *(const uint64_t *)((const char *)&b[c] + off) -
               *(const uint64_t *)((const char *)&a[c] + off);
    return sum;
}

#define GROWN(n, a, b, field) grown((n), (a), (b), offsetof(struct core_counters, field))

static struct core_counters before[INFO_MAX_CPUS], after[INFO_MAX_CPUS];
static mword pd_x, pd_y, ec[INFO_MAX_CPUS];
static mword page_x;                /* the root's window address of X's page at PAGE_X_VA */
static unsigned ncpu, k;            /* cores 1..k run X, k+1..ncpu-1 run Y */

/* Start the spinners and wait until each one runs; X has run once on the Y cores before. */
static void start_spinners(void)
{
    struct ec_info ei;
    CHECK_ST(child_pd(&pd_x), E_OK);
    CHECK_ST(child_pd(&pd_y), E_OK);
    CHECK_ST(child_give(pd_x, PAGE_X_VA, 1, MEM_R | MEM_W, &page_x), E_OK);
    for (unsigned c = k + 1; c < ncpu; c++) {
        /* its TLB may keep the page */
        CHECK_ST(child_run(pd_x, c, child_read, PAGE_X_VA, &ei), E_OK);
        tap_check(exited_with(&ei, 0), "X read its page once on core %u", c);
    }
    for (unsigned c = 1; c < ncpu; c++)
        CHECK_ST(child_ec(c <= k ? pd_x : pd_y, c, child_spin, c, &ec[c]), E_OK);
    for (unsigned c = 1; c < ncpu; c++)
        while (!running[c])
            sys_yield_pause();
}

/* Run child_read(va) in pd on cpu; true if it faulted reading va. */
static bool faults_on_read(mword pd, mword cpu, mword va)
{
    struct ec_info ei;
    return child_run(pd, cpu, child_read, va, &ei) == E_OK && faulted_on(&ei, va, FAULT_R);
}

static void test_revoke_ipis_exactly_the_cores_running_the_pd(void)
{
    bool ok = read_all(ncpu, before);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, page_x, 1, MEM_RWX, 0), E_OK);
    ok = read_all(ncpu, after) && ok;
    tap_check(ok, "counters of all %u cores read before and after", ncpu);
    uint64_t sent = after[0].ipis_sent - before[0].ipis_sent;
    unsigned want = IPI_MARKED ? ncpu - 1 : k;
    tap_check(sent == want, "core 0 sent one IPI per core running X%s: %lu (want %u)",
              IPI_MARKED ? " or marked" : "", (unsigned long)sent, want);
    for (unsigned c = 1; c < ncpu; c++) {
        uint64_t got = after[c].ipis_received - before[c].ipis_received;
        unsigned w = c <= k || IPI_MARKED;
        tap_check(got == w, "core %u (%s) received %lu shootdown IPIs (want %u)", c,
                  c <= k ? "runs X" : "runs Y", (unsigned long)got, w);
    }
    tap_check(GROWN(ncpu, before, after, ipis_sent) == want, "no other core sent an IPI");
    uint64_t marked = after[0].flushes_avoided - before[0].flushes_avoided;
    unsigned want_marked = IPI_MARKED ? 0 : ncpu - 1 - k;
    tap_check(marked == want_marked,
              "the %u cores that ran X before but run Y now are marked instead "
              "(flushes_avoided +%lu)",
              want_marked, (unsigned long)marked);
    if (k + 1 < ncpu)
        tap_check(faults_on_read(pd_x, k + 1, PAGE_X_VA),
                  "X on a marked core (%u) faults on the revoked page", k + 1);
    printf(
        "# tlb_ipi: smp%u, %u cores run X: flushes avoided +%lu, full flushes +%lu, invlpgs +%lu\n",
        ncpu, k, (unsigned long)GROWN(ncpu, before, after, flushes_avoided),
        (unsigned long)GROWN(ncpu, before, after, full_flushes),
        (unsigned long)GROWN(ncpu, before, after, invlpgs));
}

static void test_revoke_in_a_pd_that_runs_nowhere_sends_no_ipi(void)
{
    mword pd, w;
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(child_give(pd, PAGE_X_VA, 1, MEM_R, &w), E_OK);
    bool ok = read_all(ncpu, before);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, w, 1, MEM_RWX, 0), E_OK);
    ok = read_all(ncpu, after) && ok;
    uint64_t want = IPI_ALL ? ncpu - 1 : 0;
    tap_check(ok && GROWN(ncpu, before, after, ipis_sent) == want &&
              GROWN(ncpu, before, after, ipis_received) == want,
              "a revoke in a PD without ECs sends and receives %lu IPIs (%lu sent)",
              (unsigned long)want, (unsigned long)GROWN(ncpu, before, after, ipis_sent));
}

/* True if no core flushed or sent/received an IPI between before[] and after[]. */
static bool no_flush_anywhere(void)
{
    return GROWN(ncpu, before, after, full_flushes) == 0 &&
           GROWN(ncpu, before, after, invlpgs) == 0 && GROWN(ncpu, before, after, ipis_sent) == 0 &&
           GROWN(ncpu, before, after, ipis_received) == 0;
}

/* TAP: what (a change, read ok) flushed nothing anywhere between before and after. */
static void check_no_flush(bool ok, const char *what)
{
    tap_check(ok && no_flush_anywhere(),
              "%s flushes nothing (full flushes +%lu, invlpgs +%lu, IPIs +%lu)", what,
              (unsigned long)GROWN(ncpu, before, after, full_flushes),
              (unsigned long)GROWN(ncpu, before, after, invlpgs),
              (unsigned long)GROWN(ncpu, before, after, ipis_sent));
}

static void test_delegation_into_a_hole_flushes_nothing(void)
{
    mword w = mem_alloc(1);
    bool ok = read_all(ncpu, before);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd_x, SPACE_MEM, w, HOLE_VA, 1, MEM_R | MEM_W), E_OK);
    ok = read_all(ncpu, after) && ok;
    check_no_flush(ok, "a delegation into a hole of a running PD");
    uint64_t avoided = after[0].flushes_avoided - before[0].flushes_avoided;
    tap_check(avoided >= 1,
              "the delegating core counts the flush it avoided (flushes_avoided +%lu)",
              (unsigned long)avoided);
}

static void test_an_upgrade_flushes_nothing(void)
{
    mword w = mem_alloc(1);
    struct lookup_info li;
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd_x, SPACE_MEM, w, UPGRADE_VA, 1, MEM_R), E_OK);
    bool ok = read_all(ncpu, before);
    int st = sys_delegate(SEL_ROOT_PD, pd_x, SPACE_MEM, w, UPGRADE_VA, 1, MEM_R | MEM_W);
    ok = read_all(ncpu, after) && ok;
    CHECK_ST(sys_lookup(pd_x, SPACE_MEM, UPGRADE_VA, &li), E_OK);
    /* Either semantics is allowed: an upgrade (more rights) or a refusal (unchanged). */
    tap_check((st == E_OK && li.rights == (MEM_R | MEM_W)) || (st == E_BUSY && li.rights == MEM_R),
              "re-delegating with W is an upgrade or refused as busy (status %d, rights 0x%x)", st,
              li.rights);
    check_no_flush(ok, "re-delegating a mapped page with more rights");
}

/* Stop the spinners; all exit normally. */
static void stop_spinners(void)
{
    struct ec_info ei;
    unsigned exited = 0;
    stop = 1;
    for (unsigned c = 1; c < ncpu; c++)
        exited += ec_wait(ec[c], &ei) == E_OK && exited_with(&ei, 0);
    tap_check(exited == ncpu - 1, "all %u spinners exited normally", ncpu - 1);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    ncpu = info_page()->num_cpus;
    k = ncpu / 2 > 0 ? ncpu / 2 : 1;
    if (k > ncpu - 1)
        k = ncpu - 1;
    start_spinners();
    test_revoke_ipis_exactly_the_cores_running_the_pd();
    test_revoke_in_a_pd_that_runs_nowhere_sends_no_ipi();
    test_delegation_into_a_hole_flushes_nothing();
    test_an_upgrade_flushes_nothing();
    stop_spinners();
    return utest_done("tlb_ipi");
}
