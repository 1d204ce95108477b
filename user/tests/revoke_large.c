/*
 * Partial revoke of large pages (the engine splits the leaf). The root
 * delegates a 2 MiB and a 1 GiB aligned range to a child, which the kernel
 * maps as one large page each (lookup shows the size; 4 KiB pages with the lab
 * switch HPT_LEAVES=4k), then
 * revokes one 4 KiB page inside each. The rest stays mapped and usable: the
 * child writes pages before, after and far from the hole, and faults only on
 * the revoked page; lookup shows the split into smaller mappings. The 1 GiB
 * case needs a free, 1 GiB-aligned GiB in the root's window (user.sh boots
 * this program with 3G); without one it is skipped. Run as the root task.
 */
#include "utest.h"

#define SIZE_2M   (2UL << 20)
#define SIZE_1G   (1UL << 30)
#define VA_2M     0x40000000000UL   /* child: 4 TiB, 1 GiB aligned, far from stacks and program */
#define VA_1G     0x80000000000UL   /* child: 8 TiB */
#define HOLE_OFF  (5 * PAGE_SIZE_USER + SIZE_2M / 2)    /* the revoked page: not at an edge */

static mword cpu;                   /* core the probing children run on: the last one */

/* The largest leaf the kernel maps a delegation of `size` with: size itself, or 4 KiB with the
   lab switch HPT_LEAVES=4k (mk/lab.conf). */
static mword leaf_of(mword size)
{
#ifdef HPT_LEAVES_4k
    (void)size;
    return PAGE_SIZE_USER;
#else
    return size;
#endif
}

/* Child: write the word at a, exit 0. */
static void child_write(mword a)
{
    *(volatile uint64_t *)a = a;
    sys_exit(0);
}

/* Run child_write(a) in pd; its final state in *ei. */
static bool writes(mword pd, mword a)
{
    struct ec_info ei;
    return child_run(pd, cpu, child_write, a, &ei) == E_OK && exited_with(&ei, 0);
}

/* Size of pd's mapping at va, or 0 if nothing is mapped. */
static mword map_size(mword pd, mword va)
{
    struct lookup_info li;
    return sys_lookup(pd, SPACE_MEM, va, &li) == E_OK ? li.size : 0;
}

/* Delegate `size` bytes at window w to a fresh child at va, revoke one page inside; check the
   rest. */
static void split_one(const char *name, mword w, mword va, mword size)
{
    mword pd;
    struct ec_info ei;
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, w, va, size / PAGE_SIZE_USER, MEM_R | MEM_W),
             E_OK);
    mword before = map_size(pd, va + HOLE_OFF);
    tap_check(before == leaf_of(size), "the %s delegation is mapped with %s leaves (lookup size "
              "0x%lx)", name, leaf_of(size) == size ? name : "4K", before);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, w + HOLE_OFF, 1, MEM_RWX, 0), E_OK);
    tap_check(map_size(pd, va + HOLE_OFF) == 0,
              "after revoking one page inside the %s mapping that page "
              "is unmapped",
              name);
    mword near = map_size(pd, va + HOLE_OFF + PAGE_SIZE_USER), first = map_size(pd, va),
          last = map_size(pd, va + size - PAGE_SIZE_USER);
    /* A 1G page splits into 2M pages, only the one with the hole into 4K pages. */
    mword far_want = size == SIZE_1G ? leaf_of(SIZE_2M) : PAGE_SIZE_USER;
    tap_check(near == PAGE_SIZE_USER && first == PAGE_SIZE_USER && last == far_want,
              "the %s mapping is split: the hole's neighbour and first page 4K (0x%lx, 0x%lx), "
              "last 0x%lx (want 0x%lx)", name, near, first, last, far_want);
    tap_check(
        writes(pd, va) && writes(pd, va + HOLE_OFF - PAGE_SIZE_USER) &&
            writes(pd, va + HOLE_OFF + PAGE_SIZE_USER) && writes(pd, va + size - PAGE_SIZE_USER),
        "the child writes the %s range's first page, both neighbours of the hole and its last page",
        name);
    tap_check(*(volatile uint64_t *)(w + HOLE_OFF + PAGE_SIZE_USER) ==
                  va + HOLE_OFF + PAGE_SIZE_USER,
              "the root sees the child's write next to the hole through its window");
    CHECK_ST(child_run(pd, cpu, child_write, va + HOLE_OFF, &ei), E_OK);
    tap_check(faulted_on(&ei, va + HOLE_OFF, FAULT_W),
              "the child faults on the revoked page of the %s range", name);
}

static void test_partial_revoke_inside_a_2m_delegation(void)
{
    mword w = mem_take(SIZE_2M / PAGE_SIZE_USER, SIZE_2M);
    tap_check(w != 0, "a 2 MiB-aligned 2 MiB range in the window");
    if (w != 0)
        split_one("2M", w, VA_2M, SIZE_2M);
}

/* Whether the CPU has 1 GiB pages (CPUID 0x80000001 EDX bit 26); the kernel maps 2 MiB without. */
static bool cpu_has_1g_pages(void)
{
    uint32_t a = 0x80000001, b, c = 0, d;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return (d >> 26) & 1;
}

static void test_partial_revoke_inside_a_1g_delegation(void)
{
    if (!cpu_has_1g_pages()) {
        tap_check(true, "partial revoke inside a 1G delegation # SKIP the CPU has no 1 GiB pages");
        return;
    }
    mword w = mem_take(SIZE_1G / PAGE_SIZE_USER, SIZE_1G);
    if (w == 0) {
        tap_check(true, "partial revoke inside a 1G delegation "
                  "# SKIP no free 1 GiB-aligned GiB (boot with -m 3G)");
        return;
    }
    split_one("1G", w, VA_1G, SIZE_1G);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    cpu = info_page()->num_cpus - 1;
    test_partial_revoke_inside_a_2m_delegation();
    test_partial_revoke_inside_a_1g_delegation();
    return utest_done("revoke_large");
}
