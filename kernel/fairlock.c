/* Hand-off lock with abandonable waiters (include/fairlock.h; model tests/spin/fairlock.pml). */
#include "fairlock.h"

/* The caller owns l: count its critical section. */
static void entered(struct fair_lock *l)
{
    __atomic_store_n(&l->entries, __atomic_load_n(&l->entries, __ATOMIC_RELAXED) + 1,
                     __ATOMIC_RELAXED);
}

/* Take l if it is free at this moment (nobody owns it, hence nobody is registered); true if
   taken. */
bool fair_lock_try(struct fair_lock *l)
{
    uint32_t free = 0;
    if (__atomic_load_n(&l->held, __ATOMIC_RELAXED) ||
        !__atomic_compare_exchange_n(&l->held, &free, 1, false, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return false;
    entered(l);
    return true;
}

/*
 * Take l as core me after fair_lock_try failed (slot me is FL_IDLE: a core waits for l once
 * at a time): register in slot me and spin until the holder hands l over or l is free;
 * spin(arg) runs on every turn (it pauses) and returns false to abandon the place. True if
 * taken, with *bypassed the critical sections of other cores that began after the
 * registration; false if abandoned (slot me is FL_IDLE again, l not taken).
 */
bool fair_lock_wait(struct fair_lock *l, unsigned me, bool (*spin)(void *), void *arg,
                    uint32_t *bypassed)
{
    *bypassed = 0;
    uint64_t bit = 1ull << (me % 64), *hint = &l->waiting[me / 64];
    __atomic_store_n(&l->slot[me], FL_WAITING, __ATOMIC_RELAXED);
    __atomic_fetch_or(hint, bit, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);    /* registered before the count is read */
    uint32_t e0 = __atomic_load_n(&l->entries, __ATOMIC_RELAXED);
    for (;;) {
        if (__atomic_load_n(&l->slot[me], __ATOMIC_ACQUIRE) == FL_GRANTED)
            break;
        uint32_t free = 0;
        /* Free: its last releaser saw no registered core; no grant can come before ours. */
        if (!__atomic_load_n(&l->held, __ATOMIC_RELAXED) &&
            __atomic_compare_exchange_n(&l->held, &free, 1, false, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            break;
        if (!spin(arg)) {
            uint8_t w = FL_WAITING;
            if (__atomic_compare_exchange_n(&l->slot[me], &w, FL_IDLE, false, __ATOMIC_ACQUIRE,
                                            __ATOMIC_ACQUIRE)) {
                __atomic_fetch_and(hint, ~bit, __ATOMIC_RELAXED);
                return false;
            }
            break;                              /* granted just before the abandonment */
        }
    }
    /* The owner's own slot: no release runs until this core's, which skips it. */
    __atomic_store_n(&l->slot[me], FL_IDLE, __ATOMIC_RELAXED);
    __atomic_fetch_and(hint, ~bit, __ATOMIC_RELAXED);
    *bypassed = __atomic_load_n(&l->entries, __ATOMIC_RELAXED) - e0;
    entered(l);
    return true;
}

/* Grant l to the first core of hint word bits (lowest first) that still waits: that core, or
   -1 if none. */
static int grant_first(struct fair_lock *l, unsigned word, uint64_t bits)
{
    for (; bits; bits &= bits - 1) {
        unsigned c = word * 64 + (unsigned)__builtin_ctzll(bits);
        uint8_t w = FL_WAITING;
        if (__atomic_load_n(&l->slot[c], __ATOMIC_RELAXED) == FL_WAITING &&
            __atomic_compare_exchange_n(&l->slot[c], &w, FL_GRANTED, false, __ATOMIC_RELEASE,
                                        __ATOMIC_RELAXED))
            return (int)c;
    }
    return -1;
}

/*
 * Release l (owned by core me): hand it to the first registered core after me in core order
 * and return that core, or free l if none is registered and return -1. Only the slots whose
 * hint bits are set are looked at: the cores after me in me's word, the following words, then
 * the cores before me in me's word.
 */
int fair_lock_release(struct fair_lock *l, unsigned me)
{
    unsigned b = me % 64;
    for (unsigned i = 0; i <= FL_WORDS; i++) {
        unsigned word = (me / 64 + i) % FL_WORDS;
        uint64_t bits = __atomic_load_n(&l->waiting[word], __ATOMIC_RELAXED);
        if (i == 0)
            bits &= b == 63 ? 0 : ~0ull << (b + 1);
        else if (i == FL_WORDS)
            bits &= (1ull << b) - 1;
        int c = grant_first(l, word, bits);
        if (c >= 0)
            return c;
    }
    __atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
    return -1;
}

/* Whether a turn of core me's wait for l would take it at this moment (granted, or l free):
   a hint. */
bool fair_lock_ready(const struct fair_lock *l, unsigned me)
{
    return __atomic_load_n(&l->slot[me], __ATOMIC_ACQUIRE) == FL_GRANTED ||
           !__atomic_load_n(&l->held, __ATOMIC_RELAXED);
}

/* Whether some core owns l (a hint unless the caller is the owner). */
bool fair_lock_held(const struct fair_lock *l)
{
    return __atomic_load_n(&l->held, __ATOMIC_RELAXED) != 0;
}
