/*
 * Create and destroy many PDs (docs/abi.md, "Object lifetime"), cheaply per round so that the
 * count can be large. Each round the root creates a PD with a quota of its own, delegates the
 * program, a stack page per core and a data page holding a round-unique marker, creates an EC
 * on every core that reads the data page and reports what it read (one of them then faults),
 * delegates the PD's capability into the PD's own object space, revokes write access to the
 * data page and destroys the PD by revoking its capability (REVOKE_SELF). The data page of
 * round r is frame r mod RING of a ring of more frames than there are PCIDs: the earlier owner
 * of a PCID mapped another frame with another marker at the same address, so a translation
 * left over from it shows the wrong marker. The kernel's books (core_counters pool_free,
 * heap_pages, pd_frames) end exactly where they stood after the first round; pcid_recycled
 * counts the PCIDs reused on the way. Then a tree of TREE PDs below one root child, some
 * running spinners, is destroyed by revoking the top PD's capability: every capability of it
 * gone, no spinner runs, the books exact.
 *
 * Command-line words (the information page): soak.rounds=N (rounds after the first, default
 * ROUNDS), soak.tree=N (PDs of the tree, default TREE, at most TREE_MAX; 0: no tree),
 * soak.min_reuses=N (fail unless at least N PCIDs were reused, default 0). Root task; TAP.
 */
#include "utest.h"
#include "elf.h"
#include "words.h"

#define ROUNDS       64u                /* default rounds after the first */
#define TREE         1000u              /* default PDs of the tree */
#define TREE_MAX     1024u
#define TREE_FANOUT  4u                 /* children per PD of the tree */
#define TREE_EC_EVERY 50u               /* every 50th PD of the tree runs a spinner */
#define MAX_CORES    8u
#define RING         4099u              /* data frames: more than the 4,096 PCIDs */
#define SOAK_QUOTA   64u                /* frames of a round's PD (8 cores need about 30) */
#define TREE_PD_FRAMES 8u               /* the tree's quota per PD (tables, EC, roots) */
#define DATA_VA      0x10000000UL       /* child: the data page */
#define STACK_VA     0x20000000UL       /* child: one stack page per core, contiguous */
#define NO_MEM_VA    0x30000000UL       /* child: nothing mapped (one reader faults on it) */
#define MARK         0x50a1c0de00000000UL   /* marker of round r: MARK | r */
#define PROGRESS     10000u             /* rounds between progress lines */
#define STOP_CYCLES  (1ul << 24)        /* TSC cycles a destroyed spinner must not beat in */

/* The three books of the kernel's frames. */
struct books {
    uint64_t pool_free, heap_pages, pd_frames;
};

/* What reader c saw in round `round` (written by the reader, one cache line each). */
struct report {
    volatile uint64_t value, round;
    uint64_t pad[6];
};

static struct report reports[MAX_CORES] aligned(64);    /* shared with the readers */
static volatile uint64_t cur_round;                     /* the round the readers run in */
static volatile uint64_t fault_core;                    /* its reader that then faults */
static volatile uint64_t beats[MAX_CORES] aligned(64);  /* the tree's spinners */
static struct child_seg segs[ELF_MAX_LOAD];             /* the program, for every PD */
static unsigned nsegs;

/* Reader on core arg: read the data page, report it; the reader of core fault_core then reads
   unmapped memory (a page fault stops it), the others exit. */
static void reader(mword arg)
{
    uint64_t r = cur_round;
    reports[arg].value = *(volatile uint64_t *)DATA_VA;
    reports[arg].round = r;                     /* after the value: stores stay in order */
    if (arg == fault_core)
        (void)*(volatile uint32_t *)NO_MEM_VA;
    sys_exit(0);
}

/* Spinner of the tree on core arg: beat and yield, forever. */
static void spinner(mword arg)
{
    for (;;) {
        beats[arg]++;
        sys_yield_pause();
    }
}

/* The books as counters reads them (zero if the call fails). */
static struct books books(void)
{
    struct core_counters cc = utest_counters(0);
    return (struct books){ cc.pool_free, cc.heap_pages, cc.pd_frames };
}

/* Whether the books a and b are the same. */
static bool books_equal(struct books a, struct books b)
{
    return a.pool_free == b.pool_free && a.heap_pages == b.heap_pages &&
           a.pd_frames == b.pd_frames;
}

/* One TAP line: the books b1 are exactly b0, after what. */
static void books_check(struct books b0, struct books b1, const char *what)
{
    tap_check(books_equal(b0, b1), "%s the books are exact: pool_free %lu -> %lu, heap_pages "
              "%lu -> %lu, pd_frames %lu -> %lu", what, (unsigned long)b0.pool_free,
              (unsigned long)b1.pool_free, (unsigned long)b0.heap_pages,
              (unsigned long)b1.heap_pages, (unsigned long)b0.pd_frames,
              (unsigned long)b1.pd_frames);
}

/* Value of the command-line word "name=N", or def. */
static uint64_t cmd_num(const char *name, uint64_t def)
{
    const char *v = word_find(info_page()->cmdline, name, '=');
    return v ? word_num(v + 1) : def;
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

/* Selectors and memory the rounds reuse. */
struct fixture {
    mword pd, ec[MAX_CORES];
    mword ring, stacks;                 /* root window addresses */
    unsigned ncpu;
};

/* What went wrong over all rounds. */
struct tally {
    unsigned setup, wrong, faulted, destroy, caps;
};

/* Build round r's PD with its data frame, program and stacks; the number of failed calls. */
static unsigned round_build(const struct fixture *fx, unsigned r, mword frame)
{
    unsigned bad = 0;
    *(volatile uint64_t *)frame = MARK | r;
    bad += sys_create_pd(fx->pd, SEL_ROOT_PD, SOAK_QUOTA) != E_OK;
    bad += child_give_segments(SEL_ROOT_PD, fx->pd, segs, nsegs) != E_OK;
    bad += sys_delegate(SEL_ROOT_PD, fx->pd, SPACE_MEM, frame, DATA_VA, 1, MEM_R | MEM_W) != E_OK;
    bad += sys_delegate(SEL_ROOT_PD, fx->pd, SPACE_MEM, fx->stacks, STACK_VA, fx->ncpu,
                        MEM_R | MEM_W) != E_OK;
    bad += sys_delegate(SEL_ROOT_PD, fx->pd, SPACE_OBJ, fx->pd, 1, 1, OBJ_R_ALL) != E_OK;
    return bad;
}

/* One round: build the PD, read its page on every core, destroy it; failures counted in *t. */
static void round_once(const struct fixture *fx, unsigned r, struct tally *t)
{
    unsigned n = fx->ncpu, fc = r % n;
    mword frame = fx->ring + (mword)(r % RING) * PAGE_SIZE_USER;
    cur_round = r;
    fault_core = fc;
    unsigned bad = round_build(fx, r, frame);
    for (unsigned c = 0; c < n; c++)
        bad += sys_create_ec(fx->ec[c], fx->pd, c, (mword)reader,
                             ec_stack_ptr((void *)(STACK_VA + (c + 1) * PAGE_SIZE_USER)),
                             c) != E_OK;
    struct ec_info ei;
    bad += ec_wait(fx->ec[fc], &ei) != E_OK;
    t->faulted += !bad && !faulted_on(&ei, NO_MEM_VA, FAULT_R);
    for (unsigned c = 0; !bad && c < n; c++) {
        while (reports[c].round != r)
            sys_yield_pause();
        t->wrong += reports[c].value != (MARK | r);
    }
    bad += sys_revoke(SEL_ROOT_PD, SPACE_MEM, frame, 1, MEM_W, 0) != E_OK;
    t->setup += bad != 0;
    t->destroy += destroy(fx->pd) != E_OK;
    t->caps += !gone(fx->pd) || sys_ec_status(fx->ec[fc], 0, &ei) != E_CAP;
}

/* The loop: 1 + rounds PDs, each with a reader on every core. */
static void test_soak(unsigned ncpu, unsigned rounds, uint64_t min_reuses)
{
    struct fixture fx = { .ncpu = ncpu, .pd = sel_alloc() };
    for (unsigned c = 0; c < ncpu; c++) {
        fx.ec[c] = sel_alloc();
        reports[c].round = ~0ull;
    }
    fx.ring = mem_alloc(RING);
    fx.stacks = mem_alloc(ncpu);
    tap_check(fx.ring && fx.stacks, "memory for %u data frames and %u stacks", RING, ncpu);
    if (!fx.ring || !fx.stacks)
        return;
    struct tally t = { 0 };
    round_once(&fx, 0, &t);             /* the root's slot pages, the heap's first pages */
    struct books b0 = books();
    uint64_t reuse0 = utest_counters(0).pcid_recycled, tsc0 = utest_rdtsc();
    for (unsigned r = 1; r <= rounds; r++) {
        round_once(&fx, r, &t);
        if (r % PROGRESS == 0)
            printf("# %u rounds, pool_free %lu\n", r, (unsigned long)books().pool_free);
    }
    uint64_t cycles = utest_rdtsc() - tsc0;
    struct books b1 = books();
    uint64_t reuses = utest_counters(0).pcid_recycled - reuse0;
    tap_check(t.setup == 0, "%u rounds: every PD, EC, delegation and revocation made (%u rounds "
              "failed)", rounds + 1, t.setup);
    tap_check(t.wrong == 0, "every reader read its own PD's marker, never an earlier owner's "
              "(%u wrong)", t.wrong);
    tap_check(t.faulted == 0, "the faulting reader stopped with its page fault (%u did not)",
              t.faulted);
    tap_check(t.destroy == 0, "revoking the PD's capability answers E_OK (%u failed)", t.destroy);
    tap_check(t.caps == 0, "after it the PD's and its ECs' capabilities are gone (%u rounds "
              "kept one)", t.caps);
    books_check(b0, b1, "after the loop");
    tap_check(reuses >= min_reuses, "%lu PCIDs reused (at least %lu wanted)",
              (unsigned long)reuses, (unsigned long)min_reuses);
    printf("# soak: %u PDs on %u cores, %lu cycles per round, %lu PCID reuses, pool_free %lu\n",
           rounds, ncpu, (unsigned long)(rounds ? cycles / rounds : 0), (unsigned long)reuses,
           (unsigned long)b1.pool_free);
}

/* Build the tree of size PDs at sel[] (sel[0] the root's child with a quota of its own, PD i's
   parent PD (i - 1) / TREE_FANOUT) with a spinner in every TREE_EC_EVERY-th; the number of
   failed calls, *ecs the spinners, their selectors in ec[]. */
static unsigned tree_build(const mword *sel, const mword *ec, unsigned size, mword stack,
                           unsigned ncpu, unsigned *ecs)
{
    unsigned bad = 0;
    *ecs = 0;
    for (unsigned i = 0; i < size; i++)
        bad += sys_create_pd(sel[i], i ? sel[(i - 1) / TREE_FANOUT] : SEL_ROOT_PD,
                             i ? PD_QUOTA_SHARED : size * TREE_PD_FRAMES) != E_OK;
    for (unsigned i = 0; !bad && i < size; i += TREE_EC_EVERY) {
        unsigned c = *ecs % ncpu;
        bad += child_give_segments(SEL_ROOT_PD, sel[i], segs, nsegs) != E_OK;
        bad += sys_delegate(SEL_ROOT_PD, sel[i], SPACE_MEM, stack, STACK_VA, 1,
                            MEM_R | MEM_W) != E_OK;
        bad += sys_create_ec(ec[*ecs], sel[i], c, (mword)spinner,
                             ec_stack_ptr((void *)(STACK_VA + PAGE_SIZE_USER)), c) != E_OK;
        (*ecs)++;
    }
    return bad;
}

/* Whether no spinner beats while STOP_CYCLES pass. */
static bool spinners_stopped(unsigned ncpu)
{
    uint64_t before[MAX_CORES];
    for (unsigned c = 0; c < ncpu; c++)
        before[c] = beats[c];
    uint64_t t = utest_rdtsc();
    while (utest_rdtsc() - t < STOP_CYCLES)
        sys_yield_pause();
    for (unsigned c = 0; c < ncpu; c++)
        if (beats[c] != before[c])
            return false;
    return true;
}

/* A tree of size PDs built and destroyed twice through its top PD: the second time the books
   end exactly where the first left them (the root's slot pages and the heap are warm). */
static void test_tree(unsigned ncpu, unsigned size)
{
    static mword sel[TREE_MAX], ec[TREE_MAX / TREE_EC_EVERY + 1];
    for (unsigned i = 0; i < size; i++)
        sel[i] = sel_alloc();
    for (unsigned i = 0; i < size / TREE_EC_EVERY + 1; i++)
        ec[i] = sel_alloc();
    mword stack = mem_alloc(1);
    struct books b0 = { 0 };
    for (unsigned pass = 0; pass < 2; pass++) {
        unsigned ecs, left = 0;
        uint64_t t0 = utest_rdtsc();
        unsigned bad = tree_build(sel, ec, size, stack, ncpu, &ecs);
        uint64_t t1 = utest_rdtsc();
        for (unsigned c = 0; !bad && c < MIN(ncpu, ecs); c++)
            while (beats[c] == 0)
                sys_yield_pause();              /* a spinner ran on every core */
        uint64_t t2 = utest_rdtsc();
        int st = destroy(sel[0]);
        uint64_t t3 = utest_rdtsc();
        for (unsigned i = 0; i < size; i++)
            left += !gone(sel[i]);
        for (unsigned i = 0; i < ecs; i++)
            left += !gone(ec[i]);
        bool stopped = spinners_stopped(ncpu);
        for (unsigned c = 0; c < ncpu; c++)
            beats[c] = 0;
        if (pass == 0) {
            b0 = books();
            continue;
        }
        tap_check(!bad, "a tree of %u PDs below one child of the root, %u of them running a "
                  "spinner", size, ecs);
        tap_check(st == E_OK && left == 0, "revoking the top PD's capability (%d) destroys all "
                  "%u PDs and their ECs (%u capabilities left)", st, size, left);
        tap_check(stopped, "no spinner of the tree runs");
        books_check(b0, books(), "after the tree");
        printf("# tree of %u PDs: built in %lu kcycles, destroyed in %lu kcycles\n", size,
               (unsigned long)((t1 - t0) >> 10), (unsigned long)((t3 - t2) >> 10));
    }
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    unsigned n = MIN(info_page()->num_cpus, MAX_CORES);
    nsegs = child_segments(segs, ELF_MAX_LOAD);
    tap_check(nsegs > 0, "the program's segments (%u)", nsegs);
    unsigned rounds = (unsigned)cmd_num("soak.rounds", ROUNDS);
    unsigned tree = (unsigned)MIN(cmd_num("soak.tree", TREE), TREE_MAX);
    test_soak(n, rounds, cmd_num("soak.min_reuses", 0));
    if (tree)
        test_tree(n, tree);
    return utest_done("pd_soak");
}
