/* Page-table engine: map/lookup/unmap, splits and collapses, flush decisions, sync_from, keep. */
#include "ptab_fixture.h"
#include "layout.h"                         /* USER_ADDR: end of user space (exclusive) */

#define PA        GiB(64)                   /* some frame far from the tables */

/* A 4K mapping reads back with its frame, size and attributes. */
static void map_4k_page_reads_back_frame_size_and_attributes(void **state)
{
    (void)state;
    struct fx x; struct ptab_map m;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    struct ptab_attr a = { PTAB_R | PTAB_W | PTAB_U, PTAB_WC };
    assert_int_equal(fx_upd(&x, 0x1234000, PG, PA, a), E_OK);
    assert_true(ptab_lookup(&x.t, 0x1234abc, &m));
    assert_int_equal(m.pa, PA); assert_int_equal(m.va, 0x1234000); assert_int_equal(m.size, PG);
    assert_int_equal(m.level, 0);
    assert_int_equal(m.attr.perm, a.perm);
    assert_int_equal(m.attr.mt, PTAB_WC);
    assert_int_equal(fx_count(&x), 4);
    fx_done(&x);
}

/* A hole reports the size of the missing entry, so callers can skip it. */
static void hole_reports_size_of_missing_entry(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    fx_expect_hole(&x, 0x1234000, GiB(512));
    assert_int_equal(fx_upd(&x, 0x1234000, PG, PA, RW), E_OK);
    fx_expect_hole(&x, 0x1235000, PG);
    fx_expect_hole(&x, 0x1400000, MiB(2));
    fx_expect_hole(&x, GiB(1), GiB(1));
    fx_done(&x);
}

/* An aligned 2M range with an aligned frame becomes one 2M leaf. */
static void aligned_2m_range_maps_as_one_2m_leaf(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, MiB(4), MiB(2), PA, RW), E_OK);
    fx_expect(&x, MiB(5), PA + MiB(1), MiB(2));
    assert_int_equal(x.res.changed, 1);
    assert_int_equal(fx_count(&x), 3);
    fx_done(&x);
}

/* An aligned 1G range with an aligned frame becomes one 1G leaf. */
static void aligned_1g_range_maps_as_one_1g_leaf(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, GiB(3), GiB(1), PA, RO), E_OK);
    fx_expect(&x, GiB(3) + 0x12345000, PA + 0x12345000, GiB(1));
    assert_int_equal(x.res.changed, 1);
    assert_int_equal(fx_count(&x), 2);
    fx_done(&x);
}

/* A frame that is not 2M-aligned forces 4K leaves even for an aligned virtual range. */
static void misaligned_frame_falls_back_to_4k_leaves(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, MiB(2), MiB(2), PA + PG, RW), E_OK);
    fx_expect(&x, MiB(3), PA + PG + MiB(1), PG);
    assert_int_equal(x.res.changed, 512);
    fx_done(&x);
}

/* An unaligned range crossing 2M boundaries uses 4K leaves at the edges and 2M leaves inside. */
static void unaligned_range_uses_4k_edges_and_2m_middle(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    vaddr_t va = MiB(2) - 2 * PG;
    assert_int_equal(fx_upd(&x, va, MiB(4) + 4 * PG, PA + va, RW), E_OK);
    fx_expect(&x, va, PA + va, PG);
    fx_expect(&x, MiB(2), PA + MiB(2), MiB(2));
    fx_expect(&x, MiB(4), PA + MiB(4), MiB(2));
    fx_expect(&x, MiB(6) + PG, PA + MiB(6) + PG, PG);
    fx_expect_hole(&x, va - PG, PG);
    fx_expect_hole(&x, MiB(6) + 2 * PG, PG);
    assert_int_equal(x.res.changed, 2 + 2 + 2);
    fx_done(&x);
}

/* A range crossing a 512G (top-level) boundary is mapped completely on both sides. */
static void range_crossing_top_level_boundary_maps_both_sides(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    vaddr_t va = GiB(512) - 3 * PG;
    assert_int_equal(fx_upd(&x, va, 6 * PG, PA, RW), E_OK);
    for (unsigned i = 0; i < 6; i++)
        fx_expect(&x, va + i * PG, PA + i * PG, PG);
    assert_int_equal(fx_count(&x), 1 + 2 * 3);
    fx_done(&x);
}

/* Unmapping one page of a 2M leaf splits it: the other 511 pages keep their translation. */
static void unmapping_part_of_2m_leaf_splits_it(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, MiB(2), MiB(2), PA, RW), E_OK);
    assert_int_equal(fx_upd(&x, MiB(3), PG, 0, NONE), E_OK);
    assert_true(x.res.flush);
    fx_expect_hole(&x, MiB(3), PG);
    for (vaddr_t va = MiB(2); va < MiB(4); va += PG)
        if (va != MiB(3))
            fx_expect(&x, va, PA + va - MiB(2), PG);
    fx_done(&x);
}

/* Changing one page inside a 1G leaf splits down to a 4K table only where it changes. */
static void changing_one_page_of_1g_leaf_splits_down_to_4k(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, GiB(1), GiB(1), PA, RW), E_OK);
    assert_int_equal(fx_upd(&x, GiB(1) + MiB(6), PG, PA + GiB(8), RO), E_OK);
    fx_expect(&x, GiB(1) + MiB(6), PA + GiB(8), PG);
    fx_expect(&x, GiB(1) + MiB(6) + PG, PA + MiB(6) + PG, PG);
    fx_expect(&x, GiB(1) + MiB(8), PA + MiB(8), MiB(2));
    fx_expect(&x, GiB(1), PA, MiB(2));
    assert_int_equal(fx_count(&x), 4);
    fx_done(&x);
}

/* Filling the last hole of a table that then maps uniformly collapses it into a 2M leaf. */
static void filling_last_hole_collapses_table_into_2m_leaf(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, MiB(2), MiB(2) - PG, PA, RW), E_OK);
    fx_expect(&x, MiB(2), PA, PG);
    assert_int_equal(fx_upd(&x, MiB(4) - PG, PG, PA + MiB(2) - PG, RW), E_OK);
    fx_expect(&x, MiB(3), PA + MiB(1), MiB(2));
    assert_true(x.res.detached);
    assert_int_equal(x.df.count, 1);
    fx_done(&x);
}

/* 512 uniform 2M leaves collapse into a 1G leaf, and the 4K table collapses first. */
static void uniform_2m_leaves_collapse_into_1g_leaf(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, GiB(1) + PG, GiB(1) - PG, PA + PG, RW), E_OK);
    assert_int_equal(fx_upd(&x, GiB(1), PG, PA, RW), E_OK);
    fx_expect(&x, GiB(1), PA, GiB(1));
    assert_int_equal(fx_count(&x), 2);
    assert_int_equal(x.df.count, 2);
    fx_done(&x);
}

/* A leaf that is not uniform with its neighbours (other rights) prevents a collapse. */
static void different_rights_prevent_collapse(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, MiB(2), MiB(2) - PG, PA, RW), E_OK);
    assert_int_equal(fx_upd(&x, MiB(4) - PG, PG, PA + MiB(2) - PG, RO), E_OK);
    fx_expect(&x, MiB(3), PA + MiB(1), PG);
    assert_false(x.res.detached);
    fx_done(&x);
}

/* Mapping a large leaf over a range mapped by a table detaches the table onto the deferred list. */
static void large_leaf_over_table_detaches_it(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, MiB(2), 4 * PG, PA, RW), E_OK);
    assert_int_equal(fx_upd(&x, MiB(2), MiB(2), PA + GiB(1), RW), E_OK);
    fx_expect(&x, MiB(2), PA + GiB(1), MiB(2));
    assert_true(x.res.flush && x.res.detached);
    assert_int_equal(x.df.count, 1);
    fx_done(&x);
}

/* Detached tables stay allocated until the caller releases the deferred list. */
static void detached_tables_are_freed_only_by_dfree_release(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, GiB(2), PG, PA, RW), E_OK);
    size_t live = x.fm.nlive;
    assert_int_equal(fx_upd(&x, GiB(2), PG, 0, NONE), E_OK);
    assert_int_equal(x.fm.nlive, live);
    assert_int_equal(x.df.count, 3);         /* the emptied tables at levels 0, 1 and 2 */
    ptab_dfree_release(&x.df, &x.fm.env);
    assert_int_equal(x.fm.nlive, live - 3);
    fx_done(&x);
}

/* After map and unmap no table below the root remains and the root is all zero. */
static void unmap_drops_emptied_tables(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, GiB(1) - MiB(2) - PG, MiB(4) + 2 * PG, PA, RW), E_OK);
    assert_int_equal(fx_upd(&x, GiB(1) - MiB(2) - PG, MiB(4) + 2 * PG, 0, NONE), E_OK);
    assert_int_equal(fx_count(&x), 1);
    fx_done(&x);
}

/* Without 1G support (leaf_mask) an aligned 1G range becomes 512 2M leaves. */
static void leaf_mask_limits_leaf_sizes(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    x.t.leaf_mask = BIT(0) | BIT(1);
    assert_int_equal(fx_upd(&x, GiB(1), GiB(1), PA, RW), E_OK);
    fx_expect(&x, GiB(1) + MiB(7), PA + MiB(7), MiB(2));
    assert_int_equal(x.res.changed, 512);
    fx_done(&x);
}

/* Unaligned addresses or sizes are refused with E_ALIGN and change nothing. */
static void unaligned_arguments_are_refused(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0x1000 + 8, PG, PA, RW), E_ALIGN);
    assert_int_equal(fx_upd(&x, 0x1000, PG + 1, PA, RW), E_ALIGN);
    assert_int_equal(fx_upd(&x, 0x1000, PG, PA + 1, RW), E_ALIGN);
    assert_int_equal(fx_count(&x), 1);
    fx_done(&x);
}

/* Ranges beyond the address space or frames beyond 52 bits are refused with E_RANGE. */
static void out_of_range_arguments_are_refused(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, (1UL << 48) - PG, 2 * PG, PA, RW), E_RANGE);
    assert_int_equal(fx_upd(&x, 0, PG, 1UL << 52, RW), E_RANGE);
    assert_int_equal(fx_upd(&x, 0, 2 * PG, (1UL << 52) - PG, RW), E_RANGE);
    assert_int_equal(fx_upd(&x, 0, PG, ~0UL & ~(PG - 1), RW), E_RANGE);
    assert_int_equal(fx_count(&x), 1);
    fx_done(&x);
}

/* Unknown permission bits or memory types are refused with E_ARG. */
static void bad_attributes_are_refused(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0, PG, PA, (struct ptab_attr){ PTAB_R | BIT(9), PTAB_WB }), E_ARG);
    assert_int_equal(fx_upd(&x, 0, PG, PA, (struct ptab_attr){ PTAB_R, PTAB_MTYPES }), E_ARG);
    assert_int_equal(fx_count(&x), 1);
    fx_done(&x);
}

/* Kernel (upper half) addresses index the table like their low 48 bits. */
static void upper_half_addresses_use_their_low_bits(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0xffffffff81000000UL, MiB(2), PA, RW), E_OK);
    fx_expect(&x, 0xffffffff81000000UL, PA, MiB(2));
    fx_expect(&x, 0x0000ffff81000000UL, PA, MiB(2));
    fx_done(&x);
}

/* With LA57 (5 levels) addresses above 256 TiB map. */
static void five_level_hpt_maps_above_48_bits(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 5, 0, 64);
    assert_int_equal(fx_upd(&x, 1UL << 52, PG, PA, RW), E_OK);
    fx_expect(&x, 1UL << 52, PA, PG);
    fx_expect_hole(&x, 0, 1UL << 48);
    fx_done(&x);
}

/* A 3-level Dpt spans 512 GiB and refuses more. */
static void three_level_dpt_spans_512g(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_dpt, 3, 0, 64);
    assert_int_equal(fx_upd(&x, GiB(511), GiB(1), PA, RW), E_OK);
    fx_expect(&x, GiB(511), PA, GiB(1));
    assert_int_equal(fx_upd(&x, GiB(511), GiB(2), PA, RW), E_RANGE);
    fx_done(&x);
}

/* A non-coherent walker (PTAB_CAP_CLFLUSH) gets a cache-line flush for every entry write. */
static void non_coherent_walker_gets_cache_flushes(void **state)
{
    (void)state;
    struct fx x, y;
    fx_init(&x, &ptab_dpt, 4, PTAB_CAP_CLFLUSH, 64);
    fx_init(&y, &ptab_dpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0, PG, PA, RW), E_OK);
    assert_int_equal(fx_upd(&y, 0, PG, PA, RW), E_OK);
    assert_int_equal(x.fm.flushes, 4);   /* three new tables published, one leaf */
    assert_int_equal(y.fm.flushes, 0);
    fx_done(&x);
    fx_done(&y);
}

/* Walk with alloc builds tables down to the level asked for; without alloc it stops at the hole. */
static void walk_allocates_only_when_asked(void **state)
{
    (void)state;
    struct fx x; unsigned l;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_non_null(ptab_walk(&x.t, GiB(5), 1, false, &l));
    assert_int_equal(l, 3);
    assert_non_null(ptab_walk(&x.t, GiB(5), 1, true, &l));
    assert_int_equal(l, 1);
    assert_int_equal(fx_count(&x), 3);
    x.fm.fail_after = 0;
    assert_null(ptab_walk(&x.t, GiB(5), 0, true, &l));
    fx_done(&x);
}

/* Filling a hole needs no TLB flush. */
static void filling_a_hole_needs_no_flush(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0, MiB(4) + PG, PA, RW), E_OK);
    assert_false(x.res.flush);
    assert_false(x.res.detached);
    fx_done(&x);
}

/* Adding write or execute rights to the same frame needs no flush. */
static void upgrading_rights_needs_no_flush(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0, PG, PA, RO), E_OK);
    assert_int_equal(fx_upd(&x, 0, PG, PA,
                            (struct ptab_attr){ PTAB_R | PTAB_W | PTAB_XU, PTAB_WB }),
                     E_OK);
    assert_int_equal(x.res.changed, 1);
    assert_false(x.res.flush);
    fx_done(&x);
}

/* Upgrading one page inside a large leaf splits it without a flush. */
static void upgrading_inside_large_leaf_needs_no_flush(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, MiB(2), MiB(2), PA, RO), E_OK);
    assert_int_equal(fx_upd(&x, MiB(2), PG, PA, RW), E_OK);
    assert_false(x.res.flush);
    fx_expect(&x, MiB(2) + PG, PA + PG, PG);
    fx_done(&x);
}

/* Removing write or execute rights needs a flush. */
static void downgrading_rights_needs_flush(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0, PG, PA,
                            (struct ptab_attr){ PTAB_R | PTAB_W | PTAB_XU, PTAB_WB }),
                     E_OK);
    assert_int_equal(fx_upd(&x, 0, PG, PA, (struct ptab_attr){ PTAB_R | PTAB_XU, PTAB_WB }), E_OK);
    assert_true(x.res.flush);
    assert_int_equal(fx_upd(&x, 0, PG, PA, RO), E_OK);
    assert_true(x.res.flush);
    fx_done(&x);
}

/* Pointing a page at another frame needs a flush. */
static void changing_the_frame_needs_flush(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0, PG, PA, RO), E_OK);
    assert_int_equal(fx_upd(&x, 0, PG, PA + PG, RW), E_OK);
    assert_true(x.res.flush);
    fx_done(&x);
}

/* Changing the memory type needs a flush, even with more rights. */
static void changing_memory_type_needs_flush(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0, PG, PA, RO), E_OK);
    assert_int_equal(fx_upd(&x, 0, PG, PA, (struct ptab_attr){ PTAB_R | PTAB_W, PTAB_UC }), E_OK);
    assert_true(x.res.flush);
    fx_done(&x);
}

/* Adding the user or global bit changes who may use the translation: flush. */
static void adding_user_or_global_needs_flush(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0, PG, PA, RO), E_OK);
    assert_int_equal(fx_upd(&x, 0, PG, PA, (struct ptab_attr){ PTAB_R | PTAB_U, PTAB_WB }), E_OK);
    assert_true(x.res.flush);
    assert_int_equal(fx_upd(&x, 0, PG, PA, (struct ptab_attr){ PTAB_R | PTAB_U | PTAB_G, PTAB_WB }),
                     E_OK);
    assert_true(x.res.flush);
    fx_done(&x);
}

/* Unmapping a mapping needs a flush; unmapping a hole does not. */
static void unmapping_needs_flush_unless_nothing_was_mapped(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, GiB(9), GiB(1), 0, NONE), E_OK);
    assert_false(x.res.flush);
    assert_int_equal(fx_upd(&x, 0, PG, PA, RO), E_OK);
    assert_int_equal(fx_upd(&x, PG, PG, 0, NONE), E_OK);
    assert_false(x.res.flush);
    assert_int_equal(fx_upd(&x, 0, 2 * PG, 0, NONE), E_OK);
    assert_true(x.res.flush);
    fx_done(&x);
}

/* Mapping the same thing again changes nothing and needs no flush. */
static void identical_remap_changes_nothing(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, MiB(2), MiB(2), PA, RW), E_OK);
    assert_int_equal(fx_upd(&x, MiB(2) + PG, PG, PA + PG, RW), E_OK);
    assert_int_equal(x.res.changed, 0);
    assert_false(x.res.flush);
    assert_int_equal(fx_count(&x), 3);
    fx_done(&x);
}

/* sync_from copies at the top level for the user region [0, USER_ADDR), 4 or 5 levels. */
static void sync_level_of_user_region_is_top_level(void **state)
{
    (void)state;
    struct ptab t4 = { .levels = 4 }, t5 = { .levels = 5 }, t3 = { .levels = 3 };
    assert_int_equal(ptab_sync_level(&t4, 0, USER_ADDR), 3);
    assert_int_equal(ptab_sync_level(&t5, 0, (1UL << 56) - PG), 4);
    assert_int_equal(ptab_sync_level(&t3, 0, USER_ADDR), 2);
}

/* A region of one 2M entry syncs at level 1, of one page at level 0, of 1G at level 2. */
static void sync_level_of_small_regions_is_their_entry(void **state)
{
    (void)state;
    struct ptab t = { .levels = 4 };
    assert_int_equal(ptab_sync_level(&t, MiB(2), MiB(4)), 1);
    assert_int_equal(ptab_sync_level(&t, MiB(2), MiB(2) + PG), 0);
    assert_int_equal(ptab_sync_level(&t, GiB(1), GiB(2)), 2);
    assert_int_equal(ptab_sync_level(&t, 0xffffffffbfffd000UL, 0xffffffffbfffe000UL), 0);
}

/* Fixture for sync tests: a master and a per-core root on the same memory. */
struct pair { struct fx m; struct ptab loc; };

/* Set up a master (keeping tables below the root) and an empty per-core root. */
static void pair_init(struct pair *p)
{
    fx_init(&p->m, &ptab_hpt, 4, 0, 64);
    p->m.t.keep_level = 2;
    assert_int_equal(ptab_init(&p->loc, &ptab_hpt, &p->m.fm.env, 4, 0), E_OK);
    p->loc.own_level = 3;
}

/* Release the per-core root (its own tables only), then the master. */
static void pair_done(struct pair *p)
{
    ptab_release(&p->loc);
    fx_done(&p->m);
}

/* sync_from copies one top-level entry: later master changes below it show in the per-core root. */
static void sync_shares_lower_levels_with_master(void **state)
{
    (void)state;
    struct pair p; struct ptab_map m;
    pair_init(&p);
    assert_int_equal(fx_upd(&p.m, GiB(1), PG, PA, RW), E_OK);
    assert_int_equal(ptab_sync_from(&p.loc, &p.m.t, GiB(1), 0, USER_ADDR), E_OK);
    assert_true(ptab_lookup(&p.loc, GiB(1), &m));
    assert_int_equal(m.pa, PA);
    assert_int_equal(fx_upd(&p.m, GiB(300), MiB(2), PA, RW), E_OK);
    assert_true(ptab_lookup(&p.loc, GiB(300), &m));
    assert_int_equal(m.size, MiB(2));
    assert_int_equal(p.m.fm.nlive, fx_count(&p.m) + 1);
    pair_done(&p);
}

/* In the top 512 GiB of user space sync_from still copies the whole top-level entry (NOVA bug). */
static void sync_in_top_512g_of_user_space_copies_top_level_entry(void **state)
{
    (void)state;
    struct pair p; struct ptab_map m;
    pair_init(&p);
    vaddr_t top = USER_ADDR - PG, low = 0x00007f8000000000UL;
    assert_int_equal(fx_upd(&p.m, top, PG, PA, RW), E_OK);
    assert_int_equal(fx_upd(&p.m, low, PG, PA + PG, RW), E_OK);
    assert_int_equal(ptab_sync_from(&p.loc, &p.m.t, top, 0, USER_ADDR), E_OK);
    assert_true(ptab_lookup(&p.loc, low, &m));   /* same top-level entry: no second sync needed */
    assert_int_equal(ptab_sync_from(&p.loc, &p.m.t, low, 0, USER_ADDR), E_NOENT);
    assert_int_equal(p.m.fm.nlive, fx_count(&p.m) + 1);   /* no private tables below the root */
    pair_done(&p);
}

/* sync_from reports E_NOENT when the master has nothing there: the fault is the program's. */
static void sync_without_master_mapping_reports_noent(void **state)
{
    (void)state;
    struct pair p; struct ptab_map m;
    pair_init(&p);
    assert_int_equal(ptab_sync_from(&p.loc, &p.m.t, GiB(1), 0, USER_ADDR), E_NOENT);
    assert_false(ptab_lookup(&p.loc, GiB(1), &m));
    pair_done(&p);
}

/* With keep_level, unmapping everything keeps the tables a per-core root may share. */
static void keep_level_keeps_shared_tables_after_unmap(void **state)
{
    (void)state;
    struct pair p; struct ptab_map m;
    pair_init(&p);
    assert_int_equal(fx_upd(&p.m, GiB(1), PG, PA, RW), E_OK);
    assert_int_equal(ptab_sync_from(&p.loc, &p.m.t, GiB(1), 0, USER_ADDR), E_OK);
    assert_int_equal(fx_upd(&p.m, 0, GiB(512), 0, NONE), E_OK);
    assert_int_equal(fx_count(&p.m), 2);                    /* root + shared level-2 table */
    assert_int_equal(fx_upd(&p.m, GiB(2), GiB(1), PA, RW), E_OK);
    assert_true(ptab_lookup(&p.loc, GiB(2), &m));           /* still shared */
    pair_done(&p);
}

/* A kept table is never replaced by a leaf: a large mapping over it goes into it. */
static void kept_table_is_not_replaced_by_large_leaf(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    x.t.keep_level = 1;
    assert_int_equal(fx_upd(&x, GiB(1), PG, PA, RW), E_OK);
    assert_int_equal(fx_upd(&x, GiB(1), GiB(1), PA, RW), E_OK);
    fx_expect(&x, GiB(1) + MiB(4), PA + MiB(4), MiB(2));
    assert_int_equal(fx_count(&x), 3);
    fx_done(&x);
}

/* A walker on "another core" that installs a table while ours is being allocated. */
static struct { struct fx *x; vaddr_t va; bool armed; } racer;

/* env->alloc that lets the racing walker win before handing out our frame. */
static paddr_t racing_alloc(void *ctx)
{
    unsigned l;
    if (racer.armed) {
        racer.armed = false;
        assert_non_null(ptab_walk(&racer.x->t, racer.va, 0, true, &l));
    }
    return racer.x->fm.env.alloc(ctx);
}

/* A walker that loses the race to install a table frees its own at once and uses the winner's. */
static void walker_losing_install_race_frees_its_table(void **state)
{
    (void)state;
    struct fx x; unsigned l;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    struct ptab_env env = x.fm.env;
    env.alloc = racing_alloc;
    x.t.env = &env;
    racer.x = &x; racer.va = GiB(7); racer.armed = true;
    pte_t *p = ptab_walk(&x.t, GiB(7), 0, true, &l);
    x.t.env = &x.fm.env;
    assert_int_equal(l, 0);
    unsigned l2;
    assert_ptr_equal(p, ptab_walk(&x.t, GiB(7), 0, false, &l2));
    assert_int_equal(fx_count(&x), 4);
    assert_int_equal(x.fm.nlive, 4);        /* the loser's frame went back at once */
    fx_done(&x);
}

/* sync_from reports E_NOMEM when the per-core root needs a table and none is left; nothing
   changes. */
static void sync_without_memory_reports_nomem(void **state)
{
    (void)state;
    struct pair p; struct ptab_map m;
    pair_init(&p);
    assert_int_equal(fx_upd(&p.m, MiB(2), PG, PA, RW), E_OK);
    p.m.fm.fail_after = 0;
    assert_int_equal(ptab_sync_from(&p.loc, &p.m.t, MiB(2), MiB(2), MiB(4)), E_NOMEM);
    assert_false(ptab_lookup(&p.loc, MiB(2), &m));
    p.m.fm.fail_after = -1;
    pair_done(&p);
}

/* With the deferred list's slots used up, a large map over a table goes into the table instead. */
static void full_deferred_list_maps_into_table_instead_of_replacing_it(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, MiB(2), 4 * PG, PA, RO), E_OK);
    x.df.n = PTAB_DFREE_SLOTS;              /* pretend earlier updates filled every slot */
    assert_int_equal(fx_upd(&x, MiB(2), MiB(2), PA + GiB(1), RW), E_OK);
    x.df.n = 0;
    fx_expect(&x, MiB(2), PA + GiB(1), PG);
    fx_expect(&x, MiB(4) - PG, PA + GiB(1) + MiB(2) - PG, PG);
    assert_false(x.res.detached);
    assert_int_equal(x.res.changed, 512);
    fx_done(&x);
}

/* What a visit saw: up to 16 entries in order. */
struct seen {
    unsigned n;
    struct ptab_entry e[16];
    bool descend;
};

/* Visitor: record the entry; descend as told. */
static bool record_visit(void *arg, const struct ptab_entry *e)
{
    struct seen *s = arg;
    assert_true(s->n < 16);
    s->e[s->n++] = *e;
    return s->descend;
}

/* Fail unless s->e[i] is the entry (va, level, leaf) with frame pa (pa 0: any table frame). */
static void expect_seen(const struct seen *s, unsigned i, vaddr_t va, unsigned level, bool leaf,
                        paddr_t pa)
{
    assert_true(i < s->n);
    assert_int_equal(s->e[i].va, va);
    assert_int_equal(s->e[i].level, level);
    assert_int_equal(s->e[i].leaf, leaf);
    if (pa)
        assert_int_equal(s->e[i].pa, pa);
}

/* Set up x with a 4K page at 0x1234000 (attributes a), a 2M leaf at 4M and a 1G leaf at 3G. */
static void fx_three_sizes(struct fx *x, struct ptab_attr a)
{
    fx_init(x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(x, 0x1234000, PG, PA, a), E_OK);
    assert_int_equal(fx_upd(x, MiB(4), MiB(2), PA + GiB(1), RO), E_OK);
    assert_int_equal(fx_upd(x, GiB(3), GiB(1), PA + GiB(2), RW), E_OK);
}

/* A visit shows every present entry, tables before what they hold, in address order. */
static void visit_shows_every_present_entry_top_down_in_address_order(void **state)
{
    (void)state;
    struct fx x;
    struct seen s = { .descend = true };
    struct ptab_attr user = { PTAB_R | PTAB_W | PTAB_U, PTAB_WC };
    fx_three_sizes(&x, user);
    ptab_visit(&x.t, 0, ptab_span(&x.t), record_visit, &s);
    assert_int_equal(s.n, 6);
    expect_seen(&s, 0, 0, 3, false, 0);
    expect_seen(&s, 1, 0, 2, false, 0);
    expect_seen(&s, 2, MiB(4), 1, true, PA + GiB(1));
    expect_seen(&s, 3, MiB(18), 1, false, 0);
    expect_seen(&s, 4, 0x1234000, 0, true, PA);
    expect_seen(&s, 5, GiB(3), 2, true, PA + GiB(2));
    assert_int_equal(ptab_entry_attr(&x.t, s.e[4].level, s.e[4].e).perm, user.perm);
    assert_int_equal(ptab_entry_attr(&x.t, s.e[4].level, s.e[4].e).mt, PTAB_WC);
    assert_int_equal(ptab_entry_attr(&x.t, s.e[2].level, s.e[2].e).perm, PTAB_R);
    /* A user table entry lets every access through; the leaves decide. */
    assert_int_equal(ptab_entry_attr(&x.t, s.e[0].level, s.e[0].e).perm, PTAB_ACCESS | PTAB_U);
    assert_int_equal(ptab_entry_attr(&x.t, s.e[0].level, s.e[0].e).mt, PTAB_WB);
    fx_done(&x);
}

/* A visit of a range shows only the entries that overlap it. */
static void visit_of_a_range_shows_only_entries_overlapping_it(void **state)
{
    (void)state;
    struct fx x;
    struct seen s = { .descend = true };
    fx_three_sizes(&x, RW);
    ptab_visit(&x.t, MiB(5), PG, record_visit, &s);
    assert_int_equal(s.n, 3);
    expect_seen(&s, 2, MiB(4), 1, true, PA + GiB(1));
    s.n = 0;
    ptab_visit(&x.t, 0x1235000, MiB(2) - 2 * PG, record_visit, &s);
    assert_int_equal(s.n, 3);               /* the tables, but not the page below the range */
    expect_seen(&s, 2, MiB(18), 1, false, 0);
    s.n = 0;
    ptab_visit(&x.t, GiB(4), 0, record_visit, &s);
    assert_int_equal(s.n, 0);
    fx_done(&x);
}

/* A visitor that returns false for a table sees nothing below it. */
static void visitor_refusing_a_table_sees_nothing_below_it(void **state)
{
    (void)state;
    struct fx x;
    struct seen s = { .descend = false };
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, 0x1234000, PG, PA, RW), E_OK);
    assert_int_equal(fx_upd(&x, GiB(600), PG, PA, RW), E_OK);
    ptab_visit(&x.t, 0, ptab_span(&x.t), record_visit, &s);
    assert_int_equal(s.n, 2);
    expect_seen(&s, 0, 0, 3, false, 0);
    expect_seen(&s, 1, GiB(512), 3, false, 0);
    fx_done(&x);
}

/* Address bits above the span (the kernel half's sign extension) come back as they were given. */
static void visit_keeps_the_address_bits_above_the_span(void **state)
{
    (void)state;
    struct fx x;
    struct seen s = { .descend = true };
    const vaddr_t kernel_half = 0xffff800000000000UL;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(fx_upd(&x, kernel_half + MiB(2), PG, PA, RW), E_OK);
    ptab_visit(&x.t, kernel_half, GiB(512) * 256, record_visit, &s);
    assert_int_equal(s.n, 4);
    expect_seen(&s, 0, kernel_half, 3, false, 0);
    expect_seen(&s, 3, kernel_half + MiB(2), 0, true, PA);
    fx_done(&x);
}

/* The table count equals an independent walk's, after maps, splits and unmaps. */
static void table_count_equals_an_independent_walk(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    assert_int_equal(ptab_tables(&x.t), 1);
    assert_int_equal(fx_upd(&x, 0x1234000, PG, PA, RW), E_OK);
    assert_int_equal(ptab_tables(&x.t), 4);
    assert_int_equal(fx_upd(&x, GiB(3), GiB(1), PA, RW), E_OK);
    assert_int_equal(fx_upd(&x, GiB(513), MiB(2), PA, RW), E_OK);
    assert_int_equal(ptab_tables(&x.t), fx_count(&x));
    assert_int_equal(fx_upd(&x, GiB(3) + PG, PG, 0, NONE), E_OK);     /* splits the 1G leaf twice */
    assert_int_equal(ptab_tables(&x.t), fx_count(&x));
    assert_int_equal(ptab_tables(&x.t), 8);
    assert_int_equal(fx_upd(&x, 0, GiB(4), 0, NONE), E_OK);
    assert_int_equal(ptab_tables(&x.t), fx_count(&x));
    fx_done(&x);
}

/* Attach points an entry to an existing table (creating the tables above it) and replaces
 * what was there; below a leaf it refuses. */
static void attach_links_an_existing_table_and_replaces_the_old_one(void **state)
{
    (void)state;
    struct fx x;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    paddr_t pt = x.fm.env.alloc(x.fm.env.ctx), pt2 = x.fm.env.alloc(x.fm.env.ctx);
    pte_t *e = x.fm.env.p2v(x.fm.env.ctx, pt, 0), *e2 = x.fm.env.p2v(x.fm.env.ctx, pt2, 1);
    e[5] = ptab_leaf_entry(&x.t, 0, PA, RO);
    e2[6] = ptab_leaf_entry(&x.t, 0, PA + PG, RW);
    assert_int_equal(ptab_attach(&x.t, GiB(1), 1, pt), E_OK);
    fx_expect(&x, GiB(1) + 5 * PG, PA, PG);
    fx_expect_hole(&x, GiB(1) + 6 * PG, PG);
    assert_int_equal(ptab_tables(&x.t), 4);
    assert_int_equal(ptab_attach(&x.t, GiB(1), 1, pt2), E_OK);
    x.fm.env.free(x.fm.env.ctx, pt);        /* the caller owned the table it replaced */
    fx_expect(&x, GiB(1) + 6 * PG, PA + PG, PG);
    fx_expect_hole(&x, GiB(1) + 5 * PG, PG);
    assert_int_equal(fx_upd(&x, GiB(7), GiB(1), PA, RW), E_OK);
    assert_int_equal(ptab_attach(&x.t, GiB(7), 1, pt), E_BUSY);
    fx_expect(&x, GiB(7), PA, GiB(1));
    fx_done(&x);
}

/* The entry helpers build and read entries as the engine does; kernel Hpt tables deny user. */
static void entry_helpers_build_read_fill_and_swap_entries(void **state)
{
    (void)state;
    struct fx x;
    struct ptab_map m;
    fx_init(&x, &ptab_hpt, 4, 0, 64);
    struct ptab k = x.t;
    k.caps |= PTAB_CAP_HPT_KERNEL;
    pte_t user = ptab_table_entry(&x.t, MiB(8)), kernel = ptab_table_entry(&k, MiB(8));
    assert_true(ptab_entry_is_table(&x.t, 1, user));
    assert_int_equal(ptab_entry_frame(&x.t, 1, user), MiB(8));
    assert_int_equal(ptab_entry_frame(&k, 1, kernel), MiB(8));
    assert_int_not_equal(user, kernel);
    pte_t leaf = ptab_leaf_entry(&x.t, 1, MiB(8), RW);
    assert_false(ptab_entry_is_table(&x.t, 1, leaf));
    assert_false(ptab_entry_is_table(&x.t, 0, ptab_leaf_entry(&x.t, 0, MiB(8), RW)));
    assert_int_equal(ptab_entry_frame(&x.t, 1, leaf), MiB(8));
    /* A kernel table entry above a user leaf: the visit shows it lets no user access through. */
    struct ptab_attr ua = { PTAB_R | PTAB_U, PTAB_WB };
    assert_int_equal(fx_upd(&x, 0x1234000, PG, PA, ua), E_OK);
    unsigned l;
    pte_t *top = ptab_walk(&x.t, 0x1234000, 3, false, &l);
    pte_t old = ptab_entry_swap(&x.t, top, ptab_table_entry(&k, ptab_entry_frame(&x.t, 3, *top)));
    assert_int_equal(old, ptab_table_entry(&x.t, ptab_entry_frame(&x.t, 3, old)));
    struct seen s = { .descend = false };
    ptab_visit(&x.t, 0, PG, record_visit, &s);
    assert_int_equal(s.n, 1);
    assert_int_equal(ptab_entry_attr(&x.t, s.e[0].level, s.e[0].e).perm, PTAB_ACCESS);
    assert_true(ptab_lookup(&x.t, 0x1234000, &m));
    /* Fill writes only a hole. */
    pte_t *hole = ptab_walk(&x.t, 0x1235000, 0, false, &l), was = *top;
    assert_false(ptab_entry_fill(&x.t, top, 0));
    assert_int_equal(*top, was);
    assert_true(ptab_entry_fill(&x.t, hole, ptab_leaf_entry(&x.t, 0, PA + PG, RO)));
    fx_expect(&x, 0x1235000, PA + PG, PG);
    assert_false(ptab_entry_fill(&x.t, hole, 0));
    assert_int_equal(ptab_entry_load(hole), ptab_leaf_entry(&x.t, 0, PA + PG, RO));
    fx_done(&x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(map_4k_page_reads_back_frame_size_and_attributes),
        cmocka_unit_test(hole_reports_size_of_missing_entry),
        cmocka_unit_test(aligned_2m_range_maps_as_one_2m_leaf),
        cmocka_unit_test(aligned_1g_range_maps_as_one_1g_leaf),
        cmocka_unit_test(misaligned_frame_falls_back_to_4k_leaves),
        cmocka_unit_test(unaligned_range_uses_4k_edges_and_2m_middle),
        cmocka_unit_test(range_crossing_top_level_boundary_maps_both_sides),
        cmocka_unit_test(unmapping_part_of_2m_leaf_splits_it),
        cmocka_unit_test(changing_one_page_of_1g_leaf_splits_down_to_4k),
        cmocka_unit_test(filling_last_hole_collapses_table_into_2m_leaf),
        cmocka_unit_test(uniform_2m_leaves_collapse_into_1g_leaf),
        cmocka_unit_test(different_rights_prevent_collapse),
        cmocka_unit_test(large_leaf_over_table_detaches_it),
        cmocka_unit_test(detached_tables_are_freed_only_by_dfree_release),
        cmocka_unit_test(unmap_drops_emptied_tables),
        cmocka_unit_test(leaf_mask_limits_leaf_sizes),
        cmocka_unit_test(unaligned_arguments_are_refused),
        cmocka_unit_test(out_of_range_arguments_are_refused),
        cmocka_unit_test(bad_attributes_are_refused),
        cmocka_unit_test(upper_half_addresses_use_their_low_bits),
        cmocka_unit_test(five_level_hpt_maps_above_48_bits),
        cmocka_unit_test(three_level_dpt_spans_512g),
        cmocka_unit_test(non_coherent_walker_gets_cache_flushes),
        cmocka_unit_test(walk_allocates_only_when_asked),
        cmocka_unit_test(filling_a_hole_needs_no_flush),
        cmocka_unit_test(upgrading_rights_needs_no_flush),
        cmocka_unit_test(upgrading_inside_large_leaf_needs_no_flush),
        cmocka_unit_test(downgrading_rights_needs_flush),
        cmocka_unit_test(changing_the_frame_needs_flush),
        cmocka_unit_test(changing_memory_type_needs_flush),
        cmocka_unit_test(adding_user_or_global_needs_flush),
        cmocka_unit_test(unmapping_needs_flush_unless_nothing_was_mapped),
        cmocka_unit_test(identical_remap_changes_nothing),
        cmocka_unit_test(sync_level_of_user_region_is_top_level),
        cmocka_unit_test(sync_level_of_small_regions_is_their_entry),
        cmocka_unit_test(sync_shares_lower_levels_with_master),
        cmocka_unit_test(sync_in_top_512g_of_user_space_copies_top_level_entry),
        cmocka_unit_test(sync_without_master_mapping_reports_noent),
        cmocka_unit_test(keep_level_keeps_shared_tables_after_unmap),
        cmocka_unit_test(kept_table_is_not_replaced_by_large_leaf),
        cmocka_unit_test(walker_losing_install_race_frees_its_table),
        cmocka_unit_test(sync_without_memory_reports_nomem),
        cmocka_unit_test(full_deferred_list_maps_into_table_instead_of_replacing_it),
        cmocka_unit_test(visit_shows_every_present_entry_top_down_in_address_order),
        cmocka_unit_test(visit_of_a_range_shows_only_entries_overlapping_it),
        cmocka_unit_test(visitor_refusing_a_table_sees_nothing_below_it),
        cmocka_unit_test(visit_keeps_the_address_bits_above_the_span),
        cmocka_unit_test(table_count_equals_an_independent_walk),
        cmocka_unit_test(attach_links_an_existing_table_and_replaces_the_old_one),
        cmocka_unit_test(entry_helpers_build_read_fill_and_swap_entries),
    };
    return cmocka_run_group_tests_name("ptab_ops", tests, NULL, NULL);
}
