/*
 * Space_obj (lecture: "Protection Domain", Space_obj::page_fault): the capability
 * table of a PD in the "Capabilities" region of its kdir.
 *
 * Mapping-database target of a selector = word 0 of its capability (object pointer
 * | type). The database lets unit base+i of a node refer to target+i, which is sound
 * here although objects are not consecutive: delegation copies each source unit's
 * target to exactly one destination unit, and two neighbouring units share a node
 * only if their targets are consecutive (mdb merges only then), so target+i is
 * always the unit's own word 0. Revocation works on derivation links plus target
 * ranges, so equal object words in unrelated trees never interfere.
 *
 * Flushes. A slot page goes hole -> shared zero page -> private page, never back
 * while the PD lives. So a stale TLB entry on another core can only make a slot
 * read as null; space_obj_lookup_current confirms every null it reads through the
 * software walk, so no shootdown is ever needed. The local core flushes when it
 * replaces the zero page (kdir_page), so its fast path sees the new page at once.
 */
#include "space_obj.h"
#include "panic.h"

#define OBJ_SELS        SEL_COUNT                       /* units of the space */
#define OBJ_FILL        0x00                            /* zero page: null capabilities */

static struct kdir_shared zero;                         /* the shared zero page and its PT */

/* Set by the kernel (destroy.c): a slot of a counted space came to name the object of word 0 /
   stopped naming it. */
void (*space_obj_gained)(uint64_t word);
void (*space_obj_lost)(uint64_t word);

/* Virtual address of slot sel in the capability region. */
static vaddr_t slot_va(unsigned long sel)
{
    return PD_CAPS + sel * CAP_SLOT_SIZE;
}

/* Slot sel inside its (private) page at pg. */
static struct capability *slot_in(const uint8_t *pg, unsigned long sel)
{
    return (struct capability *)(uintptr_t)(pg + (slot_va(sel) & (PTAB_PAGE_SIZE - 1)));
}

/* Write c into slot sel of s, a hole or an upgrade of the same object: rights first, word 0
 * last. */
static void slot_write(struct space_obj *s, unsigned long sel, struct capability c)
{
    struct capability *p = slot_in(kdir_page(&s->r, slot_va(sel)), sel);
    ASSERT(p->obj == 0 || p->obj == c.obj);
    __atomic_store_n(&p->rights, c.rights, __ATOMIC_RELEASE);
    __atomic_store_n(&p->obj, c.obj, __ATOMIC_RELEASE);
}

/* The written slot sel of s (its page must exist: the database only touches written slots). */
static struct capability *slot_written(struct space_obj *s, unsigned long sel)
{
    const uint8_t *pg = kdir_peek(&s->r, slot_va(sel));
    if (!pg)
        panic("space_obj: slot %lu has no page", sel);
    return slot_in(pg, sel);
}

/* mdb hook: slots [base, +size) hold target.. with rights. */
static void obj_map(struct mdb_space *m, struct shootdown_batch *b, uint64_t base, uint64_t size,
                    uint64_t target, unsigned rights)
{
    (void)b;
    struct space_obj *s = m->owner;
    for (uint64_t i = 0; i < size; i++) {
        bool hole = s->counted && !slot_in(kdir_page(&s->r, slot_va(base + i)), base + i)->obj;
        slot_write(s, base + i, cap_from_target(target + i, rights));
        if (hole)
            space_obj_gained(target + i);
    }
}

/* mdb hook: slots [base, +size) keep their objects with fewer rights. */
static void obj_protect(struct mdb_space *m, struct shootdown_batch *b,
                        uint64_t base, uint64_t size, unsigned rights)
{
    (void)b;
    for (uint64_t i = 0; i < size; i++)
        __atomic_store_n(&slot_written(m->owner, base + i)->rights, rights, __ATOMIC_RELEASE);
}

/* mdb hook: slots [base, +size) become null (word 0 first); the pages stay. */
static void obj_unmap(struct mdb_space *m, struct shootdown_batch *b, uint64_t base, uint64_t size)
{
    (void)b;
    struct space_obj *s = m->owner;
    for (uint64_t i = 0; i < size; i++) {
        struct capability *p = slot_written(s, base + i);
        uint64_t word = p->obj;
        __atomic_store_n(&p->obj, 0, __ATOMIC_RELEASE);
        __atomic_store_n(&p->rights, 0, __ATOMIC_RELEASE);
        if (s->counted && word)
            space_obj_lost(word);
    }
}

const struct mdb_ops space_obj_ops = { obj_map, obj_protect, obj_unmap, NULL };

/* Attach an empty object space to the PD directory kdir; E_NOMEM (first call: shared zero page). */
int space_obj_init(struct space_obj *s, paddr_t kdir)
{
    if (!zero.page && kdir_shared_init(&zero, space_env, OBJ_FILL, PD_CAPS, PD_CAPS_LAST) != E_OK)
        return E_NOMEM;
    mdb_space_init(&s->mdb, &space_obj_ops, s, OBJ_SELS);
    kdir_region_init(&s->r, space_env, &zero, kdir, PD_CAPS, PD_CAPS_LAST, OBJ_FILL);
    return E_OK;
}

/* Free every backing page and table. Before: mdb teardown of s, PD running nowhere (flushed). */
void space_obj_destroy(struct space_obj *s)
{
    ASSERT(s->mdb.nodes == 0);
    kdir_region_release(&s->r);
}

/* Reserve slot pages for [base, +count) of s (count > 0, inside the space). */
static int reserve_slots(struct space_obj *s, unsigned long base, unsigned long count)
{
    return kdir_reserve(&s->r, slot_va(base), slot_va(base + count - 1) + CAP_SLOT_SIZE - 1);
}

/* Whether sel can take a new capability (a create call checks before it allocates the object):
 * E_ARG (selector 0), E_FULL (sel >= OBJ_SELS), E_BUSY (occupied), else E_OK. */
int space_obj_check_free(struct space_obj *s, unsigned long sel)
{
    struct mdb_info info;
    if (sel == SEL_NULL)
        return E_ARG;
    if (sel >= OBJ_SELS)
        return E_FULL;
    return mdb_lookup(&s->mdb, sel, &info) == E_OK ? E_BUSY : E_OK;
}

/* Decode putting a new capability at sel: space_obj_check_free's statuses, or E_NOMEM; on E_OK
   the slot page and the database node are reserved in s and r (space_obj_insert_perform or
   space_obj_insert_cancel follows). */
int space_obj_insert_decode(struct mdb *db, struct space_obj *s, unsigned long sel,
                            struct mdb_root *r)
{
    int err = space_obj_check_free(s, sel);
    if (err != E_OK)
        return err;
    err = reserve_slots(s, sel, 1);
    if (err == E_OK)
        err = mdb_root_reserve(db, r, &s->mdb);
    if (err != E_OK)
        kdir_unreserve(&s->r);
    return err;
}

/* Put c (a new object) at sel as a root of the database, from what r and s reserved. */
void space_obj_insert_perform(struct mdb_root *r, struct space_obj *s, unsigned long sel,
                              struct capability c)
{
    ASSERT(!cap_is_null(c) && c.rights);
    mdb_root_perform(r, NULL, &s->mdb, sel, 1, c.obj, (unsigned)c.rights);
    kdir_unreserve(&s->r);
}

/* Give back what space_obj_insert_decode reserved. */
void space_obj_insert_cancel(struct mdb *db, struct space_obj *s, struct mdb_root *r)
{
    mdb_root_cancel(db, r);
    kdir_unreserve(&s->r);
}

/* Put c (a new object) at sel as a root of the database. E_ARG (sel 0), E_FULL (sel >=
 * OBJ_SELS), E_BUSY (occupied), E_NOMEM; on error nothing changed. */
int space_obj_insert(struct mdb *db, struct space_obj *s, unsigned long sel, struct capability c)
{
    struct mdb_root r;
    int err = space_obj_insert_decode(db, s, sel, &r);
    if (err == E_OK)
        space_obj_insert_perform(&r, s, sel, c);
    return err;
}

/* Remove the capability at sel and everything delegated from it (no-op if empty). */
void space_obj_remove(struct mdb *db, struct space_obj *s, unsigned long sel)
{
    if (sel == SEL_NULL || sel >= OBJ_SELS)
        return;
    int err = mdb_revoke(db, NULL, &s->mdb, sel, 1, ~0u, true);
    ASSERT(err == E_OK || err == E_NOMEM);
}

/* Decode delegating src [src_base, +count) to dst [dst_base, +count) with rights & mask into
 * *d: E_ARG (count 0, dst range holds selector 0), E_RANGE (source range), E_FULL (destination
 * range), then the statuses of mdb_delegate_decode; E_NOMEM also for slot pages. Nothing changed
 * on error; on E_OK dst's slot pages and the nodes are reserved for the perform. */
int space_obj_delegate_decode(struct mdb *db, struct mdb_delegation *d, struct space_obj *src,
                              unsigned long src_base, struct space_obj *dst, unsigned long dst_base,
                              unsigned long count, unsigned mask)
{
    if (count == 0)
        return E_ARG;
    if (src_base >= OBJ_SELS || count > OBJ_SELS - src_base)
        return E_RANGE;
    if (dst_base == SEL_NULL)
        return E_ARG;
    if (dst_base >= OBJ_SELS || count > OBJ_SELS - dst_base)
        return E_FULL;
    /* The hooks must not fail: every slot page the delegation may write is reserved first. */
    int err = reserve_slots(dst, dst_base, count);
    if (err == E_OK)
        err = mdb_delegate_decode(db, d, &src->mdb, src_base, &dst->mdb, dst_base, count, mask);
    if (err != E_OK)
        kdir_unreserve(&dst->r);
    return err;
}

/* Apply what space_obj_delegate_decode accepted into dst; returns the mdb effect. */
unsigned space_obj_delegate_perform(struct mdb *db, struct mdb_delegation *d, struct space_obj *dst)
{
    unsigned effect = mdb_delegate_perform(db, NULL, d);
    kdir_unreserve(&dst->r);
    return effect;
}

/* Read the capability at p (a private page): word 0, rights, word 0 again until stable. */
static bool slot_read(const struct capability *p, struct capability *out)
{
    uint64_t obj;
    do {
        obj = __atomic_load_n(&p->obj, __ATOMIC_ACQUIRE);
        out->rights = __atomic_load_n(&p->rights, __ATOMIC_ACQUIRE);
    } while (obj != __atomic_load_n(&p->obj, __ATOMIC_ACQUIRE));
    out->obj = obj;
    return obj != 0;
}

/* Read slot sel of any PD by a software walk; true and *out if it holds a capability. */
bool space_obj_lookup(const struct space_obj *s, unsigned long sel, struct capability *out)
{
    *out = (struct capability){ 0, 0 };
    if (sel >= OBJ_SELS)
        return false;
    const uint8_t *pg = kdir_peek(&s->r, slot_va(sel));
    return pg && slot_read(slot_in(pg, sel), out);
}

/* Same for the current PD's space s, read through PD_CAPS (may fault to the zero page). Kernel
 * only. */
bool space_obj_lookup_current(const struct space_obj *s, unsigned long sel, struct capability *out)
{
    if (sel >= OBJ_SELS)
        return false;
    if (slot_read((const struct capability *)slot_va(sel), out))
        return true;
    /* Null through the TLB may be a stale zero page: the software walk decides. */
    return space_obj_lookup(s, sel, out);
}

/* Kernel read fault at addr in the capability region of the current PD: map the zero page. False
 * if it cannot be resolved (a write, a protection fault, a user access, no PD): the caller
 * panics. */
bool space_obj_page_fault(vaddr_t addr, mword err)
{
    paddr_t dir = kdir_current();
    if (addr < PD_CAPS || (err & (PFERR_P | PFERR_W | PFERR_U | PFERR_I)) || !dir || !zero.page)
        return false;
    return kdir_fault(space_env, &zero, dir, addr);
}
