/*
 * Per-core scheduler: one round-robin run queue per core, preemption by the
 * LAPIC timer, idle with sti;hlt when nothing runs. An EC only runs on its
 * own core; another core enqueues it under the queue's lock and wakes the
 * core with an IPI. The kernel is not preemptible: the scheduler switches only
 * on the way back to user mode, resetting the core's kernel stack.
 */
#pragma once
#include "types.h"
#include "arch.h"

struct ec;

void sched_enqueue(struct ec *ec);

void sched_save(struct trap_frame *f);

noreturn void sched_yield(void);
bool sched_others_ready(void);
noreturn void sched_run(void);
noreturn void sched_resume(struct ec *ec);
void sched_tick(struct trap_frame *f);
void sched_forget(struct ec *ec);
void sched_keep(struct ec *ec);
bool sched_dequeue(struct ec *ec);
void sched_kill_queued(struct ec *ec);
void sched_retire(void);
