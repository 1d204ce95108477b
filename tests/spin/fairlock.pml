/*
 * Model of pd_lock, the hand-off lock with abandonable waiters (kernel/fairlock.c).
 *
 * NCORES cores each enter the critical section ROUNDS times. An entry tries the free lock
 * (compare-and-swap of held 0 -> 1); failing that, the core registers in its slot, reads
 * the count of entries begun (its bypass base), and then spins: it takes the lock when its
 * slot says GRANTED or when the lock is free, or, at most ABANDONS times per core, gives up
 * its place (compare-and-swap of its slot WAITING -> IDLE; if that fails it was granted the
 * lock just before) and enters anew, as a call that is re-issued. The release scans the
 * slots from the next core in core order, granting the first WAITING one by
 * compare-and-swap; if none, it frees the lock. Every step of a core is one atomic access,
 * as in the code (x86 is sequentially consistent for it: the one store-then-load pair,
 * register then read the count, has a fence between).
 *
 * Checked: mutual exclusion; every wait is passed over by at most NCORES - 1 critical
 * sections begun after the waiter read its base (the kernel's lock_bypass_max); no
 * deadlock (every core finishes its rounds: an invalid end state otherwise).
 * Mutations, each must be caught:
 *   -DGRANT_STORE    the grant reads the slot, then writes GRANTED (no compare-and-swap): a
 *                    grant to a waiter that just abandoned is lost with the lock
 *   -DFIXED_ORDER    the release scans from core 0, not from its successor: starvation
 *   -DNO_FREE_TAKE   a registered waiter waits only for a grant: a release that scanned
 *                    before the registration frees the lock, and nobody takes it
 *   -DNO_HANDOFF     the release always frees the lock (a test-and-set lock, waiters take
 *                    it only when free): a waiter is passed over without bound
 */
#ifndef NCORES
#define NCORES 2
#endif
#ifndef ROUNDS
#define ROUNDS 2
#endif
#ifndef ABANDONS
#define ABANDONS 1
#endif

#define IDLE    0
#define WAITING 1
#define GRANTED 2

bit held;                   /* a core owns the lock */
byte entries;               /* critical sections begun */
byte slot[NCORES];
byte in_cs;                 /* cores in the critical section */

proctype Core(byte me)
{
    byte round = 0, base, ab = ABANDONS, c, i;
    bool got;
    do
    :: round == ROUNDS -> break
    :: else ->
enter:  got = false;
        atomic { if :: held == 0 -> held = 1; got = true :: else fi }
        if
        :: got -> goto owner_fast
        :: else
        fi;
        slot[me] = WAITING;
        base = entries;
        do
        :: slot[me] == GRANTED -> break
#ifndef NO_FREE_TAKE
        :: held == 0 ->
            atomic { if :: held == 0 -> held = 1; got = true :: else fi }
            if :: got -> break :: else fi
#endif
        :: ab > 0 ->
            ab--;
            atomic {
                if
                :: slot[me] == WAITING -> slot[me] = IDLE; got = false
                :: else -> got = true           /* granted before the abandonment */
                fi
            }
            if :: got -> break :: else -> goto enter fi
        od;
        slot[me] = IDLE;
        assert(entries - base <= NCORES - 1);
        goto owner;
owner_fast:
        skip;
owner:  entries++;
        in_cs++;
        assert(in_cs == 1);
        in_cs--;
        /* release */
        i = 1;
#ifdef NO_HANDOFF
        i = NCORES;
#endif
        got = false;
        do
        :: i == NCORES -> break
        :: else ->
#ifdef FIXED_ORDER
            c = i - 1;
            if :: c == me -> c = NCORES - 1 :: else fi;
#else
            c = (me + i) % NCORES;
#endif
#ifdef GRANT_STORE
            if
            :: slot[c] == WAITING -> slot[c] = GRANTED; got = true
            :: else
            fi;
#else
            atomic { if :: slot[c] == WAITING -> slot[c] = GRANTED; got = true :: else fi }
#endif
            if :: got -> break :: else -> i++ fi
        od;
        if
        :: !got -> held = 0
        :: else
        fi;
        round++
    od
}

init {
    byte c;
    atomic {
        c = 0;
        do
        :: c < NCORES -> run Core(c); c++
        :: else -> break
        od
    }
}
