/*
 * Access to user memory from the kernel: range check against USER_LIMIT, then a
 * copy inside a stac/clac window (SMAP); a fault during the copy returns E_RANGE
 * (arch/x86_64/fault.c redirects it to the fixup). Only the current PD's memory.
 */
#pragma once
#include "types.h"

int copy_from_user(void *dst, mword src, size_t n);
int copy_to_user(mword dst, const void *src, size_t n);
