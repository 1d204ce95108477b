/*
 * Space_mem: the memory space of a protection domain (lecture: "Memory space of
 * a protection domain"). The master table hpt is the only one delegation and
 * revocation change; loc[cpu] is the core's own root, filled lazily from hpt by
 * the page-fault handler (sync_from copies one top-level entry, so lower levels
 * are shared); dpt is the device table (the pages held with MEM_D, 4 KiB leaves,
 * for the devices assigned to the PD; built at the first assignment of a device to the PD or
 * MEM_D delegation into it); ept/npt is the nested table of a VM (the pages held with MEM_G at
 * their guest-physical addresses, 4 KiB leaves, built by the PD's first vCPU; root 0 before,
 * format by CPUID: virt_nested_fmt); htlb is
 * the set of cores whose TLB must be flushed before they run this space again (lecture:
 * Pd::make_current, the shootdown loop). Lab switch PTSYNC=shared (docs/lab.md): one root per
 * PD, hpt's, which every core loads (it holds the kernel half too); loc[cpu] then names it and
 * holds no frame, and nothing is synced.
 */
#pragma once
#include "ptab.h"
#include "cpuset.h"
#include "mdb.h"

/* Frames a PD's master table keeps from its creation: its root (PTSYNC=shared: and the PDPT of
   its kernel half); frames a core's first run of the PD adds: its root (PTSYNC=shared: none). */
#ifdef PTSYNC_shared
#define SPACE_MEM_ROOT_FRAMES 2
#define SPACE_MEM_CORE_FRAMES 0
#else
#define SPACE_MEM_ROOT_FRAMES 1
#define SPACE_MEM_CORE_FRAMES PD_LOC_ROOT_FRAMES
#endif

struct space_mem {
    struct ptab hpt;                /* master table: user half only, never loaded
                                       (PTSYNC=shared: also the kernel half, every core's root) */
    struct ptab_env env;            /* hpt's frames: pool frames counted in hpt_tables */
    size_t hpt_tables;              /* table frames hpt holds (root included; detached: not) */
    size_t hpt_kept;                /* of them at the kept levels: the root and its PDPTs */
    struct ptab loc[NUM_CPU];       /* per-core roots; loc[c].root == 0 until first run on c */
    struct space_dpt *dpt;          /* device table (IOMMU): NULL until space_mem_dpt */
    struct space_nested *nested;    /* a VM's nested table: NULL until space_mem_nested */
    struct cpuset htlb;             /* cores that must flush before running this space again */
    struct mdb_space mdb;           /* unit: 4 KiB page; target: physical page number */
    paddr_t kdir;                   /* the PD's kernel directory (PDPT 511 of every loc root) */
    unsigned loc_roots;             /* loc[] roots created so far */
    struct cpuset rooted;           /* cores c with a loc[c] root (the cores a shootdown asks) */
    unsigned pcid;                  /* process-context id (PCID_SHARED without PCID) */
    uint64_t reductions;            /* hpt updates that removed or reduced rights (fault.c) */
    uint64_t tlb_full_started;      /* full shootdowns of this space begun (pd_lock held) */
    uint64_t tlb_full_done;         /* number of the last full shootdown that completed */
};

struct pd;

/* The nested table of a VM's memory space, in its PD's heap. */
struct space_nested {
    union {
        struct ptab ept;            /* nested table, Intel */
        struct ptab npt;            /* nested table, AMD (generic code names either npt) */
    };
    struct ptab_env env;            /* its frames: charged to the PD, counted in tables */
    size_t tables;                  /* table frames it holds (root included) */
    uint64_t gen;                   /* its reductions: a vCPU that entered at an older one
                                       flushes the nested TLB before it enters again */
    struct space_mem *m;            /* the space it belongs to */
};

/* The device table of a memory space, in its PD's heap. */
struct space_dpt {
    struct ptab t;                  /* second-level table: 4 KiB leaves */
    struct ptab_env env;            /* its frames: charged to the PD, counted in tables */
    size_t tables;                  /* table frames t holds (root included) */
    struct space_mem *m;            /* the space it belongs to */
    unsigned did;                   /* its IOMMU domain id */
};

int space_mem_init(struct space_mem *m, paddr_t kdir);
int space_mem_dpt(struct space_mem *m, bool *built);
void space_mem_dpt_drop(struct space_mem *m);
int space_mem_nested(struct space_mem *m, bool *built);
void space_mem_nested_drop(struct space_mem *m);
int space_mem_dpt_span(uint64_t va, uint64_t pages);
int space_mem_side_room(const struct space_mem *m, uint64_t pages, bool dma, bool guest);
void space_mem_destroy(struct space_mem *m);
int space_mem_loc_create(struct space_mem *m, unsigned cpu);

/* Make sure loc[cpu] exists (space_mem_loc_create if not): E_OK, or E_NOMEM. */
static inline int space_mem_loc(struct space_mem *m, unsigned cpu)
{
    return m->loc[cpu].root ? E_OK : space_mem_loc_create(m, cpu);
}

int  space_mem_loc_build(struct space_mem *m, unsigned cpu, struct ptab *t);
void space_mem_loc_install(struct space_mem *m, unsigned cpu, const struct ptab *t);
void space_mem_loc_discard(struct ptab *t);
void make_current(struct pd *pd);
void make_current_none(void);
#ifdef PTCOUNT_1
void space_mem_count_begin(void);
#else
/* Nothing to count outside the lab test build PTCOUNT=1. */
static inline void space_mem_count_begin(void)
{
}
#endif
bool space_mem_sync(struct space_mem *m, vaddr_t addr);
int space_mem_map(struct shootdown_batch *b, struct space_mem *m, vaddr_t va, uint64_t size,
                  paddr_t pa, unsigned rights);
bool space_mem_restore(struct shootdown_batch *b, struct space_mem *m, vaddr_t va, unsigned need);
size_t space_mem_hpt_tables(const struct space_mem *m);
size_t space_mem_hpt_count(const struct space_mem *m);
size_t space_mem_hpt_kept(const struct space_mem *m);
size_t space_mem_frames(const struct space_mem *m);
unsigned space_mem_rights(unsigned perm);
bool space_mem_allows(const struct space_mem *m, vaddr_t va, unsigned need);

/* The mdb hooks of memory spaces (map/protect/unmap on hpt, shootdown collected). */
extern const struct mdb_ops space_mem_ops;

/*
 * A shootdown batch: the PDs whose master tables lost translations and the table frames
 * detached from them, shot down and freed together by shootdown_batch_flush. Ordering:
 * a PD enters the batch before its update (a full batch is flushed before a new PD
 * joins), the detached list is flushed before an update for which it may lack room, and
 * its frames are freed only after the shootdowns of every PD in the batch. Zero-filled
 * is empty. The caller of a mapping-database operation owns one (under pd_lock; about
 * 1 KiB, so static rather than on the 4 KiB kernel stack), hands it to the operation,
 * whose memory-space hooks record into it, and flushes it before pd_lock is dropped.
 */
#define SHOOTDOWN_BATCH_PDS 16
struct shootdown_batch {
    struct ptab_dfree df;                   /* detached tables, freed after the shootdowns */
    struct pd *pd[SHOOTDOWN_BATCH_PDS];     /* PDs that lost translations */
    vaddr_t lo[SHOOTDOWN_BATCH_PDS], hi[SHOOTDOWN_BATCH_PDS];   /* pd[i]'s changed range */
    bool full[SHOOTDOWN_BATCH_PDS];         /* pd[i] lost a table: flush everything */
    size_t tables[SHOOTDOWN_BATCH_PDS];     /* of df, the tables detached from pd[i]'s hpt */
    unsigned n;                             /* entries of pd[] in use */
};

void shootdown_batch_flush(struct shootdown_batch *b);

/* Whether b holds nothing to shoot down or free (as after shootdown_batch_flush). */
static inline bool shootdown_batch_empty(const struct shootdown_batch *b)
{
    return b->n == 0 && b->df.count == 0 && b->df.n == 0 && b->df.chain == 0;
}

/* The batch of pd_lock's holder (kernel/syscall.c): empty whenever pd_lock is free. */
extern struct shootdown_batch call_batch;
