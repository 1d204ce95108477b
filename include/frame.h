/*
 * Physical frame allocator for the kernel pool (pure logic, host-tested).
 *
 * The pool is a contiguous physical range [base, base + nframes * 4 KiB) with
 * one bit per frame (1 = used). RAM handed to frame_pool_add_ram() outside the
 * pool is not allocatable by the kernel; it is recorded as "user memory" for
 * the root task. Reservations (kernel image, boot modules, first 1 MiB ...)
 * remove frames from both.
 */
#pragma once
#include "types.h"

#define FRAME_SIZE          4096UL
#define FRAME_USER_RANGES   32      /* user-memory ranges remembered */

struct mem_range {
    paddr_t start, end;             /* [start, end), frame aligned */
};

struct frame_pool {
    paddr_t base;                   /* physical address of frame 0 */
    size_t nframes;                 /* frames covered by the bitmap */
    uint64_t *bitmap;               /* nframes bits, 1 = used / not RAM */
    size_t nfree;                   /* free frames */
    size_t hint;                    /* frame index where the next search starts */
    struct mem_range user[FRAME_USER_RANGES];
    unsigned nuser;
    unsigned user_dropped;          /* ranges that did not fit into user[] */
};

/* Words of bitmap needed for nframes frames. */
#define FRAME_BITMAP_WORDS(n)   (((n) + 63) / 64)

void frame_pool_init(struct frame_pool *p, paddr_t base, size_t nframes, uint64_t *bitmap);
void frame_pool_add_ram(struct frame_pool *p, paddr_t start, paddr_t end);
void frame_pool_reserve(struct frame_pool *p, paddr_t start, paddr_t end);
int frame_alloc(struct frame_pool *p, size_t n, size_t align, paddr_t *pa);
void frame_free(struct frame_pool *p, paddr_t pa, size_t n);
bool frame_is_free(const struct frame_pool *p, paddr_t pa);
