/*
 * Hpt: x86-64 host page tables (4 levels, 5 with LA57), and Npt: the same
 * format walked by AMD nested paging. Geometry plus entry encoding only; the
 * engine is kernel/ptab.c.
 *
 * Asymmetry: Hpt has one execute-disable bit, so PTAB_XU and PTAB_XS both
 * encode as "NX clear" and decode as PTAB_XU | PTAB_XS. Every present entry is
 * readable, so decode always reports PTAB_R. Memory types are PAT indices:
 * the kernel programs IA32_PAT = PTAB_HPT_PAT_MSR.
 */
#include "ptab.h"
#include "paging.h"

_Static_assert(PTE_ADDR == BITS(51, 12) && PTE_PAT_4K == PTE_PS &&
               PTE_PAT_BIG == BIT(PTAB_PAGE_BITS),
               "the frame field starts at the page offset; PAT bit 2 moves where PS is taken");

#define PAT_IDX_PWT BIT(0)          /* PAT index bit -> PWT */
#define PAT_IDX_PCD BIT(1)          /* PAT index bit -> PCD */
#define PAT_IDX_PAT BIT(2)          /* PAT index bit -> PAT */

/* Bits of an entry pointing to a table: leaves decide the rights (kernel tables: no user). */
static pte_t hpt_table(unsigned caps)
{
    return PTE_TABLE | ((caps & PTAB_CAP_HPT_KERNEL) ? 0 : PTE_U);
}

/* The PAT bit of a leaf at level l. */
static pte_t hpt_pat_bit(unsigned l)
{
    return l ? PTE_PAT_BIG : PTE_PAT_4K;
}

/* Bits of a leaf at level l with attributes a. */
static pte_t hpt_leaf(unsigned caps, unsigned l, struct ptab_attr a)
{
    (void)caps;
    pte_t e = PTE_P | PTE_A;
    e |= (a.perm & PTAB_W) ? PTE_W | PTE_D : 0;
    e |= (a.perm & PTAB_U) ? PTE_U : 0;
    e |= (a.perm & PTAB_G) ? PTE_G : 0;
    e |= (a.perm & (PTAB_XU | PTAB_XS)) ? 0 : PTE_NX;
    e |= (a.mt & PAT_IDX_PWT) ? PTE_PWT : 0;
    e |= (a.mt & PAT_IDX_PCD) ? PTE_PCD : 0;
    e |= (a.mt & PAT_IDX_PAT) ? hpt_pat_bit(l) : 0;
    return e | (l ? PTE_PS : 0);
}

/* Attributes of the present leaf e at level l. */
static bool hpt_decode(unsigned caps, unsigned l, pte_t e, struct ptab_attr *a)
{
    (void)caps;
    a->perm = PTAB_R;
    a->perm |= (e & PTE_W) ? PTAB_W : 0;
    a->perm |= (e & PTE_U) ? PTAB_U : 0;
    a->perm |= (e & PTE_G) ? PTAB_G : 0;
    a->perm |= (e & PTE_NX) ? 0 : PTAB_XU | PTAB_XS;
    a->mt =
        (enum ptab_mtype)(((e & PTE_PWT) ? PAT_IDX_PWT : 0) | ((e & PTE_PCD) ? PAT_IDX_PCD : 0) |
                          ((e & hpt_pat_bit(l)) ? PAT_IDX_PAT : 0));
    return true;
}

/* Npt leaf: nested walks are user accesses, so every leaf is user; G means nothing there. */
static pte_t npt_leaf(unsigned caps, unsigned l, struct ptab_attr a)
{
    a.perm = (a.perm | PTAB_U) & ~PTAB_G;
    return hpt_leaf(caps, l, a);
}

const struct ptab_fmt ptab_hpt = {
    .name = "hpt", .min_levels = 4, .max_levels = 5,
    .leaf_mask = BIT(0) | BIT(1) | BIT(2), .addr_mask = PTE_ADDR,
    .table = hpt_table, .leaf = hpt_leaf, .decode = hpt_decode,
    .present_bits = PTE_P, .leaf_bit = PTE_PS,
};

const struct ptab_fmt ptab_npt = {
    .name = "npt", .min_levels = 4, .max_levels = 5,
    .leaf_mask = BIT(0) | BIT(1) | BIT(2), .addr_mask = PTE_ADDR,
    .table = hpt_table, .leaf = npt_leaf, .decode = hpt_decode,
    .present_bits = PTE_P, .leaf_bit = PTE_PS,
};
