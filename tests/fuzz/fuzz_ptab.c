/*
 * libFuzzer target for the page-table engine (kernel/ptab.c): every 8 input
 * bytes are one map/unmap/protect operation on a 2 GiB window, optionally with
 * out-of-memory injected; the table must agree with the reference model after
 * each operation (a failed update leaves each page old or new), the flush
 * decision must cover every change, and nothing may leak. A broken promise traps.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "abi.h"
#include "fake_mem.h"
#include "panic.h"
#include "ptab_model.h"

#define PG          PTAB_PAGE_SIZE
#define WINDOW_BASE (GiB(512) - GiB(1))      /* across a top-level boundary */
#define WINDOW_SIZE GiB(2)
#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Kernel invariant failures abort the fuzzer run. */
void panic(const char *fmt, ...)
{
    fprintf(stderr, "PANIC: %s\n", fmt);
    abort();
}

static const unsigned perms[] = {
    0, PTAB_R, PTAB_R | PTAB_W, PTAB_R | PTAB_XU, PTAB_R | PTAB_W | PTAB_U, PTAB_R | PTAB_XS | PTAB_G,
    PTAB_R | PTAB_W | PTAB_XU | PTAB_XS | PTAB_U, PTAB_W,
};
static const uint64_t pa_offs[] = { 0, MiB(2), GiB(1), KiB(4) };

/* Decode 8 bytes into an operation inside the model's window. */
static struct ptab_op decode(const uint8_t *b, const struct ptab_model *m, const struct ptab *t)
{
    struct ptab_op op;
    static const uint64_t align[4] = { KiB(4), KiB(4), MiB(2), GiB(1) };
    uint64_t a = align[b[0] & 3], pages = 1 + (b[1] | (uint64_t)b[2] << 8) % 1024;
    if (a == MiB(2))
        pages = (pages % 4 + 1) * 512;
    if (a == GiB(1) && b[1] != 0xff)    /* whole gigabytes are slow to check: keep them rare */
        a = MiB(2), pages = (pages % 4 + 1) * 512;
    else if (a == GiB(1))
        pages = 262144;
    op.size = pages * PG;
    uint64_t pos = (b[3] | (uint64_t)b[4] << 8 | (uint64_t)b[5] << 16) * PG % (WINDOW_SIZE - op.size + PG);
    op.va = m->base + ALIGN_DOWN(pos, a);
    op.pa = op.va - m->base + pa_offs[(b[0] >> 2) & 3] + GiB(4);
    op.attr.perm = perms[(b[0] >> 4) & 7];
    op.attr.mt = (enum ptab_mtype)(b[6] % PTAB_MTYPES);
    op.attr = model_norm(t, op.attr);
    return op;
}

/* After a failed update: every page of op is old or new; the model learns which. */
static void resync(struct ptab_model *m, const struct ptab *t, const struct ptab_op *op)
{
    for (uint64_t off = 0; off < op->size; off += PG) {
        struct ptab_map map;
        size_t p = (op->va + off - m->base) / PG;
        bool mapped = ptab_lookup(t, op->va + off, &map);
        paddr_t pa = mapped ? map.pa + (op->va + off - map.va) : 0;
        bool is_new = mapped ? (op->attr.perm == map.attr.perm && op->attr.mt == map.attr.mt && pa == op->pa + off)
                             : !op->attr.perm;
        bool is_old = mapped ? (m->perm[p] == map.attr.perm && m->mt[p] == map.attr.mt && m->pa[p] == pa)
                             : !m->perm[p];
        CHECK(is_new || is_old);
        m->perm[p] = mapped ? (uint8_t)map.attr.perm : 0;
        m->mt[p] = mapped ? (uint8_t)map.attr.mt : 0;
        m->pa[p] = pa;
    }
}

/* Run one operation and check the table against the model. */
static void step(struct ptab *t, struct fake_mem *fm, struct ptab_model *m, struct ptab_op *op, long fail)
{
    struct ptab_dfree df;
    struct ptab_result res;
    ptab_dfree_init(&df);
    fm->fail_after = fail;
    int r = ptab_update(t, op->va, op->size, op->pa, op->attr, &df, &res);
    fm->fail_after = -1;
    CHECK(r == E_OK || (r == E_NOMEM && fail >= 0));
    if (r == E_OK)
        CHECK(!model_apply(m, op) || res.flush);
    else
        resync(m, t, op);
    CHECK(model_check(m, t, op->va, op->size) == ~0UL);
    ptab_dfree_release(&df, &fm->env);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct fake_mem fm;
    static struct ptab_model m;
    static const struct { const struct ptab_fmt *f; unsigned levels, caps; } cfg[] = {
        { &ptab_hpt, 4, 0 }, { &ptab_hpt, 5, 0 }, { &ptab_ept, 4, PTAB_CAP_EPT_MBEC },
        { &ptab_dpt, 4, PTAB_CAP_DPT_X | PTAB_CAP_DPT_EMT },
    };
    struct ptab t;
    if (!fm.cap) {
        fake_mem_init(&fm, 1 << 14);
        model_init(&m, WINDOW_BASE, WINDOW_SIZE / PG);
    }
    if (size < 1)
        return 0;
    CHECK(ptab_init(&t, cfg[data[0] % 4].f, &fm.env, cfg[data[0] % 4].levels, cfg[data[0] % 4].caps) == E_OK);
    if (data[0] & 4)
        t.leaf_mask = BIT(0) | BIT(1);
    vaddr_t lo = ~0UL, hi = 0;
    for (size_t i = 1; i + 8 <= size; i += 8) {
        struct ptab_op op = decode(data + i, &m, &t);
        step(&t, &fm, &m, &op, (data[i + 7] & 0x80) ? (long)(data[i + 7] & 7) : -1);
        lo = MIN(lo, op.va);
        hi = MAX(hi, op.va + op.size);
    }
    /* Unmap everything touched: the model is empty again, and only the root remains. */
    struct ptab_op all = { lo, hi - lo, 0, { 0, PTAB_WB } };
    if (hi > lo)
        step(&t, &fm, &m, &all, -1);
    CHECK(fm.nlive == 1);
    ptab_release(&t);
    CHECK(fm.nlive == 0);
    return 0;
}
