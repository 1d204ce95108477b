/*
 * printf-style formatting shared by kernel, user library and host tests
 * (lib/format.c). Supported: %d %i %u %x %X %p %s %c %%; flags '-' and '0';
 * width (digits or '*'); precision for %s; length modifiers l, ll, z.
 */
#pragma once
#include <stdarg.h>
#include "types.h"

/* Receives one output character. */
typedef void (*format_emit_fn)(void *ctx, char c);

int vformat(char *buf, size_t size, const char *fmt, va_list ap);
int vformat_emit(format_emit_fn emit, void *ctx, const char *fmt, va_list ap);
