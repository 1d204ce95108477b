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
 * calls in PDs of their own, and k's largest against 1. The lab's rows (docs/lab.md): the
 * root's own revokes and delegations of 1 to 511 pages, its revoke emptying its tables, and
 * counter rows per scenario. In make test each
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
#define SELF_VA     (176 * GIB)         /* root: its own pages, revoked from itself */
#define SELF_EMPTY_VA (1024 * GIB)      /* root: a page alone in its tables, one GiB per sample */
#define LARGE_VA    (192 * GIB)         /* L: a 16 MiB delegation, 2 MiB aligned */
#define LARGE_PAGES 4096u               /* 16 MiB: 8 leaves of 2 MiB, or 8 tables of 4 KiB ones */
#define ROOTS_A     (1UL << 39)         /* R: pages under two more top-level entries than the */
#define ROOTS_B     (2UL << 39)         /* program's slot 0 */

static mword src;                       /* root: 1024 pages to delegate */
static unsigned ncores;                 /* cores the benchmark uses (at most MAX_CORES) */
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

/* The per-core counters of cores 0..n-1 added up, word by word (the global words are then n
   times theirs: the rows use per-core words only). */
static struct core_counters all_counters(unsigned n)
{
    struct core_counters sum = { 0 };
    uint64_t *w = (uint64_t *)&sum;
    for (unsigned c = 0; c < n; c++) {
        struct core_counters cc = utest_counters(c);
        const uint64_t *x = (const uint64_t *)&cc;
        for (unsigned i = 0; i < sizeof(sum) / sizeof(uint64_t); i++)
            w[i] += x[i];
    }
    return sum;
}

/* Add to *acc what the per-core TLB counters of cores 0..n-1 grew by since *before. */
static void tlb_delta(struct core_counters *acc, const struct core_counters *before, unsigned n)
{
    struct core_counters now = all_counters(n);
    acc->ipis_sent += now.ipis_sent - before->ipis_sent;
    acc->full_flushes += now.full_flushes - before->full_flushes;
    acc->invlpgs += now.invlpgs - before->invlpgs;
    acc->flushes_avoided += now.flushes_avoided - before->flushes_avoided;
    acc->cr3_loads += now.cr3_loads - before->cr3_loads;
    acc->tlb_deferred += now.tlb_deferred - before->tlb_deferred;
    acc->pt_window_ops += now.pt_window_ops - before->pt_window_ops;
    acc->pt_linear_ops += now.pt_linear_ops - before->pt_linear_ops;
    acc->pt_window_flushes += now.pt_window_flushes - before->pt_window_flushes;
    acc->pt_pages += now.pt_pages - before->pt_pages;
    acc->pt_tlb += now.pt_tlb - before->pt_tlb;
}

/* The counter rows of one scenario (the lab, docs/lab.md): each counter summed over the
   scenario's SAMPLES operations and all cores, as "ctr_<scenario>_<counter>". */
static void counter_rows(const char *scenario, const struct core_counters *acc)
{
    char name[64];
    const struct { const char *n; uint64_t v; } r[] = {
        { "ipis", acc->ipis_sent }, { "full_flushes", acc->full_flushes },
        { "invlpgs", acc->invlpgs }, { "flushes_avoided", acc->flushes_avoided },
        { "cr3_loads", acc->cr3_loads }, { "deferred", acc->tlb_deferred },
        { "pt_window", acc->pt_window_ops }, { "pt_linear", acc->pt_linear_ops },
        { "pt_window_flushes", acc->pt_window_flushes }, { "pt_pages", acc->pt_pages },
        { "pt_tlb", acc->pt_tlb },
    };
    for (unsigned i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        snprintf(name, sizeof(name), "ctr_%s_%s", scenario, r[i].n);
        row(name, r[i].v);
    }
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

#if defined(PTSYNC_eager)
#define FAULT_SYNCS 0               /* the map copied the root entry: the touch takes no fault */
#elif defined(PTSYNC_shared)
#define FAULT_SYNCS 0               /* the core runs on the master table: nothing to sync */
#else
#define FAULT_SYNCS 1
#endif

/* The null call and the lazy-sync fault (PTSYNC=eager, shared: the first touch, which takes no
   fault). */
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
    struct core_counters acc = { 0 }, all;
    for (unsigned s = 0; s < SAMPLES; s++) {
        mword va = (mword)(SELF_SLOT + s) << 39;
        *(volatile uint64_t *)(src + s * PAGE_SIZE_USER) = 0xbe00 + s;
        bad += give(SEL_ROOT_PD, s, va, 1, MEM_R) != E_OK;
        all = all_counters(ncores);
        uint64_t before = utest_counters(0).lazy_syncs, t = tsc();
        uint64_t x = *(volatile uint64_t *)va;
        v[s] = tsc() - t;
        tlb_delta(&acc, &all, ncores);
        uint64_t synced = utest_counters(0).lazy_syncs - before;
        if (x != 0xbe00 + s || synced != FAULT_SYNCS)
            printf("# sample %u: read %lx, %lu syncs\n", s, (unsigned long)x,
                   (unsigned long)synced);
        bad += x != 0xbe00 + s || synced != FAULT_SYNCS;
        bad += take(SEL_ROOT_PD, va, 1, MEM_RWX) != E_OK;
    }
    tap_check(!bad, "lazy-sync fault: each first touch synced %d entries and read its page",
              FAULT_SYNCS);
    row("fault_lazy_sync", median(v, SAMPLES));
    counter_rows("fault_lazy_sync", &acc);
}

/* Delegate and revoke many pages in one call: with the tables there, and building them. */
static void bench_bulk(mword c)
{
    uint64_t d[SAMPLES], r[SAMPLES], d2[SAMPLES], r2[SAMPLES];
    struct core_counters acc = { 0 }, before;
    unsigned bad = give(c, 1023, BULK_VA, 1, MEM_R) != E_OK;
    bad += give(c, 1023, FRESH_KEEP, 1, MEM_R) != E_OK;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        uint64_t t = tsc();
        bad += give(c, 0, BULK_VA + PAGE_SIZE_USER, 511, MEM_R | MEM_W) != E_OK;
        d[s] = (tsc() - t) / 511;
        bad += !holds(c, BULK_VA + 511 * PAGE_SIZE_USER);
        before = all_counters(ncores);
        t = tsc();
        bad += take(c, BULK_VA + PAGE_SIZE_USER, 511, MEM_RWX) != E_OK;
        r[s] = (tsc() - t) / 511;
        tlb_delta(&acc, &before, ncores);
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
    counter_rows("revoke_511", &acc);
}

/* One page per call: delegate, revoke, revoke the write right, revoke emptying its tables. */
static void bench_single(mword c)
{
    uint64_t d[SAMPLES], r[SAMPLES], w[SAMPLES], e[SAMPLES];
    struct core_counters acc = { 0 }, dacc = { 0 }, before;
    unsigned bad = give(c, 1023, ONE_VA, 1, MEM_R) != E_OK;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        mword va = ONE_VA + (s + 1) * PAGE_SIZE_USER;
        before = all_counters(ncores);
        uint64_t t = tsc();
        bad += give(c, s, va, 1, MEM_R | MEM_W) != E_OK;
        d[s] = tsc() - t;
        tlb_delta(&dacc, &before, ncores);
        t = tsc();
        bad += take(c, va, 1, MEM_W) != E_OK;
        w[s] = tsc() - t;
        struct lookup_info li;
        bad += sys_lookup(c, SPACE_MEM, va, &li) != E_OK || li.rights != MEM_R;
        before = all_counters(ncores);
        t = tsc();
        bad += take(c, va, 1, MEM_RWX) != E_OK;
        r[s] = tsc() - t;
        tlb_delta(&acc, &before, ncores);
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
    counter_rows("revoke_one", &acc);
    counter_rows("delegate_one", &dacc);
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

/* Whether a shootdown also IPIs cores that run another PD (lab switch TLB_TARGETS, mk/lab.conf):
   every core marked in htlb, or every other core; by default only the cores running the PD. */
#if defined(TLB_TARGETS_htlb) || defined(TLB_TARGETS_all)
#define IPI_OTHER_PD true
#else
#define IPI_OTHER_PD false
#endif

/* The median cost of revoking one page of c while k other cores run spinners of pd (c itself:
   each gets a shootdown IPI; another PD: none by default); the TLB counters of the revokes
   added to *acc; ~0 on a failure. */
static uint64_t shootdown(mword c, mword pd, unsigned k, struct core_counters *acc)
{
    uint64_t v[SAMPLES];
    mword ec[MAX_CORES];
    struct core_counters before;
    unsigned bad = start_spinners(pd, k, ec);
    uint64_t ipis = utest_counters(0).ipis_sent;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        mword va = ONE_VA + (s + 1) * PAGE_SIZE_USER;
        bad += give(c, s, va, 1, MEM_R) != E_OK;
        before = all_counters(ncores);
        uint64_t t = tsc();
        bad += take(c, va, 1, MEM_RWX) != E_OK;
        v[s] = tsc() - t;
        tlb_delta(acc, &before, ncores);
    }
    ipis = utest_counters(0).ipis_sent - ipis;
    bad += stop_spinners(k, ec);
    bad += pd == c || IPI_OTHER_PD ? ipis < (uint64_t)k * SAMPLES : ipis != 0;
    return bad ? ~0UL : median(v, SAMPLES);
}

/* The shootdown rows for k = 1..n-1 other cores, running c (IPIs) and running d (none); the
   counter rows of k = n-1. */
static void bench_shootdown(mword c, mword d, unsigned n)
{
    struct core_counters acc = { 0 };
    unsigned bad = give(c, 1021, SPIN_VA, 1, MEM_R) != E_OK;
    bad += give(d, 1021, SPIN_VA, 1, MEM_R) != E_OK;
    uint64_t base = bad ? ~0UL : shootdown(c, c, 0, &acc);
    bad += base == ~0UL;
    char name[48];
    for (unsigned k = 1; k < n && !bad; k++) {
        struct core_counters same_acc = { 0 }, other_acc = { 0 };
        uint64_t same = shootdown(c, c, k, &same_acc), other = shootdown(c, d, k, &other_acc);
        bad += same == ~0UL || other == ~0UL;
        snprintf(name, sizeof(name), "shootdown_running_pd_k%u", k);
        row(name, same);
        snprintf(name, sizeof(name), "shootdown_other_pd_k%u", k);
        row(name, other);
        if (k == n - 1) {
            row("shootdown_per_further_core", (same - base) / k);
            counter_rows("shootdown_running", &same_acc);
            counter_rows("shootdown_other", &other_acc);
        }
    }
    tap_check(!bad, "shootdown: a revoke IPIs each core running the PD at least once, %s "
              "(%u cores)", IPI_OTHER_PD ? "and each core running another PD (TLB_TARGETS)" :
              "none running another PD", n);
    row("shootdown_k0", base);
}

/* Revoke n of the root's own pages from itself (it runs on core 0, so the flush is local: INVLPG
   per page up to the kernel's ceiling, else one full flush); the rows for n = 1, 8, 32, 64, 511. */
static void bench_self_revoke(void)
{
    static const unsigned ns[] = { 1, 8, 32, 64, 511 };
    unsigned bad = give(SEL_ROOT_PD, 1023, SELF_VA, 1, MEM_R) != E_OK;     /* keeps the tables */
    char name[48];
    for (unsigned i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        uint64_t v[SAMPLES], g[SAMPLES];
        struct core_counters acc = { 0 }, gacc = { 0 }, before;
        for (unsigned s = 0; s < SAMPLES && !bad; s++) {
            mword va = SELF_VA + PAGE_SIZE_USER;
            before = all_counters(ncores);
            uint64_t t0 = tsc();
            bad += give(SEL_ROOT_PD, 0, va, ns[i], MEM_R) != E_OK;
            g[s] = tsc() - t0;
            tlb_delta(&gacc, &before, ncores);
            for (unsigned p = 0; p < ns[i]; p++)
                (void)*(volatile uint64_t *)(va + p * PAGE_SIZE_USER);
            before = all_counters(ncores);
            uint64_t t = tsc();
            bad += take(SEL_ROOT_PD, va, ns[i], MEM_RWX) != E_OK;
            v[s] = tsc() - t;
            tlb_delta(&acc, &before, ncores);
            bad += holds(SEL_ROOT_PD, va) || !holds(SEL_ROOT_PD, SELF_VA);
        }
        snprintf(name, sizeof(name), "self_revoke_%u", ns[i]);
        row(name, median(v, SAMPLES));
        counter_rows(name, &acc);
        snprintf(name, sizeof(name), "self_delegate_%u", ns[i]);
        row(name, median(g, SAMPLES));
        counter_rows(name, &gacc);
    }
    uint64_t v[SAMPLES];
    struct core_counters acc = { 0 }, before;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        mword va = SELF_EMPTY_VA + s * GIB;
        bad += give(SEL_ROOT_PD, 0, va, 1, MEM_R) != E_OK;
        (void)*(volatile uint64_t *)va;
        before = all_counters(ncores);
        uint64_t t = tsc();
        bad += take(SEL_ROOT_PD, va, 1, MEM_RWX) != E_OK;
        v[s] = tsc() - t;
        tlb_delta(&acc, &before, ncores);
        bad += holds(SEL_ROOT_PD, va);
    }
    row("self_revoke_emptying", median(v, SAMPLES));
    counter_rows("self_revoke_emptying", &acc);
    tap_check(!bad, "self revoke: the root revoked 1 to 511 of its own pages from itself");
}

/* EC of the large-page row: read the middle of the delegation, exit. */
static void large_child(mword arg)
{
    (void)arg;
    (void)*(volatile uint64_t *)(LARGE_VA + LARGE_PAGES / 2 * PAGE_SIZE_USER);
    sys_exit(0);
}

/* A 16 MiB, 2 MiB-aligned delegation to a fresh PD in one call: its instructions per call, the
   page-table frames it added to the PD, the leaf size lookup reports and the levels a TLB miss
   walks to it (not instructions: the walker's work), the child reading it, and its revoke. */
static void bench_large(void)
{
    mword l = 0, ec, w = mem_take(LARGE_PAGES, 2UL << 20);
    struct pd_info before, after;
    struct lookup_info li;
    struct ec_info ei;
    unsigned bad = 0;                   /* the step that failed */
    if (w == 0 || child_pd(&l) != E_OK || sys_pd_info(l, &before) != E_OK)
        bad = 1;
    uint64_t t = tsc();
    if (!bad && sys_delegate(SEL_ROOT_PD, l, SPACE_MEM, w, LARGE_VA, LARGE_PAGES,
                             MEM_R | MEM_W) != E_OK)
        bad = 2;
    uint64_t d = tsc() - t;
    if (!bad && (sys_pd_info(l, &after) != E_OK || sys_lookup(l, SPACE_MEM, LARGE_VA, &li) != E_OK))
        bad = 3;
    if (!bad && (child_ec(l, 0, large_child, 0, &ec) != E_OK || ec_wait(ec, &ei) != E_OK ||
                 !exited_with(&ei, 0)))
        bad = 4;
    t = tsc();
    if (!bad && take(l, LARGE_VA, LARGE_PAGES, MEM_RWX) != E_OK)
        bad = 5;
    uint64_t r = tsc() - t;
    tap_check(!bad, "large: 16 MiB delegated in one call, touched by the child, revoked "
              "(failed step: %u)", bad);
    if (bad)
        return;
    unsigned leaf = li.size >= GIB ? 2 : li.size >= (2UL << 20) ? 1 : 0;
    row("large_delegate_16m", d);
    row("large_revoke_16m", r);
    row("large_tables", after.hpt_tables - before.hpt_tables);
    row("large_leaf_kib", li.size / 1024);
    row("large_walk_levels", 4 - leaf);         /* 4-level paging (docs/lab.md, switch 5) */
}

/* EC of the per-core root rows: read a page under each of two top-level entries, exit. */
static void roots_child(mword arg)
{
    (void)arg;
    (void)*(volatile uint64_t *)ROOTS_A;
    (void)*(volatile uint64_t *)ROOTS_B;
    sys_exit(0);
}

/* Switch 3 (docs/lab.md): a fresh PD with pages under 3 top-level entries runs one EC on each of
   the n cores. Its frames before any run (the master root and what it keeps), the per-core roots
   and the frames they hold after the runs, per core, and the top-level entries copied into them
   (lazy syncs, i.e. page faults, and eager copies) per core. */
static void bench_roots(unsigned n)
{
    mword p, ec;
    struct pd_info a, b;
    struct ec_info ei;
    unsigned bad = child_pd(&p) != E_OK;
    bad += child_give(p, ROOTS_A, 1, MEM_R, NULL) != E_OK;
    bad += child_give(p, ROOTS_B, 1, MEM_R, NULL) != E_OK;
    bad += sys_pd_info(p, &a) != E_OK;
    struct core_counters before = all_counters(n);
    for (unsigned c = 0; c < n && !bad; c++)
        bad += child_ec(p, c, roots_child, 0, &ec) != E_OK || ec_wait(ec, &ei) != E_OK ||
               !exited_with(&ei, 0);
    struct core_counters after = all_counters(n);
    bad += sys_pd_info(p, &b) != E_OK;
    tap_check(!bad, "per-core roots: a fresh PD ran one EC on each of %u cores", n);
    if (bad)
        return;
    row("roots_pd_kept", a.hpt_kept);
    row("roots_per_core", b.loc_roots / n);
    row("roots_frames_per_core", b.loc_roots * PD_LOC_ROOT_FRAMES / n);
    row("roots_lazy_syncs_per_core", (after.lazy_syncs - before.lazy_syncs) / n);
    row("roots_eager_syncs_per_core", (after.eager_syncs - before.eager_syncs) / n);
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
    struct core_counters k = utest_counters(0);
    uint64_t v[SAMPLES], sw = k.ctx_switches, ticks = k.timer_ticks, missed = 0;
    struct core_counters acc = { 0 }, before;
    for (unsigned s = 0; s < SAMPLES && !bad; s++) {
        uint64_t b = beats[0];
        before = all_counters(ncores);
        uint64_t t = tsc();
        sys_yield();
        v[s] = tsc() - t;
        tlb_delta(&acc, &before, ncores);
        missed += beats[0] != b + 1;    /* the other EC was preempted between beat and yield */
    }
    k = utest_counters(0);
    sw = k.ctx_switches - sw;
    ticks = k.timer_ticks - ticks;
    stop = 1;
    struct ec_info ei;
    bad += ec_wait(ec, &ei) != E_OK;
    tap_check(!bad && sw >= 2 * SAMPLES && missed <= ticks, "round trip: each yield ran the "
              "other PD's EC once (%lu switches; %lu beats missed, %lu timer ticks)",
              (unsigned long)sw, (unsigned long)missed, (unsigned long)ticks);
    row("round_trip_yield", median(v, SAMPLES));
    counter_rows("round_trip", &acc);
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
    ncores = n;
    mword c, d;
    src = mem_alloc(1024);
    tap_check(src != 0 && child_pd(&c) == E_OK && child_pd(&d) == E_OK,
              "two PDs and 1024 pages to delegate");
    if (tap_failures())
        return utest_done("kbench");
    row("cores", n);
    row("samples", SAMPLES);
    bench_entry();
    bench_bulk(c);
    bench_single(c);
    bench_siblings(c);
    bench_shootdown(c, d, n);
    bench_round_trip(c);
    bench_pager(c);
    bench_vm_exit();
    bench_self_revoke();
    bench_large();
    bench_scaling(n);
    bench_roots(n);
    return utest_done("kbench");
}
