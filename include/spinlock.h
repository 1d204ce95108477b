/*
 * Ticket spinlock: FIFO fair; waiters spin with pause so TCG vCPUs do not starve,
 * and answer TLB shootdown requests while they wait (a waiter may spin with
 * interrupts off behind a slow holder, e.g. the console's UART).
 */
#pragma once
#include "types.h"
#include "compiler.h"
#include "tlb.h"

struct spinlock {
    uint32_t next;      /* next ticket to hand out */
    uint32_t owner;     /* ticket holding the lock */
};

#define SPINLOCK_INIT { 0, 0 }

/* Take the lock, spinning in ticket order and answering shootdown requests (tlb_poll). */
static inline void spin_lock(struct spinlock *l)
{
    uint32_t t = __atomic_fetch_add(&l->next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&l->owner, __ATOMIC_ACQUIRE) != t) {
        tlb_poll();
        cpu_pause();
    }
}

/* Take the lock if it is free at this moment; true on success. */
static inline bool spin_trylock(struct spinlock *l)
{
    uint32_t o = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
    uint32_t t = o;
    return __atomic_compare_exchange_n(&l->next, &t, o + 1, false, __ATOMIC_ACQUIRE,
                                       __ATOMIC_RELAXED);
}

/* Release the lock to the next ticket. */
static inline void spin_unlock(struct spinlock *l)
{
    __atomic_store_n(&l->owner, l->owner + 1, __ATOMIC_RELEASE);
}
