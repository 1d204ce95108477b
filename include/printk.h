/* Kernel console output (COM1) and string formatting. */
#pragma once
#include <stdarg.h>
#include "types.h"
#include "compiler.h"

/* Format like printf (%d %i %u %x %X %p %s %c %%, flags 0 and -, width, l ll z) to the console. */
void printk(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void vprintk(const char *fmt, va_list ap);

/* Format into buf (always NUL-terminated if n > 0); returns the untruncated length. */
int snprintk(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintk(char *buf, size_t n, const char *fmt, va_list ap);

/* Write the n bytes at s to the console as they are (NUL included), under the console lock. */
void console_write(const char *s, size_t n);

/* From now on print without the console lock (panic and exception paths). */
void console_force(void);

/* Emit one character on the console; provided by the architecture (serial). */
void console_putc(char c);

/* Disable interrupts on this core, returning the previous state for console_irq_restore (arch). */
unsigned long console_irq_save(void);
void console_irq_restore(unsigned long state);

/* Stop the other cores and leave the machine with the failure status (arch). */
noreturn void arch_panic_stop(void);
