/*
 * Space_pio (lecture: "Protection Domain", Space_pio::page_fault): the I/O
 * permission bitmap of a PD in its kdir, bit p of byte p/8 for port p (1 = deny).
 *
 * Flushes. A bitmap page goes hole -> shared all-ones page -> real page, never back
 * while the PD lives; denying a port only sets a bit in a real page (no translation
 * changes, the CPU sees the store at once). Allowing a port may replace the shared
 * page: another core running the PD may still translate through the old page and
 * would deny the port, so after such a replacement s->shootdown (space_pio_shootdown) runs
 * (the local core flushed already in kdir_page).
 */
#include "space_pio.h"
#include "syscall.h"
#include "panic.h"

#define PIO_FILL        0xFF                            /* shared page: every port denied */
#define PORTS_PER_BYTE  8

static struct kdir_shared ones;                         /* the shared all-ones page and its PT */

/* Address of the bitmap byte holding port's bit. */
static vaddr_t byte_va(unsigned long port)
{
    return PD_IOBMP + port / PORTS_PER_BYTE;
}

/* The mask of port's bit in its byte. */
static uint8_t port_bit(unsigned long port)
{
    return (uint8_t)(1u << (port % PORTS_PER_BYTE));
}

/* True if [port, +count) is a non-empty range of ports. */
static bool ports_ok(unsigned long port, unsigned long count)
{
    return count && port < PIO_PORTS && count <= PIO_PORTS - port;
}

/* Clear the bits of [port, +count) (pages must be reserved). */
static void bits_allow(struct space_pio *s, unsigned long port, unsigned long count)
{
    for (unsigned long p = port; p < port + count; p++) {
        uint8_t *pg = kdir_page(&s->r, byte_va(p));
        __atomic_fetch_and(&pg[byte_va(p) % PTAB_PAGE_SIZE], (uint8_t)~port_bit(p),
                           __ATOMIC_RELEASE);
    }
}

/* Set the bits of [port, +count) where a real page exists (elsewhere they read as 1). */
static void bits_deny(struct space_pio *s, unsigned long port, unsigned long count)
{
    for (unsigned long p = port; p < port + count; p++) {
        uint8_t *pg = (uint8_t *)kdir_peek(&s->r, byte_va(p));
        if (pg)
            __atomic_fetch_or(&pg[byte_va(p) % PTAB_PAGE_SIZE], port_bit(p), __ATOMIC_RELEASE);
    }
}

/* mdb hook: ports [base, +size) become accessible (identity: target = base). */
static void pio_map(struct mdb_space *m, struct shootdown_batch *b, uint64_t base, uint64_t size,
                    uint64_t target, unsigned rights)
{
    (void)b;
    ASSERT(target == base && (rights & PIO_A));
    bits_allow(m->owner, base, size);
}

/* mdb hook: fewer rights than PIO_A is none, so the only subset left is PIO_A itself. */
static void pio_protect(struct mdb_space *m, struct shootdown_batch *b,
                        uint64_t base, uint64_t size, unsigned rights)
{
    (void)m, (void)b, (void)base, (void)size;
    ASSERT(rights & PIO_A);
}

/* mdb hook: ports [base, +size) are denied again. */
static void pio_unmap(struct mdb_space *m, struct shootdown_batch *b, uint64_t base, uint64_t size)
{
    (void)b;
    bits_deny(m->owner, base, size);
}

const struct mdb_ops space_pio_ops = { pio_map, pio_protect, pio_unmap, NULL };

/* Attach an empty I/O space (every port denied) to kdir; E_NOMEM (first call: shared page). */
int space_pio_init(struct space_pio *s, paddr_t kdir)
{
    if (!ones.page &&
        kdir_shared_init(&ones, space_env, PIO_FILL, PIO_FAULT_FIRST, PIO_FAULT_LAST) != E_OK)
        return E_NOMEM;
    mdb_space_init(&s->mdb, &space_pio_ops, s, PIO_PORTS);
    s->shootdown = space_pio_shootdown;
    /* The region ends with the bitmap: the terminator page is only ever the shared page. */
    kdir_region_init(&s->r, space_env, &ones, kdir, PD_IOBMP, PD_IOBMP_LAST, PIO_FILL);
    return E_OK;
}

/* Free the bitmap pages and table. Before: mdb teardown of s, PD running nowhere (flushed). */
void space_pio_destroy(struct space_pio *s)
{
    ASSERT(s->mdb.nodes == 0);
    kdir_region_release(&s->r);
}

/* Reserve the bitmap pages of ports [port, +count) (a valid range). */
static int reserve_ports(struct space_pio *s, unsigned long port, unsigned long count)
{
    return kdir_reserve(&s->r, byte_va(port), byte_va(port + count - 1));
}

/* Return the reserve; shoot down other cores' translations if a shared page was replaced. */
static void finish(struct space_pio *s)
{
    if (kdir_unreserve(&s->r))
        s->shootdown(s);
}

/* Give s ports [port, +count) as a database root (the root PD). E_ARG, E_RANGE, E_BUSY, E_NOMEM. */
int space_pio_grant(struct mdb *db, struct space_pio *s, unsigned long port, unsigned long count)
{
    if (!count)
        return E_ARG;
    if (!ports_ok(port, count))
        return E_RANGE;
    int err = reserve_ports(s, port, count);
    if (err == E_OK)
        err = mdb_insert_root(db, NULL, &s->mdb, port, count, port, PIO_A);
    finish(s);
    return err;
}

/* Decode delegating src ports [src_base, +count) to dst into *d: E_ARG (count 0, or dst_base !=
 * src_base: ports are identity-mapped), E_RANGE (beyond port 0xFFFF), then mdb_delegate_decode's;
 * nothing changed on error; on E_OK dst's bitmap pages and the nodes are reserved. */
int space_pio_delegate_decode(struct mdb *db, struct mdb_delegation *d, struct space_pio *src,
                              unsigned long src_base, struct space_pio *dst, unsigned long dst_base,
                              unsigned long count, unsigned mask)
{
    if (!count)
        return E_ARG;
    if (!ports_ok(src_base, count) || !ports_ok(dst_base, count))
        return E_RANGE;
    if (dst_base != src_base)
        return E_ARG;
    int err = reserve_ports(dst, dst_base, count);
    if (err == E_OK)
        err = mdb_delegate_decode(db, d, &src->mdb, src_base, &dst->mdb, dst_base, count, mask);
    if (err != E_OK)
        finish(dst);
    return err;
}

/* Apply what space_pio_delegate_decode accepted into dst; returns the mdb effect. */
unsigned space_pio_delegate_perform(struct mdb *db, struct mdb_delegation *d, struct space_pio *dst)
{
    unsigned effect = mdb_delegate_perform(db, NULL, d);
    finish(dst);
    return effect;
}

/* Bitmap only (no database): allow ports [port, +count); E_NOMEM, E_RANGE. */
int space_pio_allow(struct space_pio *s, unsigned long port, unsigned long count)
{
    if (!ports_ok(port, count))
        return E_RANGE;
    int err = reserve_ports(s, port, count);
    if (err == E_OK)
        bits_allow(s, port, count);
    finish(s);
    return err;
}

/* Bitmap only: deny ports [port, +count) (ports outside the space are ignored). */
void space_pio_deny(struct space_pio *s, unsigned long port, unsigned long count)
{
    if (port < PIO_PORTS)
        bits_deny(s, port, MIN(count, PIO_PORTS - port));
}

/* Whether s's bitmap allows port (software walk; any PD). */
bool space_pio_allowed(const struct space_pio *s, unsigned long port)
{
    if (port >= PIO_PORTS)
        return false;
    const uint8_t *pg = kdir_peek(&s->r, byte_va(port));
    return pg && !(__atomic_load_n(&pg[byte_va(port) % PTAB_PAGE_SIZE], __ATOMIC_ACQUIRE) &
                   port_bit(port));
}

/* Kernel-mode (or CPU bitmap check) read fault at addr in [PIO_FAULT_FIRST, PIO_FAULT_LAST] of
 * the current PD: map the shared all-ones page. False if it cannot be resolved: the caller
 * panics. */
bool space_pio_page_fault(vaddr_t addr, mword err)
{
    paddr_t dir = kdir_current();
    if (addr < PIO_FAULT_FIRST || addr > PIO_FAULT_LAST ||
        (err & (PFERR_P | PFERR_W | PFERR_U | PFERR_I)) || !dir || !ones.page)
        return false;
    return kdir_fault(space_env, &ones, dir, addr);
}
