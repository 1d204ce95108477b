/*
 * Protection domain (lecture: "Protection Domain"): three spaces, all empty at
 * creation — Space_obj (capabilities), Space_mem (page tables), Space_pio (I/O
 * bitmap) — plus the PD's kernel directory kdir behind PML4 511 / PDPT 511, which
 * every per-core root of the PD shares (I/O bitmap and capability regions).
 *
 * Locking: one kernel lock (pd_lock) serialises the mapping database, object
 * creation and capability-table writes; ec_lock guards EC states and waiters.
 */
#pragma once
#include "types.h"
#include "fairlock.h"
#include "space_mem.h"
#include "space_obj.h"
#include "space_pio.h"
#include "capability.h"
#include "syscall.h"
#include "kmalloc.h"
#include "quota.h"
#include "destroy.h"

struct ec;

struct pd {
    struct space_obj obj;
    struct space_mem mem;
    struct space_pio pio;
    paddr_t kdir;                   /* PD-level table for 0xFFFFFFFFC0000000.. */
    struct pd *parent;              /* creator (accounting); destroyed with it */
    struct quota quota;             /* kernel memory charged to the PD (include/quota.h) */
    struct kmalloc heap;            /* the PD's objects (ECs), pages charged */
    struct ptab_env env;            /* pool frames charged to the PD: kdir pages and tables */
    struct ptab_env tables_env;     /* page-table frames charged to the PD: master, roots */
    volatile uint32_t live_ecs;     /* ECs created and not stopped */
    bool is_root;                   /* the root task's PD */
    struct kobj kobj;               /* capability count, destruction (include/destroy.h) */
    struct pd *children;            /* PDs created with this one as parent, not doomed */
    struct pd *sib_next, *sib_prev; /* siblings in parent->children */
    struct ec *ecs;                 /* its ECs, not doomed */
    uint32_t nr_children;           /* PDs with this parent, not freed */
    uint32_t nr_ecs;                /* its ECs, not freed */
    volatile uint32_t ecs_on;       /* its ECs that a core may still run (ec_leave) */
    uint32_t busy;                  /* revokes pending on its spaces (between steps) */
    uint32_t vcpu_pages;            /* control pages (VMCB / VMCS) of its vCPUs */
};

/* Pool frames of struct pd: one up to 64 cores, so that every frame the kernel takes after boot
   is a single one (none can fail while the pool has a free frame, however fragmented). */
#define PD_FRAMES ((sizeof(struct pd) + 4095) / 4096)
#define PD_QUOTA_KERNEL UINT64_MAX  /* pd_create's quota for a PD of the kernel's own (no parent) */
_Static_assert(NUM_CPU > 64 || PD_FRAMES == 1, "struct pd fits one frame");
_Static_assert(PD_OBJ_FRAMES == PD_FRAMES + 1, "pd_info counts struct pd and its kdir");

extern struct fair_lock pd_lock;    /* mapping database, object creation, slot writes */
extern struct mdb kernel_mdb;       /* the one mapping database (nodes from kmalloc) */

void pd_lock_take(void);
bool pd_lock_try(void);
bool pd_lock_mine(void);
void pd_lock_give(void);

struct trap_frame;

void pd_lock_take_call(struct trap_frame *f);
void pd_boot_init(void);
struct pd *pd_create(struct pd *parent, uint64_t quota);
void pd_quota_seal(struct pd *pd, uint64_t room);
void pd_destroy_empty(struct pd *pd);
void pd_free_last(struct pd *pd);
void pd_adopt(struct pd *pd, struct pd *creator, mword sel);
uint64_t pd_frames(const struct pd *pd);
struct pd *pd_current(void);
int pd_cap_get(struct pd *pd, mword sel, enum cap_type t, void **obj, unsigned *rights);
int pd_cap(struct pd *pd, mword sel, enum cap_type t, unsigned rights, void **obj);
int pd_dst_sel(struct pd *pd, mword sel);
