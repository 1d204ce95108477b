/*
 * Mapping-database nodes are charged to the PD that holds them (docs/abi.md, create_pd). The
 * root creates two sibling PDs, A and B, with QUOTA frames each, and delegates one of its pages
 * into A again and again, one page further each time: every delegation is a node of its own in
 * A (the same target: nothing merges) and costs A about a 31st of a heap page, and a page table
 * only every 512 pages. The delegations must stop with E_NOMEM within A's quota: A's used stays
 * at most QUOTA, the kernel pool gives up at most QUOTA frames plus SLACK for A (the nodes come
 * from A's heap, not from a shared one), and the failing call changes nothing (pd_info, the
 * books, lookup of its page). Then the root's delegations into B still succeed, each charged to
 * B. Destroying A and B gives back every frame: the pool, the heap and the root's used are where
 * they stood before A was made. Root task; TAP output; runs on 1 and more cores.
 */
#include "utest.h"

#define QUOTA       32u                     /* frames given to each of A and B */
#define TRIES       4096u                   /* the root's delegations into A, at most */
#define SLACK       4u                      /* frames the root's own books may move meanwhile */
#define B_CALLS     64u                     /* the root's delegations into B after A is full */
#define VA_A        (8UL << 40)             /* where A gets its pages, one after another */
#define VA_B        (9UL << 40)             /* where B gets its pages */

/* pd_info of pd (zeroed if the call fails). */
static struct pd_info info(mword pd)
{
    struct pd_info pi;
    memset(&pi, 0, sizeof(pi));
    sys_pd_info(pd, &pi);
    return pi;
}

/* The kernel's counters of core 0 (zeroed if the call fails). */
static struct core_counters counters(void)
{
    struct core_counters cc;
    memset(&cc, 0, sizeof(cc));
    sys_counters(0, &cc);
    return cc;
}

/* The three books: free, heap and PD-held frames. */
static uint64_t books(const struct core_counters *c)
{
    return c->pool_free + c->heap_pages + c->pd_frames;
}

/* The root delegates its page w to A until E_NOMEM (at most TRIES times); returns how many
   delegations succeeded, *last the status of the last one. */
static mword fill(mword a, mword w, int *last)
{
    mword n = 0;
    int st = E_OK;
    while (n < TRIES && (st = sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, w,
                                           VA_A + n * PAGE_SIZE_USER, 1, MEM_R)) == E_OK)
        n++;
    *last = st;
    return n;
}

static void test_nodes_are_charged(void)
{
    mword a = sel_alloc(), b = sel_alloc(), w = mem_alloc(1);
    tap_check(w != 0, "a page of the root's memory");
    struct core_counters c0 = counters();
    struct pd_info r0 = info(SEL_ROOT_PD);
    CHECK_ST(sys_create_pd(a, SEL_ROOT_PD, QUOTA), E_OK);
    CHECK_ST(sys_create_pd(b, SEL_ROOT_PD, QUOTA), E_OK);
    struct core_counters c1 = counters();

    int st;
    mword n = fill(a, w, &st);
    struct core_counters c2 = counters();
    struct pd_info pa = info(a);
    tap_check(st == E_NOMEM && n < TRIES,
              "the root's delegations into A stop with E_NOMEM (status %d after %lu pages)", st,
              (unsigned long)n);
    tap_check(pa.used <= QUOTA && pa.heap_pages > 0 && pa.used == pa.frames + pa.heap_pages,
              "A's used %lu of %u: frames %lu + heap pages %lu (its nodes)",
              (unsigned long)pa.used, QUOTA, (unsigned long)pa.frames,
              (unsigned long)pa.heap_pages);
    tap_check(c1.pool_free - c2.pool_free <= QUOTA + SLACK,
              "the pool gave %lu frames for A's %lu pages (at most its quota %u + %u)",
              (unsigned long)(c1.pool_free - c2.pool_free), (unsigned long)n, QUOTA, SLACK);
    tap_check(books(&c2) == books(&c0), "free + heap + PD-held frames unchanged (%lu -> %lu)",
              (unsigned long)books(&c0), (unsigned long)books(&c2));

    /* The failing call again: nothing changes. */
    struct lookup_info li;
    st = sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, w, VA_A + n * PAGE_SIZE_USER, 1, MEM_R);
    struct core_counters c3 = counters();
    struct pd_info pa1 = info(a);
    tap_check(st == E_NOMEM && memcmp(&pa, &pa1, sizeof(pa)) == 0 &&
                  c3.pool_free == c2.pool_free && c3.heap_pages == c2.heap_pages &&
                  c3.pd_frames == c2.pd_frames,
              "A's next delegation: E_NOMEM (got %d), A's pd_info and the books unchanged", st);
    CHECK_ST(sys_lookup(a, SPACE_MEM, VA_A + n * PAGE_SIZE_USER, &li), E_NOENT);
    CHECK_ST(sys_lookup(a, SPACE_MEM, VA_A + (n - 1) * PAGE_SIZE_USER, &li), E_OK);

    /* B, A's sibling, is not affected. */
    struct pd_info pb0 = info(b);
    mword ok = 0;
    for (mword i = 0; i < B_CALLS; i++)
        ok += sys_delegate(SEL_ROOT_PD, b, SPACE_MEM, w, VA_B + i * PAGE_SIZE_USER, 1, MEM_R) ==
              E_OK;
    struct pd_info pb1 = info(b);
    tap_check(ok == B_CALLS, "the root's %u delegations into B while A is full: %lu succeeded",
              B_CALLS, (unsigned long)ok);
    tap_check(pb1.used > pb0.used && pb1.used <= QUOTA,
              "they are charged to B (used %lu -> %lu of %u)", (unsigned long)pb0.used,
              (unsigned long)pb1.used, QUOTA);

    /* Destruction gives every frame back. */
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, a, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, b, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
    struct core_counters c4 = counters();
    struct pd_info r4 = info(SEL_ROOT_PD);
    tap_check(c4.pool_free == c0.pool_free && c4.heap_pages == c0.heap_pages &&
                  c4.pd_frames == c0.pd_frames && r4.used == r0.used,
              "A and B destroyed: free %lu -> %lu, heap %lu -> %lu, PD-held %lu -> %lu, "
              "root used %lu -> %lu", (unsigned long)c0.pool_free, (unsigned long)c4.pool_free,
              (unsigned long)c0.heap_pages, (unsigned long)c4.heap_pages,
              (unsigned long)c0.pd_frames, (unsigned long)c4.pd_frames,
              (unsigned long)r0.used, (unsigned long)r4.used);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("quota_nodes");
    test_nodes_are_charged();
    return utest_done("quota_nodes");
}
