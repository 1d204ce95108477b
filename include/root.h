/* The root task: the first boot module, run in the root PD (kernel/root.c, docs/abi.md "Boot"). */
#pragma once
#include "types.h"

/* Early boot: copy module 0 into the kernel pool if the linear map does not cover it. */
void root_relocate_module(void);

/* Build the root PD from module 0 and make its first EC runnable on core 0; false if none. */
bool root_start(void);
