/*
 * Fake physical memory for host tests of the page-table engine: frames come
 * from one reserved arena (physical address = (index + 1) * 4 KiB), freed
 * frames are poisoned for ASan, allocation can be made to fail after N frames,
 * and every entry write can be recorded for replay. In window mode every frame is
 * reached through one page per p2v slot, remapped on use (struct ptab_env's slot rule).
 */
#pragma once
#include "ptab.h"

/* One recorded event: a frame was handed out zeroed (entry == ZERO_FRAME), or an entry written. */
#define FAKE_ZERO_FRAME 0xffffffffu
struct fake_event {
    uint32_t frame;         /* frame index */
    uint32_t entry;         /* entry index, or FAKE_ZERO_FRAME */
    pte_t    val;           /* value written */
};

struct fake_mem {
    struct ptab_env env;    /* hand &fm->env to ptab_init */
    uint8_t  *arena;        /* frame i lives at arena + i * 4096 */
    uint8_t  *live;         /* live[i]: frame i is allocated */
    uint32_t *free_idx;     /* stack of free frame indices */
    size_t   cap, nfree, nlive, allocs, flushes;
    long     fail_after;    /* allocations left before alloc fails; < 0: never fails */
    bool     record;        /* record events into log */
    struct fake_event *log;
    size_t   nlog, caplog;
    /* Window mode (fake_mem_init_window): p2v maps the frame at the slot's own page, as the
       kernel's temporal window does, so a pointer used after its slot moved on sees another
       frame. */
    bool     window;
    int      fd;                            /* the arena's memory file */
    uint8_t  *win;                          /* PTAB_SLOTS pages, one per slot */
    size_t   slot_frame[PTAB_SLOTS];        /* frame index + 1 a slot maps (0: none) */
    size_t   remaps;                        /* slots moved to another frame */
};

void fake_mem_init(struct fake_mem *fm, size_t cap);
void fake_mem_init_window(struct fake_mem *fm, size_t cap);
void fake_mem_destroy(struct fake_mem *fm);
void fake_mem_copy(struct fake_mem *fm, const struct fake_mem *src);
void fake_mem_apply(struct fake_mem *fm, const struct fake_event *ev);
/* Physical address of frame index i. */
static inline paddr_t fake_pa(size_t i) { return (paddr_t)(i + 1) << PTAB_PAGE_BITS; }
