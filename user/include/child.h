/*
 * Child PDs for the root task (the demo and the user-level tests): memory
 * from the root's free-physical-memory window, selectors, child PDs that run
 * the root's own program (its ELF segments delegated at the same addresses,
 * so data and bss are shared with the root), and ECs running a C function.
 */
#pragma once
#include "ulib.h"

typedef void (*child_fn)(mword arg);    /* an EC entry: runs, then calls sys_exit */

/* A segment of the program: pages at va with MEM_* rights. */
struct child_seg {
    mword va, pages;
    unsigned rights;
};

#define CHILD_STACK_VA    0x40000000UL  /* 1 GiB: child stacks, PML4 slot 0 like the program */
#define CHILD_STACK_PAGES 4u            /* 16 KiB per EC */

bool mem_init(const struct info_page *ip);
mword mem_alloc(mword pages);
mword mem_take(mword pages, mword align);
mword mem_phys(mword window_va);
mword sel_alloc(void);
int child_pd(mword *pd_sel);
int child_pd_quota(mword *pd_sel, mword quota);
int child_pd_at(mword sel);
unsigned child_segments(struct child_seg *s, unsigned max);
int child_give_segments(mword src, mword dst, const struct child_seg *s, unsigned n);
int child_give(mword pd, mword va, mword pages, unsigned rights, mword *window_va);
int child_ec(mword pd, mword cpu, child_fn fn, mword arg, mword *ec_sel);
int ec_wait(mword ec, struct ec_info *ei);
int child_run(mword pd, mword cpu, child_fn fn, mword arg, struct ec_info *ei);
const char *fault_access_name(unsigned access);
