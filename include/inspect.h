/*
 * Page-table dump of the INSPECT=1 test build (make inspect, tests/qemu/inspect.sh): the test-only
 * call SYS_INSPECT prints a PD's master table and per-core roots to the serial console
 * (docs/abi.md). Every other build has no such call.
 */
#pragma once
#include "types.h"

#ifdef INSPECT
struct pd;
int inspect_sys(struct pd *self, mword pd_sel, mword tag);
#endif
