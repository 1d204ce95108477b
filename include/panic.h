/* Fatal errors: broken kernel invariants, never user input. */
#pragma once
#include "compiler.h"

noreturn void panic(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Panic with the function name if cond is false. */
#define ASSERT(cond) \
    do { \
        if (unlikely(!(cond))) \
            panic("%s: assertion '%s' failed (%s:%d)", __func__, #cond, __FILE__, __LINE__); \
    } while (0)
