/*
 * Destruction gives back every frame (docs/abi.md, "Object lifetime"). ROUNDS times the root
 * creates a PD with the program, a data page, a stack per core and a spinning EC on every
 * core (it yields between reads of the data page: destroyed in user mode, in its call or on a
 * run queue), an EC that faults, a capability to the PD itself and one to its first EC in its own
 * object space; it waits until every spinner ran, revokes write access to the data page, then
 * destroys the PD by revoking its capability (REVOKE_SELF). The call returns with the PD
 * and its ECs gone: their capabilities in the root's space are empty, ec_status answers
 * E_CAP, the spinners run no more. The kernel's books (core_counters pool_free, heap_pages,
 * pd_frames) end exactly where they stood after the first round. Root task; TAP output.
 */
#include "utest.h"

#define ROUNDS      200u                /* PDs created and destroyed after the first */
#define MAX_CORES   8u
#define DATA_VA     0x10000000UL        /* child: the data page */
#define STACK_VA    0x20000000UL        /* child: one stack per core, a guard page between */
#define NO_MEM_VA   0x30000000UL        /* child: nothing mapped (the faulting EC reads it) */
#define STOP_EVERY  64u                 /* rounds between checks that the spinners stopped */
#define STOP_TICKS  3u                  /* timer ticks a stopped spinner must not beat in */

/* The three books of the kernel's frames. */
struct books {
    uint64_t pool_free, heap_pages, pd_frames;
};

static volatile uint64_t beats[MAX_CORES] aligned(64);   /* shared with the spinners */

/* Spinner on core arg: beat, read the data page, yield, forever (the root shares core 0 with
   one: it gets the core back at once, not at the next timer tick). */
static void spinner(mword arg)
{
    for (;;) {
        beats[arg]++;
        (void)*(volatile uint32_t *)DATA_VA;
        sys_yield_pause();
    }
}

/* Read memory the PD does not have: the EC stops with a page fault. */
static void faulter(mword arg)
{
    (void)arg;
    (void)*(volatile uint32_t *)NO_MEM_VA;
    sys_exit(1);
}

/* The books as counters reads them (zero if the call fails). */
static struct books books(void)
{
    struct core_counters cc;
    if (sys_counters(0, &cc) != E_OK)
        return (struct books){ 0, 0, 0 };
    return (struct books){ cc.pool_free, cc.heap_pages, cc.pd_frames };
}

/* Selectors and memory the rounds reuse. */
struct fixture {
    mword pd, ec[MAX_CORES], fault_ec;
    mword data, stack[MAX_CORES];       /* root window addresses */
    unsigned ncpu;
};

/* What went wrong over all rounds. */
struct tally {
    unsigned setup, destroy, caps, status, stopped, faulted;
};

/* Whether no spinner beats for STOP_TICKS timer ticks of core 0. */
static bool spinners_stopped(unsigned ncpu)
{
    uint64_t before[MAX_CORES];
    for (unsigned c = 0; c < ncpu; c++)
        before[c] = beats[c];
    uint64_t t = utest_ticks(0);
    while (utest_ticks(0) < t + STOP_TICKS)
        sys_yield_pause();
    for (unsigned c = 0; c < ncpu; c++)
        if (beats[c] != before[c])
            return false;
    return true;
}

/* Stack top of core c's spinner in the child. */
static mword stack_top(unsigned c)
{
    return STACK_VA + (mword)c * (CHILD_STACK_PAGES + 1) * PAGE_SIZE_USER +
           CHILD_STACK_PAGES * PAGE_SIZE_USER;
}

/* One round: build the PD, run it on every core, destroy it; failures counted in *t. */
static void round_once(const struct fixture *fx, unsigned r, struct tally *t)
{
    unsigned n = fx->ncpu, bad = 0;
    uint64_t start[MAX_CORES];
    bad += child_pd_at(fx->pd) != E_OK;
    bad += sys_delegate(SEL_ROOT_PD, fx->pd, SPACE_MEM, fx->data, DATA_VA, 1, MEM_R | MEM_W);
    for (unsigned c = 0; c < n; c++) {
        mword top = stack_top(c);
        start[c] = beats[c];
        bad += sys_delegate(SEL_ROOT_PD, fx->pd, SPACE_MEM, fx->stack[c],
                            top - CHILD_STACK_PAGES * PAGE_SIZE_USER, CHILD_STACK_PAGES,
                            MEM_R | MEM_W) != E_OK;
        bad += sys_create_ec(fx->ec[c], fx->pd, c, (mword)spinner, ec_stack_ptr((void *)top),
                             c) != E_OK;
    }
    bad += sys_create_ec(fx->fault_ec, fx->pd, r % n, (mword)faulter,
                         ec_stack_ptr((void *)stack_top(r % n)), 0) != E_OK;
    bad += sys_delegate(SEL_ROOT_PD, fx->pd, SPACE_OBJ, fx->pd, 1, 1, OBJ_R_ALL) != E_OK;
    bad += sys_delegate(SEL_ROOT_PD, fx->pd, SPACE_OBJ, fx->ec[0], 2, 1, EC_R_ALL) != E_OK;
    struct ec_info ei;
    bad += ec_wait(fx->fault_ec, &ei) != E_OK;
    t->faulted += !faulted_on(&ei, NO_MEM_VA, FAULT_R);
    for (unsigned c = 0; c < n; c++)
        while (beats[c] == start[c])
            sys_yield_pause();                      /* every spinner ran */
    bad += sys_revoke(SEL_ROOT_PD, SPACE_MEM, fx->data, 1, MEM_W, 0) != E_OK;
    t->setup += bad != 0;
    t->destroy += sys_revoke(SEL_ROOT_PD, SPACE_OBJ, fx->pd, 1, OBJ_R_ALL, REVOKE_SELF) != E_OK;
    struct lookup_info li;
    unsigned caps = sys_lookup(SEL_ROOT_PD, SPACE_OBJ, fx->pd, &li) != E_NOENT;
    for (unsigned c = 0; c < n; c++) {
        caps += sys_lookup(SEL_ROOT_PD, SPACE_OBJ, fx->ec[c], &li) != E_NOENT;
        t->status += sys_ec_status(fx->ec[c], 0, &ei) != E_CAP;
    }
    caps += sys_lookup(SEL_ROOT_PD, SPACE_OBJ, fx->fault_ec, &li) != E_NOENT;
    t->caps += caps != 0;
    if (r % STOP_EVERY == 0)
        t->stopped += !spinners_stopped(n);
}

/* ROUNDS + 1 PDs, each on every core: the books end where they stood after the first. */
static void test_destroy_loop(unsigned ncpu)
{
    struct fixture fx = { .ncpu = ncpu };
    fx.pd = sel_alloc();
    fx.fault_ec = sel_alloc();
    fx.data = mem_alloc(1);
    bool ok = fx.data != 0;
    for (unsigned c = 0; c < ncpu; c++) {
        fx.ec[c] = sel_alloc();
        fx.stack[c] = mem_alloc(CHILD_STACK_PAGES);
        ok = ok && fx.stack[c] != 0;
    }
    tap_check(ok, "memory for the data page and %u stacks", ncpu);
    if (!ok)
        return;
    struct tally t = { 0 };
    round_once(&fx, 0, &t);             /* the root's slot pages, the heap's first pages */
    struct books b0 = books();
    uint64_t tsc0 = utest_rdtsc();
    for (unsigned r = 1; r <= ROUNDS; r++)
        round_once(&fx, r, &t);
    uint64_t mcycles = (utest_rdtsc() - tsc0) >> 20;
    struct books b1 = books();
    tap_check(t.setup == 0, "%u rounds: every PD, EC and delegation made (%u rounds failed)",
              ROUNDS + 1, t.setup);
    tap_check(t.destroy == 0, "revoking the PD's capability answers E_OK (%u failed)", t.destroy);
    tap_check(t.caps == 0, "after it the PD's and its ECs' capabilities are gone (%u rounds "
              "kept one)", t.caps);
    tap_check(t.status == 0, "ec_status on a destroyed EC answers E_CAP (%u did not)", t.status);
    tap_check(t.stopped == 0, "no spinner of a destroyed PD runs on any core (%u rounds)",
              t.stopped);
    tap_check(t.faulted == 0, "the faulting EC stopped with its page fault (%u did not)",
              t.faulted);
    tap_check(b1.pool_free == b0.pool_free && b1.heap_pages == b0.heap_pages &&
                  b1.pd_frames == b0.pd_frames,
              "%u PDs later the books are exact: pool_free %lu -> %lu, heap_pages %lu -> %lu, "
              "pd_frames %lu -> %lu", ROUNDS, (unsigned long)b0.pool_free,
              (unsigned long)b1.pool_free, (unsigned long)b0.heap_pages,
              (unsigned long)b1.heap_pages, (unsigned long)b0.pd_frames,
              (unsigned long)b1.pd_frames);
    printf("# %u PDs with %u ECs each created and destroyed in %lu Mcycles\n", ROUNDS, ncpu + 1,
           (unsigned long)mcycles);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    unsigned n = MIN(info_page()->num_cpus, MAX_CORES);
    test_destroy_loop(n);
    return utest_done("destroy_loop");
}
