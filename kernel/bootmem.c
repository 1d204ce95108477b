/* Boot memory questions answered from boot_info alone (pure logic, host-tested). */
#include "bootinfo.h"
#include "layout.h"
#include "multiboot.h"

/* Does [s, e) overlap [start, end)? */
static bool overlaps(paddr_t s, paddr_t e, paddr_t start, paddr_t end)
{
    return s < end && start < e;
}

/* Is [s, e) inside one available range and outside every other memory map range? */
static bool is_free_ram(const struct boot_info *bi, paddr_t s, paddr_t e)
{
    bool inside = false;
    for (unsigned i = 0; i < bi->nmmap; i++) {
        if (bi->mmap[i].type == MB_MEM_AVAILABLE)
            inside = inside || (bi->mmap[i].start <= s && e <= bi->mmap[i].end);
        else if (overlaps(s, e, bi->mmap[i].start, bi->mmap[i].end))
            return false;
    }
    return inside;
}

/* Does [s, e) overlap a boot module or the loader's own data? */
static bool holds_loader_data(const struct boot_info *bi, paddr_t s, paddr_t e)
{
    for (unsigned i = 0; i < bi->nmods; i++)
        if (overlaps(s, e, bi->mods[i].start, bi->mods[i].end))
            return true;
    for (unsigned i = 0; i < bi->nloader; i++)
        if (overlaps(s, e, bi->loader[i].start, bi->loader[i].end))
            return true;
    return false;
}

/* Lowest page in [lo, hi) that is available RAM holding no loader data; false if none. */
bool boot_free_page(const struct boot_info *bi, paddr_t lo, paddr_t hi, paddr_t *pa)
{
    for (paddr_t p = ALIGN_UP(lo, PAGE_SIZE); p >= lo && p < hi && hi - p >= PAGE_SIZE;
         p += PAGE_SIZE)
        if (is_free_ram(bi, p, p + PAGE_SIZE) && !holds_loader_data(bi, p, p + PAGE_SIZE)) {
            *pa = p;
            return true;
        }
    return false;
}
