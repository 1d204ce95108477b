/*
 * Host benchmark of the page-table engine (kernel/ptab.c, -O2, no sanitizers):
 * map then unmap 1 GiB as 4K pages and as 2M pages (one update for the range,
 * and one update per page), lookups at random addresses, each next to a plain
 * memset over the same number of entry bytes (the physical limit).
 * Prints a table; writes bench/results/ptab-host.txt and .csv (median of REPS runs).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include "abi.h"
#include "panic.h"
#include "ptab.h"
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#else
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(what) ((void)(what))
#endif

#define REPS    7
#define FRAMES  (1 << 15)               /* 128 MiB of fake table frames */
#define PG      PTAB_PAGE_SIZE
#define VA      GiB(3)
#define PA      GiB(64)
#define LOOKUPS (1 << 20)

/* Kernel invariant failures end the benchmark. */
void panic(const char *fmt, ...)
{
    fprintf(stderr, "PANIC: %s\n", fmt);
    abort();
}

static uint8_t *arena;
static bool instr;                      /* --instr: one run per case, costs dumped to callgrind */
static char mark_name[96];

/* Runs per case: REPS, or one under --instr (callgrind counts are exact). */
static int reps(void)
{
    return instr ? 1 : REPS;
}

/* --instr: start counting a phase. */
static void mark_start(void)
{
    if (instr)
        CALLGRIND_ZERO_STATS;
}

/* --instr: dump the phase's count as "<op> <what> <entries>" (bench/ptab_instr.py reads it). */
static void mark_end(const char *op, const char *what, size_t entries)
{
    if (!instr)
        return;
    snprintf(mark_name, sizeof(mark_name), "%s|%s|%zu", op, what, entries);
    CALLGRIND_DUMP_STATS_AT(mark_name);
}
static paddr_t free_list[FRAMES];
static size_t nfree;

/* p2v: the arena is "physical memory" starting at physical address 4K. */
static void *b_p2v(void *ctx, paddr_t pa, unsigned slot)
{
    (void)ctx, (void)slot;
    return arena + pa - PG;
}
/* alloc: a zeroed frame from the free stack. */
static paddr_t b_alloc(void *ctx)
{
    (void)ctx;
    if (!nfree)
        return 0;
    paddr_t pa = free_list[--nfree];
    memset(b_p2v(NULL, pa, 0), 0, PG);
    return pa;
}
/* free: back onto the stack. */
static void b_free(void *ctx, paddr_t pa) { (void)ctx; free_list[nfree++] = pa; }

static const struct ptab_env env = { .p2v = b_p2v, .alloc = b_alloc, .free = b_free };

/* Monotonic time in ns. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

/* Median of n values (sorts them). */
static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double x = v[j]; v[j] = v[j - 1]; v[j - 1] = x;
        }
    return v[n / 2];
}

struct row { const char *name; double ns_per_entry, memset_ns_per_entry; size_t entries; };

/* Map then unmap 1 GiB with leaves of size page (one call, or one call per page); times in ns/entry. */
static void map_unmap(const char *what, uint64_t page, bool per_page, double *map_ns,
                      double *unmap_ns)
{
    double m[REPS], u[REPS];
    struct ptab_attr rw = { PTAB_R | PTAB_W, PTAB_WB }, none = { 0, PTAB_WB };
    size_t n = GiB(1) / page;
    for (int r = 0; r < reps(); r++) {
        struct ptab t; struct ptab_dfree df; struct ptab_result res;
        ptab_dfree_init(&df);
        if (ptab_init(&t, &ptab_hpt, &env, 4, 0) != E_OK)
            panic("no memory");
        t.leaf_mask = page == PG ? BIT(0) : BIT(0) | BIT(1);
        mark_start();
        double t0 = now();
        for (size_t i = 0; i < (per_page ? n : 1); i++)
            if (ptab_update(&t, VA + i * page, per_page ? page : GiB(1), PA + i * page, rw, &df, &res) != E_OK)
                panic("map failed");
        double t1 = now();
        mark_end("map", what, n);
        mark_start();
        double t2 = now();
        for (size_t i = 0; i < (per_page ? n : 1); i++)
            if (ptab_update(&t, VA + i * page, per_page ? page : GiB(1), 0, none, &df, &res) != E_OK)
                panic("unmap failed");
        double t3 = now();
        mark_end("unmap", what, n);
        m[r] = (t1 - t0) / n;
        u[r] = (t3 - t2) / n;
        ptab_dfree_release(&df, &env);
        ptab_release(&t);
    }
    *map_ns = median(m, reps());
    *unmap_ns = median(u, reps());
}

/* memset over n entries of 8 bytes; ns per entry (median). */
static double memset_ns(size_t n)
{
    double v[REPS];
    size_t reps = n < 4096 ? 4096 / n * 64 : 1;   /* small sizes: repeat to measure anything */
    uint64_t *buf = aligned_alloc(PG, ALIGN_UP(n * 8, PG));
    for (int r = 0; r < REPS; r++) {
        memset(buf, 0, n * 8);                     /* fault the pages in first */
        double t0 = now();
        for (size_t k = 0; k < reps; k++) {
            memset(buf, (int)(k + r + 1), n * 8);
            __asm__ __volatile__("" ::"r"(buf) : "memory");
        }
        v[r] = (now() - t0) / (double)(n * reps);
    }
    free(buf);
    return median(v, REPS);
}

/* Lookups at random addresses in 1 GiB mapped with leaves of size page; ns per lookup. */
static double lookup_ns(const char *what, uint64_t page)
{
    double v[REPS];
    struct ptab t; struct ptab_dfree df; struct ptab_result res; struct ptab_map m;
    ptab_dfree_init(&df);
    if (ptab_init(&t, &ptab_hpt, &env, 4, 0) != E_OK)
        panic("no memory");
    t.leaf_mask = page == PG ? BIT(0) : BIT(0) | BIT(1);
    if (ptab_update(&t, VA, GiB(1), PA, (struct ptab_attr){ PTAB_R, PTAB_WB }, &df, &res) != E_OK)
        panic("map failed");
    uint64_t s = 88172645463325252ULL, sum = 0;
    for (int r = 0; r < reps(); r++) {
        mark_start();
        double t0 = now();
        for (int i = 0; i < LOOKUPS; i++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            sum += ptab_lookup(&t, VA + (s & (GiB(1) - 1)), &m) ? m.pa : 1;
        }
        v[r] = (now() - t0) / LOOKUPS;
        mark_end("lookup", what, LOOKUPS);
    }
    if (sum == 42)
        puts("");
    ptab_release(&t);
    return median(v, reps());
}

/* ptab_bench [out prefix] writes the timed results; ptab_bench --instr only runs each case once
   for callgrind (bench/ptab_instr.py). */
int main(int argc, char **argv)
{
    instr = argc > 1 && strcmp(argv[1], "--instr") == 0;
    const char *out = argc > 1 && !instr ? argv[1] : "bench/results/ptab-host";
    arena = mmap(NULL, (size_t)FRAMES * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (arena == MAP_FAILED)
        panic("mmap");
    for (size_t i = FRAMES; i-- > 0;)
        free_list[nfree++] = (i + 1) * PG;
    memset(arena, 0, (size_t)FRAMES * PG);

    struct { const char *name; uint64_t page; bool per_page; } cases[] = {
        { "4K leaves: one update for 1 GiB", PG, false },
        { "4K leaves: one update per page", PG, true },
        { "2M leaves: one update for 1 GiB", MiB(2), false },
        { "2M leaves: one update per page", MiB(2), true },
    };
    if (instr) {                        /* callgrind: the cases once, no files */
        double mp, um;
        for (size_t c = 0; c < ARRAY_SIZE(cases); c++)
            map_unmap(cases[c].name, cases[c].page, cases[c].per_page, &mp, &um);
        lookup_ns("random lookups: 4K leaves", PG);
        lookup_ns("random lookups: 2M leaves", MiB(2));
        return 0;
    }
    double ms4k = memset_ns(GiB(1) / PG), ms2m = memset_ns(GiB(1) / MiB(2));
    char path[512];
    snprintf(path, sizeof(path), "%s.csv", out);
    FILE *csv = fopen(path, "w");
    snprintf(path, sizeof(path), "%s.txt", out);
    FILE *txt = fopen(path, "w");
    if (!csv || !txt)
        panic("cannot write results");
    fprintf(csv, "case,op,entries,ns_per_entry,memset_ns_per_entry\n");
    FILE *fs[2] = { stdout, txt };
    for (int f = 0; f < 2; f++)
        fprintf(fs[f], "ptab host benchmark: Hpt, 4 levels, -O2, median of %d runs\n"
                       "%-34s %-7s %8s %12s %16s\n", REPS, "case", "op", "entries", "ns/entry", "memset ns/entry");
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        double mp, um, ms = cases[c].page == PG ? ms4k : ms2m;
        size_t n = GiB(1) / cases[c].page;
        map_unmap(cases[c].name, cases[c].page, cases[c].per_page, &mp, &um);
        for (int f = 0; f < 2; f++) {
            fprintf(fs[f], "%-34s %-7s %8zu %12.2f %16.3f\n", cases[c].name, "map", n, mp, ms);
            fprintf(fs[f], "%-34s %-7s %8zu %12.2f %16.3f\n", cases[c].name, "unmap", n, um, ms);
        }
        fprintf(csv, "%s,map,%zu,%.3f,%.4f\n%s,unmap,%zu,%.3f,%.4f\n", cases[c].name, n, mp, ms,
                cases[c].name, n, um, ms);
    }
    double l4 = lookup_ns("random lookups: 4K leaves", PG);
    double l2 = lookup_ns("random lookups: 2M leaves", MiB(2));
    for (int f = 0; f < 2; f++) {
        fprintf(fs[f], "%-34s %-7s %8d %12.2f %16s\n", "random lookups: 4K leaves", "lookup", LOOKUPS, l4, "-");
        fprintf(fs[f], "%-34s %-7s %8d %12.2f %16s\n", "random lookups: 2M leaves", "lookup", LOOKUPS, l2, "-");
    }
    fprintf(csv, "random lookups 4K leaves,lookup,%d,%.3f,\nrandom lookups 2M leaves,lookup,%d,%.3f,\n",
            LOOKUPS, l4, LOOKUPS, l2);
    fclose(csv);
    fclose(txt);
    return 0;
}
