/*
 * A delegate call does bounded work: at most 16 source pieces and
 * about 1024 page-table leaf entries per call, reporting the items it delegated in rdx;
 * sys_delegate continues until the whole range is done. Checked with raw calls: a
 * fragmented source (one node per page), a range whose virtual and physical offsets
 * differ modulo 2 MiB (4 KiB leaves only), and a 2 MiB-congruent one (large leaves: one
 * call). Run as the root task; TAP output.
 */
#include "utest.h"

#define PIECES      16u                 /* source pieces per call (docs/abi.md) */
#define ENTRIES     1024u               /* leaf entries per memory call, at most */
#define FRAG        64u                 /* pages of the fragmented source */
#define BIG         4096u               /* pages of the large ranges (16 MiB) */
#define SIZE_2M     (2UL << 20)
#define VA_A        0x40000000000UL
#define VA_B        0x48000000000UL
#define VA_C        0x50000000000UL
#define VA_D        0x58000000000UL

/* One kernel call; *done gets the items it delegated (rdx). */
static int deleg_raw(mword src, mword dst, mword sb, mword db, mword n, unsigned rights,
                     mword *done)
{
    *done = 0;
    return (int)sys_call6(SYS_DELEGATE, src, dst, XFER(SPACE_MEM, rights), sb, db, n, done);
}

/* Whether pd maps pages [va, +n) at frames phys.. (first, middle and last page). */
static bool maps(mword pd, mword va, mword phys, mword n)
{
    mword at[3] = { 0, n / 2, n - 1 };
    for (unsigned i = 0; i < 3; i++) {
        struct lookup_info li;
        mword v = va + at[i] * PAGE_SIZE_USER;
        if (sys_lookup(pd, SPACE_MEM, v, &li) != E_OK ||
            li.phys + (v - li.base) != phys + at[i] * PAGE_SIZE_USER)
            return false;
    }
    return true;
}

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("deleg_bound");
    mword a, b, c, done;
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    CHECK_ST(child_pd(&c), E_OK);

    /* Fragmented: A gets FRAG pages one at a time, the last frame first (one node each). */
    mword w = mem_alloc(FRAG);
    bool ok = w != 0;
    for (mword i = 0; ok && i < FRAG; i++)
        ok = sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, w + (FRAG - 1 - i) * PAGE_SIZE_USER,
                          VA_A + i * PAGE_SIZE_USER, 1, MEM_R | MEM_W) == E_OK;
    tap_check(ok, "A holds %u pages in reverse physical order (one node each)", FRAG);
    CHECK_ST(deleg_raw(a, b, VA_A, VA_B, FRAG, MEM_R, &done), E_OK);
    tap_check(done == PIECES, "one call over %u one-page pieces delegates %u of them (rdx %lu)",
              FRAG, PIECES, done);
    struct lookup_info li;
    tap_check(sys_lookup(b, SPACE_MEM, VA_B + (PIECES - 1) * PAGE_SIZE_USER, &li) == E_OK &&
              sys_lookup(b, SPACE_MEM, VA_B + PIECES * PAGE_SIZE_USER, &li) == E_NOENT,
              "B holds exactly the pages that call reported");
    CHECK_ST(sys_delegate(a, b, SPACE_MEM, VA_A + PIECES * PAGE_SIZE_USER,
                          VA_B + PIECES * PAGE_SIZE_USER, FRAG - PIECES, MEM_R),
             E_OK);
    ok = true;
    for (mword i = 0; ok && i < FRAG; i++)
        ok = maps(b, VA_B + i * PAGE_SIZE_USER, mem_phys(w + (FRAG - 1 - i) * PAGE_SIZE_USER), 1);
    tap_check(ok, "sys_delegate continues: B maps all %u pages to A's frames", FRAG);

    /* 4 KiB leaves only: the destination is one page off the frames' 2 MiB alignment. */
    mword big = mem_take(BIG, SIZE_2M), phys = mem_phys(big);
    tap_check(big != 0, "%u pages, 2 MiB aligned, in the window", BIG);
    mword va = VA_C + PAGE_SIZE_USER;
    CHECK_ST(deleg_raw(SEL_ROOT_PD, c, big, va, BIG, MEM_R, &done), E_OK);
    tap_check(done > 0 && done <= ENTRIES,
              "a 4 KiB-leaf range of %u pages: one call maps %lu (at most %u)", BIG, done, ENTRIES);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, c, SPACE_MEM, big + done * PAGE_SIZE_USER,
                          va + done * PAGE_SIZE_USER, BIG - done, MEM_R),
             E_OK);
    tap_check(maps(c, va, phys, BIG), "sys_delegate continues: C maps all %u pages", BIG);

    /* 2 MiB-congruent: large leaves, so one call covers the whole range. */
    CHECK_ST(deleg_raw(SEL_ROOT_PD, c, big, VA_D, BIG, MEM_R, &done), E_OK);
    tap_check(done == BIG, "a 2 MiB-congruent range of %u pages is one call (rdx %lu)", BIG, done);
    li.size = 0;
    int st = sys_lookup(c, SPACE_MEM, VA_D, &li);
    tap_check(st == E_OK && li.size == SIZE_2M && maps(c, VA_D, phys, BIG),
              "mapped with 2 MiB leaves (size %lx)", li.size);
    return utest_done("deleg_bound");
}
