/*
 * Lazy per-core page-table sync (lecture: "Syncing Page Tables"): delegation
 * changes only the PD's master table hpt; the first touch of a top-level
 * (PML4) region on a core copies that one entry into the core's table
 * loc[core] — one counted lazy sync per entry — and later touches, on that
 * core, of any page under the same entry cost none. Another core syncs again.
 * The lab build PTSYNC=eager (docs/lab.md) copies every entry when the per-core root is built
 * instead: no touch costs a lazy sync, and each first run costs three eager copies. The lab
 * build PTSYNC=shared has no per-core roots: every core runs on the master table, so no touch
 * costs a sync, nothing is copied, and a first run on a core creates no root.
 * Run as the root task; TAP output.
 */
#include "utest.h"

#if defined(PTSYNC_eager)
#define LAZY 0                          /* lazy syncs a first touch of a region costs */
#define EAGER 3                         /* eager copies a first run on a core costs */
#define CORE_ROOTS 1                    /* per-core roots a first run on a core creates */
#elif defined(PTSYNC_shared)
#define LAZY 0
#define EAGER 0
#define CORE_ROOTS 0
#else
#define LAZY 1
#define EAGER 0
#define CORE_ROOTS 1
#endif

#define PML4_SPAN  (1UL << 39)          /* bytes under one top-level entry: 512 GiB */
#define REGION_A   (1 * PML4_SPAN)      /* PML4 slot 1 */
#define REGION_B   (2 * PML4_SPAN)      /* PML4 slot 2 */
/* Pages of region A in different page-directory-pointer and directory entries. */
static const mword a_pages[] = { REGION_A, REGION_A + 0x1000, REGION_A + (2UL << 20),
                                 REGION_A + (1UL << 30) };

/* What a child saw: its core's lazy-sync counter around each step. */
struct sync_steps {
    mword cpu;
    uint64_t before, after_a, after_a_again, after_b, after_both_again;
    int status;             /* first failing counters() status, or E_OK */
};

static struct sync_steps steps[INFO_MAX_CPUS * 2];  /* in the shared data segment */

/* Core cpu's lazy-sync count at this moment; records a failed call in *s. */
static uint64_t syncs(struct sync_steps *s)
{
    struct core_counters cc;
    int st = sys_counters(s->cpu, &cc);
    if (st != E_OK && s->status == E_OK)
        s->status = st;
    return cc.lazy_syncs;
}

/* Read one word at a. */
static void touch(mword a)
{
    (void)*(volatile uint64_t *)a;
}

/* Child: touch region A (first page, then three more), region B, then both again. */
static void child_touch(mword arg)
{
    struct sync_steps *s = (struct sync_steps *)arg;
    s->before = syncs(s);
    touch(REGION_A);
    s->after_a = syncs(s);
    for (unsigned i = 0; i < ARRAY_SIZE(a_pages); i++)
        touch(a_pages[i]);
    s->after_a_again = syncs(s);
    touch(REGION_B);
    s->after_b = syncs(s);
    touch(REGION_A + (1UL << 30));
    touch(REGION_B);
    s->after_both_again = syncs(s);
    sys_exit(0);
}

/* Core cpu's lazy-sync count as the root reads it. */
static uint64_t core_syncs(mword cpu)
{
    struct core_counters cc;
    return sys_counters(cpu, &cc) == E_OK ? cc.lazy_syncs : ~0UL;
}

/* Per-core roots pd has, or ~0 if pd_info fails. */
static uint64_t loc_roots(mword pd)
{
    struct pd_info pi;
    return sys_pd_info(pd, &pi) == E_OK ? pi.loc_roots : ~0UL;
}

/* Run child_touch in pd on cpu; check its steps; returns how many syncs the whole run cost. */
/* Eager copies (PTSYNC=eager) counted on all n cores. */
static uint64_t all_eager(unsigned n)
{
    uint64_t sum = 0;
    for (unsigned c = 0; c < n; c++) {
        struct core_counters cc;
        sum += sys_counters(c, &cc) == E_OK ? cc.eager_syncs : 0;
    }
    return sum;
}

static unsigned ncpu;                   /* cores the test runs children on */
static uint64_t eager_run;              /* eager copies during the last run_on */

static uint64_t run_on(mword pd, mword cpu, struct sync_steps *s, const char *when)
{
    struct ec_info ei;
    s->cpu = cpu;
    uint64_t eager0 = all_eager(ncpu);
    uint64_t before = core_syncs(cpu);
    int st = child_run(pd, cpu, child_touch, (mword)s, &ei);
    uint64_t total = core_syncs(cpu) - before;
    eager_run = all_eager(ncpu) - eager0;
    tap_check(st == E_OK && exited_with(&ei, 0) && s->status == E_OK,
              "core %lu, %s: the child ran to its end", cpu, when);
    return total;
}

/* Check the steps of a child's first run on a core. */
static void check_first_run(const struct sync_steps *s)
{
    mword c = s->cpu;
    tap_check(s->after_a - s->before == LAZY,
              "core %lu: the first touch of region A costs exactly %d lazy sync (%lu)", c, LAZY,
              (unsigned long)(s->after_a - s->before));
    tap_check(s->after_a_again == s->after_a,
              "core %lu: touching other pages under the same top-level entry costs none (%lu)", c,
              (unsigned long)(s->after_a_again - s->after_a));
    tap_check(s->after_b - s->after_a_again == LAZY,
              "core %lu: the first touch of region B costs exactly %d (%lu)", c, LAZY,
              (unsigned long)(s->after_b - s->after_a_again));
    tap_check(s->after_both_again == s->after_b,
              "core %lu: touching both regions again costs none (%lu)", c,
              (unsigned long)(s->after_both_again - s->after_b));
}

/* Check a later run of the same PD on a core it ran on already. */
static void check_second_run(const struct sync_steps *s, uint64_t total)
{
    tap_check(s->after_both_again == s->before && total == 0,
              "core %lu: a second EC of the same PD syncs nothing (%lu in all)", s->cpu,
              (unsigned long)total);
}

int main(mword arg)
{
    const struct info_page *ip = (const struct info_page *)arg;
    mword pd;
    unsigned n = ip->num_cpus < INFO_MAX_CPUS ? ip->num_cpus : INFO_MAX_CPUS;
    ncpu = n;
    if (!utest_init(arg))
        return utest_done("lazy_sync");
    CHECK_ST(child_pd(&pd), E_OK);
    for (unsigned i = 0; i < ARRAY_SIZE(a_pages); i++)
        CHECK_ST(child_give(pd, a_pages[i], 1, MEM_R, NULL), E_OK);
    CHECK_ST(child_give(pd, REGION_B, 1, MEM_R, NULL), E_OK);
    if (tap_failures() != 0)
        return utest_done("lazy_sync");
    tap_check(loc_roots(pd) == 0, "a PD that never ran has no per-core root");
    for (mword cpu = 0; cpu < n; cpu++) {
        uint64_t roots = loc_roots(pd);
        uint64_t total = run_on(pd, cpu, &steps[2 * cpu], "first EC");
        tap_check(loc_roots(pd) == roots + CORE_ROOTS,
                  "core %lu: the PD's first run there created %d per-core root", cpu, CORE_ROOTS);
        check_first_run(&steps[2 * cpu]);
        /* Program and stack share PML4 slot 0: slot 0, A and B make three syncs in all. */
        if (cpu != 0)
            tap_check(
                total == 3 * LAZY,
                "core %lu: the whole first run cost %d syncs per top-level entry used (got %lu)",
                cpu, LAZY, (unsigned long)total);
        if (!LAZY)
            tap_check(eager_run == EAGER,
                      "core %lu: building the root copied %d of the 3 entries (%lu)", cpu, EAGER,
                      (unsigned long)eager_run);
        roots = loc_roots(pd);
        total = run_on(pd, cpu, &steps[2 * cpu + 1], "second EC");
        check_second_run(&steps[2 * cpu + 1], total);
        tap_check(loc_roots(pd) == roots, "core %lu: the second EC reused the per-core root", cpu);
    }
    return utest_done("lazy_sync");
}
