/*
 * TLB shootdown (lecture: "TLB Shutdown on revoked memory mappings") with the
 * known improvements: only cores that run the PD get an IPI, all IPIs go out
 * before the first wait, the own core flushes while the others work, the wait
 * runs with interrupts enabled, and it is bounded by a log line, not a panic.
 *
 * Acknowledgement protocol (checked in tests/spin/tlb.pml): per core, senders
 * add 1 to tlb_reqs and the core stores into tlb_acks the value of tlb_reqs it
 * read BEFORE checking its mark. The sender (1) marks the core in pd's htlb,
 * (2) reads Pd::remote (which PD the core runs; a core that does not run pd
 * flushes in make_current, which re-checks the mark after publishing its PD;
 * one that is leaving pd in make_current, whose CR3 may still hold pd's root,
 * counts as running it, as does one that took its mark but may not have
 * flushed yet: its page walker could still reach the tables to be freed),
 * (3) takes its request number R = ++tlb_reqs, sends the IPI and (4) waits for
 * tlb_acks >= R. A core answering with a value >= R read tlb_reqs after the
 * increment, hence after the mark, and only then checked (and cleared) the
 * mark of its current PD and flushed, or found that its current PD is not pd
 * (so it cannot use pd's translations before make_current flushes them), or
 * found the mark cleared by its own make_current, which flushed. An answer
 * from a check that began before the mark carries a smaller number and is not
 * taken for one. Polls run with interrupts off, so tlb_acks only grows.
 *
 * A core that does not answer: the sender logs it every 100 ms and keeps
 * waiting. Returning early would let the caller reuse frames (and free tables)
 * the silent core may still reach through its TLB; a hung kernel that says which
 * core hangs is the lesser evil. Interrupts are on while waiting, so the waiting
 * core keeps taking its timer and answers shootdown IPIs itself (they only flush
 * and acknowledge, take no lock), and two cores can never wait for each other:
 * shootdowns are issued under pd_lock, whose waiters poll (pd_lock_take) or go
 * back to user mode with interrupts on.
 *
 * Lab switches (mk/lab.conf, docs/lab.md); the defaults are the policy above.
 * TLB_TARGETS=htlb IPIs every core marked in htlb (it ran pd), running pd or not;
 * =all every other online core: the protocol is the same, a core that does not run
 * pd only answers. TLB_IPI=serial waits for each core's answer before the next
 * IPI. TLB_INVLPG_MAX (include/tlb.h) is the ceiling of the local flush. TLB_ACK=
 * deferred is NOVA's answer: the handler acknowledges at once and sets a hazard
 * word; the flush comes in tlb_hazard before the core uses a user translation again
 * (return to user mode, user copies) or in make_current (the htlb mark stays set).
 * That keeps the promise for every access the kernel makes on purpose, but not for
 * the page walker: between the answer and the flush the core's CR3 still reaches
 * the tables the revoker frees once the answers are in, and the walker may walk them
 * (speculatively too, and set accessed flags in them: SDM 4.10.3) after their frames
 * were reused. So it is a lab variant, never the default.
 */
#include "tlb.h"
#include "pcid.h"
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

/* This core: use PCIDs if its CR4 has PCIDE (cpu_config sets it where CPUID has PCID). */
void tlb_pcid_init(void)
{
    if (!(read_cr4() & CR4_PCIDE))
        return;
    if (!tlb_pcid)
        printk("tessera: PCID on (CR4.PCIDE), one PCID per PD\n");
    tlb_pcid = true;        /* every core of one machine answers the same */
}

/* Flush every non-global translation of this core (CR3 reload). */
static void flush_all(void)
{
    this_cpu()->counters.full_flushes++;
    this_cpu()->counters.cr3_loads++;
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

/* Whether core c may cache pd: it has a root of pd (it ran pd) and is online. */
static bool marked(struct pd *pd, unsigned c)
{
    return pd->mem.loc[c].root && cpu_remote(c)->online;
}

/* Mark in pd's htlb every core that may cache pd (only the cores with a root of pd). */
static void mark_cores(struct pd *pd)
{
    unsigned c;
    cpuset_for_each(c, &pd->mem.rooted)
        if (marked(pd, c))
            cpuset_set(&pd->mem.htlb, c);
}

/* Wait until core c answered request req (tlb_acks >= req); logs (and keeps waiting) when slow. */
static void wait_ack(unsigned c, uint64_t req)
{
    struct cpu_local *r = cpu_remote(c);
    uint64_t t0 = time_us(), logged = 0;
    while (__atomic_load_n(&r->tlb_acks, __ATOMIC_ACQUIRE) < req) {
        uint64_t waited = time_us() - t0;
        if (waited / TLB_ACK_LOG_US > logged) {
            logged = waited / TLB_ACK_LOG_US;
            printk("tlb: core %u has not acknowledged a shootdown for %lu ms\n",
                   c, (unsigned long)(waited / 1000));
        }
        cpu_pause();
    }
}

/* Whether core rc's CR3 may hold pd's root: pd is its current PD, or the one it is leaving in
   make_current. pd before pd_leaving: make_current writes them the other way round. */
static unused bool runs_or_leaves(struct cpu_local *rc, struct pd *pd)
{
    return __atomic_load_n(&rc->pd, __ATOMIC_SEQ_CST) == pd ||
           __atomic_load_n(&rc->pd_leaving, __ATOMIC_SEQ_CST) == pd;
}

/* Whether core c gets an IPI for pd: by default if it runs pd or is leaving it; TLB_TARGETS=htlb
   if it is marked (ran pd); =all always (c online). */
static bool target(struct pd *pd, unsigned c)
{
#if defined(TLB_TARGETS_all)
    (void)pd;
    return cpu_remote(c)->online;
#elif defined(TLB_TARGETS_htlb)
    return marked(pd, c);
#else
    return marked(pd, c) && runs_or_leaves(cpu_remote(c), pd);
#endif
}

#ifdef TLB_IPI_serial
/* Wait until core c answered request req, with interrupts on (a nested request only flushes
   and acks). */
static void wait_one(unsigned c, uint64_t req)
{
    mword fl = irq_save();
    cpu_sti();
    wait_ack(c, req);
    irq_restore(fl);
}
#endif

/* Step 2: IPI every other core that target() picks, each with its request number in req[c],
   into sent; TLB_IPI=serial waits for each answer before the next IPI. A marked core that gets
   none stays marked and flushes in make_current. A mark found clear again was taken, but its
   flush may still be ahead: such a core is asked too. */
static void send_ipis(struct pd *pd, uint64_t req[NUM_CPU], struct cpuset *sent)
{
    struct cpu_local *me = this_cpu();
    unsigned c;
#if defined(TLB_TARGETS_all)
    for (c = 0; c < smp_cpus.count && c < NUM_CPU; c++) {
#else
    cpuset_for_each(c, &pd->mem.rooted) {
#endif
        struct cpu_local *rc = cpu_remote(c);
        if (c == me->id)
            continue;
        if (!target(pd, c)) {
            if (marked(pd, c))
                me->counters.flushes_avoided++;     /* stays marked: flushes in make_current */
            continue;
        }
        req[c] = __atomic_add_fetch(&rc->tlb_reqs, 1, __ATOMIC_SEQ_CST);    /* after the mark */
        me->counters.ipis_sent++;
        lapic_send_ipi(rc->apic_id, VEC_IPI_TLB);
#ifdef TLB_IPI_serial
        (void)sent;
        wait_one(c, req[c]);                        /* answered: not in sent */
#else
        cpuset_set(sent, c);
#endif
    }
}

/* Step 4: wait for every core of sent to answer req[c], with interrupts on (a nested request
   only flushes and acks). */
static void wait_acks(struct cpuset *sent, const uint64_t req[NUM_CPU])
{
    if (cpuset_count(sent) == 0)
        return;
    mword fl = irq_save();
    cpu_sti();
    unsigned c;
    cpuset_for_each(c, sent)
        wait_ack(c, req[c]);
    irq_restore(fl);
}

/*
 * Lecture: the shootdown loop. The caller has updated pd's entries (pd_lock
 * held). Returns when no core can use a stale translation of pd any more:
 * IPI'd cores have flushed, marked cores flush before they run pd again.
 */
void tlb_shootdown(struct pd *pd, const struct tlb_range *r)
{
    struct cpu_local *me = this_cpu();
    uint64_t req[NUM_CPU] = { 0 };      /* request number sent to each core of sent */
    struct cpuset sent;
    cpuset_init(&sent);
    uint64_t full = r->full ? ++pd->mem.tlb_full_started : 0;   /* quarantine.c: what it covers */

    /* 1. Collect the cores that may cache pd (htlb); the entry writes come first. */
    mark_cores(pd);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* marks before reading Pd::remote */

    /* 2. Send all IPIs first. */
    send_ipis(pd, req, &sent);
    if (tlb_shootdown_hook)
        tlb_shootdown_hook(pd);

    /* 3. Own core flushes while the others work (if it runs pd; else make_current will). */
    if (me->pd == pd && cpuset_tst_clr(&pd->mem.htlb, me->id))
        flush_local(r);

    /* 4. Wait for every target. */
    wait_acks(&sent, req);
    if (full)
        pd->mem.tlb_full_done = full;
}

/* Shoot down every translation of pd (full flush on every affected core). */
void tlb_flush_pd(struct pd *pd)
{
    struct tlb_range all = { 0, 0, true };
    tlb_shootdown(pd, &all);
}

/*
 * Do the shootdowns requested of this core so far: read the request counter,
 * then flush if the current PD is marked stale here, then answer with the
 * counter read first (see the protocol above). Idempotent; runs with
 * interrupts off so that a nested poll cannot store a smaller answer.
 */
void tlb_poll(void)
{
    struct cpu_local *c = this_cpu();
    mword fl = irq_save();
    uint64_t req = __atomic_load_n(&c->tlb_reqs, __ATOMIC_SEQ_CST);    /* before the check */
    struct pd *cur = c->pd;
    if (cur && cpuset_tst_clr(&cur->mem.htlb, c->id))
        flush_all();
    if (req > c->tlb_acks)
        __atomic_store_n(&c->tlb_acks, req, __ATOMIC_RELEASE);          /* after the flush */
    irq_restore(fl);
}

#ifdef TLB_ACK_deferred
/* IPI handler of TLB_ACK=deferred (NOVA): answer every request so far at once, before any flush,
   and set the hazard word; tlb_hazard or make_current flushes (see the switches above). */
void tlb_ipi(void)
{
    struct cpu_local *c = this_cpu();
    c->counters.ipis_received++;
    mword fl = irq_save();
    uint64_t req = __atomic_load_n(&c->tlb_reqs, __ATOMIC_SEQ_CST);
    c->tlb_hazard = true;                                               /* before the answer */
    if (req > c->tlb_acks) {
        __atomic_store_n(&c->tlb_acks, req, __ATOMIC_RELEASE);
        c->counters.tlb_deferred++;
    }
    irq_restore(fl);
}

/* The deferred flush: if an answer went out before its flush, flush when the current PD is
   marked stale here (make_current clears the mark of the PD it loads, and flushes). */
void tlb_hazard(void)
{
    struct cpu_local *c = this_cpu();
    if (!c->tlb_hazard)
        return;
    mword fl = irq_save();
    c->tlb_hazard = false;
    struct pd *cur = c->pd;
    if (cur && cpuset_tst_clr(&cur->mem.htlb, c->id))
        flush_all();
    irq_restore(fl);
}
#else
/* IPI handler: flush this core's TLB if its current PD is marked stale, then acknowledge. */
void tlb_ipi(void)
{
    this_cpu()->counters.ipis_received++;
    tlb_poll();
}
#endif
