/* Helpers shared by the user-level test programs (run as the root task). */
#pragma once
#include "child.h"
#include "uart.h"
#include "x86_vectors.h"

/* One TAP line: a call's status against the expected one. */
#define CHECK_ST(call, want) \
    do { \
        int st_ = (call); \
        tap_check(st_ == (want), "%s -> %d (want %d)", #call, st_, (want)); \
    } while (0)

/* True if *ei says the EC stopped on a page fault at addr with that access type. */
static inline bool faulted_on(const struct ec_info *ei, mword addr, unsigned access)
{
    return ei->state == EC_FAULTED && ei->fault.vector == VEC_PF && ei->fault.addr == addr &&
           ei->fault.access == access && ei->fault.user == 1;
}

/* True if *ei says the EC exited with code. */
static inline bool exited_with(const struct ec_info *ei, long code)
{
    return ei->state == EC_EXITED && ei->exit_code == code;
}

/* Start-up of a test program: information page, free memory. False: nothing can run. */
static inline bool utest_init(mword arg)
{
    const struct info_page *ip = (const struct info_page *)arg;
    bool ok = ip->magic == INFO_MAGIC && ip->version == INFO_VERSION;
    tap_check(ok, "the information page is present");
    if (!ok)
        return false;
    ok = mem_init(ip);
    tap_check(ok, "the information page reports free memory");
    return ok;
}

/* Whether the machine has at least n cores; if not, one TAP line for what, skipped. */
static inline bool utest_need_cores(unsigned n, const char *what)
{
    unsigned have = info_page()->num_cpus;
    if (have >= n)
        return true;
    tap_check(true, "%s # SKIP %u core(s), %u needed", what, have, n);
    return false;
}

/* Print the summary and return the exit code of a test program. */
static inline int utest_done(const char *prog)
{
    printf("%s: %d failed\n", prog, tap_failures());
    return tap_failures();
}

/* Core cpu's event counters (all zero if they cannot be read). */
static inline struct core_counters utest_counters(mword cpu)
{
    struct core_counters cc = { 0 };
    sys_counters(cpu, &cc);
    return cc;
}

/* The most work (mapping-database entries visited) one revoke step may do: the kernel's budget
   of 64 entries, up to 4 budgets more for entries delegated since its last step, 4 for the
   merges at a finished piece's edges, and a node's cut (tests/host/test_mdb_bound.c STEP_MAX). */
#define UTEST_STEP_WORK_MAX (9 * 64 + 8)

/* Time stamp counter (user mode may read it). */
static inline uint64_t utest_rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* Core cpu's timer ticks so far (0 if the counters cannot be read). */
static inline uint64_t utest_ticks(mword cpu)
{
    struct core_counters cc;
    return sys_counters(cpu, &cc) == E_OK ? cc.timer_ticks : 0;
}

/* TSC cycles per timer period of core cpu, measured over n periods from a tick edge. */
static inline uint64_t utest_tsc_per_tick(mword cpu, unsigned n)
{
    uint64_t t = utest_ticks(cpu);
    while (utest_ticks(cpu) == t)
        cpu_pause();
    uint64_t c0 = utest_rdtsc();
    t = utest_ticks(cpu);
    while (utest_ticks(cpu) < t + n)
        cpu_pause();
    return (utest_rdtsc() - c0) / n;
}

/*
 * Stale-read handshake of the shootdown tests (tlb_stale, tlb_manypd): a reader EC
 * loads the shared sequence word *seq (a page that is never revoked) before each
 * read of the page at va; the root stores round into *seq only after its revoke
 * returned. x86 keeps loads in order, so a read that completes after its reader
 * saw seq >= round started after the revoke returned: it must fault, and one that
 * completes is counted as stale. One cache line per reader.
 */
struct stale_reader {
    volatile uint64_t reads;        /* completed reads of the page this round */
    volatile uint64_t stale;        /* completed reads after the root's post-revoke bump */
    volatile uint64_t bad;          /* reads that returned something other than the pattern */
    uint64_t pad[5];
};

/* Read the word at va for round until the read faults, counting into *r (see above). */
static inline noreturn void stale_reader_run(struct stale_reader *r, const volatile uint64_t *seq,
                                             uint64_t round, mword va, uint32_t pattern)
{
    for (;;) {
        uint64_t s = *seq;                                  /* before the read: in program order */
        uint32_t v = *(volatile uint32_t *)va;
        if (s >= round)
            r->stale++;
        if (v != pattern)
            r->bad++;
        r->reads++;
        cpu_pause();
    }
}

/* Sum the stale and wrong reads of the n readers r[0..n). */
static inline void stale_reader_sum(const struct stale_reader *r, unsigned n, unsigned *stale,
                                    unsigned *bad)
{
    *stale = *bad = 0;
    for (unsigned i = 0; i < n; i++) {
        *stale += (unsigned)r[i].stale;
        *bad += (unsigned)r[i].bad;
    }
}
