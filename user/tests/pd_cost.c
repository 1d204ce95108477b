/*
 * Cost of destruction: TSC cycles of the call that destroys a PD holding N pages (in one
 * mapping node, or one node per page) and M ECs that have run and wait on a run queue, all on
 * the root's core, so that under `-icount shift=0` the figure ("# pd_cost: ...") is the
 * instructions of that one call (other cores stay idle). Checked: each call succeeds, the PD
 * and its ECs are gone, and the kernel's books are back where they stood. Root task; TAP.
 */
#include "utest.h"

#define MAX_PAGES   4096u
#define MAX_ECS     16u
#define REPS        3u                  /* the median of three destructions per case */
#define DATA_VA     0x100000000UL       /* the child's pages */

static volatile uint64_t beats[MAX_ECS] aligned(64);   /* shared with the child's ECs */
static mword window;                                    /* 2 * MAX_PAGES pages of the root */

/* EC of the child: beat, yield, forever. */
static void yielder(mword arg)
{
    for (;;) {
        beats[arg]++;
        sys_yield_pause();
    }
}

/* free + heap + PD frames: every frame the kernel hands out (zero if the call fails). */
static uint64_t books(void)
{
    struct core_counters cc;
    return sys_counters(0, &cc) == E_OK ? cc.pool_free + cc.heap_pages + cc.pd_frames : 0;
}

/* Give pd `pages` pages at DATA_VA: one call (one node), or every other page of the window
   one call each (one node each); the number of failed calls. */
static unsigned give_pages(mword pd, unsigned pages, bool fragmented)
{
    if (!fragmented)
        return pages && sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, window, DATA_VA, pages,
                                     MEM_R | MEM_W) != E_OK;
    unsigned bad = 0;
    for (unsigned i = 0; i < pages; i++)
        bad += sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, window + 2 * i * PAGE_SIZE_USER,
                            DATA_VA + i * PAGE_SIZE_USER, 1, MEM_R | MEM_W) != E_OK;
    return bad;
}

/* Build a PD with pages and ecs, destroy it; the destroying call's cycles, 0 on a failure. */
static uint64_t destroy_once(unsigned pages, bool fragmented, unsigned ecs)
{
    uint64_t b0 = books();
    mword pd, ec[MAX_ECS];
    unsigned bad = child_pd(&pd) != E_OK;
    bad += !bad ? give_pages(pd, pages, fragmented) : 0;
    for (unsigned i = 0; !bad && i < ecs; i++) {
        beats[i] = 0;
        bad += child_ec(pd, 0, yielder, i, &ec[i]) != E_OK;
    }
    for (unsigned i = 0; !bad && i < ecs; i++)
        while (beats[i] == 0)
            sys_yield_pause();          /* each EC has run and waits on core 0's queue */
    uint64_t c = utest_rdtsc();
    bad += sys_revoke(SEL_ROOT_PD, SPACE_OBJ, pd, 1, OBJ_R_ALL, REVOKE_SELF) != E_OK;
    c = utest_rdtsc() - c;
    struct lookup_info li;
    bad += sys_lookup(SEL_ROOT_PD, SPACE_OBJ, pd, &li) != E_NOENT;
    for (unsigned i = 0; i < ecs; i++)
        bad += sys_lookup(SEL_ROOT_PD, SPACE_OBJ, ec[i], &li) != E_NOENT;
    bad += books() != b0;
    return bad ? 0 : c;
}

/* Measure one case: REPS destructions, their median printed; false if one failed. */
static bool measure(unsigned pages, bool fragmented, unsigned ecs)
{
    uint64_t c[REPS];
    for (unsigned r = 0; r < REPS; r++)
        if ((c[r] = destroy_once(pages, fragmented, ecs)) == 0)
            return false;
    for (unsigned i = 1; i < REPS; i++)         /* insertion sort: REPS is small */
        for (unsigned j = i; j > 0 && c[j - 1] > c[j]; j--) {
            uint64_t t = c[j];
            c[j] = c[j - 1];
            c[j - 1] = t;
        }
    printf("# pd_cost: %u pages in %u node(s), %u ECs: %lu cycles (median of %u)\n", pages,
           fragmented ? pages : pages != 0, ecs, (unsigned long)c[REPS / 2], REPS);
    return true;
}

int main(mword arg)
{
    static const unsigned pages[] = { 0, 512, 4096 }, ecs[] = { 1, 16 };
    if (!utest_init(arg))
        return utest_done("pd_cost");
    window = mem_alloc(2 * MAX_PAGES);
    tap_check(window != 0, "%u pages for the children", 2 * MAX_PAGES);
    unsigned ok = 0, cases = 0;
    for (unsigned e = 0; window && e < sizeof(ecs) / sizeof(ecs[0]); e++)
        for (unsigned p = 0; p < sizeof(pages) / sizeof(pages[0]); p++)
            for (unsigned f = 0; f < (pages[p] ? 2u : 1u); f++, cases++)
                ok += measure(pages[p], f, ecs[e]);
    tap_check(window && ok == cases, "%u of %u cases: each PD and its ECs destroyed, the books "
              "exact", ok, cases);
    return utest_done("pd_cost");
}
