/* The kernel's allocators: objects (kmalloc over pool pages) and pool frames, under one lock. */
#include "kmalloc.h"
#include "arch.h"
#include "frame.h"
#include "panic.h"
#include "kstring.h"
#include "ptab.h"
#include "quarantine.h"
#include "quota.h"
#include "spinlock.h"

static struct spinlock pool_lock = SPINLOCK_INIT;
static struct kmalloc kheap;
static bool kheap_ready;
static uint64_t pd_frames;             /* pool frames held by PDs (kframe_account) */
static uint64_t heaps_pages, heaps_live;    /* pages and objects of every quota-charged heap */

/* n contiguous zeroed frames; 0 if the pool has none. */
static paddr_t frames(size_t n)
{
    paddr_t pa;
    mword fl = irq_save();
    spin_lock(&pool_lock);
    int err = frame_alloc(&kernel_pool, n, 0, &pa);
    if (!err)
        quarantine_on_alloc(pa, n);
    spin_unlock(&pool_lock);
    irq_restore(fl);
    if (err)
        return 0;
    memset(phys_to_virt(pa), 0, n * PAGE_SIZE);
    return pa;
}

/* Zeroed pool frame, 0 if none. */
paddr_t kframe_alloc(void)
{
    return frames(1);
}

/* Give a pool frame back. */
void kframe_free(paddr_t pa)
{
    mword fl = irq_save();
    spin_lock(&pool_lock);
    quarantine_on_free(pa, 1);
    frame_free(&kernel_pool, pa, 1);
    spin_unlock(&pool_lock);
    irq_restore(fl);
}

/* n contiguous zeroed frames through the linear map, NULL if none. */
void *kframes_alloc(size_t n)
{
    paddr_t pa = frames(n);
    return pa ? phys_to_virt(pa) : NULL;
}

/* Give back n frames from kframes_alloc. */
void kframes_free(void *p, size_t n)
{
    mword fl = irq_save();
    spin_lock(&pool_lock);
    quarantine_on_free(virt_to_phys(p), n);
    frame_free(&kernel_pool, virt_to_phys(p), n);
    spin_unlock(&pool_lock);
    irq_restore(fl);
}

/* kmalloc's page source: a pool frame (called with pool_lock held). */
static void *heap_page(void *ctx)
{
    (void)ctx;
    paddr_t pa;
    if (frame_alloc(&kernel_pool, 1, 0, &pa))
        return NULL;
    quarantine_on_alloc(pa, 1);
    return phys_to_virt(pa);
}

/* kmalloc's page sink (called with pool_lock held). */
static void heap_page_free(void *ctx, void *page)
{
    (void)ctx;
    quarantine_on_free(virt_to_phys(page), 1);
    frame_free(&kernel_pool, virt_to_phys(page), 1);
}

/* A zeroed kernel object of size bytes, NULL if none. */
void *kmalloc(size_t size)
{
    mword fl = irq_save();
    spin_lock(&pool_lock);
    if (!kheap_ready) {
        kmalloc_init(&kheap, heap_page, heap_page_free, NULL);
        kheap_ready = true;
    }
    void *p = kmalloc_alloc(&kheap, size);
    spin_unlock(&pool_lock);
    irq_restore(fl);
    return p;
}

/* Give back a kmalloc object. */
void kfree(void *p)
{
    mword fl = irq_save();
    spin_lock(&pool_lock);
    kmalloc_free(&kheap, p);
    spin_unlock(&pool_lock);
    irq_restore(fl);
}

/* A charged heap's page source (ctx: its quota; pool_lock held): a pool frame charged to the
   quota, NULL if the quota is used up or the pool is empty. */
static void *charged_page(void *ctx)
{
    paddr_t pa;
    if (quota_charge(ctx, 1))
        return NULL;
    if (frame_alloc(&kernel_pool, 1, 0, &pa)) {
        quota_uncharge(ctx, 1);
        return NULL;
    }
    quarantine_on_alloc(pa, 1);
    return phys_to_virt(pa);
}

/* A charged heap's page sink (pool_lock held): the frame back to the pool, uncharged. */
static void charged_page_free(void *ctx, void *page)
{
    quarantine_on_free(virt_to_phys(page), 1);
    frame_free(&kernel_pool, virt_to_phys(page), 1);
    quota_uncharge(ctx, 1);
}

/* Set up k as an object heap whose every page is a pool frame charged to q. */
void kheap_init(struct kmalloc *k, struct quota *q)
{
    kmalloc_init(k, charged_page, charged_page_free, q);
}

/* Move the global books of the charged heaps by k's change since (pages0, live0). */
static void heaps_note(const struct kmalloc *k, size_t pages0, size_t live0)
{
    heaps_pages += k->pages - pages0;
    heaps_live += k->live - live0;
}

/* A zeroed object of size bytes from charged heap k, NULL if its quota or the pool is out. */
void *kheap_alloc(struct kmalloc *k, size_t size)
{
    mword fl = irq_save();
    spin_lock(&pool_lock);
    size_t pages0 = k->pages, live0 = k->live;
    void *p = kmalloc_alloc(k, size);
    heaps_note(k, pages0, live0);
    spin_unlock(&pool_lock);
    irq_restore(fl);
    return p;
}

/* Give back an object of charged heap k (NULL is ignored); an emptied page is uncharged. */
void kheap_free(struct kmalloc *k, void *p)
{
    mword fl = irq_save();
    spin_lock(&pool_lock);
    size_t pages0 = k->pages, live0 = k->live;
    kmalloc_free(k, p);
    heaps_note(k, pages0, live0);
    spin_unlock(&pool_lock);
    irq_restore(fl);
}

/* Give back a small object of any heap, charged or the kernel's (its slab names the heap). */
void kobj_free(void *p)
{
    struct kmalloc *k = kmalloc_owner(p);
    ASSERT(p == NULL || k != NULL);
    if (k == &kheap)
        kfree(p);
    else if (p)
        kheap_free(k, p);
}

/* A zeroed pool frame charged to q (and counted as PD-held); 0 if q is used up or no frame. */
paddr_t kframe_alloc_charged(struct quota *q)
{
    if (quota_charge(q, 1))
        return 0;
    paddr_t pa = kframe_alloc();
    if (!pa) {
        quota_uncharge(q, 1);
        return 0;
    }
    kframe_account(1);
    return pa;
}

/* Give back a frame from kframe_alloc_charged on q. */
void kframe_free_charged(struct quota *q, paddr_t pa)
{
    kframe_free(pa);
    kframe_account(-1);
    quota_uncharge(q, 1);
}

/* One consistent reading of the pool's free frames and the object heaps' pages and live objects
   (the kernel's heap and every charged one). */
void kalloc_stats(uint64_t *pool_free, uint64_t *heap_pages, uint64_t *heap_live)
{
    mword fl = irq_save();
    spin_lock(&pool_lock);
    *pool_free = kernel_pool.nfree + __atomic_load_n(&far_pool.nfree, __ATOMIC_RELAXED);
    *heap_pages = kheap.pages + heaps_pages;
    *heap_live = kheap.live + heaps_live;
    spin_unlock(&pool_lock);
    irq_restore(fl);
}

/* Note that PDs hold delta more pool frames (negative: fewer). */
void kframe_account(long delta)
{
    __atomic_add_fetch(&pd_frames, (uint64_t)delta, __ATOMIC_RELAXED);
}

/* Pool frames PDs hold (core_counters.pd_frames). */
uint64_t kframe_pd_frames(void)
{
    return __atomic_load_n(&pd_frames, __ATOMIC_RELAXED);
}

/* Page-table engine hooks: pool frames; any frame through the linear map or the window. */
static paddr_t env_alloc(void *ctx) { (void)ctx; return kframe_alloc(); }
static void env_free(void *ctx, paddr_t pa) { (void)ctx; kframe_free(pa); }

const struct ptab_env kptab_env = {
    .ctx = NULL, .p2v = kmem_p2v, .lin = &kmem_linear, .alloc = env_alloc, .free = env_free,
    .flush = NULL, .trace = NULL,
};

/* A zeroed pool frame for a PD, counted in pd_frames; 0 if none. */
static paddr_t env_alloc_pd(void *ctx)
{
    paddr_t pa = env_alloc(ctx);
    if (pa)
        kframe_account(1);
    return pa;
}

/* Give back a frame a PD held. */
static void env_free_pd(void *ctx, paddr_t pa)
{
    env_free(ctx, pa);
    kframe_account(-1);
}

/* The page-table engine env for frames PDs hold: kptab_env, each frame counted in pd_frames. */
const struct ptab_env kptab_env_pd = {
    .ctx = NULL,
    .p2v = kmem_p2v, .lin = &kmem_linear,
    .alloc = env_alloc_pd,
    .free = env_free_pd,
    .flush = NULL,
    .trace = NULL,
};
