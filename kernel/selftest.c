/* Run the self-checks collected in section .selftests and print TAP lines. */
#include "selftest.h"

extern const struct selftest __selftests_start[], __selftests_end[];

#define WHY_LEN 160
static char why[WHY_LEN];       /* static: the core's stack is only 4 KiB */

/* Run all checks, print the results; returns the number of failures. */
unsigned selftest_run_all(void)
{
    unsigned n = 0, failed = 0;

    for (const struct selftest *t = __selftests_start; t < __selftests_end; t++) {
        why[0] = '\0';
        n++;
        if (t->fn(why, sizeof(why))) {
            printk("ok %u - %s\n", n, t->name);
        } else {
            failed++;
            printk("not ok %u - %s: %s\n", n, t->name, why[0] ? why : "failed");
        }
    }
    printk("%u passed, %u failed\n", n - failed, failed);
    return failed;
}
