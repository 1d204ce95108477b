/*
 * Protection domain (lecture: "Protection Domain"): three spaces, all empty at
 * creation — Space_obj (capabilities), Space_mem (page tables), Space_pio (I/O
 * bitmap) — plus the PD's kernel directory kpd behind PML4 511 / PDPT 511, which
 * every per-core root of the PD shares (I/O bitmap and capability regions).
 *
 * Locking: one kernel lock (pd_lock) serialises the mapping database, object
 * creation and capability-table writes; ec_lock guards EC states and waiters.
 */
#pragma once
#include "types.h"
#include "spinlock.h"
#include "space_mem.h"
#include "space_obj.h"
#include "space_pio.h"
#include "capability.h"
#include "syscall.h"

struct pd {
    struct space_obj obj;
    struct space_mem mem;
    struct space_pio pio;
    paddr_t kpd;                    /* PD-level table for 0xFFFFFFFFC0000000.. */
    struct pd *parent;              /* creator (accounting; destruction comes later) */
    volatile uint32_t live_ecs;     /* ECs created and not stopped */
    bool is_root;                   /* the root task's PD */
};

#define PD_FRAMES 2                 /* struct pd lives in two contiguous pool frames */
_Static_assert(sizeof(struct pd) <= PD_FRAMES * 4096, "struct pd fits its frames");
_Static_assert(PD_OBJ_FRAMES == PD_FRAMES + 1, "pd_info counts struct pd and its kpd");

extern struct spinlock pd_lock;     /* mapping database, object creation, slot writes */
extern struct mdb kernel_mdb;       /* the one mapping database (nodes from kmalloc) */

/*
 * Take pd_lock. The holder may wait for a shootdown acknowledgement from this
 * core, so the wait polls for shootdowns, and it takes interrupts.
 */
void pd_lock_take(void);

struct trap_frame;

/*
 * Take pd_lock for the system call with user state f; if it stays busy for a
 * bounded time, re-issue the call later (rip back to the syscall instruction,
 * yield to this core's other ECs) and do not return.
 */
void pd_lock_take_call(struct trap_frame *f);

/* Initialise the mapping database (boot, once). */
void pd_boot_init(void);

/* A new PD with three empty spaces, child of parent; NULL if out of memory. */
struct pd *pd_create(struct pd *parent);

/* Free a PD that never held anything (creation failed after pd_create). */
void pd_destroy_empty(struct pd *pd);

/* Every pool frame pd holds (pd_info.frames): its object, tables, roots and backing pages. */
uint64_t pd_frames(const struct pd *pd);

/* The PD running on this core (NULL in the idle loop before any PD ran). */
struct pd *pd_current(void);

/*
 * Look up selector sel in pd's object space: E_CAP if out of range, null or not
 * of type t; E_PERM if it lacks any of rights; else E_OK and *obj.
 */
int pd_cap(struct pd *pd, mword sel, enum cap_type t, unsigned rights, void **obj);

/* Check destination selector sel of pd: E_ARG, E_FULL, E_BUSY or E_OK. */
int pd_dst_sel(struct pd *pd, mword sel);
