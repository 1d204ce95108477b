/*
 * The user-space library (build/user/libtessera.a): formatted output to the
 * debug console, memory and string helpers, port I/O, TAP test helpers.
 * Freestanding: no libc. System calls are in sys.h.
 */
#pragma once
#include <stdarg.h>
#include "format.h"
#include "sys.h"

/* Every program defines main; crt0 calls it with the EC's start argument
   (the root task: INFO_PAGE_ADDR) and exits with its result. */
int main(mword arg);

/* Formatted output (lib/format.c, include/format.h): %d %i %u %x %X %p %s %c %%, flags '-' '0',
 * width, '*', length l ll z. Output longer than size is cut; the return value is the full
 * length. */

int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int puts(const char *s);

/* Memory and strings (the compiler may also emit calls to the mem* ones). */

void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
size_t strnlen(const char *s, size_t max);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* Port I/O from user mode: allowed only for ports delegated to the PD (else #GP). */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ __volatile__("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* TAP output for user-level test programs: "ok N - name" / "not ok N - name".
   The first result is preceded by TAP_USER_MARK, which separates them from the
   kernel's own self-check lines in the serial log (tests/qemu/user.sh). */
#define TAP_USER_MARK "# TAP from user mode"
void tap_check(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int tap_failures(void);
