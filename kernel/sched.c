/*
 * Per-core round-robin scheduler (see include/sched.h). The running EC is not
 * on its queue; its user state is the frame at the top of the core's stack
 * (USER_FRAME) until sched_save copies it into the EC.
 */
#include "sched.h"
#include "ec.h"
#include "pd.h"
#include "cpu.h"
#include "cpu_local.h"
#include "kstring.h"
#include "lapic.h"
#include "panic.h"
#include "uaccess.h"

struct runq {
    struct spinlock lock;
    struct ec *head, *tail;
};

static struct runq runq[NUM_CPU];

/* Per core: the EC whose x87/SSE/AVX state and data selectors the CPU holds (NULL: none).
   Switched eagerly in sched_resume, never left for a fault to load lazily. */
static struct ec *regs_owner[NUM_CPU];

/* Append ec to queue q (lock held). */
static void rq_push(struct runq *q, struct ec *ec)
{
    ec->next = NULL;
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
        if (!q->head)
            q->tail = NULL;
        ec->queued = false;
    }
    return ec;
}

/* Make ec runnable on its core (wakes that core if it is another). */
void sched_enqueue(struct ec *ec)
{
    struct runq *q = &runq[ec->cpu];
    mword fl = irq_save();
    spin_lock(&q->lock);
    rq_push(q, ec);
    spin_unlock(&q->lock);
    irq_restore(fl);
    if (ec->cpu != cpu_id())
        lapic_send_ipi(cpu_remote(ec->cpu)->apic_id, VEC_IPI_WAKE);
}

/* Save the current EC's user state from frame f (the frame at the top of the stack). */
void sched_save(struct trap_frame *f)
{
    struct ec *ec = this_cpu()->ec;
    if (ec && f != &ec->regs)
        ec->regs = *f;
}

/* The next EC of this core's queue, or NULL. */
static struct ec *next_ec(void)
{
    struct runq *q = &runq[cpu_id()];
    spin_lock(&q->lock);
    struct ec *ec = rq_pop(q);
    spin_unlock(&q->lock);
    return ec;
}

/* Idle: wait with interrupts on until this core's queue has an EC, then run it. */
static noreturn void idle(void)
{
    for (;;) {
        struct ec *ec = next_ec();
        if (ec)
            sched_resume(ec);
        /* sti;hlt: an interrupt arriving between them still ends the hlt. */
        __asm__ __volatile__("sti; hlt; cli" ::: "memory");
    }
}

/* Whether another EC waits in this core's queue (a hint: other cores may append meanwhile). */
bool sched_others_ready(void)
{
    return __atomic_load_n(&runq[cpu_id()].head, __ATOMIC_RELAXED) != NULL;
}

/* Run the next runnable EC of this core, or idle until there is one; never returns. */
noreturn void sched_run(void)
{
    extern noreturn void switch_stack(vaddr_t top, void (*fn)(void));
    struct ec *ec = next_ec();
    if (ec)
        sched_resume(ec);
    this_cpu()->ec = NULL;
    /* Below the user frame: the abandoned call chain is dropped. */
    switch_stack((vaddr_t)USER_FRAME, (void (*)(void))idle);
}

/* Put the current EC (state saved) at the tail of its queue and run the next; no return. */
noreturn void sched_yield(void)
{
    struct ec *ec = this_cpu()->ec;
    struct runq *q = &runq[cpu_id()];
    spin_lock(&q->lock);
    rq_push(q, ec);
    spin_unlock(&q->lock);
    sched_run();
}

/* Finish a pending ec_status(EC_WAIT) of ec (its PD is current): write the result. */
static void finish_wait(struct ec *ec)
{
    struct ec_info info;
    ec_info_of(ec->wait_for, &info);
    ec->wait_for = NULL;
    ec->regs.rax = (mword)copy_to_user(ec->wait_out, &info, sizeof(info));
}

/* Return to user mode in ec (this core's EC) with its saved registers; never returns. */
noreturn void sched_resume(struct ec *ec)
{
    struct cpu_local *c = this_cpu();
    ASSERT(ec->cpu == c->id);
    if (c->ec != ec)
        c->counters.ctx_switches++;
    c->ec = ec;
    struct ec **own = &regs_owner[c->id];
    if (*own != ec) {
        xregs_switch(*own ? &(*own)->xregs : NULL, &ec->xregs);
        *own = ec;
    }
    if (space_mem_loc(&ec->pd->mem, c->id) != E_OK)
        panic("sched: no memory for the per-core root of a PD");  /* reserved at create_ec */
    make_current(ec->pd);
    if (ec->wait_for)
        finish_wait(ec);
    resume_frame(&ec->regs);     /* the caller's stack may overlap USER_FRAME */
}

/* Release ec's claim (stopped, on this core) on the core's x87/SSE/AVX registers and selectors. */
void sched_forget(struct ec *ec)
{
    if (regs_owner[ec->cpu] == ec)
        regs_owner[ec->cpu] = NULL;
}

/* Timer interrupt from user mode: preempt the current EC (frame f is its state). */
void sched_tick(struct trap_frame *f)
{
    struct runq *q = &runq[cpu_id()];
    if (!__atomic_load_n(&q->head, __ATOMIC_ACQUIRE))
        return;                         /* nobody else: keep running */
    sched_save(f);
    sched_yield();
}
