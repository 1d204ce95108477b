/*
 * ACPI parsing on tables laid out as the ACPI spec says (RSDP, RSDT/XSDT,
 * MADT with LAPIC, x2APIC and override entries), checksums included, in a
 * fake physical memory. The builders mirror what QEMU's firmware provides.
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
    };
    return cmocka_run_group_tests_name("acpi", tests, NULL, NULL);
}
