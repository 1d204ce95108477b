/*
 * Destruction under attack (docs/abi.md, "Object lifetime"): a PD destroyed while its ECs run
 * and wait on other cores and while a revoke of its parent's memory (and one of its own
 * memory) walks what it holds; a PD destroyed while a sibling reads the pages it gave that
 * sibling; the parent of a tree of PDs destroyed; an EC that destroys itself, a PD that
 * destroys itself through its own EC, and the ECs that wait for them (they wake with E_ABORT;
 * one that is destroyed while waiting never returns); 200 ECs waiting for one EC that exits,
 * then for one that is destroyed; a PD whose EC is destroying a PD it
 * made (whose ECs' capabilities lie in the first PD) destroyed meanwhile by the root from
 * another core (the root's call returns). After each case every
 * capability to what was destroyed is gone and the kernel's books are exact: no frame of
 * another PD than the root is left, no more kernel objects are live than before, and free +
 * heap + PD frames stay the same. Root task; TAP output.
 */
#include "utest.h"
#include "elf.h"

#define MAX_CORES   8u
#define NODES       1024u               /* pages delegated one node each into A, then into B */
#define A_VA        0x100000000UL       /* A: NODES pages, every other page */
#define B_VA        0x200000000UL       /* B: the same from A */
#define STACK_VA    0x20000000UL        /* a child's stacks, one per core */
#define STACK2_VA   0x28000000UL        /* C: stacks of the ECs it creates */
#define READ_VA     0x10000000UL        /* the sibling reader's page */
#define TREE        255u                /* PDs of the tree: a binary tree, its root first */
#define TREE_EC_EVERY 16u               /* every 16th PD of the tree runs a spinner */
#define PATTERN     0x5a5a5a5au

/* The kernel's books, and the frames of the root PD. */
struct books {
    uint64_t sum, heap_live, others;
};

static volatile uint64_t beats[MAX_CORES] aligned(64);   /* spinners, shared */
static volatile uint64_t revoke_started, revoke_status;   /* the root's second EC */
static volatile mword revoke_pd, revoke_base;
static mword revoker_top;                                 /* the root's stack for it */
static struct stale_reader reader aligned(64);
static volatile uint64_t seq;
static struct child_seg segs[ELF_MAX_LOAD];               /* the program, for C to pass on */
static unsigned nsegs;
static volatile int self_status = -1, pd_status = -1;     /* what C's EC saw */
static volatile int returned;                             /* a destroyed EC came back */

/* free + heap + PD frames, live kernel objects, frames of PDs other than the root. */
static struct books books(void)
{
    struct core_counters cc;
    struct pd_info pi;
    if (sys_counters(0, &cc) != E_OK || sys_pd_info(SEL_ROOT_PD, &pi) != E_OK)
        return (struct books){ 0, 0, 0 };
    return (struct books){ cc.pool_free + cc.heap_pages + cc.pd_frames, cc.heap_live,
                           cc.pd_frames - pi.frames };
}

/* The books are back at b0: nothing of what the case built is left (the root's own mapping
   nodes may have merged again: fewer kernel objects are allowed). */
static void books_check(struct books b0, const char *what)
{
    struct books b = books();
    tap_check(b.sum == b0.sum && b.heap_live <= b0.heap_live && b.others == b0.others,
              "%s: the books are exact (frames %lu -> %lu, kernel objects %lu -> %lu, frames "
              "of other PDs %lu -> %lu)", what, (unsigned long)b0.sum, (unsigned long)b.sum,
              (unsigned long)b0.heap_live, (unsigned long)b.heap_live, (unsigned long)b0.others,
              (unsigned long)b.others);
}

/* Destroy the object of the root's capability at sel (revoke it with REVOKE_SELF). */
static int destroy(mword sel)
{
    return sys_revoke(SEL_ROOT_PD, SPACE_OBJ, sel, 1, OBJ_R_ALL, REVOKE_SELF);
}

/* Whether the root's slot sel is empty. */
static bool gone(mword sel)
{
    struct lookup_info li;
    return sys_lookup(SEL_ROOT_PD, SPACE_OBJ, sel, &li) == E_NOENT;
}

/* Spinner on core arg: beat forever. */
static void spinner(mword arg)
{
    for (;;) {
        beats[arg]++;
        cpu_pause();
    }
}

/* Spinner on core arg that yields between beats (cores shared by many: no tick to wait for). */
static void yielder(mword arg)
{
    for (;;) {
        beats[arg]++;
        sys_yield_pause();
    }
}

/* Wait in ec_status for the EC at arg of this PD's space (it never stops). */
static void waiter(mword arg)
{
    struct ec_info ei;
    sys_ec_status(arg, EC_WAIT, &ei);
    returned = 1;
    sys_exit(1);
}

/* The root's second EC: one long revoke of what revoke_pd holds at revoke_base, then exit. */
static void revoker(mword arg)
{
    (void)arg;
    revoke_started = 1;
    revoke_status = (uint64_t)sys_revoke(revoke_pd, SPACE_MEM, revoke_base, 2 * NODES, MEM_RWX,
                                         0);
    sys_exit(0);
}

/* Stack top for core c's EC of a child at va. */
static mword stack_top(mword va, unsigned c)
{
    return va + (mword)c * (CHILD_STACK_PAGES + 1) * PAGE_SIZE_USER +
           CHILD_STACK_PAGES * PAGE_SIZE_USER;
}

/* Give pd a stack for each of n cores at va; the number given. */
static unsigned give_stacks(mword pd, mword va, unsigned n)
{
    unsigned ok = 0;
    for (unsigned c = 0; c < n; c++)
        ok += child_give(pd, stack_top(va, c) - CHILD_STACK_PAGES * PAGE_SIZE_USER,
                         CHILD_STACK_PAGES, MEM_R | MEM_W, NULL) == E_OK;
    return ok;
}

/* Whether no spinner beats for a few timer ticks of core 0. */
static bool spinners_stopped(unsigned n)
{
    uint64_t before[MAX_CORES];
    for (unsigned c = 0; c < n; c++)
        before[c] = beats[c];
    uint64_t t = utest_ticks(0);
    while (utest_ticks(0) < t + 3)
        sys_yield_pause();
    for (unsigned c = 0; c < n; c++)
        if (beats[c] != before[c])
            return false;
    return true;
}

/*
 * A holds NODES pages of the root (one mapping node each) and has passed them to B; A runs a
 * spinner on every core and a waiter on two of them. The root's second EC revokes what is
 * derived from the root's pages (own_space: what is derived from A's, in A's space) while
 * the root destroys A.
 */
static void test_destroy_during_revoke(unsigned n, bool own_space)
{
    const char *what = own_space ? "A's own revoke" : "the parent's revoke";
    struct books b0 = books();
    mword a, b = sel_alloc(), win = mem_take(2 * NODES, PAGE_SIZE_USER), ec[MAX_CORES], w[2], r;
    unsigned bad = child_pd(&a) != E_OK || sys_create_pd(b, SEL_ROOT_PD, PD_QUOTA_SHARED) != E_OK;
    bad += give_stacks(a, STACK_VA, n) != n || win == 0;
    for (unsigned i = 0; !bad && i < NODES; i++) {
        mword off = 2 * (mword)i * PAGE_SIZE_USER;
        bad += sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, win + off, A_VA + off, 1, MEM_RWX) != E_OK;
        bad += sys_delegate(a, b, SPACE_MEM, A_VA + off, B_VA + off, 1, MEM_R) != E_OK;
    }
    for (unsigned c = 0; c < n; c++) {
        ec[c] = sel_alloc();
        bad += sys_create_ec(ec[c], a, c, (mword)spinner, ec_stack_ptr((void *)stack_top(
                                 STACK_VA, c)), c) != E_OK;
    }
    bad += sys_delegate(SEL_ROOT_PD, a, SPACE_OBJ, ec[0], 2, 1, EC_R_ALL) != E_OK;
    for (unsigned i = 0; i < 2; i++) {     /* a waiter on core 0 (the root's) and one elsewhere */
        unsigned c = i % n;
        w[i] = sel_alloc();
        bad += sys_create_ec(w[i], a, c, (mword)waiter,
                             ec_stack_ptr((void *)(stack_top(STACK_VA, c) - 2 * PAGE_SIZE_USER)),
                             2) != E_OK;
    }
    tap_check(!bad, "%s: A with %u nodes passed to B, a spinner per core, two waiters", what,
              NODES);
    if (bad)
        return;
    for (unsigned c = 0; c < n; c++)
        while (beats[c] == 0)
            sys_yield_pause();
    revoke_started = 0;
    revoke_status = ~0ul;
    revoke_pd = own_space ? a : SEL_ROOT_PD;
    revoke_base = own_space ? A_VA : win;
    r = sel_alloc();
    bad = sys_create_ec(r, SEL_ROOT_PD, n > 1 ? 1 : 0, (mword)revoker,
                        ec_stack_ptr((void *)revoker_top), 0) != E_OK;
    while (!bad && !revoke_started)
        sys_yield_pause();
    int st = destroy(a);
    struct ec_info ei;
    bad += ec_wait(r, &ei) != E_OK;
    /* A revoke in A's own space that A's destruction overtakes ends with E_ABORT. */
    bool rev_ok = revoke_status == E_OK || (own_space && revoke_status == E_ABORT);
    tap_check(st == E_OK && !bad && exited_with(&ei, 0) && rev_ok,
              "%s: destroying A while it runs answers E_OK, the revoke ends with %s (%d, %lu)",
              what, own_space ? "E_OK or E_ABORT" : "E_OK", st, (unsigned long)revoke_status);
    unsigned left = !gone(a) + !gone(w[0]) + !gone(w[1]);
    for (unsigned c = 0; c < n; c++)
        left += !gone(ec[c]);
    tap_check(left == 0, "%s: every capability to A and its ECs is gone (%u left)", what, left);
    tap_check(spinners_stopped(n) && !returned, "%s: A's ECs run no more, its waiters never "
              "returned", what);
    struct lookup_info li;
    unsigned held = 0;
    for (unsigned i = 0; i < NODES; i++)
        held += sys_lookup(b, SPACE_MEM, B_VA + 2 * (mword)i * PAGE_SIZE_USER, &li) != E_NOENT;
    tap_check(held == 0, "%s: B lost every page it had from A (%u kept)", what, held);
    CHECK_ST(destroy(b), E_OK);
    CHECK_ST(destroy(r), E_OK);
    for (unsigned c = 0; c < n; c++)
        beats[c] = 0;
    books_check(b0, what);
}

/* Reader of a sibling's page for round 1 (utest.h: stale_reader). */
static void sibling_reader(mword arg)
{
    (void)arg;
    stale_reader_run(&reader, &seq, 1, READ_VA, PATTERN);
}

/* B reads a page A gave it, on another core; the root destroys A: B's next read faults. */
static void test_destroy_under_a_reader(unsigned n)
{
    struct books b0 = books();
    mword a, b, ec, other, page = mem_alloc(2);
    unsigned bad = child_pd(&a) != E_OK || child_pd(&b) != E_OK || page == 0;
    if (!bad) {
        *(volatile uint32_t *)page = PATTERN;
        bad += sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, page, READ_VA, 1, MEM_R) != E_OK;
        bad += sys_delegate(a, b, SPACE_MEM, READ_VA, READ_VA, 1, MEM_R) != E_OK;
        bad += sys_delegate(SEL_ROOT_PD, b, SPACE_MEM, page + PAGE_SIZE_USER, READ_VA +
                            PAGE_SIZE_USER, 1, MEM_R) != E_OK;
        bad += child_ec(b, n > 1 ? 1 : 0, sibling_reader, 0, &ec) != E_OK;
    }
    tap_check(!bad, "A gives its page to its sibling B, whose EC reads it");
    if (bad)
        return;
    seq = 0;
    while (reader.reads == 0)
        sys_yield_pause();
    int st = destroy(a);
    seq = 1;                            /* the destroy has returned */
    struct ec_info ei;
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    tap_check(st == E_OK && faulted_on(&ei, READ_VA, FAULT_R) && reader.stale == 0 &&
                  reader.bad == 0,
              "destroying A (%d): B's reader faults on the page (state %u), no read after the "
              "call returned (%lu stale)", st, ei.state, (unsigned long)reader.stale);
    struct lookup_info li;
    tap_check(sys_lookup(b, SPACE_MEM, READ_VA, &li) == E_NOENT &&
                  sys_lookup(b, SPACE_MEM, READ_VA + PAGE_SIZE_USER, &li) == E_OK,
              "B lost A's page and keeps its own");
    other = ec;
    CHECK_ST(destroy(b), E_OK);
    tap_check(gone(a) && gone(b) && gone(other), "the capabilities to A, B and B's EC are gone");
    books_check(b0, "a PD destroyed under its sibling's reader");
}

/* A binary tree of TREE PDs, each created with its parent in the tree as parent (the root
   holds every capability), some with a yielding spinner; destroying its first PD destroys them
   all. */
static void test_destroy_a_tree(unsigned n)
{
    struct books b0 = books();
    mword sel[TREE], ec[TREE / TREE_EC_EVERY + 1];
    unsigned bad = 0, ecs = 0;
    for (unsigned i = 0; i < TREE; i++) {
        sel[i] = sel_alloc();
        bad += sys_create_pd(sel[i], i ? sel[(i - 1) / 2] : SEL_ROOT_PD, PD_QUOTA_SHARED) != E_OK;
    }
    for (unsigned i = 0; !bad && i < TREE; i += TREE_EC_EVERY) {
        bad += child_give_segments(SEL_ROOT_PD, sel[i], segs, nsegs) != E_OK;
        bad += give_stacks(sel[i], STACK_VA, 1) != 1;
        ec[ecs] = sel_alloc();
        bad += sys_create_ec(ec[ecs], sel[i], ecs % n, (mword)yielder,
                             ec_stack_ptr((void *)stack_top(STACK_VA, 0)), ecs % n) != E_OK;
        ecs++;
    }
    tap_check(!bad, "a tree of %u PDs, %u of them running a spinner", TREE, ecs);
    if (bad)
        return;
    for (unsigned c = 0; c < MIN(n, ecs); c++)
        while (beats[c] == 0)
            sys_yield_pause();
    CHECK_ST(destroy(sel[0]), E_OK);
    unsigned left = 0;
    for (unsigned i = 0; i < TREE; i++)
        left += !gone(sel[i]);
    for (unsigned i = 0; i < ecs; i++)
        left += !gone(ec[i]);
    tap_check(left == 0, "destroying the tree's first PD destroys all %u and their ECs (%u "
              "capabilities left)", TREE, left);
    tap_check(spinners_stopped(n), "no spinner of the tree runs");
    for (unsigned c = 0; c < n; c++)
        beats[c] = 0;
    books_check(b0, "the tree");
}

static volatile uint64_t wait_started;
static volatile int wait_status = -1;

/* The root's second EC: wait for the EC at arg (it never stops), keep the status, exit. */
static void root_waiter(mword arg)
{
    struct ec_info ei;
    wait_started = 1;
    wait_status = sys_ec_status(arg, EC_WAIT, &ei);
    sys_exit(0);
}

/* An EC of the root waits in ec_status for a spinner of D on another core; destroying D wakes
   the waiter with E_ABORT. */
static void test_waiter_wakes(unsigned n)
{
    struct books b0 = books();
    mword d, ec = 0, w = sel_alloc();
    unsigned bad = child_pd(&d) != E_OK || child_ec(d, n - 1, spinner, n - 1, &ec) != E_OK;
    wait_started = 0;
    bad += sys_create_ec(w, SEL_ROOT_PD, n > 1 ? 1 : 0, (mword)root_waiter,
                         ec_stack_ptr((void *)revoker_top), ec) != E_OK;
    while (!bad && (!wait_started || beats[n - 1] == 0))
        sys_yield_pause();
    uint64_t t = utest_ticks(0);
    while (!bad && utest_ticks(0) < t + 3)
        sys_yield_pause();                  /* the waiter has long blocked in its call */
    tap_check(!bad, "the root waits for D's spinner on another core");
    if (bad)
        return;
    CHECK_ST(destroy(d), E_OK);
    struct ec_info ei;
    CHECK_ST(ec_wait(w, &ei), E_OK);
    tap_check(wait_status == E_ABORT, "destroying D woke the waiter with E_ABORT (%d)",
              wait_status);
    CHECK_ST(destroy(w), E_OK);
    beats[n - 1] = 0;
    books_check(b0, "a waiter of a destroyed EC");
}

/* In C: an EC that removes the last capability to itself (C's slot 7). */
static void self_ec(mword arg)
{
    (void)arg;
    sys_revoke(1, SPACE_OBJ, 7, 1, OBJ_R_ALL, REVOKE_SELF);
    returned = 1;
    sys_exit(1);
}

/* In G (C's child): its EC removes the last capability to G (C's slot 8) through G's
   capability to C. */
static void self_pd(mword arg)
{
    (void)arg;
    sys_revoke(1, SPACE_OBJ, 8, 1, OBJ_R_ALL, REVOKE_SELF);
    returned = 1;
    sys_exit(1);
}

/* C's first EC: make self_ec and wait for it; make G with self_pd and wait for it. */
static void c_main(mword cpu)
{
    struct ec_info ei;
    mword top = stack_top(STACK2_VA, 0), top2 = stack_top(STACK2_VA, 1);
    if (sys_create_ec(7, 1, cpu, (mword)self_ec, ec_stack_ptr((void *)top), 0) == E_OK)
        self_status = sys_ec_status(7, EC_WAIT, &ei);
    int st = sys_create_pd(8, 1, PD_QUOTA_SHARED);
    if (st == E_OK)
        st = child_give_segments(1, 8, segs, nsegs);
    if (st == E_OK)
        st = sys_delegate(1, 8, SPACE_MEM, top2 - CHILD_STACK_PAGES * PAGE_SIZE_USER,
                          top2 - CHILD_STACK_PAGES * PAGE_SIZE_USER, CHILD_STACK_PAGES,
                          MEM_R | MEM_W);
    if (st == E_OK)
        st = sys_delegate(1, 8, SPACE_OBJ, 1, 1, 1, OBJ_R_ALL);
    if (st == E_OK)
        st = sys_create_ec(9, 8, cpu, (mword)self_pd, ec_stack_ptr((void *)top2), 0);
    if (st == E_OK)
        pd_status = sys_ec_status(9, EC_WAIT, &ei);
    struct lookup_info li;
    sys_exit(sys_lookup(1, SPACE_OBJ, 8, &li) == E_NOENT &&
             sys_lookup(1, SPACE_OBJ, 9, &li) == E_NOENT ? 0 : 2);
}

/* C destroys an EC of its own through that EC, and a PD of its own through that PD's EC;
   C's EC waits for each and wakes with E_CAP. */
static void test_destroy_yourself(unsigned n)
{
    struct books b0 = books();
    mword c, ec;
    unsigned cpu = n > 1 ? 1 : 0;
    unsigned bad = child_pd(&c) != E_OK || give_stacks(c, STACK2_VA, 2) != 2;
    bad += sys_delegate(SEL_ROOT_PD, c, SPACE_OBJ, c, 1, 1, OBJ_R_ALL) != E_OK;
    bad += child_ec(c, cpu, c_main, cpu, &ec) != E_OK;
    tap_check(!bad, "C with a capability to itself and its first EC");
    if (bad)
        return;
    struct ec_info ei;
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    tap_check(exited_with(&ei, 0), "C's EC finished: what it destroyed is gone from its space "
              "(state %u, code %ld)", ei.state, (long)ei.exit_code);
    /* E_CAP if the EC ran before its waiter's call (a timer tick in between), else E_ABORT. */
    tap_check(self_status == E_ABORT || self_status == E_CAP,
              "an EC that destroys itself: its waiter wakes with E_ABORT (%d)", self_status);
    tap_check(pd_status == E_ABORT || pd_status == E_CAP,
              "a PD destroyed by its own EC: the waiter wakes with E_ABORT (%d)", pd_status);
    tap_check(!returned, "neither destroying call returned to its caller");
    CHECK_ST(destroy(c), E_OK);
    tap_check(gone(c) && gone(ec), "C and its first EC are gone");
    books_check(b0, "destroying yourself");
}

#define WAITERS 200u                    /* more than the kernel wakes at once (64) */

static volatile uint64_t waiting, woke_ok, woke_abort, woke_other;
static volatile uint64_t d_exit;        /* D's second EC exits when this is set */

/* The root's ECs of the many-waiters case: wait for the EC at arg, count the status, exit. */
static void many_waiter(mword arg)
{
    struct ec_info ei;
    __atomic_fetch_add(&waiting, 1, __ATOMIC_SEQ_CST);
    int st = sys_ec_status(arg, EC_WAIT, &ei);
    if (st == E_OK && exited_with(&ei, 7))
        __atomic_fetch_add(&woke_ok, 1, __ATOMIC_SEQ_CST);
    else if (st == E_ABORT)
        __atomic_fetch_add(&woke_abort, 1, __ATOMIC_SEQ_CST);
    else
        __atomic_fetch_add(&woke_other, 1, __ATOMIC_SEQ_CST);
    sys_exit(0);
}

/* D's EC that exits with 7 once d_exit is set. */
static void late_exit(mword arg)
{
    (void)arg;
    while (!d_exit)
        sys_yield_pause();
    sys_exit(7);
}

/* Start WAITERS ECs of the root, spread over the cores, each with a page of stack at stacks,
   waiting for the root's EC target; the number started. */
static unsigned start_waiters(unsigned n, mword stacks, mword target, mword *sel)
{
    unsigned ok = 0;
    for (unsigned i = 0; i < WAITERS; i++) {
        sel[i] = sel_alloc();
        ok += sys_create_ec(sel[i], SEL_ROOT_PD, i % n, (mword)many_waiter,
                            ec_stack_ptr((void *)(stacks + (i + 1) * PAGE_SIZE_USER)),
                            target) == E_OK;
    }
    while (waiting < ok)
        sys_yield_pause();
    uint64_t t = utest_ticks(0);
    while (utest_ticks(0) < t + 2)
        sys_yield_pause();                  /* each has blocked in its call */
    return ok;
}

/* Destroy the root's waiter ECs (they have exited); the number of calls that failed. */
static unsigned reap_waiters(const mword *sel)
{
    unsigned bad = 0;
    for (unsigned i = 0; i < WAITERS; i++) {
        struct ec_info ei;
        bad += ec_wait(sel[i], &ei) != E_OK || !exited_with(&ei, 0) || destroy(sel[i]) != E_OK;
    }
    return bad;
}

/* WAITERS ECs wait for one EC of D that exits (all wake with E_OK and its record), then for
   one that D's destruction takes (all wake with E_ABORT): the kernel wakes them in batches. */
static void test_many_waiters(unsigned n)
{
    struct books b0 = books();
    static mword sel[WAITERS];
    mword d, ex, sp, stacks = mem_alloc(WAITERS + 1);
    d_exit = waiting = woke_ok = woke_abort = woke_other = 0;
    unsigned bad = stacks == 0 || child_pd(&d) != E_OK;
    bad += bad || child_ec(d, n - 1, late_exit, 0, &ex) != E_OK;
    bad += bad || child_ec(d, n - 1, spinner, n - 1, &sp) != E_OK;
    unsigned started = bad ? 0 : start_waiters(n, stacks, ex, sel);
    d_exit = 1;
    while (started && woke_ok + woke_other < started)
        sys_yield_pause();
    tap_check(!bad && started == WAITERS && woke_ok == WAITERS && !woke_other,
              "%u ECs waiting for an EC that exits wake with its record (%lu, others %lu)",
              WAITERS, (unsigned long)woke_ok, (unsigned long)woke_other);
    bad += reap_waiters(sel);
    waiting = 0;
    started = bad ? 0 : start_waiters(n, stacks, sp, sel);
    bad += destroy(d) != E_OK;
    while (started && woke_abort + woke_other < started)
        sys_yield_pause();
    tap_check(!bad && started == WAITERS && woke_abort == WAITERS && !woke_other,
              "%u ECs waiting for an EC of a destroyed PD wake with E_ABORT (%lu, others %lu)",
              WAITERS, (unsigned long)woke_abort, (unsigned long)woke_other);
    bad += reap_waiters(sel);
    tap_check(!bad, "the waiters exited and were destroyed");
    beats[n - 1] = 0;
    books_check(b0, "many waiters");
}

#define CROSS_ROUNDS 12u                /* PDs the crossing destructions take */
#define CROSS_ECS    96u                /* Y's ECs, their capabilities in P's slots from 16 */
#define CROSS_EC_SEL 16u

static volatile uint64_t cross_go;      /* P's EC: about to destroy Y */

/* P's EC: make Y (P's slot 8) with CROSS_ECS ECs whose capabilities lie in P, signal, destroy
   Y, then spin until P is destroyed. Y's ECs start nowhere valid: they fault and stop. */
static void cross_main(mword cpu)
{
    if (sys_create_pd(8, 1, PD_QUOTA_SHARED) != E_OK)
        sys_exit(2);
    for (unsigned i = 0; i < CROSS_ECS; i++)
        if (sys_create_ec(CROSS_EC_SEL + i, 8, cpu, PAGE_SIZE_USER, 0, 0) != E_OK)
            sys_exit(3);
    cross_go = 1;
    sys_revoke(1, SPACE_OBJ, 8, 1, OBJ_R_ALL, REVOKE_SELF);
    for (;;)
        sys_yield_pause();
}

/*
 * P's EC on core 1 destroys Y, whose ECs' capabilities P holds, while the root on core 0
 * destroys P: Y's ECs wait for P's teardown to remove their capabilities, and P's teardown
 * waits for its EC to leave core 1. The root's call must return E_OK (E's never returns: E
 * is destroyed), with both destructions complete, at
 * moments that vary over the rounds.
 */
static void test_destroy_crossing(unsigned n)
{
    if (!utest_need_cores(2, "crossing destructions"))
        return;
    struct books b0 = books();
    unsigned bad = 0, r;
    for (r = 0; r < CROSS_ROUNDS && !bad; r++) {
        mword p, e;
        cross_go = 0;
        bad += child_pd(&p) != E_OK;
        bad += sys_delegate(SEL_ROOT_PD, p, SPACE_OBJ, p, 1, 1, OBJ_R_ALL) != E_OK;
        bad += child_ec(p, 1, cross_main, 1, &e) != E_OK;
        struct lookup_info li;
        while (!bad && (!cross_go || sys_lookup(p, SPACE_OBJ, 8, &li) != E_NOENT))
            sys_yield_pause();              /* P's EC is destroying Y (or has destroyed it) */
        for (volatile unsigned d = 0; d < r * r * 64; d++)
            cpu_pause();                    /* a later moment each round */
        bad += destroy(p) != E_OK;
        bad += !gone(p) || !gone(e);
    }
    tap_check(!bad, "a PD destroyed while its EC destroys a PD whose ECs it names: done "
              "(%u of %u rounds)", r - bad, CROSS_ROUNDS);
    (void)n;
    books_check(b0, "crossing destructions");
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    unsigned n = MIN(info_page()->num_cpus, MAX_CORES);
    nsegs = child_segments(segs, ELF_MAX_LOAD);
    mword stack = mem_alloc(CHILD_STACK_PAGES);
    tap_check(stack != 0 && nsegs != 0, "a stack for the root's second EC, the program's segments");
    revoker_top = stack + CHILD_STACK_PAGES * PAGE_SIZE_USER;
    test_destroy_during_revoke(n, false);
    test_destroy_during_revoke(n, true);
    test_destroy_under_a_reader(n);
    test_waiter_wakes(n);
    test_destroy_a_tree(n);
    test_destroy_yourself(n);
    test_destroy_crossing(n);
    test_many_waiters(n);
    return utest_done("destroy_race");
}
