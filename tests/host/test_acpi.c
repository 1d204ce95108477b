/*
 * ACPI parsing on tables laid out as the ACPI spec says (RSDP, RSDT/XSDT,
 * MADT with LAPIC, x2APIC and override entries, MCFG, DMAR with units, device scopes and
 * reserved regions), checksums included, in a fake physical memory. The builders mirror
 * what QEMU's firmware provides (q35 with intel-iommu for the DMAR).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "acpi.h"
#include "lapic.h"
#include "data/qemu72_pc_smp2_max4.h"

#define MEM_BASE    0x7FE0000UL         /* where QEMU -m 128M puts its tables */
#define MEM_SIZE    0x4000
#define RSDP_PA     (MEM_BASE + 0x000)
#define ROOT_PA     (MEM_BASE + 0x100)
#define FACP_PA     (MEM_BASE + 0x200)
#define MADT_PA     (MEM_BASE + 0x400)
#define MCFG_PA     (MEM_BASE + 0x800)
#define DMAR_PA     (MEM_BASE + 0xA00)
#define DEV_ROOT_PA (MEM_BASE + 0x1800)

static uint8_t mem[MEM_SIZE];
static size_t madt_len;

/* The map function: fake physical memory, NULL outside it. */
static const void *map(paddr_t pa, size_t len, void *ctx)
{
    (void)ctx;
    if (pa < MEM_BASE || pa + len > MEM_BASE + MEM_SIZE)
        return NULL;
    return mem + (pa - MEM_BASE);
}

static uint8_t *at(paddr_t pa) { return mem + (pa - MEM_BASE); }
static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

/* Set the checksum byte at p[off] so that len bytes sum to zero. */
static void fix_checksum(uint8_t *p, size_t len, size_t off)
{
    uint8_t sum = 0;
    p[off] = 0;
    for (size_t i = 0; i < len; i++)
        sum += p[i];
    p[off] = (uint8_t)-sum;
}

/* Write a 36-byte SDT header with signature sig and total length len. */
static void sdt_header(uint8_t *p, const char *sig, uint32_t len)
{
    memcpy(p, sig, 4);
    put32(p + 4, len);
    p[8] = 1;
    memcpy(p + 10, "TESSRA", 6);
}

/* RSDP revision 0 (RSDT only) or 2 (with XSDT) pointing to ROOT_PA. */
static void make_rsdp(int rev)
{
    uint8_t *r = at(RSDP_PA);
    memcpy(r, "RSD PTR ", 8);
    r[15] = (uint8_t)rev;
    put32(r + 16, rev >= 2 ? 0 : (uint32_t)ROOT_PA);
    if (rev >= 2) {
        put32(r + 20, 36);
        put64(r + 24, ROOT_PA);
    }
    fix_checksum(r, 20, 8);
    if (rev >= 2)
        fix_checksum(r, 36, 32);
}

/* Root table (RSDT or XSDT) listing a FACP and the MADT. */
static void make_root(bool xsdt)
{
    uint8_t *t = at(ROOT_PA);
    unsigned step = xsdt ? 8 : 4;
    sdt_header(t, xsdt ? "XSDT" : "RSDT", 36 + 2 * step);
    sdt_header(at(FACP_PA), "FACP", 36);
    fix_checksum(at(FACP_PA), 36, 9);
    if (xsdt) {
        put64(t + 36, FACP_PA);
        put64(t + 44, MADT_PA);
    } else {
        put32(t + 36, FACP_PA);
        put32(t + 40, MADT_PA);
    }
    fix_checksum(t, 36 + 2 * step, 9);
}

/* Start an empty MADT (LAPIC at 0xFEE00000). */
static void madt_begin(void)
{
    madt_len = 44;
    put32(at(MADT_PA) + 36, 0xFEE00000);
}

/* Append a processor local APIC entry (type 0). */
static void madt_lapic(uint8_t apic_id, uint32_t flags)
{
    uint8_t *e = at(MADT_PA) + madt_len;
    e[0] = 0; e[1] = 8; e[2] = apic_id; e[3] = apic_id;
    put32(e + 4, flags);
    madt_len += 8;
}

/* Append a processor local x2APIC entry (type 9). */
static void madt_x2apic(uint32_t apic_id, uint32_t flags)
{
    uint8_t *e = at(MADT_PA) + madt_len;
    e[0] = 9; e[1] = 16; e[2] = e[3] = 0;
    put32(e + 4, apic_id);
    put32(e + 8, flags);
    put32(e + 12, apic_id);
    madt_len += 16;
}

/* Append an I/O APIC entry (type 1, ignored by the parser). */
static void madt_ioapic(void)
{
    uint8_t *e = at(MADT_PA) + madt_len;
    memset(e, 0, 12);
    e[0] = 1; e[1] = 12;
    put32(e + 4, 0xFEC00000);
    madt_len += 12;
}

/* Append a LAPIC address override entry (type 5). */
static void madt_override(uint64_t addr)
{
    uint8_t *e = at(MADT_PA) + madt_len;
    e[0] = 5; e[1] = 12; e[2] = e[3] = 0;
    put64(e + 4, addr);
    madt_len += 12;
}

/* Finish the MADT: header and checksum. */
static void madt_end(void)
{
    sdt_header(at(MADT_PA), "APIC", (uint32_t)madt_len);
    fix_checksum(at(MADT_PA), madt_len, 9);
}

/* QEMU-like tables: RSDP rev 0, RSDT, MADT with n enabled LAPICs and an I/O APIC. */
static void qemu_tables(unsigned n)
{
    make_rsdp(0);
    make_root(false);
    madt_begin();
    for (unsigned i = 0; i < n; i++)
        madt_lapic((uint8_t)i, 1);
    madt_ioapic();
    madt_end();
}

static int setup(void **state)
{
    (void)state;
    memset(mem, 0, sizeof(mem));
    return 0;
}

static struct acpi_cpus cpus;

static void rsdp_is_found_on_a_16_byte_boundary(void **state)
{
    (void)state;
    qemu_tables(1);
    static uint8_t area[256];
    memcpy(area + 0x40, at(RSDP_PA), 20);
    assert_int_equal(acpi_find_rsdp(area, sizeof(area)), 0x40);
}

static void rsdp_with_a_bad_checksum_is_not_found(void **state)
{
    (void)state;
    qemu_tables(1);
    at(RSDP_PA)[8] ^= 1;
    assert_int_equal(acpi_find_rsdp(at(RSDP_PA), 64), -1);
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_E_RSDP);
}

static void madt_through_rsdt_lists_enabled_cores_in_madt_order(void **state)
{
    (void)state;
    make_rsdp(0);
    make_root(false);
    madt_begin();
    madt_lapic(3, 1);
    madt_lapic(0, 1);
    madt_ioapic();
    madt_lapic(7, 1);
    madt_end();
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_int_equal(cpus.count, 3);
    assert_int_equal(cpus.apic_id[0], 3);
    assert_int_equal(cpus.apic_id[1], 0);
    assert_int_equal(cpus.apic_id[2], 7);
    assert_int_equal(cpus.lapic_base, 0xFEE00000);
}

static void madt_through_xsdt_is_used_with_an_acpi_2_rsdp(void **state)
{
    (void)state;
    make_rsdp(2);
    make_root(true);
    madt_begin();
    madt_lapic(1, 1);
    madt_lapic(2, 1);
    madt_end();
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_int_equal(cpus.count, 2);
    assert_int_equal(cpus.apic_id[1], 2);
}

static void an_acpi_2_rsdp_with_a_bad_extended_checksum_is_rejected(void **state)
{
    (void)state;
    make_rsdp(2);
    make_root(true);
    madt_begin();
    madt_lapic(0, 1);
    madt_end();
    at(RSDP_PA)[32] ^= 0x55;
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_E_RSDP);
}

static void disabled_and_online_capable_entries_are_not_started(void **state)
{
    (void)state;
    make_rsdp(0);
    make_root(false);
    madt_begin();
    madt_lapic(0, 1);
    madt_lapic(1, 0);       /* disabled */
    madt_lapic(2, 2);       /* online capable, not enabled */
    madt_lapic(3, 3);       /* enabled (and online capable) */
    madt_end();
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_int_equal(cpus.count, 2);
    assert_int_equal(cpus.apic_id[1], 3);
    assert_int_equal(cpus.skipped, 2);
}

static void x2apic_entries_are_recorded_with_their_32_bit_ids(void **state)
{
    (void)state;
    make_rsdp(2);
    make_root(true);
    madt_begin();
    madt_lapic(0, 1);
    madt_x2apic(300, 1);
    madt_x2apic(301, 0);
    madt_end();
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_int_equal(cpus.count, 2);
    assert_int_equal(cpus.apic_id[1], 300);
}

/* In xAPIC mode, cores with APIC ids above XAPIC_MAX_ID (255 is the broadcast, 256 would reach
   core 0's id modulo 256) are parked, the others keep their order; the boot core stays. */
static void cores_the_xapic_mode_cannot_address_are_parked(void **state)
{
    (void)state;
    make_rsdp(2);
    make_root(true);
    madt_begin();
    madt_lapic(0, 1);
    madt_x2apic(256, 1);
    madt_lapic(1, 1);
    madt_x2apic(XAPIC_MAX_ID + 1, 1);
    madt_x2apic(XAPIC_MAX_ID, 1);
    madt_x2apic(300, 1);
    madt_end();
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_int_equal(cpus.count, 6);
    acpi_park_above(&cpus, XAPIC_MAX_ID, 300);              /* 300: the boot core */
    assert_int_equal(cpus.count, 4);
    assert_int_equal(cpus.unreachable, 2);
    assert_int_equal(cpus.apic_id[0], 0);
    assert_int_equal(cpus.apic_id[1], 1);
    assert_int_equal(cpus.apic_id[2], XAPIC_MAX_ID);
    assert_int_equal(cpus.apic_id[3], 300);
    assert_int_equal(acpi_keep_core(&cpus, 300), 3);
}

static void a_core_listed_twice_is_counted_once(void **state)
{
    (void)state;
    make_rsdp(0);
    make_root(false);
    madt_begin();
    madt_lapic(5, 1);
    madt_x2apic(5, 1);
    madt_end();
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_int_equal(cpus.count, 1);
    assert_int_equal(cpus.skipped, 1);
}

static void cores_beyond_the_limit_are_counted_as_excess_not_recorded(void **state)
{
    (void)state;
    qemu_tables(6);
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, 4, &cpus), ACPI_OK);
    assert_int_equal(cpus.count, 4);
    assert_int_equal(cpus.excess, 2);
    assert_int_equal(cpus.apic_id[3], 3);
}

static void a_boot_core_beyond_the_limit_takes_the_last_slot(void **state)
{
    (void)state;
    qemu_tables(6);
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, 4, &cpus), ACPI_OK);
    assert_int_equal(acpi_keep_core(&cpus, 1), 1);          /* recorded: stays where it is */
    assert_int_equal(acpi_keep_core(&cpus, 5), 3);          /* among the excess: last slot */
    assert_int_equal(cpus.apic_id[3], 5);
    assert_int_equal(cpus.count, 4);
    assert_int_equal(cpus.excess, 2);
    assert_int_equal(cpus.apic_id[0], 0);
}

static void a_boot_core_not_listed_is_not_kept(void **state)
{
    (void)state;
    qemu_tables(2);
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_int_equal(acpi_keep_core(&cpus, 9), -1);
    assert_int_equal(cpus.count, 2);
    assert_int_equal(cpus.apic_id[1], 1);
}

static void a_lapic_address_override_replaces_the_32_bit_address(void **state)
{
    (void)state;
    make_rsdp(0);
    make_root(false);
    madt_begin();
    madt_lapic(0, 1);
    madt_override(0x1FEE00000UL);
    madt_end();
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_int_equal(cpus.lapic_base, 0x1FEE00000UL);
}

static void a_madt_with_a_bad_checksum_is_rejected(void **state)
{
    (void)state;
    qemu_tables(2);
    at(MADT_PA)[44 + 2] ^= 1;
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_E_MADT);
}

static void a_root_table_with_a_bad_checksum_is_rejected(void **state)
{
    (void)state;
    qemu_tables(2);
    at(ROOT_PA)[40] ^= 1;
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_E_ROOT);
}

static void a_root_without_madt_is_reported(void **state)
{
    (void)state;
    qemu_tables(2);
    memcpy(at(MADT_PA), "XXXX", 4);
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_E_NOMADT);
}

static void a_madt_entry_of_length_zero_is_rejected_not_looped_on(void **state)
{
    (void)state;
    make_rsdp(0);
    make_root(false);
    madt_begin();
    madt_lapic(0, 1);
    at(MADT_PA)[madt_len + 1] = 0;          /* an entry claiming length 0 */
    madt_len += 4;
    madt_end();
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_E_MADT);
}

static void a_madt_entry_running_past_the_table_is_rejected(void **state)
{
    (void)state;
    make_rsdp(0);
    make_root(false);
    madt_begin();
    madt_lapic(0, 1);
    madt_end();
    at(MADT_PA)[44 + 1] = 200;
    fix_checksum(at(MADT_PA), madt_len, 9);
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_E_MADT);
}

static void tables_outside_reachable_memory_are_reported_not_read(void **state)
{
    (void)state;
    qemu_tables(1);
    put32(at(ROOT_PA) + 40, 0x40000000);
    fix_checksum(at(ROOT_PA), 44, 9);
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_E_NOMADT);
    assert_int_equal(acpi_parse(0x1000, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_E_RSDP);
}

/* Recorded QEMU tables at their recorded physical addresses; other tables unreachable. */
static const void *map_qemu(paddr_t pa, size_t len, void *ctx)
{
    static const struct { paddr_t pa; const uint8_t *b; size_t len; } t[] = {
        { QEMU_RSDP_PA, qemu_rsdp, sizeof(qemu_rsdp) },
        { QEMU_ROOT_PA, qemu_root, sizeof(qemu_root) },
        { QEMU_MADT_PA, qemu_madt, sizeof(qemu_madt) },
    };
    (void)ctx;
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
        if (pa >= t[i].pa && pa + len <= t[i].pa + t[i].len)
            return t[i].b + (pa - t[i].pa);
    return NULL;
}

static void recorded_qemu_tables_give_the_two_enabled_cores_and_skip_two_hotpluggable(void **state)
{
    (void)state;
    assert_int_equal(acpi_find_rsdp(qemu_rsdp, sizeof(qemu_rsdp)), 0);
    assert_int_equal(acpi_parse(QEMU_RSDP_PA, map_qemu, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_int_equal(cpus.count, 2);
    assert_int_equal(cpus.apic_id[0], 0);
    assert_int_equal(cpus.apic_id[1], 1);
    assert_int_equal(cpus.skipped, 2);
    assert_int_equal(cpus.excess, 0);
    assert_int_equal(cpus.lapic_base, 0xFEE00000);
    assert_int_equal(cpus.madt_pa, QEMU_MADT_PA);
}

static void recorded_qemu_tables_with_one_flipped_madt_byte_are_rejected(void **state)
{
    (void)state;
    static uint8_t madt[sizeof(qemu_madt)];
    memcpy(madt, qemu_madt, sizeof(madt));
    madt[sizeof(madt) - 1] ^= 0x80;
    memcpy(mem, madt, sizeof(madt));
    /* Point a copy of the RSDT at the damaged copy in fake memory. */
    uint8_t *root = mem + 0x1000;
    memcpy(root, qemu_root, sizeof(qemu_root));
    for (size_t off = 36; off + 4 <= sizeof(qemu_root); off += 4) {
        uint32_t v;
        memcpy(&v, root + off, 4);
        if (v == QEMU_MADT_PA)
            put32(root + off, (uint32_t)MEM_BASE);
    }
    fix_checksum(root, sizeof(qemu_root), 9);
    uint8_t *r = mem + 0x2000;
    memcpy(r, qemu_rsdp, sizeof(qemu_rsdp));
    put32(r + 16, (uint32_t)(MEM_BASE + 0x1000));
    fix_checksum(r, 20, 8);
    assert_int_equal(acpi_parse(MEM_BASE + 0x2000, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_E_MADT);
}

/* An XSDT at DEV_ROOT_PA (and an ACPI 2 RSDP to it) listing the FACP, the MADT, an MCFG
 * (ECAM 0xB0000000, buses 0-255, after an entry of segment 1) and the DMAR begun by
 * dmar_begin. */
static void dev_root(void)
{
    qemu_tables(2);
    make_rsdp(2);
    uint8_t *t = at(DEV_ROOT_PA);
    sdt_header(t, "XSDT", 36 + 4 * 8);
    put64(t + 36, FACP_PA);
    put64(t + 44, MADT_PA);
    put64(t + 52, MCFG_PA);
    put64(t + 60, DMAR_PA);
    fix_checksum(t, 36 + 4 * 8, 9);
    uint8_t *m = at(MCFG_PA);
    sdt_header(m, "MCFG", 44 + 2 * 16);
    put64(m + 44, 0xC0000000);
    m[44 + 8] = 1;                          /* segment 1: not used */
    put64(m + 60, 0xB0000000);
    m[60 + 10] = 0;
    m[60 + 11] = 255;
    fix_checksum(m, 44 + 2 * 16, 9);
    uint8_t *r = at(RSDP_PA);
    put64(r + 24, DEV_ROOT_PA);
    fix_checksum(r, 20, 8);
    fix_checksum(r, 36, 32);
}

static size_t dmar_len;

/* Start the DMAR: host address width 39, interrupt remapping flag. */
static void dmar_begin(void)
{
    dmar_len = 48;
    at(DMAR_PA)[36] = 39 - 1;
    at(DMAR_PA)[37] = 1;
}

/* Append a structure of type type and length len (body zeroed); its address. */
static uint8_t *dmar_struct_add(uint16_t type, uint16_t len)
{
    uint8_t *s = at(DMAR_PA) + dmar_len;
    memset(s, 0, len);
    memcpy(s, &type, 2);
    memcpy(s + 2, &len, 2);
    dmar_len += len;
    return s;
}

/* Append a device scope (type, start bus, one path entry dev.fn) to the structure s. */
static void dmar_scope(uint8_t *s, uint8_t type, uint8_t bus, uint8_t dev, uint8_t fn)
{
    uint16_t len;
    memcpy(&len, s + 2, 2);
    uint8_t *e = s + len;
    memset(e, 0, 8);
    e[0] = type; e[1] = 8; e[4] = type == 3 ? 2 : 0; e[5] = bus; e[6] = dev; e[7] = fn;
    len += 8;
    memcpy(s + 2, &len, 2);
    dmar_len += 8;
}

/* Finish the DMAR: header and checksum. */
static void dmar_end(void)
{
    sdt_header(at(DMAR_PA), "DMAR", (uint32_t)dmar_len);
    fix_checksum(at(DMAR_PA), dmar_len, 9);
}

/* A DMAR as QEMU builds it for q35 with intel-iommu: one unit at 0xFED90000 listing the
 * I/O APIC and each bus-0 device; plus one reserved region for device 00:1d.0. */
static void qemu_dmar(void)
{
    dmar_begin();
    uint8_t *d = dmar_struct_add(0, 16);
    put64(d + 8, 0xFED90000);
    dmar_scope(d, 3, 0xFF, 0, 0);
    dmar_scope(d, 1, 0, 0, 0);
    dmar_scope(d, 1, 0, 3, 0);
    dmar_scope(d, 1, 0, 31, 2);
    uint8_t *m = dmar_struct_add(1, 24);
    put64(m + 8, 0x7F000000);
    put64(m + 16, 0x7F0FFFFF);
    dmar_scope(m, 1, 0, 29, 0);
    dmar_end();
}

static struct acpi_dmar dmar;

static void mcfg_gives_the_ecam_base_and_buses_of_segment_0(void **state)
{
    (void)state;
    struct acpi_mcfg mcfg;
    dev_root();
    qemu_dmar();
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_true(cpus.root_xsdt);
    assert_int_equal(cpus.root_pa, DEV_ROOT_PA);
    assert_int_equal(acpi_parse_mcfg(cpus.root_pa, true, map, NULL, &mcfg), ACPI_OK);
    assert_int_equal(mcfg.base, 0xB0000000);
    assert_int_equal(mcfg.bus_start, 0);
    assert_int_equal(mcfg.bus_end, 255);
}

static void one_lookup_finds_every_table_and_none_that_is_absent(void **state)
{
    (void)state;
    dev_root();
    qemu_dmar();
    assert_int_equal(acpi_find_table(DEV_ROOT_PA, true, "APIC", map, NULL), MADT_PA);
    assert_int_equal(acpi_find_table(DEV_ROOT_PA, true, "MCFG", map, NULL), MCFG_PA);
    assert_int_equal(acpi_find_table(DEV_ROOT_PA, true, "DMAR", map, NULL), DMAR_PA);
    assert_int_equal(acpi_find_table(DEV_ROOT_PA, true, "HPET", map, NULL), 0);
    assert_int_equal(acpi_find_table(DEV_ROOT_PA, false, "APIC", map, NULL), 0); /* not an RSDT */
}

static void dmar_units_scopes_and_reserved_regions_are_recorded(void **state)
{
    (void)state;
    dev_root();
    qemu_dmar();
    assert_int_equal(acpi_parse_dmar(DEV_ROOT_PA, true, map, NULL, &dmar), ACPI_OK);
    assert_int_equal(dmar.haw, 39);
    assert_int_equal(dmar.flags, ACPI_DMAR_INTR_REMAP);
    assert_int_equal(dmar.ndrhd, 1);
    assert_int_equal(dmar.drhd[0].base, 0xFED90000);
    assert_false(dmar.drhd[0].include_all);
    assert_int_equal(dmar.drhd[0].nscope, 4);
    assert_int_equal(dmar.drhd[0].scope[0].type, ACPI_SCOPE_IOAPIC);
    assert_int_equal(dmar.drhd[0].scope[0].enum_id, 2);
    assert_int_equal(dmar.drhd[0].scope[2].type, ACPI_SCOPE_ENDPOINT);
    assert_int_equal(dmar.drhd[0].scope[2].dev, 3);
    assert_int_equal(dmar.drhd[0].scope[3].dev, 31);
    assert_int_equal(dmar.drhd[0].scope[3].fn, 2);
    assert_int_equal(dmar.drhd[0].scope[3].depth, 1);
    assert_int_equal(dmar.nrmrr, 1);
    assert_int_equal(dmar.rmrr[0].base, 0x7F000000);
    assert_int_equal(dmar.rmrr[0].limit, 0x7F0FFFFF);
    assert_int_equal(dmar.rmrr[0].nscope, 1);
    assert_int_equal(dmar.rmrr[0].scope[0].dev, 29);
    assert_int_equal(dmar.excess + dmar.scope_excess, 0);
}

static void a_root_without_dmar_or_mcfg_reports_no_table(void **state)
{
    (void)state;
    struct acpi_mcfg mcfg;
    qemu_tables(2);
    assert_int_equal(acpi_parse(RSDP_PA, map, NULL, ACPI_MAX_CPUS, &cpus), ACPI_OK);
    assert_int_equal(acpi_parse_dmar(cpus.root_pa, cpus.root_xsdt, map, NULL, &dmar),
                     ACPI_E_NOTABLE);
    assert_int_equal(dmar.ndrhd, 0);
    assert_int_equal(acpi_parse_mcfg(cpus.root_pa, cpus.root_xsdt, map, NULL, &mcfg),
                     ACPI_E_NOTABLE);
    assert_int_equal(mcfg.base, 0);
}

static void a_dmar_with_a_bad_checksum_is_rejected(void **state)
{
    (void)state;
    dev_root();
    qemu_dmar();
    at(DMAR_PA)[60] ^= 1;
    assert_int_equal(acpi_parse_dmar(DEV_ROOT_PA, true, map, NULL, &dmar), ACPI_E_TABLE);
}

static void a_dmar_structure_of_length_zero_is_rejected_not_looped_on(void **state)
{
    (void)state;
    dev_root();
    dmar_begin();
    dmar_struct_add(0, 16);
    dmar_len += 4;                          /* a structure header of length 0 follows */
    dmar_end();
    assert_int_equal(acpi_parse_dmar(DEV_ROOT_PA, true, map, NULL, &dmar), ACPI_E_TABLE);
}

static void a_dmar_structure_running_past_the_table_is_rejected(void **state)
{
    (void)state;
    dev_root();
    qemu_dmar();
    uint16_t len = 0x200;
    memcpy(at(DMAR_PA) + 48 + 2, &len, 2);
    dmar_end();
    assert_int_equal(acpi_parse_dmar(DEV_ROOT_PA, true, map, NULL, &dmar), ACPI_E_TABLE);
}

static void a_device_scope_running_past_its_unit_or_with_an_odd_path_is_rejected(void **state)
{
    (void)state;
    dev_root();
    qemu_dmar();
    at(DMAR_PA)[48 + 16 + 1] = 0x40;        /* the first scope's length: past the unit */
    dmar_end();
    assert_int_equal(acpi_parse_dmar(DEV_ROOT_PA, true, map, NULL, &dmar), ACPI_E_TABLE);
    qemu_dmar();
    at(DMAR_PA)[48 + 16 + 1] = 7;           /* a path of one and a half entries */
    dmar_end();
    assert_int_equal(acpi_parse_dmar(DEV_ROOT_PA, true, map, NULL, &dmar), ACPI_E_TABLE);
    qemu_dmar();
    at(DMAR_PA)[48 + 16 + 1] = 0;           /* length zero */
    dmar_end();
    assert_int_equal(acpi_parse_dmar(DEV_ROOT_PA, true, map, NULL, &dmar), ACPI_E_TABLE);
}

static void a_reserved_region_ending_below_its_base_is_rejected(void **state)
{
    (void)state;
    dev_root();
    qemu_dmar();
    put64(at(DMAR_PA) + 48 + 16 + 4 * 8 + 16, 0x1000);     /* the RMRR's limit */
    dmar_end();
    assert_int_equal(acpi_parse_dmar(DEV_ROOT_PA, true, map, NULL, &dmar), ACPI_E_TABLE);
}

static void scopes_and_units_beyond_the_limits_are_counted_not_recorded(void **state)
{
    (void)state;
    dev_root();
    dmar_begin();
    for (unsigned u = 0; u < ACPI_DMAR_UNITS + 1; u++) {
        uint8_t *d = dmar_struct_add(0, 16);
        put64(d + 8, 0xFED90000 + 0x1000 * u);
        for (unsigned i = 0; u == 0 && i < ACPI_DMAR_SCOPES + 2; i++)
            dmar_scope(d, 1, 0, (uint8_t)(i / 8), (uint8_t)(i % 8));
    }
    dmar_end();
    assert_int_equal(acpi_parse_dmar(DEV_ROOT_PA, true, map, NULL, &dmar), ACPI_OK);
    assert_int_equal(dmar.ndrhd, ACPI_DMAR_UNITS);
    assert_int_equal(dmar.excess, 1);
    assert_int_equal(dmar.drhd[0].nscope, ACPI_DMAR_SCOPES);
    assert_int_equal(dmar.scope_excess, 2);
    assert_int_equal(dmar.drhd[ACPI_DMAR_UNITS - 1].base,
                     0xFED90000 + 0x1000 * (ACPI_DMAR_UNITS - 1));
}

#define T(f) cmocka_unit_test_setup(f, setup)
int main(void)
{
    const struct CMUnitTest tests[] = {
        T(rsdp_is_found_on_a_16_byte_boundary),
        T(rsdp_with_a_bad_checksum_is_not_found),
        T(madt_through_rsdt_lists_enabled_cores_in_madt_order),
        T(madt_through_xsdt_is_used_with_an_acpi_2_rsdp),
        T(an_acpi_2_rsdp_with_a_bad_extended_checksum_is_rejected),
        T(disabled_and_online_capable_entries_are_not_started),
        T(x2apic_entries_are_recorded_with_their_32_bit_ids),
        T(cores_the_xapic_mode_cannot_address_are_parked),
        T(a_core_listed_twice_is_counted_once),
        T(cores_beyond_the_limit_are_counted_as_excess_not_recorded),
        T(a_boot_core_beyond_the_limit_takes_the_last_slot),
        T(a_boot_core_not_listed_is_not_kept),
        T(a_lapic_address_override_replaces_the_32_bit_address),
        T(a_madt_with_a_bad_checksum_is_rejected),
        T(a_root_table_with_a_bad_checksum_is_rejected),
        T(a_root_without_madt_is_reported),
        T(a_madt_entry_of_length_zero_is_rejected_not_looped_on),
        T(a_madt_entry_running_past_the_table_is_rejected),
        T(tables_outside_reachable_memory_are_reported_not_read),
        T(recorded_qemu_tables_give_the_two_enabled_cores_and_skip_two_hotpluggable),
        T(recorded_qemu_tables_with_one_flipped_madt_byte_are_rejected),
        T(mcfg_gives_the_ecam_base_and_buses_of_segment_0),
        T(one_lookup_finds_every_table_and_none_that_is_absent),
        T(dmar_units_scopes_and_reserved_regions_are_recorded),
        T(a_root_without_dmar_or_mcfg_reports_no_table),
        T(a_dmar_with_a_bad_checksum_is_rejected),
        T(a_dmar_structure_of_length_zero_is_rejected_not_looped_on),
        T(a_dmar_structure_running_past_the_table_is_rejected),
        T(a_device_scope_running_past_its_unit_or_with_an_odd_path_is_rejected),
        T(a_reserved_region_ending_below_its_base_is_rejected),
        T(scopes_and_units_beyond_the_limits_are_counted_not_recorded),
    };
    return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
