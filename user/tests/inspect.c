/*
 * The scenario of make inspect (lecture: "Syncing Page Tables" on real tables): two child PDs,
 * A with 4 KiB pages in PML4 slot 1, a 2 MiB page in slot 8 and (if the CPU and memory allow)
 * a 1 GiB page in slot 16, B with 4 KiB pages in slot 1. A runs on core 0 (touching slots 1 and
 * 8) and on core 1 (touching nothing of its own), B on core 1. The first dump (tag 0) shows
 * them; then one page of A is revoked and A runs on core 1 again, touching slot 1: a lazy-sync
 * fault there; the second dump (tag 1) shows core 1's root entry copied from the master.
 * Then a child without capabilities tries to dump A and the root (E_CAP), and the root dumps B
 * (tag 2) while an EC of B reads its memory on core 1. The dumps need the INSPECT=1 kernel
 * (tests/qemu/inspect.sh checks them with scripts/inspect.py); any other kernel answers E_NOSYS
 * and the program skips. Root task, TAP.
 */
#include "utest.h"

#define SIZE_2M   (2UL << 20)
#define SIZE_1G   (1UL << 30)
#define REGION_A  (1UL << 39)           /* PML4 slot 1: 4 KiB pages of A and B */
#define VA_2M     (8UL << 39)           /* PML4 slot 8: A's 2 MiB page */
#define VA_1G     (16UL << 39)          /* PML4 slot 16: A's 1 GiB page */
#define A_PAGES   4u                    /* 4 KiB pages of A at REGION_A */
#define REVOKED   (REGION_A + PAGE_SIZE_USER)   /* the page of A revoked between the dumps */

/* inspect(pd, tag): SYS_INSPECT of the test build (docs/abi.md). */
static int sys_inspect(mword pd, mword tag)
{
    return (int)sys_call6(SYS_INSPECT, pd, tag, 0, 0, 0, 0, NULL);
}

/* Child: read the word at each address of the zero-ended list arg, exit 0. */
static void child_touch(mword arg)
{
    for (const mword *a = (const mword *)arg; *a; a++)
        (void)*(volatile uint64_t *)*a;
    sys_exit(0);
}

static const mword a_core0[] = { REGION_A, REGION_A + 3 * PAGE_SIZE_USER, VA_2M, 0 };
static const mword a_none[] = { 0 };
static const mword b_core1[] = { REGION_A, 0 };
static const mword a_core1[] = { REGION_A, 0 };

static int probe_st[2] = { -1, -1 };   /* shared data: what child_probe's calls returned */
static mword stop_spin;                 /* shared data: set by the root to end child_spin */

/* Child: SYS_INSPECT of the root's selector of A (arg) and of SEL_ROOT_PD, which name nothing
   in the child's own object space; the statuses to probe_st. */
static void child_probe(mword arg)
{
    probe_st[0] = sys_inspect(arg, 0);
    probe_st[1] = sys_inspect(SEL_ROOT_PD, 0);
    sys_exit(0);
}

/* Child: read REGION_A until the root sets stop_spin, exit 0. */
static void child_spin(mword arg)
{
    (void)arg;
    while (!__atomic_load_n(&stop_spin, __ATOMIC_ACQUIRE)) {
        (void)*(volatile uint64_t *)REGION_A;
        cpu_pause();
    }
    sys_exit(0);
}

/* Dumps of pd (tag 2) while an EC of pd reads its memory on core 1; scripts/inspect.py checks
   them with the others. */
static void check_concurrent(mword pd)
{
    mword ec;
    struct ec_info ei;
    CHECK_ST(child_ec(pd, 1, child_spin, 0, &ec), E_OK);
    int bad = 0;
    for (unsigned i = 0; i < 8; i++)
        bad += sys_inspect(pd, 2) != E_OK;
    __atomic_store_n(&stop_spin, 1, __ATOMIC_RELEASE);
    tap_check(bad == 0, "8 dumps of B while B runs on core 1 (%d failed)", bad);
    tap_check(ec_wait(ec, &ei) == E_OK && exited_with(&ei, 0), "B's reader on core 1 ended");
}

/* Run child_touch(list) in pd on cpu; one TAP line. */
static void run(mword pd, mword cpu, const mword *list, const char *what)
{
    struct ec_info ei;
    int st = child_run(pd, cpu, child_touch, (mword)list, &ei);
    tap_check(st == E_OK && exited_with(&ei, 0), "%s ran on core %lu", what, cpu);
}

/* Whether the CPU has 1 GiB pages (CPUID 0x80000001 EDX bit 26). */
static bool cpu_has_1g_pages(void)
{
    uint32_t a = 0x80000001, b, c = 0, d;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return (d >> 26) & 1;
}

/* Give pd a large page of size at va from the window; true if it was given. */
static bool give_large(mword pd, mword va, mword size)
{
    mword w = mem_take(size / PAGE_SIZE_USER, size);
    return w && sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, w, va, size / PAGE_SIZE_USER,
                             MEM_R | MEM_W) == E_OK;
}

/* Hostile arguments: no PD capability, a tag out of range; both change nothing. */
static void check_arguments(mword pd)
{
    CHECK_ST(sys_inspect(SEL_NULL, 0), E_CAP);
    CHECK_ST(sys_inspect(~0UL, 0), E_CAP);
    CHECK_ST(sys_inspect(pd, 0x10000), E_ARG);
}

int main(mword arg)
{
    mword a, b, wa;
    if (!utest_init(arg) || !utest_need_cores(2, "page-table dumps on two cores"))
        return utest_done("inspect");
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    int st = sys_inspect(a, 9);
    if (st == E_NOSYS) {
        tap_check(true, "page-table dumps # SKIP kernel built without INSPECT=1");
        return utest_done("inspect");
    }
    tap_check(st == E_OK, "inspect(A) -> %d (want 0)", st);
    check_arguments(a);
    CHECK_ST(child_give(a, REGION_A, A_PAGES, MEM_R | MEM_W, &wa), E_OK);
    CHECK_ST(child_give(b, REGION_A, 2, MEM_R | MEM_W, NULL), E_OK);
    tap_check(give_large(a, VA_2M, SIZE_2M), "A has a 2 MiB page at slot 8");
    bool big = cpu_has_1g_pages() && give_large(a, VA_1G, SIZE_1G);
    printf("# 1 GiB page of A: %s\n", big ? "given" : "none (no 1G pages or no free GiB)");
    run(a, 0, a_core0, "A (slots 1 and 8)");
    run(a, 1, a_none, "A (nothing of its own)");
    run(b, 1, b_core1, "B (slot 1)");
    printf("# inspect A=%lu B=%lu revoked=%lx synced=%lx\n", a, b, REVOKED, REGION_A);
    CHECK_ST(sys_inspect(a, 0), E_OK);
    CHECK_ST(sys_inspect(b, 0), E_OK);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, wa + (REVOKED - REGION_A), 1, MEM_RWX, 0), E_OK);
    uint64_t syncs = utest_counters(1).lazy_syncs;
    run(a, 1, a_core1, "A (slot 1: a lazy-sync fault)");
    tap_check(utest_counters(1).lazy_syncs - syncs == 1, "core 1 synced A's slot 1 once (%lu)",
              (unsigned long)(utest_counters(1).lazy_syncs - syncs));
    CHECK_ST(sys_inspect(a, 1), E_OK);
    CHECK_ST(sys_inspect(b, 1), E_OK);
    struct ec_info ei;
    bool ran = child_run(b, 1, child_probe, a, &ei) == E_OK && exited_with(&ei, 0);
    tap_check(ran && probe_st[0] == E_CAP && probe_st[1] == E_CAP,
              "a child holding no PD capability cannot dump A or the root (%d, %d; want E_CAP)",
              probe_st[0], probe_st[1]);
    check_concurrent(b);
    return utest_done("inspect");
}
