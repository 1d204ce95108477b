/*
 * The ELF loader (kernel/elf.c) accepts well-formed executables and rejects
 * each kind of malformed one with its own status. Images are built in code:
 * a three-segment program (text R+X, rodata R, data+bss R+W) that every test
 * breaks in exactly one place.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "abi.h"
#include "elf.h"

#define LO      0x1000UL            /* lowest address a segment may use */
#define HI      0x800000000000UL    /* user limit */
#define BASE    0x400000UL          /* where the test program is linked */
#define NSEG    3
#define FILESZ  0x4000UL

/* An image under construction: header, program headers, payload pages. */
static union {
    uint8_t bytes[FILESZ + 64];     /* slack for tests that shift the image */
    struct {
        struct elf64_ehdr eh;
        struct elf64_phdr ph[NSEG + 2];
    } h;
} img;

/* Fill img with a valid executable: text at BASE, rodata at +4K, data+bss at +8K. */
static int build_valid(void **state)
{
    (void)state;
    memset(&img, 0, sizeof(img));
    struct elf64_ehdr *eh = &img.h.eh;
    memcpy(eh->e_ident, ELF_MAGIC, ELF_MAGIC_LEN);
    eh->e_ident[EI_CLASS] = ELFCLASS64;
    eh->e_ident[EI_DATA] = ELFDATA2LSB;
    eh->e_ident[EI_VERSION] = EV_CURRENT;
    eh->e_type = ET_EXEC;
    eh->e_machine = EM_X86_64;
    eh->e_version = EV_CURRENT;
    eh->e_entry = BASE + 0x10;
    eh->e_phoff = offsetof(__typeof__(img.h), ph);
    eh->e_ehsize = sizeof(*eh);
    eh->e_phentsize = sizeof(struct elf64_phdr);
    eh->e_phnum = NSEG;
    static const struct elf64_phdr seg[NSEG] = {
        { PT_LOAD, ELF_PF_R | ELF_PF_X, 0x1000, BASE, BASE, 0x100, 0x100, ELF_PAGE },
        { PT_LOAD, ELF_PF_R, 0x2000, BASE + 0x1000, BASE + 0x1000, 0x80, 0x80, ELF_PAGE },
        { PT_LOAD, ELF_PF_R | ELF_PF_W, 0x3000, BASE + 0x2000, BASE + 0x2000, 0x10, 0x3000,
          ELF_PAGE },
    };
    memcpy(img.h.ph, seg, sizeof(seg));
    for (unsigned i = 0; i < NSEG; i++)
        memset(img.bytes + seg[i].p_offset, 0xa0 + i, seg[i].p_filesz);
    return 0;
}

/* Validate img (FILESZ bytes) against [LO, HI). */
static enum elf_status check(struct elf_image *out)
{
    return elf_validate(out, img.bytes, FILESZ, LO, HI);
}

/* Validate img and expect status want; a rejected image must yield no segment. */
static void expect(enum elf_status want)
{
    struct elf_image ei;
    struct elf_segment seg;
    assert_string_equal(elf_status_name(check(&ei)), elf_status_name(want));
    if (want != ELF_OK) {
        assert_int_equal(ei.nload, 0);
        assert_false(elf_segment(&ei, 0, &seg));
    }
}

static void a_valid_three_segment_image_is_accepted(void **state)
{
    (void)state;
    struct elf_image ei;
    assert_int_equal(check(&ei), ELF_OK);
    assert_int_equal(ei.nload, NSEG);
    assert_int_equal(ei.entry, BASE + 0x10);
}

static void segments_come_in_file_order_with_rights_bytes_and_sizes(void **state)
{
    (void)state;
    static const unsigned rights[NSEG] = { MEM_R | MEM_X, MEM_R, MEM_R | MEM_W };
    struct elf_image ei;
    struct elf_segment seg;
    assert_int_equal(check(&ei), ELF_OK);
    for (unsigned i = 0; i < NSEG; i++) {
        assert_true(elf_segment(&ei, i, &seg));
        assert_int_equal(seg.vaddr, img.h.ph[i].p_vaddr);
        assert_int_equal(seg.memsz, img.h.ph[i].p_memsz);
        assert_int_equal(seg.filesz, img.h.ph[i].p_filesz);
        assert_ptr_equal(seg.bytes, img.bytes + img.h.ph[i].p_offset);
        assert_int_equal(seg.bytes[0], 0xa0 + i);
        assert_int_equal(seg.rights, rights[i]);
    }
    assert_false(elf_segment(&ei, NSEG, &seg));
}

static void program_headers_other_than_load_are_skipped(void **state)
{
    (void)state;
    struct elf_image ei;
    struct elf_segment seg;
    /* A note header with nonsense values between the loadable ones. */
    img.h.ph[3] = img.h.ph[2];
    img.h.ph[2] = (struct elf64_phdr){ .p_type = 4, .p_flags = ELF_PF_W | ELF_PF_X,
                                       .p_offset = ~0UL, .p_filesz = ~0UL };
    img.h.eh.e_phnum = NSEG + 1;
    assert_int_equal(check(&ei), ELF_OK);
    assert_int_equal(ei.nload, NSEG);
    assert_true(elf_segment(&ei, 2, &seg));
    assert_int_equal(seg.vaddr, BASE + 0x2000);
}

static void a_bss_only_segment_without_file_bytes_is_accepted(void **state)
{
    (void)state;
    img.h.ph[2].p_filesz = 0;
    expect(ELF_OK);
}

static void a_segment_ending_exactly_at_the_limit_is_accepted(void **state)
{
    (void)state;
    img.h.ph[2].p_vaddr = HI - img.h.ph[2].p_memsz;    /* HI - 0x3000, congruent with 0x3000 */
    expect(ELF_OK);
}

static void a_segment_starting_exactly_at_the_lowest_address_is_accepted(void **state)
{
    (void)state;
    img.h.ph[1].p_vaddr = LO;           /* LO is page aligned, like the offset 0x2000 */
    expect(ELF_OK);
}

static void a_program_header_table_at_an_odd_offset_is_read_correctly(void **state)
{
    (void)state;
    struct elf_image ei;
    /* Move the table one byte up; the image is byte-aligned data, not structs. */
    memmove(img.bytes + img.h.eh.e_phoff + 1, img.bytes + img.h.eh.e_phoff,
            NSEG * sizeof(struct elf64_phdr));
    img.h.eh.e_phoff += 1;
    assert_int_equal(check(&ei), ELF_OK);
    assert_int_equal(ei.nload, NSEG);
}

static void an_image_shorter_than_the_header_is_rejected(void **state)
{
    (void)state;
    struct elf_image ei;
    assert_int_equal(elf_validate(&ei, img.bytes, sizeof(struct elf64_ehdr) - 1, LO, HI),
                     ELF_E_SHORT);
}

static void a_wrong_magic_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_ident[3] = 'f';
    expect(ELF_E_MAGIC);
}

static void a_32_bit_file_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_ident[EI_CLASS] = 1;
    expect(ELF_E_CLASS);
}

static void a_big_endian_file_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_ident[EI_DATA] = 2;
    expect(ELF_E_DATA);
}

static void a_wrong_ident_version_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_ident[EI_VERSION] = 0;
    expect(ELF_E_VERSION);
}

static void a_wrong_header_version_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_version = 2;
    expect(ELF_E_VERSION);
}

static void another_machine_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_machine = 3;     /* i386 */
    expect(ELF_E_MACHINE);
}

static void a_shared_object_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_type = 3;        /* ET_DYN */
    expect(ELF_E_TYPE);
}

static void a_wrong_program_header_size_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_phentsize = sizeof(struct elf64_phdr) - 1;
    expect(ELF_E_PHDR);
}

static void a_program_header_table_past_the_end_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_phoff = FILESZ - 2 * sizeof(struct elf64_phdr);    /* 3 entries, room for 2 */
    expect(ELF_E_PHDR);
}

static void a_program_header_offset_near_the_top_of_memory_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_phoff = ~0UL - 8;    /* offset + size would wrap */
    expect(ELF_E_PHDR);
}

static void an_image_without_program_headers_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_phnum = 0;
    expect(ELF_E_NOLOAD);
}

static void an_image_with_only_non_load_headers_is_rejected(void **state)
{
    (void)state;
    for (unsigned i = 0; i < NSEG; i++)
        img.h.ph[i].p_type = PT_NULL;
    expect(ELF_E_NOLOAD);
}

static void more_than_the_maximum_of_load_segments_is_rejected(void **state)
{
    (void)state;
    /* ELF_MAX_LOAD + 1 one-page read-only segments; entry stays in the text segment. */
    struct elf64_phdr *ph = (struct elf64_phdr *)(img.bytes + 0x200);
    unsigned n = ELF_MAX_LOAD + 1;
    assert_true(0x200 + n * sizeof(*ph) <= FILESZ);
    for (unsigned i = 0; i < n; i++)
        ph[i] = (struct elf64_phdr){ PT_LOAD, i == 0 ? ELF_PF_R | ELF_PF_X : ELF_PF_R, 0x1000,
                                     BASE + i * ELF_PAGE, 0, 0x20, 0x20, ELF_PAGE };
    img.h.eh.e_phoff = 0x200;
    img.h.eh.e_phnum = n;
    expect(ELF_E_TOO_MANY);
    img.h.eh.e_phnum = n - 1;       /* exactly the maximum is fine */
    expect(ELF_OK);
}

static void segment_bytes_past_the_end_of_the_file_are_rejected(void **state)
{
    (void)state;
    img.h.ph[2].p_filesz = FILESZ - 0x3000 + 1;
    img.h.ph[2].p_memsz = 0x4000;
    expect(ELF_E_SEG_FILE);
}

static void a_segment_offset_beyond_the_file_is_rejected(void **state)
{
    (void)state;
    img.h.ph[1].p_offset = FILESZ + 0x1000;
    img.h.ph[1].p_filesz = 0;
    expect(ELF_E_SEG_FILE);
}

static void a_segment_whose_offset_plus_size_wraps_is_rejected(void **state)
{
    (void)state;
    img.h.ph[1].p_filesz = ~0UL - 0x1000;   /* offset 0x2000 + this wraps */
    img.h.ph[1].p_memsz = ~0UL;
    expect(ELF_E_SEG_FILE);
}

static void memsz_below_filesz_is_rejected(void **state)
{
    (void)state;
    img.h.ph[1].p_memsz = img.h.ph[1].p_filesz - 1;
    expect(ELF_E_SEG_SIZE);
}

static void an_empty_segment_is_rejected(void **state)
{
    (void)state;
    img.h.ph[1].p_filesz = 0;
    img.h.ph[1].p_memsz = 0;
    expect(ELF_E_SEG_SIZE);
}

static void a_segment_crossing_the_limit_is_rejected(void **state)
{
    (void)state;
    img.h.ph[2].p_vaddr = HI - 0x1000;  /* memsz 0x3000 */
    img.h.ph[2].p_offset = 0x3000;
    expect(ELF_E_SEG_RANGE);
}

static void a_segment_entirely_above_the_limit_is_rejected(void **state)
{
    (void)state;
    img.h.ph[1].p_vaddr = 0xffff800000001000UL;     /* kernel half */
    expect(ELF_E_SEG_RANGE);
}

static void a_segment_whose_end_wraps_around_zero_is_rejected(void **state)
{
    (void)state;
    /* With a limit at the top of memory only the wrap itself can reject it. */
    struct elf_image ei;
    img.h.ph[2].p_vaddr = 0xffffffffffffe000UL;     /* + memsz 0x3000 wraps to 0x1000 */
    assert_int_equal(elf_validate(&ei, img.bytes, FILESZ, LO, 0xfffffffffffff000UL),
                     ELF_E_SEG_RANGE);
    img.h.ph[2].p_vaddr = 0xffffffffffffc000UL;     /* ends exactly at that limit */
    assert_int_equal(elf_validate(&ei, img.bytes, FILESZ, LO, 0xfffffffffffff000UL), ELF_OK);
}

static void a_segment_below_the_lowest_address_is_rejected(void **state)
{
    (void)state;
    img.h.ph[1].p_vaddr = 0;            /* the null page */
    expect(ELF_E_SEG_RANGE);
}

static void vaddr_and_offset_not_congruent_mod_page_are_rejected(void **state)
{
    (void)state;
    img.h.ph[1].p_vaddr += 8;
    expect(ELF_E_SEG_ALIGN);
}

static void a_writable_executable_segment_is_rejected(void **state)
{
    (void)state;
    img.h.ph[2].p_flags = ELF_PF_R | ELF_PF_W | ELF_PF_X;
    expect(ELF_E_SEG_WX);
}

static void a_segment_without_access_rights_is_rejected(void **state)
{
    (void)state;
    img.h.ph[1].p_flags = 0;
    expect(ELF_E_SEG_RIGHTS);
}

static void segments_overlapping_in_memory_are_rejected(void **state)
{
    (void)state;
    img.h.ph[1].p_vaddr = BASE;         /* same page as text, same offset class */
    img.h.ph[1].p_offset = 0x1000;
    expect(ELF_E_SEG_OVERLAP);
}

static void segments_sharing_only_a_page_are_rejected(void **state)
{
    (void)state;
    /* rodata starts at byte 0x800 of the text page: disjoint bytes, one page. */
    img.h.ph[1].p_vaddr = BASE + 0x800;
    img.h.ph[1].p_offset = 0x800;
    expect(ELF_E_SEG_OVERLAP);
}

static void an_entry_outside_every_segment_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_entry = BASE + 0x10000;
    expect(ELF_E_ENTRY);
}

static void an_entry_in_a_non_executable_segment_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_entry = BASE + 0x1000;   /* rodata */
    expect(ELF_E_ENTRY);
}

static void an_entry_just_past_the_text_segment_is_rejected(void **state)
{
    (void)state;
    img.h.eh.e_entry = BASE + img.h.ph[0].p_memsz;
    expect(ELF_E_ENTRY);
}

static void every_status_has_its_own_name(void **state)
{
    (void)state;
    for (int a = ELF_OK; a <= ELF_E_ENTRY; a++) {
        assert_string_not_equal(elf_status_name(a), "unknown ELF status");
        for (int b = ELF_OK; b < a; b++)
            assert_string_not_equal(elf_status_name(a), elf_status_name(b));
    }
    assert_string_equal(elf_status_name(ELF_E_ENTRY + 1), "unknown ELF status");
}

#define T(f) cmocka_unit_test_setup(f, build_valid)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(a_valid_three_segment_image_is_accepted),
        T(segments_come_in_file_order_with_rights_bytes_and_sizes),
        T(program_headers_other_than_load_are_skipped),
        T(a_bss_only_segment_without_file_bytes_is_accepted),
        T(a_segment_ending_exactly_at_the_limit_is_accepted),
        T(a_segment_starting_exactly_at_the_lowest_address_is_accepted),
        T(a_program_header_table_at_an_odd_offset_is_read_correctly),
        T(an_image_shorter_than_the_header_is_rejected),
        T(a_wrong_magic_is_rejected),
        T(a_32_bit_file_is_rejected),
        T(a_big_endian_file_is_rejected),
        T(a_wrong_ident_version_is_rejected),
        T(a_wrong_header_version_is_rejected),
        T(another_machine_is_rejected),
        T(a_shared_object_is_rejected),
        T(a_wrong_program_header_size_is_rejected),
        T(a_program_header_table_past_the_end_is_rejected),
        T(a_program_header_offset_near_the_top_of_memory_is_rejected),
        T(an_image_without_program_headers_is_rejected),
        T(an_image_with_only_non_load_headers_is_rejected),
        T(more_than_the_maximum_of_load_segments_is_rejected),
        T(segment_bytes_past_the_end_of_the_file_are_rejected),
        T(a_segment_offset_beyond_the_file_is_rejected),
        T(a_segment_whose_offset_plus_size_wraps_is_rejected),
        T(memsz_below_filesz_is_rejected),
        T(an_empty_segment_is_rejected),
        T(a_segment_crossing_the_limit_is_rejected),
        T(a_segment_entirely_above_the_limit_is_rejected),
        T(a_segment_whose_end_wraps_around_zero_is_rejected),
        T(a_segment_below_the_lowest_address_is_rejected),
        T(vaddr_and_offset_not_congruent_mod_page_are_rejected),
        T(a_writable_executable_segment_is_rejected),
        T(a_segment_without_access_rights_is_rejected),
        T(segments_overlapping_in_memory_are_rejected),
        T(segments_sharing_only_a_page_are_rejected),
        T(an_entry_outside_every_segment_is_rejected),
        T(an_entry_in_a_non_executable_segment_is_rejected),
        T(an_entry_just_past_the_text_segment_is_rejected),
        T(every_status_has_its_own_name),
    };
    return cmocka_run_group_tests_name("elf", tests, NULL, NULL);
}
