/*
 * Space_pio: a PD's I/O space, the I/O permission bitmap (1 bit per port, 1 = deny)
 * at PD_IOBMP (8 KiB) of its kdir. The CPU reads it through the TSS: iomap_base
 * points at PD_IOBMP in every core's TSS, and PDPT 511 of the running root is the
 * running PD's kdir, so no switch is needed per PD (arch/x86_64/gdt.c).
 *
 * Unpopulated parts read as all ones (deny) through a shared read-only page that
 * space_pio_page_fault maps on demand (lecture: Space_pio::page_fault). The same
 * shared page also backs the byte after the bitmap, which the SDM requires to be
 * 0xFF and inside the TSS limit (the CPU reads two bytes for every check): it is
 * never written, so it always reads 0xFF.
 *
 * Ports are identity-mapped: unit p of the database is port p (target = unit).
 */
#pragma once
#include "mdb.h"
#include "kdir.h"

#define PIO_BITMAP_END      (PD_IOBMP + PD_IOBMP_SIZE)      /* the terminating 0xFF byte */
#define PIO_FAULT_FIRST     PD_IOBMP                        /* kernel faults here go to space_pio */
#define PIO_FAULT_LAST      (PIO_BITMAP_END + PTAB_PAGE_SIZE - 1) /* bitmap + terminator page */

struct space_pio {
    struct mdb_space mdb;       /* this space in the mapping database (owner = this) */
    struct kdir_region r;       /* r.pages: real bitmap pages (0..2) */
    void (*shootdown)(struct space_pio *s); /* space_pio_shootdown; self-checks use their own */
};

/* The mdb hooks of I/O spaces (the I/O bitmap). */
extern const struct mdb_ops space_pio_ops;
int  space_pio_init(struct space_pio *s, paddr_t kdir);
void space_pio_destroy(struct space_pio *s);
int  space_pio_grant(struct mdb *db, struct space_pio *s, unsigned long port, unsigned long count);
int  space_pio_delegate_decode(struct mdb *db, struct mdb_delegation *d, struct space_pio *src,
                               unsigned long src_base, struct space_pio *dst,
                               unsigned long dst_base, unsigned long count, unsigned mask);
unsigned space_pio_delegate_perform(struct mdb *db, struct mdb_delegation *d,
                                    struct space_pio *dst);
int  space_pio_allow(struct space_pio *s, unsigned long port, unsigned long count);
void space_pio_deny(struct space_pio *s, unsigned long port, unsigned long count);
bool space_pio_allowed(const struct space_pio *s, unsigned long port);
bool space_pio_page_fault(vaddr_t addr, mword err);

/* Provided by the PD code (kernel/pd.c): */

void space_pio_shootdown(struct space_pio *s);
