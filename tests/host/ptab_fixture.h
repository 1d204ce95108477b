/* A page table on fake memory, with leak and L1TF checks, for the ptab host tests. */
#pragma once
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "abi.h"
#include "fake_mem.h"
#include "ptab.h"

#define PG PTAB_PAGE_SIZE
#define RW   ((struct ptab_attr){ PTAB_R | PTAB_W, PTAB_WB })
#define RO   ((struct ptab_attr){ PTAB_R, PTAB_WB })
#define NONE ((struct ptab_attr){ 0, PTAB_WB })

struct fx {
    struct fake_mem fm;
    struct ptab t;
    struct ptab_dfree df;
    struct ptab_result res;
};

/* Set up fx with an empty table of format f and the given levels. */
static inline void fx_init(struct fx *x, const struct ptab_fmt *f, unsigned levels, unsigned caps,
                           size_t frames)
{
    fake_mem_init(&x->fm, frames);
    assert_int_equal(ptab_init(&x->t, f, &x->fm.env, levels, caps), E_OK);
    ptab_dfree_init(&x->df);
}

/* fx_init on fake memory in window mode (every frame reached through its p2v slot's page). */
static inline void fx_init_window(struct fx *x, const struct ptab_fmt *f, unsigned levels,
                                  unsigned caps, size_t frames)
{
    fake_mem_init_window(&x->fm, frames);
    assert_int_equal(ptab_init(&x->t, f, &x->fm.env, levels, caps), E_OK);
    ptab_dfree_init(&x->df);
}

/* Update through fx; the status. */
static inline int fx_upd(struct fx *x, vaddr_t va, uint64_t size, paddr_t pa, struct ptab_attr a)
{
    return ptab_update(&x->t, va, size, pa, a, &x->df, &x->res);
}

/* Count table frames under the table at level l in pa, failing on a non-present entry with bits. */
static inline size_t fx_tables(const struct ptab *t, paddr_t pa, unsigned l)
{
    const pte_t *tb = t->env->p2v(t->env->ctx, pa, l);   /* a table of level l */
    size_t n = 1;
    for (unsigned i = 0; i < PTAB_ENTRIES; i++) {
        if (!ptab_fmt_present(t->fmt, tb[i]))
            assert_int_equal(tb[i], 0);     /* L1TF: holes keep a zero frame field */
        else if (l > 0 && !ptab_fmt_is_leaf(t->fmt, l, tb[i]))
            n += fx_tables(t, tb[i] & t->fmt->addr_mask, l - 1);
    }
    return n;
}

/* Table frames reachable from t's root (checks L1TF on the way). */
static inline size_t fx_count(const struct fx *x)
{
    return fx_tables(&x->t, x->t.root, x->t.levels - 1);
}

/* Every frame is in the tree or on the deferred list; free all and check nothing leaked. */
static inline void fx_done(struct fx *x)
{
    assert_int_equal(x->fm.nlive, fx_count(x) + x->df.count);
    ptab_dfree_release(&x->df, &x->fm.env);
    ptab_release(&x->t);
    assert_int_equal(x->fm.nlive, 0);
    fake_mem_destroy(&x->fm);
}

/* Lookup va in fx; fails the test unless mapped to pa with size bytes. */
static inline void fx_expect(struct fx *x, vaddr_t va, paddr_t pa, uint64_t size)
{
    struct ptab_map m;
    if (!ptab_lookup(&x->t, va, &m))
        fail_msg("%#lx: not mapped (hole of %#lx)", (unsigned long)va, (unsigned long)m.size);
    if (m.pa + (va - m.va) != pa || m.size != size)
        fail_msg("%#lx: maps %#lx size %#lx, want %#lx size %#lx", (unsigned long)va,
                 (unsigned long)(m.pa + (va - m.va)), (unsigned long)m.size, (unsigned long)pa,
                 (unsigned long)size);
}

/* Lookup va in fx; fails the test unless it is a hole of hole bytes. */
static inline void fx_expect_hole(struct fx *x, vaddr_t va, uint64_t hole)
{
    struct ptab_map m;
    assert_false(ptab_lookup(&x->t, va, &m));
    assert_int_equal(m.size, hole);
    assert_int_equal(m.va, ALIGN_DOWN(va, hole));
}
