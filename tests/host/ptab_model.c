/* A reference model for the page-table engine (see ptab_model.h). */
#include <stdlib.h>
#include <string.h>
#include "ptab_model.h"
#include "panic.h"

#define PAGE PTAB_PAGE_SIZE

/* Set up an empty model of [base, base + npages * 4K). */
void model_init(struct ptab_model *m, vaddr_t base, size_t npages)
{
    m->base = base;
    m->npages = npages;
    m->pa = calloc(npages, sizeof(*m->pa));
    m->perm = calloc(npages, 1);
    m->mt = calloc(npages, 1);
    ASSERT(m->pa && m->perm && m->mt);
}

/* Free the model's arrays. */
void model_destroy(struct ptab_model *m)
{
    free(m->pa);
    free(m->perm);
    free(m->mt);
}

/* The attributes table t really stores for attr (perm 0: unmapped). */
struct ptab_attr model_norm(const struct ptab *t, struct ptab_attr attr)
{
    struct ptab_attr n = { 0, PTAB_WB };
    pte_t e = t->fmt->leaf(t->caps, 0, attr);
    if ((attr.perm & PTAB_ACCESS) && ptab_fmt_present(t->fmt, e))
        t->fmt->decode(t->caps, 0, e, &n);
    return n;
}

/* Apply op (attr already normalised) to the model; true if a TLB flush is required. */
bool model_apply(struct ptab_model *m, const struct ptab_op *op)
{
    bool flush = false;
    size_t first = (op->va - m->base) / PAGE, n = op->size / PAGE;
    for (size_t i = 0; i < n; i++) {
        size_t p = first + i;
        paddr_t pa = op->attr.perm ? op->pa + i * PAGE : 0;
        unsigned gained = op->attr.perm & ~m->perm[p], lost = m->perm[p] & ~op->attr.perm;
        if (m->perm[p] && (!op->attr.perm || pa != m->pa[p] || op->attr.mt != m->mt[p] || lost ||
                           (gained & ~PTAB_ACCESS)))
            flush = true;
        m->pa[p] = pa;
        m->perm[p] = (uint8_t)op->attr.perm;
        m->mt[p] = (uint8_t)op->attr.mt;
    }
    return flush;
}

/* Compare t with the model over [va, va+size); the first differing address, or ~0 if equal. */
vaddr_t model_check(const struct ptab_model *m, const struct ptab *t, vaddr_t va, uint64_t size)
{
    struct ptab_map map;
    vaddr_t end = va + size;
    while (va < end) {
        bool mapped = ptab_lookup(t, va, &map);
        vaddr_t stop = MIN(end, map.va + map.size);
        for (; va < stop; va += PAGE) {
            size_t p = (va - m->base) / PAGE;
            if (!mapped) {
                if (m->perm[p])
                    return va;
                continue;
            }
            if (m->perm[p] != map.attr.perm || m->mt[p] != map.attr.mt ||
                m->pa[p] != map.pa + (va - map.va))
                return va;
        }
    }
    return ~0UL;
}

/* Next value of a xorshift64 generator. */
uint64_t model_rand(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Permission sets the generator draws from (0 = unmap). */
static const unsigned perms[] = {
    0, 0, PTAB_R, PTAB_R | PTAB_W, PTAB_R | PTAB_XU, PTAB_R | PTAB_W | PTAB_U,
    PTAB_R | PTAB_XS | PTAB_G, PTAB_R | PTAB_W | PTAB_XU | PTAB_XS | PTAB_U,
};

/* A random operation inside the model's window, drawn from *seed (xorshift). */
struct ptab_op model_random_op(const struct ptab_model *m, const struct ptab *t, uint64_t *seed)
{
    struct ptab_op op;
    uint64_t r = model_rand(seed), kind = r % 100, window = m->npages * PAGE, align, pages;
    /* Sizes: mostly small and unaligned, some 2M-aligned runs, a few whole gigabytes. */
    if (kind < 70) {
        align = PAGE;
        pages = 1 + model_rand(seed) % ((kind < 50) ? 8 : 1100);
    } else if (kind < 99) {
        align = MiB(2);
        pages = (1 + model_rand(seed) % 3) * 512;
    } else {
        align = GiB(1);
        pages = 262144;
    }
    pages = MIN(pages, m->npages);
    op.size = pages * PAGE;
    op.va = m->base + ALIGN_DOWN(model_rand(seed) % (window - op.size + 1), align);
    /* Frames: a few fixed offsets from va so that large leaves and collapses happen. */
    static const uint64_t offs[] = { 0, MiB(2), GiB(1), GiB(3) + KiB(4) };
    op.pa = op.va - m->base + offs[model_rand(seed) % ARRAY_SIZE(offs)] + GiB(4);
    op.attr.perm = perms[model_rand(seed) % ARRAY_SIZE(perms)];
    op.attr.mt = (enum ptab_mtype)(model_rand(seed) % 4 ? PTAB_WB : model_rand(seed) % PTAB_MTYPES);
    op.attr = model_norm(t, op.attr);
    return op;
}
