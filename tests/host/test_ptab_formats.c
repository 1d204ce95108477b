/* Page-table formats: geometry and every attribute encoding, round-tripped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "ptab.h"
#include "abi.h"
#include "fake_mem.h"

/* One format configuration and the attributes it is expected to store for a request. */
struct cfg {
    const struct ptab_fmt *fmt;
    unsigned caps;
    struct ptab_attr (*expect)(struct ptab_attr a);     /* perm 0: not expressible (unmapped) */
};

/* Hpt: every present entry reads; one NX bit for both execute kinds. */
static struct ptab_attr hpt_expect(struct ptab_attr a)
{
    struct ptab_attr r = { 0, a.mt };
    if (!(a.perm & PTAB_ACCESS))
        return (struct ptab_attr){ 0, PTAB_WB };
    r.perm = PTAB_R | (a.perm & (PTAB_W | PTAB_U | PTAB_G));
    r.perm |= (a.perm & (PTAB_XU | PTAB_XS)) ? PTAB_XU | PTAB_XS : 0;
    return r;
}

/* Npt: Hpt, but every leaf is user and none global. */
static struct ptab_attr npt_expect(struct ptab_attr a)
{
    struct ptab_attr r = hpt_expect(a);
    if (r.perm)
        r.perm = (r.perm | PTAB_U) & ~PTAB_G;
    return r;
}

/* EPT memory types: UC- has no encoding and reads back as UC. */
static enum ptab_mtype ept_mt(enum ptab_mtype mt)
{
    return mt == PTAB_UC_MINUS ? PTAB_UC : mt;
}

/* Ept without MBEC: W implies R, one X bit, no U/G. */
static struct ptab_attr ept_expect(struct ptab_attr a)
{
    struct ptab_attr r = { 0, ept_mt(a.mt) };
    if (!(a.perm & PTAB_ACCESS))
        return (struct ptab_attr){ 0, PTAB_WB };
    r.perm = ((a.perm & (PTAB_R | PTAB_W)) ? PTAB_R : 0) | (a.perm & PTAB_W);
    r.perm |= (a.perm & (PTAB_XU | PTAB_XS)) ? PTAB_XU | PTAB_XS : 0;
    return r;
}

/* Ept with MBEC: user and supervisor execute are separate bits. */
static struct ptab_attr ept_mbec_expect(struct ptab_attr a)
{
    struct ptab_attr r = ept_expect(a);
    if (r.perm)
        r.perm = (r.perm & ~(PTAB_XU | PTAB_XS)) | (a.perm & (PTAB_XU | PTAB_XS));
    return r;
}

/* Dpt with no options: only R/W, always WB. */
static struct ptab_attr dpt_expect(struct ptab_attr a)
{
    if (!(a.perm & (PTAB_R | PTAB_W)))
        return (struct ptab_attr){ 0, PTAB_WB };
    return (struct ptab_attr){ a.perm & (PTAB_R | PTAB_W), PTAB_WB };
}

/* Dpt with execute requests, EMT and snoop control. */
static struct ptab_attr dpt_all_expect(struct ptab_attr a)
{
    struct ptab_attr r = dpt_expect(a);
    if (r.perm) {
        r.perm |= (a.perm & (PTAB_XU | PTAB_XS)) ? PTAB_XU | PTAB_XS : 0;
        r.mt = ept_mt(a.mt);
    }
    return r;
}

static const struct cfg cfgs[] = {
    { &ptab_hpt, 0, hpt_expect },
    { &ptab_npt, 0, npt_expect },
    { &ptab_ept, 0, ept_expect },
    { &ptab_ept, PTAB_CAP_EPT_MBEC, ept_mbec_expect },
    { &ptab_dpt, 0, dpt_expect },
    { &ptab_dpt, PTAB_CAP_DPT_X | PTAB_CAP_DPT_EMT | PTAB_CAP_DPT_SNP, dpt_all_expect },
};

/* Every permission set and memory type at every leaf level decodes to what the format can
   express. */
static void every_attribute_round_trips_in_every_format(void **state)
{
    (void)state;
    for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++) {
        const struct ptab_fmt *f = cfgs[c].fmt;
        for (unsigned l = 0; l < 3; l++)
            for (unsigned perm = 0; perm <= PTAB_PERM_ALL; perm++)
                for (unsigned mt = 0; mt < PTAB_MTYPES; mt++) {
                    struct ptab_attr a = { perm, (enum ptab_mtype)mt }, want = cfgs[c].expect(a),
                                     got;
                    pte_t e = f->leaf(cfgs[c].caps, l, a);
                    paddr_t pa = 0x000ffffc0000000UL;    /* highest 1G-aligned 52-bit frame */
                    if (!want.perm) {
                        assert_false(perm & PTAB_ACCESS && ptab_fmt_present(f, e));
                        continue;
                    }
                    assert_int_equal(e & f->addr_mask & ~((1UL << (12 + 9 * l)) - 1), 0);
                    assert_true(ptab_fmt_present(f, e | pa));
                    assert_true(ptab_fmt_is_leaf(f, l, e | pa));
                    assert_true(f->decode(cfgs[c].caps, l, e | pa, &got));
                    if (got.perm != want.perm || got.mt != want.mt)
                        fail_msg("%s caps %#x level %u perm %#x mt %u: got %#x/%u want %#x/%u",
                                 f->name, cfgs[c].caps, l, perm, mt, got.perm, got.mt, want.perm,
                                 want.mt);
                }
    }
}

/* A table entry is present and not a leaf at every level above 0, in every format. */
static void table_entries_are_present_non_leaves(void **state)
{
    (void)state;
    for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++)
        for (unsigned l = 1; l < 5; l++) {
            pte_t e = cfgs[c].fmt->table(cfgs[c].caps) | 0x1000;
            assert_true(ptab_fmt_present(cfgs[c].fmt, e));
            assert_false(ptab_fmt_is_leaf(cfgs[c].fmt, l, e));
        }
}

/* The all-zero entry is not present in any format (L1TF: holes are zero). */
static void zero_entry_is_not_present(void **state)
{
    (void)state;
    for (size_t c = 0; c < ARRAY_SIZE(cfgs); c++)
        assert_false(ptab_fmt_present(cfgs[c].fmt, 0));
}

/* Formats state the hardware geometry: levels, leaf sizes, 52-bit frames. */
static void formats_state_hardware_geometry(void **state)
{
    (void)state;
    const unsigned leaves = BIT(0) | BIT(1) | BIT(2);
    assert_int_equal(ptab_hpt.min_levels, 4); assert_int_equal(ptab_hpt.max_levels, 5);
    assert_int_equal(ptab_npt.min_levels, 4); assert_int_equal(ptab_npt.max_levels, 5);
    assert_int_equal(ptab_ept.min_levels, 4); assert_int_equal(ptab_ept.max_levels, 4);
    assert_int_equal(ptab_dpt.min_levels, 3); assert_int_equal(ptab_dpt.max_levels, 5);
    assert_int_equal(ptab_hpt.leaf_mask, leaves);
    assert_int_equal(ptab_ept.leaf_mask, leaves);
    assert_int_equal(ptab_dpt.leaf_mask, leaves);
    assert_int_equal(ptab_hpt.addr_mask, BITS(51, 12));
    assert_int_equal(ptab_ept.addr_mask, BITS(51, 12));
    assert_int_equal(ptab_dpt.addr_mask, BITS(51, 12));
}

/* A table spans 2^(12 + 9 * levels) bytes: 39, 48 or 57 address bits. */
static void table_span_follows_number_of_levels(void **state)
{
    (void)state;
    struct fake_mem fm;
    struct ptab t;
    fake_mem_init(&fm, 16);
    const struct { const struct ptab_fmt *f; unsigned levels; uint64_t span; } g[] = {
        { &ptab_hpt, 4, 1UL << 48 }, { &ptab_hpt, 5, 1UL << 57 }, { &ptab_ept, 4, 1UL << 48 },
        { &ptab_dpt, 3, 1UL << 39 }, { &ptab_dpt, 4, 1UL << 48 }, { &ptab_dpt, 5, 1UL << 57 },
    };
    for (size_t i = 0; i < ARRAY_SIZE(g); i++) {
        assert_int_equal(ptab_init(&t, g[i].f, &fm.env, g[i].levels, 0), E_OK);
        assert_int_equal(ptab_span(&t), g[i].span);
        ptab_release(&t);
    }
    assert_int_equal(fm.nlive, 0);
    fake_mem_destroy(&fm);
}

/* Hpt bit layout: PAT bit 7 in 4K leaves, bit 12 in large leaves (PS is bit 7), NX is bit 63. */
static void hpt_places_pat_ps_and_nx_bits(void **state)
{
    (void)state;
    struct ptab_attr wc = { PTAB_R | PTAB_W, PTAB_WC }, wbx = { PTAB_R | PTAB_XU, PTAB_WB };
    assert_int_equal(ptab_hpt.leaf(0, 0, wc), BIT(0) | BIT(1) | BIT(5) | BIT(6) | BIT(7) | BIT(63));
    assert_int_equal(ptab_hpt.leaf(0, 1, wc),
                     BIT(0) | BIT(1) | BIT(5) | BIT(6) | BIT(7) | BIT(12) | BIT(63));
    assert_int_equal(ptab_hpt.leaf(0, 0, wbx), BIT(0) | BIT(5));
    assert_int_equal(ptab_hpt.leaf(0, 0, (struct ptab_attr){ PTAB_R, PTAB_UC }),
                     BIT(0) | BIT(3) | BIT(4) | BIT(5) | BIT(63));
    assert_int_equal(ptab_hpt.leaf(0, 2, (struct ptab_attr){ PTAB_R | PTAB_U | PTAB_G, PTAB_WB }),
                     BIT(0) | BIT(2) | BIT(5) | BIT(7) | BIT(8) | BIT(63));
}

/* The PAT MSR value makes every memory type its own PAT index. */
static void hpt_pat_msr_matches_memory_type_indices(void **state)
{
    (void)state;
    static const uint8_t pat_type[PTAB_MTYPES] = {
        /* IA32_PAT encodings */
        [PTAB_WB] = 6, [PTAB_WT] = 4, [PTAB_UC_MINUS] = 7,
        [PTAB_UC] = 0, [PTAB_WC] = 1, [PTAB_WP] = 5,
    };
    for (unsigned i = 0; i < PTAB_MTYPES; i++)
        assert_int_equal((PTAB_HPT_PAT_MSR >> (8 * i)) & 0xff, pat_type[i]);
}

/* Ept bit layout: R/W/X in bits 0-2, memory type in 5:3, PS bit 7, user execute bit 10 with
   MBEC. */
static void ept_places_rwx_memory_type_and_mbec_bits(void **state)
{
    (void)state;
    struct ptab_attr a = { PTAB_R | PTAB_W | PTAB_XU, PTAB_WB };
    assert_int_equal(ptab_ept.leaf(0, 0, a), BIT(0) | BIT(1) | BIT(2) | (6UL << 3));
    assert_int_equal(ptab_ept.leaf(0, 1, a), BIT(0) | BIT(1) | BIT(2) | (6UL << 3) | BIT(7));
    assert_int_equal(ptab_ept.leaf(PTAB_CAP_EPT_MBEC, 0, a),
                     BIT(0) | BIT(1) | BIT(10) | (6UL << 3));
    assert_int_equal(ptab_ept.leaf(0, 0, (struct ptab_attr){ PTAB_XS, PTAB_UC }), BIT(2));
}

/* Dpt bit layout: R/W bits 0-1, X bit 2 and EMT only when supported, SNP bit 11, PS bit 7. */
static void dpt_places_rw_snoop_and_optional_bits(void **state)
{
    (void)state;
    struct ptab_attr a = { PTAB_R | PTAB_W | PTAB_XU, PTAB_WC };
    unsigned all = PTAB_CAP_DPT_X | PTAB_CAP_DPT_EMT | PTAB_CAP_DPT_SNP;
    assert_int_equal(ptab_dpt.leaf(0, 0, a), BIT(0) | BIT(1));
    assert_int_equal(ptab_dpt.leaf(0, 2, a), BIT(0) | BIT(1) | BIT(7));
    assert_int_equal(ptab_dpt.leaf(all, 0, a), BIT(0) | BIT(1) | BIT(2) | (1UL << 3) | BIT(11));
    assert_int_equal(ptab_dpt.leaf(PTAB_CAP_DPT_SNP, 1, (struct ptab_attr){ PTAB_W, PTAB_WB }),
                     BIT(1) | BIT(7) | BIT(11));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_attribute_round_trips_in_every_format),
        cmocka_unit_test(table_entries_are_present_non_leaves),
        cmocka_unit_test(zero_entry_is_not_present),
        cmocka_unit_test(formats_state_hardware_geometry),
        cmocka_unit_test(table_span_follows_number_of_levels),
        cmocka_unit_test(hpt_places_pat_ps_and_nx_bits),
        cmocka_unit_test(hpt_pat_msr_matches_memory_type_indices),
        cmocka_unit_test(ept_places_rwx_memory_type_and_mbec_bits),
        cmocka_unit_test(dpt_places_rw_snoop_and_optional_bits),
    };
    return cmocka_run_group_tests_name("ptab_formats", tests, NULL, NULL);
}
