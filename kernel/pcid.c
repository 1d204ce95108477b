/*
 * PCID allocator: bitmaps of owned and dirty identifiers and a rotor, so
 * freed identifiers are reused last (their stale entries age out of the TLBs
 * meanwhile) and never without a flush. See include/pcid.h for the policy.
 */
#include "pcid.h"
#include "cpuset.h"
#include "spinlock.h"

bool tlb_pcid;
static struct pcid_alloc pcids;        /* the kernel's spaces', used only with tlb_pcid */
static struct spinlock pcid_lock = SPINLOCK_INIT;
static bool pcids_ready;
static uint64_t recycled;              /* pcid_assign's dirty identifiers, under pcid_lock */

/* Bit of id in its bitmap word. */
static uint64_t bit_of(unsigned id)
{
    return 1ull << (id % 64);
}

/* Empty allocator: every PCID but PCID_SHARED free and clean. */
void pcid_init(struct pcid_alloc *a)
{
    for (unsigned w = 0; w < PCID_WORDS; w++)
        a->owned[w] = a->dirty[w] = 0;
    a->owned[PCID_SHARED / 64] |= bit_of(PCID_SHARED);
    a->next = PCID_SHARED + 1;
}

/* First free identifier at or after the rotor (wrapping) that is clean, or any if !clean. */
static unsigned find_free(const struct pcid_alloc *a, bool clean)
{
    for (unsigned i = 0; i < PCID_COUNT; i++) {
        unsigned id = (a->next + i) % PCID_COUNT;
        uint64_t busy = a->owned[id / 64] | (clean ? a->dirty[id / 64] : 0);
        if (!(busy & bit_of(id)))
            return id;
    }
    return PCID_SHARED;
}

/* A free PCID (clean ones first); *flush: it must be flushed before use. PCID_SHARED if none. */
unsigned pcid_get(struct pcid_alloc *a, bool *flush)
{
    unsigned id = find_free(a, true);
    if (id == PCID_SHARED)
        id = find_free(a, false);
    *flush = true;                      /* the shared PCID always flushes */
    if (id == PCID_SHARED)
        return id;
    *flush = (a->dirty[id / 64] & bit_of(id)) != 0;
    a->dirty[id / 64] &= ~bit_of(id);   /* the caller flushes it before use */
    a->owned[id / 64] |= bit_of(id);
    a->next = (id + 1) % PCID_COUNT;
    return id;
}

/* Give back id (from pcid_get); it becomes dirty. PCID_SHARED is ignored. */
void pcid_put(struct pcid_alloc *a, unsigned id)
{
    if (id == PCID_SHARED || id >= PCID_COUNT)
        return;
    a->owned[id / 64] &= ~bit_of(id);
    a->dirty[id / 64] |= bit_of(id);
}

/* A PCID for a new space (PCID_SHARED without tlb_pcid); a recycled one marks every core in
 * *htlb, so each flushes it before first use. */
unsigned pcid_assign(struct cpuset *htlb)
{
    bool flush;
    if (!tlb_pcid)
        return PCID_SHARED;
    spin_lock(&pcid_lock);
    if (!pcids_ready)
        pcid_init(&pcids);
    pcids_ready = true;
    unsigned id = pcid_get(&pcids, &flush);
    recycled += flush && id != PCID_SHARED;
    spin_unlock(&pcid_lock);
    for (unsigned c = 0; flush && c < NUM_CPU; c++)
        cpuset_set(htlb, c);                /* stale entries of the old owner */
    return id;
}

/* Give back a PCID of pcid_assign (its entries may stay in TLBs: the next owner flushes). */
void pcid_release(unsigned id)
{
    if (!tlb_pcid)
        return;
    spin_lock(&pcid_lock);
    pcid_put(&pcids, id);
    spin_unlock(&pcid_lock);
}

/* How many PCIDs pcid_assign handed out dirty (a freed one, flushed on every core before use). */
uint64_t pcid_recycled(void)
{
    spin_lock(&pcid_lock);
    uint64_t n = recycled;
    spin_unlock(&pcid_lock);
    return n;
}
