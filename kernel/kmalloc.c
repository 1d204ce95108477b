/* Kernel object allocator: size classes over 4 KiB pages (see include/kmalloc.h). */
#include "kmalloc.h"
#include "kstring.h"

struct kmalloc_free {
    struct kmalloc_free *next;  /* overlays the header of a free object */
};

/* Index of the smallest class holding size bytes plus the header. */
static unsigned class_of(size_t size)
{
    unsigned c = 0;
    while ((KMALLOC_MIN << c) < size + KMALLOC_HDR)
        c++;
    return c;
}

/* Set up an allocator over page_alloc/page_free. */
void kmalloc_init(struct kmalloc *k, void *(*page_alloc)(void *), void (*page_free)(void *, void *),
                  void *ctx)
{
    memset(k, 0, sizeof(*k));
    k->page_alloc = page_alloc;
    k->page_free = page_free;
    k->ctx = ctx;
}

/* Cut a new page into objects of class c and put them on its free list; false if no page. */
static bool refill(struct kmalloc *k, unsigned c)
{
    uint8_t *page = k->page_alloc(k->ctx);
    size_t step = (size_t)KMALLOC_MIN << c;
    if (!page)
        return false;
    k->pages++;
    for (size_t off = 0; off + step <= KMALLOC_PAGE; off += step) {
        struct kmalloc_free *f = (struct kmalloc_free *)(page + off);
        f->next = k->free[c];
        k->free[c] = f;
    }
    return true;
}

/* A zeroed object of size bytes (16-byte aligned); NULL if size is 0, above a page, or no
 * memory. */
void *kmalloc_alloc(struct kmalloc *k, size_t size)
{
    if (size == 0 || size > KMALLOC_PAGE)
        return NULL;
    if (size > KMALLOC_SMALL_MAX) {
        /* Whole page, no header: page alignment marks it for kmalloc_free. */
        void *page = k->page_alloc(k->ctx);
        if (!page)
            return NULL;
        k->pages++;
        k->live++;
        memset(page, 0, KMALLOC_PAGE);
        return page;
    }
    unsigned c = class_of(size);
    if (!k->free[c] && !refill(k, c))
        return NULL;
    struct kmalloc_free *f = k->free[c];
    k->free[c] = f->next;
    uint8_t *obj = (uint8_t *)f;
    memset(obj, 0, (size_t)KMALLOC_MIN << c);
    *(uint64_t *)obj = c;                   /* header: the class */
    k->live++;
    return obj + KMALLOC_HDR;
}

/* Give back an object from kmalloc_alloc (NULL is ignored). */
void kmalloc_free(struct kmalloc *k, void *p)
{
    if (!p)
        return;
    k->live--;
    if (((uintptr_t)p & (KMALLOC_PAGE - 1)) == 0) {
        k->page_free(k->ctx, p);
        k->pages--;
        return;
    }
    struct kmalloc_free *f = (struct kmalloc_free *)((uint8_t *)p - KMALLOC_HDR);
    unsigned c = (unsigned)*(uint64_t *)f;
    f->next = k->free[c];
    k->free[c] = f;
}
