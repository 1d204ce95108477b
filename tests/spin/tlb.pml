/*
 * Model of the TLB shootdown protocol (arch/x86_64/tlb.c, make_current in
 * kernel/space_mem.c, pd_lock_take in kernel/pd.c), checked with SPIN
 * (tests/spin/run.sh, also run by make test through tests/qemu/spin.sh).
 *
 * Core 0 is the sender: under pd_lock it maps a page of PD P (generation r),
 * lets the others run, then revokes it: the entry goes, its table is detached,
 * tlb_shootdown marks every core in P's htlb, reads which PD each core runs
 * (Pd::remote) and which it is leaving (pd_leaving: CR3 may still hold its
 * root), sends request number ++reqs[c] and an IPI to those that run P or leave it,
 * waits until acks[c] >= its request, returns, and frees the table. Cores
 * 1..NCORES-1 run P or another PD Q in user mode (filling their TLB from the
 * master table, using cached translations), switch PDs through make_current
 * (mark test-and-clear, publish the current PD, re-check, CR3 load that keeps
 * other PCIDs' entries when PCID is on), take IPIs whenever interrupts are on,
 * and make system calls that wait for pd_lock polling for shootdowns with
 * interrupts off, or give up and re-issue the call from user mode (hole 9),
 * then copy to user memory under the lock. A TLB here holds every generation
 * of the page it cached (bit r), translations and paging-structure entries
 * alike: using one after its shootdown returned means using a translation
 * removed before the call, and walking a freed table.
 *
 * Safety (assertions): no core uses a cached generation whose shootdown has
 * returned or whose table was freed, and no core's page walker (Walker: at any
 * moment, speculatively too, while P's root is loaded) can reach a freed table. Deadlock freedom: no invalid end state
 * (the sender blocked in its wait with every other core idle or spinning).
 * -DOLD_ORDER puts back the acknowledgement of hole 3 (tlb_poll checks the
 * mark, then increments acks; the sender reads acks after marking and waits
 * for a change): SPIN must find a violation; so must -DNO_RECHECK (make_current
 * without its second look at the mark), and so must -DSKIP_TAKEN (the sender
 * skips a core whose mark is already clear: it took the mark, but its flush
 * may still be ahead while the tables are freed) and -DNO_LEAVING (the sender
 * ignores pd_leaving: a core that published another PD still walks P's root).
 *
 * Parameters: NCORES (2 or 3), ROUNDS (maps and revokes by the sender),
 * STEPS (actions per other core), SPINS (polls a waiting core makes without
 * a request to answer, and chances to give up).
 */
#ifndef NCORES
#define NCORES 2
#endif
#ifndef ROUNDS
#define ROUNDS 2
#endif
#ifndef STEPS
#define STEPS 3
#endif
#ifndef SPINS
#define SPINS 2
#endif

#define P 1                         /* the PD whose page is revoked */
#define Q 2                         /* another PD */

bit  pcid;                          /* CR4.PCIDE (chosen at start: both are checked) */
bit  lock;                          /* pd_lock */
byte pte_gen;                       /* generation the master maps now, 0: none */
byte returned;                      /* generations whose shootdown has returned (bits) */
byte freed;                         /* generations whose detached table was freed (bits) */

byte cur[NCORES];                   /* Pd::remote: the PD the core runs (published) */
byte loaded[NCORES];                /* the PD whose root is in the core's CR3 */
byte leaving[NCORES];               /* pd_leaving: the previous PD while make_current switches */
bit  mark[NCORES];                  /* P's htlb */
byte tlb[NCORES];                   /* generations of P's page the core caches (bits) */
bit  ipi[NCORES];                   /* an IPI is pending at the core */
byte reqs[NCORES];                  /* requests sent to the core */
byte acks[NCORES];                  /* answers of the core */
bit  waiting[NCORES];               /* the sender waits for this core now */
byte want[NCORES];                  /* ... for this answer (OLD_ORDER: for a change of it) */

/* A core of P uses a cached translation: it must not be one shot down or freed already. */
inline use(c)
{
    assert((tlb[c] & returned) == 0);
    assert((tlb[c] & freed) == 0)
}

/* User access of core c: use what the TLB holds, or walk the master table and cache it. */
inline access(c)
{
    atomic {
        if
        :: cur[c] == P && tlb[c] != 0 -> use(c)
        :: cur[c] == P && pte_gen != 0 -> tlb[c] = tlb[c] | (1 << pte_gen)
        :: else -> skip             /* fault, or another PD's memory */
        fi
    }
}

/* CR3 reload of the current PCID: drops P's entries if P is current (all without PCID). */
inline flush_current(c)
{
    if
    :: cur[c] == P || !pcid -> tlb[c] = 0
    :: else -> skip
    fi
}

/* tlb_poll: the request number is read before the mark is checked, answered after the flush;
   the mark is taken (test-and-clear) one step before the flush (CR3 reload). */
inline poll(c)
{
#ifdef OLD_ORDER
    atomic { if :: cur[c] == P && mark[c] -> mark[c] = 0; fl = 1 :: else -> fl = 0 fi };
    if :: fl -> flush_current(c) :: else -> skip fi;
    acks[c] = acks[c] + 1
#else
    req = reqs[c];
    atomic { if :: cur[c] == P && mark[c] -> mark[c] = 0; fl = 1 :: else -> fl = 0 fi };
    if :: fl -> flush_current(c) :: else -> skip fi;
    if :: req > acks[c] -> acks[c] = req :: else -> skip fi
#endif
}

/* make_current(x): test-and-clear the mark, publish, re-check, load the root. */
inline make_current(c, x)
{
    stale = 0;
    atomic { if :: x == P && mark[c] -> mark[c] = 0; stale = 1 :: else -> skip fi };
    if
    :: !stale && cur[c] == x -> skip
    :: else ->
        if :: cur[c] != x -> leaving[c] = cur[c] :: else -> skip fi;
        cur[c] = x;
#ifndef NO_RECHECK
        atomic { if :: x == P && mark[c] -> mark[c] = 0; stale = 1 :: else -> skip fi };
#endif
        atomic {
            loaded[c] = x;
            if
            :: !pcid -> tlb[c] = 0                      /* every load flushes */
            :: pcid && x == P && stale -> tlb[c] = 0    /* loads P's PCID with a flush */
            :: else -> skip                             /* keeps the PCID's entries */
            fi
        };
        leaving[c] = 0
    fi
}

/* A system call under pd_lock: wait with polls (or give up and re-issue), copy to user, unlock. */
inline syscall(c)
{
    spins = 0;
    do
    :: atomic { lock == 0 -> lock = 1 }; goto locked
#ifdef OLD_ORDER
    :: waiting[c] && acks[c] == want[c] -> poll(c)  /* a spinning core keeps polling */
#else
    :: waiting[c] && acks[c] < want[c] -> poll(c)   /* a spinning core keeps polling */
#endif
    :: spins < SPINS -> spins++; poll(c)    /* polls at any other moment */
    :: spins < SPINS -> spins++; goto again /* bounded spin: back to user mode (hole 9) */
    od;
locked:
    access(c);                              /* copy_to_user through the current translations */
    lock = 0;
again:
    skip
}

proctype Core(byte c)
{
    byte steps, spins, req;
    bit stale, fl;
end_user:
    do
    :: ipi[c] -> ipi[c] = 0; poll(c)        /* interrupts are on in user mode */
    :: !ipi[c] && steps < STEPS ->          /* a pending IPI comes before the next instruction */
        steps++;
        if
        :: access(c)
        :: syscall(c)
        :: make_current(c, Q)
        :: make_current(c, P)
        fi
    od
}

/* The core's page walker: it may walk P's cached paging structures whenever P's root is loaded,
   speculatively too (setting accessed bits): none of them may be a freed table. */
proctype Walker(byte c)
{
end_walk:
    do
    :: atomic { loaded[c] == P && tlb[c] != 0 -> assert((tlb[c] & freed) == 0) }
    od
}

proctype Sender()
{
    byte r = 1, c, sent;
    bit run_p;
    do
    :: r <= ROUNDS ->
        atomic { lock == 0 -> lock = 1 };
        pte_gen = r;                        /* delegate: no flush */
        lock = 0;
        atomic { lock == 0 -> lock = 1 };
        pte_gen = 0;                        /* revoke: the table is detached */
        /* 1. mark every core that ran P */
        c = 1;
        do :: c < NCORES -> mark[c] = 1; c++ :: else -> break od;
        /* 2. request and IPI for the marked cores that run P now */
        c = 1; sent = 0;
        do
        :: c < NCORES ->
#ifdef SKIP_TAKEN
            if
            :: !mark[c] -> skip             /* taken since the mark: its flush may still come */
            :: else ->
#endif
                run_p = (cur[c] == P);
#ifndef NO_LEAVING
                run_p = run_p || leaving[c] == P;   /* read after cur: CR3 may still hold P */
#endif
                if
                :: run_p ->
#ifdef OLD_ORDER
                    want[c] = acks[c];
#else
                    reqs[c] = reqs[c] + 1; want[c] = reqs[c];
#endif
                    ipi[c] = 1; sent = sent | (1 << c)
                :: else -> skip
                fi
#ifdef SKIP_TAKEN
            fi
#endif
            ;
            c++
        :: else -> break
        od;
        /* 4. wait for every IPI'd core */
        c = 1;
        do
        :: c < NCORES && (sent & (1 << c)) ->
            waiting[c] = 1;
#ifdef OLD_ORDER
            acks[c] != want[c];
#else
            acks[c] >= want[c];
#endif
            waiting[c] = 0; c++
        :: c < NCORES && !(sent & (1 << c)) -> c++
        :: else -> break
        od;
        returned = returned | (1 << r);     /* tlb_shootdown returns */
        freed = freed | (1 << r);           /* ptab_dfree_release */
        lock = 0;
        r++
    :: else -> break
    od
}

init
{
    byte i;
    atomic {
        if :: pcid = 0 :: pcid = 1 fi;
        i = 1;
        do
        :: i < NCORES -> cur[i] = P; loaded[i] = P; run Core(i); run Walker(i); i++
        :: else -> break
        od;
        run Sender()
    }
}
