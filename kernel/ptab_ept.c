/*
 * Ept: Intel extended page tables, 4 levels (SDM Vol. 3, 29.3.2).
 *
 * Without mode-based execute control, bit 2 allows execution in any mode:
 * PTAB_XU and PTAB_XS both encode as bit 2 and decode as both. With
 * PTAB_CAP_EPT_MBEC, bit 2 is supervisor execute and bit 10 user execute.
 * PTAB_W implies PTAB_R (write-only is a misconfiguration). PTAB_U and PTAB_G
 * do not exist in EPT (the guest's own tables decide them). UC- has no EPT
 * encoding and maps to UC. IPAT stays clear: the guest PAT combines with the
 * EPT memory type as on hardware.
 */
#include "ptab_fmt.h"

#define EPT_R       BIT(0)          /* read */
#define EPT_W       BIT(1)          /* write */
#define EPT_X       BIT(2)          /* execute (supervisor execute with MBEC) */
#define EPT_MT_SHIFT 3              /* bits 5:3: memory type of a leaf */
#define EPT_MT_MASK BITS(5, 3)
#define EPT_IPAT    BIT(6)          /* ignore guest PAT (left clear) */
#define EPT_PS      BIT(7)          /* level 1/2: entry is a 2M/1G leaf */
#define EPT_XU      BIT(10)         /* user execute (MBEC only) */
#define EPT_ADDR    BITS(51, 12)    /* frame field */

/* Bits of an entry pointing to a table: leaves decide the rights. */
static pte_t ept_table(unsigned caps)
{
    return EPT_R | EPT_W | EPT_X | ((caps & PTAB_CAP_EPT_MBEC) ? EPT_XU : 0);
}

/* Bits of a leaf at level l with attributes a. */
static pte_t ept_leaf(unsigned caps, unsigned l, struct ptab_attr a)
{
    pte_t e = (pte_t)ptab_mtrr_enc(a.mt) << EPT_MT_SHIFT;
    e |= (a.perm & (PTAB_R | PTAB_W)) ? EPT_R : 0;
    e |= (a.perm & PTAB_W) ? EPT_W : 0;
    if (caps & PTAB_CAP_EPT_MBEC)
        e |= ((a.perm & PTAB_XS) ? EPT_X : 0) | ((a.perm & PTAB_XU) ? EPT_XU : 0);
    else
        e |= (a.perm & (PTAB_XU | PTAB_XS)) ? EPT_X : 0;
    return e | (l ? EPT_PS : 0);
}

/* Attributes of the present leaf e at level l. */
static bool ept_decode(unsigned caps, unsigned l, pte_t e, struct ptab_attr *a)
{
    (void)l;
    unsigned mt = (unsigned)((e & EPT_MT_MASK) >> EPT_MT_SHIFT);
    a->perm = ((e & EPT_R) ? PTAB_R : 0) | ((e & EPT_W) ? PTAB_W : 0);
    if (caps & PTAB_CAP_EPT_MBEC)
        a->perm |= ((e & EPT_X) ? PTAB_XS : 0) | ((e & EPT_XU) ? PTAB_XU : 0);
    else
        a->perm |= (e & EPT_X) ? PTAB_XU | PTAB_XS : 0;
    a->mt = ptab_mtrr_dec(mt);
    return true;
}

const struct ptab_fmt ptab_ept = {
    .name = "ept", .min_levels = 4, .max_levels = 4,
    .leaf_mask = BIT(0) | BIT(1) | BIT(2), .addr_mask = EPT_ADDR,
    .table = ept_table, .leaf = ept_leaf, .decode = ept_decode,
    .present_bits = EPT_R | EPT_W | EPT_X | EPT_XU, .leaf_bit = EPT_PS,
};
