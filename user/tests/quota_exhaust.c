/*
 * Kernel memory is charged to its owner. Two sibling PDs, A and B, get QUOTA frames each from
 * the root's quota (the root's pd_info.used grows by exactly that). A, running on core 0,
 * maps one of its own pages at one GiB after another into itself (each costs page tables
 * charged to A) and creates PDs of its own drawing on its quota, until every such call answers
 * E_NOMEM; it never holds more than its quota. Then A's calls, its own and the root's on its
 * behalf (delegate into A, a child of A, an EC in A), fail with E_NOMEM and change nothing:
 * pd_info of A and the kernel's memory counters are the same before and after. While A keeps
 * failing on core 0, B, on the last core, makes the same kinds of calls: every one succeeds,
 * each charged to B. Last, the root revokes one page of a 2 MiB leaf A holds: splitting it would
 * need a page table charged to A, so the kernel drops the whole leaf from A's table instead
 * (revoke still E_OK; A still holds the other pages: delegating there again is E_BUSY), and
 * nothing is charged to anyone else. Root task; TAP output; runs on 1 and more cores.
 */
#include "utest.h"

#define QUOTA       96u                     /* frames given to each of A and B */
#define SELF        0x40u                   /* selector of a PD's capability to itself */
#define VA_FAR      (4UL << 40)             /* where the PDs map their page, one per GiB */
#define GROW_MAX    256u                    /* A's attempts at each kind of call, at most */
#define B_CALLS     6u                      /* B's delegations while A fails */
#define NO_CODE_VA  0x200000UL              /* an entry no PD has memory at: the EC faults */
#define VA_LEAF     (6UL << 40)             /* A's 2 MiB leaf, delegated before A grows */
#define LEAF_PAGES  512u
#define LEAF_HOLE   77u                     /* the page of the leaf the root revokes */

static volatile uint64_t page_data;         /* the page the PDs map again (data: shared) */
static volatile mword a_grown, a_children, a_ecs;  /* A's calls until its quota ran out */
static volatile int a_ready;                /* A -> root: it can grow no more */
static volatile int a_stop;                 /* root -> A: stop failing */
static volatile mword a_failed, a_other;    /* A's calls meanwhile: E_NOMEM, anything else */
static volatile mword b_ok, b_other;        /* B's calls: E_OK, anything else */
static volatile struct pd_info a_seen;      /* A's pd_info when it could grow no more */

/* pd_info of pd (zeroed if the call fails). */
static struct pd_info info(mword pd)
{
    struct pd_info pi;
    memset(&pi, 0, sizeof(pi));
    sys_pd_info(pd, &pi);
    return pi;
}

/* The three global memory counters (free, heap pages, PD-held frames). */
static void books(uint64_t out[3])
{
    struct core_counters cc;
    memset(&cc, 0, sizeof(cc));
    sys_counters(0, &cc);
    out[0] = cc.pool_free;
    out[1] = cc.heap_pages;
    out[2] = cc.pd_frames;
}

/* One delegation of the data page at the n-th far GiB of the caller's own space (through SELF). */
static int map_self(mword n)
{
    mword src = ALIGN_DOWN((mword)&page_data, PAGE_SIZE_USER);
    return sys_delegate(SELF, SELF, SPACE_MEM, src, VA_FAR + n * GiB(1), 1, MEM_R);
}

/* A (core 0): grow until its quota is used up, then keep making failing calls until a_stop. */
static void a_main(mword arg)
{
    (void)arg;
    mword n = 0, kids = 0;
    while (n < GROW_MAX && map_self(n) == E_OK)
        n++;
    while (kids < GROW_MAX && sys_create_pd(0x100 + kids, SELF, PD_QUOTA_SHARED) == E_OK)
        kids++;
    mword ecs = 0;
    while (ecs < GROW_MAX && sys_create_ec(0x200 + ecs, SELF, 0, NO_CODE_VA,
                                           ec_stack_ptr((void *)NO_CODE_VA), 0) == E_OK)
        ecs++;
    a_grown = n;
    a_children = kids;
    a_ecs = ecs;
    struct pd_info pi = info(SELF);
    memcpy((void *)&a_seen, &pi, sizeof(pi));
    __atomic_store_n(&a_ready, 1, __ATOMIC_RELEASE);
    while (!__atomic_load_n(&a_stop, __ATOMIC_ACQUIRE)) {
        int st1 = map_self(n), st2 = sys_create_pd(0x100 + kids, SELF, PD_QUOTA_SHARED);
        a_failed += (st1 == E_NOMEM) + (st2 == E_NOMEM);
        a_other += (st1 != E_NOMEM) + (st2 != E_NOMEM);
        sys_yield_pause();
    }
    sys_exit(0);
}

/* B (last core): the same kinds of calls, B_CALLS delegations and one child; each must work. */
static void b_main(mword arg)
{
    (void)arg;
    for (mword i = 0; i < B_CALLS; i++) {
        int st = map_self(i);
        b_ok += st == E_OK;
        b_other += st != E_OK;
    }
    int st = sys_create_pd(0x100, SELF, PD_QUOTA_SHARED);
    b_ok += st == E_OK;
    b_other += st != E_OK;
    sys_exit(0);
}

/* A PD running the root's program with QUOTA frames and its own capability at SELF. */
static mword quota_pd(const char *name)
{
    mword pd = 0;
    CHECK_ST(child_pd_quota(&pd, QUOTA), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd, SPACE_OBJ, pd, SELF, 1, PD_R_ALL), E_OK);
    struct pd_info pi = info(pd);
    tap_check(pi.quota == QUOTA && pi.used <= QUOTA &&
                  pi.used == pi.frames + pi.heap_pages,
              "%s: quota %lu, used %lu = frames %lu + heap pages %lu", name,
              (unsigned long)pi.quota, (unsigned long)pi.used, (unsigned long)pi.frames,
              (unsigned long)pi.heap_pages);
    return pd;
}

/* A call the root makes that charges a PD at its quota: E_NOMEM, A and the books unchanged. */
static void expect_unchanged(mword a, int st, const char *what)
{
    static uint64_t b0[3];
    static struct pd_info p0;
    if (!what) {
        books(b0);
        p0 = info(a);
        return;
    }
    uint64_t b1[3];
    books(b1);
    struct pd_info p1 = info(a);
    tap_check(st == E_NOMEM && memcmp(&p0, &p1, sizeof(p0)) == 0 && b0[0] == b1[0] &&
                  b0[1] == b1[1] && b0[2] == b1[2],
              "%s: E_NOMEM (got %d), A's pd_info and the memory counters unchanged "
              "(free %lu -> %lu, heap %lu -> %lu, PD-held %lu -> %lu)", what, st,
              (unsigned long)b0[0], (unsigned long)b1[0], (unsigned long)b0[1],
              (unsigned long)b1[1], (unsigned long)b0[2], (unsigned long)b1[2]);
}

/* The root revokes one page of A's 2 MiB leaf while A is at its quota: the leaf is dropped. */
static void test_split_at_quota(mword a, mword b, mword leaf)
{
    struct lookup_info li;
    struct pd_info pa0 = info(a), pb0 = info(b), r0 = info(SEL_ROOT_PD);
    tap_check(sys_lookup(a, SPACE_MEM, VA_LEAF, &li) == E_OK && li.size == MiB(2),
              "A holds a 2 MiB leaf");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, leaf + LEAF_HOLE * PAGE_SIZE_USER, 1, MEM_RWX, 0),
             E_OK);
    struct pd_info pa1 = info(a), pb1 = info(b), r1 = info(SEL_ROOT_PD);
    CHECK_ST(sys_lookup(a, SPACE_MEM, VA_LEAF + LEAF_HOLE * PAGE_SIZE_USER, &li), E_NOENT);
    CHECK_ST(sys_lookup(a, SPACE_MEM, VA_LEAF, &li), E_NOENT);     /* the whole leaf dropped */
    CHECK_ST(sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, leaf, VA_LEAF, 1, MEM_R), E_BUSY);
    tap_check(pa1.used <= pa0.used && pa1.used <= QUOTA && pa1.used == pa1.frames +
                  pa1.heap_pages + a_children * (PD_OBJ_FRAMES + 1),
              "the split charged A nothing (used %lu -> %lu of %u)", (unsigned long)pa0.used,
              (unsigned long)pa1.used, QUOTA);
    tap_check(memcmp(&pb0, &pb1, sizeof(pb0)) == 0 && r1.used == r0.used,
              "nor B nor the root (root used %lu -> %lu)", (unsigned long)r0.used,
              (unsigned long)r1.used);
}

static void test_quota(const struct info_page *ip)
{
    struct pd_info r0 = info(SEL_ROOT_PD);
    tap_check(r0.quota > 0 && r0.used <= r0.quota, "the root has a quota (%lu, %lu used)",
              (unsigned long)r0.quota, (unsigned long)r0.used);
    mword sel = sel_alloc();
    CHECK_ST(sys_create_pd(sel, SEL_ROOT_PD, r0.quota), E_NOMEM);  /* more than it has left */
    /* The PD object and its master root do not fit. */
    CHECK_ST(sys_create_pd(sel, SEL_ROOT_PD, PD_OBJ_FRAMES), E_NOMEM);
    struct pd_info r1 = info(SEL_ROOT_PD);
    tap_check(r1.used == r0.used, "failed create_pd calls charged the root nothing (%lu, %lu)",
              (unsigned long)r0.used, (unsigned long)r1.used);
    mword a = quota_pd("A"), b = quota_pd("B");
    struct pd_info r2 = info(SEL_ROOT_PD);
    tap_check(r2.used >= r1.used + 2 * QUOTA, "the root was charged both quotas (%lu -> %lu)",
              (unsigned long)r1.used, (unsigned long)r2.used);

    mword leaf = mem_take(LEAF_PAGES, MiB(2)), ec_a, ec_b;
    tap_check(leaf != 0, "2 MiB of the root's memory, 2 MiB aligned");
    CHECK_ST(sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, leaf, VA_LEAF, LEAF_PAGES, MEM_R | MEM_W),
             E_OK);
    CHECK_ST(child_ec(a, 0, a_main, 0, &ec_a), E_OK);
    while (!__atomic_load_n(&a_ready, __ATOMIC_ACQUIRE))
        sys_yield_pause();
    /* Whatever room A's own calls left (less than any of them needs: a mapping its tables, an EC
       its capability's node too), ECs the root makes in A take, one frame at most each. */
    mword drained = 0;
    while (drained < GROW_MAX && sys_create_ec(sel_alloc(), a, 0, NO_CODE_VA,
                                               ec_stack_ptr((void *)NO_CODE_VA), 0) == E_OK)
        drained++;
    struct pd_info pa = info(a);
    tap_check(pa.used == QUOTA, "A's quota is used up exactly (%lu of %u; %lu ECs took the rest)",
              (unsigned long)pa.used, QUOTA, (unsigned long)drained);
    tap_check(a_grown > 0 && a_grown < GROW_MAX && pa.used <= QUOTA,
              "A mapped %lu pages, made %lu children and %lu ECs, then ran out: used %lu of %u",
              (unsigned long)a_grown, (unsigned long)a_children, (unsigned long)a_ecs,
              (unsigned long)pa.used, QUOTA);
    tap_check(a_seen.used == a_seen.frames + a_seen.heap_pages +
                  a_children * (PD_OBJ_FRAMES + 1),
              "A's used (%lu) is its frames (%lu), heap pages (%lu) and its children's objects",
              (unsigned long)a_seen.used, (unsigned long)a_seen.frames,
              (unsigned long)a_seen.heap_pages);

    /* The root's calls charging A, while A fails on its own too (on 1 core A runs only when
       the root yields, so the counters are steady; with more cores A's failures change none). */
    mword w = mem_alloc(1), csel = sel_alloc(), esel = sel_alloc();
    expect_unchanged(a, 0, NULL);
    expect_unchanged(a, sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, w, VA_FAR + GiB(1) * 300, 1,
                                     MEM_R), "the root's delegate into A");
    expect_unchanged(a, sys_create_pd(csel, a, PD_QUOTA_SHARED), "a PD drawing on A's quota");
    expect_unchanged(a, sys_create_pd(csel, a, 8), "a PD with 8 frames of A's quota");
    expect_unchanged(a, sys_create_ec(esel, a, 0, NO_CODE_VA, ec_stack_ptr((void *)NO_CODE_VA), 0),
                     "an EC in A");

    /* B on the last core while A keeps failing on core 0. */
    mword cpu = ip->num_cpus - 1;
    struct pd_info pb0 = info(b);
    CHECK_ST(child_ec(b, cpu, b_main, 0, &ec_b), E_OK);
    struct ec_info ei;
    CHECK_ST(ec_wait(ec_b, &ei), E_OK);
    struct pd_info pb1 = info(b);
    tap_check(exited_with(&ei, 0) && b_ok == B_CALLS + 1 && b_other == 0,
              "B (core %lu) made its %u calls while A was at its quota: %lu succeeded, %lu not",
              (unsigned long)cpu, B_CALLS + 1, (unsigned long)b_ok, (unsigned long)b_other);
    tap_check(pb1.used > pb0.used && pb1.used <= QUOTA,
              "B's calls were charged to B (used %lu -> %lu of %u)", (unsigned long)pb0.used,
              (unsigned long)pb1.used, QUOTA);
    __atomic_store_n(&a_stop, 1, __ATOMIC_RELEASE);
    CHECK_ST(ec_wait(ec_a, &ei), E_OK);
    struct pd_info pa1 = info(a);
    tap_check(exited_with(&ei, 0) && a_failed > 0 && a_other == 0 &&
                  pa1.used == pa.used,
              "A's own calls meanwhile: %lu E_NOMEM, %lu other; A's used stayed %lu",
              (unsigned long)a_failed, (unsigned long)a_other, (unsigned long)pa1.used);
    test_split_at_quota(a, b, leaf);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("quota_exhaust");
    test_quota((const struct info_page *)arg);
    return utest_done("quota_exhaust");
}
