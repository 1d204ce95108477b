/*
 * Cost of the page-table paths: TSC cycles per delegation that needs a new page table in a
 * child, per revocation that takes that table down again (detach, shootdown, free), and per
 * page fault that syncs a new top-level entry into the root's own per-core root. Under
 * `-icount shift=0` the TSC counts instructions, so the figures ("# pt_cost: ...") compare
 * kernels and boot words: with "tables-far" every table is reached through the temporal
 * window. Checked: every call succeeds, the child's tables come and go, each page reads back.
 * Run as the root task; TAP output.
 */
#include "utest.h"

#define ROUNDS      64
#define SPREAD      (2UL << 20)         /* one page per 2 MiB: each delegation needs a new PT */
#define CHILD_BASE  (4UL << 39)         /* the child's pages: PML4 slot 4 */
#define SELF_BASE   (8UL << 39)         /* the root's own copies: PML4 slots 8 .. 8 + ROUNDS */
#define SELF_STEP   (1UL << 39)         /* one top-level entry each: one lazy sync each */

/* Master-table frames pd holds but the kept ones (root, PDPTs), or ~0 if pd_info fails. */
static uint64_t tables(mword pd)
{
    struct pd_info pi;
    return sys_pd_info(pd, &pi) == E_OK ? pi.hpt_tables - pi.hpt_kept : ~0UL;
}

int main(mword arg)
{
    mword pd;
    if (!utest_init(arg))
        return utest_done("pt_cost");
    CHECK_ST(child_pd(&pd), E_OK);
    mword pages = mem_alloc(ROUNDS);
    tap_check(pages != 0, "%u pages from the window", ROUNDS);
    if (tap_failures() != 0)
        return utest_done("pt_cost");
    for (unsigned i = 0; i < ROUNDS; i++)
        *(volatile uint64_t *)(pages + i * PAGE_SIZE_USER) = 0xc057 + i;
    uint64_t t0 = tables(pd), cyc = 0, worst = 0;
    int st = E_OK;
    for (unsigned i = 0; i < ROUNDS && st == E_OK; i++) {
        uint64_t c = utest_rdtsc();
        st = sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, pages + i * PAGE_SIZE_USER,
                          CHILD_BASE + i * SPREAD, 1, MEM_R);
        c = utest_rdtsc() - c;
        cyc += c, worst = c > worst ? c : worst;
    }
    uint64_t t1 = tables(pd);
    tap_check(st == E_OK && t1 >= t0 + ROUNDS, "%u delegations built %lu page tables (status %d)",
              ROUNDS, (unsigned long)(t1 - t0), st);
    printf("# pt_cost: delegate (new PT): %lu cycles per call, worst %lu\n",
           (unsigned long)(cyc / ROUNDS), (unsigned long)worst);
    cyc = worst = 0;
    for (unsigned i = 0; i < ROUNDS && st == E_OK; i++) {
        uint64_t c = utest_rdtsc();
        st = sys_revoke(SEL_ROOT_PD, SPACE_MEM, pages + i * PAGE_SIZE_USER, 1, MEM_RWX, 0);
        c = utest_rdtsc() - c;
        cyc += c, worst = c > worst ? c : worst;
    }
    tap_check(st == E_OK && tables(pd) == t0, "%u revocations took them down again (%lu left)",
              ROUNDS, (unsigned long)(tables(pd) - t0));
    printf("# pt_cost: revoke (PT freed after a shootdown): %lu cycles per call, worst %lu\n",
           (unsigned long)(cyc / ROUNDS), (unsigned long)worst);
    cyc = worst = 0;
    bool same = true;
    for (unsigned i = 0; i < ROUNDS && st == E_OK; i++) {
        mword va = SELF_BASE + i * SELF_STEP;
        st = sys_delegate(SEL_ROOT_PD, SEL_ROOT_PD, SPACE_MEM, pages + i * PAGE_SIZE_USER, va, 1,
                          MEM_R);
        uint64_t c = utest_rdtsc();
        uint64_t v = st == E_OK ? *(volatile uint64_t *)va : 0;
        c = utest_rdtsc() - c;
        same &= v == 0xc057 + i;
        cyc += c, worst = c > worst ? c : worst;
    }
    tap_check(st == E_OK && same, "%u first touches of new top-level entries read their pages",
              ROUNDS);
    printf("# pt_cost: fault (lazy sync of a top-level entry): %lu cycles per touch, worst %lu\n",
           (unsigned long)(cyc / ROUNDS), (unsigned long)worst);
    return utest_done("pt_cost");
}
