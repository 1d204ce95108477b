/* Execution contexts: creation, stopping (exit or fault), status (include/ec.h). */
#include "ec.h"
#include "pd.h"
#include "sched.h"
#include "arch.h"
#include "kmalloc.h"
#include "bootinfo.h"
#include "printk.h"
#include "selftest.h"
#include "vcpu.h"

struct spinlock ec_lock = SPINLOCK_INIT;   /* EC states and waiter lists */

/* An EC with the largest register image still fits kmalloc's largest object (one page). */
_Static_assert(sizeof(struct ec) + XREGS_MAX + XREGS_ALIGN - 1 <= KMALLOC_PAGE, "EC allocation");

/* Memory for one EC of pd with its register image (zeroed, charged to pd), or NULL; one
   kheap_free on pd's heap releases it. */
struct ec *ec_alloc(struct pd *pd)
{
    return kheap_alloc(&pd->heap, sizeof(struct ec) + xregs_alloc_size());
}

/* Make ec (from ec_alloc) an EC of pd on cpu starting at ip with rsp=sp, rdi=arg, every other
   register in its reset state (not yet runnable); counted in pd's live ECs. */
void ec_init(struct ec *ec, struct pd *pd, unsigned cpu, mword ip, mword sp, mword arg)
{
    xregs_init(&ec->xregs, ec + 1);
    ec->pd = pd;
    ec->cpu = cpu;
    ec->state = EC_RUNNING;
    arch_user_frame(&ec->regs, ip, sp, arg);
    ec->wait_status = -1;
    ec->kobj.type = CAP_EC;
    ec->pd_prev = NULL;
    ec->pd_next = pd->ecs;
    if (pd->ecs)
        pd->ecs->pd_prev = ec;
    pd->ecs = ec;
    pd->nr_ecs++;
    __atomic_add_fetch(&pd->ecs_on, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&pd->live_ecs, 1, __ATOMIC_SEQ_CST);
}

/* Make ec (from ec_alloc) an EC of pd on cpu that is stopped and off its core, as after a
   stop: a vCPU before its first resume (the caller sets its state and record). */
void ec_init_stopped(struct ec *ec, struct pd *pd, unsigned cpu)
{
    ec_init(ec, pd, cpu, 0, 0, 0);
    __atomic_sub_fetch(&pd->live_ecs, 1, __ATOMIC_SEQ_CST);
    __atomic_sub_fetch(&pd->ecs_on, 1, __ATOMIC_SEQ_CST);
    ec->off = true;
}

/* Record that ec's first capability went to selector sel of creator (destruction revokes it). */
void ec_adopt(struct ec *ec, struct pd *creator, mword sel)
{
    ec->kobj.cap_pd = creator;
    ec->kobj.cap_sel = sel;
}

/* ec_alloc and ec_init in one: the new EC, or NULL if no memory. */
struct ec *ec_create(struct pd *pd, unsigned cpu, mword ip, mword sp, mword arg)
{
    struct ec *ec = ec_alloc(pd);
    if (ec)
        ec_init(ec, pd, cpu, ip, sp, arg);
    return ec;
}

/* Fill *out with ec's status. */
void ec_info_of(const struct ec *ec, struct ec_info *out)
{
    *out = (struct ec_info){ .state = ec->state, .cpu = ec->cpu };
    if (ec->state == EC_EXITED)
        out->exit_code = ec->exit_code;
    if (ec->state == EC_FAULTED)
        out->fault = ec->fault;
    if (ec->state == EC_VMEXIT)
        out->exit = ec->vmexit;
}

/* The root PD's last EC stopped: report, and with "selftest" leave QEMU with the verdict. */
static void root_done(const struct ec *ec)
{
    long code = ec->state == EC_EXITED ? (long)ec->exit_code : -1;
    if (ec->state == EC_FAULTED)
        printk("root task faulted: vector %u at rip %lx, address %lx\n", ec->fault.vector,
               ec->fault.rip, ec->fault.addr);
    printk("root task exited with code %ld\n", code);
    if (cmdline_has("selftest"))
        arch_exit(code == 0);
}

#define WAKE_BATCH 64            /* waiters woken per hold of ec_lock */

/*
 * Wake up to max ECs waiting in ec_status(EC_WAIT) for ec with status (E_OK: ec stopped, its
 * record copied into each waiter at the wake, so ec may be freed before they run; E_ABORT:
 * ec is being destroyed). ec takes no new waiters (stopped or doomed). Takes ec_lock. True
 * when none is left waiting.
 */
bool ec_wake_some(struct ec *ec, int status, unsigned max)
{
    struct ec *w = NULL;
    spin_lock(&ec_lock);
    for (unsigned i = 0; i < max && ec->waiters; i++) {
        struct ec *x = ec->waiters;
        ec->waiters = x->next;
        if (ec->waiters)
            ec->waiters->rq_prev = NULL;
        x->wait_for = NULL;
        x->wait_status = status;
        if (status == E_OK)
            ec_info_of(ec, &x->wait_info);
        x->next = w;
        w = x;
    }
    bool done = !ec->waiters;
    spin_unlock(&ec_lock);
    while (w) {
        struct ec *next = w->next;
        sched_enqueue(w);
        w = next;
    }
    return done;
}

/* Wake every waiter of stopped ec with status, WAKE_BATCH at a time, interrupts taken between
   the batches. */
static void ec_wake_waiters(struct ec *ec, int status)
{
    while (!ec_wake_some(ec, status, WAKE_BATCH))
        irq_window();
}

/* ec's core lets go of ec for good: its last touch; the destroyer may free it afterwards. */
static void ec_off(struct ec *ec)
{
    struct pd *pd = ec->pd;
    __atomic_sub_fetch(&pd->ecs_on, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&ec->off, true, __ATOMIC_SEQ_CST);
}

/* Stop the current EC (exit or fault), wake its waiters, and schedule; never returns. */
noreturn void ec_stop(struct ec *ec, enum ec_state state)
{
    spin_lock(&ec_lock);
    ec->state = state;
    spin_unlock(&ec_lock);
    ec_wake_waiters(ec, E_OK);
    this_cpu()->ec = NULL;
    if (state == EC_FAULTED || state == EC_VMEXIT)
        sched_keep(ec);                 /* ec_resume may continue it */
    else
        sched_forget(ec);
    if (__atomic_sub_fetch(&ec->pd->live_ecs, 1, __ATOMIC_SEQ_CST) == 0 && ec->pd->is_root)
        root_done(ec);
    ec_off(ec);
    sched_run();
}

/*
 * A killed EC, on its own core, that runs nowhere (current in a call that ends, taken
 * off the run queue, or off a wait list): it stops for good without returning to user mode.
 * The caller schedules (sched_run) unless it is the destroyer's own call.
 */
void ec_leave(struct ec *ec)
{
    struct cpu_local *c = this_cpu();
    ASSERT(ec->killed && ec->cpu == c->id && !ec->queued && !ec->off);
    if (c->ec == ec)
        c->ec = NULL;
    sched_forget(ec);
    if (__atomic_sub_fetch(&ec->pd->live_ecs, 1, __ATOMIC_SEQ_CST) == 0 && ec->pd->is_root)
        root_done(ec);
    ec_off(ec);
}

/*
 * Doom ec's execution (pd_lock held): it never returns to user mode. If it runs on this core
 * (the caller itself, queued or waiting here) it leaves at once; on another core it leaves
 * there: a queued or waiting EC goes to that core's retire list (retired even in a long call
 * there: sched_retire), and an IPI makes a running EC enter the kernel (sched_tick). A
 * stopped EC is off already.
 */
void ec_kill(struct ec *ec)
{
    __atomic_store_n(&ec->killed, true, __ATOMIC_SEQ_CST);
    if (ec->off)
        return;
    spin_lock(&ec_lock);
    bool waiting = ec->wait_for != NULL;
    if (waiting) {                      /* off the wait list, in O(1) */
        if (ec->rq_prev)
            ec->rq_prev->next = ec->next;
        else
            ec->wait_for->waiters = ec->next;
        if (ec->next)
            ec->next->rq_prev = ec->rq_prev;
        ec->wait_for = NULL;
    }
    spin_unlock(&ec_lock);
    if (ec->cpu == cpu_id()) {
        if (ec == this_cpu()->ec || waiting || sched_dequeue(ec))
            ec_leave(ec);
        return;                         /* not current, queued or waiting: stopped (off) */
    }
    if (waiting) {
        sched_enqueue(ec);              /* to its core's retire list; IPIs the core */
        return;
    }
    sched_kill_queued(ec);              /* the same if it is queued there */
    lapic_send_ipi(cpu_remote(ec->cpu)->apic_id, VEC_IPI_WAKE);
}

/*
 * Whether ec (pd_lock held) can be resumed: E_ABORT while its PD is being destroyed, E_BUSY
 * while it runs, E_NOENT once it exited, EC_LEAVING while it faulted but its core has not yet
 * let go of it (ec_stop wakes the waiters first), else E_OK. Under pd_lock a faulted or
 * exited state holds: only ec_resume and the EC's destruction end it, both under pd_lock.
 */
int ec_resumable(const struct ec *ec)
{
    if (ec->pd->kobj.doomed)
        return E_ABORT;
    uint32_t state = ec->state;
    if (state == EC_RUNNING)
        return E_BUSY;
    if (state == EC_EXITED)
        return E_NOENT;
    return __atomic_load_n(&ec->off, __ATOMIC_SEQ_CST) ? E_OK : EC_LEAVING;
}

/*
 * Make ec (ec_resumable said E_OK, pd_lock held) runnable again on its core at its saved
 * state: live and on its core again, the record of its last retried fault cleared (what the
 * fault found may have changed meanwhile, so its next fault is handled afresh), EC_RUNNING,
 * queued. It took no waiters since it stopped (it was not running), so none are woken.
 */
void ec_resume(struct ec *ec)
{
    struct pd *pd = ec->pd;
    ASSERT((ec->state == EC_FAULTED || ec->state == EC_VMEXIT) && ec->off && !ec->waiters &&
           !ec->kobj.doomed);
    ec->last_fix = (struct fault_fix){ 0 };
    __atomic_add_fetch(&pd->live_ecs, 1, __ATOMIC_SEQ_CST);
    __atomic_add_fetch(&pd->ecs_on, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&ec->off, false, __ATOMIC_SEQ_CST);
    spin_lock(&ec_lock);
    ec->state = EC_RUNNING;
    spin_unlock(&ec_lock);
    sched_enqueue(ec);
}

/* Free a destroyed EC (off, no waiters, no capability): the last of it. */
void ec_free(struct ec *ec)
{
    ASSERT(ec->off && !ec->waiters && !ec->kobj.caps);
    if (ec->vcpu)
        vcpu_free(ec->pd, ec->vcpu);
    ec->pd->nr_ecs--;
    kheap_free(&ec->pd->heap, ec);
}
