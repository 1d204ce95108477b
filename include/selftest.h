/*
 * In-kernel self-checks, run by the command-line word "selftest" on the boot
 * core (a check may involve other cores through IPIs). A check is
 *
 *     SELFTEST(name_as_a_sentence)
 *     {
 *         if (bad)
 *             return SELFTEST_FAIL("what went wrong: %u", x);
 *         return true;
 *     }
 *
 * anywhere in the kernel; the linker collects them (section .selftests).
 * Output: "ok N - name" / "not ok N - name: why", then "N passed, N failed".
 */
#pragma once
#include "types.h"
#include "printk.h"

struct selftest {
    const char *name;
    bool (*fn)(char *why, size_t why_len);
};

#define SELFTEST(id) \
    static bool selftest_fn_##id(char *why, size_t why_len); \
    __attribute__((used, __section__(".selftests"), __aligned__(8))) \
    static const struct selftest selftest_##id = { #id, selftest_fn_##id }; \
    static bool selftest_fn_##id(char *why, unused size_t why_len)

/* Record why the check failed and evaluate to false. */
#define SELFTEST_FAIL(...)  (snprintk(why, why_len, __VA_ARGS__), false)

unsigned selftest_run_all(void);

/* Provided by the architecture (arch/x86_64/smp.c): */

noreturn void arch_exit(bool pass);
