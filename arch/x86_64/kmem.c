/*
 * Kernel memory: the kernel pool, the master kernel PD and the per-core roots
 * (slides "Core-local Mappings", "Manipulating Page Tables: Bootstrapping").
 * Every table frame comes from the pool, so software walks reach it through
 * phys_to_virt (the lecture's software page-table walk).
 */
#include "kmem.h"
#include "bootinfo.h"
#include "cpu.h"
#include "cpu_local.h"
#include "frame.h"
#include "kstring.h"
#include "paging.h"
#include "panic.h"
#include "smp.h"
#include "multiboot.h"

#define PD_KERNEL_FIRST pt_index(KERNEL_BASE, 1)        /* 8 */
#define PD_GLOBAL       pt_index(CPU_GLOBAL, 1)         /* 496 */
#define PD_PRIVATE      pt_index(CPU_STACK, 1)          /* 511 */
#define PDPT_KERNEL     pt_index(KERNEL_BASE, 2)        /* 510 */
#define PML4_KERNEL     pt_index(KERNEL_BASE, 3)        /* 511 */
#define KERNEL_HALF     256                             /* first PML4 slot of the kernel half */

/* Attributes: kernel pages are global; only text is executable. */
#define ATTR_TABLE      (PTE_P | PTE_W)                 /* non-leaf: limits come from leaves */
#define ATTR_TEXT       (PTE_P | PTE_G)
#define ATTR_RODATA     (PTE_P | PTE_G | PTE_NX)
#define ATTR_DATA       (PTE_P | PTE_W | PTE_G | PTE_NX)
#define ATTR_MMIO       (PTE_P | PTE_W | PTE_G | PTE_NX | PTE_PCD | PTE_PWT)

extern char __text_start[], __text_end[], __rodata_end[], __kernel_end[];
extern uint64_t boot_pml4[], boot_pdpt_hi[];

struct frame_pool kernel_pool;
static uint64_t pool_bitmap[FRAME_BITMAP_WORDS(POOL_SIZE / PAGE_SIZE)];
static paddr_t master_pd;                       /* master kernel PD (PML4 511, PDPT 510) */
static paddr_t core_pd[NUM_CPU];                /* each core's private copy */
static paddr_t core_data[NUM_CPU];              /* each core's data page */

/* The table at physical address pa, through the linear map. */
static pte_t *table(paddr_t pa)
{
    return phys_to_virt(pa);
}

/* Set up the kernel pool from boot_info's memory map, minus reserved ranges. */
void kmem_pool_init(void)
{
    frame_pool_init(&kernel_pool, KERNEL_LOAD, POOL_SIZE / PAGE_SIZE, pool_bitmap);
    for (unsigned i = 0; i < boot_info.nmmap; i++)
        if (boot_info.mmap[i].type == MB_MEM_AVAILABLE)
            frame_pool_add_ram(&kernel_pool, boot_info.mmap[i].start, boot_info.mmap[i].end);
    /* Never hand out: low memory (trampoline), the kernel image, the boot modules. */
    frame_pool_reserve(&kernel_pool, 0, LOW_RESERVED);
    frame_pool_reserve(&kernel_pool, KERNEL_LOAD, virt_to_phys(__kernel_end));
    for (unsigned i = 0; i < boot_info.nmods; i++)
        frame_pool_reserve(&kernel_pool, boot_info.mods[i].start, boot_info.mods[i].end);
}

/* Allocate one zeroed pool frame; panics when the pool is exhausted (boot only). */
paddr_t kmem_alloc_zeroed(void)
{
    paddr_t pa;
    if (frame_alloc(&kernel_pool, 1, 0, &pa) != 0)
        panic("kmem: kernel pool exhausted");
    memset(phys_to_virt(pa), 0, PAGE_SIZE);
    return pa;
}

/* Attributes of the 4 KiB kernel-image page at virtual address va (W^X by section). */
static pte_t image_attr(vaddr_t va)
{
    if (va < (vaddr_t)__text_end)
        return ATTR_TEXT;
    if (va < (vaddr_t)__rodata_end)
        return ATTR_RODATA;
    return ATTR_DATA;
}

/* A PT mapping the 2 MiB chunk at va (which holds part of the image) page by page. */
static paddr_t image_pt(vaddr_t va)
{
    paddr_t pt = kmem_alloc_zeroed();
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        vaddr_t v = va + i * PAGE_SIZE;
        table(pt)[i] = virt_to_phys((void *)v) | image_attr(v);
    }
    return pt;
}

/* Build the master kernel PD: linear map of the pool, global alias of the data pages. */
static void build_master(void)
{
    vaddr_t image_end = ALIGN_UP((vaddr_t)__kernel_end, LARGE_SIZE);

    master_pd = kmem_alloc_zeroed();
    /* Kernel image with 4 KiB pages (W^X), the rest of the pool with 2 MiB pages. */
    for (vaddr_t va = KERNEL_BASE; va < KERNEL_LINEAR_END; va += LARGE_SIZE) {
        pte_t e = va < image_end ? image_pt(va) | ATTR_TABLE
                                 : virt_to_phys((void *)va) | ATTR_DATA | PTE_PS;
        table(master_pd)[pt_index(va, 1)] = e;
    }
    table(master_pd)[PD_GLOBAL] = kmem_alloc_zeroed() | ATTR_TABLE;
}

/* Allocate core c's data page, stack, IDT, IST stacks and private tables. */
static void build_core(unsigned c, paddr_t lapic)
{
    paddr_t data = kmem_alloc_zeroed(), pt = kmem_alloc_zeroed();
    paddr_t global_pt = table(master_pd)[PD_GLOBAL] & PTE_ADDR;
    struct cpu_local *cl = phys_to_virt(data);

    core_data[c] = data;

    /* Private PT: guard (unmapped), stack, LAPIC (uncached), data page. */
    table(pt)[pt_index(CPU_STACK, 0)] = kmem_alloc_zeroed() | ATTR_DATA;
    table(pt)[pt_index(CPU_LAPIC, 0)] = lapic | ATTR_MMIO;
    table(pt)[pt_index(CPU_LOCAL, 0)] = data | ATTR_DATA;
    /* Private PD: the master's entries (shared below), plus the private PT. */
    core_pd[c] = kmem_alloc_zeroed();
    memcpy(table(core_pd[c]), table(master_pd), PAGE_SIZE);
    table(core_pd[c])[PD_PRIVATE] = pt | ATTR_TABLE;
    /* Global alias: the data page at CPU_GLOBAL + c * 4 KiB on every core. */
    table(global_pt)[c] = data | ATTR_DATA;

    cl->self = cpu_remote(c);
    cl->id = c;
    cl->pd_phys = core_pd[c];
    cl->idt = (vaddr_t)phys_to_virt(kmem_alloc_zeroed());
    for (unsigned i = 0; i < IST_STACKS; i++)
        cl->ist[i] = (vaddr_t)phys_to_virt(kmem_alloc_zeroed()) + PAGE_SIZE;
    cl->root = kmem_root_init(c, kmem_alloc_zeroed(), kmem_alloc_zeroed());
}

/* Build the master kernel tables and every core's private tables; panics on OOM. */
void kmem_init_cores(unsigned ncpu, paddr_t lapic)
{
    build_master();
    for (unsigned c = 0; c < ncpu; c++)
        build_core(c, lapic);
}

/* Physical address of core c's private PD (PML4 511, PDPT 510) to share in any root. */
paddr_t kmem_core_pd(unsigned c)
{
    ASSERT(c < NUM_CPU && core_pd[c]);
    return core_pd[c];
}

/* Initialise a new root for core c in two pool frames; returns the PML4 address. */
paddr_t kmem_root_init(unsigned c, paddr_t pml4, paddr_t pdpt)
{
    memset(table(pml4), 0, PAGE_SIZE);
    memset(table(pdpt), 0, PAGE_SIZE);
    table(pdpt)[PDPT_KERNEL] = kmem_core_pd(c) | ATTR_TABLE;
    table(pml4)[PML4_KERNEL] = pdpt | ATTR_TABLE;
    return pml4;
}

/* Physical address of the boot root that also identity-maps 0..4 GiB (AP start-up only). */
paddr_t kmem_boot_root(void)
{
    return virt_to_phys(boot_pml4);
}

/* After AP start-up: drop the boot root's identity map (it stays W^X-clean, unused). */
void kmem_boot_done(void)
{
    boot_pml4[0] = 0;
}

/* Switch the BSP (core bsp) to its own root and stack and continue in fn(); no return. */
noreturn void kmem_switch_bsp(unsigned bsp, void (*fn)(void))
{
    extern noreturn void switch_stack(vaddr_t top, void (*fn)(void));
    struct cpu_local *cl = phys_to_virt(core_data[bsp]);

    write_cr3(cl->root);
    /* The boot root (used by APs to enter long mode) now shares the master PD too. */
    boot_pdpt_hi[PDPT_KERNEL] = master_pd | ATTR_TABLE;
    switch_stack(CPU_STACK_TOP, fn);
}

/* Count leaves below table pa (level l, covering va) that are W+X or user; note the first. */
static unsigned check_table(paddr_t pa, unsigned l, vaddr_t va, vaddr_t *bad)
{
    unsigned n = 0;
    for (unsigned i = 0; i < PT_ENTRIES; i++) {
        pte_t e = table(pa)[i];
        vaddr_t v = va + ((vaddr_t)i << PT_SHIFT(l));
        if (l == 3 && i < KERNEL_HALF)
            continue;
        if (l == 3)
            v |= 0xFFFF000000000000UL;          /* sign-extend the kernel half */
        if (!(e & PTE_P))
            continue;
        if (e & PTE_U) {
            /* No level of a kernel mapping may allow user access. */
            if (!n++ && bad)
                *bad = v;
            continue;
        }
        if (l > 0 && !(e & PTE_PS)) {
            n += check_table(e & PTE_ADDR, l - 1, v, n ? NULL : bad);
            continue;
        }
        if ((e & PTE_W) && !(e & PTE_NX) && !n++ && bad)
            *bad = v;
    }
    return n;
}

/* Walk the kernel half of root (software walk); count W+X and user-accessible leaves. */
unsigned kmem_check_wx(paddr_t root, vaddr_t *first_bad)
{
    return check_table(root, 3, 0, first_bad);
}

/* Look up va in root; returns the leaf entry or 0 if unmapped. */
/* kmem_check_wx over every core's root: bad mappings of the first bad core (*core), or 0. */
unsigned kmem_check_wx_cores(unsigned *core, vaddr_t *first_bad)
{
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        unsigned n = kmem_check_wx(cpu_remote(c)->root, first_bad);
        if (n) {
            *core = c;
            return n;
        }
    }
    return 0;
}

uint64_t kmem_lookup(paddr_t root, vaddr_t va)
{
    paddr_t pa = root;
    for (unsigned l = 3;; l--) {
        pte_t e = table(pa)[pt_index(va, l)];
        if (!(e & PTE_P) || l == 0 || (e & PTE_PS))
            return e & PTE_P ? e : 0;
        pa = e & PTE_ADDR;
    }
}

/* Free memory in the kernel pool, in KiB. */
size_t kernel_pool_free_kib(void)
{
    return kernel_pool.nfree * (PAGE_SIZE / 1024);
}
