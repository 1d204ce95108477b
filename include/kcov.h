/*
 * Kernel edge coverage for the fuzzer (test build only: make KCOV=1, clang's
 * -fsanitize-coverage=trace-pc-guard on kernel/ and arch/ objects). Every
 * instrumented edge has a 32-bit guard in the section __sancov_guards; kcov_init
 * numbers them 1..n, and the first execution of an edge sets its bit. User space
 * reads the result with the test-only call SYS_KCOV (docs/abi.md).
 */
#pragma once
#include "types.h"

#ifdef KCOV
void kcov_init(void);
int kcov_sys(mword out, mword len);
#else
static inline void kcov_init(void) {}
#endif
