/* Boot memory: the AP trampoline's page is free RAM that holds no module or loader data. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "bootinfo.h"
#include "layout.h"
#include "multiboot.h"

#define MB_MEM_RESERVED 2               /* any type but MB_MEM_AVAILABLE */

static struct boot_info bi;

static int setup(void **state)
{
    (void)state;
    memset(&bi, 0, sizeof(bi));
    return 0;
}

/* Append a memory map entry [s, e) of type t. */
static void mmap(paddr_t s, paddr_t e, uint32_t t)
{
    bi.mmap[bi.nmmap].start = s;
    bi.mmap[bi.nmmap].end = e;
    bi.mmap[bi.nmmap++].type = t;
}

/* The page boot_free_page picks in the trampoline window; -1 if none. */
static paddr_t pick(void)
{
    paddr_t pa = 0;
    return boot_free_page(&bi, TRAMPOLINE_LO, TRAMPOLINE_LIMIT, &pa) ? pa : (paddr_t)-1;
}

static void the_lowest_available_page_above_page_0_is_picked(void **state)
{
    (void)state;
    mmap(0, 0x9fc00, MB_MEM_AVAILABLE);
    assert_int_equal(pick(), 0x1000);
}

/* OVMF + GRUB EFI: the root module at [0x6000, 0x16848), the information right after it. */
static void a_module_and_the_multiboot_information_are_skipped(void **state)
{
    (void)state;
    mmap(0, 0xa0000, MB_MEM_AVAILABLE);
    bi.mods[bi.nmods++] = (struct boot_module){ .start = 0x1000, .end = 0x16848 };
    bi.loader[bi.nloader++] = (typeof(bi.loader[0])){ 0x17000, 0x17400 };
    assert_int_equal(pick(), 0x18000);
}

static void a_page_partly_covered_by_a_module_end_or_start_is_skipped(void **state)
{
    (void)state;
    mmap(0, 0xa0000, MB_MEM_AVAILABLE);
    bi.mods[bi.nmods++] = (struct boot_module){ .start = 0x800, .end = 0x1001 };
    bi.mods[bi.nmods++] = (struct boot_module){ .start = 0x2fff, .end = 0x3000 };
    assert_int_equal(pick(), 0x3000);
}

static void every_loader_range_is_skipped(void **state)
{
    (void)state;
    mmap(0, 0xa0000, MB_MEM_AVAILABLE);
    bi.loader[bi.nloader++] = (typeof(bi.loader[0])){ 0x1000, 0x2000 };  /* multiboot v1 info */
    bi.loader[bi.nloader++] = (typeof(bi.loader[0])){ 0x2010, 0x2020 };  /* its module list */
    bi.loader[bi.nloader++] = (typeof(bi.loader[0])){ 0x3ff0, 0x4100 };  /* its memory map */
    assert_int_equal(pick(), 0x5000);
}

static void pages_not_wholly_in_available_ram_are_skipped(void **state)
{
    (void)state;
    mmap(0, 0x1800, MB_MEM_AVAILABLE);
    mmap(0x1800, 0x4000, MB_MEM_RESERVED);
    mmap(0x4000, 0x4fff, MB_MEM_AVAILABLE);
    mmap(0x6000, 0x8000, MB_MEM_AVAILABLE);
    assert_int_equal(pick(), 0x6000);
}

/* A reserved entry overlapping an available one (seen in BIOS e820 maps) wins. */
static void a_reserved_entry_overlapping_available_ram_wins(void **state)
{
    (void)state;
    mmap(0, 0xa0000, MB_MEM_AVAILABLE);
    mmap(0x1000, 0x7000, MB_MEM_RESERVED);
    assert_int_equal(pick(), 0x7000);
}

static void no_page_outside_the_window_is_picked(void **state)
{
    (void)state;
    mmap(0, 0x1000, MB_MEM_AVAILABLE);                   /* page 0: the real-mode IVT */
    mmap(TRAMPOLINE_LIMIT - 0x800, 0x200000, MB_MEM_AVAILABLE);
    assert_int_equal(pick(), (paddr_t)-1);
}

static void no_ram_at_all_picks_nothing(void **state)
{
    (void)state;
    assert_int_equal(pick(), (paddr_t)-1);
    mmap(0, 0xa0000, MB_MEM_AVAILABLE);
    bi.mods[bi.nmods++] = (struct boot_module){ .start = 0, .end = 0xa0000 };
    assert_int_equal(pick(), (paddr_t)-1);
}

static void a_window_ending_inside_a_page_does_not_wrap(void **state)
{
    (void)state;
    paddr_t pa = 0;
    mmap(0, ~(paddr_t)0, MB_MEM_AVAILABLE);
    assert_false(boot_free_page(&bi, 0x1000, 0x1fff, &pa));
    assert_false(boot_free_page(&bi, ~(paddr_t)0 - 0x1000, ~(paddr_t)0, &pa));
    /* rounding up wraps */
    assert_false(boot_free_page(&bi, ~(paddr_t)0 - 0xffe, ~(paddr_t)0, &pa));
    assert_true(boot_free_page(&bi, 0x1001, 0x3000, &pa));
    assert_int_equal(pa, 0x2000);
}

#define T(f) cmocka_unit_test_setup(f, setup)
int main(void)
{
    const struct CMUnitTest tests[] = {
        T(the_lowest_available_page_above_page_0_is_picked),
        T(a_module_and_the_multiboot_information_are_skipped),
        T(a_page_partly_covered_by_a_module_end_or_start_is_skipped),
        T(every_loader_range_is_skipped),
        T(pages_not_wholly_in_available_ram_are_skipped),
        T(a_reserved_entry_overlapping_available_ram_wins),
        T(no_page_outside_the_window_is_picked),
        T(no_ram_at_all_picks_nothing),
        T(a_window_ending_inside_a_page_does_not_wrap),
    };
    return cmocka_run_group_tests_name("bootmem", tests, NULL, NULL);
}
