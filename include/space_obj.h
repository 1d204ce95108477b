/*
 * Space_obj: a PD's object space, the capability table in the 512 MiB
 * "Capabilities" region [PD_CAPS, PD_CAPS_LAST] of its kpd (include/space_kpd.h).
 * Selector s is the 16-byte slot at PD_CAPS + s * CAP_SLOT_SIZE.
 *
 * Backing pages exist only where a slot was written. A kernel read of any other
 * slot of the current PD faults; space_obj_page_fault maps the shared zero page,
 * which reads as the null capability (lecture: Space_obj::page_fault).
 *
 * Every written slot is a node of the mapping database (unit = selector, target =
 * word 0 of the capability, see space_obj.c); the database's hooks write the slots.
 * Calls that take a struct mdb * need the caller's mdb lock.
 */
#pragma once
#include "capability.h"
#include "mdb.h"
#include "space_kpd.h"

struct space_obj {
    struct mdb_space mdb;       /* this space in the mapping database (owner = this) */
    struct kpd_region r;        /* r.pages: backing pages; r.tables: page tables */
};

/* Attach an empty object space to the PD directory kpd; E_NOMEM (first call: shared zero page). */
int  space_obj_init(struct space_obj *s, paddr_t kpd);
/* Free every backing page and table. Before: mdb teardown of s, PD running nowhere (flushed). */
void space_obj_destroy(struct space_obj *s);

/* Whether sel can take a new capability (a create call checks before it allocates the object):
 * E_ARG (selector 0), E_FULL (sel >= SEL_COUNT), E_BUSY (occupied), else E_OK. */
int  space_obj_check_free(struct space_obj *s, unsigned long sel);
/* Put c (a new object) at sel as a root of the database. E_ARG (sel 0), E_FULL (sel >= SEL_COUNT),
 * E_BUSY (occupied), E_NOMEM; on error nothing changed. */
int  space_obj_insert(struct mdb *db, struct space_obj *s, unsigned long sel, struct capability c);
/* The same in two steps: decode (the statuses above; reserves into s and r), then perform
 * (cannot fail) or cancel. */
int  space_obj_insert_decode(struct mdb *db, struct space_obj *s, unsigned long sel,
                             struct mdb_root *r);
void space_obj_insert_perform(struct mdb_root *r, struct space_obj *s, unsigned long sel,
                              struct capability c);
void space_obj_insert_cancel(struct mdb *db, struct space_obj *s, struct mdb_root *r);
/* Remove the capability at sel and everything delegated from it (no-op if empty). */
void space_obj_remove(struct mdb *db, struct space_obj *s, unsigned long sel);
/* Delegate src [src_base, +count) to dst [dst_base, +count) with rights & mask: E_ARG (count 0,
 * dst range holds selector 0), E_RANGE (source range), E_FULL (destination range), then the
 * statuses of mdb_delegate; E_NOMEM also for slot pages. Nothing changed on error. */
int  space_obj_delegate(struct mdb *db, struct space_obj *src, unsigned long src_base,
                        struct space_obj *dst, unsigned long dst_base, unsigned long count,
                        unsigned mask, unsigned *effect);
/* The same in two steps: decode into *d (the statuses above; reserves), then perform (cannot
 * fail; returns the mdb effect). */
int  space_obj_delegate_decode(struct mdb *db, struct mdb_delegation *d, struct space_obj *src,
                               unsigned long src_base, struct space_obj *dst,
                               unsigned long dst_base, unsigned long count, unsigned mask);
unsigned space_obj_delegate_perform(struct mdb *db, struct mdb_delegation *d,
                                    struct space_obj *dst);

/* Read slot sel of any PD by a software walk; true and *out if it holds a capability. */
bool space_obj_lookup(const struct space_obj *s, unsigned long sel, struct capability *out);
/* Same for the current PD's space s, read through PD_CAPS (may fault to the zero page). Kernel only. */
bool space_obj_lookup_current(const struct space_obj *s, unsigned long sel, struct capability *out);

/* Kernel read fault at addr in the capability region of the current PD: map the zero page.
 * False if it cannot be resolved (a write, a protection fault, no PD): the caller panics. */
bool space_obj_page_fault(vaddr_t addr, mword err);
