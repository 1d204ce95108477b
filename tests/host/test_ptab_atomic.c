/*
 * Page-table engine under the microscope: every entry write of an update is
 * recorded and replayed on a copy of the old tables; after each write every
 * probed address must translate to its old or its new mapping (splits and
 * collapses included). Then out-of-memory is injected at every allocation of
 * the same updates: the tables stay consistent and nothing leaks.
 */
#include <stdio.h>
#include <stdlib.h>
#include "ptab_fixture.h"

#define PA     GiB(64)
#define MAXPROBE 4096

/* What one address translates to. */
struct tr {
    bool mapped;
    paddr_t pa;
    struct ptab_attr attr;
};

/* One update, given as range, frame and attributes. */
struct op {
    vaddr_t va;
    uint64_t size;
    paddr_t pa;
    struct ptab_attr attr;
};

/* A scenario: updates that build the old state, then the update under test. */
struct scenario {
    const char *name;
    struct op setup[3];
    struct op op;
};

#define MAP(va, size, pa, a) { va, size, pa, a }
#define UNMAP(va, size)      { va, size, 0, NONE }
#define RWX ((struct ptab_attr){ PTAB_R | PTAB_W | PTAB_XU, PTAB_WB })

static const struct scenario scenarios[] = {
    { "map into holes across 2M boundaries",
      { MAP(0, 0, 0, RW) },
      MAP(MiB(2) - 3 * PG, MiB(4) + 5 * PG, PA, RW) },
    { "remap 4K pages to other frames",
      { MAP(0, MiB(1), PA, RW) },
      MAP(PG * 3, PG * 7, PA + GiB(1), RO) },
    { "split a 2M leaf by unmapping one page", { MAP(MiB(2), MiB(2), PA, RW) }, UNMAP(MiB(3), PG) },
    { "split a 1G leaf down to 4K",
      { MAP(GiB(1), GiB(1), PA, RW) },
      MAP(GiB(1) + MiB(5), PG, PA, RO) },
    { "collapse a table by filling its last hole",
      { MAP(MiB(2), MiB(2) - PG, PA, RW) },
      MAP(MiB(4) - PG, PG, PA + MiB(2) - PG, RW) },
    { "collapse two levels into a 1G leaf",
      { MAP(GiB(1) + PG, GiB(1) - PG, PA + PG, RW) },
      MAP(GiB(1), PG, PA, RW) },
    { "large leaf over a table",
      { MAP(MiB(2), 9 * PG, PA, RO), MAP(MiB(3), PG, PA, RWX) },
      MAP(MiB(2), MiB(2), PA + MiB(2), RW) },
    { "unmap dropping tables", { MAP(MiB(2) - PG, MiB(2) + 2 * PG, PA, RW) }, UNMAP(0, MiB(8)) },
    { "downgrade half of a 2M leaf and 4K pages",
      { MAP(MiB(2), MiB(2), PA, RWX), MAP(MiB(4), 8 * PG, PA, RWX) },
      MAP(MiB(3), MiB(1) + 4 * PG, PA + MiB(1), RO) },
};

/* What va translates to in t. */
static struct tr translate(const struct ptab *t, vaddr_t va)
{
    struct ptab_map m;
    struct tr r = { false, 0, { 0, PTAB_WB } };
    if (ptab_lookup(t, va, &m))
        r = (struct tr){ true, m.pa + (ALIGN_DOWN(va, PG) - m.va), m.attr };
    return r;
}

/* True if two translations are the same. */
static bool same(struct tr a, struct tr b)
{
    return a.mapped == b.mapped &&
           (!a.mapped || (a.pa == b.pa && a.attr.perm == b.attr.perm && a.attr.mt == b.attr.mt));
}

/* Addresses to probe for op: every page near a small op, edges and samples of a large one. */
static size_t probes(const struct op *op, vaddr_t *p)
{
    size_t n = 0;
    vaddr_t lo = op->va >= 2 * PG ? op->va - 2 * PG : 0, hi = op->va + op->size + 2 * PG;
    if (op->size <= MiB(8)) {
        for (vaddr_t va = lo; va < hi && n < MAXPROBE; va += PG)
            p[n++] = va;
        return n;
    }
    for (vaddr_t va = ALIGN_DOWN(lo, MiB(2)); va < hi && n + 4 <= MAXPROBE; va += MiB(2)) {
        p[n++] = va; p[n++] = va + PG; p[n++] = va + MiB(1) + 5 * PG; p[n++] = va + MiB(2) - PG;
    }
    return n;
}

/* Formats the scenarios run on. */
static const struct { const struct ptab_fmt *f; unsigned levels, caps; } fmts[] = {
    { &ptab_hpt, 4, 0 }, { &ptab_ept, 4, PTAB_CAP_EPT_MBEC }, { &ptab_dpt, 3, PTAB_CAP_DPT_SNP },
};
static size_t cur_fmt;

/* Build the scenario's old state in x (setup updates, deferred frames released). */
static void build(struct fx *x, const struct scenario *s)
{
    fx_init(x, fmts[cur_fmt].f, fmts[cur_fmt].levels, fmts[cur_fmt].caps, 4096);
    for (size_t i = 0; i < ARRAY_SIZE(s->setup); i++)
        if (s->setup[i].size)
            assert_int_equal(fx_upd(x, s->setup[i].va, s->setup[i].size, s->setup[i].pa,
                                    s->setup[i].attr),
                             E_OK);
    ptab_dfree_release(&x->df, &x->fm.env);
}

/* Run s's update; the translations before and after at the probes. */
static int run(struct fx *x, const struct scenario *s, const vaddr_t *p, size_t n, struct tr *old,
               struct tr *new)
{
    for (size_t i = 0; i < n; i++)
        old[i] = translate(&x->t, p[i]);
    int r = fx_upd(x, s->op.va, s->op.size, s->op.pa, s->op.attr);
    for (size_t i = 0; i < n; i++)
        new[i] = translate(&x->t, p[i]);
    return r;
}

/* Index of the first probe that translates to neither old nor new in t, or n. */
static size_t first_bad(const struct ptab *t, const vaddr_t *p, size_t n, const struct tr *old,
                        const struct tr *new)
{
    for (size_t i = 0; i < n; i++) {
        struct tr now = translate(t, p[i]);
        if (!same(now, old[i]) && !same(now, new[i]))
            return i;
    }
    return n;
}

/* Replaying the recorded entry writes one by one, every state maps each probe to old or new. */
static void every_intermediate_state_maps_old_or_new(void **state)
{
    (void)state;
    static vaddr_t p[MAXPROBE];
    static struct tr old[MAXPROBE], new[MAXPROBE];
    for (size_t s = 0; s < ARRAY_SIZE(scenarios); s++) {
        struct fx x; struct fake_mem shadow; struct ptab st;
        build(&x, &scenarios[s]);
        size_t n = probes(&scenarios[s].op, p);
        fake_mem_init(&shadow, x.fm.cap);
        fake_mem_copy(&shadow, &x.fm);
        x.fm.record = true;
        assert_int_equal(run(&x, &scenarios[s], p, n, old, new), E_OK);
        x.fm.record = false;
        st = x.t;
        st.env = &shadow.env;
        size_t writes = 0;
        for (size_t e = 0; e < x.fm.nlog; e++) {
            fake_mem_apply(&shadow, &x.fm.log[e]);
            if (x.fm.log[e].entry == FAKE_ZERO_FRAME)
                continue;
            writes++;
            size_t bad = first_bad(&st, p, n, old, new);
            if (bad < n)
                fail_msg("%s: after write %zu, %#lx maps neither old nor new", scenarios[s].name, e,
                         (unsigned long)p[bad]);
        }
        for (size_t i = 0; i < n; i++)
            assert_true(same(translate(&st, p[i]), new[i]));
        assert_true(writes > 0);
        fake_mem_destroy(&shadow);
        fx_done(&x);
    }
}

/* Out of memory at each allocation of each update: E_NOMEM, consistent tables, nothing leaked. */
static void out_of_memory_at_every_allocation_keeps_tables_consistent(void **state)
{
    (void)state;
    static vaddr_t p[MAXPROBE];
    static struct tr old[MAXPROBE], new[MAXPROBE], dummy[MAXPROBE];
    size_t points = 0;
    for (size_t s = 0; s < ARRAY_SIZE(scenarios); s++) {
        struct fx x;
        size_t n = probes(&scenarios[s].op, p);
        build(&x, &scenarios[s]);
        size_t before = x.fm.allocs;
        assert_int_equal(run(&x, &scenarios[s], p, n, old, new), E_OK);
        size_t allocs = x.fm.allocs - before;
        fx_done(&x);
        for (size_t k = 0; k < allocs; k++, points++) {
            build(&x, &scenarios[s]);
            x.fm.fail_after = (long)k;
            if (run(&x, &scenarios[s], p, n, dummy, dummy) != E_NOMEM)
                fail_msg("%s: allocation %zu failed but update succeeded", scenarios[s].name, k);
            size_t bad = first_bad(&x.t, p, n, old, new);
            if (bad < n)
                fail_msg("%s: OOM at allocation %zu: %#lx maps neither old nor new",
                         scenarios[s].name, k, (unsigned long)p[bad]);
            fx_done(&x);    /* every frame is in the tree or on the deferred list, then all freed */
        }
    }
    printf("# %zu allocation points injected\n", points);
    assert_true(points >= 8);
}

/* After an update that failed for memory, retrying with memory completes it. */
static void retry_after_out_of_memory_completes_update(void **state)
{
    (void)state;
    static vaddr_t p[MAXPROBE];
    static struct tr old[MAXPROBE], new[MAXPROBE], dummy[MAXPROBE];
    const struct scenario *s = &scenarios[3];
    struct fx x;
    size_t n = probes(&s->op, p);
    build(&x, s);
    assert_int_equal(run(&x, s, p, n, old, new), E_OK);
    fx_done(&x);
    build(&x, s);
    x.fm.fail_after = 1;
    assert_int_equal(run(&x, s, p, n, dummy, dummy), E_NOMEM);
    x.fm.fail_after = -1;
    assert_int_equal(run(&x, s, p, n, dummy, dummy), E_OK);
    for (size_t i = 0; i < n; i++)
        assert_true(same(dummy[i], new[i]));
    fx_done(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_intermediate_state_maps_old_or_new),
        cmocka_unit_test(out_of_memory_at_every_allocation_keeps_tables_consistent),
        cmocka_unit_test(retry_after_out_of_memory_completes_update),
    };
    int failed = 0;
    for (cur_fmt = 0; cur_fmt < ARRAY_SIZE(fmts); cur_fmt++) {
        char name[64];
        snprintf(name, sizeof(name), "ptab_atomic_%s", fmts[cur_fmt].f->name);
        failed |= cmocka_run_group_tests_name(name, tests, NULL, NULL);
    }
    return failed;
}
