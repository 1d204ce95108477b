/* Fake physical memory for host tests of the page-table engine (see fake_mem.h). */
#define _GNU_SOURCE             /* memfd_create (window mode) */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sanitizer/asan_interface.h>
#include "fake_mem.h"
#include "panic.h"

#define FRAME PTAB_PAGE_SIZE

/* Index of the frame at physical address pa. */
static size_t frame_idx(const struct fake_mem *fm, paddr_t pa)
{
    size_t i = (size_t)(pa >> PTAB_PAGE_BITS) - 1;
    if (!pa || (pa & (FRAME - 1)) || i >= fm->cap || !fm->live[i])
        panic("fake_mem: access to frame %#lx that is not a live table", (unsigned long)pa);
    return i;
}

/* Append an event to the log. */
static void record(struct fake_mem *fm, uint32_t frame, uint32_t entry, pte_t val)
{
    if (fm->nlog == fm->caplog) {
        fm->caplog = fm->caplog ? 2 * fm->caplog : 1024;
        fm->log = realloc(fm->log, fm->caplog * sizeof(*fm->log));
        ASSERT(fm->log);
    }
    fm->log[fm->nlog++] = (struct fake_event){ frame, entry, val };
}

/* env->p2v: the arena address of a live frame, or in window mode the slot's page mapping it. */
static void *fm_p2v(void *ctx, paddr_t pa, unsigned slot)
{
    struct fake_mem *fm = ctx;
    size_t i = frame_idx(fm, pa);
    if (!fm->window)
        return fm->arena + i * FRAME;
    ASSERT(slot < PTAB_SLOTS);
    uint8_t *va = fm->win + slot * FRAME;
    if (fm->slot_frame[slot] != i + 1) {
        void *p = mmap(va, FRAME, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fm->fd,
                       (off_t)(i * FRAME));
        ASSERT(p == va);
        fm->slot_frame[slot] = i + 1;
        fm->remaps++;
    }
    return va;
}

/* The frame index an entry address of the arena or (window mode) of a slot's page lies in. */
static size_t entry_frame(const struct fake_mem *fm, const pte_t *entry, size_t *off)
{
    const uint8_t *e = (const uint8_t *)entry;
    if (fm->window && e >= fm->win && e < fm->win + PTAB_SLOTS * FRAME) {
        *off = (size_t)(e - fm->win) % FRAME;
        return fm->slot_frame[(size_t)(e - fm->win) / FRAME] - 1;
    }
    *off = (size_t)(e - fm->arena) % FRAME;
    return (size_t)(e - fm->arena) / FRAME;
}

/* Take frame i out of the free state, zeroed. */
static void take(struct fake_mem *fm, size_t i)
{
    ASAN_UNPOISON_MEMORY_REGION(fm->arena + i * FRAME, FRAME);
    memset(fm->arena + i * FRAME, 0, FRAME);
    fm->live[i] = 1;
    fm->nlive++;
}

/* env->alloc: a zeroed frame, 0 when the injected limit is reached or the arena is full. */
static paddr_t fm_alloc(void *ctx)
{
    struct fake_mem *fm = ctx;
    if (fm->fail_after == 0 || fm->nfree == 0)
        return 0;
    if (fm->fail_after > 0)
        fm->fail_after--;
    size_t i = fm->free_idx[--fm->nfree];
    take(fm, i);
    fm->allocs++;
    if (fm->record)
        record(fm, (uint32_t)i, FAKE_ZERO_FRAME, 0);
    return fake_pa(i);
}

/* env->free: poison the frame so any later access is an ASan error. */
static void fm_free(void *ctx, paddr_t pa)
{
    struct fake_mem *fm = ctx;
    size_t i = frame_idx(fm, pa);
    fm->live[i] = 0;
    fm->nlive--;
    fm->free_idx[fm->nfree++] = (uint32_t)i;
    ASAN_POISON_MEMORY_REGION(fm->arena + i * FRAME, FRAME);
}

/* env->flush: count cache-line flushes. */
static void fm_flush(void *ctx, const void *va)
{
    (void)va;
    ((struct fake_mem *)ctx)->flushes++;
}

/* env->trace: record an entry write. */
static void fm_trace(void *ctx, const pte_t *entry, pte_t val)
{
    struct fake_mem *fm = ctx;
    size_t off, frame = entry_frame(fm, entry, &off);
    if (fm->record)
        record(fm, (uint32_t)frame, (uint32_t)(off / sizeof(pte_t)), val);
}

/* Set up fm with room for cap frames. */
void fake_mem_init(struct fake_mem *fm, size_t cap)
{
    memset(fm, 0, sizeof(*fm));
    fm->cap = cap;
    fm->arena = mmap(NULL, cap * FRAME, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    ASSERT(fm->arena != MAP_FAILED);
    ASAN_POISON_MEMORY_REGION(fm->arena, cap * FRAME);
    fm->live = calloc(cap, 1);
    fm->free_idx = malloc(cap * sizeof(*fm->free_idx));
    ASSERT(fm->live && fm->free_idx);
    for (size_t i = 0; i < cap; i++)
        fm->free_idx[i] = (uint32_t)(cap - 1 - i);   /* low frames first */
    fm->nfree = cap;
    fm->fail_after = -1;
    fm->env = (struct ptab_env){ .ctx = fm, .p2v = fm_p2v, .alloc = fm_alloc, .free = fm_free,
                                 .flush = fm_flush, .trace = fm_trace };
}

/* Set up fm in window mode: the arena is a shared memory file that p2v maps page by page. */
void fake_mem_init_window(struct fake_mem *fm, size_t cap)
{
    fake_mem_init(fm, cap);
    ASAN_UNPOISON_MEMORY_REGION(fm->arena, cap * FRAME);
    munmap(fm->arena, cap * FRAME);
    fm->fd = memfd_create("fake_mem", 0);
    ASSERT(fm->fd >= 0 && ftruncate(fm->fd, (off_t)(cap * FRAME)) == 0);
    fm->arena = mmap(NULL, cap * FRAME, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                     fm->fd, 0);
    fm->win = mmap(NULL, PTAB_SLOTS * FRAME, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ASSERT(fm->arena != MAP_FAILED && fm->win != MAP_FAILED);
    ASAN_POISON_MEMORY_REGION(fm->arena, cap * FRAME);
    fm->window = true;
}

/* Give all memory of fm back to the host. */
void fake_mem_destroy(struct fake_mem *fm)
{
    ASAN_UNPOISON_MEMORY_REGION(fm->arena, fm->cap * FRAME);
    munmap(fm->arena, fm->cap * FRAME);
    if (fm->window) {
        munmap(fm->win, PTAB_SLOTS * FRAME);
        close(fm->fd);
    }
    free(fm->live);
    free(fm->free_idx);
    free(fm->log);
    memset(fm, 0, sizeof(*fm));
}

/* Make fm's content equal to src's (same frames live, same bytes); fm must have the same cap. */
void fake_mem_copy(struct fake_mem *fm, const struct fake_mem *src)
{
    ASSERT(fm->cap == src->cap);
    for (size_t i = 0; i < fm->cap; i++) {
        if (fm->live[i] && !src->live[i])
            fm_free(fm, fake_pa(i));
        if (!src->live[i])
            continue;
        if (!fm->live[i])
            take(fm, i);
        memcpy(fm->arena + i * FRAME, src->arena + i * FRAME, FRAME);
    }
    fm->nfree = 0;
    for (size_t i = fm->cap; i-- > 0;)
        if (!fm->live[i])
            fm->free_idx[fm->nfree++] = (uint32_t)i;
}

/* Apply one recorded event to fm. */
void fake_mem_apply(struct fake_mem *fm, const struct fake_event *ev)
{
    if (ev->entry == FAKE_ZERO_FRAME) {
        if (!fm->live[ev->frame])
            take(fm, ev->frame);
        memset(fm->arena + (size_t)ev->frame * FRAME, 0, FRAME);
        return;
    }
    ASSERT(fm->live[ev->frame]);
    ((pte_t *)(fm->arena + (size_t)ev->frame * FRAME))[ev->entry] = ev->val;
}
