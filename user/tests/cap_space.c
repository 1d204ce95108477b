/*
 * Object spaces (lecture: Space_obj): a PD's capability table is backed only
 * where a slot was written; every slot never written reads as the null
 * capability (lookup: E_NOENT), also through the shared zero page of the
 * current PD; failed calls allocate nothing. 256 slots share one 4 KiB page.
 * Run as the root task; TAP output.
 */
#include "utest.h"

#define SLOTS_PER_PAGE (4096 / CAP_SLOT_SIZE)

#define DONORS 4        /* consecutive root slots holding a PD capability: sources of writes */

static mword donor;     /* the first of them */

/* Backing pages of pd's capability table, or ~0 if pd_info fails. */
static uint64_t obj_pages(mword pd)
{
    struct pd_info pi;
    return sys_pd_info(pd, &pi) == E_OK ? pi.obj_pages : ~0UL;
}

/* True if slot sel of pd reads as the null capability. */
static bool null_at(mword pd, mword sel)
{
    struct lookup_info li;
    return sys_lookup(pd, SPACE_OBJ, sel, &li) == E_NOENT;
}

/* Write the donor capabilities into count (<= DONORS) slots of pd from sel on. */
static int write_slots(mword pd, mword sel, mword count)
{
    return sys_delegate(SEL_ROOT_PD, pd, SPACE_OBJ, donor, sel, count, PD_R_DELEGATE);
}

/* Write count slots from sel on and check the page count grows by `grow`. */
static void check_write(mword pd, mword sel, mword count, uint64_t grow, const char *what)
{
    uint64_t before = obj_pages(pd);
    int st = write_slots(pd, sel, count);
    uint64_t after = obj_pages(pd);
    tap_check(st == E_OK && after == before + grow, "%s: %lu page(s) more (%lu -> %lu, status %d)",
              what, (unsigned long)grow, (unsigned long)before, (unsigned long)after, st);
}

static void test_new_pd_is_empty(mword c)
{
    struct pd_info pi;
    CHECK_ST(sys_pd_info(c, &pi), E_OK);
    tap_check(pi.obj_pages == 0 && pi.pio_pages == 0,
              "a new PD has no capability or I/O-bitmap pages");
    static const mword sels[] = { SEL_NULL, 1, 2, 255, 256, 4096, 1UL << 20, SEL_COUNT - 1 };
    bool all = true;
    for (unsigned i = 0; i < ARRAY_SIZE(sels); i++)
        all = all && null_at(c, sels[i]);
    tap_check(all, "every slot of a new PD reads as null");
    tap_check(obj_pages(c) == 0, "reading slots allocated no backing page");
}

static void test_root_reads_null_through_zero_page(void)
{
    uint64_t before = obj_pages(SEL_ROOT_PD);
    bool all = true;
    for (mword sel = 3; sel < SEL_ROOT_FREE; sel++)
        all = all && null_at(SEL_ROOT_PD, sel);
    tap_check(all, "the root's reserved selectors 3..15 read as null");
    mword far = 3000000;
    tap_check(null_at(SEL_ROOT_PD, 5000000) && null_at(SEL_ROOT_PD, SEL_COUNT - 1) &&
              null_at(SEL_ROOT_PD, SEL_COUNT / 2) && null_at(SEL_ROOT_PD, far),
              "far, never written slots of the root read as null");
    tap_check(obj_pages(SEL_ROOT_PD) == before,
              "reading them allocated no page in the root (%lu -> %lu)", (unsigned long)before,
              (unsigned long)obj_pages(SEL_ROOT_PD));
    CHECK_ST(sys_create_pd(far, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    tap_check(obj_pages(SEL_ROOT_PD) == before + 1,
              "writing one far slot of the root adds one page");
    struct lookup_info li;
    tap_check(sys_lookup(SEL_ROOT_PD, SPACE_OBJ, far, &li) == E_OK && li.type == CAP_PD,
              "the far slot, read as null before, reads back as a PD capability once written");
    tap_check(null_at(SEL_ROOT_PD, far + 1) && null_at(SEL_ROOT_PD, far - 1),
              "the neighbours of the written slot still read as null");
}

static void test_pages_grow_only_with_written_slots(mword c)
{
    check_write(c, 1, 1, 1, "writing slot 1");
    check_write(c, 2, 1, 0, "writing slot 2 (same page)");
    check_write(c, SLOTS_PER_PAGE - 1, 1, 0, "writing the page's last slot");
    check_write(c, SLOTS_PER_PAGE, 1, 1, "writing the next page's first slot");
    check_write(c, SEL_COUNT - 1, 1, 1, "writing the table's last slot");
    check_write(c, 1UL << 20, 1, 1, "writing a slot far away");
    check_write(c, 2 * SLOTS_PER_PAGE - 2, 4, 1, "writing 4 slots across a page boundary");
    struct lookup_info li;
    tap_check(sys_lookup(c, SPACE_OBJ, 1, &li) == E_OK && li.type == CAP_PD &&
                  li.rights == PD_R_DELEGATE,
              "a written slot reads back with its type and rights");
    tap_check(null_at(c, 3) && null_at(c, SLOTS_PER_PAGE + 1) && null_at(c, SEL_COUNT - 2) &&
              null_at(c, (1UL << 20) + 1), "slots next to written ones still read as null");
}

static void test_failed_writes_allocate_nothing(mword c)
{
    mword edge = 64 * SLOTS_PER_PAGE;       /* first slot of a page */
    check_write(c, edge, 1, 1, "writing the first slot of page 64");
    uint64_t before = obj_pages(c);
    CHECK_ST(write_slots(c, edge - 1, 2), E_BUSY);
    tap_check(obj_pages(c) == before && null_at(c, edge - 1),
              "a delegation refused for an occupied slot allocated no page for its other slot");
    CHECK_ST(sys_delegate(SEL_ROOT_PD, c, SPACE_OBJ, 3000001, 200 * SLOTS_PER_PAGE, 1, PD_R_ALL),
             E_NOENT);
    tap_check(obj_pages(c) == before, "a delegation from an empty slot allocated no page");
    CHECK_ST(sys_create_pd(SEL_COUNT, SEL_ROOT_PD, PD_QUOTA_SHARED), E_FULL);
    tap_check(obj_pages(c) == before, "failed calls left the child's page count alone");
}

int main(mword arg)
{
    mword c;
    if (!utest_init(arg))
        return utest_done("cap_space");
    donor = sel_alloc();
    for (unsigned i = 1; i < DONORS; i++)
        sel_alloc();
    CHECK_ST(sys_create_pd(donor, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    for (mword i = 1; i < DONORS; i++)
        CHECK_ST(sys_delegate(SEL_ROOT_PD, SEL_ROOT_PD, SPACE_OBJ, donor, donor + i, 1, PD_R_ALL),
                 E_OK);
    c = sel_alloc();
    CHECK_ST(sys_create_pd(c, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    test_new_pd_is_empty(c);
    test_root_reads_null_through_zero_page();
    test_pages_grow_only_with_written_slots(c);
    test_failed_writes_allocate_nothing(c);
    return utest_done("cap_space");
}
