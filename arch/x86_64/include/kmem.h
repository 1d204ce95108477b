/*
 * Kernel memory: the linear map of the kernel pool and the per-core root tables.
 *
 * Root for core c: private PML4 + private PDPT for PML4 slot 511. PDPT 510 points
 * to the core's private PD: a copy of the master kernel PD (its entries for the
 * linear map and the global alias never change after boot, so the copy shares
 * everything below) whose entry 511 points to a private PT with the core's stack,
 * LAPIC and data page. PDPT 511 (I/O bitmap, temporal mappings, capabilities) is
 * per PD; here it holds only the temporal window (tmap.h). The user half (PML4 0..255)
 * is empty. With the boot word "tables-far" the linear map covers only the first
 * TABLES_FAR_LINEAR of the pool, and the far pool, RAM right above it, holds the PDs'
 * page tables (kernel/kalloc_far.c), reached through the window (kmem_ptr).
 */
#pragma once
#include "layout.h"
#include "types.h"
#include "compiler.h"
#include "ptab.h"
#include "tmap.h"

/* Kernel virtual address of pool frame pa (linear map). */
static inline void *phys_to_virt(paddr_t pa)
{
    return (void *)(pa + KERNEL_VOFFSET);
}

/* Physical address of a linear-map (kernel image or pool) address. */
static inline paddr_t virt_to_phys(const void *va)
{
    return (vaddr_t)va - KERNEL_VOFFSET;
}

extern struct ptab_linear kmem_linear;  /* the linear map's frames (end: POOL_END_PHYS or less) */

/* Is [pa, pa+len) inside the linearly mapped kernel pool? */
static inline bool kmem_in_pool(paddr_t pa, size_t len)
{
    return pa - KERNEL_LOAD <= kmem_linear.end - KERNEL_LOAD && len <= kmem_linear.end - pa;
}

void *kmem_ptr(paddr_t pa, unsigned slot);
void *kmem_p2v(void *ctx, paddr_t pa, unsigned slot);

void kmem_init_cores(unsigned ncpu, paddr_t lapic);
void *kmem_map_mmio(paddr_t pa, size_t len);
paddr_t kmem_core_pd(unsigned c);
int kmem_root_init(struct ptab *t, unsigned c, paddr_t kdir);
void kmem_root_fini(struct ptab *t);
void kmem_root_windows(struct ptab *t, paddr_t master);
size_t kmem_root_kernel_tables(const struct ptab *t);
struct ptab kmem_view(paddr_t root);
unsigned kmem_check_wx(paddr_t root, vaddr_t *first_bad);
unsigned kmem_check_wx_cores(unsigned *core, vaddr_t *first_bad);
bool kmem_lookup(paddr_t root, vaddr_t va, struct ptab_map *m);
paddr_t kmem_boot_root(void);

struct frame_pool;
extern struct frame_pool kernel_pool;
extern struct frame_pool far_pool;     /* RAM outside the linear map for PD page tables */
#define FAR_POOL_MAX MiB(256)          /* the far pool's largest size */

void kmem_pool_init(bool tables_far);
paddr_t kmem_alloc_zeroed(void);
void kmem_boot_done(void);
noreturn void kmem_switch_bsp(unsigned bsp, void (*fn)(void));
size_t kernel_pool_free_kib(void);

/* Pointer to physical address pa through the boot root's identity map (early boot only).
 * The empty asm hides the constant from the compiler's bounds checks. */
static inline void *phys_ident(paddr_t pa)
{
    void *p;
    __asm__("" : "=r"(p) : "0"(pa));
    return p;
}
