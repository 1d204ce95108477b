/* Kernel object allocator: size classes over 4 KiB slabs that go back when empty
 * (see include/kmalloc.h). */
#include "kmalloc.h"
#include "kstring.h"
#include "panic.h"

struct kmalloc_free {
    struct kmalloc_free *next;  /* overlays the first word of a free object */
};

/* Object size of each class: as many as fit the slab after its header, 16-byte multiples. */
static const uint16_t class_size[KMALLOC_CLASSES] = { 32, 64, 128, 256, 576, 1008, 2016 };
#define KMALLOC_POW2_CLASSES 4          /* classes 0..3 are 32 << c bytes */
#define KMALLOC_POW2_MAX     256u
_Static_assert(KMALLOC_SLAB_HDR % KMALLOC_ALIGN == 0, "objects stay aligned");
_Static_assert(KMALLOC_SLAB_HDR + 2 * KMALLOC_SMALL_MAX <= KMALLOC_PAGE, "two of the largest fit");

/* Bytes of an object of class c (KMALLOC_CLASSES and above: 0). */
size_t kmalloc_class_size(unsigned c)
{
    return c < KMALLOC_CLASSES ? class_size[c] : 0;
}

/* Index of the smallest class holding size bytes (size <= KMALLOC_SMALL_MAX). */
static unsigned class_of(size_t size)
{
    if (size <= KMALLOC_POW2_MAX)       /* the power-of-two classes: from the bit length */
        return size <= class_size[0] ? 0 : (unsigned)(64 - __builtin_clzl(size - 1)) - 5;
    unsigned c = KMALLOC_POW2_CLASSES;
    while (class_size[c] < size)
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

/* Put slab s at the head of its class's list. */
static void partial_push(struct kmalloc *k, struct kmalloc_slab *s)
{
    s->prev = NULL;
    s->next = k->partial[s->cls];
    if (s->next)
        s->next->prev = s;
    k->partial[s->cls] = s;
}

/* Take slab s off its class's list. */
static void partial_unlink(struct kmalloc *k, struct kmalloc_slab *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        k->partial[s->cls] = s->next;
    if (s->next)
        s->next->prev = s->prev;
    s->next = s->prev = NULL;
}

/* Cut a new page into objects of class c as a slab on c's list; false if no page. */
static bool refill(struct kmalloc *k, unsigned c)
{
    uint8_t *page = k->page_alloc(k->ctx);
    size_t step = class_size[c];
    if (!page)
        return false;
    k->pages++;
    struct kmalloc_slab *s = (struct kmalloc_slab *)page;
    *s = (struct kmalloc_slab){ .heap = k, .cls = c };
    for (size_t off = KMALLOC_SLAB_HDR; off + step <= KMALLOC_PAGE; off += step) {
        struct kmalloc_free *f = (struct kmalloc_free *)(page + off);
        f->next = s->free;
        s->free = f;
    }
    partial_push(k, s);
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
    if (!k->partial[c] && !refill(k, c))
        return NULL;
    struct kmalloc_slab *s = k->partial[c];
    struct kmalloc_free *f = s->free;
    s->free = f->next;
    s->live++;
    if (!s->free)
        partial_unlink(k, s);               /* full: off the list until an object comes back */
    memset(f, 0, class_size[c]);
    k->live++;
    return f;
}

/* The heap a small object of kmalloc_alloc came from; NULL for a whole-page object. */
struct kmalloc *kmalloc_owner(const void *p)
{
    if (((uintptr_t)p & (KMALLOC_PAGE - 1)) == 0)
        return NULL;
    return ((const struct kmalloc_slab *)((uintptr_t)p & ~(uintptr_t)(KMALLOC_PAGE - 1)))->heap;
}

/* Give back an object from kmalloc_alloc on k (NULL is ignored); a slab left empty goes back
 * to the page allocator. Panics if a small object is not k's. */
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
    struct kmalloc_slab *s = (struct kmalloc_slab *)((uintptr_t)p & ~(uintptr_t)(KMALLOC_PAGE - 1));
    ASSERT(s->heap == k && s->live > 0);
    struct kmalloc_free *f = p;
    bool was_full = !s->free;
    f->next = s->free;
    s->free = f;
    s->live--;
    if (s->live == 0) {
        if (!was_full)
            partial_unlink(k, s);
        k->page_free(k->ctx, s);
        k->pages--;
    } else if (was_full) {
        partial_push(k, s);
    }
}
