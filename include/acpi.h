/*
 * ACPI: find the cores (RSDP -> RSDT/XSDT -> MADT). Pure logic, host-tested:
 * physical memory is reached through a caller-supplied map function.
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
};

/* Map [pa, pa+len) for reading; NULL if it cannot be reached. */
typedef const void *(*acpi_map_fn)(paddr_t pa, size_t len, void *ctx);

long acpi_find_rsdp(const void *buf, size_t len);
int acpi_parse(paddr_t rsdp_pa, acpi_map_fn map, void *ctx, unsigned max, struct acpi_cpus *out);
int acpi_keep_core(struct acpi_cpus *c, uint32_t apic_id);
void acpi_park_above(struct acpi_cpus *c, uint32_t max_id, uint32_t keep);
