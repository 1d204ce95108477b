/*
 * The kernel's environment of Space_obj and Space_pio (include/space_kpd.h): their memory
 * (kptab_env: pool frames through the linear map), the current PD's kpd (found through CR3)
 * and the local flush. space_pio_shootdown is kernel/pd.c's (the PD that embeds the space);
 * the self-checks of both spaces are in kernel/spaces_check.c.
 */
#include "space_kpd.h"
#include "kmalloc.h"
#include "kmem.h"
#include "cpu.h"
#include "paging.h"

/* Space_obj and Space_pio take their frames from the kernel pool like every page table. */
const struct ptab_env *space_env = &kptab_env;

/* The entry at index i of the table at pa, or 0 if the table is 0. */
static pte_t entry_of(paddr_t pa, unsigned i)
{
    return pa ? ((pte_t *)phys_to_virt(pa))[i] : 0;
}

/* The kpd of the PD running on this core: PML4 511 -> PDPT 511 of the loaded root (0 if none). */
paddr_t kpd_current(void)
{
    pte_t pml4e = entry_of(read_cr3() & PTE_ADDR, pt_index(KPD_BASE, 3));
    pte_t pdpte = (pml4e & PTE_P) ? entry_of(pml4e & PTE_ADDR, pt_index(KPD_BASE, 2)) : 0;
    return (pdpte & PTE_P) && !(pdpte & PTE_PS) ? pdpte & PTE_ADDR : 0;
}

/* Forget this core's translation of va (the PD's kpd entries are not global). */
void kpd_flush_local(vaddr_t va)
{
    invlpg(va);
}
