/*
 * TLB shootdown (lecture: "TLB Shutdown on revoked memory mappings"): after a
 * translation of a PD was removed, overwritten or lost rights, every core that
 * may cache it must flush before tlb_flush_pd returns. Without PCID a core
 * caches translations only of the PD its CR3 holds (cpu_local.pd), so only
 * those cores get an IPI; the others flush on their next CR3 load anyway.
 */
#pragma once
#include "types.h"

struct pd;

/* Flush pd's translations on every core that may cache them; returns when all have. */
void tlb_flush_pd(struct pd *pd);

/* Do a shootdown requested of this core now (a core spinning with interrupts off polls). */
void tlb_poll(void);

/* IPI handler: flush this core's TLB if its current PD is marked stale, then acknowledge. */
void tlb_ipi(void);
