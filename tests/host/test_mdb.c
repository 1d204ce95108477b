/* Mapping database: delegation, recursive revocation, validation, OOM, preemption. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "test_mdb_fake.h"

#define MEM_RW (MEM_R | MEM_W)
#define MEM_RX (MEM_R | MEM_X)

#define ROOT_SIZE   64      /* units A holds from boot */
#define ROOT_TARGET 1000    /* target of A's unit 0 */

static struct mdb db;
static struct fake_space A, B, C, D;
static unsigned effect;
static uint64_t done_units;         /* units the last mdb_delegate call took */

/* Fixture: A holds [0, 64) -> 1000.. with all rights; B, C, D are empty. */
static int setup(void **state)
{
    (void)state;
    fake_db_init(&db);
    fake_space_init(&A, FAKE_UNITS);
    fake_space_init(&B, FAKE_UNITS);
    fake_space_init(&C, FAKE_UNITS);
    fake_space_init(&D, FAKE_UNITS);
    return mdb_insert_root(&db, NULL, &A.s, 0, ROOT_SIZE, ROOT_TARGET, MEM_RWX);
}

/* Fixture end: tearing every space down frees every node; hooks agreed throughout. */
static int teardown(void **state)
{
    (void)state;
    struct fake_space *all[] = { &A, &B, &C, &D };
    for (unsigned i = 0; i < ARRAY_SIZE(all); i++)
        if (!fake_agrees(all[i]))
            return -1;
    for (unsigned i = 0; i < ARRAY_SIZE(all); i++)
        fake_teardown(&db, all[i]);
    return fake_live == 0 ? 0 : -1;
}

/* Delegate and return the status (effect in the global). */
static int deleg(struct fake_space *s, uint64_t sb, struct fake_space *d, uint64_t dbase,
                 uint64_t n, unsigned mask)
{
    effect = 0;
    int err = mdb_delegate(&db, NULL, &s->s, sb, &d->s, dbase, n, mask, &effect, &done_units);
    assert_true(err || done_units == n);    /* these ranges fit one bounded call */
    return err;
}

/* Delegate between bare spaces in one bounded call that takes the whole range; the status. */
static int deleg_s(struct mdb_space *s, uint64_t sb, struct mdb_space *d, uint64_t dbase,
                   uint64_t n, unsigned mask)
{
    int err = mdb_delegate(&db, NULL, s, sb, d, dbase, n, mask, &effect, &done_units);
    assert_true(err || done_units == n);
    return err;
}

/* Number of nodes space f consists of. */
static size_t nodes(struct fake_space *f)
{
    return f->s.nodes;
}

/* Dumps of all four spaces. */
struct world {
    struct fake_dump d[4];
};

/* Record everything observable. */
static void snapshot(struct world *w)
{
    fake_dump(&A, &w->d[0]);
    fake_dump(&B, &w->d[1]);
    fake_dump(&C, &w->d[2]);
    fake_dump(&D, &w->d[3]);
}

/* Whether nothing observable changed since w. */
static bool unchanged(const struct world *w)
{
    struct world now;
    snapshot(&now);
    for (int i = 0; i < 4; i++)
        if (!fake_dump_equal(&w->d[i], &now.d[i]))
            return false;
    return true;
}

/* Build A -> B -> C over the first 16 units. */
static void chain_abc(void)
{
    assert_int_equal(deleg(&A, 0, &B, 100, 16, MEM_RWX), E_OK);
    assert_int_equal(deleg(&B, 100, &C, 200, 16, MEM_RWX), E_OK);
}

static void a_root_maps_its_range_into_the_space(void **state)
{
    (void)state;
    struct mdb_info in;
    assert_int_equal(mdb_lookup(&A.s, 5, &in), E_OK);
    assert_int_equal(in.target + (5 - in.base), ROOT_TARGET + 5);
    assert_int_equal(in.rights, MEM_RWX);
    assert_null(in.src_space);
    assert_int_equal(A.rights[63], MEM_RWX);
    assert_int_equal(A.rights[64], 0);
}

static void a_root_over_an_occupied_range_is_refused_busy(void **state)
{
    (void)state;
    assert_int_equal(mdb_insert_root(&db, NULL, &A.s, 63, 2, 5000, MEM_R), E_BUSY);
    assert_int_equal(mdb_insert_root(&db, NULL, &A.s, 64, 2, 5000, MEM_R), E_OK);
}

static void lookup_of_an_empty_unit_is_noent(void **state)
{
    (void)state;
    struct mdb_info in;
    assert_int_equal(mdb_lookup(&B.s, 0, &in), E_NOENT);
}

static void a_range_is_empty_exactly_when_no_node_overlaps_it(void **state)
{
    (void)state;
    assert_true(mdb_range_empty(&B.s, 0, 64));
    assert_int_equal(deleg(&A, 4, &B, 10, 2, MEM_R), E_OK);     /* B holds units 10..11 */
    assert_true(mdb_range_empty(&B.s, 0, 10));                  /* ends right before */
    assert_true(mdb_range_empty(&B.s, 12, 100));                /* starts right after */
    assert_false(mdb_range_empty(&B.s, 0, 11));                 /* covers its first unit */
    assert_false(mdb_range_empty(&B.s, 11, 1));                 /* inside */
    assert_false(mdb_range_empty(&B.s, 5, 100));                /* contains it */
}

static void delegation_into_a_hole_creates_a_mapping_with_intersected_rights(void **state)
{
    (void)state;
    struct mdb_info in;
    assert_int_equal(deleg(&A, 4, &B, 10, 2, MEM_R | MEM_X), E_OK);
    assert_int_equal(effect, MDB_CREATED);
    assert_int_equal(mdb_lookup(&B.s, 11, &in), E_OK);
    assert_int_equal(in.rights, MEM_R | MEM_X);
    assert_int_equal(in.target + (11 - in.base), ROOT_TARGET + 5);
    assert_ptr_equal(in.src_space, &A.s);
    assert_int_equal(in.src_unit + (11 - in.base), 5);
    assert_int_equal(B.rights[12], 0);
}

/* Page after page from consecutive source units: the node before each grows (no node is
   allocated), and a revoke of the source reaches every unit. */
static void consecutive_delegations_grow_one_node_without_allocating(void **state)
{
    (void)state;
    struct mdb_info in;
    assert_int_equal(deleg(&A, 8, &B, 20, 1, MEM_RW), E_OK);
    for (uint64_t i = 1; i < 6; i++) {
        long allocs = fake_allocs;
        assert_int_equal(deleg(&A, 8 + i, &B, 20 + i, 1, MEM_RW), E_OK);
        assert_int_equal(effect, MDB_CREATED);
        assert_int_equal(fake_allocs, allocs);
        assert_int_equal(nodes(&B), 1);
    }
    assert_int_equal(mdb_lookup(&B.s, 25, &in), E_OK);
    assert_int_equal(in.base, 20);
    assert_int_equal(in.size, 6);
    assert_int_equal(in.target + 5, ROOT_TARGET + 13);
    /* Not consecutive in the source, or other rights: a node of its own. */
    assert_int_equal(deleg(&A, 30, &B, 26, 1, MEM_RW), E_OK);
    assert_int_equal(deleg(&A, 31, &B, 27, 1, MEM_R), E_OK);
    assert_int_equal(nodes(&B), 3);
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 8, 6, MEM_RWX, false), E_OK);
    for (uint64_t u = 20; u < 26; u++)
        assert_int_equal(B.rights[u], 0);
    assert_int_equal(B.rights[26], MEM_RW);
    assert_int_equal(nodes(&B), 2);
}

/* Delegate C[cs, +n) to D[dbase..] with mask as a caller does: call after call until every unit
   is done; the status of the last call, *calls the number of calls. */
static int deleg_all(uint64_t cs, uint64_t dbase, uint64_t n, unsigned mask, unsigned *calls)
{
    int err = E_OK;
    for (*calls = 0; !err && n; ++*calls) {
        err = mdb_delegate(&db, NULL, &C.s, cs, &D.s, dbase, n, mask, &effect, &done_units);
        cs += done_units, dbase += done_units, n -= err ? 0 : done_units;
    }
    return err;
}

/* A call whose first piece fills a hole (a new node, or the growth of one) and whose second
   upgrades a node with a cut that the hole's node would straddle: the upgrade goes to a call of
   its own, so its cuts are counted on the tree it finds (too few nodes reserved otherwise). */
static void a_hole_and_a_cutting_upgrade_take_two_calls(void **state)
{
    (void)state;
    for (int grow = 0; grow < 2; grow++) {
        unsigned calls;
        uint64_t base = grow * 100, t = 5000 + grow * 100;
        assert_int_equal(mdb_insert_root(&db, NULL, &C.s, base + 30, 10, t, MEM_RW), E_OK);
        assert_int_equal(deleg_s(&C.s, base + 30, &D.s, base + 50, 10, MEM_R), E_OK);
        assert_int_equal(deleg_s(&D.s, base + 50, &C.s, base + 20, 10, MEM_R), E_OK);
        if (grow)       /* D[40, 45) from C[20, 25): the hole below grows it */
            assert_int_equal(deleg_s(&C.s, base + 20, &D.s, base + 40, 5, MEM_R), E_OK);
        uint64_t from = grow ? 25 : 20;
        assert_int_equal(deleg_all(base + from, base + from + 20, 35 - from, MEM_RW, &calls),
                         E_OK);
        assert_int_equal(calls, 2);
        assert_true(mdb_check(&C.s) && mdb_check(&D.s));
        for (uint64_t u = 40; u < 60; u++)
            assert_int_equal(D.rights[base + u], u >= 50 && u < 55 ? MEM_RW : MEM_R);
    }
}

static void revoking_at_a_removes_access_in_b_and_c(void **state)
{
    (void)state;
    chain_abc();
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 0, 16, MEM_RWX, false), E_OK);
    for (int i = 0; i < 16; i++) {
        assert_int_equal(B.rights[100 + i], 0);
        assert_int_equal(C.rights[200 + i], 0);
    }
    assert_int_equal(nodes(&B) + nodes(&C), 0);
}

static void revoking_at_b_leaves_a_intact(void **state)
{
    (void)state;
    chain_abc();
    assert_int_equal(mdb_revoke(&db, NULL, &B.s, 100, 16, MEM_RWX, true), E_OK);
    assert_int_equal(A.rights[0], MEM_RWX);
    assert_int_equal(B.rights[100], 0);
    assert_int_equal(C.rights[200], 0);
}

static void revoke_without_include_self_keeps_the_callers_mapping(void **state)
{
    (void)state;
    chain_abc();
    assert_int_equal(mdb_revoke(&db, NULL, &B.s, 100, 16, MEM_RWX, false), E_OK);
    assert_int_equal(B.rights[105], MEM_RWX);
    assert_int_equal(C.rights[205], 0);
}

static void revoke_with_include_self_removes_the_callers_mapping_too(void **state)
{
    (void)state;
    chain_abc();
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 0, 16, MEM_RWX, true), E_OK);
    assert_int_equal(A.rights[0], 0);
    assert_int_equal(A.rights[16], MEM_RWX);
}

static void revoking_a_fan_out_tree_reaches_every_branch(void **state)
{
    (void)state;
    assert_int_equal(deleg(&A, 0, &B, 0, 8, MEM_RWX), E_OK);
    assert_int_equal(deleg(&A, 0, &C, 0, 8, MEM_RW), E_OK);
    assert_int_equal(deleg(&B, 0, &D, 0, 4, MEM_R), E_OK);
    assert_int_equal(deleg(&B, 4, &D, 10, 4, MEM_W), E_OK);
    assert_int_equal(deleg(&C, 2, &D, 20, 4, MEM_RW), E_OK);
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 0, 8, MEM_RWX, false), E_OK);
    assert_int_equal(nodes(&B) + nodes(&C) + nodes(&D), 0);
    assert_int_equal(A.rights[7], MEM_RWX);
}

static void revoking_one_right_downgrades_every_derived_mapping(void **state)
{
    (void)state;
    chain_abc();
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 0, 16, MEM_W, false), E_OK);
    assert_int_equal(A.rights[3], MEM_RWX);
    assert_int_equal(B.rights[103], MEM_R | MEM_X);
    assert_int_equal(C.rights[203], MEM_R | MEM_X);
    assert_true(B.protects > 0 && C.protects > 0);
    assert_int_equal(B.unmaps + C.unmaps, 0);
}

static void revoking_the_middle_of_a_mapping_splits_it_into_three(void **state)
{
    (void)state;
    chain_abc();
    assert_int_equal(mdb_revoke(&db, NULL, &B.s, 104, 4, MEM_W, true), E_OK);
    assert_int_equal(nodes(&B), 3);
    assert_int_equal(nodes(&C), 3);
    assert_int_equal(B.rights[103], MEM_RWX);
    assert_int_equal(B.rights[104], MEM_R | MEM_X);
    assert_int_equal(B.rights[107], MEM_R | MEM_X);
    assert_int_equal(B.rights[108], MEM_RWX);
    assert_int_equal(C.rights[207], MEM_R | MEM_X);
    assert_int_equal(C.rights[208], MEM_RWX);
}

static void removing_the_middle_of_a_mapping_leaves_two_pieces(void **state)
{
    (void)state;
    chain_abc();
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 4, 4, MEM_RWX, false), E_OK);
    assert_int_equal(nodes(&B), 2);
    assert_int_equal(nodes(&C), 2);
    assert_int_equal(C.rights[203], MEM_RWX);
    assert_int_equal(C.rights[204], 0);
    assert_int_equal(C.rights[208], MEM_RWX);
}

static void partial_delegation_derives_only_the_delegated_units(void **state)
{
    (void)state;
    assert_int_equal(deleg(&A, 0, &B, 0, 16, MEM_RWX), E_OK);
    assert_int_equal(deleg(&B, 5, &C, 0, 3, MEM_R), E_OK);
    assert_int_equal(mdb_revoke(&db, NULL, &B.s, 0, 5, MEM_RWX, false), E_OK);
    assert_int_equal(C.rights[0], MEM_R);
    assert_int_equal(mdb_revoke(&db, NULL, &B.s, 7, 1, MEM_RWX, false), E_OK);
    assert_int_equal(C.rights[1], MEM_R);
    assert_int_equal(C.rights[2], 0);
}

static void a_source_range_over_adjacent_nodes_gives_one_child_per_piece(void **state)
{
    (void)state;
    struct mdb_info in[4];
    assert_int_equal(deleg(&A, 0, &B, 0, 4, MEM_RW), E_OK);
    assert_int_equal(deleg(&A, 10, &B, 4, 4, MEM_R), E_OK);
    assert_int_equal(deleg(&B, 2, &C, 0, 4, MEM_RWX), E_OK);
    assert_int_equal(mdb_walk(&C.s, in, 4), 2);
    assert_int_equal(in[0].rights, MEM_RW);
    assert_int_equal(in[1].rights, MEM_R);
    assert_int_equal(in[1].target, ROOT_TARGET + 10);
}

static void redelegating_with_more_rights_upgrades_without_overwriting(void **state)
{
    (void)state;
    assert_int_equal(deleg(&A, 0, &B, 0, 8, MEM_R), E_OK);
    assert_int_equal(deleg(&B, 0, &C, 0, 8, MEM_R), E_OK);
    assert_int_equal(deleg(&A, 2, &B, 2, 2, MEM_W), E_OK);
    assert_int_equal(effect, MDB_UPGRADED);
    assert_int_equal(B.rights[1], MEM_R);
    assert_int_equal(B.rights[2], MEM_RW);
    assert_int_equal(B.rights[4], MEM_R);
    assert_int_equal(C.rights[2], MEM_R);
    /* The derived mapping in C still hangs off B: revoking B reaches it. */
    assert_int_equal(mdb_revoke(&db, NULL, &B.s, 0, 8, MEM_RWX, false), E_OK);
    assert_int_equal(nodes(&C), 0);
}

static void a_delegation_that_half_fills_a_hole_creates_and_upgrades(void **state)
{
    (void)state;
    assert_int_equal(deleg(&A, 0, &B, 0, 4, MEM_R), E_OK);
    assert_int_equal(deleg(&A, 0, &B, 0, 8, MEM_RW), E_OK);
    assert_int_equal(effect, MDB_CREATED | MDB_UPGRADED);
    assert_int_equal(nodes(&B), 1);
    assert_int_equal(B.rights[7], MEM_RW);
}

static void redelegating_the_same_rights_reports_no_effect(void **state)
{
    (void)state;
    assert_int_equal(deleg(&A, 0, &B, 0, 8, MEM_RW), E_OK);
    unsigned maps = B.maps;
    assert_int_equal(deleg(&A, 0, &B, 0, 8, MEM_R), E_OK);
    assert_int_equal(effect, 0);
    assert_int_equal(B.maps, maps);
}

static void delegation_over_a_foreign_mapping_is_busy_and_changes_nothing(void **state)
{
    (void)state;
    struct world w;
    assert_int_equal(deleg(&A, 0, &B, 0, 8, MEM_RW), E_OK);
    snapshot(&w);
    assert_int_equal(deleg(&A, 1, &B, 0, 8, MEM_RW), E_BUSY);     /* other source unit */
    assert_int_equal(deleg(&A, 0, &B, 4, 8, MEM_RW), E_BUSY);     /* shifted */
    assert_int_equal(deleg(&A, 0, &A, 10, 20, MEM_RW), E_BUSY);   /* onto itself */
    assert_true(unchanged(&w));
}

static void every_delegation_error_leaves_the_database_unchanged(void **state)
{
    (void)state;
    struct world w;
    assert_int_equal(deleg(&A, 0, &B, 0, 4, MEM_R), E_OK);
    snapshot(&w);
    assert_int_equal(deleg(&A, 0, &C, 0, 0, MEM_R), E_ARG);
    assert_int_equal(deleg(&A, 0, &C, 0, 4, 0), E_ARG);
    assert_int_equal(deleg(&A, UINT64_MAX - 1, &C, 0, 4, MEM_R), E_RANGE);
    assert_int_equal(deleg(&A, 0, &C, UINT64_MAX - 1, 4, MEM_R), E_RANGE);
    assert_int_equal(deleg(&A, 0, &C, FAKE_UNITS - 2, 4, MEM_R), E_RANGE);
    assert_int_equal(deleg(&A, 60, &C, 0, 8, MEM_R), E_NOENT);     /* runs off A's root */
    assert_int_equal(deleg(&B, 0, &C, 0, 4, MEM_W), E_PERM);       /* B only has R */
    assert_int_equal(deleg(&A, 10, &B, 2, 4, MEM_R), E_BUSY);
    assert_true(unchanged(&w));
}

static void every_revoke_error_leaves_the_database_unchanged(void **state)
{
    (void)state;
    struct world w;
    struct mdb_revoke op;
    chain_abc();
    snapshot(&w);
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 0, 0, MEM_R, true), E_ARG);
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 0, 4, 0, true), E_ARG);
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, UINT64_MAX, 2, MEM_R, true), E_RANGE);
    assert_int_equal(mdb_revoke_begin(&op, &A.s, FAKE_UNITS - 1, 2, MEM_R, true), E_RANGE);
    assert_true(unchanged(&w));
}

static void revoking_an_empty_range_succeeds_and_changes_nothing(void **state)
{
    (void)state;
    struct world w;
    chain_abc();
    snapshot(&w);
    assert_int_equal(mdb_revoke(&db, NULL, &D.s, 0, 100, MEM_RWX, true), E_OK);
    assert_true(unchanged(&w));
}

static void delegation_out_of_memory_at_every_allocation_changes_nothing(void **state)
{
    (void)state;
    struct world w;
    int err = E_NOMEM;
    chain_abc();
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 4, 4, MEM_W, false), E_OK); /* B, C in 3 pieces */
    assert_int_equal(deleg(&A, 20, &B, 116, 4, MEM_R), E_OK);
    snapshot(&w);
    /* Upgrade B's middle (splits in B and C) and fill the hole after B: many nodes. */
    for (long k = 0; err == E_NOMEM; k++) {
        fake_reset();
        fake_fail_at = k;
        err = deleg(&A, 2, &B, 102, 20, MEM_RWX);
        if (err == E_NOMEM)
            assert_true(unchanged(&w));
    }
    fake_reset();
    assert_int_equal(err, E_BUSY);                     /* 116.. comes from A's 20.. */
    for (err = E_NOMEM, w.d[0].n = 0; err == E_NOMEM;) {
        long k = w.d[0].n++;
        struct world v;
        snapshot(&v);
        fake_reset();
        fake_fail_at = k;
        err = deleg(&A, 2, &B, 102, 12, MEM_RWX);
        if (err == E_NOMEM)
            assert_true(unchanged(&v));
    }
    fake_reset();
    assert_int_equal(err, E_OK);
    assert_int_equal(effect, MDB_UPGRADED);
    assert_int_equal(B.rights[105], MEM_RWX);
    assert_int_equal(C.rights[205], MEM_R | MEM_X);
}

static void a_decoded_delegation_performs_without_allocating(void **state)
{
    (void)state;
    struct mdb_delegation d;
    struct world w;
    chain_abc();
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 4, 4, MEM_W, false), E_OK); /* B, C in 3 pieces */
    snapshot(&w);
    /* Upgrade B's middle: splits in B and C, so perform takes reserved nodes. */
    assert_int_equal(mdb_delegate_decode(&db, &d, &A.s, 5, &B.s, 105, 2, MEM_RWX), E_OK);
    assert_true(unchanged(&w));                         /* decode only reserves */
    assert_true(d.need > 0);
    long allocs = fake_allocs;
    fake_fail_at = allocs;                              /* any allocation from here fails */
    assert_int_equal(mdb_delegate_perform(&db, NULL, &d), MDB_UPGRADED);
    fake_reset();
    assert_int_equal(B.rights[104], MEM_R | MEM_X);
    assert_int_equal(B.rights[106], MEM_RWX);
    assert_int_equal(B.rights[107], MEM_R | MEM_X);
    assert_int_equal(C.rights[205], MEM_R | MEM_X);
}

static void a_reserved_root_inserts_without_allocating_or_cancels_to_nothing(void **state)
{
    (void)state;
    struct mdb_root r;
    long live = fake_live;
    assert_int_equal(mdb_root_check(&B.s, 0, 8, 5000, MEM_RW), E_OK);
    assert_int_equal(mdb_root_reserve(&db, &r, &B.s), E_OK);
    mdb_root_cancel(&db, &r);
    assert_int_equal(fake_live, live);
    assert_int_equal(nodes(&B), 0);
    assert_int_equal(mdb_root_reserve(&db, &r, &B.s), E_OK);
    fake_reset();
    fake_fail_at = 0;                                   /* the next allocation fails */
    mdb_root_perform(&r, NULL, &B.s, 0, 8, 5000, MEM_RW);
    fake_reset();
    assert_int_equal(nodes(&B), 1);
    assert_int_equal(B.rights[7], MEM_RW);
    assert_int_equal(mdb_root_check(&B.s, 7, 2, 6000, MEM_RW), E_BUSY);
}

static void revoke_out_of_memory_changes_nothing_and_can_be_retried(void **state)
{
    (void)state;
    struct world w;
    struct mdb_revoke op;
    chain_abc();
    snapshot(&w);
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 4, 4, MEM_W, true), E_OK);
    for (long k = 0; k < 6; k++) {       /* a later allocation fails: still nothing */
        fake_reset();
        fake_fail_at = k;
        assert_int_equal(mdb_revoke_step(&db, NULL, &op, 64, UINT64_MAX), E_NOMEM);
        assert_true(unchanged(&w));
    }
    fake_reset();
    assert_int_equal(mdb_revoke_step(&db, NULL, &op, 64, UINT64_MAX), E_OK);
    assert_int_equal(C.rights[204], MEM_R | MEM_X);
}

/* Build the same delegation tree in the current world (fan-out plus a chain). */
static void build_tree(void)
{
    assert_int_equal(deleg(&A, 0, &B, 0, 40, MEM_RWX), E_OK);
    assert_int_equal(deleg(&B, 3, &C, 50, 30, MEM_RW), E_OK);
    assert_int_equal(deleg(&A, 10, &D, 0, 20, MEM_RX), E_OK);
    assert_int_equal(deleg(&C, 55, &D, 30, 10, MEM_R), E_OK);
    assert_int_equal(deleg(&B, 0, &B, 100, 20, MEM_RW), E_OK);   /* within one space */
}

/* Per-unit contents of the four arrays (node identities aside). */
struct arrays {
    unsigned r[4][FAKE_UNITS];
    size_t n[4];
};

/* Record the per-unit rights and node counts. */
static void arrays_get(struct arrays *a)
{
    struct fake_space *all[] = { &A, &B, &C, &D };
    for (int i = 0; i < 4; i++) {
        memcpy(a->r[i], all[i]->rights, sizeof(a->r[i]));
        a->n[i] = nodes(all[i]);
        assert_true(fake_agrees(all[i]));
    }
}

static void a_revoke_in_budget_one_steps_equals_one_big_step(void **state)
{
    struct arrays big, small;
    struct mdb_revoke op;
    int err, steps = 0;
    build_tree();
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 5, 30, MEM_W, true), E_OK);
    arrays_get(&big);
    teardown(state);
    setup(state);
    build_tree();
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 5, 30, MEM_W, true), E_OK);
    while ((err = mdb_revoke_step(&db, NULL, &op, 1, UINT64_MAX)) == MDB_MORE)
        steps++;
    assert_int_equal(err, E_OK);
    assert_int_equal(steps, 29);
    arrays_get(&small);
    assert_memory_equal(&big, &small, sizeof(big));
}

static void a_partial_right_revoke_in_small_steps_does_not_fragment(void **state)
{
    (void)state;
    struct mdb_revoke op;
    chain_abc();
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 0, 16, MEM_X, false), E_OK);
    while (mdb_revoke_step(&db, NULL, &op, 1, UINT64_MAX) == MDB_MORE)
        ;
    assert_int_equal(nodes(&B), 1);
    assert_int_equal(nodes(&C), 1);
    assert_int_equal(C.rights[215], MEM_RW);
}

static void a_revoke_step_touches_at_most_budget_units_per_mapping(void **state)
{
    (void)state;
    struct mdb_revoke op;
    int steps = 0;
    assert_int_equal(deleg(&A, 0, &B, 0, 64, MEM_RWX), E_OK);
    assert_int_equal(deleg(&B, 0, &C, 0, 64, MEM_RWX), E_OK);
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 0, 64, MEM_W, true), E_OK);
    while (mdb_revoke_step(&db, NULL, &op, 4, UINT64_MAX) == MDB_MORE)
        steps++;
    assert_int_equal(steps, 15);
    assert_int_equal(A.max_cut, 4);
    assert_int_equal(B.max_cut, 4);
    assert_int_equal(C.max_cut, 4);
    assert_int_equal(C.rights[63], MEM_R | MEM_X);
    assert_int_equal(nodes(&A) + nodes(&B) + nodes(&C), 3);
}

static void a_delegation_between_revoke_steps_does_not_escape_the_revoke(void **state)
{
    (void)state;
    struct mdb_revoke op;
    assert_int_equal(deleg(&A, 0, &B, 0, 8, MEM_RWX), E_OK);
    assert_int_equal(mdb_revoke_begin(&op, &B.s, 0, 8, MEM_RWX, false), E_OK);
    assert_int_equal(mdb_revoke_step(&db, NULL, &op, 2, UINT64_MAX), MDB_MORE);   /* 0, 1 done */
    assert_int_equal(deleg(&B, 6, &C, 6, 1, MEM_RW), E_OK);         /* not yet revoked */
    assert_int_equal(deleg(&B, 0, &C, 0, 1, MEM_RW), E_OK);         /* after the revoke */
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 40, 4, MEM_RWX, true), E_OK); /* unrelated */
    while (mdb_revoke_step(&db, NULL, &op, 2, UINT64_MAX) == MDB_MORE)
        ;
    assert_int_equal(C.rights[6], 0);
    assert_int_equal(C.rights[0], MEM_RW);
}

static void teardown_of_a_middle_space_removes_it_and_what_derives_from_it(void **state)
{
    (void)state;
    chain_abc();
    assert_int_equal(deleg(&A, 20, &D, 0, 4, MEM_R), E_OK);
    long before = fake_live;
    while (mdb_teardown_step(&db, NULL, &B.s, 1) == MDB_MORE)
        ;
    assert_int_equal(nodes(&B) + nodes(&C), 0);
    assert_int_equal(fake_live, before - 3);        /* B's and C's nodes, and B's kin */
    assert_int_equal(A.rights[0], MEM_RWX);
    assert_int_equal(D.rights[0], MEM_R);
}

static void teardown_frees_every_node(void **state)
{
    (void)state;
    build_tree();
    fake_teardown(&db, &A);
    assert_int_equal(nodes(&A) + nodes(&B) + nodes(&C) + nodes(&D), 0);
    assert_int_equal(fake_live, 0);
}

/* ---- large spaces: hooks that only count ---------------------------------------- */

#define BIG_UNITS (1ULL << 20)  /* a million-page space */
#define DEPTH     100000        /* derivation chain deeper than any stack could recurse */

static uint64_t big_mapped, big_max_cut;

/* Hook: count mapped units. */
static void big_map(struct mdb_space *s, struct shootdown_batch *bt, uint64_t base, uint64_t size,
                    uint64_t target, unsigned rights)
{
    (void)s, (void)bt, (void)base, (void)target, (void)rights;
    big_mapped += size;
}

/* Hook: note the largest range one call covers. */
static void big_protect(struct mdb_space *s, struct shootdown_batch *bt,
                        uint64_t base, uint64_t size, unsigned rights)
{
    (void)s, (void)bt, (void)base, (void)rights;
    big_max_cut = MAX(big_max_cut, size);
}

/* Hook: count unmapped units, note the largest range. */
static void big_unmap(struct mdb_space *s, struct shootdown_batch *bt, uint64_t base, uint64_t size)
{
    (void)s, (void)bt, (void)base;
    big_mapped -= size;
    big_max_cut = MAX(big_max_cut, size);
}

static const struct mdb_ops big_ops = { big_map, big_protect, big_unmap, NULL };

static void a_million_unit_revoke_runs_in_bounded_steps(void **state)
{
    (void)state;
    struct mdb_space a, b, c;
    struct mdb_revoke op;
    long steps = 0;
    mdb_space_init(&a, &big_ops, NULL, BIG_UNITS);
    mdb_space_init(&b, &big_ops, NULL, BIG_UNITS);
    mdb_space_init(&c, &big_ops, NULL, BIG_UNITS);
    big_mapped = big_max_cut = 0;
    assert_int_equal(mdb_insert_root(&db, NULL, &a, 0, BIG_UNITS, 0, MEM_RWX), E_OK);
    assert_int_equal(deleg_s(&a, 0, &b, 0, BIG_UNITS, MEM_RWX), E_OK);
    assert_int_equal(deleg_s(&b, 0, &c, 0, BIG_UNITS, MEM_RW), E_OK);
    assert_int_equal(mdb_revoke_begin(&op, &a, 0, BIG_UNITS, MEM_W, false), E_OK);
    while (mdb_revoke_step(&db, NULL, &op, 64, UINT64_MAX) == MDB_MORE)
        steps++;
    assert_int_equal(steps, BIG_UNITS / 64 - 1);
    assert_int_equal(big_max_cut, 64);
    assert_int_equal(a.nodes + b.nodes + c.nodes, 3);      /* no fragments left */
    assert_int_equal(mdb_revoke(&db, NULL, &a, 0, BIG_UNITS, MEM_RWX, false), E_OK);
    assert_int_equal(big_mapped, BIG_UNITS);               /* only a's own mapping */
    while (mdb_teardown_step(&db, NULL, &a, 64) == MDB_MORE)
        ;
}

static void a_very_deep_derivation_chain_is_revoked_without_recursion(void **state)
{
    (void)state;
    struct mdb_space a, b;
    mdb_space_init(&a, &big_ops, NULL, DEPTH);
    mdb_space_init(&b, &big_ops, NULL, DEPTH);
    big_mapped = 0;
    assert_int_equal(mdb_insert_root(&db, NULL, &a, 0, 1, 7, MEM_RWX), E_OK);
    /* a[0] -> b[0] -> a[1] -> b[1] -> ... */
    for (uint64_t i = 0; i + 1 < DEPTH; i++) {
        assert_int_equal(deleg_s(&a, i, &b, i, 1, MEM_RWX), E_OK);
        assert_int_equal(deleg_s(&b, i, &a, i + 1, 1, MEM_RWX), E_OK);
    }
    assert_int_equal(a.nodes + b.nodes, 2 * DEPTH - 1);
    assert_true(mdb_check(&a) && mdb_check(&b));
    assert_int_equal(mdb_revoke(&db, NULL, &b, 0, 1, MEM_W, true), E_OK);   /* protect all */
    assert_int_equal(mdb_revoke(&db, NULL, &a, 0, 1, MEM_RWX, false), E_OK);
    assert_int_equal(a.nodes + b.nodes, 1);
    assert_int_equal(big_mapped, 1);
    while (mdb_teardown_step(&db, NULL, &a, 64) == MDB_MORE)
        ;
}

#define WIDE_N      200     /* B's units derived from A's unit 0 (a wide tree) */
#define DEEP_WORK   8       /* node budget of the deep-path tests */

/* B [0, WIDE_N) each derived from A's unit 0 (one node each: the targets repeat). */
static void wide_tree(unsigned rights)
{
    for (uint64_t i = 0; i < WIDE_N; i++)
        assert_int_equal(deleg(&A, 0, &B, i, 1, rights), E_OK);
    assert_int_equal(nodes(&B), WIDE_N);
}

/* Whether every space's structure holds and its hooks agree with it. */
static bool all_consistent(void)
{
    struct fake_space *all[] = { &A, &B, &C, &D };
    for (unsigned i = 0; i < ARRAY_SIZE(all); i++)
        if (!mdb_check(&all[i]->s) || !fake_agrees(all[i]))
            return false;
    return true;
}

static void
a_unit_with_more_derived_nodes_than_the_budget_is_revoked_over_bounded_steps(void **state)
{
    (void)state;
    struct mdb_revoke op;
    int err, steps = 0;
    wide_tree(MEM_RWX);
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 0, 1, MEM_RWX, false), E_OK);
    do {
        unsigned before = B.unmaps;
        err = mdb_revoke_step(&db, NULL, &op, 512, DEEP_WORK);
        assert_true(B.unmaps - before <= DEEP_WORK);    /* work per step bounded */
        assert_true(all_consistent());
        steps++;
    } while (err == MDB_MORE);
    assert_int_equal(err, E_OK);
    assert_true(steps >= WIDE_N / DEEP_WORK);
    assert_int_equal(nodes(&B), 0);
    assert_int_equal(A.rights[0], MEM_RWX);             /* not include_self */
    assert_int_equal(A.rights[1], MEM_RWX);
}

static void a_partial_right_deep_revoke_protects_every_derived_node_once(void **state)
{
    (void)state;
    struct mdb_revoke op;
    int err;
    wide_tree(MEM_RWX);
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 0, 1, MEM_W, true), E_OK);
    do {
        unsigned before = B.protects;
        err = mdb_revoke_step(&db, NULL, &op, 512, DEEP_WORK);
        assert_true(B.protects - before <= DEEP_WORK);
    } while (err == MDB_MORE);
    assert_int_equal(err, E_OK);
    assert_int_equal(B.protects, WIDE_N);
    for (unsigned i = 0; i < WIDE_N; i++)
        assert_int_equal(B.rights[i], MEM_RX);
    assert_int_equal(A.rights[0], MEM_RX);
    assert_int_equal(A.rights[1], MEM_RWX);             /* outside the revoked unit */
    assert_true(all_consistent());
}

static void a_delegation_in_the_middle_of_a_deep_unit_does_not_escape_it(void **state)
{
    (void)state;
    struct mdb_revoke op;
    wide_tree(MEM_RWX);
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 0, 1, MEM_RWX, false), E_OK);
    assert_int_equal(mdb_revoke_step(&db, NULL, &op, 512, DEEP_WORK), MDB_MORE);
    assert_true(op.deep);                               /* the unit is part done */
    assert_true(nodes(&B) < WIDE_N && nodes(&B) > 0);
    /* B's last unit was delegated last, so it is the last child visited: still held. */
    assert_int_equal(B.rights[WIDE_N - 1], MEM_RWX);
    assert_int_equal(deleg(&B, WIDE_N - 1, &C, 7, 1, MEM_RW), E_OK);
    assert_int_equal(deleg(&A, 0, &D, 9, 1, MEM_R), E_OK);     /* from the unit itself */
    while (mdb_revoke_step(&db, NULL, &op, 512, DEEP_WORK) == MDB_MORE)
        ;
    assert_int_equal(nodes(&B), 0);
    assert_int_equal(C.rights[7], 0);                  /* derived from a not yet done node */
    assert_int_equal(D.rights[9], 0);                  /* a child of the unit before it was done */
    assert_true(all_consistent());
}

static void a_deep_chain_is_revoked_in_steps_that_resume_where_they_stopped(void **state)
{
    (void)state;
    struct mdb_revoke op;
    int err;
    /* A0 -> B0 -> C0 -> B1 -> C1 -> ... : 2 * 100 nodes deep. */
    assert_int_equal(deleg(&A, 0, &B, 0, 1, MEM_RWX), E_OK);
    for (uint64_t i = 0; i < 100; i++) {
        assert_int_equal(deleg(&B, i, &C, i, 1, MEM_RWX), E_OK);
        if (i + 1 < 100)
            assert_int_equal(deleg(&C, i, &B, i + 1, 1, MEM_RWX), E_OK);
    }
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 0, 1, MEM_RWX, true), E_OK);
    do {
        unsigned before = B.unmaps + C.unmaps;
        err = mdb_revoke_step(&db, NULL, &op, 512, DEEP_WORK);
        assert_true(B.unmaps + C.unmaps - before <= DEEP_WORK);
    } while (err == MDB_MORE);
    assert_int_equal(err, E_OK);
    assert_int_equal(nodes(&B) + nodes(&C), 0);
    assert_int_equal(A.rights[0], 0);
    assert_int_equal(A.rights[1], MEM_RWX);
    assert_true(all_consistent());
}

static void a_deep_unit_split_out_of_memory_changes_nothing(void **state)
{
    (void)state;
    struct world w;
    struct mdb_revoke op;
    wide_tree(MEM_RWX);
    /* Unit 1 of A's node [0, 64), with more derived nodes than the budget; C [0, 3) from A
       [0, 3) straddles both ends and keeps R there: its cut needs two nodes. */
    assert_int_equal(deleg(&A, 0, &C, 0, 3, MEM_RWX), E_OK);
    for (unsigned i = 0; i < WIDE_N / 2; i++)
        assert_int_equal(deleg(&A, 1, &D, i, 1, MEM_RWX), E_OK);
    snapshot(&w);
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 1, 1, MEM_W, false), E_OK);
    /* The steps skip B's nodes first (charged, nothing changes), then reach C's cut. */
    for (long k = 0, steps = 0; k < 2; steps++) {       /* either cut's node missing */
        assert_true(steps < WIDE_N);
        fake_reset();
        fake_fail_at = k;
        int err = mdb_revoke_step(&db, NULL, &op, 512, DEEP_WORK);
        assert_true(op.work <= 2 * DEEP_WORK + 2);
        assert_true(unchanged(&w));
        assert_true(all_consistent());
        if (err == E_NOMEM)
            k++;
        else
            assert_int_equal(err, MDB_MORE);
    }
    fake_reset();
    while (mdb_revoke_step(&db, NULL, &op, 512, DEEP_WORK) == MDB_MORE)
        ;
    assert_int_equal(C.rights[0], MEM_RWX);
    assert_int_equal(C.rights[1], MEM_RX);
    assert_int_equal(C.rights[2], MEM_RWX);
    for (unsigned i = 0; i < WIDE_N / 2; i++)
        assert_int_equal(D.rights[i], MEM_RX);
    assert_int_equal(nodes(&C), 3);                     /* cut at both ends */
    assert_int_equal(nodes(&B), WIDE_N);                /* derived from unit 0: untouched */
    assert_int_equal(nodes(&A), 1);                     /* not include_self: never cut */
    assert_true(all_consistent());
}

static void a_partial_right_revoke_of_a_wide_range_in_deep_steps_does_not_fragment(void **state)
{
    (void)state;
    struct mdb_revoke op;
    int err;
    /* Ten children of A's node in B, 16 units each: more than the node budget per piece. */
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(deleg(&A, 0, &B, 16 * i, 16, MEM_RWX), E_OK);
    assert_int_equal(nodes(&B), 10);
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 0, 16, MEM_W, false), E_OK);
    while ((err = mdb_revoke_step(&db, NULL, &op, 4, DEEP_WORK)) == MDB_MORE)
        ;
    assert_int_equal(err, E_OK);
    assert_int_equal(nodes(&B), 10);
    for (uint64_t i = 0; i < 160; i++)
        assert_int_equal(B.rights[i], MEM_RX);
    assert_true(all_consistent());
}

static void a_revoke_over_a_huge_empty_range_is_one_step(void **state)
{
    (void)state;
    struct mdb_space big;
    struct mdb_revoke op;
    mdb_space_init(&big, &fake_ops, NULL, UINT64_MAX / 2);
    assert_int_equal(mdb_revoke_begin(&op, &big, 0, UINT64_MAX / 2, MEM_RWX, true), E_OK);
    assert_int_equal(mdb_revoke_step(&db, NULL, &op, 512, 64), E_OK);
    /* Holes between held units are jumped: two far apart units, one step each at most. */
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 0, FAKE_UNITS, MEM_W, true), E_OK);
    assert_int_equal(mdb_revoke_step(&db, NULL, &op, 512, 64), E_OK);
    assert_int_equal(A.rights[63], MEM_RX);
}

/* Each mutating call hands the batch its caller passed to every hook it calls (the kernel's
   hooks record shootdowns and frees there), not the batch of an earlier call. */
static void every_hook_gets_the_batch_of_the_call_that_runs_it(void **state)
{
    (void)state;
    static char mark[5];
    struct shootdown_batch *b[5];
    for (int i = 0; i < 5; i++)
        b[i] = (struct shootdown_batch *)&mark[i];
    D.batch = NULL;
    assert_int_equal(mdb_insert_root(&db, b[0], &D.s, 0, 4, 7000, MEM_RWX), E_OK);
    assert_ptr_equal(D.batch, b[0]);
    B.batch = NULL;
    assert_int_equal(mdb_delegate(&db, b[1], &A.s, 0, &B.s, 0, 8, MEM_RWX, &effect, &done_units),
                     E_OK);
    assert_ptr_equal(B.batch, b[1]);                    /* map */
    B.batch = NULL;
    assert_int_equal(mdb_revoke(&db, b[2], &A.s, 0, 8, MEM_W, false), E_OK);
    assert_ptr_equal(B.batch, b[2]);                    /* protect */
    struct mdb_revoke op;
    B.batch = NULL;
    assert_int_equal(mdb_revoke_begin(&op, &A.s, 0, 8, MEM_RWX, false), E_OK);
    assert_int_equal(mdb_revoke_step(&db, b[3], &op, 8, 64), E_OK);
    assert_ptr_equal(B.batch, b[3]);                    /* unmap */
    D.batch = NULL;
    assert_int_equal(mdb_teardown_step(&db, b[4], &D.s, 8), E_OK);
    assert_ptr_equal(D.batch, b[4]);                    /* unmap of a teardown */
}

/* Who pays: a node its space, a kin its node's space, a revoke's cuts the revoking space; the
   teardown of the revoking space frees everything it paid for, in every space. */
static void nodes_are_charged_to_the_space_that_pays(void **state)
{
    (void)state;
    assert_int_equal(A.charged, 1);                     /* the root node */
    assert_int_equal(deleg(&A, 0, &B, 0, 8, MEM_RW), E_OK);
    assert_int_equal(B.charged, 1);                     /* B's node */
    assert_int_equal(A.charged, 2);                     /* and the kin of A's node */
    assert_int_equal(deleg(&B, 2, &C, 0, 2, MEM_R), E_OK);
    assert_int_equal(C.charged, 1);
    assert_int_equal(B.charged, 2);
    long a0 = A.charged;
    assert_int_equal(mdb_revoke(&db, NULL, &A.s, 3, 1, MEM_W, false), E_OK);
    assert_int_equal(nodes(&B), 3);                     /* B's node cut at 3 and 4 */
    assert_int_equal(nodes(&C), 2);                     /* C's at 1 */
    assert_int_equal(A.charged, a0 + 3);                /* the three cuts: charged to A */
    assert_int_equal(B.charged, 2);
    assert_int_equal(C.charged, 1);
    fake_teardown(&db, &A);
    assert_int_equal(A.charged + B.charged + C.charged, 0);
    assert_int_equal(fake_live, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(a_root_maps_its_range_into_the_space),
        T(every_hook_gets_the_batch_of_the_call_that_runs_it),
        T(nodes_are_charged_to_the_space_that_pays),
        T(a_root_over_an_occupied_range_is_refused_busy),
        T(lookup_of_an_empty_unit_is_noent),
        T(a_range_is_empty_exactly_when_no_node_overlaps_it),
        T(delegation_into_a_hole_creates_a_mapping_with_intersected_rights),
        T(consecutive_delegations_grow_one_node_without_allocating),
        T(a_hole_and_a_cutting_upgrade_take_two_calls),
        T(revoking_at_a_removes_access_in_b_and_c),
        T(revoking_at_b_leaves_a_intact),
        T(revoke_without_include_self_keeps_the_callers_mapping),
        T(revoke_with_include_self_removes_the_callers_mapping_too),
        T(revoking_a_fan_out_tree_reaches_every_branch),
        T(revoking_one_right_downgrades_every_derived_mapping),
        T(revoking_the_middle_of_a_mapping_splits_it_into_three),
        T(removing_the_middle_of_a_mapping_leaves_two_pieces),
        T(partial_delegation_derives_only_the_delegated_units),
        T(a_source_range_over_adjacent_nodes_gives_one_child_per_piece),
        T(redelegating_with_more_rights_upgrades_without_overwriting),
        T(a_delegation_that_half_fills_a_hole_creates_and_upgrades),
        T(redelegating_the_same_rights_reports_no_effect),
        T(delegation_over_a_foreign_mapping_is_busy_and_changes_nothing),
        T(every_delegation_error_leaves_the_database_unchanged),
        T(every_revoke_error_leaves_the_database_unchanged),
        T(revoking_an_empty_range_succeeds_and_changes_nothing),
        T(delegation_out_of_memory_at_every_allocation_changes_nothing),
        T(revoke_out_of_memory_changes_nothing_and_can_be_retried),
        T(a_decoded_delegation_performs_without_allocating),
        T(a_reserved_root_inserts_without_allocating_or_cancels_to_nothing),
        T(a_revoke_in_budget_one_steps_equals_one_big_step),
        T(a_partial_right_revoke_in_small_steps_does_not_fragment),
        T(a_revoke_step_touches_at_most_budget_units_per_mapping),
        T(a_delegation_between_revoke_steps_does_not_escape_the_revoke),
        T(teardown_of_a_middle_space_removes_it_and_what_derives_from_it),
        T(teardown_frees_every_node),
        T(a_million_unit_revoke_runs_in_bounded_steps),
        T(a_very_deep_derivation_chain_is_revoked_without_recursion),
        T(a_unit_with_more_derived_nodes_than_the_budget_is_revoked_over_bounded_steps),
        T(a_partial_right_deep_revoke_protects_every_derived_node_once),
        T(a_delegation_in_the_middle_of_a_deep_unit_does_not_escape_it),
        T(a_deep_chain_is_revoked_in_steps_that_resume_where_they_stopped),
        T(a_deep_unit_split_out_of_memory_changes_nothing),
        T(a_partial_right_revoke_of_a_wide_range_in_deep_steps_does_not_fragment),
        T(a_revoke_over_a_huge_empty_range_is_one_step),
    };
    return cmocka_run_group_tests_name("mdb", tests, NULL, NULL);
}
