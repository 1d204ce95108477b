/* Execution contexts: creation, stopping (exit or fault), status (include/ec.h). */
#include "ec.h"
#include "pd.h"
#include "sched.h"
#include "arch.h"
#include "kmalloc.h"
#include "bootinfo.h"
#include "printk.h"
#include "selftest.h"

struct spinlock ec_lock = SPINLOCK_INIT;   /* EC states and waiter lists */

/* An EC with the largest register image still fits kmalloc's largest object (one page). */
_Static_assert(sizeof(struct ec) + XREGS_MAX + XREGS_ALIGN - 1 <= KMALLOC_PAGE, "EC allocation");

/* Memory for one EC with its register image (zeroed), or NULL; one kfree releases it. */
struct ec *ec_alloc(void)
{
    return kmalloc(sizeof(struct ec) + xregs_alloc_size());
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
    __atomic_add_fetch(&pd->live_ecs, 1, __ATOMIC_SEQ_CST);
}

/* ec_alloc and ec_init in one: the new EC, or NULL if no memory. */
struct ec *ec_create(struct pd *pd, unsigned cpu, mword ip, mword sp, mword arg)
{
    struct ec *ec = ec_alloc();
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

/* Stop the current EC (exit or fault), wake its waiters, and schedule; never returns. */
noreturn void ec_stop(struct ec *ec, enum ec_state state)
{
    spin_lock(&ec_lock);
    ec->state = state;
    struct ec *w = ec->waiters;
    ec->waiters = NULL;
    spin_unlock(&ec_lock);
    while (w) {
        struct ec *next = w->next;
        sched_enqueue(w);
        w = next;
    }
    this_cpu()->ec = NULL;
    sched_forget(ec);
    if (__atomic_sub_fetch(&ec->pd->live_ecs, 1, __ATOMIC_SEQ_CST) == 0 && ec->pd->is_root)
        root_done(ec);
    sched_run();
}
