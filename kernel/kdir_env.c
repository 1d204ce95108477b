/*
 * The kernel's environment of Space_obj and Space_pio (include/kdir.h): their memory
 * (kptab_env_pd: pool frames through the linear map, counted as PD-held), the current PD's
 * kdir and the local flush. space_pio_shootdown is kernel/pd.c's (the PD that embeds the space);
 * the self-checks of both spaces are in kernel/spaces_check.c.
 */
#include "kdir.h"
#include "kmalloc.h"
#include "arch.h"
#include "pd.h"

/* Space_obj and Space_pio take their shared pages from the kernel pool like every page table,
   counted as frames PDs hold; a PD's private pages and tables come from its own env, charged to
   it (pd_create). */
const struct ptab_env *space_env = &kptab_env_pd;

/* The kdir of the PD running on this core (PDPT 511 of its loaded root), 0 if none. */
paddr_t kdir_current(void)
{
    struct pd *pd = this_cpu()->pd;
    return pd ? pd->kdir : 0;
}

/* Forget this core's translation of va in the current PD (the PD's kdir entries are not global). */
void kdir_flush_local(vaddr_t va)
{
    arch_flush_page(va);
}
