/*
 * Page-table use-after-free detector (test build: make PTAB_QUARANTINE=1).
 * A table frame detached from a PD's master table is quarantined until a full
 * TLB shootdown of that PD which began after the detach has completed: only
 * then may no core's TLB or paging-structure cache still walk it. Freeing or
 * allocating a frame while it is quarantined panics; a frame leaving the
 * quarantine is poisoned (non-present entries) while it is free; after every
 * flush of a shootdown batch, a walk checks that no live root of the PDs just
 * shot down (master or per-core) reaches a free or quarantined frame.
 * In other builds every hook is an empty inline.
 */
#pragma once
#include "types.h"

struct space_mem;

#define QUARANTINE_POISON  0xdead0bad0dead0b0UL  /* poison word of a freed table: bit 0 (P) clear */

#ifdef PTAB_QUARANTINE
void quarantine_detached(const struct space_mem *m, paddr_t pa);
void quarantine_on_free(paddr_t pa, size_t n);
void quarantine_on_alloc(paddr_t pa, size_t n);
void quarantine_check_roots(const struct space_mem *m);
#else
static inline void quarantine_detached(const struct space_mem *m, paddr_t pa) { (void)m; (void)pa; }
static inline void quarantine_on_free(paddr_t pa, size_t n) { (void)pa; (void)n; }
static inline void quarantine_on_alloc(paddr_t pa, size_t n) { (void)pa; (void)n; }
static inline void quarantine_check_roots(const struct space_mem *m) { (void)m; }
#endif
