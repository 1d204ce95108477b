/*
 * Child PDs for the root task (the demo and the user-level tests): memory
 * from the root's free-physical-memory window, selectors, child PDs that run
 * the root's own program (its ELF segments delegated at the same addresses,
 * so data and bss are shared with the root), and ECs running a C function.
 */
#pragma once
#include "ulib.h"

typedef void (*child_fn)(mword arg);    /* an EC entry: runs, then calls sys_exit */

#define CHILD_STACK_VA    0x40000000UL  /* 1 GiB: child stacks, PML4 slot 0 like the program */
#define CHILD_STACK_PAGES 4u            /* 16 KiB per EC */

bool mem_init(const struct info_page *ip);  /* pick the largest free range; false if none */
mword mem_alloc(mword pages);               /* root address of fresh pages in the window, or 0 */
mword mem_take(mword pages, mword align);   /* like mem_alloc, aligned to align bytes, NOT zeroed */
mword mem_phys(mword window_va);            /* physical address of a window address */
mword sel_alloc(void);                      /* next unused selector of the root (bump) */
int child_pd(mword *pd_sel);                /* new PD running the root's program; status */
int child_give(mword pd, mword va, mword pages, unsigned rights, mword *window_va);
int child_ec(mword pd, mword cpu, child_fn fn, mword arg, mword *ec_sel);
int ec_wait(mword ec, struct ec_info *ei);  /* ec_status(EC_WAIT); status */
int child_run(mword pd, mword cpu, child_fn fn, mword arg, struct ec_info *ei);  /* start, wait */
const char *fault_access_name(unsigned access);   /* "read" / "write" / "execute" */
