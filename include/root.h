/* The root task: the first boot module, run in the root PD (kernel/root.c, docs/abi.md "Boot"). */
#pragma once
#include "types.h"

void root_relocate_module(void);

bool root_start(void);
