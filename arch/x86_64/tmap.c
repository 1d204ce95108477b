/*
 * Temporal mappings: the per-core window of arch/x86_64/include/tmap.h. It lives in arch/
 * because it writes page-table entries of the kernel half and invalidates them with INVLPG
 * (hardware); generic code reaches it only through kmem_ptr (kmem.h), which takes the
 * linear map for pool frames and the window for every other frame.
 */
#include "tmap.h"
#include "cpu.h"
#include "cpu_local.h"
#include "kmem.h"
#include "kmalloc.h"
#include "panic.h"
#include "selftest.h"

/* Window pages: kernel data, global (one translation for every PCID), never executable. */
#define TMAP_ATTR       (struct ptab_attr){ PTAB_R | PTAB_W | PTAB_G, PTAB_WB }
#define TMAP_DIR_FIRST  LAYOUT_IDX(CPU_TMAP, 1)         /* its first entry in a kdir */

static paddr_t tmap_pt[TMAP_PTS];       /* the window's page tables (pool frames) */
static paddr_t tmap_kdir;               /* a kernel directory holding only the window */
static unsigned tmap_depth[NUM_CPU];    /* each core's nesting depth (written by the core) */

_Static_assert(CPU_TMAP % PTAB_LEVEL_SIZE(1) == 0 && TMAP_PTS * PTAB_LEVEL_SIZE(1) ==
               CPU_TMAP_SIZE && LAYOUT_IDX(CPU_TMAP, 2) == PDPT_KDIR,
               "the window is whole PD entries of the kdir");

/* The kernel-table view that encodes the window's entries (table entries deny user access). */
static struct ptab tmap_view(void)
{
    return (struct ptab){ .fmt = &ptab_hpt, .env = &kptab_env, .levels = 2, .leaf_mask = BIT(0),
                          .caps = PTAB_CAP_HPT_KERNEL };
}

/* Allocate the window's page tables and the directory for roots without a PD (boot). */
void tmap_init(void)
{
    for (unsigned i = 0; i < TMAP_PTS; i++)
        tmap_pt[i] = kmem_alloc_zeroed();
    tmap_kdir = kmem_alloc_zeroed();
    tmap_fill_dir(tmap_kdir);
}

/* Point the window's PD entries of the kernel directory dir (a pool frame) to its tables;
   entries already there are left as they are. */
void tmap_fill_dir(paddr_t dir)
{
    struct ptab v = tmap_view();
    pte_t *d = phys_to_virt(dir);
    ASSERT(tmap_kdir);
    for (unsigned i = 0; i < TMAP_PTS; i++)
        ptab_entry_fill(&v, &d[TMAP_DIR_FIRST + i], ptab_table_entry(&v, tmap_pt[i]));
}

/* The directory a root without a PD takes at PDPT 511: the window and nothing else. */
paddr_t tmap_dir(void)
{
    return tmap_kdir;
}

/* Window page i: its virtual address and (*e) its entry. */
static vaddr_t page(unsigned i, pte_t **e)
{
    *e = (pte_t *)phys_to_virt(tmap_pt[i / PTAB_ENTRIES]) + i % PTAB_ENTRIES;
    return CPU_TMAP + (vaddr_t)i * PAGE_SIZE;
}

/* This core's pointer to frame pa in slot of its current depth; good until the slot's next
   mapping at this depth. */
void *tmap_map(paddr_t pa, unsigned slot)
{
    unsigned c = cpu_id();
    ASSERT(slot < TMAP_SET && tmap_kdir);
    pte_t *e, want = pa | ptab_hpt.leaf(PTAB_CAP_HPT_KERNEL, 0, TMAP_ATTR);
    vaddr_t va = page(c * TMAP_CPU_PAGES + tmap_depth[c] * TMAP_SET + slot, &e);
    if (*e != want) {
        __atomic_store_n(e, want, __ATOMIC_RELAXED);
        invlpg(va);
    }
    return (void *)va;
}

/* Enter a nested use of the window (a kernel-mode fault): the depth to give tmap_leave. */
unsigned tmap_enter(void)
{
    unsigned c = cpu_id(), d = tmap_depth[c];
    if (d + 1 >= TMAP_DEPTHS)
        panic("tmap: nested %u deep", d + 1);
    tmap_depth[c] = d + 1;
    return d;
}

/* Return to depth d (from tmap_enter); the outer pointers are good again. */
void tmap_leave(unsigned depth)
{
    tmap_depth[cpu_id()] = depth;
}

/* Kernel pointer to frame pa: the linear map for pool frames, else window slot slot. */
void *kmem_ptr(paddr_t pa, unsigned slot)
{
    return kmem_in_pool(pa, PAGE_SIZE) ? phys_to_virt(pa) : tmap_map(pa, slot);
}

/* struct ptab_env's p2v of every kernel env (ctx unused): kmem_ptr. */
void *kmem_p2v(void *ctx, paddr_t pa, unsigned slot)
{
    (void)ctx;
    return kmem_ptr(pa, slot);
}

SELFTEST(the_temporal_window_maps_a_frame_per_slot_and_remaps_a_slot_to_another_frame)
{
    /* Two pool frames seen through the window (any frame may go through it). */
    paddr_t a = kframe_alloc(), b = kframe_alloc();
    if (!a || !b)
        return SELFTEST_FAIL("out of memory");
    volatile uint64_t *la = phys_to_virt(a), *lb = phys_to_virt(b);
    la[7] = 0xa11a, lb[7] = 0xb22b;
    volatile uint64_t *wa = tmap_map(a, 0), *wb = tmap_map(b, 1);
    bool ok = wa[7] == 0xa11a && wb[7] == 0xb22b;
    /* Reuse slot 0 for b: the old translation must be gone (INVLPG on reuse). */
    volatile uint64_t *w0 = tmap_map(b, 0);
    ok = ok && w0 == wa && w0[7] == 0xb22b;
    w0[8] = 0x5eed;
    ok = ok && lb[8] == 0x5eed;
    /* A nested depth has its own pages; leaving it finds the outer mapping intact. */
    unsigned d = tmap_enter();
    volatile uint64_t *n0 = tmap_map(a, 0);
    ok = ok && n0 != w0 && n0[7] == 0xa11a;
    tmap_leave(d);
    ok = ok && w0[7] == 0xb22b;
    /* The window is in the core's root (every PD's root has it too: kmem_root_init). */
    struct ptab_map m;
    ok = ok && kmem_lookup(this_cpu()->root, (vaddr_t)w0, &m) && m.pa == b &&
         (m.attr.perm & PTAB_G) && !(m.attr.perm & (PTAB_U | PTAB_XS));
    kframe_free(a);
    kframe_free(b);
    return ok ? true : SELFTEST_FAIL("a window read or lookup gave the wrong frame");
}
