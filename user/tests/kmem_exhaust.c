/*
 * Kernel memory exhaustion is an error code, never a crash: the root creates
 * PDs until the kernel answers E_NOMEM; that call changed nothing, the kernel
 * keeps serving every call, and memory-free calls still succeed.
 * Run as the root task; TAP output.
 */
#include "utest.h"

#define MAX_PDS  (1UL << 20)    /* bound: far more PDs than the kernel pool can hold */

/* Root space usage and the status of reading it. */
static int root_info(struct pd_info *pi)
{
    return sys_pd_info(SEL_ROOT_PD, pi);
}

int main(mword arg)
{
    mword first, sel, made = 0;
    int st = E_OK;
    if (!utest_init(arg))
        return utest_done("kmem_exhaust");
    first = sel_alloc();
    for (sel = first; made < MAX_PDS; sel++, made++) {
        st = sys_create_pd(sel, SEL_ROOT_PD, PD_QUOTA_SHARED);
        if (st != E_OK)
            break;
    }
    printf("# kmem_exhaust: %lu PDs created, then status %d\n", (unsigned long)made, st);
    tap_check(st == E_NOMEM,
              "creating PDs until the kernel pool is empty ends with E_NOMEM (after %lu)",
              (unsigned long)made);
    struct pd_info before, after;
    struct lookup_info li;
    CHECK_ST(root_info(&before), E_OK);
    CHECK_ST(sys_create_pd(sel, SEL_ROOT_PD, PD_QUOTA_SHARED), E_NOMEM);
    CHECK_ST(root_info(&after), E_OK);
    tap_check(memcmp(&before, &after, sizeof(before)) == 0,
              "the failed create_pd changed the root's spaces in no way");
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_OBJ, sel, &li), E_NOENT);
    tap_check(sys_lookup(SEL_ROOT_PD, SPACE_OBJ, sel - 1, &li) == E_OK && li.type == CAP_PD,
              "the last PD created before the failure is intact");
    /* argument checks still come first */
    CHECK_ST(sys_create_pd(sel, SEL_COUNT, PD_QUOTA_SHARED), E_CAP);
    CHECK_ST(sys_create_pd(SEL_ROOT_EC, SEL_ROOT_PD, PD_QUOTA_SHARED), E_BUSY);
    /* Page tables for a new region: either there is still room or E_NOMEM maps nothing. */
    mword page = mem_alloc(1), va = 1UL << 40;
    st = sys_delegate(SEL_ROOT_PD, sel - 1, SPACE_MEM, page, va, 1, MEM_R);
    int lk = sys_lookup(sel - 1, SPACE_MEM, va, &li);
    tap_check((st == E_OK && lk == E_OK) || (st == E_NOMEM && lk == E_NOENT),
              "a delegation needing new page tables maps the page "
              "or answers E_NOMEM and maps nothing (%d, %d)", st, lk);
    struct core_counters cc;
    CHECK_ST(sys_counters(0, &cc), E_OK);
    CHECK_ST(sys_yield(), E_OK);
    static const char msg[] = "# kmem_exhaust: the console still works\n";
    CHECK_ST(sys_console_write(msg, sizeof(msg) - 1), E_OK);
    return utest_done("kmem_exhaust");
}
