/*
 * Cross-core stale TLB (lecture: "TLB Shutdown on revoked memory mappings").
 * ECs of one PD, one on every other core, read a page in a tight loop while
 * core 0 revokes it; every CORE0_EVERY-th trial also has a reader on core 0
 * (it shares the core with the root, is not running during the revoke, and so
 * tests the flush at its next make_current; each costs a timer slice, hence
 * not every trial). A read of the page that completes after the revoke
 * returned is a stale read (the sequence handshake of utest.h: stale_reader).
 * A faulted EC stays stopped, so every trial starts fresh readers
 * (reusing one stack per core). Run as the root task; TAP output.
 */
#include "utest.h"

#define TARGET_VA   0x10000000UL    /* child: the page that is revoked each trial */
#define STACK_VA    0x20000000UL    /* child: one reader stack per core, reused each trial */
#define STACK_SPAN  ((CHILD_STACK_PAGES + 1) * PAGE_SIZE_USER)
#define TRIALS      1000u           /* trials per configuration (the issue: at least 1,000) */
#define PATTERN     0x5a5a1234u     /* the page's content */
#define CORE0_EVERY 50u             /* trials with a reader on core 0 too: every 50th */

/* Shared with the readers (same data segment). One per core. */
static struct stale_reader readers[INFO_MAX_CPUS] aligned(64);
static volatile uint64_t seq;       /* the root sets it to the trial's number after revoke */

/* Reader for trial t on its core: read the page forever; it stops only by faulting. */
static void child_reader(mword arg)
{
    stale_reader_run(&readers[arg >> 32], &seq, arg & 0xffffffffu, TARGET_VA, PATTERN);
}

/* Start a reader for trial t in pd on cpu, on that core's stack; its selector in *ec. */
static int start_reader(mword pd, mword cpu, uint64_t t, mword *ec)
{
    *ec = sel_alloc();
    mword top = STACK_VA + cpu * STACK_SPAN + CHILD_STACK_PAGES * PAGE_SIZE_USER;
    return sys_create_ec(*ec, pd, cpu, (mword)child_reader, ec_stack_ptr((void *)top),
                         cpu << 32 | t);
}

/* Totals over all trials. */
struct tally {
    unsigned trials, readers, faulted, stale, bad, errors, core0;
};

/* One trial: delegate, start readers (core 0 in some trials), wait until each has read, revoke,
   bump, wait. */
static void trial(mword pd, mword window, unsigned n, uint64_t t, struct tally *k)
{
    unsigned first = t % CORE0_EVERY == 0 ? 0 : 1;         /* first core with a reader */
    mword ec[INFO_MAX_CPUS];
    struct ec_info ei;
    if (sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, window, TARGET_VA, 1, MEM_R) != E_OK) {
        k->errors++;
        return;
    }
    for (unsigned c = first; c < n; c++) {
        readers[c].reads = 0;
        if (start_reader(pd, c, t, &ec[c]) != E_OK)
            k->errors++;
    }
    for (unsigned c = first; c < n; c++)
        while (readers[c].reads == 0)
            sys_yield_pause();                              /* core 0: let its reader run */
    if (sys_revoke(SEL_ROOT_PD, SPACE_MEM, window, 1, MEM_RWX, 0) != E_OK)
        k->errors++;
    seq = t;                                                /* revoke has returned */
    for (unsigned c = first; c < n; c++) {
        if (ec_wait(ec[c], &ei) != E_OK)
            k->errors++;
        k->readers++;
        k->faulted += faulted_on(&ei, TARGET_VA, FAULT_R);
        k->core0 += c == 0;
    }
    k->trials++;
}

static void test_no_reader_completes_a_read_after_revoke_returned(unsigned n)
{
    mword pd, window, stacks;
    struct tally k = { 0 };
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(child_give(pd, STACK_VA, (mword)n * (CHILD_STACK_PAGES + 1), MEM_R | MEM_W, &stacks),
             E_OK);
    window = mem_alloc(1);
    tap_check(window != 0, "a page for the trials");
    if (window == 0 || n < 2)
        return;
    *(volatile uint32_t *)window = PATTERN;
    for (uint64_t t = 1; t <= TRIALS; t++)
        trial(pd, window, n, t, &k);
    unsigned stale, bad;
    uint64_t reads = 0;
    stale_reader_sum(readers, n, &stale, &bad);
    for (unsigned c = 0; c < n; c++)
        reads += readers[c].reads;
    tap_check(k.errors == 0, "every delegate, create_ec, revoke and wait succeeded (%u errors)",
              k.errors);
    tap_check(
        k.trials >= TRIALS && stale == 0,
        "no stale read after revoke returned: %u trials, %u readers on %u cores (%u on core 0), "
        "%u stale reads",
        k.trials, k.readers, n, k.core0, stale);
    tap_check(k.faulted == k.readers, "every reader faulted on its next read (%u of %u)", k.faulted,
              k.readers);
    tap_check(bad == 0, "every completed read saw the page's content (%u wrong)", bad);
    struct lookup_info li;
    CHECK_ST(sys_lookup(pd, SPACE_MEM, TARGET_VA, &li), E_NOENT);
    printf("# tlb_stale: %u trials, %lu reads by the last trial's readers\n", k.trials,
           (unsigned long)reads);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    unsigned n = info_page()->num_cpus;
    if (n < 2)
        tap_check(true, "cross-core readers need 2 cores # SKIP only %u", n);
    else
        test_no_reader_completes_a_read_after_revoke_returned(n);
    return utest_done("tlb_stale");
}
