/*
 * TLB shootdown (lecture: "TLB Shutdown on revoked memory mappings"). For each
 * core whose CR3 holds pd (cpu_local.pd): mark it in pd's htlb; this core flushes
 * at once, other cores get an IPI and we wait for their acknowledgement (bounded).
 * A core that holds another PD caches nothing of pd (no PCID: a CR3 load flushes
 * all non-global entries), so it is skipped (counted as avoided).
 */
#include "tlb.h"
#include "pd.h"
#include "cpu.h"
#include "cpu_local.h"
#include "lapic.h"
#include "panic.h"
#include "smp.h"
#include "trap.h"

#define TLB_ACK_TIMEOUT_US  1000000     /* a core that does not answer in 1 s is broken */

/* Reload CR3: flush every non-global translation of this core. */
static void flush_local(void)
{
    this_cpu()->counters.full_flushes++;
    write_cr3(read_cr3());
}

/* IPI core c to flush and wait until it acknowledged; panics after the bound. */
static void flush_remote(unsigned c)
{
    struct cpu_local *r = cpu_remote(c);
    uint64_t ack = __atomic_load_n(&r->tlb_acks, __ATOMIC_ACQUIRE);
    this_cpu()->counters.ipis_sent++;
    lapic_send_ipi(r->apic_id, VEC_IPI_TLB);
    for (uint64_t t0 = time_us(); __atomic_load_n(&r->tlb_acks, __ATOMIC_ACQUIRE) == ack;) {
        if (time_us() - t0 > TLB_ACK_TIMEOUT_US)
            panic("tlb: core %u did not acknowledge a shootdown", c);
        cpu_pause();
    }
}

/* Flush pd's translations (every PD's if pd is NULL) on every core that may cache them. */
void tlb_flush_pd(struct pd *pd)
{
    unsigned self = cpu_id();
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* table writes before reading who runs pd */
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        struct cpu_local *r = cpu_remote(c);
        struct pd *cur = __atomic_load_n(&r->pd, __ATOMIC_SEQ_CST);
        if (!r->online || !cur || (pd && cur != pd)) {
            this_cpu()->counters.flushes_avoided++;
            continue;
        }
        cpuset_set(&cur->mem.htlb, c);
        if (c == self) {
            /* Lecture: own core sets a hazard; we flush right away instead. */
            if (cpuset_tst_clr(&cur->mem.htlb, c))
                flush_local();
            continue;
        }
        flush_remote(c);
    }
}

/*
 * Do a shootdown requested of this core now: flush if the current PD is marked
 * stale here, and acknowledge. Idempotent, so the IPI that is still pending when
 * a spinning core polled only acknowledges once more (a sender that reads the
 * counter after that waits for a later change, and its mark is checked again).
 */
void tlb_poll(void)
{
    struct cpu_local *c = this_cpu();
    struct pd *cur = c->pd;
    if (cur && cpuset_tst_clr(&cur->mem.htlb, c->id))
        flush_local();
    __atomic_add_fetch(&c->tlb_acks, 1, __ATOMIC_RELEASE);
}

/* IPI handler: flush this core's TLB if its current PD is marked stale, then acknowledge. */
void tlb_ipi(void)
{
    this_cpu()->counters.ipis_received++;
    tlb_poll();
}
