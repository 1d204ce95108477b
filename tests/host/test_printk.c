/* printk/snprintk: the formats the kernel uses, truncation, and console output. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "printk.h"

static char console[256];
static size_t console_len;

/* Fake console: record characters. */
void console_putc(char c)
{
    if (console_len + 1 < sizeof(console))
        console[console_len++] = c;
    console[console_len] = '\0';
}

static int irq_depth;

/* Fake interrupt control: count nesting, so the test can see it is balanced. */
unsigned long console_irq_save(void)
{
    return (unsigned long)irq_depth++;
}

void console_irq_restore(unsigned long state)
{
    irq_depth = (int)state;
}

static char buf[128];

static void integers_print_in_decimal_and_hex_with_width_and_zero_padding(void **state)
{
    (void)state;
    snprintk(buf, sizeof(buf), "%d %u %x %X %5d|%-4u|%08lx", -42, 42u, 0xbeefu, 0xbeefu, 7, 3u,
             0xabcUL);
    assert_string_equal(buf, "-42 42 beef BEEF     7|3   |00000abc");
}

static void long_and_size_arguments_use_their_full_width(void **state)
{
    (void)state;
    snprintk(buf, sizeof(buf), "%lx %ld %zu %lu", 0xffffffffbfffc000UL, -1L, (size_t)1 << 40,
             18446744073709551615UL);
    assert_string_equal(buf, "ffffffffbfffc000 -1 1099511627776 18446744073709551615");
}

static void strings_chars_pointers_and_percent_print(void **state)
{
    (void)state;
    snprintk(buf, sizeof(buf), "[%s] [%6s] [%c] %p 100%%", "ab", "cd", 'x', (void *)0x1000);
    assert_string_equal(buf, "[ab] [    cd] [x] 0x1000 100%");
}

static void a_null_string_prints_as_null(void **state)
{
    (void)state;
    const char *volatile s = NULL;     /* volatile: hide the NULL from format checks */
    snprintk(buf, sizeof(buf), "%s", s);
    assert_string_equal(buf, "(null)");
}

static void output_is_truncated_terminated_and_the_full_length_returned(void **state)
{
    (void)state;
    char small[6];
    memset(small, 'X', sizeof(small));
    assert_int_equal(snprintk(small, sizeof(small), "%s", "0123456789"), 10);
    assert_string_equal(small, "01234");
    assert_int_equal(snprintk(small, 0, "abc"), 3);
    assert_int_equal(small[0], '0');
}

static void printk_writes_to_the_console_with_cr_before_lf(void **state)
{
    (void)state;
    console_len = 0;
    printk("core %u up\n", 3u);
    assert_string_equal(console, "core 3 up\r\n");
    assert_int_equal(irq_depth, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(integers_print_in_decimal_and_hex_with_width_and_zero_padding),
        cmocka_unit_test(long_and_size_arguments_use_their_full_width),
        cmocka_unit_test(strings_chars_pointers_and_percent_print),
        cmocka_unit_test(a_null_string_prints_as_null),
        cmocka_unit_test(output_is_truncated_terminated_and_the_full_length_returned),
        cmocka_unit_test(printk_writes_to_the_console_with_cr_before_lf),
    };
    return cmocka_run_group_tests_name("printk", tests, NULL, NULL);
}
