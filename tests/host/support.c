/* Host-side stand-ins for kernel services used by pure kernel logic. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>
#include "panic.h"
#include "tlb.h"

/* A kernel panic in host tests fails the running test case. */
void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "PANIC: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    fail_msg("kernel panic");
    abort();
}

/* spin_lock's waiters answer shootdown requests (arch/x86_64/tlb.c); the host has no TLBs. */
void tlb_poll(void)
{
}
