/*
 * SYS_INSPECT of the INSPECT=1 test build (include/inspect.h): one PD's page tables as serial
 * lines "@pt ...", parsed by scripts/inspect.py. The master table hpt is printed whole below
 * USER_ADDR; each per-core root loc[cpu] by its present user root entries and its kernel half
 * (PML4 entry PML4_KERNEL, its PDPT's entries PDPT_KERNEL and PDPT_KDIR, and the core's kernel
 * PD entry that holds the core-local slot). Frames are physical addresses.
 */
#include "inspect.h"
#include "pd.h"
#include "layout.h"
#include "printk.h"
#include "syscall.h"

#define INSPECT_TAG_MAX 0xFFFF          /* tags a caller may give a dump */

/* ptab_visit visitor: print one present entry of the master table; descend into tables. */
static bool print_master(void *arg, const struct ptab_entry *e)
{
    (void)arg;
    printk("@pt m %u %lx %lx %lx %c\n", e->level, e->va, e->e, e->pa, e->leaf ? 'L' : 'T');
    return true;
}

/* Entry i of the table in frame pa at level (the walker's slot of that level), read once. */
static pte_t entry_at(const struct space_mem *m, paddr_t pa, unsigned level, unsigned i)
{
    const pte_t *t = m->env.p2v(m->env.ctx, pa, level);
    return ptab_entry_load(&t[i]);
}

/* Print loc[cpu] of m: its root, present user root entries and the kernel half's frames. */
static void print_loc(const struct space_mem *m, unsigned cpu)
{
    paddr_t root = m->loc[cpu].root;
    pte_t mask = ptab_hpt.addr_mask;
    printk("@pt loc %u %lx\n", cpu, root);
    for (unsigned i = 0; i < PML4_USER_SLOTS; i++) {
        pte_t e = entry_at(m, root, HPT_LEVELS - 1, i);
        if (ptab_fmt_present(&ptab_hpt, e))
            printk("@pt r %u %u %lx %lx\n", cpu, i, e, e & mask);
    }
    pte_t k = entry_at(m, root, HPT_LEVELS - 1, PML4_KERNEL);
    if (!ptab_fmt_present(&ptab_hpt, k))
        return;
    pte_t kpd = entry_at(m, k & mask, HPT_LEVELS - 2, PDPT_KERNEL);
    pte_t kdir = entry_at(m, k & mask, HPT_LEVELS - 2, PDPT_KDIR);
    pte_t local = ptab_fmt_present(&ptab_hpt, kpd) ?
                  entry_at(m, kpd & mask, HPT_LEVELS - 3, PTAB_ENTRIES - 1) : 0;
    printk("@pt k %u %lx %lx %lx %lx\n", cpu, k & mask, kpd & mask, kdir & mask, local & mask);
}

/* Perform inspect: print pd's tables under tag (caller holds pd_lock: no table is freed). */
static void perform_inspect(struct pd *pd, mword sel, mword tag)
{
    const struct space_mem *m = &pd->mem;
    printk("@pt begin %lu %lu %lx %lx\n", tag, sel, m->hpt.root, pd->kdir);
    ptab_visit(&m->hpt, 0, USER_ADDR, print_master, NULL);
    for (unsigned c = 0; c < NUM_CPU; c++)
        if (m->loc[c].root)
            print_loc(m, c);
    printk("@pt end %lu %lu\n", tag, sel);
}

/* SYS_INSPECT(pd_sel, tag) of the caller's PD self: E_CAP if pd_sel names no PD in self's
   object space, E_ARG if tag is above INSPECT_TAG_MAX; else print the PD's tables and E_OK. */
int inspect_sys(struct pd *self, mword pd_sel, mword tag)
{
    struct pd *pd;
    int err = pd_cap(self, pd_sel, CAP_PD, 0, (void **)&pd);
    if (err)
        return err;
    if (tag > INSPECT_TAG_MAX)
        return E_ARG;
    perform_inspect(pd, pd_sel, tag);
    return E_OK;
}
