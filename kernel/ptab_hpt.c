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

#define HPT_P       BIT(0)          /* present */
#define HPT_RW      BIT(1)          /* writable */
#define HPT_US      BIT(2)          /* user accessible */
#define HPT_PWT     BIT(3)          /* PAT index bit 0 */
#define HPT_PCD     BIT(4)          /* PAT index bit 1 */
#define HPT_A       BIT(5)          /* accessed (preset: the walker need not write it) */
#define HPT_D       BIT(6)          /* dirty (preset on writable leaves) */
#define HPT_PS      BIT(7)          /* level 1/2: entry is a 2M/1G leaf */
#define HPT_PAT_4K  BIT(7)          /* level 0: PAT index bit 2 */
#define HPT_G       BIT(8)          /* global */
#define HPT_PAT_BIG BIT(12)         /* level 1/2: PAT index bit 2 */
#define HPT_ADDR    BITS(51, 12)    /* frame field */
#define HPT_NX      BIT(63)         /* execute disable */

#define PAT_IDX_PWT BIT(0)          /* PAT index bit -> PWT */
#define PAT_IDX_PCD BIT(1)          /* PAT index bit -> PCD */
#define PAT_IDX_PAT BIT(2)          /* PAT index bit -> PAT */

/* Bits of an entry pointing to a table: leaves decide the rights. */
static pte_t hpt_table(unsigned caps)
{
    (void)caps;
    return HPT_P | HPT_RW | HPT_US | HPT_A;
}

/* The PAT bit of a leaf at level l. */
static pte_t hpt_pat_bit(unsigned l)
{
    return l ? HPT_PAT_BIG : HPT_PAT_4K;
}

/* Bits of a leaf at level l with attributes a. */
static pte_t hpt_leaf(unsigned caps, unsigned l, struct ptab_attr a)
{
    (void)caps;
    pte_t e = HPT_P | HPT_A;
    e |= (a.perm & PTAB_W) ? HPT_RW | HPT_D : 0;
    e |= (a.perm & PTAB_U) ? HPT_US : 0;
    e |= (a.perm & PTAB_G) ? HPT_G : 0;
    e |= (a.perm & (PTAB_XU | PTAB_XS)) ? 0 : HPT_NX;
    e |= (a.mt & PAT_IDX_PWT) ? HPT_PWT : 0;
    e |= (a.mt & PAT_IDX_PCD) ? HPT_PCD : 0;
    e |= (a.mt & PAT_IDX_PAT) ? hpt_pat_bit(l) : 0;
    return e | (l ? HPT_PS : 0);
}

/* Attributes of the present leaf e at level l. */
static bool hpt_decode(unsigned caps, unsigned l, pte_t e, struct ptab_attr *a)
{
    (void)caps;
    a->perm = PTAB_R;
    a->perm |= (e & HPT_RW) ? PTAB_W : 0;
    a->perm |= (e & HPT_US) ? PTAB_U : 0;
    a->perm |= (e & HPT_G) ? PTAB_G : 0;
    a->perm |= (e & HPT_NX) ? 0 : PTAB_XU | PTAB_XS;
    a->mt = (enum ptab_mtype)(((e & HPT_PWT) ? PAT_IDX_PWT : 0) | ((e & HPT_PCD) ? PAT_IDX_PCD : 0) |
                              ((e & hpt_pat_bit(l)) ? PAT_IDX_PAT : 0));
    return true;
}

/* Entry is present. */
static bool hpt_present(pte_t e)
{
    return e & HPT_P;
}

/* Present entry at level l is a leaf. */
static bool hpt_is_leaf(unsigned l, pte_t e)
{
    return l == 0 || (e & HPT_PS);
}

/* Npt leaf: nested walks are user accesses, so every leaf is user; G means nothing there. */
static pte_t npt_leaf(unsigned caps, unsigned l, struct ptab_attr a)
{
    a.perm = (a.perm | PTAB_U) & ~PTAB_G;
    return hpt_leaf(caps, l, a);
}

const struct ptab_fmt ptab_hpt = {
    .name = "hpt", .min_levels = 4, .max_levels = 5,
    .leaf_mask = BIT(0) | BIT(1) | BIT(2), .addr_mask = HPT_ADDR,
    .table = hpt_table, .leaf = hpt_leaf, .decode = hpt_decode,
    .present = hpt_present, .is_leaf = hpt_is_leaf,
};

const struct ptab_fmt ptab_npt = {
    .name = "npt", .min_levels = 4, .max_levels = 5,
    .leaf_mask = BIT(0) | BIT(1) | BIT(2), .addr_mask = HPT_ADDR,
    .table = hpt_table, .leaf = npt_leaf, .decode = hpt_decode,
    .present = hpt_present, .is_leaf = hpt_is_leaf,
};
