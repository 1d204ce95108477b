/*
 * The root task (docs/abi.md, "Boot: the root task"): the first multiboot module
 * is an ELF executable. The kernel copies its segments into fresh frames, creates
 * the root PD with its information and device pages, all free RAM in the physical window
 * (ROOT_PHYS_WINDOW + P), the boot modules read-only there, all I/O ports, the
 * capabilities SEL_ROOT_PD / SEL_ROOT_EC, and starts the first EC on core 0.
 * Every resource is an mdb root node, so the root can delegate all of it.
 */
#include "root.h"
#include "bootinfo.h"
#include "ec.h"
#include "elf.h"
#include "frame.h"
#include "infopage.h"
#include "kalloc_far.h"
#include "kmalloc.h"
#include "arch.h"
#include "kstring.h"
#include "pd.h"
#include "multiboot.h"
#include "panic.h"
#include "printk.h"
#include "sched.h"
#include "device.h"

#define KERNEL_KEEP_MIN  MiB(32)    /* the kernel pool keeps at least this much ... */
#define KERNEL_KEEP_DIV  4          /* ... or a quarter of RAM, whichever is more */
#define ROOT_CHUNK       512        /* frames per chunk taken from the pool: 2 MiB */
#define ROOT_RUNS        16         /* contiguous runs of chunks taken before they are mapped */
/* With 4 KiB leaves (lab switch HPT_LEAVES=4k) mapping a chunk takes a page table from the pool,
   which would split the next chunk: so the chunks are all taken first and mapped as runs. */
#ifdef HPT_LEAVES_4k
#define ROOT_DEFER       1
#else
#define ROOT_DEFER       0          /* each chunk mapped as soon as it is taken */
#endif

static struct info_page *info;

/* Copy string src into dst[n] (always NUL-terminated; dst is zeroed already). */
static void copy_str(char *dst, const char *src, size_t n)
{
    for (size_t i = 0; i + 1 < n && src[i]; i++)
        dst[i] = src[i];
}

/* Record a physical range in the information page (merging with the previous one). */
static void info_mem(paddr_t phys, uint64_t size, uint32_t type)
{
    struct info_mem *last = info->num_mem ? &info->mem[info->num_mem - 1] : NULL;
    if (last && last->type == type && last->phys + last->size == phys) {
        last->size += size;
        return;
    }
    if (info->num_mem < INFO_MAX_MEM)
        info->mem[info->num_mem++] = (struct info_mem){ phys, size, type, 0 };
}

static struct shootdown_batch root_batch;   /* the root PD's mappings, flushed once built */

/* Give pd physical [pa, pa+size) at ROOT_PHYS_WINDOW + pa with rights; false if no memory. */
static bool give_window(struct pd *pd, paddr_t pa, uint64_t size, unsigned rights)
{
    int err = mdb_insert_root(&kernel_mdb, &root_batch, &pd->mem.mdb,
                              (ROOT_PHYS_WINDOW + pa) / PAGE_SIZE, size / PAGE_SIZE, pa / PAGE_SIZE,
                              rights);
    return err == E_OK;
}

/* Give pd the n runs of pool chunks in run[] (free RAM in its window); *n = 0. False if no
   memory. */
static bool give_runs(struct pd *pd, const struct mem_range *run, unsigned *n)
{
    for (unsigned i = 0; i < *n; i++) {
        if (!give_window(pd, run[i].start, run[i].end - run[i].start, MEM_ALL))
            return false;
        info_mem(run[i].start, run[i].end - run[i].start, INFO_MEM_FREE);
    }
    *n = 0;
    return true;
}

/* Move free pool memory above the kernel's share to the root, then RAM outside the pool. */
static bool give_ram(struct pd *pd)
{
    uint64_t ram = 0;
    for (unsigned i = 0; i < boot_info.nmmap; i++)
        if (boot_info.mmap[i].type == MB_MEM_AVAILABLE)
            ram += boot_info.mmap[i].end - boot_info.mmap[i].start;
    uint64_t keep = MAX(KERNEL_KEEP_MIN, ram / KERNEL_KEEP_DIV);
    struct mem_range run[ROOT_RUNS];
    unsigned n = 0;
    paddr_t pa;
    while (kernel_pool.nfree * PAGE_SIZE > keep + ROOT_CHUNK * PAGE_SIZE &&
           frame_alloc(&kernel_pool, ROOT_CHUNK, ROOT_CHUNK * PAGE_SIZE, &pa) == 0) {
        if (n && run[n - 1].end == pa) {
            run[n - 1].end += ROOT_CHUNK * PAGE_SIZE;
        } else {
            if (n == ROOT_RUNS && !give_runs(pd, run, &n))
                return false;
            run[n++] = (struct mem_range){ pa, pa + ROOT_CHUNK * PAGE_SIZE };
        }
        if (!ROOT_DEFER && !give_runs(pd, run, &n))
            return false;
    }
    if (!give_runs(pd, run, &n))
        return false;
    for (unsigned i = 0; i < kernel_pool.nuser; i++) {
        struct mem_range r = kernel_pool.user[i];
        if (!give_window(pd, r.start, r.end - r.start, MEM_ALL))
            return false;
        info_mem(r.start, r.end - r.start, INFO_MEM_FREE);
    }
    return true;
}

/* Copy segment s into fresh frames and give them to pd at its address; false if no memory. */
static bool load_segment(struct pd *pd, const struct elf_segment *s)
{
    vaddr_t va = ALIGN_DOWN(s->vaddr, PAGE_SIZE);
    size_t n = (ALIGN_UP(s->vaddr + s->memsz, PAGE_SIZE) - va) / PAGE_SIZE;
    uint8_t *mem = kframes_alloc(n);
    if (!mem)
        return false;
    memcpy(mem + (s->vaddr - va), s->bytes, s->filesz);
    return mdb_insert_root(&kernel_mdb, &root_batch, &pd->mem.mdb, va / PAGE_SIZE, n,
                           virt_to_phys(mem) / PAGE_SIZE, s->rights | MEM_R) == E_OK;
}

/* Fill the information page (except the memory map) from boot_info. */
static void info_fill(void)
{
    info->magic = INFO_MAGIC;
    info->version = INFO_VERSION;
    info->size = sizeof(*info);
    info->num_cpus = MIN(smp_cpus.count, INFO_MAX_CPUS);
    for (unsigned c = 0; c < info->num_cpus; c++)
        info->cpu[c] = (struct info_cpu){ cpu_remote(c)->apic_id, cpu_remote(c)->online };
    info->first_free_sel = SEL_ROOT_FREE;
    info->phys_window = ROOT_PHYS_WINDOW;
    info->user_limit = USER_LIMIT;
    info->pio_base = 0;
    info->pio_count = PIO_PORTS;
    info->timer_hz = TIMER_HZ;
    copy_str(info->cmdline, boot_info.cmdline, INFO_CMDLINE_LEN);
    info->dev_page = INFO_DEV_ADDR;
    info->num_mods = MIN(boot_info.nmods, INFO_MAX_MODS);
    for (unsigned i = 0; i < info->num_mods; i++) {
        const struct boot_module *m = &boot_info.mods[i];
        info->mods[i].phys = m->start;
        info->mods[i].size = m->end - m->start;
        copy_str(info->mods[i].name, m->name, INFO_NAME_LEN);
    }
}

/* Fill the device page devs from the PCI functions and the IOMMU found at boot. */
static void devices_fill(struct info_devices *devs)
{
    devs->num_devs = MIN(pci_ndevs, INFO_MAX_DEVS);
    devs->excess = pci_ndevs - devs->num_devs;
    devs->iommu = iommu_present() ? INFO_IOMMU_VTD : 0;
    devs->dpt_levels = iommu_dpt_levels();
    for (unsigned i = 0; i < devs->num_devs; i++) {
        const struct pci_dev *d = &pci_devs[i];
        struct info_dev *o = &devs->dev[i];
        *o = (struct info_dev){ .bdf = d->bdf, .vendor = d->vendor, .device = d->device,
                                .class_rev = d->class_rev, .header = d->header };
        for (unsigned b = 0; b < INFO_BARS && b < PCI_BARS; b++)
            o->bar[b] = (struct info_bar){
                .base = d->bar[b].base, .size = d->bar[b].size,
                .flags = (d->bar[b].io ? INFO_BAR_IO : 0) | (d->bar[b].is64 ? INFO_BAR_64 : 0) |
                         (d->bar[b].prefetch ? INFO_BAR_PREFETCH : 0) };
    }
}

/* Give pd the memory BARs of its devices in the window (read-write, mapped uncached), and a
   capability for each device at SEL_ROOT_DEV + its index; false if no memory. Pages two BARs
   share are given once. */
static bool give_devices(struct pd *pd)
{
    device_boot_init();
    for (unsigned i = 0; i < ndevices; i++) {
        for (unsigned b = 0; b < PCI_BARS; b++) {
            const struct pci_bar *r = &pci_devs[i].bar[b];
            paddr_t s = ALIGN_DOWN(r->base, PAGE_SIZE), e = ALIGN_UP(r->base + r->size, PAGE_SIZE);
            if (!r->size || r->io || !r->base || ROOT_PHYS_WINDOW + e > USER_LIMIT)
                continue;
            struct mdb_space *mem = &pd->mem.mdb;
            for (paddr_t p = s; p < e; p += PAGE_SIZE) {
                paddr_t q = p;
                while (q < e && mdb_range_empty(mem, (ROOT_PHYS_WINDOW + q) / PAGE_SIZE, 1))
                    q += PAGE_SIZE;
                if (q > p && !give_window(pd, p, q - p, MEM_R | MEM_W))
                    return false;
                p = q;
            }
        }
        if (space_obj_insert(&kernel_mdb, &pd->obj, SEL_ROOT_DEV + i,
                             cap_make(&devices[i], CAP_DEV, DEV_R_ALL)) != E_OK)
            return false;
    }
    return true;
}

/* Give pd the boot modules read-only in the window; false if no memory. */
static bool give_modules(struct pd *pd)
{
    for (unsigned i = 0; i < boot_info.nmods; i++) {
        paddr_t s = ALIGN_DOWN(boot_info.mods[i].start, PAGE_SIZE);
        paddr_t e = ALIGN_UP(boot_info.mods[i].end, PAGE_SIZE);
        if (e > s && !give_window(pd, s, e - s, MEM_R))
            return false;
        info_mem(s, e - s, INFO_MEM_MODULE);
    }
    return true;
}

/*
 * Early boot (boot root, identity map of low memory still present): if module 0
 * lies outside the linear map (GRUB loads modules below 2 MiB), copy it into pool
 * frames and let boot_info point at the copy. Panics if the pool has no room.
 */
void root_relocate_module(void)
{
    struct boot_module *m = &boot_info.mods[0];
    if (boot_info.nmods == 0 || kmem_in_pool(m->start, m->end - m->start))
        return;
    size_t len = m->end - m->start;
    uint8_t *copy = kframes_alloc(ALIGN_UP(len, PAGE_SIZE) / PAGE_SIZE);
    if (!copy)
        panic("root: no pool memory to relocate module %s", m->name);
    memcpy(copy, phys_ident(m->start), len);
    m->start = virt_to_phys(copy);
    m->end = m->start + len;
}

/* Module m as the root task's ELF image in *img; panics if it is none. */
static void root_image(const struct boot_module *m, struct elf_image *img)
{
    if (!kmem_in_pool(m->start, m->end - m->start))
        panic("root: module at %lx is outside the linear map", m->start);
    enum elf_status st = elf_validate(img, phys_to_virt(m->start), m->end - m->start,
                                      ROOT_ELF_LO, ROOT_PHYS_WINDOW);
    if (st != ELF_OK)
        panic("root: %s is not a valid root task: %s", m->name, elf_status_name(st));
}

/* Give the root PD pd its image's segments, the information page info_pa and the device page
   dev_pa, the modules, RAM and every port, and its first EC (in *ec, on core 0) with both
   capabilities; false if out of memory. */
static bool root_fill(struct pd *pd, const struct elf_image *img, paddr_t info_pa,
                      paddr_t dev_pa, struct ec **ec)
{
    struct elf_segment seg;
    bool ok = true;
    for (unsigned i = 0; ok && elf_segment(img, i, &seg); i++)
        ok = load_segment(pd, &seg);
    ok = ok && mdb_insert_root(&kernel_mdb, &root_batch, &pd->mem.mdb, INFO_PAGE_ADDR / PAGE_SIZE,
                               1, info_pa / PAGE_SIZE, MEM_R) == E_OK;
    ok = ok && mdb_insert_root(&kernel_mdb, &root_batch, &pd->mem.mdb, INFO_DEV_ADDR / PAGE_SIZE,
                               1, dev_pa / PAGE_SIZE, MEM_R) == E_OK;
    ok = ok && give_modules(pd) && give_ram(pd);
    ok = ok && space_pio_grant(&kernel_mdb, &pd->pio, 0, PIO_PORTS) == E_OK;
    *ec = ok ? ec_create(pd, 0, img->entry, 0, INFO_PAGE_ADDR) : NULL;
    ok = *ec && space_mem_loc(&pd->mem, 0) == E_OK;
    if (ok) {
        pd_adopt(pd, pd, SEL_ROOT_PD);
        ec_adopt(*ec, pd, SEL_ROOT_EC);
    }
    ok = ok && space_obj_insert(&kernel_mdb, &pd->obj, SEL_ROOT_PD,
                                cap_make(pd, CAP_PD, PD_R_ALL)) == E_OK;
    ok = ok && give_devices(pd);
    return ok && space_obj_insert(&kernel_mdb, &pd->obj, SEL_ROOT_EC,
                                  cap_make(*ec, CAP_EC, EC_R_ALL)) == E_OK;
}

/* Build the root PD from module 0 and make its first EC runnable on core 0; false if none. */
bool root_start(void)
{
    struct elf_image img;
    if (boot_info.nmods == 0)
        return false;
    const struct boot_module *m = &boot_info.mods[0];
    root_image(m, &img);
    struct pd *pd = pd_create(NULL, PD_QUOTA_KERNEL);
    paddr_t info_pa = kframe_alloc(), dev_pa = kframe_alloc();
    if (!pd || !info_pa || !dev_pa)
        panic("root: out of memory for the root PD");
    pd->is_root = true;
    info = phys_to_virt(info_pa);
    info_fill();
    devices_fill(phys_to_virt(dev_pa));
    struct ec *ec;
    if (!root_fill(pd, &img, info_pa, dev_pa, &ec))
        panic("root: out of memory while building the root PD");
    shootdown_batch_flush(&root_batch);
    pd_quota_seal(pd, kframes_free_total());    /* the root's quota: every frame left */
    uint64_t free = 0;
    for (unsigned i = 0; i < info->num_mem; i++)
        free += info->mem[i].type == INFO_MEM_FREE ? info->mem[i].size : 0;
    printk(
        "tessera: root task \"%s\": entry %lx, %lu MiB in the window, kernel pool %lu KiB free\n",
        m->name, img.entry, free >> 20, kernel_pool_free_kib());
    sched_enqueue(ec);
    return true;
}
