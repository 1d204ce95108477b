/* The host test harness works: cmocka runs, types.h macros behave. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "types.h"

/* ALIGN_* and BITS give the documented results. */
static void align_and_bit_macros_work(void **state)
{
    (void)state;
    assert_int_equal(ALIGN_UP(0x1001UL, 0x1000), 0x2000);
    assert_int_equal(ALIGN_DOWN(0x1fffUL, 0x1000), 0x1000);
    assert_true(IS_ALIGNED(0x200000UL, MiB(2)));
    assert_int_equal(BITS(51, 12), 0x000ffffffffff000UL);
    assert_int_equal(BITS(63, 63), 0x8000000000000000UL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(align_and_bit_macros_work),
    };
    return cmocka_run_group_tests_name("selfcheck", tests, NULL, NULL);
}
