/*
 * The system-call fuzzer, run as the root task: a tree of PDs and ECs
 * on every core issues random calls with arguments biased toward the
 * interesting (fresh, stale, never-created and boundary selectors; every space
 * kind and rights mask; ranges straddling 2 MiB, 1 GiB, 512 GiB and USER_LIMIT;
 * misaligned, wrapping, huge and zero counts; kernel and non-canonical
 * pointers; output buffers that another core revokes during the call). Every call runs
 * with random registers (user/fuzz/regs.h: general, RFLAGS, data selectors, x87/SSE/AVX,
 * each value tagged with its EC); after it the ones the ABI keeps must be unchanged and
 * none may hold another EC's value, on any core.
 *
 * Command line words (all optional): fuzz.seed=N (default FUZZ_SEED_DEFAULT),
 * fuzz.time=S seconds (default 20), fuzz.calls=N (stop once that many calls were
 * made; 0: no limit), fuzz.epoch=MS (length of a parallel phase, default 2000),
 * fuzz.huge_revoke=0 (never revoke more than HUGE_REVOKE_PAGES memory pages in one
 * call: for a kernel whose whole-range revoke does not return for seconds; off by
 * default, as revokes are bounded).
 *
 * The run is a sequence of epochs. Each epoch:
 *  1. parallel phase: one worker EC per core (in the fuzz PDs) and the root fuzz at once;
 *  2. the workers park; the root alone runs SOLO_CALLS calls (with a KCOV kernel:
 *     call sequences from a corpus of those that reached new kernel edges, mutated)
 *     and checks every failing call against snapshots taken before it (all or nothing);
 *  3. every 4th epoch, exhaustion: the root fills the kernel pool with delegations until
 *     E_NOMEM, runs calls while it is empty, revokes them and checks that the pool is back;
 *  4. odd epochs: the stale-read check (a prober EC on every core reads a page that
 *     the root then revokes; every prober must fault on it) and the trap probes (an EC on
 *     every core that must stop with #DB after a call with TF set, or with #GP at the load
 *     of an invalid data selector);
 *  5. revoke everything the epoch delegated; in odd epochs destroy everything the fuzzing
 *     created (destroy_sweep: REVOKE_SELF over the fuzz PDs' object spaces and the root's
 *     zone); hand out the base capabilities again; check the kernel's memory (see leak_check):
 *     every epoch the frames in its books, even epochs (no object created) everything back at
 *     the previous epoch's value, odd epochs the frames of the PDs the root cannot see back at
 *     the first mark's.
 * Odd epochs (creating: fuzzed create_pd with random quotas, shared or their own, and
 * create_ec, at most CREATE_BUDGET per epoch; fuzzed REVOKE_SELF of object capabilities
 * destroys them while the workers run) also build a doomed tree before the parallel phase (PD D
 * under the root or a fuzz PD, its child D2, each with the program and ECs running on random
 * cores) that the root destroys halfway through it by revoking D's capability (dt_destroy).
 * A finding prints "fuzz: FINDING", the seed and the last calls of the EC.
 * TAP lines at the end; the exit code is the number of findings.
 */
#include "regs.h"
#include "words.h"
#include "elf.h"

#define FUZZ_SEED_DEFAULT 0x5eed7e55e7aUL
#define NPD          4                  /* fuzz PDs (the workers run in them, round robin) */
#define MAX_WORKERS  INFO_MAX_CPUS
#define RING         12                 /* calls remembered per EC for a finding */
#define SOLO_CALLS   200                /* root calls with snapshot checks per epoch */
#define SOLO_EXH     64                 /* of them while the pool is exhausted */
#define CORPUS       128                /* KCOV corpus entries */
#define SEQ_MAX      4                  /* calls per corpus entry */
#define MADE_MAX     32                 /* selectors of created objects remembered per EC */
#define CREATE_BUDGET 256               /* successful fuzzed create_pd/create_ec per epoch */
#define ROOT_DT      (ROOT_FZ - 64)     /* root slots of the doomed tree (PD D, D2, their ECs) */
#define DT_ECS       2                  /* spinning ECs in each of D and D2 */
#define DT_WAIT_S    10                 /* bound of the wait for the doomed tree's ECs to run */
#define PROBE_ROUNDS 64                 /* stale-read checks (a prober EC per core each) per run */
#define HUGE_REVOKE_PAGES (1UL << 22)   /* 16 GiB: fuzz.huge_revoke=0 clips memory revokes to it */
#define EXH_MAX      20000              /* bound of the exhaustion loop */
#define PARK_TIMEOUT_S 20               /* a worker that does not park in time: a hang */
#define WHY_MAX      96                 /* a register difference, described */

#define SIZE_2M      (2UL << 20)
#define SIZE_1G      (1UL << 30)
#define SIZE_512G    (512UL << 30)
#define SAFE_VA      (2UL << 30)        /* below: info page, program, child stacks: never fuzzed */
#define POOL_PAGES   1024UL             /* 4 MiB of the root's memory, 2 MiB aligned */
#define EXH_VA       (3UL << 40)        /* exhaustion mappings, one per GiB */
#define PROBE_VA     (5UL << 40)        /* stale-read probe pages in PD S, one per core */
#define CHILD_CAP0   16u                /* child object space: caps to the NPD fuzz PDs */
#define CHILD_FZ     64u                /* child object space: where it creates (64 slots) */
#define ROOT_FZ      4096u              /* root object space: where the root creates (64 slots) */
#define NONCANON     0x0000800000000000UL
#define KERNEL_PTR   0xffffffff81000000UL
#define TAIL_BUF     (USER_LIMIT - 16)  /* an out pointer whose record crosses USER_LIMIT */

enum phase { PH_RUN, PH_PARK, PH_STOP };

struct call {
    mword nr, a[6];
};

struct rec {                /* one remembered call */
    struct call c;
    int st;
};

/* Per-EC fuzzing state (workers and the root; in shared bss). */
struct fz {
    uint64_t rng;
    uint64_t calls;
    unsigned id;            /* worker index, or MAX_WORKERS for the root */
    bool root;
    mword pd_sel;           /* root: selector of its PD; child: its own base cap */
    mword made[MADE_MAX];   /* selectors of objects it created (fresh, later maybe stale) */
    unsigned nmade;
    unsigned ring_pos;
    struct rec ring[RING];
    _Alignas(16) uint8_t out[256];  /* a valid output buffer, larger than every record */
    volatile uint64_t parked;
};

static struct {
    uint64_t seed, time_s, calls_max, epoch_ms;
    bool huge_revoke, kcov;
    unsigned ncpu;
} cfg;

static volatile enum phase phase;
static volatile uint64_t epoch;
static volatile uint64_t park_gen;         /* incremented by every park_all */
static volatile bool creates_allowed;
static volatile uint64_t creates_ok;        /* objects created: fuzzed calls and probers */
static volatile uint64_t fuzz_creates;      /* successful fuzzed create_pd / create_ec */
static struct fz wst[MAX_WORKERS + 1];      /* workers, then the root */
static mword fz_sel[NPD];                   /* root: the fuzz PDs */
static mword worker_ec[MAX_WORKERS];
static mword s_sel;                         /* root: PD S of the stale-read probers */
static mword pool_va, pool_end;             /* the root's fuzz pool (window addresses) */
static mword window_lo, window_hi;          /* the root's whole window range */
static const char newline[] = "\n";        /* console_write source: at most an empty line */
static _Alignas(16) uint8_t scratch_stack[4096];   /* stack of short ECs */
static int findings;
static uint64_t atomic_checks, stale_checks, leak_checks, exh_rounds, exh_max_fill;
static uint64_t base_repairs;               /* base selectors freed of a worker-created object */

static uint64_t dt_rounds, dt_skipped;     /* doomed trees destroyed, not built (E_NOMEM) */
static uint64_t sweep_checks;               /* destruction sweeps checked */
static volatile uint64_t dt_spins;          /* loops of the doomed trees' ECs (shared data) */
static _Alignas(16) uint8_t dt_stack[2 * DT_ECS][1024];    /* their stacks (shared bss) */

/* Stale-read probe state per core. */
static volatile uint64_t probe_go[MAX_WORKERS], probe_revoked[MAX_WORKERS],
    probe_reads[MAX_WORKERS];
static volatile uint64_t probe_stale[MAX_WORKERS];
#define PROBE_MAGIC 0xfeedfacecafe0000UL

/* ---------------------------------------------------------------- random */

/* Next pseudo-random 64-bit value of f's stream (splitmix64). */
static uint64_t rnd(struct fz *f)
{
    return splitmix(&f->rng);
}

/* Uniform in [0, n) (n > 0). */
static uint64_t below(struct fz *f, uint64_t n)
{
    return rnd(f) % n;
}

/* One of the n values of tab. */
static mword pick(struct fz *f, const mword *tab, size_t n)
{
    return tab[below(f, n)];
}
#define PICK(f, tab) pick((f), (tab), sizeof(tab) / sizeof((tab)[0]))

/* ---------------------------------------------------------------- output */

static const char *const call_name[] = {
    "?", "create_pd", "create_ec", "delegate", "revoke", "lookup", "ec_status", "yield",
    "exit", "console_write", "counters", "pd_info",
};

/* Name of call number nr. */
static const char *name_of(mword nr)
{
    if (nr == SYS_KCOV)
        return "kcov";
    return nr < sizeof(call_name) / sizeof(call_name[0]) ? call_name[nr] : "invalid";
}

/* Print one finding of f: what, the seed, and f's last calls (oldest first). */
static void finding(struct fz *f, const char *what, mword v1, mword v2)
{
    __atomic_add_fetch(&findings, 1, __ATOMIC_RELAXED);
    printf("fuzz: FINDING %s (%lx %lx) seed=%lu ec=%s%u after %lu calls; last calls:\n", what,
           (unsigned long)v1, (unsigned long)v2, (unsigned long)cfg.seed, f->root ? "root" : "w",
           f->root ? 0 : f->id, (unsigned long)f->calls);
    for (unsigned i = 0; i < RING; i++) {
        const struct rec *r = &f->ring[(f->ring_pos + i) % RING];
        if (r->c.nr == 0 && r->c.a[0] == 0)
            continue;
        printf("fuzz:   %s(%lx, %lx, %lx, %lx, %lx, %lx) -> %d\n", name_of(r->c.nr),
               (unsigned long)r->c.a[0], (unsigned long)r->c.a[1], (unsigned long)r->c.a[2],
               (unsigned long)r->c.a[3], (unsigned long)r->c.a[4], (unsigned long)r->c.a[5], r->st);
    }
}

/* ---------------------------------------------------------------- arguments */

/* A selector naming a PD in f's object space: mostly valid, else stale, never created, boundary. */
static mword arg_pd(struct fz *f)
{
    static const mword bound[] = { 0, 1, 2, 15, SEL_COUNT - 1, SEL_COUNT, SEL_COUNT + 1,
                                   1UL << 32, (1UL << 32) + 1, (1UL << 32) + CHILD_CAP0, ~0UL,
                                   1UL << 63 };
    switch (below(f, 16)) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8:
        if (f->root)
            return below(f, 8) ? fz_sel[below(f, NPD)] : SEL_ROOT_PD;
        return CHILD_CAP0 + below(f, NPD);
    case 9: case 10:
        return f->nmade ? f->made[below(f, f->nmade)] : (f->root ? fz_sel[0] : CHILD_CAP0);
    case 11:
        return 1 + below(f, SEL_COUNT - 1);
    case 12:
        return (f->root ? ROOT_FZ : CHILD_FZ) + below(f, 64);
    case 13:
        return f->root ? worker_ec[below(f, cfg.ncpu)] : CHILD_CAP0 + NPD + below(f, 4);
    case 14:
        return rnd(f);
    default:
        return PICK(f, bound);
    }
}

/* A destination selector for a new capability in f's object space. */
static mword arg_dst_sel(struct fz *f)
{
    static const mword bound[] = { 0, SEL_COUNT - 1, SEL_COUNT, SEL_COUNT + 1, 1UL << 32,
                                   (1UL << 32) + 5, ~0UL };
    switch (below(f, 10)) {
    case 0: case 1: case 2: case 3: case 4:
        return (f->root ? ROOT_FZ : CHILD_FZ) + below(f, 64);
    case 5:
        return f->root ? fz_sel[below(f, NPD)] : CHILD_CAP0 + below(f, NPD);    /* busy */
    case 6:
        return 1 + below(f, SEL_COUNT - 1);
    default:
        return PICK(f, bound);
    }
}

/* A page count: mostly small, else 2 MiB / 1 GiB multiples and neighbours, huge, zero. */
static mword arg_pages(struct fz *f)
{
    static const mword tab[] = { 0, 1, 2, 3, 7, 8, 511, 512, 513, 1024, 262143, 262144, 262145,
                                 1UL << 27, 1UL << 35, (USER_LIMIT >> 12) - 1, USER_LIMIT >> 12,
                                 (USER_LIMIT >> 12) + 1, 1UL << 52, ~0UL, 1UL << 63 };
    return below(f, 3) ? 1 + below(f, 8) : PICK(f, tab);
}

/* A user address near an interesting boundary of a PD's memory space. */
static mword arg_va(struct fz *f)
{
    static const mword edge[] = { SAFE_VA, SAFE_VA + SIZE_2M, SAFE_VA + 2 * SIZE_2M,
                                  3 * SIZE_1G, 4 * SIZE_1G, SIZE_512G, 2 * SIZE_512G,
                                  ROOT_PHYS_WINDOW, 100UL << 40, USER_LIMIT - SIZE_2M + 4096,
                                  USER_LIMIT };
    static const mword back[] = { 0, 1, 2, 3, 8, 511, 512, 513 };
    switch (below(f, 24)) {
    case 0:
        return rnd(f);                                  /* anything */
    case 1:
        return arg_va(f) + 1 + below(f, 4095);          /* misaligned */
    case 2:
        return ~0UL - 4095 - below(f, 4) * 4096;        /* wraps */
    case 3:
        return below(f, 2) ? KERNEL_PTR : NONCANON + below(f, 4) * 4096;
    case 4:
        return 0;
    default: {
        mword e = PICK(f, edge), b = PICK(f, back) * 4096;
        return e > b ? e - b : e;
    }
    }
}

/* A source address in f's own holdings: the root's pool, or where children receive memory. */
static mword arg_src_va(struct fz *f)
{
    if (f->root && below(f, 4)) {
        static const mword idx[] = { 0, 1, 255, 511, 512, 513, POOL_PAGES - 1, POOL_PAGES / 2 };
        return pool_va + (below(f, 2) ? PICK(f, idx) : below(f, POOL_PAGES)) * 4096;
    }
    return arg_va(f);
}

/* A port or port count. */
static mword arg_port(struct fz *f, bool count)
{
    static const mword base[] = { 0, 1, 0x3f8, 0x501, 0x80, 0xfff0, 0xffff, 0x10000, ~0UL };
    static const mword cnt[] = { 0, 1, 2, 8, 16, 0x100, 0xffff, 0x10000, 0x10001, ~0UL };
    if (count)
        return below(f, 2) ? 1 + below(f, 4) : PICK(f, cnt);
    return below(f, 2) ? below(f, 0x10000) : PICK(f, base);
}

/* A selector as a delegate/revoke base in some PD's object space. */
static mword arg_obj(struct fz *f)
{
    static const mword bound[] = { 0, 1, 2, SEL_COUNT - 2, SEL_COUNT - 1, SEL_COUNT, ~0UL,
                                   1UL << 32 };
    switch (below(f, 8)) {
    case 0: case 1: case 2:
        return CHILD_CAP0 + below(f, NPD);
    case 3: case 4:
        return (below(f, 2) ? CHILD_FZ : ROOT_FZ) + below(f, 64);
    case 5:
        return f->root ? fz_sel[below(f, NPD)] : 1 + below(f, SEL_COUNT - 1);
    default:
        return PICK(f, bound);
    }
}

/* An object count. */
static mword arg_objs(struct fz *f)
{
    static const mword tab[] = { 0, 1, 2, NPD, 64, 512, 513, SEL_COUNT - 1, SEL_COUNT, ~0UL };
    return below(f, 2) ? 1 + below(f, NPD) : PICK(f, tab);
}

/* xfer word: mostly a valid kind with any rights mask, sometimes garbage. */
static mword arg_xfer(struct fz *f, unsigned *kind)
{
    static const mword kinds[] = { SPACE_MEM, SPACE_MEM, SPACE_MEM, SPACE_OBJ, SPACE_PIO, 3, 255 };
    unsigned k = (unsigned)PICK(f, kinds);
    *kind = k;
    mword r = below(f, 16) ? below(f, 8) : below(f, 256);
    mword x = XFER(k, r);
    if (below(f, 32) == 0)
        x |= 1UL << (16 + below(f, 48));
    return x;
}

/* Base and count in space kind for a delegate source (src) or destination / revoke range. */
static void arg_range(struct fz *f, unsigned kind, bool src, mword *base, mword *count)
{
    if (kind == SPACE_MEM) {
        *base = src ? arg_src_va(f) : arg_va(f);
        *count = arg_pages(f);
    } else if (kind == SPACE_PIO) {
        *base = arg_port(f, false);
        *count = arg_port(f, true);
    } else {
        *base = arg_obj(f);
        *count = arg_objs(f);
    }
}

/* An output pointer: f's buffer, or one the kernel must refuse or fail to write. */
static mword arg_out(struct fz *f)
{
    static const mword bad[] = { 0, 8, INFO_PAGE_ADDR, USER_LIMIT, USER_LIMIT - 8, TAIL_BUF,
                                 NONCANON, KERNEL_PTR, ~0UL - 15, 1UL << 63 };
    switch (below(f, 8)) {
    case 0: case 1: case 2: case 3:
        return (mword)f->out;
    case 4:
        return (mword)&arg_out;                     /* program text: read-only */
    case 5: case 6:
        return arg_va(f) & ~15UL;                   /* fuzzed memory: maybe revoked meanwhile */
    default:
        return PICK(f, bad);
    }
}

/* A core number. */
static mword arg_cpu(struct fz *f)
{
    static const mword tab[] = { 64, 255, 1UL << 32, ~0UL };
    if (below(f, 8))
        return below(f, cfg.ncpu + 1);
    return PICK(f, tab);
}

static void short_ec(mword arg);
static uint64_t now_ticks(void);
static uint64_t hz;

/* A fresh random call for f. */
static void gen_call(struct fz *f, struct call *c)
{
    static const mword bad_nr[] = { 0, SYS_COUNT, SYS_KCOV + 1, 255, (1UL << 32) | SYS_CREATE_PD,
                                    (1UL << 32) | SYS_DELEGATE, ~0UL };
    unsigned kind;
    mword r = below(f, 100);
    memset(c, 0, sizeof(*c));
    if (r < 30) {
        c->nr = SYS_DELEGATE;
        c->a[0] = arg_pd(f);
        c->a[1] = arg_pd(f);
        c->a[2] = arg_xfer(f, &kind);
        arg_range(f, kind, true, &c->a[3], &c->a[5]);
        if (kind == SPACE_PIO && below(f, 8))
            c->a[4] = c->a[3];
        else if (kind == SPACE_MEM)
            c->a[4] = arg_va(f);
        else if (kind == SPACE_OBJ)
            c->a[4] = arg_obj(f);
        else
            c->a[4] = rnd(f);
    } else if (r < 50) {
        c->nr = SYS_REVOKE;
        c->a[0] = arg_pd(f);
        c->a[1] = below(f, 16) ? below(f, 2) : rnd(f);
        c->a[2] = arg_xfer(f, &kind);
        arg_range(f, kind, below(f, 2), &c->a[3], &c->a[4]);
    } else if (r < 62) {
        c->nr = SYS_LOOKUP;
        c->a[0] = arg_pd(f);
        c->a[1] = below(f, 8) ? below(f, 3) : rnd(f);
        c->a[2] = c->a[1] == SPACE_MEM ? arg_va(f) : c->a[1] == SPACE_PIO ? arg_port(f, false)
                                                                       : arg_obj(f);
        c->a[3] = arg_out(f);
    } else if (r < 68) {
        c->nr = SYS_PD_INFO;
        c->a[0] = arg_pd(f);
        c->a[1] = arg_out(f);
    } else if (r < 74) {
        static const mword quotas[] = { 1, PD_OBJ_FRAMES, PD_OBJ_FRAMES + 1, 16, 64, 256,
                                        1UL << 20, ~0UL };
        c->nr = SYS_CREATE_PD;
        c->a[0] = arg_dst_sel(f);
        c->a[1] = arg_pd(f);
        c->a[2] = below(f, 2) ? PD_QUOTA_SHARED : below(f, 2) ? PICK(f, quotas) : below(f, 128);
    } else if (r < 78) {
        static const mword ips[] = { 0, USER_LIMIT - 1, USER_LIMIT, NONCANON, KERNEL_PTR };
        static const mword sps[] = { 0, USER_LIMIT, USER_LIMIT + 8, NONCANON, ~0UL };
        c->nr = SYS_CREATE_EC;
        c->a[0] = arg_dst_sel(f);
        c->a[1] = arg_pd(f);
        c->a[2] = arg_cpu(f);
        c->a[3] = below(f, 2) ? (mword)&short_ec : PICK(f, ips);
        c->a[4] = below(f, 2) ? ec_stack_ptr(scratch_stack + sizeof(scratch_stack)) : PICK(f, sps);
        c->a[5] = rnd(f);
    } else if (r < 84) {
        c->nr = SYS_EC_STATUS;
        c->a[0] = arg_pd(f);
        c->a[1] = below(f, 2) ? 0 : rnd(f);
        c->a[2] = arg_out(f);
    } else if (r < 88) {
        c->nr = SYS_COUNTERS;
        c->a[0] = arg_cpu(f);
        c->a[1] = arg_out(f);
    } else if (r < 91) {
        static const mword lens[] = { 0, 1, 16, 64, CONSOLE_MAX, CONSOLE_MAX + 1, ~0UL, 1UL << 32 };
        c->nr = SYS_CONSOLE_WRITE;
        c->a[0] = arg_out(f);
        c->a[1] = PICK(f, lens);
    } else if (r < 93) {
        c->nr = SYS_YIELD;
    } else if (r < 94) {
        static const mword rips[] = { 0, USER_LIMIT - 1, USER_LIMIT, NONCANON, KERNEL_PTR };
        c->nr = SYS_EC_RESUME;
        c->a[0] = arg_pd(f);
        c->a[1] = below(f, 2) ? below(f, EC_RESUME_ALL + 1) : rnd(f);
        c->a[2] = PICK(f, rips);
        c->a[3] = rnd(f);
    } else if (r < 95) {
        c->nr = SYS_VCPU_REGS;              /* no vCPU here: never reaches a copy */
        c->a[0] = arg_pd(f);
        c->a[1] = below(f, 2) ? below(f, VCPU_REGS_SET + 1) : rnd(f);
        c->a[2] = arg_out(f);
    } else if (r < 97 && cfg.kcov) {
        c->nr = SYS_KCOV;
        c->a[0] = arg_out(f);
        c->a[1] = below(f, 2) ? sizeof(struct kcov_info) : rnd(f) & 0xffff;
    } else {
        c->nr = PICK(f, bad_nr);
        for (unsigned i = 0; i < 6; i++)
            c->a[i] = rnd(f);
    }
}

/* ---------------------------------------------------------------- safety filter */

/* True if [base, base + pages*4K) is a range the kernel would accept (aligned, no wrap, in user
   space). */
static bool mem_range_valid(mword base, mword pages)
{
    return IS_ALIGNED(base, PAGE_SIZE_USER) && pages != 0 && pages <= (USER_LIMIT >> 12) &&
           base < USER_LIMIT && pages <= (USER_LIMIT - base) / PAGE_SIZE_USER;
}

/* True if the ranges [a, a+an) and [b, b+bn) overlap. */
static bool overlaps(mword a, mword an, mword b, mword bn)
{
    return a < b + bn && b < a + an;
}

/* A valid memory range of `pages` pages moved out of what the fuzzer itself lives on: never
   below SAFE_VA (info page, program, child stacks); for the root not in its window except the
   pool. Returns the new base (pages clipped to fit). */
static mword mem_safe_base(bool root_space, mword base, mword *pages)
{
    mword len = *pages * PAGE_SIZE_USER;
    if (overlaps(base, len, 0, SAFE_VA))
        base = SAFE_VA + base % SIZE_1G;
    if (root_space && overlaps(base, *pages * PAGE_SIZE_USER, window_lo, window_hi - window_lo) &&
        !(base >= pool_va && base + *pages * PAGE_SIZE_USER <= pool_end)) {
        base = pool_va + (base % (POOL_PAGES * PAGE_SIZE_USER) & ~(PAGE_SIZE_USER - 1));
        if (*pages > (pool_end - base) / PAGE_SIZE_USER)
            *pages = (pool_end - base) / PAGE_SIZE_USER;
    }
    if (*pages > (USER_LIMIT - base) / PAGE_SIZE_USER)
        *pages = (USER_LIMIT - base) / PAGE_SIZE_USER;
    return base;
}

/* An output pointer that would let the kernel write the fuzzer's own memory (program data,
   stacks; for the root its window outside the pool) goes to f's buffer instead; every other
   value is kept (the kernel must refuse it or fail the copy). */
static mword out_safe(struct fz *f, mword out)
{
    bool text = (mword)&arg_out <= out && out < (mword)&arg_out + 64;  /* read-only */
    if (out == (mword)f->out || text)
        return out;
    if (out < SAFE_VA)
        return out < 0x400000 ? out : (mword)f->out;     /* below the program: unmapped or RO */
    if (f->root && out >= window_lo && out < window_hi && !(out >= pool_va && out + 64 <= pool_end))
        return (mword)f->out;
    return out;
}

/* True if sel names one of the fuzz PDs in f's object space (the root's PD included). */
static bool is_base_pd(const struct fz *f, mword sel)
{
    if (!f->root)
        return sel >= CHILD_CAP0 && sel < CHILD_CAP0 + NPD;
    for (unsigned i = 0; i < NPD; i++)
        if (sel == fz_sel[i])
            return true;
    return sel == SEL_ROOT_PD;
}

/*
 * Make c safe to run for f without breaking the fuzzer (not the kernel): it must not block
 * for ever, exit, print garbage, overwrite the fuzzer's program, stacks or data, hand the
 * root's own capabilities to children, or create objects when this epoch forbids it.
 */
static void make_safe(struct fz *f, struct call *c)
{
    unsigned kind = XFER_KIND(c->a[2]);
    switch (c->nr) {
    case SYS_EXIT:
        c->nr = SYS_YIELD;
        break;
    case SYS_EC_STATUS:
        if (c->a[1] == EC_WAIT)
            c->a[1] = 0;                    /* waiting for a worker would never end */
        c->a[2] = out_safe(f, c->a[2]);
        break;
    case SYS_LOOKUP:
        c->a[3] = out_safe(f, c->a[3]);
        break;
    case SYS_EC_RESUME:
        c->a[1] |= 1UL << 63;               /* never resumes: a probe's check awaits its fault */
        break;
    case SYS_COUNTERS: case SYS_PD_INFO:
        c->a[1] = out_safe(f, c->a[1]);
        break;
    case SYS_KCOV:
        c->a[0] = out_safe(f, c->a[0]);
        if (c->a[0] == (mword)f->out && c->a[1] > sizeof(f->out))
            c->a[1] = sizeof(struct kcov_info);
        break;
    case SYS_CONSOLE_WRITE:
        if (c->a[1] <= CONSOLE_MAX && c->a[0] < USER_LIMIT && c->a[1] <= USER_LIMIT - c->a[0]) {
            c->a[0] = (mword)newline;       /* a readable buffer that prints no garbage */
            c->a[1] %= 2;
        }
        break;
    case SYS_CREATE_PD: case SYS_CREATE_EC:
        if (!creates_allowed || fuzz_creates >= CREATE_BUDGET)
            c->a[0] = below(f, 2) ? 0 : SEL_COUNT;     /* fails: no object is created */
        else if (f->root && c->a[0] != 0 && c->a[0] < SEL_COUNT &&
                 (c->a[0] < ROOT_FZ || c->a[0] >= ROOT_FZ + 64) && !is_base_pd(f, c->a[0]))
            c->a[0] = ROOT_FZ + c->a[0] % 64;          /* where destroy_sweep finds it */
        if (c->nr == SYS_CREATE_EC) {
            if (c->a[3] < USER_LIMIT && c->a[3] != 0 && c->a[3] != USER_LIMIT - 1)
                c->a[3] = (mword)&short_ec;
            if (c->a[4] < USER_LIMIT && c->a[4] != 0)
                c->a[4] = ec_stack_ptr(scratch_stack + sizeof(scratch_stack));
        }
        break;
    case SYS_DELEGATE:
        if (f->root && c->a[0] == SEL_ROOT_PD && kind == SPACE_MEM &&
            mem_range_valid(c->a[3], c->a[5]))
            c->a[3] = mem_safe_base(true, c->a[3], &c->a[5]);
        else if (kind == SPACE_MEM && mem_range_valid(c->a[3], c->a[5]))
            c->a[3] = mem_safe_base(false, c->a[3], &c->a[5]);   /* program pages stay private */
        if (f->root && c->a[0] == SEL_ROOT_PD && kind == SPACE_OBJ) {
            /* Only the fuzz PDs' caps and the root's fuzz zone leave the root. */
            if (c->a[3] < ROOT_FZ && !is_base_pd(f, c->a[3]))
                c->a[3] = fz_sel[c->a[3] % NPD];
            if (c->a[3] == SEL_ROOT_PD)
                c->a[3] = fz_sel[0];
            if (c->a[3] < ROOT_FZ && c->a[5] > 1)
                c->a[5] = 1;
        }
        if (f->root && c->a[1] == SEL_ROOT_PD && kind == SPACE_OBJ && c->a[4] >= ROOT_DT &&
            c->a[4] < ROOT_DT + 2 + 2 * DT_ECS)
            c->a[4] += 64;          /* the doomed tree's selectors stay the tree's */
        if (!creates_allowed && !is_base_pd(f, c->a[1]) && c->a[1] != 0 && c->a[1] < SEL_COUNT)
            c->a[1] = f->root ? fz_sel[c->a[1] % NPD] : CHILD_CAP0 + c->a[1] % NPD;
        break;
    case SYS_REVOKE: {
        bool self = (c->a[1] & REVOKE_SELF) != 0, root_pd = f->root && c->a[0] == SEL_ROOT_PD;
        if (kind == SPACE_MEM && mem_range_valid(c->a[3], c->a[4])) {
            if (root_pd || self)
                c->a[3] = mem_safe_base(root_pd, c->a[3], &c->a[4]);
            if (root_pd && self)
                c->a[1] &= ~(mword)REVOKE_SELF;      /* the root keeps its pool */
            if (!cfg.huge_revoke && c->a[4] > HUGE_REVOKE_PAGES)
                c->a[4] = HUGE_REVOKE_PAGES;
        }
        if (root_pd && self && kind == SPACE_OBJ && c->a[3] < ROOT_FZ)
            c->a[3] = ROOT_FZ + c->a[3] % 64;       /* the root keeps its own capabilities */
        /* Epochs with the leak check keep every item that outlives the epoch (the root's ports,
           created capabilities) whole: cutting them splits mapping nodes for good. */
        if (!creates_allowed && self && (kind == SPACE_OBJ || (root_pd && kind == SPACE_PIO)))
            c->a[1] &= ~(mword)REVOKE_SELF;
        break;
    }
    default:
        break;
    }
}

/* ---------------------------------------------------------------- registers */

#define FZR_REFILL 16           /* a fresh x87/SSE/AVX image every that many calls of an EC */

struct xinfo xinfo;
uint8_t xr_use_xsave;                       /* read by fzr_call: 1 = XSAVE/XRSTOR */
static uint32_t mxcsr_mask;                 /* MXCSR bits the CPU accepts (FXSAVE's MXCSR_MASK) */
static struct fzr fzr_of[MAX_WORKERS + 1];  /* each EC's register round, by fz.id */
static uint64_t ac_entries0;                /* all cores' ac_entries at the start */

/*
 * fzr_call(r = rdi): see regs.h. The pointer r stays on the stack over the call; after it,
 * xchg swaps it with the caller's rbx value found there.
 */
__asm__(
    "    .equ fzr_out, 4160\n"
    "    .equ fzr_gin, 8320\n"
    "    .equ fzr_gout, 8448\n"
    "    .equ fzr_fin, 8576\n"
    "    .equ fzr_fout, 8584\n"
    "    .text\n"
    "    .globl fzr_call\n"
    "fzr_call:\n"
    "    push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
    "    push %rdi\n"
    "    mov %rdi, %rbx\n"
    XR_LOAD_ASM
    "    mov %rsp, fzr_gin+56(%rbx)\n"
    "    pushq fzr_fin(%rbx)\n"
    "    mov fzr_gin+0(%rbx), %rax; mov fzr_gin+16(%rbx), %rcx; mov fzr_gin+24(%rbx), %rdx\n"
    "    mov fzr_gin+32(%rbx), %rsi; mov fzr_gin+48(%rbx), %rbp\n"
    "    mov fzr_gin+64(%rbx), %r8; mov fzr_gin+72(%rbx), %r9; mov fzr_gin+80(%rbx), %r10\n"
    "    mov fzr_gin+88(%rbx), %r11; mov fzr_gin+96(%rbx), %r12; mov fzr_gin+104(%rbx), %r13\n"
    "    mov fzr_gin+112(%rbx), %r14; mov fzr_gin+120(%rbx), %r15\n"
    "    mov fzr_gin+40(%rbx), %rdi; mov fzr_gin+8(%rbx), %rbx\n"
    "    popfq\n"
    "    syscall\n"
    "    .globl fzr_tf_early, fzr_tf_rip\n"
    "fzr_tf_early:\n"                            /* with TF: QEMU's sysret stops here */
    "    pushfq\n"
    "fzr_tf_rip:\n"                              /* with TF: the single step stops here */
    "    xchg %rbx, 8(%rsp)\n"
    "    mov %rax, fzr_gout+0(%rbx); mov %rcx, fzr_gout+16(%rbx); mov %rdx, fzr_gout+24(%rbx)\n"
    "    mov %rsi, fzr_gout+32(%rbx); mov %rdi, fzr_gout+40(%rbx); mov %rbp, fzr_gout+48(%rbx)\n"
    "    mov %r8, fzr_gout+64(%rbx); mov %r9, fzr_gout+72(%rbx); mov %r10, fzr_gout+80(%rbx)\n"
    "    mov %r11, fzr_gout+88(%rbx); mov %r12, fzr_gout+96(%rbx); mov %r13, fzr_gout+104(%rbx)\n"
    "    mov %r14, fzr_gout+112(%rbx); mov %r15, fzr_gout+120(%rbx)\n"
    "    lea 8(%rsp), %rax; mov %rax, fzr_gout+56(%rbx)\n"
    "    popq fzr_fout(%rbx)\n"
    "    popq fzr_gout+8(%rbx)\n"
    "    pushq $0x202; popfq\n"
    "    mov %ds, fzr_out+4096(%rbx); mov %es, fzr_out+4098(%rbx)\n"
    "    mov %fs, fzr_out+4100(%rbx); mov %gs, fzr_out+4102(%rbx)\n"
    "    cmpb $0, xr_use_xsave(%rip); je 3f\n"
    "    mov $-1, %eax; mov $-1, %edx; xsave64 fzr_out(%rbx); jmp 4f\n"
    "3:  fxsave64 fzr_out(%rbx)\n"
    "4:  fninit; ldmxcsr fzr_mxcsr_reset(%rip)\n"
    "    xor %eax, %eax; mov %ax, %ds; mov %ax, %es; mov %ax, %fs; mov %ax, %gs\n"
    "    pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
    "    ret\n"
    "    .section .rodata\n"
    "    .balign 4\n"
    "fzr_mxcsr_reset: .long 0x1F80\n"
    "    .text\n");

/* fzr_bad_sel(sel = rdi, reg = rsi): load sel into DS, ES, FS or GS (reg 0..3); each load is at
   its own label (fzr_bad_ds...), where the #GP of an invalid selector stops the EC. */
__asm__(
    "    .text\n"
    "    .globl fzr_bad_sel, fzr_bad_ds, fzr_bad_es, fzr_bad_fs, fzr_bad_gs\n"
    "fzr_bad_sel:\n"
    "    cmp $1, %rsi; je 1f; cmp $2, %rsi; je 2f; cmp $3, %rsi; je 3f\n"
    "fzr_bad_ds: mov %di, %ds; jmp 4f\n"
    "1:\n"
    "fzr_bad_es: mov %di, %es; jmp 4f\n"
    "2:\n"
    "fzr_bad_fs: mov %di, %fs; jmp 4f\n"
    "3:\n"
    "fzr_bad_gs: mov %di, %gs\n"
    "4:  xor %eax, %eax; mov %ax, %ds; mov %ax, %es; mov %ax, %fs; mov %ax, %gs\n"
    "    ret\n");
void fzr_bad_sel(mword sel, mword reg);
extern const char fzr_tf_early[], fzr_tf_rip[];
extern const char fzr_bad_ds[], fzr_bad_es[], fzr_bad_fs[], fzr_bad_gs[];

/* Learn what the register checks need: XSAVE layout, MXCSR_MASK; every core's ac_entries. */
static void regs_init(void)
{
    static uint8_t fx[512] aligned(16);
    xinfo_detect();
    __asm__ __volatile__("fxsave64 %0" : "=m"(fx));
    mxcsr_mask = *(const uint32_t *)&fx[XI_MXCSR + 4];
    if (mxcsr_mask == 0)
        mxcsr_mask = 0xFFBF;                    /* the architectural default (no DAZ) */
    for (unsigned c = 0; c < cfg.ncpu; c++) {
        struct core_counters cc;
        if (sys_counters(c, &cc) == E_OK)
            ac_entries0 += cc.ac_entries;
    }
}

/* The registers of f's next call c: c in rax and the argument registers, random values in
   the others (tagged with f's owner, a quarter of them boundary values), random user RFLAGS
   bits, data selectors, and x87/SSE/AVX contents (a fresh image every FZR_REFILL calls, else
   one XMM register changed). Four random words a call: the fuzzer's throughput is its own. */
static void regs_prepare(struct fz *f, struct fzr *r, const struct call *c)
{
    static const unsigned free_regs[] = { G_RBX, G_RCX, G_RBP, G_R11, G_R12, G_R13, G_R14, G_R15 };
    static const mword odd[8] = { 0, ~0UL, KERNEL_PTR, NONCANON, USER_LIMIT, 1UL << 63, 1, 4096 };
    static const uint16_t sels[16] = { 0, 0x18, 0x19, 0x1A, 0x1B, 0x20, 0x21, 0x22, 0x23,
                                       0, 0x18, 0x1B, 0x20, 0x23, 0, 0x18 };
    uint64_t u = rnd(f), w = rnd(f), z = rnd(f);
    r->gin[G_RAX] = c->nr;
    r->gin[G_RDI] = c->a[0];
    r->gin[G_RSI] = c->a[1];
    r->gin[G_RDX] = c->a[2];
    r->gin[G_R10] = c->a[3];
    r->gin[G_R8] = c->a[4];
    r->gin[G_R9] = c->a[5];
    for (unsigned i = 0; i < sizeof(free_regs) / sizeof(free_regs[0]); i++) {
        uint64_t v = (w << (8 * i + 5) | w >> (59 - 8 * i)) ^ i;      /* w rotated */
        r->gin[free_regs[i]] = (u >> (2 * i) & 3) ? GPR_TAG(f->id) | (v & ~GPR_TAG_MASK)
                                                   : odd[u >> (16 + 3 * i) & 7];
    }
    r->fin = EC_START_RFLAGS | (z & (RFL_USER_KEPT | RFL_ARITH));
    uint16_t *sel = &r->in.ds;
    for (unsigned i = 0; i < 4; i++)
        sel[i] = sels[z >> (32 + 4 * i) & 15];
    if (f->calls % FZR_REFILL == 0) {
        fzr_image_fill(&r->in, f->id, &f->rng, mxcsr_mask);
    } else {
        uint8_t *x = &r->in.img[XI_XMM + 16 * (z >> 60)];
        uint64_t a = rnd(f);
        *(uint64_t *)(x + 8) = a;
        *(uint32_t *)(x + 4) = (uint32_t)u;
    }
}

/* True if v is one of the values r loaded (a random argument may look like a tagged value). */
static bool gpr_own(const struct fzr *r, uint64_t v)
{
    for (unsigned g = 0; g < G_COUNT; g++)
        if (r->gin[g] == v)
            return true;
    return false;
}

static const char *const gpr_name[G_COUNT] = {
    "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
    "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
};

/* Name of the EC whose owner tag is t (o + 1). */
static void owner_name(unsigned t, char *buf, size_t n)
{
    if (t == MAX_WORKERS + 1)
        snprintf(buf, n, "root");
    else
        snprintf(buf, n, "w%u", t - 1);
}

/* After f's call c: the registers the ABI keeps (rbx rbp rsp r12-r15, RFLAGS but the arithmetic
   flags, selectors, x87/SSE/AVX) are exactly as before it; no register holds another EC's
   tagged value. */
static void regs_check(struct fz *f, const struct fzr *r, const struct call *c)
{
    static const unsigned kept[] = { G_RBX, G_RBP, G_RSP, G_R12, G_R13, G_R14, G_R15 };
    char who[16], why[WHY_MAX];
    for (unsigned i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
        unsigned g = kept[i];
        if (r->gout[g] == r->gin[g])
            continue;
        finding(f, "a register the ABI keeps changed over the call (register, value after)", g,
                r->gout[g]);
        printf("fuzz:   %s: %lx before, %lx after (%s %lx)\n", gpr_name[g],
               (unsigned long)r->gin[g], (unsigned long)r->gout[g], name_of(c->nr),
               (unsigned long)c->nr);
    }
    for (unsigned g = 0; g < G_COUNT; g++)
        if (gpr_foreign(r->gout[g], f->id) && !gpr_own(r, r->gout[g])) {
            owner_name((unsigned)(r->gout[g] >> 48) & 0xFF, who, sizeof(who));
            finding(f, "another EC's value in a register after the call (register, value)", g,
                    r->gout[g]);
            printf("fuzz:   %s holds a value of EC %s\n", gpr_name[g], who);
        }
    if ((r->fout ^ r->fin) & ~RFL_ARITH)
        finding(f, "RFLAGS changed over the call beyond the arithmetic flags (before, after)",
                r->fin, r->fout);
    if (!fzr_quick_same(&r->in, &r->out) && !xstate_same(&r->in, &r->out, why, sizeof(why))) {
        unsigned t = image_foreign(&r->out, f->id);
        finding(f, "x87/SSE/AVX or data selectors changed over the call (call, foreign owner)",
                c->nr, t);
        owner_name(t, who, sizeof(who));
        printf("fuzz:   first difference: %s%s%s (FCW %x %x FSW %x %x)\n", why,
               t ? "; holds a value of EC " : "", t ? who : "",
               *(uint16_t *)&r->in.img[0], *(uint16_t *)&r->out.img[0],
               *(uint16_t *)&r->in.img[2], *(uint16_t *)&r->out.img[2]);
    }
}

/* No interrupt or exception handler ran with RFLAGS.AC set (the calls set it at random). */
static void ac_check(struct fz *r)
{
    uint64_t n = 0;
    for (unsigned c = 0; c < cfg.ncpu; c++) {
        struct core_counters cc;
        if (sys_counters(c, &cc) == E_OK)
            n += cc.ac_entries;
    }
    if (n != ac_entries0)
        finding(r, "a kernel handler ran with RFLAGS.AC set (ac_entries at start, now)",
                ac_entries0, n);
    ac_entries0 = n;
}

/* ---------------------------------------------------------------- running calls */

/* Statuses each call may return (docs/abi.md), as a bit mask over enum status. */
static unsigned allowed_status(mword nr)
{
#define B(e) (1u << (e))
    switch (nr) {
    case SYS_CREATE_PD:
        return B(E_OK) | B(E_CAP) | B(E_PERM) | B(E_ARG) | B(E_FULL) | B(E_BUSY) | B(E_NOMEM);
    case SYS_CREATE_EC: return B(E_OK) | B(E_CAP) | B(E_PERM) | B(E_CPU) | B(E_RANGE) | B(E_ARG) |
                               B(E_FULL) | B(E_BUSY) | B(E_NOMEM);
    case SYS_DELEGATE:  return B(E_OK) | B(E_CAP) | B(E_PERM) | B(E_ARG) | B(E_ALIGN) | B(E_RANGE) |
                               B(E_FULL) | B(E_NOENT) | B(E_BUSY) | B(E_NOMEM);
    case SYS_REVOKE:
        return B(E_OK) | B(E_CAP) | B(E_PERM) | B(E_ARG) | B(E_ALIGN) | B(E_RANGE) | B(E_NOMEM);
    case SYS_LOOKUP:    return B(E_OK) | B(E_CAP) | B(E_ARG) | B(E_RANGE) | B(E_NOENT);
    case SYS_EC_STATUS: return B(E_OK) | B(E_CAP) | B(E_PERM) | B(E_ARG) | B(E_RANGE);
    case SYS_EC_RESUME: return B(E_CAP) | B(E_PERM) | B(E_ARG);   /* flags made invalid */
    case SYS_VCPU_REGS: return B(E_CAP) | B(E_PERM) | B(E_ARG) | B(E_RANGE);  /* no vCPUs */
    case SYS_YIELD:     return B(E_OK);
    case SYS_CONSOLE_WRITE: return B(E_OK) | B(E_ARG) | B(E_RANGE);
    case SYS_COUNTERS:  return B(E_OK) | B(E_CPU) | B(E_RANGE);
    case SYS_PD_INFO:   return B(E_OK) | B(E_CAP) | B(E_RANGE);
    case SYS_KCOV:      return cfg.kcov ? B(E_OK) | B(E_ARG) | B(E_RANGE) : B(E_NOSYS);
    default:            return B(E_NOSYS);
    }
#undef B
}

/* Run c for f, remember it, check its status against the ABI; the status. */
static int run_call(struct fz *f, const struct call *c)
{
    struct rec *r = &f->ring[f->ring_pos];
    r->c = *c;
    r->st = -1;
    f->ring_pos = (f->ring_pos + 1) % RING;
    struct fzr *x = &fzr_of[f->id];
    regs_prepare(f, x, c);
    fzr_call(x);
    int st = (int)x->gout[G_RAX];
    mword rdx = x->gout[G_RDX];
    r->st = st;
    f->calls++;
    regs_check(f, x, c);
    if (st < 0 || st > E_NOENT || !(allowed_status(c->nr) & (1u << st)))
        finding(f, "status not documented for the call", c->nr, (mword)st);
    if (st == E_OK && c->nr == SYS_DELEGATE && (rdx == 0 || rdx > c->a[5]))
        finding(f, "delegate's items done (rdx) outside [1, count]", c->a[5], rdx);
    if (st == E_OK && (c->nr == SYS_CREATE_PD || c->nr == SYS_CREATE_EC)) {
        __atomic_add_fetch(&creates_ok, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&fuzz_creates, 1, __ATOMIC_RELAXED);
        f->made[f->nmade < MADE_MAX ? f->nmade++ : below(f, MADE_MAX)] = c->a[0];
    }
    return st;
}

/* One random call of f. */
static int fuzz_one(struct fz *f)
{
    struct call c;
    gen_call(f, &c);
    make_safe(f, &c);
    return run_call(f, &c);
}

/* Entry of the ECs that create_ec makes: stop at once. */
static void short_ec(mword arg)
{
    sys_exit((long)(arg & 0xff));
}

/* A worker EC: fuzz while the phase is PH_RUN, park in PH_PARK, end in PH_STOP. */
static void worker(mword w)
{
    struct fz *f = &wst[w];
    for (;;) {
        enum phase p = phase;
        if (p == PH_STOP)
            break;
        if (p == PH_PARK) {
            while (phase == PH_PARK) {
                f->parked = park_gen;
                sys_yield();
            }
            continue;
        }
        for (unsigned i = 0; i < 16; i++)
            fuzz_one(f);
    }
    sys_exit(0);
}

/* ---------------------------------------------------------------- snapshots */

/* Kernel memory as the counters show it: free pool frames plus heap pages, PD-held frames, and
   live objects. */
struct kmem {
    uint64_t frames;        /* pool_free + heap_pages (a heap refill moves a frame, no change) */
    uint64_t pd_frames;     /* frames PDs hold (every PD, the hidden ones too) */
    uint64_t live;
};

/* Read the kernel memory counters; false if the call failed. */
static bool kmem_read(struct kmem *k)
{
    struct core_counters cc;
    k->frames = k->pd_frames = k->live = 0;
    if (sys_counters(0, &cc) != E_OK)
        return false;
    k->frames = cc.pool_free + cc.heap_pages;
    k->pd_frames = cc.pd_frames;
    k->live = cc.heap_live;
    return true;
}

#define SNAP_PDS  (NPD + 2)     /* the fuzz PDs, the root, S */
#define SNAP_LOOK 4

struct snap {
    struct kmem k;
    struct pd_info pi[SNAP_PDS];
    int look_st[SNAP_LOOK];
    struct lookup_info look[SNAP_LOOK];
};

/* The selectors (in the root's space) of every PD the root can see. */
static mword visible_pd(unsigned i)
{
    return i < NPD ? fz_sel[i] : i == NPD ? SEL_ROOT_PD : s_sel;
}

/* Where c might change something: up to SNAP_LOOK (pd, kind, addr) lookups. */
static unsigned look_points(const struct call *c, mword pd[], mword kind[], mword addr[])
{
    unsigned n = 0, k = XFER_KIND(c->a[2]);
    mword unit = k == SPACE_MEM ? PAGE_SIZE_USER : 1;
    if (c->nr == SYS_DELEGATE && k <= SPACE_PIO) {
        pd[n] = c->a[1], kind[n] = k, addr[n++] = c->a[4];
        pd[n] = c->a[1], kind[n] = k, addr[n++] = c->a[4] + (c->a[5] - 1) * unit;
        pd[n] = c->a[0], kind[n] = k, addr[n++] = c->a[3];
    } else if (c->nr == SYS_REVOKE && k <= SPACE_PIO) {
        pd[n] = c->a[0], kind[n] = k, addr[n++] = c->a[3];
        pd[n] = c->a[0], kind[n] = k, addr[n++] = c->a[3] + (c->a[4] - 1) * unit;
    } else if (c->nr == SYS_CREATE_PD || c->nr == SYS_CREATE_EC) {
        pd[n] = SEL_ROOT_PD, kind[n] = SPACE_OBJ, addr[n++] = c->a[0];
    }
    return n;
}

/* Take a snapshot of everything c could change that the root can read. */
static void snap_take(struct snap *s, const struct call *c)
{
    mword pd[SNAP_LOOK], kind[SNAP_LOOK], addr[SNAP_LOOK];
    memset(s, 0, sizeof(*s));
    kmem_read(&s->k);
    for (unsigned i = 0; i < SNAP_PDS; i++)
        sys_pd_info(visible_pd(i), &s->pi[i]);
    unsigned n = look_points(c, pd, kind, addr);
    for (unsigned i = 0; i < n; i++)
        s->look_st[i] = sys_lookup(pd[i], (unsigned)kind[i], addr[i], &s->look[i]);
}

/* Run c as the root with the all-or-nothing check: a failed call must have changed nothing. */
static int run_checked(struct fz *f, const struct call *c)
{
    static struct snap before, after;
    snap_take(&before, c);
    int st = run_call(f, c);
    if (st == E_OK || (c->nr == SYS_REVOKE && st == E_NOMEM))   /* revoke: documented partial */
        return st;
    snap_take(&after, c);
    atomic_checks++;
    if (before.k.frames != after.k.frames || before.k.pd_frames != after.k.pd_frames ||
        before.k.live != after.k.live)
        finding(f, "failed call changed kernel memory (frames, PD-held frames, objects)",
                before.k.frames - after.k.frames, before.k.pd_frames - after.k.pd_frames);
    for (unsigned i = 0; i < SNAP_PDS; i++)
        if (memcmp(&before.pi[i], &after.pi[i], sizeof(before.pi[i])) != 0)
            finding(f, "failed call changed pd_info of PD", visible_pd(i), (mword)st);
    for (unsigned i = 0; i < SNAP_LOOK; i++)
        if (before.look_st[i] != after.look_st[i] ||
            memcmp(&before.look[i], &after.look[i], sizeof(before.look[i])) != 0)
            finding(f, "failed call changed a lookup", i, (mword)st);
    return st;
}

/* ---------------------------------------------------------------- coverage corpus */

struct seq {
    unsigned n;
    struct call c[SEQ_MAX];
};

static struct seq corpus[CORPUS];
static unsigned corpus_n;
static uint64_t corpus_added, kcov_last;

/* Kernel edges hit so far (0 without a KCOV kernel). */
static uint64_t kcov_hits(void)
{
    struct kcov_info ki = { 0, 0 };
    if (!cfg.kcov || sys_call6(SYS_KCOV, (mword)&ki, sizeof(ki), 0, 0, 0, 0, NULL) != E_OK)
        return 0;
    return ki.hit;
}

/* Change one argument of c: a fresh value for the slot, a bit flip, or a small step. */
static void mutate_call(struct fz *f, struct call *c)
{
    unsigned i = (unsigned)below(f, 6);
    struct call fresh;
    switch (below(f, 4)) {
    case 0: case 1:
        for (;;) {      /* a fresh call, of the same kind with luck */
            gen_call(f, &fresh);
            if (fresh.nr == c->nr || !below(f, 8))
                break;
        }
        c->a[i] = fresh.a[i];
        break;
    case 2:
        c->a[i] ^= 1UL << below(f, 64);
        break;
    default: {
        static const mword step[] = { 1, 4096, SIZE_2M, SIZE_1G };
        mword d = PICK(f, step);
        c->a[i] = below(f, 2) ? c->a[i] + d : c->a[i] - d;
    }
    }
}

/* One solo step of the root: a corpus entry mutated, or a fresh sequence; kept if it reached
   new kernel edges. */
static void solo_step(struct fz *f)
{
    struct seq s;
    if (corpus_n && below(f, 2)) {
        s = corpus[below(f, corpus_n)];
        mutate_call(f, &s.c[below(f, s.n)]);
        if (below(f, 4) == 0 && s.n < SEQ_MAX)
            gen_call(f, &s.c[s.n++]);
    } else {
        s.n = 1 + (unsigned)below(f, SEQ_MAX);
        for (unsigned i = 0; i < s.n; i++)
            gen_call(f, &s.c[i]);
    }
    uint64_t before = kcov_hits();
    for (unsigned i = 0; i < s.n; i++) {
        make_safe(f, &s.c[i]);
        uint64_t t0 = now_ticks();
        int st = run_checked(f, &s.c[i]);
        uint64_t t1 = now_ticks();
        if (t1 - t0 > hz / 2)      /* a note, not a finding: unbounded work shows here */
            printf("fuzz: slow call, %lu ticks:  %s(%lx, %lx, %lx, %lx, %lx, %lx) -> %d\n",
                   (unsigned long)(t1 - t0), name_of(s.c[i].nr), (unsigned long)s.c[i].a[0],
                   (unsigned long)s.c[i].a[1], (unsigned long)s.c[i].a[2],
                   (unsigned long)s.c[i].a[3], (unsigned long)s.c[i].a[4],
                   (unsigned long)s.c[i].a[5], st);
    }
    uint64_t after = kcov_hits();
    if (after > before) {
        corpus[corpus_n < CORPUS ? corpus_n++ : below(f, CORPUS)] = s;
        corpus_added++;
    }
    kcov_last = after;
}

/* ---------------------------------------------------------------- phases */

/* Seconds since boot on core 0's timer. */
static uint64_t now_ticks(void)
{
    struct core_counters cc;
    return sys_counters(0, &cc) == E_OK ? cc.timer_ticks : 0;
}

/* Park every worker; false (and a finding) if one did not park in time. */
static bool park_all(struct fz *r)
{
    park_gen++;
    phase = PH_PARK;
    uint64_t t0 = now_ticks();
    for (unsigned w = 0; w < cfg.ncpu; w++) {
        while (wst[w].parked != park_gen) {
            struct ec_info ei;
            if (sys_ec_status(worker_ec[w], 0, &ei) == E_OK && ei.state != EC_RUNNING) {
                finding(&wst[w], "worker stopped", ei.state, ei.fault.addr);
                printf("fuzz:   worker %u: state %u vector %u rip %lx addr %lx error %lx\n", w,
                       ei.state, ei.fault.vector, (unsigned long)ei.fault.rip,
                       (unsigned long)ei.fault.addr, (unsigned long)ei.fault.error);
                wst[w].parked = park_gen;   /* reported; do not wait for it */
                break;
            }
            if (now_ticks() - t0 > PARK_TIMEOUT_S * hz) {
                finding(&wst[w], "worker did not park (hang?)", w, epoch);
                (void)r;
                return false;
            }
            sys_yield();
        }
    }
    return true;
}

/* Exhaustion: fill the kernel pool with one-page delegations into fuzz PD 0, fuzz while it is
   empty, revoke them, and check that the frames and objects are back. */
static void exhaust(struct fz *r)
{
    struct kmem k0, k1;
    mword half = pool_va + POOL_PAGES / 2 * PAGE_SIZE_USER;    /* sources: the pool's upper half */
    mword n = 0;
    kmem_read(&k0);
    for (; n < EXH_MAX; n++)
        if (sys_delegate(SEL_ROOT_PD, fz_sel[0], SPACE_MEM,
                         half + n % (POOL_PAGES / 2) * PAGE_SIZE_USER, EXH_VA + n * SIZE_1G, 1,
                         MEM_R) != E_OK)
            break;
    exh_rounds++;
    if (n > exh_max_fill)
        exh_max_fill = n;
    for (unsigned i = 0; i < SOLO_EXH; i++)
        solo_step(r);
    /* Everything derived from the sources: the exhaustion mappings and what the solo calls made. */
    int st = sys_revoke(SEL_ROOT_PD, SPACE_MEM, half, POOL_PAGES / 2, MEM_R, 0);
    if (st != E_OK)
        finding(r, "revoke after exhaustion failed", (mword)st, n);
    kmem_read(&k1);
    (void)k1;   /* compared in leak_check (the solo calls may have delegated elsewhere) */
}

/* Stale-read prober on one core: read its page until told the page was revoked, then read
   once more; that read must fault. Exit 1 if it did not (a stale translation). */
static void prober(mword c)
{
    volatile uint64_t *p = (volatile uint64_t *)(PROBE_VA + c * PAGE_SIZE_USER);
    probe_go[c] = 1;
    while (!probe_revoked[c]) {
        for (unsigned i = 0; i < 1000 && !probe_revoked[c]; i++) {
            if (*p != PROBE_MAGIC + c)
                sys_exit(2);
            probe_reads[c]++;
        }
        sys_yield();
    }
    uint64_t v = *p;            /* must fault: the revoke returned before the flag was set */
    probe_stale[c] = v | 1;
    sys_exit(1);
}

static mword prober_ec[MAX_WORKERS];
static unsigned probe_rounds;
static mword probe_page[MAX_WORKERS];
static bool probers_on;

static void traps_start(struct fz *r);

/* Start a prober on every core, reading its own fresh page in PD S (before the parallel phase). */
static void probers_start(struct fz *r)
{
    for (unsigned c = 0; c < cfg.ncpu; c++) {
        mword w = mem_alloc(1);
        probe_page[c] = w;
        probe_go[c] = probe_revoked[c] = probe_reads[c] = probe_stale[c] = 0;
        if (!w) {
            finding(r, "no memory for a probe page", c, 0);
            return;
        }
        *(volatile uint64_t *)w = PROBE_MAGIC + c;
        int st =
            sys_delegate(SEL_ROOT_PD, s_sel, SPACE_MEM, w, PROBE_VA + c * PAGE_SIZE_USER, 1, MEM_R);
        if (st == E_OK)
            st = child_ec(s_sel, c, prober, c, &prober_ec[c]);
        if (st != E_OK) {
            finding(r, "prober set-up failed", c, (mword)st);
            return;
        }
        __atomic_add_fetch(&creates_ok, 1, __ATOMIC_RELAXED);
    }
    probers_on = true;
    traps_start(r);
}

/* Trap probes: per core, with the stale-read probers, an EC of PD S that must stop with one
   fault: a call with random registers and TF set (#DB after the instruction that follows the
   syscall: the flag comes back with the call), or a load of an invalid data selector
   (#GP with the selector as error code, at the load). */
enum { TRAP_TF, TRAP_SEL };
struct trap_plan {
    unsigned kind;
    mword sel, reg;         /* TRAP_SEL: the selector, the register (0..3: DS ES FS GS) */
};
static struct trap_plan trap_plan[MAX_WORKERS];
static struct fzr trap_fzr[MAX_WORKERS];
static mword trap_ec[MAX_WORKERS];
static bool traps_on;
static uint64_t trap_checks, trap_early;

/* Entry of a trap probe on core c: the fault ends it; exit 3 if none came. */
static void trap_probe(mword c)
{
    if (trap_plan[c].kind == TRAP_TF)
        fzr_call(&trap_fzr[c]);
    else
        fzr_bad_sel(trap_plan[c].sel, trap_plan[c].reg);
    sys_exit(3);
}

/* Start a trap probe on every core (after probers_start). */
static void traps_start(struct fz *r)
{
    /* No user-mode load accepts these: kernel code and data (any RPL), both halves of the TSS
       descriptor, past the GDT's end, the LDT (there is none). */
    static const mword bad_sels[] = { 0x08, 0x0B, 0x10, 0x13, 0x28, 0x2B, 0x30, 0x33, 0x38,
                                      0x1000, 0xFFF8, 0x04, 0x1C, 0x1F };
    /* Calls that change nothing (their arguments are 0): a yield, failing calls, no call. */
    static const mword tf_calls[] = { SYS_YIELD, SYS_COUNTERS, SYS_LOOKUP, SYS_PD_INFO, 0,
                                      SYS_COUNT };
    for (unsigned c = 0; c < cfg.ncpu; c++) {
        struct trap_plan *p = &trap_plan[c];
        struct call k = { .nr = PICK(r, tf_calls) };
        p->kind = below(r, 2) ? TRAP_TF : TRAP_SEL;
        p->sel = PICK(r, bad_sels);
        p->reg = below(r, 4);
        regs_prepare(r, &trap_fzr[c], &k);
        trap_fzr[c].fin |= RFLAGS_TF;
        int st = child_ec(s_sel, c, trap_probe, c, &trap_ec[c]);
        if (st != E_OK) {
            finding(r, "trap probe set-up failed", c, (mword)st);
            return;
        }
        __atomic_add_fetch(&creates_ok, 1, __ATOMIC_RELAXED);
    }
    traps_on = true;
}

/* Each trap probe stopped with its fault, at its instruction. */
static void traps_check(struct fz *r)
{
    static const char *const load[] = { fzr_bad_ds, fzr_bad_es, fzr_bad_fs, fzr_bad_gs };
    if (!traps_on)
        return;
    traps_on = false;
    for (unsigned c = 0; c < cfg.ncpu; c++) {
        const struct trap_plan *p = &trap_plan[c];
        bool tf = p->kind == TRAP_TF;
        mword rip = (mword)(tf ? fzr_tf_rip : load[p->reg]), err = tf ? 0 : p->sel & ~3UL;
        struct ec_info ei;
        trap_checks++;
        int st = ec_wait(trap_ec[c], &ei);
        /* QEMU's TCG takes the single step of the instruction that sets TF (sysret, not
           iretq), one instruction early: accepted, as it is the EC's own fault too. */
        bool early = tf && ei.fault.rip == (mword)fzr_tf_early;
        if (st == E_OK && ei.state == EC_FAULTED && ei.fault.vector == (tf ? VEC_DB : VEC_GP) &&
            (ei.fault.rip == rip || early) && ei.fault.error == err) {
            trap_early += early;
            continue;
        }
        finding(r, tf ? "TF over a call: no #DB after the instruction that follows it"
                      : "invalid selector load: no #GP(selector) at the load",
                c, tf ? trap_fzr[c].gin[G_RAX] : p->sel);
        printf("fuzz:   core %u: state %u exit %ld vector %u rip %lx (want %lx) error %lx\n", c,
               ei.state, (long)ei.exit_code, ei.fault.vector, (unsigned long)ei.fault.rip,
               (unsigned long)rip, (unsigned long)ei.fault.error);
    }
}

/* Revoke every probe page (the workers are parked, the probers read) and check each prober
   faulted on it. */
static void probers_check(struct fz *r)
{
    if (!probers_on)
        return;
    probers_on = false;
    for (unsigned c = 0; c < cfg.ncpu; c++)
        while (!probe_go[c])
            sys_yield_pause();
    for (unsigned c = 0; c < cfg.ncpu; c++) {
        int st = sys_revoke(SEL_ROOT_PD, SPACE_MEM, probe_page[c], 1, MEM_R, 0);
        if (st != E_OK)
            finding(r, "revoke of a probe page failed", c, (mword)st);
        probe_revoked[c] = 1;
    }
    for (unsigned c = 0; c < cfg.ncpu; c++) {
        struct ec_info ei;
        mword va = PROBE_VA + c * PAGE_SIZE_USER;
        stale_checks++;
        if (ec_wait(prober_ec[c], &ei) != E_OK || !faulted_on(&ei, va, FAULT_R) || probe_stale[c])
            finding(r, "revoked page still readable (stale read) or prober not faulted", c,
                    ei.state == EC_FAULTED ? ei.fault.addr : (mword)ei.exit_code);
    }
    traps_check(r);
}

/* Delegate the root's capability to fuzz PD j into fuzz PD i at base selector CHILD_CAP0 + j. */
static int base_cap(unsigned i, unsigned j)
{
    return sys_delegate(SEL_ROOT_PD, fz_sel[i], SPACE_OBJ, fz_sel[j], CHILD_CAP0 + j, 1, PD_R_ALL);
}

/*
 * Give every fuzz PD the base capabilities (all fuzz PDs at CHILD_CAP0..) again (after
 * revoke_all, which removed them with everything else derived from the root). A base
 * selector that is still busy holds an object a worker created there, after revoking the
 * base capability with REVOKE_SELF in a creating epoch: it goes, so that every base selector
 * names its fuzz PD again. Otherwise the next epochs would delegate into that hidden PD as if
 * it were a fuzz PD, and the frames it gains would escape the leak check's books.
 */
static void base_caps(struct fz *r)
{
    for (unsigned i = 0; i < NPD; i++)
        for (unsigned j = 0; j < NPD; j++) {
            int st = base_cap(i, j);
            if (st == E_BUSY) {
                base_repairs++;
                st = sys_revoke(fz_sel[i], SPACE_OBJ, CHILD_CAP0 + j, 1, OBJ_R_ALL, REVOKE_SELF);
                if (st == E_OK)
                    st = base_cap(i, j);
            }
            if (st != E_OK)
                finding(r, "base capability delegation failed", i * NPD + j, (mword)st);
        }
}

/* Revoke everything the fuzzing delegated: memory from the pool and from the fuzz PDs' own
   holdings, every object and port derived from the root or a fuzz PD. */
static void revoke_all(struct fz *r)
{
    static const struct { unsigned kind; mword base, count; } rng[] = {
        { SPACE_OBJ, 0, SEL_COUNT }, { SPACE_PIO, 0, PIO_PORTS },
    };
    int st = sys_revoke(SEL_ROOT_PD, SPACE_MEM, pool_va, POOL_PAGES, MEM_R, 0);
    if (st != E_OK)
        finding(r, "revoke_all: pool", 0, (mword)st);
    for (unsigned i = 0; i < NPD + 1; i++) {
        mword pd = i < NPD ? fz_sel[i] : SEL_ROOT_PD;
        for (unsigned k = 0; k < 2; k++)
            if ((st = sys_revoke(pd, rng[k].kind, rng[k].base, rng[k].count,
                                 rng[k].kind == SPACE_OBJ ? OBJ_R_ALL : PIO_A, 0)) != E_OK)
                finding(r, "revoke_all: objects/ports", i, (mword)st);
    }
}

/* Entry of the doomed tree's ECs: run (in user mode, with calls) until destroyed. */
static void dt_spin(mword arg)
{
    (void)arg;
    for (;;) {
        __atomic_add_fetch(&dt_spins, 1, __ATOMIC_RELAXED);
        sys_yield();
    }
}

/* A quota for a PD of the doomed tree: shared (0) or its own, of at least min frames. */
static mword dt_quota(struct fz *r, mword min)
{
    return below(r, 2) ? PD_QUOTA_SHARED : min + below(r, min);
}

/*
 * In a creating epoch, before the parallel phase: build the doomed tree in the root's ROOT_DT
 * slots: PD D (parent the root or a fuzz PD) and its child D2, each with a random quota (shared
 * or their own), the root's program and DT_ECS ECs that run dt_spin on random cores. False
 * (nothing left behind) if a quota or the pool could not hold it.
 */
static bool dt_build(struct fz *r)
{
    struct child_seg seg[ELF_MAX_LOAD];
    unsigned nseg = child_segments(seg, ELF_MAX_LOAD);
    mword parent = SEL_ROOT_PD;
    sys_revoke(SEL_ROOT_PD, SPACE_OBJ, ROOT_DT, 2 + 2 * DT_ECS, OBJ_R_ALL, REVOKE_SELF);
    int st = sys_create_pd(ROOT_DT, parent, dt_quota(r, 512));
    if (st == E_OK)
        st = sys_create_pd(ROOT_DT + 1, ROOT_DT, dt_quota(r, 128));
    for (unsigned d = 0; d < 2 && st == E_OK; d++) {
        st = child_give_segments(SEL_ROOT_PD, ROOT_DT + d, seg, nseg);
        for (unsigned e = 0; e < DT_ECS && st == E_OK; e++)
            st = sys_create_ec(ROOT_DT + 2 + d * DT_ECS + e, ROOT_DT + d, below(r, cfg.ncpu),
                               (mword)&dt_spin,
                               ec_stack_ptr(dt_stack[d * DT_ECS + e] + sizeof(dt_stack[0])), 0);
    }
    if (st == E_OK)
        return true;
    if (st != E_NOMEM)
        finding(r, "doomed tree: building it failed", 0, (mword)st);
    dt_skipped++;
    sys_revoke(SEL_ROOT_PD, SPACE_OBJ, ROOT_DT, 2, OBJ_R_ALL, REVOKE_SELF);
    return false;
}

/*
 * Destroy the doomed tree while its ECs run and the workers fuzz: wait (bounded) until its ECs
 * have run, revoke D's capability with REVOKE_SELF (the last one naming it: the root's
 * delegations of it are derived), then every selector of the tree must answer E_CAP: D2 and
 * the ECs went with D although the root's own capabilities named them.
 */
static void dt_destroy(struct fz *r)
{
    uint64_t spins = dt_spins, until = now_ticks() + DT_WAIT_S * hz;
    while (dt_spins == spins && now_ticks() < until)
        sys_yield_pause();
    for (unsigned e = 0; e < 2 * DT_ECS; e++) {
        struct ec_info ei;
        memset(&ei, 0, sizeof(ei));
        int est = sys_ec_status(ROOT_DT + 2 + e, 0, &ei);
        if (est != E_OK || ei.state != EC_RUNNING) {
            finding(r, "doomed tree: an EC stopped before its PD was destroyed", e,
                    est != E_OK ? (mword)est : ei.state);
            struct pd_info pi;
            memset(&pi, 0, sizeof(pi));
            int pst = sys_pd_info(ROOT_DT + e / DT_ECS, &pi);
            printf("fuzz:   fault vector %u addr %lx rip %lx error %lx; its PD: pd_info %d "
                   "quota %lu used %lu frames %lu heap_pages %lu\n",
                   ei.fault.vector, (unsigned long)ei.fault.addr, (unsigned long)ei.fault.rip,
                   (unsigned long)ei.fault.error, pst, (unsigned long)pi.quota,
                   (unsigned long)pi.used, (unsigned long)pi.frames, (unsigned long)pi.heap_pages);
        }
    }
    int st = sys_revoke(SEL_ROOT_PD, SPACE_OBJ, ROOT_DT, 1, OBJ_R_ALL, REVOKE_SELF);
    if (st != E_OK)
        finding(r, "doomed tree: revoking D's capability failed", ROOT_DT, (mword)st);
    for (unsigned i = 0; i < 2 + 2 * DT_ECS; i++) {
        struct pd_info pi;
        struct ec_info ei;
        if ((st = sys_pd_info(ROOT_DT + i, &pi)) != E_CAP ||
            (st = sys_ec_status(ROOT_DT + i, 0, &ei)) != E_CAP)
            finding(r, "doomed tree: a selector still answers after D was destroyed",
                    ROOT_DT + i, (mword)st);
    }
    /* The root's fuzzing may have filled the selectors after D's destruction: empty them. */
    sys_revoke(SEL_ROOT_PD, SPACE_OBJ, ROOT_DT, 2 + 2 * DT_ECS, OBJ_R_ALL, REVOKE_SELF);
    dt_rounds++;
}

/*
 * After a creating epoch (workers parked): destroy everything the fuzzing created. Every
 * capability in the fuzz PDs' object spaces and the root's ROOT_FZ zone goes with REVOKE_SELF
 * (base_caps hands the base capabilities out again); a PD or EC named nowhere else is destroyed,
 * with its ECs and children. Then every selector of the root's zone answers E_CAP.
 */
static void destroy_sweep(struct fz *r)
{
    int st;
    for (unsigned i = 0; i < NPD; i++)
        if ((st = sys_revoke(fz_sel[i], SPACE_OBJ, 0, SEL_COUNT, OBJ_R_ALL, REVOKE_SELF)) != E_OK)
            finding(r, "destroy_sweep: a fuzz PD's objects", i, (mword)st);
    if ((st = sys_revoke(SEL_ROOT_PD, SPACE_OBJ, ROOT_FZ, 64, OBJ_R_ALL, REVOKE_SELF)) != E_OK)
        finding(r, "destroy_sweep: the root's zone", ROOT_FZ, (mword)st);
    for (unsigned i = 0; i < 64; i++) {
        struct pd_info pi;
        struct ec_info ei;
        if ((st = sys_pd_info(ROOT_FZ + i, &pi)) != E_CAP ||
            (st = sys_ec_status(ROOT_FZ + i, 0, &ei)) != E_CAP)
            finding(r, "destroy_sweep: a destroyed object's selector still answers", ROOT_FZ + i,
                    (mword)st);
    }
    sweep_checks++;
}

/* The kernel's memory in the base state: free, heap and PD-held frames (the kernel's three
   books, which together hold every frame it hands out), live objects, and the visible PDs'
   usage by kind. */
struct leak_mark {
    uint64_t pool_free, heap_pages, pd_frames, live;
    struct pd_info pi[SNAP_PDS];
};

/* Read the leak mark. */
static void leak_mark(struct leak_mark *m)
{
    struct core_counters cc;
    memset(m, 0, sizeof(*m));
    if (sys_counters(0, &cc) == E_OK) {
        m->pool_free = cc.pool_free;
        m->heap_pages = cc.heap_pages;
        m->pd_frames = cc.pd_frames;
        m->live = cc.heap_live;
    }
    for (unsigned i = 0; i < SNAP_PDS; i++)
        sys_pd_info(visible_pd(i), &m->pi[i]);
}

/* Every frame the kernel hands out: free, heap, held by PDs. */
static uint64_t mark_total(const struct leak_mark *m)
{
    return m->pool_free + m->heap_pages + m->pd_frames;
}

/* Frames PDs the root cannot see hold (with the spaces' shared pages). */
static uint64_t mark_hidden(const struct leak_mark *m)
{
    uint64_t n = m->pd_frames;
    for (unsigned i = 0; i < SNAP_PDS; i++)
        n -= m->pi[i].frames;
    return n;
}

/* Print what differs between marks a and b, by kind. */
static void mark_diff(const struct leak_mark *a, const struct leak_mark *b)
{
    printf(
        "fuzz:   pool_free %lu -> %lu, heap_pages %lu -> %lu, pd_frames %lu -> %lu (hidden PDs "
        "%lu -> %lu), live %lu -> %lu\n",
        (unsigned long)a->pool_free, (unsigned long)b->pool_free, (unsigned long)a->heap_pages,
        (unsigned long)b->heap_pages, (unsigned long)a->pd_frames, (unsigned long)b->pd_frames,
        (unsigned long)mark_hidden(a), (unsigned long)mark_hidden(b), (unsigned long)a->live,
        (unsigned long)b->live);
    for (unsigned i = 0; i < SNAP_PDS; i++) {
        const struct pd_info *p = &a->pi[i], *q = &b->pi[i];
        if (memcmp(p, q, sizeof(*p)) != 0)
            printf(
                "fuzz:   PD sel %lu: frames %lu -> %lu: hpt %lu -> %lu (kept %lu -> %lu), roots "
                "%lu -> %lu, obj %lu -> %lu, pio %lu -> %lu, kpd %lu -> %lu\n",
                (unsigned long)visible_pd(i), (unsigned long)p->frames, (unsigned long)q->frames,
                (unsigned long)p->hpt_tables, (unsigned long)q->hpt_tables,
                (unsigned long)p->hpt_kept, (unsigned long)q->hpt_kept, (unsigned long)p->loc_roots,
                (unsigned long)q->loc_roots, (unsigned long)p->obj_pages,
                (unsigned long)q->obj_pages, (unsigned long)p->pio_pages,
                (unsigned long)q->pio_pages, (unsigned long)p->kpd_tables,
                (unsigned long)q->kpd_tables);
    }
}

static struct leak_mark mark_prev, mark_first;
static bool mark_valid, leak_warm;
static uint64_t creates_at_mark;

/*
 * After revoke_all and base_caps (workers parked). Every epoch: free + heap + PD-held frames
 * equal the first mark's (no frame left the kernel's books). Even epochs (no object created,
 * every delegation into a PD the root can see): the PDs hold exactly the frames of the previous
 * mark, except that a visible PD may have gained top-level master tables (PDPTs, kept while
 * it lives) and capability or I/O-bitmap pages (kept too); its lower master tables are back,
 * the hidden PDs (workers' creations) hold what they held, and no more objects are live.
 */
static void leak_check(struct fz *r)
{
    struct leak_mark m;
    leak_mark(&m);
    if (!mark_valid)
        mark_first = m;
    if (mark_total(&m) != mark_total(&mark_first)) {
        finding(r, "kernel frames lost from its books (free + heap + PD-held, first mark vs now)",
                mark_total(&mark_first), mark_total(&m));
        mark_diff(&mark_first, &m);
    }
    /* Between calls no frame is reserved: a visible PD's frames are the sum of its parts. */
    for (unsigned i = 0; i < SNAP_PDS; i++) {
        const struct pd_info *p = &m.pi[i];
        uint64_t parts = PD_OBJ_FRAMES + p->hpt_tables + p->loc_roots * PD_LOC_ROOT_FRAMES +
                         p->obj_pages + p->pio_pages + p->kpd_tables;
        if (p->frames != parts)
            finding(r,
                    "pd_info: a PD holds frames beyond its tables and pages (a reserve left over)",
                    visible_pd(i), p->frames - parts);
    }
    /* The first epoch may split mapping-database nodes the set-up made in one piece: it may
       leave more objects (never more frames) than the set-up. */
    bool warm_up = mark_valid && !leak_warm;
    if (warm_up) {
        printf("fuzz: warm-up epoch: frames %ld, objects %ld\n",
               (long)(m.pd_frames - mark_prev.pd_frames), (long)(m.live - mark_prev.live));
        leak_warm = true;
    }
    if (mark_valid && !creates_allowed && creates_ok == creates_at_mark) {
        leak_checks++;
        /* A visible PD may keep new top-level tables (PDPTs) and slot pages, no lower table. */
        bool lower_back = true;
        for (unsigned i = 0; i < SNAP_PDS; i++)
            lower_back &= m.pi[i].hpt_tables - m.pi[i].hpt_kept ==
                          mark_prev.pi[i].hpt_tables - mark_prev.pi[i].hpt_kept;
        if (mark_hidden(&m) != mark_hidden(&mark_prev) || !lower_back ||
            (!warm_up && m.live > mark_prev.live)) {
            finding(r,
                    "kernel memory not back at its baseline after revoking everything (hidden PDs' "
                    "frames, lower tables, objects)",
                    mark_hidden(&m) - mark_hidden(&mark_prev), m.live - mark_prev.live);
            mark_diff(&mark_prev, &m);
        }
    }
    /* Creating epochs end with destroy_sweep: every PD the fuzzing created is gone, so the PDs
       the root cannot see hold what they held at the first mark, and the fuzz PDs and the root
       no more lower tables than at the previous mark (S keeps the probers' tables). */
    if (mark_valid && creates_allowed) {
        leak_checks++;
        bool lower_back = true;
        for (unsigned i = 0; i < NPD + 1; i++)
            lower_back &= m.pi[i].hpt_tables - m.pi[i].hpt_kept ==
                          mark_prev.pi[i].hpt_tables - mark_prev.pi[i].hpt_kept;
        if (mark_hidden(&m) != mark_hidden(&mark_first) || !lower_back) {
            finding(r,
                    "kernel memory not back at its baseline after destroying everything created "
                    "(hidden PDs' frames vs the first mark, lower tables)",
                    mark_hidden(&m) - mark_hidden(&mark_first), lower_back);
            mark_diff(&mark_prev, &m);
        }
    }
    mark_prev = m;
    mark_valid = true;
    creates_at_mark = creates_ok;
}

/* ---------------------------------------------------------------- set-up and main */

/* Value of the command-line word "name=N", or def. */
static uint64_t cmd_num(const char *name, uint64_t def)
{
    const char *v = word_find(info_page()->cmdline, name, '=');
    return v ? word_num(v + 1) : def;
}

/* Total calls of all ECs. */
static uint64_t total_calls(void)
{
    uint64_t n = 0;
    for (unsigned i = 0; i <= MAX_WORKERS; i++)
        n += wst[i].calls;
    return n;
}

/* Create the tree: NPD fuzz PDs with the base capabilities, PD S, one worker per core. */
static bool setup(struct fz *r)
{
    const struct info_page *ip = info_page();
    for (uint32_t i = 0; i < ip->num_mem && i < INFO_MAX_MEM; i++)
        if (ip->mem[i].type == INFO_MEM_FREE) {
            mword lo = ip->phys_window + ip->mem[i].phys, hi = lo + ip->mem[i].size;
            window_lo = window_lo && window_lo < lo ? window_lo : lo;
            window_hi = hi > window_hi ? hi : window_hi;
        }
    pool_va = mem_take(POOL_PAGES, SIZE_2M);
    pool_end = pool_va + POOL_PAGES * PAGE_SIZE_USER;
    if (!pool_va)
        return false;
    for (unsigned i = 0; i < NPD; i++)
        if (child_pd(&fz_sel[i]) != E_OK)
            return false;
    if (child_pd(&s_sel) != E_OK)
        return false;
    base_caps(r);
    for (unsigned w = 0; w < cfg.ncpu; w++) {
        struct fz *f = &wst[w];
        f->id = w;
        f->rng = cfg.seed ^ (0x1000UL * (w + 1));
        f->pd_sel = CHILD_CAP0 + w % NPD;
        if (child_ec(fz_sel[w % NPD], w, worker, w, &worker_ec[w]) != E_OK)
            return false;
    }
    return true;
}

int main(mword arg)
{
    struct fz *r = &wst[MAX_WORKERS];
    if (!utest_init(arg))
        return utest_done("fuzz");
    cfg.seed = cmd_num("fuzz.seed", FUZZ_SEED_DEFAULT);
    cfg.time_s = cmd_num("fuzz.time", 20);
    cfg.calls_max = cmd_num("fuzz.calls", 0);
    cfg.epoch_ms = cmd_num("fuzz.epoch", 2000);
    cfg.huge_revoke = cmd_num("fuzz.huge_revoke", 1) != 0;
    cfg.ncpu = info_page()->num_cpus;
    hz = info_page()->timer_hz ? info_page()->timer_hz : 100;
    regs_init();
    struct kcov_info ki;
    cfg.kcov = sys_call6(SYS_KCOV, (mword)&ki, sizeof(ki), 0, 0, 0, 0, NULL) == E_OK;
    if (cfg.kcov)
        printf(
            "fuzz: kcov: %lu of %lu kernel edges ran before the fuzzer started (boot, "
            "self-checks)\n",
            (unsigned long)ki.hit, (unsigned long)ki.edges);
    r->root = true;
    r->id = MAX_WORKERS;
    r->rng = cfg.seed;
    r->pd_sel = SEL_ROOT_PD;
    printf("fuzz: seed=%lu cores=%u time=%lus calls=%lu epoch=%lums kcov=%s huge_revoke=%d\n",
           (unsigned long)cfg.seed, cfg.ncpu, (unsigned long)cfg.time_s,
           (unsigned long)cfg.calls_max, (unsigned long)cfg.epoch_ms, cfg.kcov ? "on" : "off",
           cfg.huge_revoke);
    phase = PH_PARK;
    bool ok = setup(r);
    tap_check(ok, "fuzz: the PD/EC tree is set up on %u cores", cfg.ncpu);
    if (!ok)
        return utest_done("fuzz");
    uint64_t t_start = now_ticks(), t_end = t_start + cfg.time_s * hz;
    /* The base state: the workers park at once (phase PH_PARK) before the first mark. */
    park_all(r);
    revoke_all(r);          /* the base state as every epoch ends it */
    base_caps(r);
    leak_check(r);
    bool hung = false;
    for (epoch = 0;; epoch++) {
        bool create_epoch = epoch % 2 == 1;
        creates_allowed = create_epoch;
        if (create_epoch && probe_rounds < PROBE_ROUNDS) {
            probe_rounds++;
            probers_start(r);
        }
        fuzz_creates = 0;
        bool dt = create_epoch && dt_build(r);
        phase = PH_RUN;
        uint64_t t_epoch = now_ticks() + cfg.epoch_ms * hz / 1000;
        uint64_t t_half = now_ticks() + cfg.epoch_ms * hz / 2000;
        while (now_ticks() < t_epoch) {
            for (unsigned i = 0; i < 32; i++)
                fuzz_one(r);
            if (dt && now_ticks() >= t_half) {
                dt_destroy(r);
                dt = false;
            }
        }
        if (dt)
            dt_destroy(r);
        if (!park_all(r)) {
            hung = true;
            break;
        }
        uint64_t t1 = now_ticks();
        for (unsigned i = 0; i < SOLO_CALLS; i++)
            solo_step(r);
        uint64_t t2 = now_ticks();
        if (epoch % 4 == 0)
            exhaust(r);
        uint64_t t3 = now_ticks();
        probers_check(r);
        revoke_all(r);
        if (create_epoch)
            destroy_sweep(r);
        uint64_t t4 = now_ticks();
        base_caps(r);
        leak_check(r);
        ac_check(r);
        if (epoch < 2)
            printf("fuzz: epoch %lu ticks: park+solo %lu exhaust %lu probe+revoke %lu (hz %lu)\n",
                   (unsigned long)epoch, (unsigned long)(t2 - t1), (unsigned long)(t3 - t2),
                   (unsigned long)(t4 - t3), (unsigned long)hz);
        uint64_t n = total_calls();
        if (epoch % 4 == 0 || now_ticks() >= t_end)
            printf("fuzz: epoch %lu: %lu calls, %d findings, kcov %lu edges, corpus %u\n",
                   (unsigned long)epoch, (unsigned long)n, findings, (unsigned long)kcov_last,
                   corpus_n);
        if (now_ticks() >= t_end || (cfg.calls_max && n >= cfg.calls_max))
            break;
    }
    phase = PH_STOP;
    uint64_t t_stop = now_ticks();
    if (!hung)
        for (unsigned w = 0; w < cfg.ncpu; w++) {
            struct ec_info ei;
            ec_wait(worker_ec[w], &ei);
        }
    uint64_t n = total_calls(), secs100 = (t_stop - t_start) * 100 / hz;
    printf(
        "fuzz: summary seed=%lu cores=%u calls=%lu seconds=%lu.%02lu calls_per_s=%lu findings=%d "
        "atomic_checks=%lu stale_checks=%lu leak_checks=%lu exhaustions=%lu (max %lu mappings) "
        "creates=%lu base_repairs=%lu\n",
        (unsigned long)cfg.seed, cfg.ncpu, (unsigned long)n, (unsigned long)(secs100 / 100),
        (unsigned long)(secs100 % 100), (unsigned long)(secs100 ? n * 100 / secs100 : 0), findings,
        (unsigned long)atomic_checks, (unsigned long)stale_checks, (unsigned long)leak_checks,
        (unsigned long)exh_rounds, (unsigned long)exh_max_fill, (unsigned long)creates_ok,
        (unsigned long)base_repairs);
    if (cfg.kcov) {
        static uint8_t bits[sizeof(struct kcov_info) + 65536 / 8];
        struct kcov_info *h = (struct kcov_info *)bits;
        if (sys_call6(SYS_KCOV, (mword)bits, sizeof(bits), 0, 0, 0, 0, NULL) == E_OK) {
            printf("fuzz: kcov edges=%lu hit=%lu corpus=%u added=%lu\n", (unsigned long)h->edges,
                   (unsigned long)h->hit, corpus_n, (unsigned long)corpus_added);
            for (mword b = 0; b < (h->edges + 7) / 8; b += 64) {
                char line[2 * 64 + 1];
                mword e = MIN(b + 64, (h->edges + 7) / 8);
                for (mword i = b; i < e; i++)
                    snprintf(line + 2 * (i - b), 3, "%02x", bits[sizeof(*h) + i]);
                printf("fuzz: kcov-bits %lu %s\n", (unsigned long)b, line);
            }
        }
    }
    tap_check(!hung, "fuzz: every worker parked when asked (no hang)");
    tap_check(findings == 0, "fuzz: %lu calls on %u cores, seed %lu: no finding", (unsigned long)n,
              cfg.ncpu, (unsigned long)cfg.seed);
    tap_check(findings == 0 && n > 0,
              "fuzz: random GPRs, RFLAGS, selectors, x87/SSE/AVX (%s) in every call: kept as "
              "the ABI says, no other EC's value",
              xinfo.xsave ? "XSAVE" : "FXSAVE");
    tap_check(atomic_checks > 0, "fuzz: all or nothing held on %lu failed calls",
              (unsigned long)atomic_checks);
    tap_check(stale_checks > 0 || epoch < 1,
              "fuzz: revoked memory unreadable on every core (%lu probes)",
              (unsigned long)stale_checks);
    tap_check(trap_checks > 0 || epoch < 1,
              "fuzz: TF over a call stops the EC with #DB, an invalid selector with #GP "
              "(%lu probes, "
              "%lu #DB one instruction early)",
              (unsigned long)trap_checks, (unsigned long)trap_early);
    tap_check(leak_checks > 0 || epoch < 2, "fuzz: kernel memory back at its baseline (%lu checks)",
              (unsigned long)leak_checks);
    tap_check(dt_rounds > 0 || epoch < 2,
              "fuzz: PD trees destroyed with their ECs running (%lu, %lu not built: E_NOMEM), "
              "%lu destruction sweeps",
              (unsigned long)dt_rounds, (unsigned long)dt_skipped, (unsigned long)sweep_checks);
    return utest_done("fuzz");
}
