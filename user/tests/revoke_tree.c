/*
 * Recursive revocation through the mapping database (lecture: "Mapping
 * Concept in NOVA"). The root builds derivation trees between child PDs
 * (A -> B -> C, and A -> B1, B2, B3, B1 -> C1) with delegate(src_pd, dst_pd)
 * and revokes at different nodes: everything derived goes, in every PD; the
 * revoking node stays unless REVOKE_SELF; revoking W only downgrades; a
 * revoke in the middle of a range leaves its neighbours; ports and
 * capabilities follow the same tree. Run as the root task; TAP output.
 */
#include "utest.h"

#define VA_A      0x10000000UL      /* where A, B, C hold the memory of one tree */
#define VA_B      0x20000000UL
#define VA_C      0x30000000UL
#define PAGES     8u                /* pages per tree */
#define PORT      0x3ffu            /* COM1 scratch register: reading it has no side effect */
#define SEL_A     100u              /* object spaces: where A, B hold a delegated capability */
#define SEL_B     200u

#define WIN_ROOT  0xFFFFFF7FBFDFE000UL /* the root's own table in its recursive window */
#define WIN_PT_A  0xFFFFFE8000080000UL /* the master's level-0 table of VA_A, in its window */

static mword cpu;                   /* core the probing children run on: the last one */

/* Child: read the word at a, exit 0. */
static void child_read(mword a)
{
    (void)*(volatile uint32_t *)a;
    sys_exit(0);
}

/* Child: write the word at a, exit 0. */
static void child_write(mword a)
{
    *(volatile uint32_t *)a = 0x1234;
    sys_exit(0);
}

/* Child: read port p, exit 0. */
static void child_port(mword p)
{
    (void)inb((uint16_t)p);
    sys_exit(0);
}

/* Run fn(a) in pd; true if it exited 0. */
static bool works(mword pd, child_fn fn, mword a)
{
    struct ec_info ei;
    return child_run(pd, cpu, fn, a, &ei) == E_OK && exited_with(&ei, 0);
}

/* Run fn(a) in pd; true if it stopped with a page fault at a of that access. */
static bool faults(mword pd, child_fn fn, mword a, unsigned access)
{
    struct ec_info ei;
    return child_run(pd, cpu, fn, a, &ei) == E_OK && faulted_on(&ei, a, access);
}

/* True if pd maps va (memory) with exactly `rights`; rights 0: nothing mapped. */
static bool maps(mword pd, mword va, unsigned rights)
{
    struct lookup_info li;
    int st = sys_lookup(pd, SPACE_MEM, va, &li);
    return rights == 0 ? st == E_NOENT : st == E_OK && li.rights == rights;
}

/* A, B, C: fresh PDs; A gets PAGES fresh pages RW at VA_A, B from A at VA_B, C from B at VA_C. */
static void chain(mword pd[3])
{
    for (int i = 0; i < 3; i++)
        CHECK_ST(child_pd(&pd[i]), E_OK);
    CHECK_ST(child_give(pd[0], VA_A, PAGES, MEM_R | MEM_W, NULL), E_OK);
    CHECK_ST(sys_delegate(pd[0], pd[1], SPACE_MEM, VA_A, VA_B, PAGES, MEM_R | MEM_W), E_OK);
    CHECK_ST(sys_delegate(pd[1], pd[2], SPACE_MEM, VA_B, VA_C, PAGES, MEM_R | MEM_W), E_OK);
}

static void test_revoking_at_a_removes_access_in_b_and_c(void)
{
    mword pd[3];
    chain(pd);
    tap_check(works(pd[2], child_read, VA_C), "C reads its page before the revoke");
    CHECK_ST(sys_revoke(pd[0], SPACE_MEM, VA_A, PAGES, MEM_RWX, 0), E_OK);
    tap_check(maps(pd[0], VA_A, MEM_R | MEM_W),
              "revoking at A (without REVOKE_SELF) keeps A's own mapping");
    tap_check(maps(pd[1], VA_B, 0) && maps(pd[1], VA_B + (PAGES - 1) * PAGE_SIZE_USER, 0),
              "revoking at A removes B's mapping");
    tap_check(maps(pd[2], VA_C, 0), "revoking at A removes C's mapping (derived from B)");
    tap_check(faults(pd[2], child_read, VA_C, FAULT_R), "C faults on a read after the revoke at A");
    tap_check(works(pd[0], child_write, VA_A), "A still writes its page");
}

static void test_revoking_at_b_leaves_a_intact(void)
{
    mword pd[3];
    chain(pd);
    CHECK_ST(sys_revoke(pd[1], SPACE_MEM, VA_B, PAGES, MEM_RWX, 0), E_OK);
    tap_check(maps(pd[0], VA_A, MEM_R | MEM_W) && maps(pd[1], VA_B, MEM_R | MEM_W) &&
                  maps(pd[2], VA_C, 0),
              "revoking at B removes C only: A and B keep their mappings");
    tap_check(works(pd[0], child_read, VA_A) && works(pd[1], child_read, VA_B),
              "A and B still read after the revoke at B");
}

static void test_revoke_self_also_removes_the_callers_own_mapping(void)
{
    mword pd[3];
    chain(pd);
    CHECK_ST(sys_revoke(pd[1], SPACE_MEM, VA_B, PAGES, MEM_RWX, REVOKE_SELF), E_OK);
    tap_check(maps(pd[0], VA_A, MEM_R | MEM_W) && maps(pd[1], VA_B, 0) && maps(pd[2], VA_C, 0),
              "REVOKE_SELF at B removes B and C, A keeps its mapping");
    tap_check(faults(pd[1], child_read, VA_B, FAULT_R), "B faults on a read after its own revoke");
}

static void test_revoking_at_the_root_of_a_fan_out_tree_removes_every_branch(void)
{
    mword a, b[3], c1;
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_give(a, VA_A, PAGES, MEM_R | MEM_W, NULL), E_OK);
    for (int i = 0; i < 3; i++) {
        CHECK_ST(child_pd(&b[i]), E_OK);
        CHECK_ST(sys_delegate(a, b[i], SPACE_MEM, VA_A, VA_B, PAGES, MEM_R), E_OK);
    }
    CHECK_ST(child_pd(&c1), E_OK);
    CHECK_ST(sys_delegate(b[0], c1, SPACE_MEM, VA_B, VA_C, 2, MEM_R), E_OK);
    CHECK_ST(sys_revoke(a, SPACE_MEM, VA_A, PAGES, MEM_RWX, 0), E_OK);
    tap_check(maps(b[0], VA_B, 0) && maps(b[1], VA_B, 0) && maps(b[2], VA_B, 0) &&
                  maps(c1, VA_C, 0),
              "revoking at A removes all three branches B1 B2 B3 and B1's child C1");
    tap_check(maps(a, VA_A, MEM_R | MEM_W), "A keeps its own mapping");
}

static void test_revoking_w_downgrades_derived_mappings(void)
{
    mword pd[3];
    chain(pd);
    tap_check(works(pd[2], child_write, VA_C), "C writes before W is revoked");
    CHECK_ST(sys_revoke(pd[0], SPACE_MEM, VA_A, PAGES, MEM_W, 0), E_OK);
    tap_check(maps(pd[0], VA_A, MEM_R | MEM_W) && maps(pd[1], VA_B, MEM_R) &&
                  maps(pd[2], VA_C, MEM_R),
              "revoking W at A leaves B and C read-only, A read-write");
    tap_check(faults(pd[2], child_write, VA_C, FAULT_W), "C faults on a write after W is revoked");
    tap_check(works(pd[2], child_read, VA_C), "C still reads after W is revoked");
}

static void test_a_revoke_in_the_middle_of_a_range_leaves_its_neighbours(void)
{
    mword pd[3];
    chain(pd);
    mword mid = 3 * PAGE_SIZE_USER;
    CHECK_ST(sys_revoke(pd[0], SPACE_MEM, VA_A + mid, 2, MEM_RWX, 0), E_OK);
    tap_check(maps(pd[1], VA_B + mid, 0) && maps(pd[1], VA_B + mid + PAGE_SIZE_USER, 0),
              "pages 3 and 4 of B are gone");
    tap_check(maps(pd[1], VA_B + mid - PAGE_SIZE_USER, MEM_R | MEM_W) &&
                  maps(pd[1], VA_B + mid + 2 * PAGE_SIZE_USER, MEM_R | MEM_W) &&
                  maps(pd[1], VA_B, MEM_R | MEM_W),
              "pages 0, 2 and 5 of B are still mapped");
    tap_check(works(pd[2], child_write, VA_C + mid - PAGE_SIZE_USER) &&
                  works(pd[2], child_write, VA_C + mid + 2 * PAGE_SIZE_USER),
              "C writes the neighbours 2 and 5");
    tap_check(faults(pd[2], child_read, VA_C + mid, FAULT_R), "C faults on page 3");
}

static void test_revoking_a_port_at_a_removes_it_from_b(void)
{
    mword a, b;
    struct lookup_info li;
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, a, SPACE_PIO, PORT, PORT, 1, PIO_A), E_OK);
    CHECK_ST(sys_delegate(a, b, SPACE_PIO, PORT, PORT, 1, PIO_A), E_OK);
    tap_check(works(b, child_port, PORT), "B reads the delegated port");
    CHECK_ST(sys_revoke(a, SPACE_PIO, PORT, 1, PIO_A, 0), E_OK);
    CHECK_ST(sys_lookup(b, SPACE_PIO, PORT, &li), E_NOENT);
    CHECK_ST(sys_lookup(a, SPACE_PIO, PORT, &li), E_OK);
    struct ec_info ei;
    CHECK_ST(child_run(b, cpu, child_port, PORT, &ei), E_OK);
    tap_check(ei.state == EC_FAULTED && ei.fault.vector == VEC_GP,
              "B's port access is a #GP after the revoke "
              "at A (state %u, vector %u)",
              ei.state, ei.fault.vector);
    tap_check(works(a, child_port, PORT), "A still reads the port");
}

/* The recursive windows (lab switch PTACCESS=recursive; else the slots are empty) are kernel
   memory: a user read of the root's own table or of a master table there faults, also when
   the table maps the reader's own memory. */
static void test_the_page_table_windows_are_closed_to_user_mode(void)
{
    mword a;
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_give(a, VA_A, 1, MEM_R, NULL), E_OK);
    tap_check(works(a, child_read, VA_A), "A reads its page (its tables exist)");
    tap_check(faults(a, child_read, WIN_ROOT, FAULT_R), "A faults reading its root's window");
    tap_check(faults(a, child_read, WIN_PT_A, FAULT_R),
              "A faults reading the window of the table that maps its page");
}

static void test_revoking_a_capability_at_a_removes_it_from_b(void)
{
    mword a, b, target;
    struct lookup_info li;
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    CHECK_ST(child_pd(&target), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, a, SPACE_OBJ, target, SEL_A, 1, PD_R_ALL), E_OK);
    CHECK_ST(sys_delegate(a, b, SPACE_OBJ, SEL_A, SEL_B, 1, PD_R_DELEGATE), E_OK);
    CHECK_ST(sys_lookup(b, SPACE_OBJ, SEL_B, &li), E_OK);
    tap_check(li.type == CAP_PD && li.rights == PD_R_DELEGATE,
              "B holds the PD capability with the right given");
    CHECK_ST(sys_revoke(a, SPACE_OBJ, SEL_A, 1, OBJ_R_ALL, 0), E_OK);
    CHECK_ST(sys_lookup(b, SPACE_OBJ, SEL_B, &li), E_NOENT);
    CHECK_ST(sys_lookup(a, SPACE_OBJ, SEL_A, &li), E_OK);
    tap_check(li.type == CAP_PD && li.rights == PD_R_ALL, "A keeps its capability with all rights");
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    cpu = info_page()->num_cpus - 1;
    test_revoking_at_a_removes_access_in_b_and_c();
    test_revoking_at_b_leaves_a_intact();
    test_revoke_self_also_removes_the_callers_own_mapping();
    test_revoking_at_the_root_of_a_fan_out_tree_removes_every_branch();
    test_revoking_w_downgrades_derived_mappings();
    test_a_revoke_in_the_middle_of_a_range_leaves_its_neighbours();
    test_revoking_a_port_at_a_removes_it_from_b();
    test_revoking_a_capability_at_a_removes_it_from_b();
    test_the_page_table_windows_are_closed_to_user_mode();
    return utest_done("revoke_tree");
}
