/* Kernel console output (COM1) and string formatting. */
#pragma once
#include <stdarg.h>
#include "types.h"
#include "compiler.h"

void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *fmt, va_list ap);

int snprintk(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintk(char *buf, size_t n, const char *fmt, va_list ap);

void console_write(const char *s, size_t n);

void console_force(void);

/* Provided by the architecture (arch/x86_64/serial.c, smp.c): */

void console_putc(char c);
unsigned long console_irq_save(void);
void console_irq_restore(unsigned long state);
noreturn void arch_panic_stop(void);
