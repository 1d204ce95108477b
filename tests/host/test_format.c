/* The shared formatter (lib/format.c) behaves like printf for what it supports. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <limits.h>
#include <string.h>
#include <cmocka.h>

int vformat(char *buf, size_t size, const char *fmt, va_list ap);

static char out[64];

/* Format into out (or into size bytes of it) and return the length vformat reports. */
static int fmt_n(size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(out, size, fmt, ap);
    va_end(ap);
    return n;
}

#define FMT(...) fmt_n(sizeof(out), __VA_ARGS__)

static void plain_text_is_copied(void **state)
{
    (void)state;
    assert_int_equal(FMT("hello, world"), 12);
    assert_string_equal(out, "hello, world");
}

static void signed_decimals_print_with_sign(void **state)
{
    (void)state;
    FMT("%d %i %d", 42, -7, 0);
    assert_string_equal(out, "42 -7 0");
}

static void the_most_negative_values_print_exactly(void **state)
{
    (void)state;
    FMT("%d %ld", INT_MIN, LONG_MIN);
    assert_string_equal(out, "-2147483648 -9223372036854775808");
}

static void unsigned_decimals_cover_the_full_range(void **state)
{
    (void)state;
    FMT("%u %lu %zu", UINT_MAX, ULONG_MAX, (size_t)5);
    assert_string_equal(out, "4294967295 18446744073709551615 5");
}

static void hex_prints_lower_and_upper_case(void **state)
{
    (void)state;
    FMT("%x %X %lx %llx", 0xbeefu, 0xbeefu, 0xfedcba9876543210UL, 0x1ULL);
    assert_string_equal(out, "beef BEEF fedcba9876543210 1");
}

static void int_length_arguments_are_not_sign_extended(void **state)
{
    (void)state;
    FMT("%x", -1);
    assert_string_equal(out, "ffffffff");
}

static void pointers_print_as_0x_hex(void **state)
{
    (void)state;
    FMT("%p %p", (void *)0x400000, (void *)0);
    assert_string_equal(out, "0x400000 0x0");
}

static void zero_padding_fills_to_the_width(void **state)
{
    (void)state;
    FMT("%08x|%016lx|%03u", 0x1fu, 0xabcUL, 7u);
    assert_string_equal(out, "0000001f|0000000000000abc|007");
}

static void zero_padding_goes_after_the_sign_and_prefix(void **state)
{
    (void)state;
    FMT("%05d|%010p", -42, (void *)0x1234);
    assert_string_equal(out, "-0042|0x00001234");
}

static void width_right_aligns_with_spaces(void **state)
{
    (void)state;
    FMT("[%5d][%4s][%3c]", -12, "ab", 'z');
    assert_string_equal(out, "[  -12][  ab][  z]");
}

static void minus_flag_left_aligns(void **state)
{
    (void)state;
    FMT("[%-5d][%-4s][%-05u]", 3, "ab", 9u);
    assert_string_equal(out, "[3    ][ab  ][9    ]");
}

static void star_takes_the_width_from_an_argument(void **state)
{
    (void)state;
    FMT("[%*d][%*d]", 4, 1, -4, 2);
    assert_string_equal(out, "[   1][2   ]");
}

static void width_smaller_than_the_value_does_not_cut(void **state)
{
    (void)state;
    FMT("%2d", 12345);
    assert_string_equal(out, "12345");
}

static void strings_print_and_null_prints_a_marker(void **state)
{
    (void)state;
    FMT("%s|%s", "abc", (char *)NULL);
    assert_string_equal(out, "abc|(null)");
}

static void precision_limits_string_length(void **state)
{
    (void)state;
    char name[4] = { 'r', 'o', 'o', 't' };     /* not NUL terminated */
    FMT("%.3s|%.*s|%.9s", "abcdef", 4, name, "xy");
    assert_string_equal(out, "abc|root|xy");
}

static void characters_and_percent_print(void **state)
{
    (void)state;
    FMT("%c%c%%", 'o', 'k');
    assert_string_equal(out, "ok%");
}

static void an_unknown_conversion_is_copied_verbatim(void **state)
{
    (void)state;
    FMT("a%qb");
    assert_string_equal(out, "a%qb");
}

static void a_lone_percent_at_the_end_is_kept(void **state)
{
    (void)state;
    FMT("100%");
    assert_string_equal(out, "100%");
}

static void long_output_is_cut_terminated_and_fully_counted(void **state)
{
    (void)state;
    memset(out, 'X', sizeof(out));
    assert_int_equal(fmt_n(6, "%s-%d", "abcdef", 12345), 12);
    assert_string_equal(out, "abcde");
    assert_int_equal(out[6], 'X');      /* nothing written past size */
}

static void size_zero_writes_nothing(void **state)
{
    (void)state;
    memset(out, 'X', sizeof(out));
    assert_int_equal(fmt_n(0, "%d", 123), 3);
    assert_int_equal(out[0], 'X');
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_text_is_copied),
        cmocka_unit_test(signed_decimals_print_with_sign),
        cmocka_unit_test(the_most_negative_values_print_exactly),
        cmocka_unit_test(unsigned_decimals_cover_the_full_range),
        cmocka_unit_test(hex_prints_lower_and_upper_case),
        cmocka_unit_test(int_length_arguments_are_not_sign_extended),
        cmocka_unit_test(pointers_print_as_0x_hex),
        cmocka_unit_test(zero_padding_fills_to_the_width),
        cmocka_unit_test(zero_padding_goes_after_the_sign_and_prefix),
        cmocka_unit_test(width_right_aligns_with_spaces),
        cmocka_unit_test(minus_flag_left_aligns),
        cmocka_unit_test(star_takes_the_width_from_an_argument),
        cmocka_unit_test(width_smaller_than_the_value_does_not_cut),
        cmocka_unit_test(strings_print_and_null_prints_a_marker),
        cmocka_unit_test(precision_limits_string_length),
        cmocka_unit_test(characters_and_percent_print),
        cmocka_unit_test(an_unknown_conversion_is_copied_verbatim),
        cmocka_unit_test(a_lone_percent_at_the_end_is_kept),
        cmocka_unit_test(long_output_is_cut_terminated_and_fully_counted),
        cmocka_unit_test(size_zero_writes_nothing),
    };
    return cmocka_run_group_tests_name("format", tests, NULL, NULL);
}
