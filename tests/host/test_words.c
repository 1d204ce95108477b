/* Command-line words (lib/words.c): whole words, key=value words, numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "words.h"

static void a_whole_word_is_found_anywhere_in_the_line(void **state)
{
    (void)state;
    const char *line = "selftest nox2apic  fault-test";
    assert_ptr_equal(word_find(line, "selftest", 0), line + 8);
    assert_non_null(word_find(line, "nox2apic", 0));
    assert_non_null(word_find(line, "fault-test", 0));
    assert_non_null(word_find("  lead", "lead", 0));
}

static void a_prefix_or_a_longer_word_is_not_the_word(void **state)
{
    (void)state;
    assert_null(word_find("fault-test-ist", "fault-test", 0));
    assert_null(word_find("self", "selftest", 0));
    assert_null(word_find("xselftest", "selftest", 0));
    assert_null(word_find("selftest=1", "selftest", 0));
    assert_null(word_find("", "selftest", 0));
    assert_non_null(word_find("fault-test-ist fault-test", "fault-test", 0));
}

static void a_key_value_word_gives_its_value(void **state)
{
    (void)state;
    const char *line = "selftest fuzz.seed=42 fuzz.time=7";
    const char *v = word_find(line, "fuzz.seed", '=');
    assert_non_null(v);
    assert_int_equal(word_num(v + 1), 42);
    assert_int_equal(word_num(word_find(line, "fuzz.time", '=') + 1), 7);
    assert_null(word_find(line, "fuzz.calls", '='));
    assert_null(word_find("fuzz.seed", "fuzz.seed", '='));
    assert_null(word_find("xfuzz.seed=1", "fuzz.seed", '='));
}

static void a_number_ends_at_the_first_non_digit(void **state)
{
    (void)state;
    assert_int_equal(word_num("18446744073709551615"), UINT64_MAX);
    assert_int_equal(word_num("12ab"), 12);
    assert_int_equal(word_num(""), 0);
    assert_int_equal(word_num(" 5"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_whole_word_is_found_anywhere_in_the_line),
        cmocka_unit_test(a_prefix_or_a_longer_word_is_not_the_word),
        cmocka_unit_test(a_key_value_word_gives_its_value),
        cmocka_unit_test(a_number_ends_at_the_first_non_digit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
