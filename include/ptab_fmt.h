/* Helpers shared by the page-table format descriptors (kernel/ptab_*.c). */
#pragma once
#include "ptab.h"

/* MTRR-style memory type encodings, used by EPT leaves and VT-d EMT fields. */
#define MTRR_UC 0   /* uncacheable */
#define MTRR_WC 1   /* write combining */
#define MTRR_WT 4   /* write through */
#define MTRR_WP 5   /* write protected */
#define MTRR_WB 6   /* write back */

/* MTRR encoding of a memory type; UC- has none and becomes UC. */
static inline unsigned ptab_mtrr_enc(enum ptab_mtype mt)
{
    static const uint8_t enc[PTAB_MTYPES] = {
        [PTAB_WB] = MTRR_WB, [PTAB_WT] = MTRR_WT, [PTAB_UC_MINUS] = MTRR_UC,
        [PTAB_UC] = MTRR_UC, [PTAB_WC] = MTRR_WC, [PTAB_WP] = MTRR_WP,
    };
    return enc[mt];
}

/* Memory type of an MTRR encoding; unknown encodings read as UC. */
static inline enum ptab_mtype ptab_mtrr_dec(unsigned enc)
{
    switch (enc) {
    case MTRR_WB: return PTAB_WB;
    case MTRR_WT: return PTAB_WT;
    case MTRR_WC: return PTAB_WC;
    case MTRR_WP: return PTAB_WP;
    default:      return PTAB_UC;
    }
}
