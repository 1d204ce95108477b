/*
 * Kernel microbenchmarks (make bench: bench/kbench.sh boots this under `-icount shift=0`, where
 * the TSC counts the guest instructions retired on all vCPUs). Each row is the median TSC
 * count of SAMPLES runs of one operation, printed as "# kbench: <row> <value>"; rows per page
 * are the call's count divided by its pages. The rows: the null system call (an unknown number,
 * answered before pd_lock is taken), a user fault resolved by a lazy per-core sync, delegate and
 * revoke of 511 pages in one call (tables kept) and of 512 (tables built and freed), one page
 * per call, a write-right revoke, a revoke that empties its tables, a revoke of one of 1,021
 * sibling delegations, a revoke while k = 1..cores-1 other cores run the PD (shootdown) or run
 * another PD (none), a yield round trip between two PDs on one core, a pager round trip (an
 * EC's first write to a page it lacks faults, its pager on the same core wakes from
 * ec_status(EC_WAIT), delegates the page, resumes it and waits again, the write retried and
 * done: timed by the EC around its write), a VM exit round trip (a guest's vmmcall, its VMM
 * woken, the resume past it: user/tests/vm_guest.h), and the scaling rows: instructions per
 * call (all cores counted) while k = 1, 2, 4, 8 cores make independent delegate/lookup/revoke
 * calls in PDs of their own, and k's largest against 1. In make test each
 * scenario is checked to do what it claims (statuses, lookups, IPI and switch counts).
 * Root task; TAP output.
 */
#include "utest.h"
#include "vm_guest.h"

#define SAMPLES     15u
#define MAX_CORES   8u
#define SIBLINGS    1021u
#define GIB         (1UL << 30)
#define BULK_VA     (8 * GIB)           /* C: sentinel at slot 0, bulk pages at slots 1..511 */
#define FRESH_VA    (16 * GIB)          /* C: 512 pages whose tables each sample builds */
#define FRESH_KEEP  (FRESH_VA + 64 * (1UL << 20))   /* C: keeps that GiB's directory */
#define ONE_VA      (24 * GIB)          /* C: single pages beside a sentinel */
#define EMPTY_VA    (32 * GIB)          /* C: a page alone in its tables, one GiB per sample */
#define SIB_VA      (64 * GIB)          /* C: the sibling delegations */
#define SPIN_VA     (96 * GIB)          /* C and D: the page the spinners read */
#define PAGER_VA    (160 * GIB)         /* C: a sentinel, then the pages the pager serves */
#define SELF_SLOT   200u                /* root: PML4 slots of the lazy-sync samples (not 128) */
#define WORK_VA     (128 * GIB)         /* scaling workers: their page, lent at the next one */
#define WORK_SEL    64u                 /* scaling workers: their own PD's capability */
#define WORK_ROUNDS 48u                 /* delegate, lookup, revoke rounds per worker */
#define WORK_CALLS  3u                  /* calls per round */

static mword src;                       /* root: 1024 pages to delegate */
static volatile uint64_t beats[MAX_CORES] aligned(64);
static volatile uint64_t stop;
static volatile uint64_t pager_t[SAMPLES];      /* shared: the EC's time for each served write */

/* Fenced TSC read (plain TCG and real CPUs; under icount every instruction counts alike). */
static inline uint64_t tsc(void)
{
    __asm__ __volatile__("lfence" ::: "memory");
    uint64_t t = utest_rdtsc();
    __asm__ __volatile__("lfence" ::: "memory");
    return t;
}

/* Median of v[0..n) (sorts v). */
static uint64_t median(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

/* Print row's value. */
static void row(const char *name, uint64_t v)
{
    printf("# kbench: %s %lu\n", name, (unsigned long)v);
}

/* Delegate n root pages from src + i pages into pd at va with rights. */
static int give(mword pd, unsigned i, mword va, mword n, unsigned rights)
{
    return sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, src + i * PAGE_SIZE_USER, va, n, rights);
}

/* Revoke rights of n pages at va in pd, pd's own included. */
static int take(mword pd, mword va, mword n, unsigned rights)
{
    return sys_revoke(pd, SPACE_MEM, va, n, rights, REVOKE_SELF);
}

/* Whether pd holds va. */
static bool holds(mword pd, mword va)
{
    struct lookup_info li;
    return sys_lookup(pd, SPACE_MEM, va, &li) == E_OK;
}

/* An unknown call number with no arguments (as getppid has none); its status. */
static inline mword null_call(void)
{
    mword nr = SYS_COUNT + 100;
    __asm__ __volatile__("syscall"
                         : "+a"(nr)
                         :
                         : "rcx", "r11", "rdi", "rsi", "rdx", "r8", "r9", "r10", "memory", "cc");
    return nr;
}

/* The null call and the lazy-sync fault. */
static void bench_entry(void)
{
    uint64_t v[SAMPLES];
    unsigned bad = 0;
    for (unsigned s = 0; s < SAMPLES; s++) {
        uint64_t t = tsc();
        int st = (int)null_call();
        v[s] = tsc() - t;
        bad += st != E_NOSYS;
    }
    tap_check(!bad, "null call: E_NOSYS each time");
    row("null_call", median(v, SAMPLES));
    for (unsigned s = 0; s < SAMPLES; s++) {
        mword va = (mword)(SELF_SLOT + s) << 39;
        *(volatile uint64_t *)(src + s * PAGE_SIZE_USER) = 0xbe00 + s;
        bad += give(SEL_ROOT_PD, s, va, 1, MEM_R) != E_OK;
        uint64_t before = utest_counters(0).lazy_syncs, t = tsc();
        uint64_t x = *(volatile uint64_t *)va;
        v[s] = tsc() - t;
        uint64_t synced = utest_counters(0).lazy_syncs - before;
        if (x != 0xbe00 + s || synced != 1)
            printf("# sample %u: read %lx, %lu syncs\n", s, (unsigned long)x,
                   (unsigned long)synced);
        bad += x != 0xbe00 + s || synced != 1;
        bad += take(SEL_ROOT_PD, va, 1, MEM_RWX) != E_OK;
    }
    tap_check(!bad, "lazy-sync fault: each first touch synced one entry and read its page");
    row("fault_lazy_sync", median(v, SAMPLES));
}

/* Delegate and revoke many pages in one call: with the tables there, and building them. */
static void bench_bulk(mword c)
{
    uint64_t d[SAMPLES], r[SAMPLES], d2[SAMPLES], r2[SAMPLES];
    unsigned bad = give(c, 1023, BULK_VA, 1, MEM_R) != E_OK;
    bad += give(c, 1023, FRESH_KEEP, 1, MEM_R) != E_OK;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        uint64_t t = tsc();
        bad += give(c, 0, BULK_VA + PAGE_SIZE_USER, 511, MEM_R | MEM_W) != E_OK;
        d[s] = (tsc() - t) / 511;
        bad += !holds(c, BULK_VA + 511 * PAGE_SIZE_USER);
        t = tsc();
        bad += take(c, BULK_VA + PAGE_SIZE_USER, 511, MEM_RWX) != E_OK;
        r[s] = (tsc() - t) / 511;
        bad += holds(c, BULK_VA + PAGE_SIZE_USER) || !holds(c, BULK_VA);
        t = tsc();
        bad += give(c, 0, FRESH_VA + PAGE_SIZE_USER, 512, MEM_R | MEM_W) != E_OK;
        d2[s] = (tsc() - t) / 512;
        t = tsc();
        bad += take(c, FRESH_VA + PAGE_SIZE_USER, 512, MEM_RWX) != E_OK;
        r2[s] = (tsc() - t) / 512;
        bad += holds(c, FRESH_VA + 512 * PAGE_SIZE_USER);
    }
    tap_check(!bad, "bulk: 511 and 512 pages delegated and revoked in one call each");
    row("delegate_511_per_page", median(d, SAMPLES));
    row("revoke_511_per_page", median(r, SAMPLES));
    row("delegate_512_tables_per_page", median(d2, SAMPLES));
    row("revoke_512_tables_per_page", median(r2, SAMPLES));
}

/* One page per call: delegate, revoke, revoke the write right, revoke emptying its tables. */
static void bench_single(mword c)
{
    uint64_t d[SAMPLES], r[SAMPLES], w[SAMPLES], e[SAMPLES];
    unsigned bad = give(c, 1023, ONE_VA, 1, MEM_R) != E_OK;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        mword va = ONE_VA + (s + 1) * PAGE_SIZE_USER;
        uint64_t t = tsc();
        bad += give(c, s, va, 1, MEM_R | MEM_W) != E_OK;
        d[s] = tsc() - t;
        t = tsc();
        bad += take(c, va, 1, MEM_W) != E_OK;
        w[s] = tsc() - t;
        struct lookup_info li;
        bad += sys_lookup(c, SPACE_MEM, va, &li) != E_OK || li.rights != MEM_R;
        t = tsc();
        bad += take(c, va, 1, MEM_RWX) != E_OK;
        r[s] = tsc() - t;
        bad += holds(c, va);
        mword alone = EMPTY_VA + s * GIB;
        bad += give(c, s, alone, 1, MEM_R) != E_OK;
        t = tsc();
        bad += take(c, alone, 1, MEM_RWX) != E_OK;
        e[s] = tsc() - t;
        bad += holds(c, alone);
    }
    tap_check(!bad, "single pages: delegated, write right revoked (read left), revoked");
    row("delegate_one", median(d, SAMPLES));
    row("revoke_one", median(r, SAMPLES));
    row("revoke_write_right", median(w, SAMPLES));
    row("revoke_one_emptying_tables", median(e, SAMPLES));
}

/* Revoke one of SIBLINGS delegations of one root page. */
static void bench_siblings(mword c)
{
    uint64_t v[SAMPLES];
    unsigned bad = 0;
    for (unsigned i = 0; i < SIBLINGS && !bad; i++)
        bad += give(c, 1022, SIB_VA + i * PAGE_SIZE_USER, 1, MEM_R) != E_OK;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        mword va = SIB_VA + (s * 61 + 7) % SIBLINGS * PAGE_SIZE_USER;
        uint64_t t = tsc();
        bad += take(c, va, 1, MEM_RWX) != E_OK;
        v[s] = tsc() - t;
        bad += holds(c, va) || !holds(c, SIB_VA + (s * 61 + 8) % SIBLINGS * PAGE_SIZE_USER);
    }
    tap_check(!bad, "siblings: one of %u delegations revoked, the others kept", SIBLINGS);
    row("revoke_one_of_1021_siblings", median(v, SAMPLES));
}

/* Spinner of the shootdown rows: read the page at SPIN_VA until stop, then exit. */
static void spinner(mword arg)
{
    while (!stop) {
        beats[arg]++;
        (void)*(volatile uint64_t *)SPIN_VA;
        cpu_pause();
    }
    sys_exit(0);
}

/* Run spinners of pd on cores 1..k; their EC selectors in ec[]. */
static unsigned start_spinners(mword pd, unsigned k, mword *ec)
{
    unsigned bad = 0;
    stop = 0;
    for (unsigned i = 1; i <= k; i++) {
        beats[i] = 0;
        bad += child_ec(pd, i, spinner, i, &ec[i]) != E_OK;
    }
    for (unsigned i = 1; i <= k && !bad; i++)
        while (beats[i] == 0)
            sys_yield_pause();
    return bad;
}

/* Stop the spinners on cores 1..k and destroy them. */
static unsigned stop_spinners(unsigned k, const mword *ec)
{
    unsigned bad = 0;
    stop = 1;
    for (unsigned i = 1; i <= k; i++) {
        struct ec_info ei;
        bad += ec_wait(ec[i], &ei) != E_OK || !exited_with(&ei, 0);
        bad += sys_revoke(SEL_ROOT_PD, SPACE_OBJ, ec[i], 1, OBJ_R_ALL, REVOKE_SELF) != E_OK;
    }
    return bad;
}

/* The median cost of revoking one page of c while k other cores run spinners of pd (c itself:
   each gets a shootdown IPI; another PD: none); ~0 on a failure. */
static uint64_t shootdown(mword c, mword pd, unsigned k)
{
    uint64_t v[SAMPLES];
    mword ec[MAX_CORES];
    unsigned bad = start_spinners(pd, k, ec);
    uint64_t ipis = utest_counters(0).ipis_sent;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        mword va = ONE_VA + (s + 1) * PAGE_SIZE_USER;
        bad += give(c, s, va, 1, MEM_R) != E_OK;
        uint64_t t = tsc();
        bad += take(c, va, 1, MEM_RWX) != E_OK;
        v[s] = tsc() - t;
    }
    ipis = utest_counters(0).ipis_sent - ipis;
    bad += stop_spinners(k, ec);
    bad += pd == c ? ipis < (uint64_t)k * SAMPLES : ipis != 0;
    return bad ? ~0UL : median(v, SAMPLES);
}

/* The shootdown rows for k = 1..n-1 other cores, running c (IPIs) and running d (none). */
static void bench_shootdown(mword c, mword d, unsigned n)
{
    unsigned bad = give(c, 1021, SPIN_VA, 1, MEM_R) != E_OK;
    bad += give(d, 1021, SPIN_VA, 1, MEM_R) != E_OK;
    uint64_t base = bad ? ~0UL : shootdown(c, c, 0);
    bad += base == ~0UL;
    char name[48];
    for (unsigned k = 1; k < n && !bad; k++) {
        uint64_t same = shootdown(c, c, k), other = shootdown(c, d, k);
        bad += same == ~0UL || other == ~0UL;
        snprintf(name, sizeof(name), "shootdown_running_pd_k%u", k);
        row(name, same);
        snprintf(name, sizeof(name), "shootdown_other_pd_k%u", k);
        row(name, other);
        if (k == n - 1)
            row("shootdown_per_further_core", (same - base) / k);
    }
    tap_check(!bad, "shootdown: a revoke IPIs each core running the PD at least once, none "
              "running another PD (%u cores)", n);
    row("shootdown_k0", base);
}

static volatile uint64_t work_want, work_arrived, work_go, work_done, work_t0, work_t1, work_bad;

/* Scaling worker, in a PD of its own: once all workers are there, WORK_ROUNDS rounds of lending
   its page to itself, looking the loan up and revoking it; then exit. */
static void worker(mword arg)
{
    (void)arg;
    if (__atomic_add_fetch(&work_arrived, 1, __ATOMIC_ACQ_REL) == work_want) {
        work_t0 = tsc();
        work_go = 1;
    }
    while (!work_go)
        cpu_pause();
    unsigned bad = 0;
    for (unsigned i = 0; i < WORK_ROUNDS; i++) {
        struct lookup_info li;
        mword loan = WORK_VA + PAGE_SIZE_USER;
        bad += sys_delegate(WORK_SEL, WORK_SEL, SPACE_MEM, WORK_VA, loan, 1, MEM_R) != E_OK;
        bad += sys_lookup(WORK_SEL, SPACE_MEM, loan, &li) != E_OK || li.rights != MEM_R;
        bad += sys_revoke(WORK_SEL, SPACE_MEM, loan, 1, MEM_RWX, REVOKE_SELF) != E_OK;
    }
    __atomic_add_fetch(&work_bad, bad, __ATOMIC_RELAXED);
    if (__atomic_add_fetch(&work_done, 1, __ATOMIC_ACQ_REL) == work_want)
        work_t1 = tsc();
    sys_exit(0);
}

/* Instructions per call of k workers in PDs pd[0..k) on cores 0..k-1 running at once (all
   cores' instructions in the window, divided by all calls); ~0 on a failure. */
static uint64_t scale_run(const mword *pd, unsigned k)
{
    mword ec[MAX_CORES];
    unsigned made = 0, bad = 0;
    work_want = k;
    work_arrived = work_go = work_done = work_bad = 0;
    for (unsigned i = 0; i < k; i++)
        made += child_ec(pd[i], i, worker, i, &ec[i]) == E_OK;
    for (unsigned i = 0; i < made; i++) {
        struct ec_info ei;
        bad += ec_wait(ec[i], &ei) != E_OK || !exited_with(&ei, 0);
        bad += sys_revoke(SEL_ROOT_PD, SPACE_OBJ, ec[i], 1, OBJ_R_ALL, REVOKE_SELF) != E_OK;
    }
    if (made != k || bad || work_bad || work_done != k)
        return ~0UL;
    return (work_t1 - work_t0) / (k * WORK_ROUNDS * WORK_CALLS);
}

/* Scaling: k = 1, 2, 4, 8 cores (up to n) making independent calls in PDs of their own. */
static void bench_scaling(unsigned n)
{
    mword pd[MAX_CORES];
    unsigned bad = 0;
    for (unsigned i = 0; i < n && !bad; i++) {
        bad += child_pd(&pd[i]) != E_OK;
        bad += !bad && sys_delegate(SEL_ROOT_PD, pd[i], SPACE_OBJ, pd[i], WORK_SEL, 1,
                                    PD_R_ALL) != E_OK;
        bad += !bad && give(pd[i], 1020, WORK_VA, 1, MEM_R | MEM_W) != E_OK;
    }
    uint64_t one = 0, last = 0;
    char name[48];
    for (unsigned k = 1; k <= n && !bad; k *= 2) {
        uint64_t v = scale_run(pd, k);
        bad += v == ~0UL;
        one = k == 1 ? v : one;
        last = v;
        snprintf(name, sizeof(name), "scaling_k%u_per_call", k);
        row(name, v);
    }
    tap_check(!bad, "scaling: workers in %u PDs delegated, looked up and revoked their loans on "
              "up to %u cores at once", n, n);
    if (!bad)
        row("scaling_ratio_pct", last * 100 / one);
}

/* EC of the round trip: beat and yield until stop, then exit. */
static void yielder(mword arg)
{
    while (!stop) {
        beats[arg]++;
        sys_yield();
    }
    sys_exit(0);
}

/* A yield round trip between the root and an EC of c on core 0. */
static void bench_round_trip(mword c)
{
    mword ec;
    stop = 0;
    beats[0] = 0;
    unsigned bad = child_ec(c, 0, yielder, 0, &ec) != E_OK;
    while (!bad && beats[0] == 0)
        sys_yield_pause();
    uint64_t v[SAMPLES], sw = utest_counters(0).ctx_switches;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        uint64_t b = beats[0], t = tsc();
        sys_yield();
        v[s] = tsc() - t;
        bad += beats[0] != b + 1;
    }
    sw = utest_counters(0).ctx_switches - sw;
    stop = 1;
    struct ec_info ei;
    bad += ec_wait(ec, &ei) != E_OK;
    tap_check(!bad && sw >= 2 * SAMPLES, "round trip: each yield ran the other PD's EC once (%lu "
              "switches)", (unsigned long)sw);
    row("round_trip_yield", median(v, SAMPLES));
}

/* EC of the pager row: read the sentinel, then time the first write to each of n pages after
   it (each faults until its pager serves it). */
static void pager_child(mword n)
{
    (void)*(volatile uint64_t *)PAGER_VA;
    for (mword i = 0; i < n; i++) {
        volatile uint64_t *p = (volatile uint64_t *)(PAGER_VA + (i + 1) * PAGE_SIZE_USER);
        uint64_t t = tsc();
        *p = i;
        pager_t[i] = tsc() - t;
    }
    sys_exit(0);
}

/* A pager round trip: the root serves each fault of an EC of c on core 0 (delegate, resume). */
static void bench_pager(mword c)
{
    mword ec;
    unsigned bad = give(c, 1023, PAGER_VA, 1, MEM_R) != E_OK;
    bad += child_ec(c, 0, pager_child, SAMPLES, &ec) != E_OK;
    struct ec_info ei;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        mword va = PAGER_VA + (s + 1) * PAGE_SIZE_USER;
        bad += ec_wait(ec, &ei) != E_OK || !faulted_on(&ei, va, FAULT_W);
        bad += give(c, s, va, 1, MEM_R | MEM_W) != E_OK;
        bad += sys_ec_resume(ec, 0, 0, 0) != E_OK;
    }
    bad += ec_wait(ec, &ei) != E_OK || !exited_with(&ei, 0);
    for (unsigned s = 0; s < SAMPLES && !bad; s++)
        bad += *(volatile uint64_t *)(src + s * PAGE_SIZE_USER) != s;
    tap_check(!bad, "pager: each first write faulted once, was served (delegate, resume) and "
              "landed in the root's page");
    row("pager_round_trip", median((uint64_t *)pager_t, SAMPLES));
}

/* A VM exit round trip on core 0: the guest's vmmcall exits, its VMM (the root) wakes from
   ec_status(EC_WAIT), resumes it past the call and waits again; timed by the VMM. Without
   SVM/VMX: no row. */
static void bench_vm_exit(void)
{
    struct guest g;
    struct ec_info ei;
    uint64_t v[SAMPLES];
    int st = guest_make(&g, 0, g_addr(g_call_loop));
    if (st == E_NOENT) {
        tap_check(true, "VM exit round trip # SKIP no SVM or VMX");
        return;
    }
    unsigned bad = st != E_OK || sys_ec_resume(g.vcpu, 0, 0, 0) != E_OK;
    bad += bad || guest_next(&g, &ei, NULL) != E_OK || ei.exit.reason != VM_EXIT_VMCALL;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        uint64_t t = tsc();
        bad += guest_skip(&g, &ei, false, 0) != E_OK;
        bad += guest_next(&g, &ei, NULL) != E_OK || ei.exit.reason != VM_EXIT_VMCALL;
        v[s] = tsc() - t;
    }
    bad += sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF) != E_OK;
    tap_check(!bad, "VM exit round trip: each resume ran the guest to its next vmmcall exit");
    if (!bad)
        row("vm_exit_round_trip", median(v, SAMPLES));
}

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("kbench");
    unsigned n = MIN(info_page()->num_cpus, MAX_CORES);
    mword c, d;
    src = mem_alloc(1024);
    tap_check(src != 0 && child_pd(&c) == E_OK && child_pd(&d) == E_OK,
              "two PDs and 1024 pages to delegate");
    if (tap_failures())
        return utest_done("kbench");
    row("cores", n);
    bench_entry();
    bench_bulk(c);
    bench_single(c);
    bench_siblings(c);
    bench_shootdown(c, d, n);
    bench_round_trip(c);
    bench_pager(c);
    bench_vm_exit();
    bench_scaling(n);
    return utest_done("kbench");
}
