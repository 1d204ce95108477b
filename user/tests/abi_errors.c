/*
 * User-level test of docs/abi.md, run as the root task: every error path of
 * every system call answers with its documented status and changes nothing.
 * Prints TAP lines; exits with the number of failures (0 = pass).
 *
 * Selectors used: F = SEL_ROOT_FREE holds a child PD; F+1 the root PD without
 * PD_R_CREATE; F+2 the root PD without PD_R_DELEGATE; F+3.. stay empty.
 */
#include "ulib.h"

#define F        SEL_ROOT_FREE
#define CHILD    (F + 0)
#define NOCREATE (F + 1)
#define NODELEG  (F + 2)
#define EMPTY    (F + 3)        /* never written */
#define KADDR    0xffffffff81000000UL    /* a kernel address */
#define CHILD_VA 0x10000000UL   /* where the child gets memory */
#define HOLE_VA  0x20000000UL   /* nothing is mapped here in the root */

static mword window;            /* root virtual address of the first free page */

#define CHECK_ST(call, want)                                                \
    do {                                                                    \
        int st_ = (call);                                                   \
        tap_check(st_ == (want), "%s -> %d (want %d)", #call, st_, (want)); \
    } while (0)

/* True if pd holds nothing at addr of space kind. */
static bool empty_at(mword pd, unsigned kind, mword addr)
{
    struct lookup_info li;
    return sys_lookup(pd, kind, addr, &li) == E_NOENT;
}

/* Rights pd holds at addr of space kind, or 0 if nothing. */
static unsigned rights_at(mword pd, unsigned kind, mword addr)
{
    struct lookup_info li;
    return sys_lookup(pd, kind, addr, &li) == E_OK ? li.rights : 0;
}

/* What the root and the child hold in kernel memory: failed calls must not change it. */
struct snapshot {
    struct pd_info root, child;
    int st;
};

/* Take a snapshot of both PDs' space usage. */
static struct snapshot snap_take(void)
{
    struct snapshot s;
    memset(&s, 0, sizeof(s));
    s.st = sys_pd_info(SEL_ROOT_PD, &s.root);
    if (s.st == E_OK)
        s.st = sys_pd_info(CHILD, &s.child);
    return s;
}

/* One TAP line: the space usage is what it was in *before. */
static void snap_same(const struct snapshot *before, const char *what)
{
    struct snapshot now = snap_take();
    tap_check(before->st == E_OK && now.st == E_OK && memcmp(&now, before, sizeof(now)) == 0,
              "%s changed no PD's capability, I/O-bitmap or page-table pages", what);
}

/* Find the first free physical page in the information page; false if none. */
static bool find_free_memory(const struct info_page *ip)
{
    for (uint32_t i = 0; i < ip->num_mem; i++)
        if (ip->mem[i].type == INFO_MEM_FREE && ip->mem[i].size >= 4 * PAGE_SIZE_USER) {
            window = ip->phys_window + ip->mem[i].phys;
            return true;
        }
    return false;
}

/* Create the child and the two reduced copies of the root PD capability. */
static void setup(void)
{
    CHECK_ST(sys_create_pd(CHILD, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, SEL_ROOT_PD, SPACE_OBJ, SEL_ROOT_PD, NOCREATE, 1,
                          PD_R_DELEGATE), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, SEL_ROOT_PD, SPACE_OBJ, SEL_ROOT_PD, NODELEG, 1,
                          PD_R_CREATE), E_OK);
    tap_check(rights_at(SEL_ROOT_PD, SPACE_OBJ, NOCREATE) == PD_R_DELEGATE,
              "reduced copy has only PD_R_DELEGATE");
}

static void test_unknown_calls(void)
{
    CHECK_ST((int)sys_call6(0, 0, 0, 0, 0, 0, 0, NULL), E_NOSYS);
    CHECK_ST((int)sys_call6(SYS_COUNT, 0, 0, 0, 0, 0, 0, NULL), E_NOSYS);
    CHECK_ST((int)sys_call6(~0UL, 0, 0, 0, 0, 0, 0, NULL), E_NOSYS);
    /* The page-table dump exists only in the INSPECT=1 test build (docs/abi.md). */
    CHECK_ST((int)sys_call6(SYS_INSPECT, SEL_ROOT_PD, 0, 0, 0, 0, 0, NULL), E_NOSYS);
}

static void test_create_pd(void)
{
    CHECK_ST(sys_create_pd(EMPTY, SEL_NULL, PD_QUOTA_SHARED), E_CAP);
    CHECK_ST(sys_create_pd(EMPTY, EMPTY, PD_QUOTA_SHARED), E_CAP);
    CHECK_ST(sys_create_pd(EMPTY, SEL_COUNT, PD_QUOTA_SHARED), E_CAP);
    CHECK_ST(sys_create_pd(EMPTY, 1UL << 32 | SEL_ROOT_PD, PD_QUOTA_SHARED), E_CAP);
    CHECK_ST(sys_create_pd(EMPTY, SEL_ROOT_EC, PD_QUOTA_SHARED), E_CAP);
    CHECK_ST(sys_create_pd(EMPTY, NOCREATE, PD_QUOTA_SHARED), E_PERM);
    CHECK_ST(sys_create_pd(SEL_NULL, SEL_ROOT_PD, PD_QUOTA_SHARED), E_ARG);
    CHECK_ST(sys_create_pd(SEL_COUNT, SEL_ROOT_PD, PD_QUOTA_SHARED), E_FULL);
    CHECK_ST(sys_create_pd(SEL_ROOT_EC, SEL_ROOT_PD, PD_QUOTA_SHARED), E_BUSY);
    tap_check(empty_at(SEL_ROOT_PD, SPACE_OBJ, EMPTY), "failed create_pd left its selector empty");
    struct lookup_info li;
    tap_check(sys_lookup(SEL_ROOT_PD, SPACE_OBJ, SEL_ROOT_EC, &li) == E_OK && li.type == CAP_EC,
              "create_pd onto an occupied selector left the EC capability there");
}

static void test_create_ec(const struct info_page *ip)
{
    mword ip0 = 0x400000, sp = 0x800000;
    CHECK_ST(sys_create_ec(EMPTY, SEL_NULL, 0, ip0, sp, 0), E_CAP);
    CHECK_ST(sys_create_ec(EMPTY, SEL_ROOT_EC, 0, ip0, sp, 0), E_CAP);
    CHECK_ST(sys_create_ec(EMPTY, NOCREATE, 0, ip0, sp, 0), E_PERM);
    CHECK_ST(sys_create_ec(EMPTY, CHILD, ip->num_cpus, ip0, sp, 0), E_CPU);
    CHECK_ST(sys_create_ec(EMPTY, CHILD, ~0UL, ip0, sp, 0), E_CPU);
    CHECK_ST(sys_create_ec(EMPTY, CHILD, 0, USER_LIMIT, sp, 0), E_RANGE);
    CHECK_ST(sys_create_ec(EMPTY, CHILD, 0, KADDR, sp, 0), E_RANGE);
    CHECK_ST(sys_create_ec(EMPTY, CHILD, 0, ip0, USER_LIMIT + 1, 0), E_RANGE);
    CHECK_ST(sys_create_ec(SEL_NULL, CHILD, 0, ip0, sp, 0), E_ARG);
    CHECK_ST(sys_create_ec(SEL_COUNT, CHILD, 0, ip0, sp, 0), E_FULL);
    CHECK_ST(sys_create_ec(SEL_ROOT_PD, CHILD, 0, ip0, sp, 0), E_BUSY);
    tap_check(empty_at(SEL_ROOT_PD, SPACE_OBJ, EMPTY), "failed create_ec left its selector empty");
}

/* delegate of one memory page from the root window to the child at CHILD_VA + off. */
static int dlg_mem(mword src_pd, mword dst_pd, mword src, mword dst, mword n, unsigned r)
{
    return sys_delegate(src_pd, dst_pd, SPACE_MEM, src, dst, n, r);
}

static void test_delegate_arguments(void)
{
    CHECK_ST(dlg_mem(SEL_NULL, CHILD, window, CHILD_VA, 1, MEM_R), E_CAP);
    CHECK_ST(dlg_mem(SEL_ROOT_PD, SEL_ROOT_EC, window, CHILD_VA, 1, MEM_R), E_CAP);
    CHECK_ST(dlg_mem(NODELEG, CHILD, window, CHILD_VA, 1, MEM_R), E_PERM);
    CHECK_ST(sys_call6(SYS_DELEGATE, SEL_ROOT_PD, CHILD, XFER(SPACE_MEM, MEM_R) | 1UL << 20,
                       window, CHILD_VA, 1, NULL), E_ARG);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, CHILD, 3, window, CHILD_VA, 1, MEM_R), E_ARG);
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, window, CHILD_VA, 1, 0), E_ARG);
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, window, CHILD_VA, 1, MEM_W), E_ARG);
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, window, CHILD_VA, 0, MEM_R), E_ARG);
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, window + 8, CHILD_VA, 1, MEM_R), E_ALIGN);
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, window, CHILD_VA + 8, 1, MEM_R), E_ALIGN);
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, window, USER_LIMIT - PAGE_SIZE_USER, 2, MEM_R), E_RANGE);
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, window, KADDR, 1, MEM_R), E_RANGE);
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, window, CHILD_VA, ~0UL, MEM_R), E_RANGE);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, CHILD, SPACE_PIO, 0xffff, 0xffff, 2, PIO_A), E_RANGE);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, CHILD, SPACE_PIO, 0x3f8, 0x2f8, 1, PIO_A), E_ARG);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, CHILD, SPACE_OBJ, SEL_ROOT_PD, SEL_NULL, 1, PD_R_ALL),
             E_ARG);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, CHILD, SPACE_OBJ, SEL_ROOT_PD, SEL_COUNT, 1, PD_R_ALL),
             E_FULL);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, CHILD, SPACE_OBJ, SEL_COUNT - 1, 5, 2, PD_R_ALL), E_RANGE);
    tap_check(empty_at(CHILD, SPACE_MEM, CHILD_VA),
              "failed delegations mapped nothing in the child");
}

static void test_delegate_contents(void)
{
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, HOLE_VA, CHILD_VA, 1, MEM_R), E_NOENT);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, CHILD, SPACE_OBJ, EMPTY, 5, 1, PD_R_ALL), E_NOENT);
    /* The information page is read-only for the root: no write right to hand on. */
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, INFO_PAGE_ADDR, CHILD_VA, 1, MEM_R | MEM_W), E_PERM);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, CHILD, SPACE_OBJ, SEL_ROOT_EC, 5, 1, PD_R_DELEGATE), E_PERM);
    tap_check(empty_at(CHILD, SPACE_MEM, CHILD_VA) && empty_at(CHILD, SPACE_OBJ, 5),
              "refused delegations left the child empty");
    /* Occupied destination: the second page collides, so the first must not be mapped either. */
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, window, CHILD_VA + PAGE_SIZE_USER, 1, MEM_R), E_OK);
    CHECK_ST(dlg_mem(SEL_ROOT_PD, CHILD, window + PAGE_SIZE_USER, CHILD_VA, 2, MEM_R | MEM_W),
             E_BUSY);
    tap_check(empty_at(CHILD, SPACE_MEM, CHILD_VA), "a refused two-page delegation mapped no page");
    struct lookup_info li;
    tap_check(sys_lookup(CHILD, SPACE_MEM, CHILD_VA + PAGE_SIZE_USER, &li) == E_OK &&
              li.rights == MEM_R && li.phys == window - ROOT_PHYS_WINDOW,
              "the occupied page kept its frame and rights");
    CHECK_ST(sys_delegate(SEL_ROOT_PD, CHILD, SPACE_PIO, 0x3f8, 0x3f8, 1, PIO_A), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, CHILD, SPACE_PIO, 0x3f8, 0x3f8, 1, PIO_A), E_BUSY);
    tap_check(empty_at(CHILD, SPACE_PIO, 0x3f9), "delegating port 0x3f8 gave no neighbour");
}

static void test_revoke(void)
{
    CHECK_ST(sys_revoke(SEL_NULL, SPACE_MEM, CHILD_VA, 1, MEM_W, 0), E_CAP);
    CHECK_ST(sys_revoke(SEL_ROOT_EC, SPACE_MEM, CHILD_VA, 1, MEM_W, 0), E_CAP);
    CHECK_ST(sys_revoke(NODELEG, SPACE_MEM, window, 1, MEM_W, 0), E_PERM);
    CHECK_ST(sys_revoke(CHILD, SPACE_MEM, CHILD_VA, 1, MEM_W, 1u << 5), E_ARG);
    CHECK_ST(sys_revoke(CHILD, 3, CHILD_VA, 1, MEM_W, 0), E_ARG);
    CHECK_ST(sys_revoke(CHILD, SPACE_MEM, CHILD_VA, 1, 0, 0), E_ARG);
    CHECK_ST(sys_revoke(CHILD, SPACE_MEM, CHILD_VA, 0, MEM_W, 0), E_ARG);
    CHECK_ST(sys_revoke(CHILD, SPACE_MEM, CHILD_VA + 4, 1, MEM_W, 0), E_ALIGN);
    CHECK_ST(sys_revoke(CHILD, SPACE_MEM, USER_LIMIT - PAGE_SIZE_USER, 2, MEM_W, 0), E_RANGE);
    CHECK_ST(sys_revoke(CHILD, SPACE_PIO, 0xffff, 2, PIO_A, 0), E_RANGE);
    tap_check(rights_at(CHILD, SPACE_MEM, CHILD_VA + PAGE_SIZE_USER) == MEM_R &&
              rights_at(CHILD, SPACE_PIO, 0x3f8) == PIO_A, "failed revokes removed nothing");
}

static void test_lookup(void)
{
    struct lookup_info li;
    memset(&li, 0x5a, sizeof(li));
    CHECK_ST(sys_lookup(SEL_NULL, SPACE_MEM, CHILD_VA, &li), E_CAP);
    CHECK_ST(sys_lookup(SEL_ROOT_EC, SPACE_MEM, CHILD_VA, &li), E_CAP);
    CHECK_ST(sys_lookup(CHILD, 3, CHILD_VA, &li), E_ARG);
    CHECK_ST(sys_lookup(CHILD, SPACE_MEM, USER_LIMIT, &li), E_RANGE);
    CHECK_ST(sys_lookup(CHILD, SPACE_PIO, 0x10000, &li), E_RANGE);
    CHECK_ST(sys_lookup(CHILD, SPACE_OBJ, SEL_COUNT, &li), E_RANGE);
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_MEM, INFO_PAGE_ADDR, (struct lookup_info *)KADDR),
             E_RANGE);
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_MEM, INFO_PAGE_ADDR, (struct lookup_info *)HOLE_VA),
             E_RANGE);
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_MEM, INFO_PAGE_ADDR,
                        (struct lookup_info *)INFO_PAGE_ADDR),
             E_RANGE);
    CHECK_ST(sys_lookup(CHILD, SPACE_MEM, CHILD_VA, &li), E_NOENT);
    tap_check(li.rights == 0x5a5a5a5a, "lookup of nothing left the output untouched");
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_OBJ, SEL_COUNT - 1, &li), E_NOENT);
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_OBJ, 12345678, &li), E_NOENT);
    CHECK_ST(sys_lookup(CHILD, SPACE_OBJ, SEL_ROOT_PD, &li), E_NOENT); /* child's space is empty */
}

static void test_ec_status(void)
{
    struct ec_info ei;
    CHECK_ST(sys_ec_status(SEL_NULL, 0, &ei), E_CAP);
    CHECK_ST(sys_ec_status(SEL_ROOT_PD, 0, &ei), E_CAP);
    CHECK_ST(sys_ec_status(SEL_ROOT_EC, 1u << 7, &ei), E_ARG);
    CHECK_ST(sys_ec_status(SEL_ROOT_EC, 0, (struct ec_info *)KADDR), E_RANGE);
    CHECK_ST(sys_ec_status(SEL_ROOT_EC, 0, (struct ec_info *)INFO_PAGE_ADDR), E_RANGE);
    CHECK_ST(sys_ec_status(SEL_ROOT_EC, EC_WAIT, &ei), E_ARG);
    CHECK_ST(sys_ec_status(SEL_ROOT_EC, 0, &ei), E_OK);
    tap_check(ei.state == EC_RUNNING && ei.cpu == 0,
              "the root EC reports itself running on core 0");
}

static void test_pd_info(void)
{
    struct pd_info pi;
    memset(&pi, 0x5a, sizeof(pi));
    CHECK_ST(sys_pd_info(SEL_NULL, &pi), E_CAP);
    CHECK_ST(sys_pd_info(SEL_ROOT_EC, &pi), E_CAP);
    CHECK_ST(sys_pd_info(EMPTY, &pi), E_CAP);
    CHECK_ST(sys_pd_info(SEL_COUNT, &pi), E_CAP);
    tap_check(pi.obj_pages == 0x5a5a5a5a5a5a5a5aUL, "failed pd_info left the output untouched");
    CHECK_ST(sys_pd_info(SEL_ROOT_PD, (struct pd_info *)KADDR), E_RANGE);
    CHECK_ST(sys_pd_info(SEL_ROOT_PD, (struct pd_info *)HOLE_VA), E_RANGE);
    CHECK_ST(sys_pd_info(SEL_ROOT_PD, (struct pd_info *)INFO_PAGE_ADDR), E_RANGE);
    CHECK_ST(sys_pd_info(CHILD, &pi), E_OK);
    tap_check(pi.quota == PD_QUOTA_SHARED, "pd_info's quota of a PD drawing on its parent's is 0");
    tap_check(pi.used == pi.frames + pi.heap_pages,
              "pd_info: a sharing PD's used is its frames and heap pages");
}

static void test_console_and_counters(const struct info_page *ip)
{
    struct core_counters cc;
    CHECK_ST(sys_console_write("", 0), E_OK);
    CHECK_ST(sys_console_write((const char *)INFO_PAGE_ADDR, CONSOLE_MAX + 1), E_ARG);
    CHECK_ST(sys_console_write((const char *)KADDR, 1), E_RANGE);
    CHECK_ST(sys_console_write((const char *)(USER_LIMIT - 1), 2), E_RANGE);
    CHECK_ST(sys_console_write((const char *)HOLE_VA, 1), E_RANGE);
    /* The information page is followed by an unmapped page: a buffer running into it faults. */
    CHECK_ST(sys_console_write((const char *)(INFO_PAGE_ADDR + PAGE_SIZE_USER - 4), 8), E_RANGE);
    CHECK_ST(sys_counters(ip->num_cpus, &cc), E_CPU);
    CHECK_ST(sys_counters(~0UL, &cc), E_CPU);
    CHECK_ST(sys_counters(0, (struct core_counters *)KADDR), E_RANGE);
    CHECK_ST(sys_counters(0, &cc), E_OK);
    CHECK_ST(sys_yield(), E_OK);
}

int main(mword arg)
{
    const struct info_page *ip = (const struct info_page *)arg;
    tap_check(ip->magic == INFO_MAGIC && ip->version == INFO_VERSION, "information page present");
    tap_check(find_free_memory(ip), "free memory reported");
    setup();
    struct snapshot s = snap_take();
    test_unknown_calls();
    test_create_pd();
    snap_same(&s, "failed create_pd");
    test_create_ec(ip);
    snap_same(&s, "failed create_ec");
    test_delegate_arguments();
    snap_same(&s, "delegate with bad arguments");
    test_delegate_contents();
    s = snap_take();
    test_revoke();
    snap_same(&s, "failed revoke");
    test_lookup();
    test_ec_status();
    test_pd_info();
    test_console_and_counters(ip);
    snap_same(&s, "lookup, ec_status, pd_info, console_write and counters errors");
    printf("abi_errors: %d failed\n", tap_failures());
    return tap_failures();
}
