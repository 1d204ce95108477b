/*
 * PCID allocator: one process-context identifier per PD,
 * recycled when the PD goes away. A recycled PCID may still tag stale
 * translations in any core's TLB, so it is handed out again only with the
 * flush flag set: the new owner must flush it on every core before use (the
 * kernel marks every core in the PD's htlb, so each core's first CR3 load for
 * it is a flushing load). Pure logic, host-tested (tests/host/test_pcid.c).
 *
 * Exhaustion policy: when every identifier is owned, a PD gets PCID_SHARED (0,
 * also the kernel's). Loads of a shared PCID always flush, so sharing is
 * correct and only slower; no identifier is ever stolen from a live PD.
 *
 * The kernel's spaces take theirs from one allocator under a lock (pcid_assign, pcid_release),
 * and only while tlb_pcid says the cores use PCIDs.
 */
#pragma once
#include "types.h"

#define PCID_COUNT   4096               /* CR3 bits 11:0 */
#define PCID_SHARED  0                  /* kernel, and every PD once all are owned */
#define PCID_WORDS   (PCID_COUNT / 64)

struct pcid_alloc {
    uint64_t owned[PCID_WORDS];         /* held by a live PD */
    uint64_t dirty[PCID_WORDS];         /* freed, TLBs may hold its entries */
    unsigned next;                      /* where the search for a free one starts */
};

void pcid_init(struct pcid_alloc *a);
unsigned pcid_get(struct pcid_alloc *a, bool *flush);
void pcid_put(struct pcid_alloc *a, unsigned id);

struct cpuset;

/* Whether CR4.PCIDE is on (tlb_pcid_init found PCID); false under QEMU TCG. */
extern bool tlb_pcid;

unsigned pcid_assign(struct cpuset *htlb);
void pcid_release(unsigned id);
uint64_t pcid_recycled(void);
