/* Physical frame allocator: a bitmap over the kernel pool plus a list of user RAM. */
#include "frame.h"
#include "panic.h"

/* Is frame i used? */
static bool bit_get(const struct frame_pool *p, size_t i)
{
    return p->bitmap[i / 64] & (1UL << (i % 64));
}

/* Mark frame i used (v) or free (!v), keeping nfree in step. */
static void bit_set(struct frame_pool *p, size_t i, bool v)
{
    if (bit_get(p, i) == v)
        return;
    if (v) {
        p->bitmap[i / 64] |= 1UL << (i % 64);
        p->nfree--;
    } else {
        p->bitmap[i / 64] &= ~(1UL << (i % 64));
        p->nfree++;
    }
}

/* Clip [*s, *e) to the pool; returns false if nothing is left. Frame indices out. */
static bool clip(const struct frame_pool *p, paddr_t s, paddr_t e, size_t *fs, size_t *fe)
{
    paddr_t pend = p->base + p->nframes * FRAME_SIZE;
    if (s < p->base)
        s = p->base;
    if (e > pend)
        e = pend;
    if (s >= e)
        return false;
    *fs = (s - p->base) / FRAME_SIZE;
    *fe = (e - p->base) / FRAME_SIZE;
    return *fs < *fe;
}

/* Set up pool over [base, base + nframes frames) with bitmap storage; all used. */
void frame_pool_init(struct frame_pool *p, paddr_t base, size_t nframes, uint64_t *bitmap)
{
    ASSERT(base % FRAME_SIZE == 0);
    p->base = base;
    p->nframes = nframes;
    p->bitmap = bitmap;
    p->nfree = 0;
    p->hint = 0;
    p->nuser = 0;
    p->user_dropped = 0;
    for (size_t i = 0; i < FRAME_BITMAP_WORDS(nframes); i++)
        bitmap[i] = ~0UL;
}

/* Append [s, e) to the user-memory list (dropped and counted if the list is full). */
static void user_add(struct frame_pool *p, paddr_t s, paddr_t e)
{
    if (s >= e)
        return;
    if (p->nuser == FRAME_USER_RANGES) {
        p->user_dropped++;
        return;
    }
    p->user[p->nuser++] = (struct mem_range){ s, e };
}

/* Declare RAM [start, end): frames in the pool become free, the rest user memory. */
void frame_pool_add_ram(struct frame_pool *p, paddr_t start, paddr_t end)
{
    size_t fs, fe;
    paddr_t pend = p->base + p->nframes * FRAME_SIZE;

    /* Only whole frames count as RAM. */
    start = ALIGN_UP(start, FRAME_SIZE);
    end = ALIGN_DOWN(end, FRAME_SIZE);
    if (start >= end)
        return;
    if (clip(p, start, end, &fs, &fe))
        for (size_t i = fs; i < fe; i++)
            bit_set(p, i, false);
    user_add(p, start, MIN(end, p->base));
    user_add(p, MAX(start, pend), end);
}

/* Remove [s, e) from user range k, splitting it if needed. */
static void user_cut(struct frame_pool *p, unsigned k, paddr_t s, paddr_t e)
{
    struct mem_range r = p->user[k];
    if (e <= r.start || s >= r.end)
        return;
    /* Drop the range, then put back what lies left and right of the cut. */
    p->user[k] = p->user[--p->nuser];
    user_add(p, r.start, MIN(s, r.end));
    user_add(p, MAX(e, r.start), r.end);
}

/* Take [start, end) out of the pool and out of user memory (rounded out to frames). */
void frame_pool_reserve(struct frame_pool *p, paddr_t start, paddr_t end)
{
    size_t fs, fe;

    start = ALIGN_DOWN(start, FRAME_SIZE);
    end = ALIGN_UP(end, FRAME_SIZE);
    if (start >= end)
        return;
    if (clip(p, start, end, &fs, &fe))
        for (size_t i = fs; i < fe; i++)
            bit_set(p, i, true);
    /* Cutting may move ranges around; repeat until no range overlaps. */
    for (unsigned k = 0; k < p->nuser;) {
        if (p->user[k].start < end && start < p->user[k].end)
            user_cut(p, k, start, end);
        else
            k++;
    }
}

/* Index of the first free frame in [i, to), or to if there is none: a word of 64 frames at a
   time, so a full pool costs nframes / 64 steps wherever the search starts. */
static size_t next_free(const struct frame_pool *p, size_t i, size_t to)
{
    while (i < to) {
        uint64_t free = ~p->bitmap[i / 64] & (~0UL << (i % 64));
        if (free) {
            size_t k = (i & ~(size_t)63) + (size_t)__builtin_ctzl(free);
            return k < to ? k : to;
        }
        i = (i & ~(size_t)63) + 64;
    }
    return to;
}

/* Index of the first used frame in [i, to), or to if there is none (a word at a time). */
static size_t next_used(const struct frame_pool *p, size_t i, size_t to)
{
    while (i < to) {
        uint64_t used = p->bitmap[i / 64] & (~0UL << (i % 64));
        if (used) {
            size_t k = (i & ~(size_t)63) + (size_t)__builtin_ctzl(used);
            return k < to ? k : to;
        }
        i = (i & ~(size_t)63) + 64;
    }
    return to;
}

/* Search [from, to) for n free frames aligned to a frames; returns index or SIZE_MAX. Each
   step jumps to the next free frame and past the next used one, a word at a time. */
static size_t search(const struct frame_pool *p, size_t from, size_t to, size_t n, size_t a)
{
    size_t abase = (p->base / FRAME_SIZE) % a;   /* frame index offset of alignment */
    size_t i = from;

    while (true) {
        i = next_free(p, i, to);
        /* Round i up so that (base/4K + i) is a multiple of a. */
        i = ALIGN_UP(i + abase, a) - abase;
        if (i + n > to || i + n < i)
            return SIZE_MAX;
        size_t used = next_used(p, i, i + n);
        if (used == i + n)
            return i;
        i = used + 1;
    }
}

/* Allocate n contiguous frames aligned to align bytes (power of two >= 4 KiB, or 0).
 * Returns 0 and the address in *pa, or -1 (nothing changed) if there is no room. */
int frame_alloc(struct frame_pool *p, size_t n, size_t align, paddr_t *pa)
{
    size_t a = align > FRAME_SIZE ? align / FRAME_SIZE : 1;
    size_t i;

    ASSERT((a & (a - 1)) == 0);
    if (n == 0 || n > p->nfree)
        return -1;
    /* Next fit: from the hint to the end, then from the start. */
    i = search(p, p->hint, p->nframes, n, a);
    if (i == SIZE_MAX)
        i = search(p, 0, p->nframes, n, a);
    if (i == SIZE_MAX)
        return -1;
    for (size_t k = i; k < i + n; k++)
        bit_set(p, k, true);
    p->hint = i + n;
    *pa = p->base + i * FRAME_SIZE;
    return 0;
}

/* Free n frames at pa; panics if any of them is not allocated (double free). */
void frame_free(struct frame_pool *p, paddr_t pa, size_t n)
{
    size_t i = (pa - p->base) / FRAME_SIZE;

    ASSERT(pa % FRAME_SIZE == 0 && pa >= p->base && i + n <= p->nframes);
    for (size_t k = i; k < i + n; k++) {
        ASSERT(bit_get(p, k));
        bit_set(p, k, false);
    }
}

/* Is the frame at pa free? (false outside the pool) */
bool frame_is_free(const struct frame_pool *p, paddr_t pa)
{
    if (pa < p->base || (pa - p->base) / FRAME_SIZE >= p->nframes)
        return false;
    return !bit_get(p, (pa - p->base) / FRAME_SIZE);
}
