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

#define TLB_INVLPG_MAX  33              /* pages above which one full flush beats INVLPGs (Linux) */

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
