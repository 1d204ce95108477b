/*
 * Execution context (lecture: "EC"): a thread bound to one core. Its user
 * register state lives here while it does not run; while it runs, the state is
 * the trap frame at the top of the core's kernel stack (one stack per core,
 * NOVA's model). Its x87/SSE/AVX registers and data selectors (xregs) are in
 * the CPU while it owns its core's registers (sched.c), else in its image,
 * which follows the struct in the same allocation. An EC that stopped (exit or
 * fault) keeps its record until its creator reads it with ec_status; a faulted
 * one keeps its whole register state, and ec_resume continues it there.
 */
#pragma once
#include "types.h"
#include "arch.h"
#include "syscall.h"
#include "spinlock.h"
#include "destroy.h"

struct pd;
struct vcpu;

/* A page fault the handler resolved by a TLB flush or a restore (fault.c): if the EC faults
 * again the same way and its PD lost no rights meanwhile, the retry cannot help. */
struct fault_fix {
    vaddr_t addr, rip;
    uint64_t error;
    uint64_t reductions;            /* the PD's space_mem.reductions at that time */
};

struct ec {
    struct trap_frame regs;         /* user state while not running */
    struct xregs xregs;             /* x87/SSE/AVX image, data selectors (switched by sched.c) */
    struct pd *pd;
    unsigned cpu;                   /* the core it is bound to */
    volatile uint32_t state;        /* enum ec_state */
    int64_t exit_code;
    union {
        struct fault_record fault;  /* EC_FAULTED */
        struct vm_exit vmexit;      /* EC_VMEXIT (a vCPU) */
    };
    struct vcpu *vcpu;              /* a vCPU's guest state (include/vcpu.h); NULL: user code */
    struct ec *next;                /* run queue / wait list link */
    struct ec *rq_prev;             /* run queue / wait list: the one before (NULL: the head) */
    struct ec *waiters;             /* ECs blocked in ec_status(EC_WAIT) on this one */
    struct ec *wait_for;            /* the EC this one waits for (NULL if none) */
    mword wait_out;                 /* user address of the waiter's struct ec_info */
    bool queued;                    /* on a run queue */
    volatile bool killed;           /* doomed: never returns to user mode (ec_leave) */
    volatile bool off;              /* no core runs or holds it any more: it may be freed */
    int wait_status;                /* after a wake: E_OK (wait_info valid), E_ABORT; -1 none */
    struct ec_info wait_info;       /* the stopped EC's status, copied at the wake */
    struct ec *pd_next, *pd_prev;   /* in pd->ecs while not doomed */
    struct kobj kobj;               /* capability count, destruction (include/destroy.h) */
    struct fault_fix last_fix;      /* the last user-address fault resolved by a flush or restore */
};

/* ec_resumable: the EC faulted and its core is still letting go of it (not a status). */
#define EC_LEAVING (-1)

extern struct spinlock ec_lock;     /* EC states and waiter lists (after pd_lock, if both) */

struct ec *ec_create(struct pd *pd, unsigned cpu, mword ip, mword sp, mword arg);
struct ec *ec_alloc(struct pd *pd);
void ec_init(struct ec *ec, struct pd *pd, unsigned cpu, mword ip, mword sp, mword arg);
void ec_init_stopped(struct ec *ec, struct pd *pd, unsigned cpu);
noreturn void ec_stop(struct ec *ec, enum ec_state state);
void ec_info_of(const struct ec *ec, struct ec_info *out);
void ec_adopt(struct ec *ec, struct pd *creator, mword sel);
void ec_leave(struct ec *ec);
void ec_kill(struct ec *ec);
bool ec_wake_some(struct ec *ec, int status, unsigned max);
void ec_free(struct ec *ec);
int ec_resumable(const struct ec *ec);
void ec_resume(struct ec *ec);
