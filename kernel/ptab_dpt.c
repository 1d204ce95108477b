/*
 * Dpt: VT-d second-level (second-stage) paging entries, 3, 4 or 5 levels as
 * the IOMMU's SAGAW allows (VT-d spec, "Second-Stage Paging Entries").
 *
 * Only PTAB_R and PTAB_W make a DMA mapping; PTAB_XU/PTAB_XS set bit 2 only
 * with PTAB_CAP_DPT_X (execute requests); PTAB_U/PTAB_G do not exist. Memory
 * type bits (EMT 5:3) are used only with PTAB_CAP_DPT_EMT; without it every
 * mapping decodes as WB (snooped DMA). With PTAB_CAP_DPT_SNP every leaf sets
 * SNP. A non-coherent IOMMU (ECAP.C = 0) needs PTAB_CAP_CLFLUSH on the table.
 */
#include "ptab_fmt.h"

#define DPT_R       BIT(0)          /* read */
#define DPT_W       BIT(1)          /* write */
#define DPT_X       BIT(2)          /* execute (with execute-request support) */
#define DPT_EMT_SHIFT 3             /* bits 5:3: extended memory type */
#define DPT_EMT_MASK BITS(5, 3)
#define DPT_IPAT    BIT(6)          /* ignore PAT (left clear) */
#define DPT_PS      BIT(7)          /* level 1/2: entry is a 2M/1G leaf */
#define DPT_SNP     BIT(11)         /* snoop behaviour: force snooped access */
#define DPT_ADDR    BITS(51, 12)    /* frame field */

/* Bits of an entry pointing to a table: leaves decide the rights. */
static pte_t dpt_table(unsigned caps)
{
    return DPT_R | DPT_W | ((caps & PTAB_CAP_DPT_X) ? DPT_X : 0);
}

/* Bits of a leaf at level l with attributes a (no R and no W: not present). */
static pte_t dpt_leaf(unsigned caps, unsigned l, struct ptab_attr a)
{
    if (!(a.perm & (PTAB_R | PTAB_W)))
        return 0;
    pte_t e = ((a.perm & PTAB_R) ? DPT_R : 0) | ((a.perm & PTAB_W) ? DPT_W : 0);
    e |= ((caps & PTAB_CAP_DPT_X) && (a.perm & (PTAB_XU | PTAB_XS))) ? DPT_X : 0;
    e |= (caps & PTAB_CAP_DPT_EMT) ? (pte_t)ptab_mtrr_enc(a.mt) << DPT_EMT_SHIFT : 0;
    e |= (caps & PTAB_CAP_DPT_SNP) ? DPT_SNP : 0;
    return e | (l ? DPT_PS : 0);
}

/* Attributes of the present leaf e at level l. */
static bool dpt_decode(unsigned caps, unsigned l, pte_t e, struct ptab_attr *a)
{
    (void)l;
    unsigned emt = (unsigned)((e & DPT_EMT_MASK) >> DPT_EMT_SHIFT);
    a->perm = ((e & DPT_R) ? PTAB_R : 0) | ((e & DPT_W) ? PTAB_W : 0) |
              ((e & DPT_X) ? PTAB_XU | PTAB_XS : 0);
    a->mt = (caps & PTAB_CAP_DPT_EMT) ? ptab_mtrr_dec(emt) : PTAB_WB;
    return true;
}

const struct ptab_fmt ptab_dpt = {
    .name = "dpt", .min_levels = 3, .max_levels = 5,
    .leaf_mask = BIT(0) | BIT(1) | BIT(2), .addr_mask = DPT_ADDR,
    .table = dpt_table, .leaf = dpt_leaf, .decode = dpt_decode,
    .present_bits = DPT_R | DPT_W, .leaf_bit = DPT_PS,
};
