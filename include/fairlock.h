/*
 * Hand-off lock with abandonable waiters (pd_lock; model: tests/spin/fairlock.pml).
 *
 * A core that finds the lock held registers in its own slot and spins. The holder's release
 * hands the lock straight to the next registered core after itself in core order (round
 * robin), so once a core is registered at most (cores - 1) critical sections of other cores
 * begin before its own, however the cores are scheduled. A waiter may abandon its place
 * (a time-out): a grant and an abandonment race on the waiter's slot by compare-and-swap,
 * so exactly one of them wins. The lock becomes free only when its releaser found no core
 * registered; only then can an arriving core take it without queueing.
 */
#pragma once
#include "types.h"
#include "cpuset.h"              /* NUM_CPU */

enum { FL_IDLE = 0, FL_WAITING = 1, FL_GRANTED = 2 };

#define FL_WORDS ((NUM_CPU + 63) / 64)

struct fair_lock {
    uint32_t held;                  /* 1 while a core owns the lock */
    uint32_t entries;               /* critical sections begun (written by the owner only) */
    uint64_t waiting[FL_WORDS];     /* hint: bit c set from core c's registration until it
                                       stops waiting (a release looks only at these slots) */
    uint8_t slot[NUM_CPU];          /* per core: FL_IDLE, FL_WAITING or FL_GRANTED */
};

#define FAIR_LOCK_INIT { 0, 0, { 0 }, { 0 } }

bool fair_lock_try(struct fair_lock *l);
bool fair_lock_wait(struct fair_lock *l, unsigned me, bool (*spin)(void *), void *arg,
                    uint32_t *bypassed);
int fair_lock_release(struct fair_lock *l, unsigned me);
bool fair_lock_ready(const struct fair_lock *l, unsigned me);
bool fair_lock_held(const struct fair_lock *l);
