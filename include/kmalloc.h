/*
 * Kernel object allocator (pure logic, host-tested): size classes carved out of
 * 4 KiB pages that come from an injected page allocator. Every class page (a
 * slab) starts with a header naming its heap and class and counting its live
 * objects, so kfree needs no size (the mapping database frees without one) and
 * finds the heap an object came from (kmalloc_owner). A slab whose last object
 * is freed goes back to the page allocator at once, so a heap holds exactly the
 * pages its live objects need. Objects larger than a class take a whole page
 * and carry no header: a page-aligned pointer is a whole page (no small object
 * starts at a page boundary). Slabs with a free object are on their class's list.
 */
#pragma once
#include "types.h"

#define KMALLOC_PAGE     4096u                  /* bytes per backing page */
#define KMALLOC_SLAB_HDR 48u                    /* struct kmalloc_slab at the start of a slab */
#define KMALLOC_CLASSES  7u                     /* 32, 64, 128, 256, 576, 1008, 2016 bytes */
#define KMALLOC_SMALL_MAX 2016u                 /* largest size served from a class */
#define KMALLOC_ALIGN    16u                    /* alignment of every object */

struct kmalloc_free;
struct kmalloc;

/* The header of a class page. */
struct kmalloc_slab {
    struct kmalloc *heap;                       /* the heap the page belongs to */
    struct kmalloc_slab *next, *prev;           /* the class's slabs with a free object */
    struct kmalloc_free *free;                  /* this page's free objects */
    uint32_t cls;                               /* class index */
    uint32_t live;                              /* objects allocated from this page */
    uint64_t pad;
};
_Static_assert(sizeof(struct kmalloc_slab) == KMALLOC_SLAB_HDR, "slab header size");

struct kmalloc {
    void *(*page_alloc)(void *ctx);             /* a 4 KiB page, page aligned; NULL if none */
    void  (*page_free)(void *ctx, void *page);  /* give a page back */
    void *ctx;
    struct kmalloc_slab *partial[KMALLOC_CLASSES]; /* slabs with a free object, per class */
    size_t pages;                               /* pages held (slabs and whole-page objects) */
    size_t live;                                /* objects allocated and not freed */
};

void kmalloc_init(struct kmalloc *k, void *(*page_alloc)(void *), void (*page_free)(void *, void *),
                  void *ctx);
void *kmalloc_alloc(struct kmalloc *k, size_t size);
void kmalloc_free(struct kmalloc *k, void *p);
struct kmalloc *kmalloc_owner(const void *p);
size_t kmalloc_class_size(unsigned c);

#ifndef TESSERA_HOST
/* The kernel's allocator (lock inside): objects, and zeroed pool frames for tables. */

struct quota;

void *kmalloc(size_t size);
void kfree(void *p);
void kheap_init(struct kmalloc *k, struct quota *q);
void *kheap_alloc(struct kmalloc *k, size_t size);
void kheap_free(struct kmalloc *k, void *p);
void kobj_free(void *p);
paddr_t kframe_alloc(void);
void kframe_free(paddr_t pa);
paddr_t kframe_alloc_charged(struct quota *q);
void kframe_free_charged(struct quota *q, paddr_t pa);
void *kframes_alloc(size_t n);
void kframes_free(void *p, size_t n);
void kalloc_stats(uint64_t *pool_free, uint64_t *heap_pages, uint64_t *heap_live);
void kframe_account(long delta);
uint64_t kframe_pd_frames(void);

struct ptab_env;
extern const struct ptab_env kptab_env;    /* page-table engine env: pool frames, linear map */
extern const struct ptab_env kptab_env_pd; /* the same, each frame counted as held by a PD */
#endif
