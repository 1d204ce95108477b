/*
 * Kernel memory: the kernel pool, the master kernel PD and the per-core roots
 * (slides "Core-local Mappings", "Manipulating Page Tables: Bootstrapping").
 * The kernel's own tables come from the pool, so software walks reach them through
 * phys_to_virt (the lecture's software page-table walk); a PD's tables may come from
 * the far pool outside the linear map, reached through the temporal window (kmem_ptr).
 */
#include "kmem.h"
#include "arch.h"
#include "bootinfo.h"
#include "cpu.h"
#include "cpu_local.h"
#include "frame.h"
#include "kstring.h"
#include "kmalloc.h"
#include "ptab.h"
#include "panic.h"
#include "printk.h"
#include "smp.h"
#include "spinlock.h"
#include "multiboot.h"
#include "paging.h"

/* Attributes: kernel pages are global; only text is executable. */
#define KERNEL_TEXT     (struct ptab_attr){ PTAB_R | PTAB_XS | PTAB_G, PTAB_WB }
#define KERNEL_RODATA   (struct ptab_attr){ PTAB_R | PTAB_G, PTAB_WB }
#define KERNEL_DATA     (struct ptab_attr){ PTAB_R | PTAB_W | PTAB_G, PTAB_WB }
#define KERNEL_MMIO_ATTR (struct ptab_attr){ PTAB_R | PTAB_W | PTAB_G, PTAB_UC }
#define KERNEL_HALF     (~(vaddr_t)0 << (PTAB_LEVEL_SHIFT(HPT_LEVELS) - 1))  /* first address */

extern char __text_end[], __rodata_end[], __kernel_end[];
extern uint64_t boot_pml4[];

#define TABLES_FAR_LINEAR   MiB(16)     /* "tables-far": the pool the linear map covers */
#define FAR_POOL_MIN        MiB(32)     /* the far pool: a quarter of RAM, at least this */
#define FAR_POOL_DIV        4

struct frame_pool kernel_pool;
struct frame_pool far_pool;
struct ptab_linear kmem_linear = {
    .base = KERNEL_LOAD, .end = POOL_END_PHYS, .off = KERNEL_VOFFSET,
};
static uint64_t pool_bitmap[FRAME_BITMAP_WORDS(POOL_SIZE / PAGE_SIZE)];
static uint64_t far_bitmap[FRAME_BITMAP_WORDS(FAR_POOL_MAX / PAGE_SIZE)];
static struct ptab master;                      /* master tables: linear map, global aliases */
static paddr_t core_pd[NUM_CPU];                /* each core's private PD (PML4 511, PDPT 510) */
static paddr_t core_data[NUM_CPU];              /* each core's data page */

/* A kernel-half view of the 4-level root in frame root (its entries deny user access). */
struct ptab kmem_view(paddr_t root)
{
    return (struct ptab){ .fmt = &ptab_hpt, .env = &kptab_env, .root = root, .levels = HPT_LEVELS,
                          .leaf_mask = BIT(0) | BIT(1), .caps = PTAB_CAP_HPT_KERNEL,
                          .keep_level = 0, .own_level = HPT_LEVELS - 1 };
}

/* Map [va, end) of the kernel table t to the linear map's frames with a; panics on OOM. */
static void kmap(struct ptab *t, vaddr_t va, vaddr_t end, paddr_t pa, struct ptab_attr a)
{
    struct ptab_dfree df;
    struct ptab_result res;
    ptab_dfree_init(&df);
    if (ptab_update(t, va, end - va, pa, a, &df, &res) != E_OK)
        panic("kmem: kernel pool exhausted");
    ASSERT(df.count == 0);      /* keep_level 0: a kernel table is never detached */
}

/* The frame of the table at level l - 1 that t's entry for va at level l points to (0 if none). */
static paddr_t table_below(const struct ptab *t, vaddr_t va, unsigned l)
{
    unsigned reached;
    pte_t e = ptab_entry_load(ptab_walk(t, va, l, false, &reached));
    return reached == l && ptab_entry_is_table(t, l, e) ? ptab_entry_frame(t, l, e) : 0;
}

/* Fill pool p from boot_info's memory map, minus low memory, the kernel image, the modules. */
static void pool_fill(struct frame_pool *p)
{
    for (unsigned i = 0; i < boot_info.nmmap; i++)
        if (boot_info.mmap[i].type == MB_MEM_AVAILABLE)
            frame_pool_add_ram(p, boot_info.mmap[i].start, boot_info.mmap[i].end);
    frame_pool_reserve(p, 0, LOW_RESERVED);
    frame_pool_reserve(p, KERNEL_LOAD, virt_to_phys(__kernel_end));
    for (unsigned i = 0; i < boot_info.nmods; i++)
        frame_pool_reserve(p, boot_info.mods[i].start, boot_info.mods[i].end);
}

/* The far pool: a quarter of RAM (FAR_POOL_MIN..MAX) right above the linear map, taken out of
   the kernel pool's user memory. */
static void far_pool_init(void)
{
    uint64_t ram = 0;
    for (unsigned i = 0; i < boot_info.nmmap; i++)
        if (boot_info.mmap[i].type == MB_MEM_AVAILABLE)
            ram += boot_info.mmap[i].end - boot_info.mmap[i].start;
    uint64_t size = MIN(FAR_POOL_MAX, MAX(FAR_POOL_MIN, ALIGN_DOWN(ram / FAR_POOL_DIV, PAGE_SIZE)));
    frame_pool_init(&far_pool, kmem_linear.end, size / PAGE_SIZE, far_bitmap);
    pool_fill(&far_pool);
    frame_pool_reserve(&kernel_pool, kmem_linear.end, kmem_linear.end + size);
    printk("tessera: tables-far: linear pool to %lx, far pool [%lx, %lx) %lu KiB free\n",
           kmem_linear.end, kmem_linear.end, kmem_linear.end + size,
           far_pool.nfree * (PAGE_SIZE / 1024));
}

/* Set up the kernel pool from boot_info's memory map, minus reserved ranges; with tables_far
   only TABLES_FAR_LINEAR of it, and the far pool above. Panics if the image does not fit. */
void kmem_pool_init(bool tables_far)
{
    if (tables_far)
        kmem_linear.end = KERNEL_LOAD + TABLES_FAR_LINEAR;
    if (virt_to_phys(__kernel_end) >= kmem_linear.end)
        panic("kmem: the kernel image ends beyond the linear map at %lx", kmem_linear.end);
    frame_pool_init(&kernel_pool, KERNEL_LOAD, (kmem_linear.end - KERNEL_LOAD) / PAGE_SIZE,
                    pool_bitmap);
    pool_fill(&kernel_pool);
    if (tables_far)
        far_pool_init();
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

/* Linear-map frame of the kernel address va. */
static paddr_t lin(vaddr_t va)
{
    return virt_to_phys((const void *)va);
}

/* Build the master tables: the linear map of the pool, the global alias of ncpu data pages. */
static void build_master(unsigned ncpu)
{
    vaddr_t image_end = ALIGN_UP((vaddr_t)__kernel_end, LARGE_SIZE);
    if (ptab_init(&master, &ptab_hpt, &kptab_env, HPT_LEVELS, PTAB_CAP_HPT_KERNEL) != E_OK)
        panic("kmem: kernel pool exhausted");
    master.keep_level = 0;
    /* The kernel image with 4 KiB pages (W^X by section), the rest of the pool with 2 MiB pages. */
    master.leaf_mask = BIT(0);
    kmap(&master, KERNEL_BASE, (vaddr_t)__text_end, lin(KERNEL_BASE), KERNEL_TEXT);
    kmap(&master, (vaddr_t)__text_end, (vaddr_t)__rodata_end, lin((vaddr_t)__text_end),
         KERNEL_RODATA);
    kmap(&master, (vaddr_t)__rodata_end, image_end, lin((vaddr_t)__rodata_end), KERNEL_DATA);
    master.leaf_mask = BIT(0) | BIT(1);
    kmap(&master, image_end, (vaddr_t)phys_to_virt(kmem_linear.end), lin(image_end), KERNEL_DATA);
    /* The device-register window's page table, there before the cores copy the PD. */
    unsigned l;
    if (!ptab_walk(&master, KERNEL_MMIO, 0, true, &l) || l != 0)
        panic("kmem: kernel pool exhausted");
    /* Global alias: core c's data page at CPU_GLOBAL + c * 4 KiB on every core. */
    for (unsigned c = 0; c < ncpu; c++) {
        core_data[c] = kmem_alloc_zeroed();
        kmap(&master, CPU_GLOBAL + c * PAGE_SIZE, CPU_GLOBAL + (c + 1) * PAGE_SIZE, core_data[c],
             KERNEL_DATA);
    }
}

#ifdef PTSYNC_shared
/* PTSYNC=shared: map into the master, so into every root, the LAPIC (uncached) at CPU_LAPIC
 * (each core reaches its own LAPIC at the one address) and the pages of the TSS array. */
static void build_shared(paddr_t lapic)
{
    kmap(&master, CPU_LAPIC, CPU_LAPIC + PAGE_SIZE, lapic, KERNEL_MMIO_ATTR);
    for (unsigned i = 0; i < CPU_TSS_PAGES; i++)
        kmap(&master, CPU_TSS + i * PAGE_SIZE, CPU_TSS + (i + 1) * PAGE_SIZE, kmem_alloc_zeroed(),
             KERNEL_DATA);
}
#endif

/* Core c's root: the master's PD entries in a private PD, plus a private PT with the IST
 * stacks and the stack (each above an unmapped guard), LAPIC (uncached) and data page.
 * PTSYNC=shared: the stacks go into the master at CPU_AREA(c), and the root takes the master's
 * PD itself (no slot of it is the core's). Returns the root frame. */
static paddr_t build_core_root(unsigned c, paddr_t lapic)
{
    struct ptab r;
    if (ptab_init(&r, &ptab_hpt, &kptab_env, HPT_LEVELS, PTAB_CAP_HPT_KERNEL) != E_OK)
        panic("kmem: kernel pool exhausted");
    r.keep_level = 0;
    r.leaf_mask = master.leaf_mask;
#ifdef PTSYNC_shared
    (void)lapic;
    for (unsigned s = 1; s <= IST_STACKS; s++)
        kmap(&master, CORE_IST_TOP(c, s) - PAGE_SIZE, CORE_IST_TOP(c, s), kmem_alloc_zeroed(),
             KERNEL_DATA);
    kmap(&master, CORE_STACK_TOP(c) - PAGE_SIZE, CORE_STACK_TOP(c), kmem_alloc_zeroed(),
         KERNEL_DATA);
    core_pd[c] = table_below(&master, KERNEL_BASE, HPT_LEVELS - 2);
    if (ptab_attach(&r, KERNEL_BASE, HPT_LEVELS - 2, core_pd[c]) != E_OK ||
        ptab_attach(&r, PD_IOBMP, HPT_LEVELS - 2, tmap_dir()) != E_OK)
        panic("kmem: kernel pool exhausted");
    return r.root;
#else
    /* Share every PD entry of the master (the tables below them, or its 2 MiB leaves). */
    for (vaddr_t va = KERNEL_BASE; va < CPU_PRIVATE_PD_BASE; va += LARGE_SIZE)
        if (ptab_sync_from(&r, &master, va, va, va + LARGE_SIZE) == E_NOMEM)
            panic("kmem: kernel pool exhausted");
    /* The IST stacks and the stack, each above an unmapped guard page. */
    for (unsigned s = 1; s <= IST_STACKS; s++)
        kmap(&r, CPU_IST_TOP(s) - PAGE_SIZE, CPU_IST_TOP(s), kmem_alloc_zeroed(), KERNEL_DATA);
    kmap(&r, CPU_STACK, CPU_STACK + PAGE_SIZE, kmem_alloc_zeroed(), KERNEL_DATA);
    kmap(&r, CPU_LAPIC, CPU_LAPIC + PAGE_SIZE, lapic, KERNEL_MMIO_ATTR);
    kmap(&r, CPU_LOCAL, CPU_LOCAL + PAGE_SIZE, core_data[c], KERNEL_DATA);
    if (ptab_attach(&r, PD_IOBMP, HPT_LEVELS - 2, tmap_dir()) != E_OK)
        panic("kmem: kernel pool exhausted");
    core_pd[c] = table_below(&r, KERNEL_BASE, HPT_LEVELS - 2);
    return r.root;
#endif
}

/* Allocate core c's root, IDT and IST stacks and fill in its data page. */
static void build_core(unsigned c, paddr_t lapic)
{
    struct cpu_local *cl = phys_to_virt(core_data[c]);
    cl->root = build_core_root(c, lapic);
    cl->self = cpu_remote(c);
    cl->id = c;
    cl->pd_phys = core_pd[c];
    cl->idt = (vaddr_t)phys_to_virt(kmem_alloc_zeroed());
    for (unsigned i = 0; i < IST_STACKS; i++)
        cl->ist[i] = CORE_IST_TOP(c, i + 1);
#ifdef PTSYNC_shared
    cl->stack_top = CORE_STACK_TOP(c);
#endif
}

/* Build the master kernel tables and, for each of the ncpu cores, its data page and private
 * tables (its LAPIC mapping at lapic); panics on OOM. */
void kmem_init_cores(unsigned ncpu, paddr_t lapic)
{
    build_master(ncpu);
    tmap_init();
#ifdef PTSYNC_shared
    build_shared(lapic);
#endif
    for (unsigned c = 0; c < ncpu; c++)
        build_core(c, lapic);
}

/* Map the device registers [pa, pa + len) uncached into KERNEL_MMIO, for good and seen by
 * every core (the window's page table is shared and its entries were not present, so no TLB
 * holds them); the kernel address of pa, NULL when the window is full. */
void *kmem_map_mmio(paddr_t pa, size_t len)
{
    static vaddr_t next = KERNEL_MMIO;
    static struct spinlock lock = SPINLOCK_INIT;
    paddr_t first = ALIGN_DOWN(pa, PAGE_SIZE);
    size_t size = ALIGN_UP(pa + len, PAGE_SIZE) - first;
    mword f = irq_save();
    spin_lock(&lock);
    vaddr_t va = next;
    bool room = len && size <= KERNEL_MMIO_END - next;
    if (room) {
        next += size;
        kmap(&master, va, va + size, first, KERNEL_MMIO_ATTR);      /* the table exists */
    }
    spin_unlock(&lock);
    irq_restore(f);
    return room ? (void *)(va + (pa - first)) : NULL;
}

/* Physical address of core c's private PD (PML4 511, PDPT 510) to share in any root. */
paddr_t kmem_core_pd(unsigned c)
{
    ASSERT(c < NUM_CPU && core_pd[c]);
    return core_pd[c];
}

/* Give the root t the kernel half of core c: PML4 511 -> a new PDPT whose entry 510 is the
 * core's PD and entry 511 the PD's kernel directory kdir, which gains the temporal window
 * (if 0: the window's own directory). E_NOMEM (undo: fini). */
int kmem_root_init(struct ptab *t, unsigned c, paddr_t kdir)
{
    struct ptab k = kmem_view(t->root);
    k.env = t->env;                                 /* the PDPT is charged as t's tables are */
    int err = ptab_attach(&k, KERNEL_BASE, HPT_LEVELS - 2, kmem_core_pd(c));
    if (kdir)
        tmap_fill_dir(kdir);
    if (!err)
        err = ptab_attach(&k, PD_IOBMP, HPT_LEVELS - 2, kdir ? kdir : tmap_dir());
    return err;
}

#ifdef PTACCESS_recursive
/* Put entry e into root slot `slot` of the root t: a table entry without user access. */
static void root_slot(const struct ptab *t, unsigned slot, paddr_t pa)
{
    struct ptab k = kmem_view(t->root);
    k.env = t->env;
    unsigned l;
    vaddr_t va = (vaddr_t)slot << PTAB_LEVEL_SHIFT(HPT_LEVELS - 1);
    ptab_entry_swap(&k, ptab_walk(&k, va, HPT_LEVELS - 1, false, &l),
                    pa ? ptab_table_entry(&k, pa) | PTE_NX : 0);
}

/* The lab switch PTACCESS=recursive: point the per-core root t's recursive slot to t itself
   and its master slot to the PD's master table in frame master (supervisor, no-execute). */
void kmem_root_windows(struct ptab *t, paddr_t master)
{
    root_slot(t, PML4_RECURSIVE, t->root);
    root_slot(t, PML4_MASTER, master);
}
#endif

/* Tables below the kernel-half PDPT of the root t (its PD's kdir, the kernel's PD and tables):
 * the kernel's, not t's, though a walk of t from its root counts them. */
size_t kmem_root_kernel_tables(const struct ptab *t)
{
    struct ptab k = kmem_view(t->root);
    paddr_t pdpt = table_below(&k, KERNEL_BASE, HPT_LEVELS - 1);
    if (!pdpt)
        return 0;
    struct ptab below = *t;
    below.root = pdpt;
    below.levels = HPT_LEVELS - 1;
    return ptab_tables(&below) - 1;
}

/* Undo kmem_root_init on t (not loaded on any core): free its kernel-half PDPT. */
void kmem_root_fini(struct ptab *t)
{
    struct ptab k = kmem_view(t->root);
    k.env = t->env;
    unsigned l;
    pte_t e = ptab_entry_swap(&k, ptab_walk(&k, KERNEL_BASE, HPT_LEVELS - 1, false, &l), 0);
    if (ptab_entry_is_table(&k, l, e))
        k.env->free(k.env->ctx, ptab_entry_frame(&k, l, e));
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
    struct cpu_local *cl = phys_to_virt(core_data[bsp]);
    struct ptab boot = kmem_view(kmem_boot_root());
    paddr_t master_pd = table_below(&master, KERNEL_BASE, HPT_LEVELS - 2);

    write_cr3(cl->root);
    /* The boot root (used by APs to enter long mode) shares the master PD too. */
    if (ptab_attach(&boot, KERNEL_BASE, HPT_LEVELS - 2, master_pd) != E_OK)
        panic("kmem: boot root without its kernel PDPT");
    switch_stack(CORE_STACK_TOP(bsp), fn);
}

/* W+X and user-accessible kernel mappings kmem_check_wx found. */
struct wx_check {
    const struct ptab *t;       /* the root checked */
    unsigned n;                 /* bad entries */
    vaddr_t *first;             /* where the first one maps (may be NULL) */
};

/* kmem_check_wx's visitor: a user-accessible entry at any level or a W+X leaf is bad. */
static bool wx_visit(void *arg, const struct ptab_entry *e)
{
    struct wx_check *w = arg;
    unsigned p = ptab_entry_attr(w->t, e->level, e->e).perm;
    bool bad = (p & PTAB_U) || (e->leaf && (p & PTAB_W) && (p & PTAB_XS));
    /* The recursive slots (PTACCESS=recursive) map tables only: no-execute, not walked. */
    unsigned slot = (unsigned)LAYOUT_IDX(e->va, HPT_LEVELS - 1);
    bool window = e->level == HPT_LEVELS - 1 && (slot == PML4_RECURSIVE || slot == PML4_MASTER);
    bad |= window && (p & PTAB_XS);
    if (bad && !w->n++ && w->first)
        *w->first = e->va;
    return !bad && !window;
}

/* Walk the kernel half of root; count W+X and user-accessible entries, *first_bad the first. */
unsigned kmem_check_wx(paddr_t root, vaddr_t *first_bad)
{
    struct ptab k = kmem_view(root);
    struct wx_check w = { &k, 0, first_bad };
    ptab_visit(&k, KERNEL_HALF, -KERNEL_HALF, wx_visit, &w);
    return w.n;
}

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

/* Translate va in the 4-level root: true and *m if mapped, false if a hole (m describes it). */
bool kmem_lookup(paddr_t root, vaddr_t va, struct ptab_map *m)
{
    struct ptab k = kmem_view(root);
    return ptab_lookup(&k, va, m);
}

/* Free memory in the kernel pool, in KiB. */
size_t kernel_pool_free_kib(void)
{
    return kernel_pool.nfree * (PAGE_SIZE / 1024);
}
