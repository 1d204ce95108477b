/*
 * ELF64 loader logic: validate an executable held in memory, then hand out its
 * PT_LOAD segments. Pure: no hardware, no allocation; the kernel maps what
 * elf_segment() describes, host tests and a fuzzer feed it arbitrary bytes.
 *
 * The image may sit at any byte alignment, so every header is copied into a
 * local struct before it is read.
 */
#include "elf.h"
#include "abi.h"
#include "panic.h"

/* A page-rounded virtual range [lo, hi) occupied by one segment. */
struct span { uint64_t lo, hi; };

/* Copy the idx-th program header (table already checked to lie inside the image). */
static void read_phdr(const uint8_t *data, const struct elf64_ehdr *eh, unsigned idx,
                      struct elf64_phdr *ph)
{
    __builtin_memcpy(ph, data + eh->e_phoff + (uint64_t)idx * sizeof(*ph), sizeof(*ph));
}

/* Check the file header: identification, machine, type and the program header table. */
static enum elf_status check_ehdr(const struct elf64_ehdr *eh, size_t size)
{
    for (unsigned i = 0; i < ELF_MAGIC_LEN; i++)
        if (eh->e_ident[EI_MAG0 + i] != (uint8_t)ELF_MAGIC[i])
            return ELF_E_MAGIC;
    if (eh->e_ident[EI_CLASS] != ELFCLASS64)
        return ELF_E_CLASS;
    if (eh->e_ident[EI_DATA] != ELFDATA2LSB)
        return ELF_E_DATA;
    if (eh->e_ident[EI_VERSION] != EV_CURRENT || eh->e_version != EV_CURRENT)
        return ELF_E_VERSION;
    if (eh->e_machine != EM_X86_64)
        return ELF_E_MACHINE;
    if (eh->e_type != ET_EXEC)
        return ELF_E_TYPE;
    if (eh->e_phentsize != sizeof(struct elf64_phdr))
        return ELF_E_PHDR;
    /* phnum <= 0xffff and the entry size is 56, so the table size cannot overflow. */
    uint64_t table = (uint64_t)eh->e_phnum * sizeof(struct elf64_phdr);
    if (eh->e_phoff > size || table > size - eh->e_phoff)
        return ELF_E_PHDR;
    return ELF_OK;
}

/* MEM_* rights of a program header's p_flags. */
static unsigned seg_rights(uint32_t flags)
{
    return ((flags & ELF_PF_R) ? MEM_R : 0) | ((flags & ELF_PF_W) ? MEM_W : 0) |
           ((flags & ELF_PF_X) ? MEM_X : 0);
}

/* Check one PT_LOAD segment against the image size and the range [lo, hi). */
static enum elf_status check_segment(const struct elf64_phdr *ph, size_t size,
                                     uint64_t lo, uint64_t hi)
{
    if (ph->p_offset > size || ph->p_filesz > size - ph->p_offset)
        return ELF_E_SEG_FILE;
    if (ph->p_memsz == 0 || ph->p_memsz < ph->p_filesz)
        return ELF_E_SEG_SIZE;
    if (ph->p_vaddr < lo || ph->p_vaddr > hi || ph->p_memsz > hi - ph->p_vaddr)
        return ELF_E_SEG_RANGE;
    if ((ph->p_vaddr - ph->p_offset) % ELF_PAGE != 0)
        return ELF_E_SEG_ALIGN;
    if ((ph->p_flags & ELF_PF_W) && (ph->p_flags & ELF_PF_X))
        return ELF_E_SEG_WX;
    if (seg_rights(ph->p_flags) == 0)
        return ELF_E_SEG_RIGHTS;
    return ELF_OK;
}

/* True if the page-rounded span s shares a page with any of the n spans before it. */
static bool overlaps(const struct span *spans, unsigned n, struct span s)
{
    for (unsigned i = 0; i < n; i++)
        if (s.lo < spans[i].hi && spans[i].lo < s.hi)
            return true;
    return false;
}

/* Check every PT_LOAD segment and the entry point; count segments into img->nload. */
static enum elf_status check_segments(struct elf_image *img, const struct elf64_ehdr *eh,
                                      uint64_t lo, uint64_t hi)
{
    struct span spans[ELF_MAX_LOAD];
    bool entry_ok = false;

    for (unsigned i = 0; i < eh->e_phnum; i++) {
        struct elf64_phdr ph;
        read_phdr(img->data, eh, i, &ph);
        if (ph.p_type != PT_LOAD)
            continue;
        if (img->nload == ELF_MAX_LOAD)
            return ELF_E_TOO_MANY;
        enum elf_status st = check_segment(&ph, img->size, lo, hi);
        if (st != ELF_OK)
            return st;
        /* lo and hi are page aligned and the segment lies in [lo, hi): rounding cannot wrap. */
        struct span s = { ALIGN_DOWN(ph.p_vaddr, ELF_PAGE),
                          ALIGN_UP(ph.p_vaddr + ph.p_memsz, ELF_PAGE) };
        if (overlaps(spans, img->nload, s))
            return ELF_E_SEG_OVERLAP;
        spans[img->nload++] = s;
        if ((ph.p_flags & ELF_PF_X) && eh->e_entry >= ph.p_vaddr &&
            eh->e_entry - ph.p_vaddr < ph.p_memsz)
            entry_ok = true;
    }
    if (img->nload == 0)
        return ELF_E_NOLOAD;
    return entry_ok ? ELF_OK : ELF_E_ENTRY;
}

/* Check that data[0..size) is a loadable ELF64 x86-64 executable whose segments lie in [lo, hi). */
enum elf_status elf_validate(struct elf_image *img, const void *data, size_t size,
                             uint64_t lo, uint64_t hi)
{
    ASSERT(lo < hi && IS_ALIGNED(lo, ELF_PAGE) && IS_ALIGNED(hi, ELF_PAGE));
    struct elf64_ehdr eh;

    img->data = data;
    img->size = size;
    img->entry = 0;
    img->nload = 0;
    if (size < sizeof(eh))
        return ELF_E_SHORT;
    __builtin_memcpy(&eh, data, sizeof(eh));
    enum elf_status st = check_ehdr(&eh, size);
    if (st == ELF_OK)
        st = check_segments(img, &eh, lo, hi);
    if (st != ELF_OK) {
        img->nload = 0;     /* a rejected image yields no segments */
        return st;
    }
    img->entry = eh.e_entry;
    return ELF_OK;
}

/* Fill seg with the idx-th PT_LOAD segment of a validated image; false if idx >= nload. */
bool elf_segment(const struct elf_image *img, unsigned idx, struct elf_segment *seg)
{
    struct elf64_ehdr eh;

    if (idx >= img->nload)
        return false;
    __builtin_memcpy(&eh, img->data, sizeof(eh));
    for (unsigned i = 0; i < eh.e_phnum; i++) {
        struct elf64_phdr ph;
        read_phdr(img->data, &eh, i, &ph);
        if (ph.p_type != PT_LOAD)
            continue;
        if (idx-- != 0)     /* not yet the wanted PT_LOAD: count it off */
            continue;
        seg->vaddr = ph.p_vaddr;
        seg->memsz = ph.p_memsz;
        seg->bytes = img->data + ph.p_offset;
        seg->filesz = ph.p_filesz;
        seg->rights = seg_rights(ph.p_flags);
        return true;
    }
    return false;
}

/* A short English name of a status, for messages. */
const char *elf_status_name(enum elf_status st)
{
    static const char *const names[] = {
        [ELF_OK] = "ok",
        [ELF_E_SHORT] = "image shorter than the ELF header",
        [ELF_E_MAGIC] = "bad magic",
        [ELF_E_CLASS] = "not ELF64",
        [ELF_E_DATA] = "not little endian",
        [ELF_E_VERSION] = "bad ELF version",
        [ELF_E_MACHINE] = "not x86-64",
        [ELF_E_TYPE] = "not an executable (ET_EXEC)",
        [ELF_E_PHDR] = "bad program header table",
        [ELF_E_NOLOAD] = "no loadable segment",
        [ELF_E_TOO_MANY] = "too many loadable segments",
        [ELF_E_SEG_FILE] = "segment outside the file",
        [ELF_E_SEG_SIZE] = "segment memsz zero or below filesz",
        [ELF_E_SEG_RANGE] = "segment outside the allowed range",
        [ELF_E_SEG_ALIGN] = "segment vaddr and offset not congruent mod 4 KiB",
        [ELF_E_SEG_WX] = "segment writable and executable",
        [ELF_E_SEG_RIGHTS] = "segment without access rights",
        [ELF_E_SEG_OVERLAP] = "segments share a page",
        [ELF_E_ENTRY] = "entry point not in an executable segment",
    };
    if ((unsigned)st >= ARRAY_SIZE(names) || names[st] == NULL)
        return "unknown ELF status";
    return names[st];
}
