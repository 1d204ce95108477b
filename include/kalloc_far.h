/*
 * Page-table frames of PDs (master tables, per-core roots and their kernel-half PDPTs):
 * from the far pool, RAM outside the linear map (boot word "tables-far"), while it has
 * frames, else from the kernel pool; each counted as held by a PD (kframe_account). The
 * kernel reaches them through kmem_ptr: the linear map, or the temporal window
 * (arch/x86_64/include/tmap.h) under the slot rule of struct ptab_env.
 */
#pragma once
#include "ptab.h"

extern const struct ptab_env kptab_env_tables;

size_t kframes_free_total(void);
bool kframe_is_free(paddr_t pa);
