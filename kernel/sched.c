/*
 * Per-core round-robin scheduler (see include/sched.h). The running EC is not
 * on its queue. A system call saves its user state in the EC itself (syscall_entry); after
 * an interrupt or exception it is the frame at the top of the core's stack (USER_FRAME)
 * until sched_save copies it into the EC.
 */
#include "sched.h"
#include "ec.h"
#include "pd.h"
#include "arch.h"
#include "kstring.h"
#include "panic.h"
#include "uaccess.h"
#include "vcpu.h"

struct runq {
    struct spinlock lock;
    struct ec *head, *tail;
    struct ec *retire;          /* killed ECs of this core that must leave (through next) */
};

static struct runq runq[NUM_CPU];

/* Per core: the EC whose x87/SSE/AVX state and data selectors the CPU holds (NULL: none).
   Switched eagerly in sched_resume, never left for a fault to load lazily. */
static struct ec *regs_owner[NUM_CPU];

/* Append ec to queue q (lock held). */
static void rq_push(struct runq *q, struct ec *ec)
{
    ec->next = NULL;
    ec->rq_prev = q->tail;
    ec->queued = true;
    if (q->tail)
        q->tail->next = ec;
    else
        q->head = ec;
    q->tail = ec;
}

/* Take the first EC of queue q, or NULL (lock held). */
static struct ec *rq_pop(struct runq *q)
{
    struct ec *ec = q->head;
    if (ec) {
        q->head = ec->next;
        if (q->head)
            q->head->rq_prev = NULL;
        else
            q->tail = NULL;
        ec->queued = false;
    }
    return ec;
}

/* Take queued ec out of queue q, in O(1) (lock held). */
static void rq_unlink(struct runq *q, struct ec *ec)
{
    if (ec->rq_prev)
        ec->rq_prev->next = ec->next;
    else
        q->head = ec->next;
    if (ec->next)
        ec->next->rq_prev = ec->rq_prev;
    else
        q->tail = ec->rq_prev;
    ec->queued = false;
}

/* Put killed ec on queue q's list of ECs to retire (lock held; ec on no other list). */
static void retire_push(struct runq *q, struct ec *ec)
{
    ec->next = q->retire;
    __atomic_store_n(&q->retire, ec, __ATOMIC_RELEASE);     /* sched_retire peeks unlocked */
}

/* Make ec runnable on its core (wakes that core if it is another); a killed ec goes to the
   core's retire list instead (the check is under the lock that sched_kill_queued takes). */
void sched_enqueue(struct ec *ec)
{
    unsigned cpu = ec->cpu;             /* once on its core's lists, ec may be freed */
    struct runq *q = &runq[cpu];
    mword fl = irq_save();
    spin_lock(&q->lock);
    if (__atomic_load_n(&ec->killed, __ATOMIC_SEQ_CST))
        retire_push(q, ec);
    else
        rq_push(q, ec);
    spin_unlock(&q->lock);
    irq_restore(fl);
    if (cpu != cpu_id())
        lapic_send_ipi(cpu_remote(cpu)->apic_id, VEC_IPI_WAKE);
}

/* Save the current EC's user state from frame f (the frame at the top of the stack). */
void sched_save(struct trap_frame *f)
{
    struct ec *ec = this_cpu()->ec;
    if (ec && f != &ec->regs)
        ec->regs = *f;
}

/* Take ec (bound to this core) off its run queue, in O(1); false if it was not queued. */
bool sched_dequeue(struct ec *ec)
{
    struct runq *q = &runq[ec->cpu];
    ASSERT(ec->cpu == cpu_id());
    mword fl = irq_save();
    spin_lock(&q->lock);
    bool found = ec->queued;
    if (found) {
        rq_unlink(q, ec);
    }
    spin_unlock(&q->lock);
    irq_restore(fl);
    return found;
}

/*
 * Killed ec (killed set) is bound to another core: move it from that core's run queue to the
 * core's retire list, so that the core retires it even in the middle of a long call
 * (sched_retire). O(1); nothing if it is not queued (it runs there, or its core popped it).
 */
void sched_kill_queued(struct ec *ec)
{
    struct runq *q = &runq[ec->cpu];
    mword fl = irq_save();
    spin_lock(&q->lock);
    if (ec->queued) {
        rq_unlink(q, ec);
        retire_push(q, ec);
    }
    spin_unlock(&q->lock);
    irq_restore(fl);
}

/* Retire the killed ECs on queue q's retire list, which has some (sched_retire). */
static noinline void retire_list(struct runq *q)
{
    mword fl = irq_save();
    spin_lock(&q->lock);
    struct ec *ec = q->retire;
    q->retire = NULL;
    spin_unlock(&q->lock);
    irq_restore(fl);
    while (ec) {
        struct ec *next = ec->next;
        ec_leave(ec);
        ec = next;
    }
}

/* Retire the killed ECs on this core's retire list: each leaves for good (ec_leave). */
void sched_retire(void)
{
    struct runq *q = &runq[cpu_id()];
    if (__atomic_load_n(&q->retire, __ATOMIC_ACQUIRE))
        retire_list(q);
}

/* The next EC of this core's queue that was not killed, or NULL; killed ones leave. */
static struct ec *next_ec(void)
{
    struct runq *q = &runq[cpu_id()];
    for (;;) {
        spin_lock(&q->lock);
        struct ec *ec = rq_pop(q);
        spin_unlock(&q->lock);
        if (!ec || !__atomic_load_n(&ec->killed, __ATOMIC_SEQ_CST))
            return ec;
        ec_leave(ec);
    }
}

/* If this core's current PD is being destroyed, load the core's own root instead. */
static void leave_doomed_pd(void)
{
    struct pd *pd = this_cpu()->pd;
    if (pd && pd->kobj.doomed)
        make_current_none();
}

/* Idle: wait with interrupts on until this core's queue has an EC, then run it. */
static noreturn void idle(void)
{
    for (;;) {
        leave_doomed_pd();
        sched_retire();
        struct ec *ec = next_ec();
        if (ec)
            sched_resume(ec);
        arch_idle_wait();
    }
}

/* Whether another EC waits in this core's queue (a hint: other cores may append meanwhile). */
bool sched_others_ready(void)
{
    return __atomic_load_n(&runq[cpu_id()].head, __ATOMIC_RELAXED) != NULL;
}

/* Run ec (taken off this core's queue; NULL or killed: the next runnable one), or idle until
   there is one; never returns. */
static noreturn void run_next(struct ec *ec)
{
    leave_doomed_pd();
    sched_retire();
    if (ec && __atomic_load_n(&ec->killed, __ATOMIC_SEQ_CST)) {
        ec_leave(ec);
        ec = NULL;
    }
    if (!ec)
        ec = next_ec();
    if (ec)
        sched_resume(ec);
    this_cpu()->ec = NULL;
    /* Below the user frame: the abandoned call chain is dropped. */
    switch_stack((vaddr_t)USER_FRAME, (void (*)(void))idle);
}

/* Run the next runnable EC of this core, or idle until there is one; never returns. */
noreturn void sched_run(void)
{
    run_next(NULL);
}

/* Put the current EC (state saved) at the tail of its queue and run the next (taken off in
   the same lock hold); no return. A killed EC leaves instead: the check is under the lock
   sched_kill_queued takes, so a kill either finds it queued (and moves it to the retire list)
   or is seen here. */
noreturn void sched_yield(void)
{
    struct ec *ec = this_cpu()->ec, *next = NULL;
    struct runq *q = &runq[cpu_id()];
    spin_lock(&q->lock);
    bool killed = __atomic_load_n(&ec->killed, __ATOMIC_SEQ_CST);
    if (!killed) {
        rq_push(q, ec);
        next = rq_pop(q);
    }
    spin_unlock(&q->lock);
    if (killed)
        ec_leave(ec);
    run_next(next);
}

/* Finish a woken ec_status(EC_WAIT) of ec (its PD is current): the status, and the record the
   waker copied (E_OK) written to the caller's buffer. */
static void finish_wait(struct ec *ec)
{
    int st = ec->wait_status;
    ec->wait_status = -1;
    if (st == E_OK)
        st = copy_to_user(ec->wait_out, &ec->wait_info, sizeof(ec->wait_info));
    ec->regs.rax = (mword)st;
}

/* Return to user mode in ec (this core's EC) with its saved registers; never returns. */
noreturn void sched_resume(struct ec *ec)
{
    struct cpu_local *c = this_cpu();
    ASSERT(ec->cpu == c->id);
    if (c->ec != ec)
        c->counters.ctx_switches++;
    c->ec = ec;
    c->frame_end = (vaddr_t)(&ec->regs + 1);    /* its next system call saves itself there */
    struct ec **own = &regs_owner[c->id];
    if (*own != ec) {
        xregs_switch(*own ? &(*own)->xregs : NULL, &ec->xregs);
        *own = ec;
    }
    if (space_mem_loc(&ec->pd->mem, c->id) != E_OK)
        panic("sched: no memory for the per-core root of a PD");  /* reserved at create_ec */
    make_current(ec->pd);
    if (ec->vcpu)   /* guest code until a VM exit stops it, from the top of the stack */
        switch_stack((vaddr_t)USER_FRAME, vcpu_enter);
    if (ec->wait_status >= 0)
        finish_wait(ec);
    resume_frame(&ec->regs);
}

/* Release ec's claim (stopped, on this core) on the core's x87/SSE/AVX registers and selectors. */
void sched_forget(struct ec *ec)
{
    if (regs_owner[ec->cpu] == ec)
        regs_owner[ec->cpu] = NULL;
}

/* Keep faulted ec's (on this core) x87/SSE/AVX registers and selectors in its image, where a
   resume loads them from, and release its claim on the core's registers. */
void sched_keep(struct ec *ec)
{
    if (regs_owner[ec->cpu] == ec)
        xregs_save(&ec->xregs);
    sched_forget(ec);
}

/* Timer or wake interrupt from user mode: preempt the current EC (frame f is its state); a
   killed one stops. */
void sched_tick(struct trap_frame *f)
{
    struct runq *q = &runq[cpu_id()];
    struct ec *cur = this_cpu()->ec;
    sched_retire();
    if (cur && __atomic_load_n(&cur->killed, __ATOMIC_SEQ_CST)) {
        ec_leave(cur);                  /* destroyed: never back to user mode */
        sched_run();
    }
    if (!__atomic_load_n(&q->head, __ATOMIC_ACQUIRE))
        return;                         /* nobody else: keep running */
    sched_save(f);
    sched_yield();
}
