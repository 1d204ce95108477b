/*
 * What docs/abi.md says a delegation does to TLBs and occupied
 * destinations. Filling the last hole of a 2 MiB-aligned range whose frames are contiguous
 * and aligned collapses the page table into one 2 MiB leaf: the table is detached and
 * freed only after a shootdown (tables_freed grows), so a delegation may flush. A
 * destination page already held -- even from the very same source page, with more
 * rights asked -- is refused with E_BUSY and stays as it was. Run as the root task; TAP.
 */
#include "utest.h"

#define SIZE_2M     (2UL << 20)
#define PAGES_2M    (SIZE_2M / PAGE_SIZE_USER)
#define VA          0x40000000000UL     /* child: 4 TiB, 2 MiB aligned */

/* This core's counters (the delegations run on core 0). */
static struct core_counters counters(void)
{
    struct core_counters cc = { 0 };
    sys_counters(0, &cc);
    return cc;
}

int main(mword arg)
{
    mword child;
    struct lookup_info li;
    if (!utest_init(arg))
        return utest_done("deleg_collapse");
    mword w = mem_take(PAGES_2M, SIZE_2M);
    tap_check(w != 0, "a 2 MiB-aligned 2 MiB range in the window");
    CHECK_ST(child_pd(&child), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, child, SPACE_MEM, w, VA, PAGES_2M - 1, MEM_R), E_OK);
    tap_check(sys_lookup(child, SPACE_MEM, VA, &li) == E_OK && li.size == PAGE_SIZE_USER,
              "all but the last page: 4 KiB mappings in one page table");
    struct core_counters c0 = counters();
    CHECK_ST(sys_delegate(SEL_ROOT_PD, child, SPACE_MEM, w + SIZE_2M - PAGE_SIZE_USER,
                          VA + SIZE_2M - PAGE_SIZE_USER, 1, MEM_R), E_OK);
    struct core_counters c1 = counters();
    tap_check(sys_lookup(child, SPACE_MEM, VA, &li) == E_OK && li.size == SIZE_2M &&
                  li.phys == mem_phys(w),
              "the last page collapses the range into one 2 MiB mapping (size 0x%lx)", li.size);
    tap_check(c1.tables_freed == c0.tables_freed + 1,
              "the replaced page table is freed after a shootdown: "
              "a delegation may flush (%lu tables freed)",
              (unsigned long)(c1.tables_freed - c0.tables_freed));
    /* The same source page again, with more rights: refused, the mapping unchanged. */
    CHECK_ST(sys_delegate(SEL_ROOT_PD, child, SPACE_MEM, w, VA, 1, MEM_R | MEM_W), E_BUSY);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, child, SPACE_MEM, w, VA, 1, MEM_R), E_BUSY);
    tap_check(sys_lookup(child, SPACE_MEM, VA, &li) == E_OK && li.size == SIZE_2M &&
                  li.rights == MEM_R,
              "the refused delegations left the 2 MiB read-only mapping as it was");
    return utest_done("deleg_collapse");
}
