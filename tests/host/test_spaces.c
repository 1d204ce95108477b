/*
 * Host tests of Space_obj and Space_pio: fake physical memory (tests/host/fake_mem.c)
 * stands in for the kernel pool, the real mapping database records delegations.
 * One fake memory serves the whole binary because the shared zero / all-ones pages
 * are created once; each test measures frames relative to its own start.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "space_obj.h"
#include "space_pio.h"
#include "fake_mem.h"

static struct fake_mem fm;
const struct ptab_env *space_env;
static paddr_t current_kdir;            /* what kdir_current() reports */
static unsigned local_flushes, shootdowns;
static struct mdb db;

paddr_t kdir_current(void) { return current_kdir; }
void kdir_flush_local(vaddr_t va) { (void)va; local_flushes++; }
void space_pio_shootdown(struct space_pio *s) { (void)s; shootdowns++; }

/* Delegate through space_<kind>_delegate_decode, then _perform if it accepted (kind: obj or
   pio): the decode's status; *effect from the perform. */
#define DELEGATE(kind, db, src, src_base, dst, dst_base, count, mask, effect) ({ \
        struct mdb_delegation d_; \
        int e_ = space_##kind##_delegate_decode(db, &d_, src, src_base, dst, dst_base, count, \
                                                mask); \
        if (e_ == E_OK) \
            *(effect) = space_##kind##_delegate_perform(db, &d_, dst); \
        e_; })

static void *node_alloc(struct mdb_space *s, size_t n) { (void)s; return malloc(n); }
static void node_free(void *p) { free(p); }

/* A PD as these tests see it: a kdir with both spaces. */
struct pd {
    paddr_t kdir;
    struct space_obj obj;
    struct space_pio pio;
};

static size_t live_at_start;            /* fake frames live when the test began */
static struct pd a, b;                  /* the test's PDs: a (setup_one), a and b (setup_two) */
static unsigned npds;                   /* how many of them the setup made */

/* Set up p on a fresh kdir. */
static void pd_init(struct pd *p)
{
    p->kdir = fm.env.alloc(fm.env.ctx);
    assert_true(p->kdir);
    assert_int_equal(space_obj_init(&p->obj, p->kdir), E_OK);
    assert_int_equal(space_pio_init(&p->pio, p->kdir), E_OK);
}

/* Tear p down through the database, free its spaces and kdir. */
static void pd_destroy(struct pd *p)
{
    while (mdb_teardown_step(&db, NULL, &p->obj.mdb, ~0ul) == MDB_MORE)
        ;
    while (mdb_teardown_step(&db, NULL, &p->pio.mdb, ~0ul) == MDB_MORE)
        ;
    space_obj_destroy(&p->obj);
    space_pio_destroy(&p->pio);
    fm.env.free(fm.env.ctx, p->kdir);
}

/* Before every test: fresh counters, then n PDs (a, b) on fresh kdirs. */
static int setup(unsigned n)
{
    fm.fail_after = -1;
    local_flushes = shootdowns = 0;
    current_kdir = 0;
    live_at_start = fm.nlive;
    npds = n;
    if (n > 0)
        pd_init(&a);
    if (n > 1)
        pd_init(&b);
    return 0;
}

/* A test of one PD: a. */
static int setup_one(void **state)
{
    (void)state;
    return setup(1);
}

/* A test of two PDs: a, b. */
static int setup_two(void **state)
{
    (void)state;
    return setup(2);
}

/* After every test: its PDs torn down, each frame it took came back, no database node is
   left. */
static int teardown(void **state)
{
    (void)state;
    if (npds > 1)
        pd_destroy(&b);
    if (npds > 0)
        pd_destroy(&a);
    assert_int_equal(fm.nlive, live_at_start);
    return 0;
}

/* Create the shared pages (allocated once, by the first space_*_init) before any test counts
   frames. */
static void warm_up(void)
{
    struct pd p;
    pd_init(&p);
    pd_destroy(&p);
}

static struct capability pd_cap(unsigned i, unsigned rights)
{
    static uint64_t objects[8] __attribute__((aligned(CAP_OBJ_ALIGN)));
    return cap_make(&objects[i], CAP_PD, rights);
}

/* ---- Space_obj ----------------------------------------------------------------- */

static void never_written_slots_read_as_null(void **state)
{
    (void)state;
    struct capability c = { 1, 1 };
    assert_false(space_obj_lookup(&a.obj, 0, &c));
    assert_true(cap_is_null(c));
    assert_false(space_obj_lookup(&a.obj, 1, &c));
    assert_false(space_obj_lookup(&a.obj, SEL_COUNT - 1, &c));
    assert_false(space_obj_lookup(&a.obj, SEL_COUNT, &c));
    assert_int_equal(a.obj.r.pages, 0);
}

static void backing_pages_grow_only_with_written_pages(void **state)
{
    (void)state;
    struct capability c;
    const unsigned per_page = PTAB_PAGE_SIZE / CAP_SLOT_SIZE;
    assert_int_equal(space_obj_insert(&db, &a.obj, 1, pd_cap(0, PD_R_ALL)), E_OK);
    assert_int_equal(a.obj.r.pages, 1);
    assert_int_equal(space_obj_insert(&db, &a.obj, per_page - 1, pd_cap(1, PD_R_ALL)), E_OK);
    assert_int_equal(a.obj.r.pages, 1);
    assert_int_equal(space_obj_insert(&db, &a.obj, per_page, pd_cap(2, PD_R_ALL)), E_OK);
    assert_int_equal(a.obj.r.pages, 2);
    assert_int_equal(space_obj_insert(&db, &a.obj, SEL_COUNT - 1, pd_cap(3, PD_R_ALL)), E_OK);
    assert_int_equal(a.obj.r.pages, 3);
    assert_int_equal(a.obj.r.tables, 2);
    assert_true(space_obj_lookup(&a.obj, SEL_COUNT - 1, &c));
    assert_ptr_equal(cap_object(c), cap_object(pd_cap(3, 0)));
    assert_int_equal(cap_type(c), CAP_PD);
    assert_false(space_obj_lookup(&a.obj, 2, &c));
}

static void insert_refuses_null_selector_range_and_occupied_slot_without_change(void **state)
{
    (void)state;
    struct capability c;
    assert_int_equal(space_obj_insert(&db, &a.obj, 9, pd_cap(0, PD_R_CREATE)), E_OK);
    size_t live = fm.nlive;
    assert_int_equal(space_obj_insert(&db, &a.obj, SEL_NULL, pd_cap(1, PD_R_ALL)), E_ARG);
    assert_int_equal(space_obj_insert(&db, &a.obj, SEL_COUNT, pd_cap(1, PD_R_ALL)), E_FULL);
    assert_int_equal(space_obj_insert(&db, &a.obj, 9, pd_cap(1, PD_R_ALL)), E_BUSY);
    assert_int_equal(fm.nlive, live);
    assert_true(space_obj_lookup(&a.obj, 9, &c));
    assert_int_equal(c.obj, pd_cap(0, 0).obj);
    assert_int_equal(c.rights, PD_R_CREATE);
}

static void delegate_copies_capabilities_with_masked_rights(void **state)
{
    (void)state;
    struct capability c;
    unsigned effect = 0;
    assert_int_equal(space_obj_insert(&db, &a.obj, 20, pd_cap(0, PD_R_ALL)), E_OK);
    assert_int_equal(space_obj_insert(&db, &a.obj, 21, pd_cap(1, PD_R_ALL)), E_OK);
    assert_int_equal(DELEGATE(obj, &db, &a.obj, 20, &b.obj, 5000, 2, PD_R_DELEGATE, &effect),
                     E_OK);
    assert_true(effect & MDB_CREATED);
    assert_true(space_obj_lookup(&b.obj, 5000, &c));
    assert_int_equal(c.obj, pd_cap(0, 0).obj);
    assert_int_equal(c.rights, PD_R_DELEGATE);
    assert_true(space_obj_lookup(&b.obj, 5001, &c));
    assert_int_equal(c.obj, pd_cap(1, 0).obj);
    assert_false(space_obj_lookup(&b.obj, 5002, &c));
}

static void delegate_refuses_bad_ranges_and_empty_sources_without_change(void **state)
{
    (void)state;
    struct capability c;
    unsigned effect = 0;
    assert_int_equal(space_obj_insert(&db, &a.obj, 20, pd_cap(0, PD_R_ALL)), E_OK);
    size_t live = fm.nlive;
    assert_int_equal(DELEGATE(obj, &db, &a.obj, 20, &b.obj, 7, 0, PD_R_ALL, &effect), E_ARG);
    assert_int_equal(DELEGATE(obj, &db, &a.obj, SEL_COUNT - 1, &b.obj, 7, 2, PD_R_ALL,
                              &effect),
                     E_RANGE);
    assert_int_equal(DELEGATE(obj, &db, &a.obj, 20, &b.obj, SEL_NULL, 1, PD_R_ALL, &effect),
                     E_ARG);
    assert_int_equal(DELEGATE(obj, &db, &a.obj, 20, &b.obj, SEL_COUNT - 1, 2, PD_R_ALL,
                              &effect),
                     E_FULL);
    assert_int_equal(DELEGATE(obj, &db, &a.obj, 20, &b.obj, 7, 2, PD_R_ALL, &effect), E_NOENT);
    assert_int_equal(fm.nlive, live);
    assert_false(space_obj_lookup(&b.obj, 7, &c));
    assert_int_equal(b.obj.r.pages, 0);
}

static void delegate_out_of_memory_changes_nothing(void **state)
{
    (void)state;
    struct capability c;
    unsigned effect = 0;
    assert_int_equal(space_obj_insert(&db, &a.obj, 20, pd_cap(0, PD_R_ALL)), E_OK);
    size_t live = fm.nlive;
    fm.fail_after = 1;      /* the page table, not the slot page */
    assert_int_equal(DELEGATE(obj, &db, &a.obj, 20, &b.obj, 7, 1, PD_R_ALL, &effect), E_NOMEM);
    fm.fail_after = -1;
    assert_int_equal(fm.nlive, live);
    assert_false(space_obj_lookup(&b.obj, 7, &c));
    assert_int_equal(b.obj.mdb.nodes, 0);
}

static void revoke_clears_derived_slots_and_keeps_the_source(void **state)
{
    (void)state;
    struct capability c;
    unsigned effect = 0;
    assert_int_equal(space_obj_insert(&db, &a.obj, 20, pd_cap(0, PD_R_ALL)), E_OK);
    assert_int_equal(DELEGATE(obj, &db, &a.obj, 20, &b.obj, 30, 1, PD_R_ALL, &effect), E_OK);
    assert_int_equal(mdb_revoke(&db, NULL, &a.obj.mdb, 20, 1, PD_R_DELEGATE, false), E_OK);
    assert_true(space_obj_lookup(&b.obj, 30, &c));
    assert_int_equal(c.rights, PD_R_CREATE);
    assert_int_equal(mdb_revoke(&db, NULL, &a.obj.mdb, 20, 1, PD_R_ALL, false), E_OK);
    assert_false(space_obj_lookup(&b.obj, 30, &c));
    assert_int_equal(b.obj.r.pages, 1);
    assert_true(space_obj_lookup(&a.obj, 20, &c));
    space_obj_remove(&db, &a.obj, 20);
    assert_false(space_obj_lookup(&a.obj, 20, &c));
}

static void read_fault_maps_the_shared_zero_page_without_allocating(void **state)
{
    (void)state;
    current_kdir = a.kdir;
    size_t live = fm.nlive;
    assert_true(space_obj_page_fault(PD_CAPS + 16 * 12345, 0));
    assert_true(space_obj_page_fault(PD_CAPS_LAST - 15, 0));
    assert_int_equal(fm.nlive, live);
    assert_int_equal(a.obj.r.pages, 0);
}

static void write_protection_user_and_fetch_faults_are_not_resolved(void **state)
{
    (void)state;
    current_kdir = a.kdir;
    assert_false(space_obj_page_fault(PD_CAPS, PFERR_W));
    assert_false(space_obj_page_fault(PD_CAPS, PFERR_P));
    assert_false(space_obj_page_fault(PD_CAPS, PFERR_U));
    assert_false(space_obj_page_fault(PD_CAPS, PFERR_I));
    assert_false(space_obj_page_fault(PD_CAPS - 1, 0));
    current_kdir = 0;
    assert_false(space_obj_page_fault(PD_CAPS, 0));
}

static void writing_over_the_zero_page_flushes_the_local_translation(void **state)
{
    (void)state;
    current_kdir = a.kdir;
    assert_int_equal(space_obj_insert(&db, &a.obj, 1, pd_cap(0, PD_R_ALL)), E_OK);
    assert_int_equal(local_flushes, 0);     /* holes only: nothing cached */
    assert_true(space_obj_page_fault(PD_CAPS + PTAB_PAGE_SIZE, 0));
    assert_int_equal(space_obj_insert(&db, &a.obj, PTAB_PAGE_SIZE / CAP_SLOT_SIZE,
                                      pd_cap(1, PD_R_ALL)),
                     E_OK);
    assert_int_equal(local_flushes, 1);
}

/* ---- Space_pio ----------------------------------------------------------------- */

static void ports_of_a_new_space_are_denied_and_take_no_pages(void **state)
{
    (void)state;
    assert_false(space_pio_allowed(&a.pio, 0));
    assert_false(space_pio_allowed(&a.pio, 0x3F8));
    assert_false(space_pio_allowed(&a.pio, 0xFFFF));
    assert_false(space_pio_allowed(&a.pio, 0x10000));
    assert_int_equal(a.pio.r.pages, 0);
}

static void root_grant_of_all_ports_makes_two_zero_pages(void **state)
{
    (void)state;
    assert_int_equal(space_pio_grant(&db, &a.pio, 0, PIO_PORTS), E_OK);
    assert_int_equal(a.pio.r.pages, 2);
    for (unsigned long port = 0; port < PIO_PORTS; port += 0x7FF)
        assert_true(space_pio_allowed(&a.pio, port));
    assert_true(space_pio_allowed(&a.pio, 0xFFFF));
}

static void delegating_one_port_allows_exactly_that_port(void **state)
{
    (void)state;
    unsigned effect = 0;
    assert_int_equal(space_pio_grant(&db, &a.pio, 0, PIO_PORTS), E_OK);
    assert_int_equal(DELEGATE(pio, &db, &a.pio, 0x3F8, &b.pio, 0x3F8, 1, PIO_A, &effect),
                     E_OK);
    assert_true(space_pio_allowed(&b.pio, 0x3F8));
    assert_false(space_pio_allowed(&b.pio, 0x3F9));
    assert_false(space_pio_allowed(&b.pio, 0x3F7));
    assert_false(space_pio_allowed(&b.pio, 0x13F8));
    assert_int_equal(b.pio.r.pages, 1);
    assert_int_equal(DELEGATE(pio, &db, &a.pio, 0xFFFF, &b.pio, 0xFFFF, 1, PIO_A, &effect),
                     E_OK);
    assert_true(space_pio_allowed(&b.pio, 0xFFFF));
    assert_int_equal(b.pio.r.pages, 2);
}

static void port_delegation_refuses_moves_ranges_and_missing_ports(void **state)
{
    (void)state;
    unsigned effect = 0;
    assert_int_equal(space_pio_grant(&db, &a.pio, 0x60, 0x10), E_OK);
    size_t live = fm.nlive;
    assert_int_equal(DELEGATE(pio, &db, &a.pio, 0x60, &b.pio, 0x61, 1, PIO_A, &effect), E_ARG);
    assert_int_equal(DELEGATE(pio, &db, &a.pio, 0x60, &b.pio, 0x60, 0, PIO_A, &effect), E_ARG);
    assert_int_equal(DELEGATE(pio, &db, &a.pio, 0xFFFF, &b.pio, 0xFFFF, 2, PIO_A, &effect),
                     E_RANGE);
    assert_int_equal(DELEGATE(pio, &db, &a.pio, 0x6F, &b.pio, 0x6F, 2, PIO_A, &effect),
                     E_NOENT);
    assert_int_equal(space_pio_grant(&db, &a.pio, 0x60, 1), E_BUSY);
    assert_int_equal(fm.nlive, live);
    assert_false(space_pio_allowed(&b.pio, 0x6F));
}

static void revoking_a_port_denies_it_again(void **state)
{
    (void)state;
    unsigned effect = 0;
    assert_int_equal(space_pio_grant(&db, &a.pio, 0, PIO_PORTS), E_OK);
    assert_int_equal(DELEGATE(pio, &db, &a.pio, 0x70, &b.pio, 0x70, 2, PIO_A, &effect), E_OK);
    assert_int_equal(mdb_revoke(&db, NULL, &a.pio.mdb, 0x71, 1, PIO_A, false), E_OK);
    assert_true(space_pio_allowed(&b.pio, 0x70));
    assert_false(space_pio_allowed(&b.pio, 0x71));
    assert_true(space_pio_allowed(&a.pio, 0x71));
}

static void bitmap_and_terminator_faults_map_the_shared_ones_page(void **state)
{
    (void)state;
    current_kdir = a.kdir;
    size_t live = fm.nlive;
    assert_true(space_pio_page_fault(PD_IOBMP, 0));
    assert_true(space_pio_page_fault(PD_IOBMP_LAST, 0));
    assert_true(space_pio_page_fault(PIO_BITMAP_END, 0));
    assert_false(space_pio_page_fault(PIO_FAULT_LAST + 1, 0));
    assert_false(space_pio_page_fault(PD_IOBMP, PFERR_W));
    assert_int_equal(fm.nlive, live);
}

static void allowing_a_port_over_the_shared_page_shoots_down(void **state)
{
    (void)state;
    current_kdir = a.kdir;
    assert_int_equal(space_pio_allow(&a.pio, 0x80, 1), E_OK);
    assert_int_equal(shootdowns, 0);        /* a hole was filled: nothing to flush */
    assert_true(space_pio_page_fault(PD_IOBMP + PTAB_PAGE_SIZE, 0));
    assert_int_equal(space_pio_allow(&a.pio, 0x8000, 1), E_OK);
    assert_int_equal(shootdowns, 1);
    assert_int_equal(local_flushes, 1);
    assert_true(space_pio_allowed(&a.pio, 0x8000));
    space_pio_deny(&a.pio, 0x8000, 1);
    assert_false(space_pio_allowed(&a.pio, 0x8000));
    assert_int_equal(shootdowns, 1);        /* deny writes a bit: no translation changes */
}

static void allowing_in_a_page_faulted_before_its_table_became_private_shoots_down(void **state)
{
    (void)state;
    current_kdir = a.kdir;
    /* Page 1 of the bitmap is read through the shared PT, then page 0 gets a private PT. */
    assert_true(space_pio_page_fault(PD_IOBMP + PTAB_PAGE_SIZE, 0));
    assert_int_equal(space_pio_allow(&a.pio, 0x10, 1), E_OK);
    unsigned before = shootdowns;
    /* Page 1 may still be cached as the all-ones page: making it real must flush. */
    assert_int_equal(space_pio_allow(&a.pio, 0x8010, 1), E_OK);
    assert_int_equal(shootdowns, before + 1);
    assert_true(space_pio_allowed(&a.pio, 0x8010));
    assert_true(space_pio_allowed(&a.pio, 0x10));
    assert_false(space_pio_allowed(&a.pio, 0x8011));
}

/* A test of one PD (a) or of two (a, b), each torn down and its frames counted after it. */
#define ONE(test) cmocka_unit_test_setup_teardown(test, setup_one, teardown)
#define TWO(test) cmocka_unit_test_setup_teardown(test, setup_two, teardown)

int main(void)
{
    fake_mem_init(&fm, 4096);
    space_env = &fm.env;
    mdb_init(&db, node_alloc, node_free);
    warm_up();
    const struct CMUnitTest tests[] = {
        ONE(never_written_slots_read_as_null),
        ONE(backing_pages_grow_only_with_written_pages),
        ONE(insert_refuses_null_selector_range_and_occupied_slot_without_change),
        TWO(delegate_copies_capabilities_with_masked_rights),
        TWO(delegate_refuses_bad_ranges_and_empty_sources_without_change),
        TWO(delegate_out_of_memory_changes_nothing),
        TWO(revoke_clears_derived_slots_and_keeps_the_source),
        ONE(read_fault_maps_the_shared_zero_page_without_allocating),
        ONE(write_protection_user_and_fetch_faults_are_not_resolved),
        ONE(writing_over_the_zero_page_flushes_the_local_translation),
        ONE(ports_of_a_new_space_are_denied_and_take_no_pages),
        ONE(root_grant_of_all_ports_makes_two_zero_pages),
        TWO(delegating_one_port_allows_exactly_that_port),
        TWO(port_delegation_refuses_moves_ranges_and_missing_ports),
        TWO(revoking_a_port_denies_it_again),
        ONE(bitmap_and_terminator_faults_map_the_shared_ones_page),
        ONE(allowing_a_port_over_the_shared_page_shoots_down),
        ONE(allowing_in_a_page_faulted_before_its_table_became_private_shoots_down),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    fake_mem_destroy(&fm);
    return failed;
}
