/*
 * The kernel's frame books are exact. Every pool frame it hands out is free, in the object
 * heap, or held by a PD (core_counters.pool_free + heap_pages + pd_frames is the same before
 * and after every call), and pd_info says exactly which PD holds how many of what: a fresh
 * PD holds its object and one master root; the first page of a 512 GiB region costs a
 * PDPT, a page directory and a page table, the PDPT stays when the page is revoked (the
 * master's top-level entries are shared by the per-core roots), the others go; a 2 MiB leaf
 * needs no page table until a revoke of one page splits it; an EC on a new core adds a
 * per-core root. pd_info costs the same for a PD with thousands of tables as for an empty
 * one (a counter, not a walk of the tables under the kernel lock). The lab build PTSYNC=shared
 * has one root per PD, the master's, which every core loads: it holds one more table from the
 * start (the PDPT of its kernel half, kept), and an EC on a new core adds no root.
 * Root task; TAP output.
 */
#include "utest.h"

#ifdef PTSYNC_shared
#define ROOT_EXTRA  1                       /* master tables beyond the root a fresh PD holds */
#define CORE_ROOTS  0                       /* per-core roots the first EC on a core adds */
#else
#define ROOT_EXTRA  0
#define CORE_ROOTS  1
#endif

#define VA_1T       (1UL << 40)             /* a fresh 512 GiB region */
#define VA_2T       (2UL << 40)             /* another: the 2 MiB leaf */
#define VA_3T       (3UL << 40)             /* the many-tables PD's pages, one per GiB */
#define MANY        1024u                   /* pages (and page directories) of that PD */
#define SAMPLES     32u                     /* pd_info timings; the minimum counts */
#define SLOWER_MAX  8u                      /* bound of the many-tables / empty pd_info ratio */
#define NO_CODE_VA  0x200000UL              /* an entry the child has no memory at: it faults */

/* The kernel's three books: free, heap and PD-held frames. */
static uint64_t books(void)
{
    struct core_counters cc;
    if (sys_counters(0, &cc) != E_OK)
        return 0;
    return cc.pool_free + cc.heap_pages + cc.pd_frames;
}

/* pd_info of pd (zeroed if the call fails). */
static struct pd_info info(mword pd)
{
    struct pd_info pi;
    memset(&pi, 0, sizeof(pi));
    sys_pd_info(pd, &pi);
    return pi;
}

/* pd's frames are the sum of its parts, hpt holds want_hpt tables of which want_kept at the kept
   levels, pd has want_roots per-core roots; the books still balance. */
static void expect(mword pd, uint64_t total, uint64_t want_hpt, uint64_t want_kept,
                   uint64_t want_roots, const char *what)
{
    struct pd_info pi = info(pd);
    want_hpt += ROOT_EXTRA;
    want_kept += ROOT_EXTRA;
    uint64_t parts = PD_OBJ_FRAMES + pi.hpt_tables + pi.loc_roots * PD_LOC_ROOT_FRAMES +
                     pi.obj_pages + pi.pio_pages + pi.kpd_tables;
    tap_check(pi.hpt_tables == want_hpt && pi.hpt_kept == want_kept && pi.loc_roots == want_roots,
              "%s: %lu master tables, %lu of them kept, %lu per-core roots (want %lu, %lu, %lu)",
              what, (unsigned long)pi.hpt_tables, (unsigned long)pi.hpt_kept,
              (unsigned long)pi.loc_roots, (unsigned long)want_hpt, (unsigned long)want_kept,
              (unsigned long)want_roots);
    tap_check(pi.frames == parts, "%s: pd_info.frames %lu is the sum of its parts %lu", what,
              (unsigned long)pi.frames, (unsigned long)parts);
    uint64_t now = books();
    tap_check(now == total, "%s: free + heap + PD-held frames unchanged (%lu -> %lu)", what,
              (unsigned long)total, (unsigned long)now);
}

/* Cheapest of SAMPLES pd_info calls on pd, in TSC cycles. */
static uint64_t pd_info_cycles(mword pd)
{
    struct pd_info pi;
    uint64_t best = ~0UL;
    for (unsigned i = 0; i < SAMPLES; i++) {
        uint64_t t0 = utest_rdtsc();
        sys_pd_info(pd, &pi);
        best = MIN(best, utest_rdtsc() - t0);
    }
    return best;
}

/* Tables as pages come and go: 4 KiB pages, a 2 MiB leaf split by a revoke, a per-core root. */
static void test_tables_are_counted_exactly(void)
{
    uint64_t total = books();
    struct core_counters c0, c1;
    sys_counters(0, &c0);
    mword pd = sel_alloc(), ec = sel_alloc();
    CHECK_ST(sys_create_pd(pd, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    sys_counters(0, &c1);
    tap_check(
        c1.pd_frames - c0.pd_frames == info(pd).frames &&
            info(pd).frames == PD_OBJ_FRAMES + 1 + ROOT_EXTRA,
        "a new PD holds its object and its master root (%lu frames), all counted in pd_frames",
        (unsigned long)info(pd).frames);
    expect(pd, total, 1, 1, 0, "a fresh PD");

    mword w = mem_alloc(2);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, w, VA_1T, 1, MEM_R), E_OK);
    expect(pd, total, 4, 2, 0, "one page in a fresh 512 GiB region");
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, w + PAGE_SIZE_USER, VA_1T + GiB(1), 1, MEM_R),
             E_OK);
    expect(pd, total, 6, 2, 0, "a second page one GiB on");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, w, 2, MEM_R, 0), E_OK);
    expect(pd, total, 2, 2, 0, "both revoked: the region's PDPT stays");

    mword big = mem_take(512, MiB(2));
    tap_check(big != 0, "2 MiB of the root's memory, 2 MiB aligned");
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, big, VA_2T, 512, MEM_R | MEM_W), E_OK);
    expect(pd, total, 4, 3, 0, "a 2 MiB leaf in another region: PDPT and page directory");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, big + 7 * PAGE_SIZE_USER, 1, MEM_W, 0), E_OK);
    expect(pd, total, 5, 3, 0, "one page of the leaf made read-only: split into a page table");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, big, 512, MEM_R, 0), E_OK);
    expect(pd, total, 3, 3, 0, "the leaf revoked: two PDPTs stay");

    CHECK_ST(sys_create_ec(ec, pd, 0, NO_CODE_VA, ec_stack_ptr((void *)NO_CODE_VA), 0), E_OK);
    struct ec_info ei;
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    expect(pd, total, 3, 3, CORE_ROOTS, "an EC on core 0 (it faults at once): its per-core root");
}

/* A PD with MANY page directories and page tables: pd_info is as cheap as for an empty PD. */
static void test_pd_info_is_constant_time(void)
{
    uint64_t total = books();
    mword small = sel_alloc(), many = sel_alloc();
    CHECK_ST(sys_create_pd(small, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    CHECK_ST(sys_create_pd(many, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    mword w = mem_alloc(1);
    bool ok = w != 0;
    for (unsigned i = 0; ok && i < MANY; i++)
        ok = sys_delegate(SEL_ROOT_PD, many, SPACE_MEM, w, VA_3T + i * GiB(1), 1, MEM_R) == E_OK;
    tap_check(ok, "one page delegated at %u different GiB of a PD", MANY);
    expect(many, total, 1 + MANY / 512 + 2 * MANY, 1 + MANY / 512, 0,
           "a PD with a page in each of 1024 GiB");
    uint64_t t_small = pd_info_cycles(small), t_many = pd_info_cycles(many);
    tap_check(t_many < SLOWER_MAX * t_small,
              "pd_info of a PD with %u tables takes %lu cycles, of an empty PD %lu (bound: %ux)",
              1 + MANY / 512 + 2 * MANY, (unsigned long)t_many, (unsigned long)t_small, SLOWER_MAX);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, w, 1, MEM_R, 0), E_OK);
    expect(many, total, 1 + MANY / 512, 1 + MANY / 512, 0, "all revoked: the PDPTs stay");
}

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("pd_account");
    test_tables_are_counted_exactly();
    test_pd_info_is_constant_time();
    return utest_done("pd_account");
}
