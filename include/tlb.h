/*
 * TLB shootdown (lecture: "TLB Shutdown on revoked memory mappings", "TLB
 * Invalidations and Shootdowns"). After the caller updated pd's page-table
 * entries (removed, overwritten or downgraded translations), tlb_shootdown marks
 * every core that may cache them in pd's htlb, IPIs the marked cores that run pd
 * at that moment (Pd::remote), flushes its own TLB, and returns only when every IPI'd core
 * acknowledged. Marked cores that run another PD flush at their next make_current.
 */
#pragma once
#include "types.h"

struct pd;

/* Pages above which one full flush beats INVLPGs (Linux: 33); lab switch TLB_INVLPG_MAX. */
#if defined(TLB_INVLPG_MAX_1)
#define TLB_INVLPG_MAX  1
#elif defined(TLB_INVLPG_MAX_unlimited)
#define TLB_INVLPG_MAX  UINT64_MAX
#else
#define TLB_INVLPG_MAX  33
#endif

/* What the local core must flush: pages [va, +pages), or everything if full. */
struct tlb_range {
    vaddr_t  va;
    uint64_t pages;
    bool     full;                      /* a table was detached or the range is unknown */
};

void tlb_shootdown(struct pd *pd, const struct tlb_range *r);
void tlb_pcid_init(void);

/* Self-check hook: called by tlb_shootdown after the IPIs went out, before the wait. */
extern void (*tlb_shootdown_hook)(struct pd *pd);

void tlb_flush_pd(struct pd *pd);
void tlb_poll(void);
void tlb_ipi(void);

/* Lab switch TLB_ACK=deferred (NOVA): the IPI handler acknowledges at once and leaves the flush
   to this hook, called before every use of user translations (return to user, user copies) and
   by make_current through the htlb mark; without the switch it is empty. */
#ifdef TLB_ACK_deferred
void tlb_hazard(void);
#else
static inline void tlb_hazard(void)
{
}
#endif
