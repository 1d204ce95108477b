/*
 * Space_obj: a PD's object space, the capability table in the 512 MiB
 * "Capabilities" region [PD_CAPS, PD_CAPS_LAST] of its kdir (include/kdir.h).
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
#include "kdir.h"

struct space_obj {
    struct mdb_space mdb;       /* this space in the mapping database (owner = this) */
    struct kdir_region r;       /* r.pages: backing pages; r.tables: page tables */
    bool counted;               /* its slots count in their objects (space_obj_gained/_lost) */
};

extern void (*space_obj_gained)(uint64_t word);
extern void (*space_obj_lost)(uint64_t word);

/* The mdb hooks of object spaces (capability slots). */
extern const struct mdb_ops space_obj_ops;
int  space_obj_init(struct space_obj *s, paddr_t kdir);
void space_obj_destroy(struct space_obj *s);
int  space_obj_check_free(struct space_obj *s, unsigned long sel);
int  space_obj_insert(struct mdb *db, struct space_obj *s, unsigned long sel, struct capability c);
int  space_obj_insert_decode(struct mdb *db, struct space_obj *s, unsigned long sel,
                             struct mdb_root *r);
void space_obj_insert_perform(struct mdb_root *r, struct space_obj *s, unsigned long sel,
                              struct capability c);
void space_obj_insert_cancel(struct mdb *db, struct space_obj *s, struct mdb_root *r);
void space_obj_remove(struct mdb *db, struct space_obj *s, unsigned long sel);
int  space_obj_delegate_decode(struct mdb *db, struct mdb_delegation *d, struct space_obj *src,
                               unsigned long src_base, struct space_obj *dst,
                               unsigned long dst_base, unsigned long count, unsigned mask);
unsigned space_obj_delegate_perform(struct mdb *db, struct mdb_delegation *d,
                                    struct space_obj *dst);
bool space_obj_lookup(const struct space_obj *s, unsigned long sel, struct capability *out);
bool space_obj_lookup_current(const struct space_obj *s, unsigned long sel, struct capability *out);
bool space_obj_page_fault(vaddr_t addr, mword err);
