/*
 * A revoke that needs page-table memory while the kernel pool is empty is not a
 * kernel panic. The root delegates a 2 MiB-aligned 2 MiB range to a child (one
 * 2 MiB leaf), empties the kernel pool (create_pd, then create_ec, until
 * E_NOMEM), frees a few mapping-database nodes (but no frame; the spare pages are the
 * root's own, at SPARE_VA), and revokes one
 * 4 KiB page inside the range: splitting the leaf needs a table frame there is
 * none of. Guaranteed (docs/abi.md, revoke): the call returns E_OK, the kernel
 * keeps serving calls, the revoked page faults in the child. While the pool is
 * still empty the rest of the range may fault (the kernel dropped the whole
 * leaf and cannot map it again yet); once tables are freed elsewhere every
 * other page is readable and writable again, each re-mapped once by the
 * page-fault handler from the mapping database (core_counters.mdb_remaps).
 * Probing ECs are created before the pool is emptied and wait for their turn.
 * Run as the root task; TAP output.
 */
#include "utest.h"

#define SIZE_2M     (2UL << 20)
#define SIZE_1G     (1UL << 30)
#define RANGE_PAGES (SIZE_2M / PAGE_SIZE_USER)
#define VA_2M       0x40000000000UL     /* child: 4 TiB, its own 1 GiB table */
#define HOLE        (RANGE_PAGES / 2 + 5)   /* the revoked page, inside the leaf */
#define SPARE_VA    0x50000000000UL     /* spare pages: groups of single pages, one 1 GiB each */
#define GROUPS      4                   /* spare groups: each holds a page table + directory */
#define NODES       8                   /* single-page nodes per group freed to make node room */
#define MAX_OBJS    (1UL << 20)         /* bound of the draining loops */

enum probe { PROBE_HOLE, PROBE_EMPTY, PROBE_BACK, PROBE_HOLE_AGAIN, PROBES };

static volatile mword go[PROBES];       /* shared with the children (same program pages) */
static volatile mword done_pages[PROBES];
static mword cpu;                       /* core the probing ECs run on: the last one */

/* Child: wait for go[p], then touch the range as probe p says; exit 0 if nothing faulted. */
static void prober(mword p)
{
    while (!go[p])
        sys_yield_pause();
    if (p == PROBE_HOLE || p == PROBE_HOLE_AGAIN) {
        *(volatile uint64_t *)(VA_2M + HOLE * PAGE_SIZE_USER) = 1;
        sys_exit(0);
    }
    /* Every page but the hole: read it, write it, read the write back. */
    for (mword i = 0; i < RANGE_PAGES; i++) {
        if (i == HOLE)
            continue;
        volatile uint64_t *a = (volatile uint64_t *)(VA_2M + i * PAGE_SIZE_USER);
        uint64_t old = *a;
        *a = old + i;
        if (*a != old + i)
            sys_exit(2);
        done_pages[p]++;
    }
    sys_exit(0);
}

/* Idle EC entry for the draining ECs: never runs (their PD maps nothing, they fault at once). */
static void never(mword arg)
{
    (void)arg;
    sys_exit(0);
}

/* core_counters.mdb_remaps summed over all cores. */
static uint64_t remaps(void)
{
    uint64_t sum = 0;
    for (mword c = 0; c < info_page()->num_cpus; c++) {
        struct core_counters cc;
        if (sys_counters(c, &cc) == E_OK)
            sum += cc.mdb_remaps;
    }
    return sum;
}

/* Let probe p run and wait for its EC; its final state in *ei. */
static bool run_probe(mword ec, enum probe p, struct ec_info *ei)
{
    go[p] = 1;
    return ec_wait(ec, ei) == E_OK;
}

/* Create PDs, then ECs in drain_pd, until the kernel answers E_NOMEM to both. */
static void empty_pool(mword drain_pd)
{
    mword pds = 0, ecs = 0;
    int st = E_OK;
    while (pds < MAX_OBJS &&
           (st = sys_create_pd(sel_alloc(), SEL_ROOT_PD, PD_QUOTA_SHARED)) == E_OK)
        pds++;
    tap_check(st == E_NOMEM, "create_pd until the pool is empty ends with E_NOMEM (after %lu)",
              pds);
    while (ecs < MAX_OBJS &&
           (st = sys_create_ec(sel_alloc(), drain_pd, 0, (mword)never, 0, 0)) == E_OK)
        ecs++;
    tap_check(st == E_NOMEM,
              "create_ec until no single frame is left ends with E_NOMEM (after %lu)", ecs);
}

/* Spare PD with GROUPS x (keeper + NODES) single-page nodes; *keep gets the keepers' addresses. */
static bool spare_fill(mword spare, mword keep[GROUPS])
{
    bool ok = true;
    for (mword g = 0; g < GROUPS; g++) {
        /* Every other page, source and destination: no two nodes can merge. */
        mword w = mem_alloc(2 * (NODES + 1));
        mword va = SPARE_VA + g * SIZE_1G;
        keep[g] = va;
        for (mword i = 0; ok && i <= NODES; i++)
            ok = w && sys_delegate(SEL_ROOT_PD, spare, SPACE_MEM, w + 2 * i * PAGE_SIZE_USER,
                                   va + 2 * i * PAGE_SIZE_USER, 1, MEM_R) == E_OK;
    }
    return ok;
}

/* Revoke (REVOKE_SELF) the spare's node pages (nodes freed, tables kept), or its keepers. */
static bool spare_revoke(mword spare, bool keepers)
{
    bool ok = true;
    for (mword g = 0; g < GROUPS; g++)
        for (mword i = keepers ? 0 : 1; i <= (keepers ? 0 : NODES); i++)
            ok &= sys_revoke(spare, SPACE_MEM, SPARE_VA + g * SIZE_1G + 2 * i * PAGE_SIZE_USER, 1,
                             MEM_RWX, REVOKE_SELF) == E_OK;
    return ok;
}

int main(mword arg)
{
    mword child, spare, drain, ec[PROBES], keep[GROUPS];
    struct ec_info ei;
    struct lookup_info li;
    if (!utest_init(arg))
        return utest_done("oom_revoke");
    cpu = info_page()->num_cpus - 1;

    /* Everything that needs kernel memory first: the child, its probing ECs, the spare PD. */
    mword w = mem_take(RANGE_PAGES, SIZE_2M);
    tap_check(w != 0, "a 2 MiB-aligned 2 MiB range in the window");
    CHECK_ST(child_pd(&child), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, child, SPACE_MEM, w, VA_2M, RANGE_PAGES, MEM_R | MEM_W),
             E_OK);
    tap_check(sys_lookup(child, SPACE_MEM, VA_2M + HOLE * PAGE_SIZE_USER, &li) == E_OK &&
                  li.size == SIZE_2M,
              "the delegation is one 2 MiB mapping in the child");
    for (mword p = 0; p < PROBES; p++)
        CHECK_ST(child_ec(child, cpu, prober, p, &ec[p]), E_OK);
    spare = SEL_ROOT_PD;                /* its own pages: no PD whose tables the drain needs */
    tap_check(spare_fill(spare, keep), "the root holds %u groups of spare single pages", GROUPS);
    drain = sel_alloc();
    CHECK_ST(sys_create_pd(drain, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    CHECK_ST(sys_create_ec(sel_alloc(), drain, 0, (mword)never, 0, 0), E_OK);     /* its loc root */

    empty_pool(drain);
    tap_check(spare_revoke(spare, false),
              "revoking the spare single-page nodes frees nodes, no table");
    uint64_t r0 = remaps();

    /* The split of the 2M leaf needs a table frame: there is none. */
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, w + HOLE * PAGE_SIZE_USER, 1, MEM_RWX, 0), E_OK);
    struct pd_info pi;
    tap_check(sys_pd_info(SEL_ROOT_PD, &pi) == E_OK,
              "the kernel is alive after the revoke (pd_info answers)");
    int lk = sys_lookup(child, SPACE_MEM, VA_2M, &li);
    printf("# oom_revoke: after the revoke lookup(first page) = %d, size 0x%lx\n", lk,
           lk == E_OK ? li.size : 0UL);
    CHECK_ST(sys_lookup(child, SPACE_MEM, VA_2M + HOLE * PAGE_SIZE_USER, &li), E_NOENT);
    /* A page the child still holds, dropped from its page table or not, is not empty. */
    int again = sys_delegate(SEL_ROOT_PD, child, SPACE_MEM, w, VA_2M, 1, MEM_R | MEM_W);
    tap_check(again == E_BUSY && sys_lookup(child, SPACE_MEM, VA_2M, &li) == lk,
              "delegating the child's first page again from its own source is refused (%d), "
              "nothing changed", again);
    tap_check(run_probe(ec[PROBE_HOLE], PROBE_HOLE, &ei) &&
              faulted_on(&ei, VA_2M + HOLE * PAGE_SIZE_USER, FAULT_W),
              "the child faults on the revoked page while the pool is empty");

    /* Still no memory: the rest works (split done) or faults on its first page (leaf dropped). */
    bool ok = run_probe(ec[PROBE_EMPTY], PROBE_EMPTY, &ei);
    bool worked = ok && exited_with(&ei, 0) && done_pages[PROBE_EMPTY] == RANGE_PAGES - 1;
    bool dropped =
        ok && lk == E_NOENT && faulted_on(&ei, VA_2M, FAULT_R) && done_pages[PROBE_EMPTY] == 0;
    tap_check(worked || dropped,
              "with the pool empty the rest of the range works or faults on its first "
              "page, recorded (%s, %lu pages)",
              worked    ? "worked"
              : dropped ? "faulted"
                        : "neither",
              done_pages[PROBE_EMPTY]);

    /* Memory back: the keepers' revoke frees their page tables and directories. */
    tap_check(spare_revoke(spare, true), "revoking the last spare pages frees their tables");
    ok = run_probe(ec[PROBE_BACK], PROBE_BACK, &ei);
    tap_check(
        ok && exited_with(&ei, 0) && done_pages[PROBE_BACK] == RANGE_PAGES - 1,
        "with memory back the child reads and writes every other page of the range (%lu of %lu)",
        done_pages[PROBE_BACK], RANGE_PAGES - 1);
    uint64_t n = remaps() - r0;
    tap_check(dropped ? n == RANGE_PAGES - 1 : n == 0,
              "each page the kernel dropped was re-mapped once from the mapping database (%lu)", n);
    tap_check(*(volatile uint64_t *)(w + (HOLE + 1) * PAGE_SIZE_USER) != 0,
              "the root sees the child's write next to the hole through its window");
    tap_check(run_probe(ec[PROBE_HOLE_AGAIN], PROBE_HOLE_AGAIN, &ei) &&
              faulted_on(&ei, VA_2M + HOLE * PAGE_SIZE_USER, FAULT_W),
              "the revoked page still faults: the re-map restores only what the child holds");
    CHECK_ST(sys_yield(), E_OK);
    return utest_done("oom_revoke");
}
