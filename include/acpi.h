/*
 * ACPI: find the cores (RSDP -> RSDT/XSDT -> MADT), the PCI configuration space (MCFG) and
 * the VT-d remapping units (DMAR). Pure logic, host-tested: physical memory is reached
 * through a caller-supplied map function; every table is found by acpi_find_table.
 */
#pragma once
#include "types.h"
#include "layout.h"

#define ACPI_MAX_CPUS   NUM_CPU

enum acpi_status {
    ACPI_OK       = 0,
    ACPI_E_RSDP   = -1,   /* RSDP missing, bad signature or checksum */
    ACPI_E_ROOT   = -2,   /* RSDT/XSDT unreadable, bad signature or checksum */
    ACPI_E_NOMADT = -3,   /* no MADT ("APIC") in the root table */
    ACPI_E_MADT   = -4,   /* MADT bad checksum or malformed entries */
    ACPI_E_NOTABLE = -5,  /* the table asked for is not in the root table */
    ACPI_E_TABLE  = -6,   /* the table is unreadable, has a bad checksum or malformed entries */
};

/* The cores found in the MADT, in MADT order: core id = index. */
struct acpi_cpus {
    unsigned count;                     /* enabled cores recorded */
    unsigned excess;                    /* enabled cores beyond the limit: left parked */
    unsigned skipped;                   /* disabled (incl. online-capable) or duplicate entries */
    unsigned unreachable;               /* enabled cores the LAPIC mode cannot address: parked */
    uint32_t apic_id[ACPI_MAX_CPUS];    /* APIC id (x2APIC id for type 9 entries) */
    paddr_t lapic_base;                 /* LAPIC MMIO base (override entry wins) */
    paddr_t root_pa, madt_pa;           /* where the RSDT/XSDT and the MADT were found */
    bool root_xsdt;                     /* root_pa is an XSDT (8-byte entries), else an RSDT */
};

/* MCFG: the enhanced (memory-mapped) PCI configuration space of segment 0, if listed. */
struct acpi_mcfg {
    paddr_t base;                       /* ECAM base: bus b at base + (b << 20) */
    unsigned bus_start, bus_end;        /* the buses it covers (inclusive) */
};

#define ACPI_DMAR_UNITS   4             /* DRHD units recorded (more: counted in excess) */
#define ACPI_DMAR_RMRRS   8             /* RMRR regions recorded */
#define ACPI_DMAR_SCOPES  64            /* device scopes recorded per unit or region */

/* A DMAR device scope entry: the device (or hierarchy) a unit or region applies to. */
struct acpi_dmar_scope {
    uint8_t type;                       /* ACPI_SCOPE_* */
    uint8_t bus, dev, fn;               /* start bus and the path's first device/function */
    uint8_t depth;                      /* path entries (more than 1: behind bridges) */
    uint8_t enum_id;                    /* I/O APIC or HPET number */
};
#define ACPI_SCOPE_ENDPOINT 1           /* PCI endpoint device */
#define ACPI_SCOPE_BRIDGE   2           /* PCI sub-hierarchy */
#define ACPI_SCOPE_IOAPIC   3
#define ACPI_SCOPE_HPET     4
#define ACPI_SCOPE_ACPI     5           /* ACPI namespace device */

/* DMAR: the remapping hardware units (DRHD) and the reserved memory regions (RMRR). */
struct acpi_dmar {
    unsigned haw;                       /* host address width in bits */
    unsigned flags;                     /* ACPI_DMAR_INTR_REMAP, ... */
    unsigned ndrhd, nrmrr, excess;      /* recorded units and regions; structures not recorded */
    unsigned scope_excess;              /* device scopes not recorded (their devices: no unit) */
    struct acpi_drhd {
        paddr_t base;                   /* register base */
        uint16_t segment;
        bool include_all;               /* unit covers every device of the segment not listed */
        unsigned nscope;
        struct acpi_dmar_scope scope[ACPI_DMAR_SCOPES];
    } drhd[ACPI_DMAR_UNITS];
    struct acpi_rmrr {
        paddr_t base, limit;            /* [base, limit]: limit is the last byte */
        uint16_t segment;
        unsigned nscope;
        struct acpi_dmar_scope scope[ACPI_DMAR_SCOPES];
    } rmrr[ACPI_DMAR_RMRRS];
};
#define ACPI_DMAR_INTR_REMAP   (1u << 0) /* flags: interrupt remapping supported */
#define ACPI_DMAR_X2APIC_OPTOUT (1u << 1)

/* Map [pa, pa+len) for reading; NULL if it cannot be reached. */
typedef const void *(*acpi_map_fn)(paddr_t pa, size_t len, void *ctx);

long acpi_find_rsdp(const void *buf, size_t len);
int acpi_parse(paddr_t rsdp_pa, acpi_map_fn map, void *ctx, unsigned max, struct acpi_cpus *out);
int acpi_keep_core(struct acpi_cpus *c, uint32_t apic_id);
void acpi_park_above(struct acpi_cpus *c, uint32_t max_id, uint32_t keep);
paddr_t acpi_find_table(paddr_t root, bool xsdt, const char *sig, acpi_map_fn map, void *ctx);
int acpi_parse_mcfg(paddr_t root, bool xsdt, acpi_map_fn map, void *ctx, struct acpi_mcfg *out);
int acpi_parse_dmar(paddr_t root, bool xsdt, acpi_map_fn map, void *ctx, struct acpi_dmar *out);
