/*
 * Per-core scheduler: one round-robin run queue per core, preemption by the
 * LAPIC timer, idle with sti;hlt when nothing runs. An EC only runs on its
 * own core; another core enqueues it under the queue's lock and wakes the
 * core with an IPI. The kernel is not preemptible: the scheduler switches only
 * on the way back to user mode, resetting the core's kernel stack.
 */
#pragma once
#include "types.h"
#include "trap.h"

struct ec;

/* Make ec runnable on its core (wakes that core if it is another). */
void sched_enqueue(struct ec *ec);

/* Save the current EC's user state from frame f (the frame at the top of the stack). */
void sched_save(struct trap_frame *f);

/* Put the current EC (state saved) at the tail of its queue and run the next; no return. */
noreturn void sched_yield(void);

/* Run the next runnable EC of this core, or idle until there is one; never returns. */
noreturn void sched_run(void);

/* Return to user mode in ec (this core's EC) with its saved registers; never returns. */
noreturn void sched_resume(struct ec *ec);

/* Timer interrupt from user mode: preempt the current EC (frame f is its state). */
void sched_tick(struct trap_frame *f);

/* ec (stopped, on this core) no longer owns the core's x87/SSE/AVX registers and selectors. */
void sched_forget(struct ec *ec);
