/*
 * Kernel object allocator (pure logic, host-tested): size classes carved out of
 * 4 KiB pages that come from an injected page allocator. Every small object has
 * a 16-byte header naming its class, so kfree needs no size (the mapping
 * database frees without one). Objects larger than a class take a whole page
 * and carry no header: a page-aligned pointer is a whole page. Freed objects
 * go to their class's free list; pages are not given back (bounded by the
 * peak use of each class).
 */
#pragma once
#include "types.h"

#define KMALLOC_PAGE     4096u                  /* bytes per backing page */
#define KMALLOC_HDR      16u                    /* header before each small object */
#define KMALLOC_CLASSES  7u                     /* 32, 64, ..., 2048 bytes (header included) */
#define KMALLOC_MIN      32u                    /* smallest class */
#define KMALLOC_SMALL_MAX (2048u - KMALLOC_HDR) /* largest size served from a class */

struct kmalloc_free;

struct kmalloc {
    void *(*page_alloc)(void *ctx);             /* a 4 KiB page, page aligned; NULL if none */
    void  (*page_free)(void *ctx, void *page);  /* give a whole-page object back */
    void *ctx;
    struct kmalloc_free *free[KMALLOC_CLASSES]; /* free objects per class (headers) */
    size_t pages;                               /* pages taken from page_alloc so far */
    size_t live;                                /* objects allocated and not freed */
};

void kmalloc_init(struct kmalloc *k, void *(*page_alloc)(void *), void (*page_free)(void *, void *),
                  void *ctx);
void *kmalloc_alloc(struct kmalloc *k, size_t size);
void kmalloc_free(struct kmalloc *k, void *p);

#ifndef TESSERA_HOST
/* The kernel's allocator (lock inside): objects, and zeroed pool frames for tables. */

void *kmalloc(size_t size);
void kfree(void *p);
paddr_t kframe_alloc(void);
void kframe_free(paddr_t pa);
void *kframes_alloc(size_t n);
void kframes_free(void *p, size_t n);
void kalloc_stats(uint64_t *pool_free, uint64_t *heap_pages, uint64_t *heap_live);
void kframe_account(long delta);
uint64_t kframe_pd_frames(void);

struct ptab_env;
extern const struct ptab_env kptab_env;    /* page-table engine env: pool frames, linear map */
extern const struct ptab_env kptab_env_pd; /* the same, each frame counted as held by a PD */
#endif
