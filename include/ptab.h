/*
 * The generic page-table engine (lecture: "Generic page table entry handling",
 * NOVA's Pte<P,E,L,B>): one walker with walk/lookup/update/sync_from, and small
 * format descriptors (Hpt/Npt, Ept, Dpt) that state geometry and how generic
 * attributes encode into entries. Pure logic: the same source builds into the
 * kernel and into host tests; memory comes in through struct ptab_env.
 *
 * Levels are numbered from the leaves: level 0 entries map 4 KiB, level 1
 * entries 2 MiB, level 2 entries 1 GiB; the root table is level levels-1.
 * A "table at level l" holds the entries of level l.
 *
 * Use for the lecture's Space_mem (levels = 4 or 5):
 *   master hpt:  ptab_init(&hpt, &ptab_hpt, env, levels, 0); hpt.keep_level = levels - 2;
 *                (tables below the root are shared with per-core roots: never detached)
 *   loc[cpu]:    ptab_init(&loc, &ptab_hpt, env, levels, 0); loc.own_level = levels - 1;
 *                fault: ptab_sync_from(&loc, &hpt, addr, 0, USER_ADDR) == E_OK -> retry
 *                (that region's level is the root's: ptab_sync_root(&loc, &hpt, addr), no walk)
 *   update:      ptab_update(&hpt, ...) -> res.flush: shoot down (res.detached: full flush,
 *                else INVLPG per page); then ptab_dfree_release(&df, env).
 * Use for the kernel's own tables (arch/x86_64/kmem.c):
 *   master:      ptab_init(&k, &ptab_hpt, env, 4, PTAB_CAP_HPT_KERNEL); k.keep_level = 0;
 *                ptab_update per section; core roots take its PD entries with ptab_sync_from,
 *                every root its kernel half with ptab_attach; checks walk it with ptab_visit.
 * Invariant: an entry is present iff it is non-zero (holes are all-zero: L1TF).
 */
#pragma once
#include "types.h"

typedef uint64_t pte_t;

#define PTAB_PAGE_BITS  12                      /* 4 KiB base page */
#define PTAB_PAGE_SIZE  (1UL << PTAB_PAGE_BITS)
#define PTAB_MAX_LEVELS 5
#define PTAB_LEVEL_BITS 9                       /* index bits per level */
#define PTAB_ENTRIES    512                     /* entries per table */
#define PTAB_LEVEL_SHIFT(l) (PTAB_PAGE_BITS + PTAB_LEVEL_BITS * (l)) /* lowest bit of l's index */
#define PTAB_LEVEL_SIZE(l)  (1UL << PTAB_LEVEL_SHIFT(l))            /* bytes a level-l entry maps */
_Static_assert(PTAB_ENTRIES == 1 << PTAB_LEVEL_BITS, "one index per entry");

/* Index of va in a table at level l (the same split for every format). */
static inline unsigned ptab_index(uint64_t va, unsigned l)
{
    return (unsigned)(va >> PTAB_LEVEL_SHIFT(l)) & (PTAB_ENTRIES - 1);
}

/* Generic permissions (enum ptab_perm bits). No R/W/X bit set means "unmapped". */
#define PTAB_R   BIT(0)   /* read */
#define PTAB_W   BIT(1)   /* write */
#define PTAB_XU  BIT(2)   /* execute in user mode */
#define PTAB_XS  BIT(3)   /* execute in supervisor mode */
#define PTAB_U   BIT(4)   /* user accessible (Hpt only) */
#define PTAB_G   BIT(5)   /* global: survives CR3 reload (Hpt only) */
#define PTAB_PERM_ALL (PTAB_R | PTAB_W | PTAB_XU | PTAB_XS | PTAB_U | PTAB_G)
#define PTAB_ACCESS   (PTAB_R | PTAB_W | PTAB_XU | PTAB_XS) /* bits that make an entry present */

/* Memory types. Values equal the Hpt PAT index (see PTAB_HPT_PAT_MSR). */
enum ptab_mtype {
    PTAB_WB = 0, PTAB_WT = 1, PTAB_UC_MINUS = 2, PTAB_UC = 3, PTAB_WC = 4, PTAB_WP = 5,
    PTAB_MTYPES
};

/* Attributes of one mapping. */
struct ptab_attr {
    unsigned perm;          /* PTAB_R | ... */
    enum ptab_mtype mt;     /* memory type */
};

/* Run-time format options (struct ptab.caps), set by the kernel from CPUID / IOMMU caps. */
#define PTAB_CAP_EPT_MBEC  BIT(0)   /* Ept: mode-based execute: bit 2 = XS, bit 10 = XU */
#define PTAB_CAP_DPT_X     BIT(1)   /* Dpt: execute requests supported (bit 2 honoured) */
#define PTAB_CAP_DPT_EMT   BIT(2)   /* Dpt: extended memory type (EMT bits 5:3, IPAT bit 6) */
#define PTAB_CAP_DPT_SNP   BIT(3)   /* Dpt: snoop control: set SNP (bit 11) in leaves */
#define PTAB_CAP_CLFLUSH   BIT(4)   /* walker is not cache coherent: flush every entry write */
#define PTAB_CAP_HPT_KERNEL BIT(5)  /* Hpt: kernel tables: table entries deny user access too */

/* A page-table format: geometry plus entry encoding (include/ptab_fmt.h has the helpers). */
struct ptab_fmt {
    const char *name;
    unsigned min_levels, max_levels;    /* number of levels a table may have */
    unsigned leaf_mask;                 /* BIT(l): level l may hold leaves (before run-time caps) */
    pte_t    addr_mask;                 /* frame field of every entry */
    /* The bits of an entry pointing to a table; of a leaf (no frame); a leaf's attributes. */
    pte_t    (*table)(unsigned caps);
    pte_t    (*leaf)(unsigned caps, unsigned level, struct ptab_attr a);
    bool     (*decode)(unsigned caps, unsigned level, pte_t e, struct ptab_attr *a);
    pte_t    present_bits;              /* an entry is present iff it has one of these */
    pte_t    leaf_bit;                  /* a present entry above level 0 is a leaf iff set */
};

/* True if e is a present entry of format f. */
static inline bool ptab_fmt_present(const struct ptab_fmt *f, pte_t e)
{
    return e & f->present_bits;
}

/* True if the present entry e of format f at level is a leaf (level 0 entries always are). */
static inline bool ptab_fmt_is_leaf(const struct ptab_fmt *f, unsigned level, pte_t e)
{
    return level == 0 || (e & f->leaf_bit);
}

extern const struct ptab_fmt ptab_hpt;  /* x86-64 host tables, 4 or 5 levels */
extern const struct ptab_fmt ptab_npt;  /* AMD nested paging: the Hpt format */
extern const struct ptab_fmt ptab_ept;  /* Intel EPT, 4 levels */
extern const struct ptab_fmt ptab_dpt;  /* VT-d second-level tables, 3, 4 or 5 levels */

/* IA32_PAT value that makes enum ptab_mtype the PAT index: WB WT UC- UC WC WP UC- UC. */
#define PTAB_HPT_PAT_MSR 0x0007050100070406ULL

/*
 * Slots of p2v: a pointer p2v returns may be good only until the next p2v with the same slot
 * on the same core (the kernel reaches a frame outside its linear map through a per-core
 * window, one page per slot). The engine holds at most one table per level at once and
 * passes the table's level; PTAB_SLOT_LINK is for a frame read outside a walk (a deferred-free
 * link, a data page). No pointer is kept across a point where another kernel path may run on
 * the core (a lock released, an EC switch).
 */
#define PTAB_SLOT_LINK  PTAB_MAX_LEVELS         /* a frame that is not a table being walked */
#define PTAB_SLOTS      (PTAB_MAX_LEVELS + 1)

/*
 * The lab switch PTACCESS=recursive (docs/lab.md, switch 1): a table the kernel may reach
 * through a recursive window, a range of virtual addresses where the CPU's own walker finds
 * the tables (the root mapped into a slot of itself). table[l] is the window address of the
 * level-l table that translates address 0; the table for va is at table[l] plus va's indices
 * above level l, shifted down by (l + 1) levels. from() says, at the call and on this core, the
 * lowest level whose tables the window shows without a race (t->levels: none, use p2v).
 */
struct ptab;
struct ptab_window {
    vaddr_t table[PTAB_MAX_LEVELS];
    unsigned (*from)(const struct ptab *t);
};

/* Everything hardware-specific the engine needs; the host tests supply fakes. */
/* Frames in [base, end) that an environment reaches at pa + off without its p2v. */
struct ptab_linear {
    paddr_t base, end;
    uintptr_t off;
};

struct ptab_env {
    void   *ctx;
    void   *(*p2v)(void *ctx, paddr_t pa, unsigned slot);  /* physical -> accessible virtual */
    const struct ptab_linear *lin;      /* frames p2v would give at pa + off (NULL: none) */
    paddr_t (*alloc)(void *ctx);                           /* zeroed 4 KiB frame, 0 if none */
    void    (*free)(void *ctx, paddr_t pa);                /* give a frame back */
    void    (*flush)(void *ctx, const void *va);           /* write back a cache line (or NULL) */
    /* Observe an entry write (NULL in the kernel). */
    void    (*trace)(void *ctx, const pte_t *entry, pte_t val);
#ifdef PTACCESS_recursive
    const struct ptab_window *win;      /* tables also reached through it (NULL: p2v only) */
#endif
};

/* A page table (lecture: Hpt, Ept, Dpt objects). */
struct ptab {
    const struct ptab_fmt *fmt;
    const struct ptab_env *env;
    paddr_t  root;          /* frame of the root table */
    unsigned levels;        /* number of levels */
    unsigned leaf_mask;     /* fmt->leaf_mask limited by CPU/IOMMU (e.g. no 1G pages) */
    unsigned caps;          /* PTAB_CAP_* */
    unsigned keep_level;    /* tables at level >= keep_level never detach (sync_from shares them) */
    unsigned own_level;     /* release frees only tables at level >= own_level (per-core roots) */
};

/* Detached table frames, freed by the caller only after the TLB shootdown. */
#define PTAB_DFREE_SLOTS 64
struct ptab_dfree {
    unsigned n;                         /* used slots */
    paddr_t  slot[PTAB_DFREE_SLOTS];    /* frames detached by a map (walkable until flushed) */
    paddr_t  chain;                     /* frames detached by an unmap, linked through word 0 */
    size_t   count;                     /* total frames held */
};

/* What an update did: the caller decides the TLB shootdown from it. */
struct ptab_result {
    bool   flush;           /* a translation changed, was removed or lost rights */
    bool   detached;        /* a table was detached: flush the whole TLB, not single pages */
    size_t changed;         /* leaf entries written */
    size_t rooted;          /* tables installed in entries of the root table */
};

/* Result of a lookup. */
struct ptab_map {
    paddr_t pa;             /* frame of the whole mapping (aligned to size) */
    vaddr_t va;             /* start of the mapping or hole */
    size_t  size;           /* size of the mapping, or of the hole */
    unsigned level;         /* level of the entry */
    struct ptab_attr attr;
};

/* One present entry as ptab_visit shows it. */
struct ptab_entry {
    vaddr_t va;             /* first address the entry maps (the bits of va above the span kept) */
    unsigned level;         /* level of the entry */
    bool leaf;              /* a leaf; else the entry points to the table in frame pa */
    paddr_t pa;             /* frame of the leaf's whole mapping, or of the table */
    pte_t e;                /* the entry (its attributes: ptab_entry_attr) */
};

/* Called by ptab_visit for each present entry; for a table entry, true descends into it. */
typedef bool (*ptab_visitor)(void *arg, const struct ptab_entry *e);

int  ptab_init(struct ptab *t, const struct ptab_fmt *fmt, const struct ptab_env *env,
               unsigned levels, unsigned caps);
void ptab_release(struct ptab *t);
uint64_t ptab_span(const struct ptab *t);
pte_t *ptab_walk(const struct ptab *t, vaddr_t va, unsigned level, bool alloc, unsigned *reached);
bool ptab_lookup(const struct ptab *t, vaddr_t va, struct ptab_map *m);
int  ptab_update(struct ptab *t, vaddr_t va, uint64_t size, paddr_t pa, struct ptab_attr attr,
                 struct ptab_dfree *df, struct ptab_result *res);
int  ptab_sync_from(struct ptab *dst, const struct ptab *src, vaddr_t addr, vaddr_t lo, vaddr_t hi);
int  ptab_sync_root(struct ptab *dst, const struct ptab *src, vaddr_t addr);
int  ptab_sync_entry(struct ptab *dst, const pte_t *s, pte_t *d);
#ifdef PTCOUNT_1
void ptab_touch(const void *table);
#endif
unsigned ptab_sync_level(const struct ptab *t, vaddr_t lo, vaddr_t hi);
void ptab_visit(const struct ptab *t, vaddr_t va, uint64_t size, ptab_visitor fn, void *arg);
size_t ptab_tables(const struct ptab *t);
int  ptab_attach(struct ptab *t, vaddr_t va, unsigned level, paddr_t pa);

/* Entry helpers for code that manages single tables of a format itself (kernel/kdir.c). */
/* Read an entry that other cores may be writing. */
static inline pte_t ptab_entry_load(const pte_t *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}
pte_t   ptab_table_entry(const struct ptab *t, paddr_t pa);
pte_t   ptab_leaf_entry(const struct ptab *t, unsigned level, paddr_t pa, struct ptab_attr a);
paddr_t ptab_entry_frame(const struct ptab *t, unsigned level, pte_t e);
bool    ptab_entry_is_table(const struct ptab *t, unsigned level, pte_t e);
struct ptab_attr ptab_entry_attr(const struct ptab *t, unsigned level, pte_t e);
bool    ptab_entry_fill(const struct ptab *t, pte_t *p, pte_t e);
pte_t   ptab_entry_swap(const struct ptab *t, pte_t *p, pte_t e);

/* Empty deferred-free list. */
static inline void ptab_dfree_init(struct ptab_dfree *df)
{
    df->n = 0;
    df->chain = 0;
    df->count = 0;
}
paddr_t ptab_dfree_next(const struct ptab_env *env, paddr_t f);
void ptab_dfree_release(struct ptab_dfree *df, const struct ptab_env *env);
