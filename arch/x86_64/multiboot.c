/* Multiboot v1/v2 information -> struct boot_info (runs on the boot root's identity map). */
#include "bootinfo.h"
#include "kstring.h"
#include "multiboot.h"
#include "kmem.h"
#include "compiler.h"

struct boot_info boot_info;

/* Multiboot v1 information structure (the fields we read). */
struct mb1_info {
    uint32_t flags, mem_lower, mem_upper, boot_device, cmdline, mods_count, mods_addr;
    uint32_t syms[4];
    uint32_t mmap_length, mmap_addr;
} packed;

struct mb1_mod  { uint32_t start, end, string, reserved; } packed;
struct mb1_mmap { uint32_t size; uint64_t addr, len; uint32_t type; } packed;
struct mb2_tag  { uint32_t type, size; } packed;
struct mb2_mmap { uint32_t type, size, entry_size, entry_version; } packed;
struct mb2_mmap_entry { uint64_t addr, len; uint32_t type, reserved; } packed;
struct mb2_module { uint32_t type, size, start, end; char string[]; } packed;

/* Identity-mapped pointer to physical address pa (boot root only). */
static const void *low(paddr_t pa)
{
    return phys_ident(pa);
}

/* Copy the NUL-terminated string at src into dst of size n, truncating. */
static void copy_str(char *dst, const char *src, size_t n)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < n; i++)
        dst[i] = src[i];
    dst[i] = '\0';
}

/* Record one memory map entry. */
static void add_mmap(uint64_t addr, uint64_t len, uint32_t type)
{
    if (boot_info.nmmap < BOOT_MMAP_MAX)
        boot_info.mmap[boot_info.nmmap++] = (typeof(boot_info.mmap[0])){ addr, addr + len, type };
}

/* Record [start, start + len) as loader data (at most 4 ranges: the information and its arrays). */
static void add_loader(paddr_t start, uint64_t len)
{
    if (boot_info.nloader < BOOT_LOADER_MAX)
        boot_info.loader[boot_info.nloader++] = (typeof(boot_info.loader[0])){ start, start + len };
}

/* Record one boot module. */
static void add_module(paddr_t start, paddr_t end, const char *name)
{
    if (boot_info.nmods == BOOT_MODS_MAX)
        return;
    struct boot_module *m = &boot_info.mods[boot_info.nmods++];
    m->start = start;
    m->end = end;
    copy_str(m->name, name, sizeof(m->name));
}

/* Parse multiboot v1 information at physical info. */
static void parse_mb1(paddr_t info)
{
    const struct mb1_info *mi = low(info);
    boot_info.version = 1;
    add_loader(info, sizeof(*mi));
    if (mi->flags & MB1_INFO_CMDLINE)
        copy_str(boot_info.cmdline, low(mi->cmdline), sizeof(boot_info.cmdline));
    if (mi->flags & MB1_INFO_MODS) {
        const struct mb1_mod *m = low(mi->mods_addr);
        add_loader(mi->mods_addr, (uint64_t)mi->mods_count * sizeof(*m));
        for (uint32_t i = 0; i < mi->mods_count; i++)
            add_module(m[i].start, m[i].end, low(m[i].string));
    }
    if (mi->flags & MB1_INFO_MMAP) {
        add_loader(mi->mmap_addr, mi->mmap_length);
        /* Each entry's size field excludes the size field itself. */
        for (uint32_t off = 0; off < mi->mmap_length;) {
            const struct mb1_mmap *e = low(mi->mmap_addr + off);
            add_mmap(e->addr, e->len, e->type);
            off += e->size + sizeof(e->size);
        }
    }
}

/* Parse one multiboot v2 tag. */
static void parse_mb2_tag(const struct mb2_tag *t)
{
    switch (t->type) {
    case MB2_TAG_CMDLINE:
        copy_str(boot_info.cmdline, (const char *)(t + 1), sizeof(boot_info.cmdline));
        break;
    case MB2_TAG_MODULE: {
        const struct mb2_module *m = (const void *)t;
        add_module(m->start, m->end, m->string);
        break;
    }
    case MB2_TAG_MMAP: {
        const struct mb2_mmap *mm = (const void *)t;
        for (uint32_t off = sizeof(*mm); off + sizeof(struct mb2_mmap_entry) <= t->size;
             off += mm->entry_size) {
            const struct mb2_mmap_entry *e = (const void *)((const char *)t + off);
            add_mmap(e->addr, e->len, e->type);
        }
        break;
    }
    case MB2_TAG_ACPI_OLD:
    case MB2_TAG_ACPI_NEW: {
        uint32_t n = MIN(t->size - (uint32_t)sizeof(*t), (uint32_t)sizeof(boot_info.rsdp_copy));
        /* The new (2.0+) RSDP wins over the old one. */
        if (boot_info.rsdp_copy_len && t->type == MB2_TAG_ACPI_OLD)
            break;
        memcpy(boot_info.rsdp_copy, t + 1, n);
        boot_info.rsdp_copy_len = n;
        break;
    }
    }
}

/* Parse multiboot v2 information: u32 total size, u32 reserved, then 8-byte aligned tags. */
static void parse_mb2(paddr_t info)
{
    uint32_t total = *(const uint32_t *)low(info);
    boot_info.version = 2;
    add_loader(info, total);
    for (uint32_t off = 8; off + sizeof(struct mb2_tag) <= total;) {
        const struct mb2_tag *t = low(info + off);
        if (t->type == MB2_TAG_END || t->size < sizeof(*t))
            break;
        parse_mb2_tag(t);
        off += ALIGN_UP(t->size, 8);
    }
}

/* Fill boot_info from the multiboot information at info (magic from eax); false if unknown. */
bool multiboot_parse(uint32_t magic, paddr_t info)
{
    if (magic == MB1_BOOT_MAGIC)
        parse_mb1(info);
    else if (magic == MB2_BOOT_MAGIC)
        parse_mb2(info);
    else
        return false;
    return true;
}
