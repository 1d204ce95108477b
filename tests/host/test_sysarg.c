/* The pure system-call argument checks (kernel/sysarg.c) answer as docs/abi.md prescribes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "sysarg.h"

#define PG PAGE_SIZE_USER

/* delegate checks for one set of arguments. */
static int dlg(unsigned kind, unsigned rights, mword src, mword dst, mword count)
{
    struct xfer x;
    struct delegate_args a = { XFER(kind, rights), src, dst, count };
    return sysarg_delegate(&a, &x);
}

/* revoke checks for one set of arguments. */
static int rvk(mword flags, unsigned kind, unsigned rights, mword base, mword count)
{
    struct xfer x;
    struct revoke_args a = { flags, XFER(kind, rights), base, count };
    return sysarg_revoke(&a, &x);
}

static void xfer_decodes_kind_and_rights(void **state)
{
    (void)state;
    struct xfer x = { .kind = 99, .rights = 99 };
    assert_int_equal(sysarg_xfer(XFER(SPACE_MEM, MEM_R | MEM_X), true, &x), E_OK);
    assert_int_equal(x.kind, SPACE_MEM);
    assert_int_equal(x.rights, MEM_R | MEM_X);
}

static void xfer_with_high_bits_set_is_an_argument_error(void **state)
{
    (void)state;
    struct xfer x;
    assert_int_equal(sysarg_xfer(XFER(SPACE_PIO, PIO_A) | (1UL << 16), true, &x), E_ARG);
    assert_int_equal(sysarg_xfer(XFER(SPACE_PIO, PIO_A) | (1UL << 63), false, &x), E_ARG);
}

static void xfer_with_an_unknown_kind_is_an_argument_error(void **state)
{
    (void)state;
    struct xfer x;
    assert_int_equal(sysarg_xfer(XFER(3, 1), true, &x), E_ARG);
}

static void xfer_with_an_empty_mask_is_an_argument_error(void **state)
{
    (void)state;
    struct xfer x;
    for (unsigned k = SPACE_OBJ; k <= SPACE_PIO; k++) {
        assert_int_equal(sysarg_xfer(XFER(k, 0), true, &x), E_ARG);
        assert_int_equal(sysarg_xfer(XFER(k, 0), false, &x), E_ARG);
    }
}

static void xfer_with_rights_foreign_to_the_kind_is_an_argument_error(void **state)
{
    (void)state;
    struct xfer x;
    assert_int_equal(sysarg_xfer(XFER(SPACE_MEM, MEM_ALL | (1u << 5)), true, &x), E_ARG);
    assert_int_equal(sysarg_xfer(XFER(SPACE_MEM, MEM_R | MEM_D), true, &x), E_OK);
    assert_int_equal(sysarg_xfer(XFER(SPACE_PIO, PIO_A | (1u << 1)), true, &x), E_ARG);
    assert_int_equal(sysarg_xfer(XFER(SPACE_OBJ, OBJ_R_ALL + 1), true, &x), E_ARG);
}

static void delegated_memory_without_read_is_an_argument_error(void **state)
{
    (void)state;
    struct xfer x;
    assert_int_equal(sysarg_xfer(XFER(SPACE_MEM, MEM_W), true, &x), E_ARG);
    assert_int_equal(sysarg_xfer(XFER(SPACE_MEM, MEM_X), true, &x), E_ARG);
}

static void revoking_only_write_or_execute_is_allowed(void **state)
{
    (void)state;
    struct xfer x;
    assert_int_equal(sysarg_xfer(XFER(SPACE_MEM, MEM_W), false, &x), E_OK);
    assert_int_equal(sysarg_xfer(XFER(SPACE_MEM, MEM_X), false, &x), E_OK);
}

static void a_failed_decode_leaves_the_output_alone(void **state)
{
    (void)state;
    struct xfer x = { .kind = 7, .rights = 7 };
    struct delegate_args a = { XFER(SPACE_MEM, MEM_R), 0x1001, 0, 1 };
    assert_int_equal(sysarg_delegate(&a, &x), E_ALIGN);
    assert_int_equal(x.kind, 7);
    assert_int_equal(x.rights, 7);
}

static void destination_selector_zero_is_an_argument_error(void **state)
{
    (void)state;
    assert_int_equal(sysarg_dst_sel(SEL_NULL), E_ARG);
}

static void destination_selector_past_the_table_means_full(void **state)
{
    (void)state;
    assert_int_equal(sysarg_dst_sel(SEL_COUNT - 1), E_OK);
    assert_int_equal(sysarg_dst_sel(SEL_COUNT), E_FULL);
    assert_int_equal(sysarg_dst_sel(~0UL), E_FULL);
    assert_int_equal(sysarg_dst_sel(1UL << 32 | 5), E_FULL);   /* no truncation to 32 bits */
}

static void user_buffers_must_end_at_or_below_the_user_limit(void **state)
{
    (void)state;
    assert_int_equal(sysarg_user_buf(USER_LIMIT - 16, 16), E_OK);
    assert_int_equal(sysarg_user_buf(USER_LIMIT - 16, 17), E_RANGE);
    assert_int_equal(sysarg_user_buf(0xffff800000000000UL, 1), E_RANGE);
    assert_int_equal(sysarg_user_buf(0x1000, 0), E_OK);
}

static void user_buffers_that_wrap_are_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(sysarg_user_buf(0x1000, ~0UL), E_RANGE);
}

static void ec_start_needs_entry_below_and_stack_at_most_the_limit(void **state)
{
    (void)state;
    assert_int_equal(sysarg_ec_start(0x400000, USER_LIMIT), E_OK);
    assert_int_equal(sysarg_ec_start(USER_LIMIT, 0x1000), E_RANGE);
    assert_int_equal(sysarg_ec_start(0x400000, USER_LIMIT + 1), E_RANGE);
    assert_int_equal(sysarg_ec_start(0xffffffff81000000UL, 0x1000), E_RANGE);
}

static void ec_resume_checks_flags_before_rip(void **state)
{
    (void)state;
    assert_int_equal(sysarg_ec_resume(0, ~0UL), E_OK);
    assert_int_equal(sysarg_ec_resume(EC_RESUME_RAX, USER_LIMIT), E_OK);
    assert_int_equal(sysarg_ec_resume(EC_RESUME_RIP, USER_LIMIT - 1), E_OK);
    assert_int_equal(sysarg_ec_resume(EC_RESUME_RIP, USER_LIMIT), E_RANGE);
    assert_int_equal(sysarg_ec_resume(EC_RESUME_ALL, 0xffffffff81000000UL), E_RANGE);
    assert_int_equal(sysarg_ec_resume(EC_RESUME_ALL << 1, USER_LIMIT), E_ARG);
    assert_int_equal(sysarg_ec_resume(1UL << 63 | EC_RESUME_RIP, 0), E_ARG);
}

static void lookup_checks_kind_before_address(void **state)
{
    (void)state;
    assert_int_equal(sysarg_lookup(3, ~0UL), E_ARG);
    assert_int_equal(sysarg_lookup(SPACE_MEM, USER_LIMIT - 1), E_OK);
    assert_int_equal(sysarg_lookup(SPACE_MEM, USER_LIMIT), E_RANGE);
    assert_int_equal(sysarg_lookup(SPACE_PIO, 0xffff), E_OK);
    assert_int_equal(sysarg_lookup(SPACE_PIO, 0x10000), E_RANGE);
    assert_int_equal(sysarg_lookup(SPACE_OBJ, SEL_COUNT - 1), E_OK);
    assert_int_equal(sysarg_lookup(SPACE_OBJ, SEL_COUNT), E_RANGE);
}

static void delegate_accepts_a_valid_memory_range(void **state)
{
    (void)state;
    struct xfer x;
    struct delegate_args a = { XFER(SPACE_MEM, MEM_R | MEM_W), 0x400000000000UL, 0x400000, 16 };
    assert_int_equal(sysarg_delegate(&a, &x), E_OK);
    assert_int_equal(x.kind, SPACE_MEM);
    assert_int_equal(x.rights, MEM_R | MEM_W);
    assert_int_equal(x.src, 0x400000000000UL / PG);     /* bases in pages */
    assert_int_equal(x.dst, 0x400000 / PG);
    assert_int_equal(x.count, 16);
}

static void delegate_and_revoke_give_port_and_selector_bases_as_they_are(void **state)
{
    (void)state;
    struct xfer x;
    struct delegate_args d = { XFER(SPACE_PIO, PIO_A), 0x3f8, 0x60, 4 };
    assert_int_equal(sysarg_delegate(&d, &x), E_OK);
    assert_int_equal(x.src, 0x3f8);
    assert_int_equal(x.dst, 0x60);
    struct revoke_args r = { 0, XFER(SPACE_OBJ, OBJ_R_ALL), 40, 3 };
    assert_int_equal(sysarg_revoke(&r, &x), E_OK);
    assert_int_equal(x.src, 40);
    assert_int_equal(x.count, 3);
    struct revoke_args m = { 0, XFER(SPACE_MEM, MEM_W), 0x5000, 2 };
    assert_int_equal(sysarg_revoke(&m, &x), E_OK);
    assert_int_equal(x.src, 5);
}

static void delegate_of_zero_items_is_an_argument_error(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_MEM, MEM_R, 0x1000, 0x2000, 0), E_ARG);
    assert_int_equal(dlg(SPACE_PIO, PIO_A, 0x3f8, 0x3f8, 0), E_ARG);
}

static void delegate_checks_xfer_before_count(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_MEM, 0, 0x1001, 0x2000, 0), E_ARG);
    assert_int_equal(dlg(SPACE_MEM, MEM_R, 0x1001, 0x2000, 0), E_ARG);  /* count before align */
}

static void delegate_of_unaligned_memory_is_an_alignment_error(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_MEM, MEM_R, 0x1008, 0x2000, 1), E_ALIGN);
    assert_int_equal(dlg(SPACE_MEM, MEM_R, 0x1000, 0x2800, 1), E_ALIGN);
}

static void delegate_checks_alignment_before_range(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_MEM, MEM_R, USER_LIMIT, 0x2800, 1), E_ALIGN);
}

static void delegate_of_memory_reaching_past_the_user_limit_is_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_MEM, MEM_R, USER_LIMIT - PG, 0x1000, 1), E_OK);
    assert_int_equal(dlg(SPACE_MEM, MEM_R, USER_LIMIT - PG, 0x1000, 2), E_RANGE);
    assert_int_equal(dlg(SPACE_MEM, MEM_R, 0x1000, USER_LIMIT - PG, 2), E_RANGE);
    assert_int_equal(dlg(SPACE_MEM, MEM_R, 0xffffffff80000000UL, 0x1000, 1), E_RANGE);
}

static void delegate_of_a_memory_count_that_wraps_is_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_MEM, MEM_R, 0x1000, 0x2000, ~0UL), E_RANGE);
    assert_int_equal(dlg(SPACE_MEM, MEM_R, 0x1000, 0x2000, (~0UL / PG) + 2), E_RANGE);
}

static void delegate_of_ports_past_0xffff_is_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_PIO, PIO_A, 0xfff8, 0x3f8, 8), E_OK);
    assert_int_equal(dlg(SPACE_PIO, PIO_A, 0xfff8, 0x3f8, 9), E_RANGE);
    assert_int_equal(dlg(SPACE_PIO, PIO_A, 0x3f8, 0xfffc, 5), E_RANGE);
    assert_int_equal(dlg(SPACE_PIO, PIO_A, 0x3f8, 0x3f8, ~0UL), E_RANGE);
}

static void delegate_of_ports_needs_no_alignment(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_PIO, PIO_A, 0x3f9, 0x61, 1), E_OK);
}

static void delegate_of_a_source_selector_range_past_the_table_is_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_OBJ, PD_R_ALL, SEL_COUNT - 1, 20, 2), E_RANGE);
}

static void delegate_into_selector_zero_is_an_argument_error(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_OBJ, PD_R_ALL, 16, SEL_NULL, 1), E_ARG);
}

static void delegate_of_selectors_past_the_destination_table_means_full(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_OBJ, EC_R_CTRL, 16, SEL_COUNT - 1, 1), E_OK);
    assert_int_equal(dlg(SPACE_OBJ, EC_R_CTRL, 16, SEL_COUNT - 1, 2), E_FULL);
    assert_int_equal(dlg(SPACE_OBJ, EC_R_CTRL, 16, SEL_COUNT, 1), E_FULL);
}

static void delegate_of_selectors_needs_no_alignment(void **state)
{
    (void)state;
    assert_int_equal(dlg(SPACE_OBJ, PD_R_DELEGATE, 3, 17, 5), E_OK);
}

static void revoke_with_unknown_flags_is_an_argument_error(void **state)
{
    (void)state;
    assert_int_equal(rvk(REVOKE_SELF, SPACE_MEM, MEM_W, 0x1000, 1), E_OK);
    assert_int_equal(rvk(1u << 1, SPACE_MEM, MEM_W, 0x1000, 1), E_ARG);
}

static void revoke_checks_xfer_and_count(void **state)
{
    (void)state;
    assert_int_equal(rvk(0, SPACE_PIO, 0, 0x60, 1), E_ARG);
    assert_int_equal(rvk(0, SPACE_PIO, PIO_A, 0x60, 0), E_ARG);
}

static void revoke_of_unaligned_memory_is_an_alignment_error(void **state)
{
    (void)state;
    assert_int_equal(rvk(0, SPACE_MEM, MEM_RWX, 0x1004, 1), E_ALIGN);
}

static void revoke_past_the_end_of_a_space_is_out_of_range(void **state)
{
    (void)state;
    assert_int_equal(rvk(0, SPACE_MEM, MEM_RWX, USER_LIMIT - PG, 2), E_RANGE);
    assert_int_equal(rvk(0, SPACE_PIO, PIO_A, 0xffff, 2), E_RANGE);
    assert_int_equal(rvk(0, SPACE_OBJ, PD_R_ALL, SEL_COUNT - 1, 2), E_RANGE);
    assert_int_equal(rvk(0, SPACE_OBJ, PD_R_ALL, SEL_COUNT - 1, 1), E_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(xfer_decodes_kind_and_rights),
        cmocka_unit_test(xfer_with_high_bits_set_is_an_argument_error),
        cmocka_unit_test(xfer_with_an_unknown_kind_is_an_argument_error),
        cmocka_unit_test(xfer_with_an_empty_mask_is_an_argument_error),
        cmocka_unit_test(xfer_with_rights_foreign_to_the_kind_is_an_argument_error),
        cmocka_unit_test(delegated_memory_without_read_is_an_argument_error),
        cmocka_unit_test(revoking_only_write_or_execute_is_allowed),
        cmocka_unit_test(a_failed_decode_leaves_the_output_alone),
        cmocka_unit_test(destination_selector_zero_is_an_argument_error),
        cmocka_unit_test(destination_selector_past_the_table_means_full),
        cmocka_unit_test(user_buffers_must_end_at_or_below_the_user_limit),
        cmocka_unit_test(user_buffers_that_wrap_are_out_of_range),
        cmocka_unit_test(ec_start_needs_entry_below_and_stack_at_most_the_limit),
        cmocka_unit_test(ec_resume_checks_flags_before_rip),
        cmocka_unit_test(lookup_checks_kind_before_address),
        cmocka_unit_test(delegate_accepts_a_valid_memory_range),
        cmocka_unit_test(delegate_and_revoke_give_port_and_selector_bases_as_they_are),
        cmocka_unit_test(delegate_of_zero_items_is_an_argument_error),
        cmocka_unit_test(delegate_checks_xfer_before_count),
        cmocka_unit_test(delegate_of_unaligned_memory_is_an_alignment_error),
        cmocka_unit_test(delegate_checks_alignment_before_range),
        cmocka_unit_test(delegate_of_memory_reaching_past_the_user_limit_is_out_of_range),
        cmocka_unit_test(delegate_of_a_memory_count_that_wraps_is_out_of_range),
        cmocka_unit_test(delegate_of_ports_past_0xffff_is_out_of_range),
        cmocka_unit_test(delegate_of_ports_needs_no_alignment),
        cmocka_unit_test(delegate_of_a_source_selector_range_past_the_table_is_out_of_range),
        cmocka_unit_test(delegate_into_selector_zero_is_an_argument_error),
        cmocka_unit_test(delegate_of_selectors_past_the_destination_table_means_full),
        cmocka_unit_test(delegate_of_selectors_needs_no_alignment),
        cmocka_unit_test(revoke_with_unknown_flags_is_an_argument_error),
        cmocka_unit_test(revoke_checks_xfer_and_count),
        cmocka_unit_test(revoke_of_unaligned_memory_is_an_alignment_error),
        cmocka_unit_test(revoke_past_the_end_of_a_space_is_out_of_range),
    };
    return cmocka_run_group_tests_name("sysarg", tests, NULL, NULL);
}
