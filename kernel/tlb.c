/*
 * TLB shootdown (lecture: "TLB Shutdown on revoked memory mappings") with the
 * known improvements: only cores that run the PD get an IPI, all IPIs go out
 * before the first wait, the own core flushes while the others work, the wait
 * runs with interrupts enabled, and it is bounded by a log line, not a panic.
 *
 * Acknowledgement protocol: a core's tlb_acks only grows, and every increment
 * happens after that core checked (and cleared) its mark in its current PD's
 * htlb and flushed. The sender marks first and reads the counter second, so a
 * change of the counter proves a check that came after the mark.
 *
 * A core that does not answer: the sender logs it every 100 ms and keeps
 * waiting. Returning early would let the caller reuse frames (and free tables)
 * the silent core may still reach through its TLB; a hung kernel that says which
 * core hangs is the lesser evil. Interrupts are on while waiting, so the waiting
 * core keeps taking its timer and answers shootdown IPIs itself (they only flush
 * and acknowledge, take no lock), and two cores can never wait for each other:
 * shootdowns are issued under pd_lock, whose waiters poll (pd_lock_take).
 */
#include "tlb.h"
#include "pd.h"
#include "cpu.h"
#include "cpu_local.h"
#include "lapic.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"
#include "trap.h"

#define TLB_ACK_LOG_US  100000          /* log a core that has not answered for 100 ms */

void (*tlb_shootdown_hook)(struct pd *pd);
bool tlb_pcid;

/* This core: turn on PCIDs if the CPU has them (CR3 must hold PCID 0). */
void tlb_pcid_init(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & CPUID_1_ECX_PCID))
        return;
    write_cr4(read_cr4() | CR4_PCIDE);
    if (!tlb_pcid)
        printk("tessera: PCID on (CR4.PCIDE), one PCID per PD\n");
    tlb_pcid = true;        /* every core of one machine answers the same */
}

/* Flush every non-global translation of this core (CR3 reload). */
static void flush_all(void)
{
    this_cpu()->counters.full_flushes++;
    write_cr3(read_cr3());
}

/* Flush r on this core: INVLPG per page up to TLB_INVLPG_MAX, else a full flush. */
static void flush_local(const struct tlb_range *r)
{
    if (r->full || r->pages > TLB_INVLPG_MAX) {
        flush_all();
        return;
    }
    for (uint64_t i = 0; i < r->pages; i++)
        invlpg(r->va + i * PAGE_SIZE);
    this_cpu()->counters.invlpgs += r->pages;
}

/* Mark in pd's htlb every core that may cache pd (it has a root of pd: it ran pd). */
static void mark_cores(struct pd *pd)
{
    for (unsigned c = 0; c < smp_cpus.count; c++)
        if (pd->mem.loc[c].root && cpu_remote(c)->online)
            cpuset_set(&pd->mem.htlb, c);
}

/* Wait until core c's ack counter moved past ack; logs (and keeps waiting) when slow. */
static void wait_ack(unsigned c, uint64_t ack)
{
    struct cpu_local *r = cpu_remote(c);
    uint64_t t0 = time_us(), logged = 0;
    while (__atomic_load_n(&r->tlb_acks, __ATOMIC_ACQUIRE) == ack) {
        uint64_t waited = time_us() - t0;
        if (waited / TLB_ACK_LOG_US > logged) {
            logged = waited / TLB_ACK_LOG_US;
            printk("tlb: core %u has not acknowledged a shootdown for %lu ms\n",
                   c, (unsigned long)(waited / 1000));
        }
        cpu_pause();
    }
}

/*
 * Lecture: the shootdown loop. The caller has updated pd's entries (pd_lock
 * held). Returns when no core can use a stale translation of pd any more:
 * IPI'd cores have flushed, marked cores flush before they run pd again.
 */
void tlb_shootdown(struct pd *pd, const struct tlb_range *r)
{
    struct cpu_local *me = this_cpu();
    uint64_t ack[NUM_CPU] = { 0 };              /* set for the cores in sent */
    struct cpuset sent;
    cpuset_init(&sent);

    /* 1. Collect the cores that may cache pd (htlb); the entry writes come first. */
    mark_cores(pd);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* marks before reading Pd::remote */

    /* 2. Send all IPIs first: only to other marked cores that run pd now. */
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        struct cpu_local *rc = cpu_remote(c);
        if (c == me->id || !cpuset_chk(&pd->mem.htlb, c))
            continue;
        if (__atomic_load_n(&rc->pd, __ATOMIC_SEQ_CST) != pd) {
            me->counters.flushes_avoided++;     /* stays marked: flushes in make_current */
            continue;
        }
        ack[c] = __atomic_load_n(&rc->tlb_acks, __ATOMIC_ACQUIRE);  /* after the mark */
        cpuset_set(&sent, c);
        me->counters.ipis_sent++;
        lapic_send_ipi(rc->apic_id, VEC_IPI_TLB);
    }

    if (tlb_shootdown_hook)
        tlb_shootdown_hook(pd);

    /* 3. Own core flushes while the others work (if it runs pd; else make_current will). */
    if (me->pd == pd && cpuset_tst_clr(&pd->mem.htlb, me->id))
        flush_local(r);

    /* 4. Wait for every target with interrupts on: a nested request only flushes and acks. */
    if (cpuset_count(&sent) == 0)
        return;
    mword fl = irq_save();
    cpu_sti();
    for (unsigned c = 0; c < smp_cpus.count; c++)
        if (cpuset_chk(&sent, c))
            wait_ack(c, ack[c]);
    irq_restore(fl);
}

/* Shoot down every translation of pd (full flush on every affected core). */
void tlb_flush_pd(struct pd *pd)
{
    struct tlb_range all = { 0, 0, true };
    tlb_shootdown(pd, &all);
}

/*
 * Do a shootdown requested of this core now: flush if the current PD is marked
 * stale here, and acknowledge. Idempotent, so the IPI that is still pending when
 * a spinning core polled only acknowledges once more.
 */
void tlb_poll(void)
{
    struct cpu_local *c = this_cpu();
    struct pd *cur = c->pd;
    if (cur && cpuset_tst_clr(&cur->mem.htlb, c->id))
        flush_all();
    __atomic_add_fetch(&c->tlb_acks, 1, __ATOMIC_RELEASE);
}

/* IPI handler: flush this core's TLB if its current PD is marked stale, then acknowledge. */
void tlb_ipi(void)
{
    this_cpu()->counters.ipis_received++;
    tlb_poll();
}
