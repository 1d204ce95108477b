/*
 * Self-checks of the kernel's allocators (command-line word "selftest"): with every other pool
 * frame taken, so that no two free frames are adjacent, a PD is still created and objects still
 * come from a charged heap; everything goes back (kernels for up to 64 cores, whose struct pd
 * takes one frame).
 */
#include "pd.h"
#include "frame.h"
#include "kmalloc.h"
#include "arch.h"
#include "quota.h"
#include "selftest.h"

/* Take every free pool frame; give back those at even frame numbers. The kept ones are chained
   through their first word; returns the chain. */
static paddr_t fragment_pool(void)
{
    paddr_t all = 0, kept = 0, pa;
    while ((pa = kframe_alloc())) {
        *(paddr_t *)phys_to_virt(pa) = all;
        all = pa;
    }
    while ((pa = all)) {
        all = *(paddr_t *)phys_to_virt(pa);
        if ((pa / PAGE_SIZE) % 2 == 0) {
            kframe_free(pa);
        } else {
            *(paddr_t *)phys_to_virt(pa) = kept;
            kept = pa;
        }
    }
    return kept;
}

/* Give back a chain from fragment_pool. */
static void unfragment_pool(paddr_t kept)
{
    paddr_t pa;
    while ((pa = kept)) {
        kept = *(paddr_t *)phys_to_virt(pa);
        kframe_free(pa);
    }
}

SELFTEST(a_pd_and_its_objects_are_made_when_no_two_free_frames_are_adjacent)
{
    if (PD_FRAMES > 1)
        return true;    /* a kernel for more than 64 cores: struct pd takes two adjacent frames */
    struct pd *warm = pd_create(NULL, PD_QUOTA_KERNEL);    /* the spaces' shared pages, once */
    if (warm)
        pd_destroy_empty(warm);
    size_t free0 = kernel_pool.nfree;
    paddr_t kept = fragment_pool();
    size_t free1 = kernel_pool.nfree;
    struct pd *pd = pd_create(NULL, PD_QUOTA_KERNEL);
    void *obj = pd ? kheap_alloc(&pd->heap, 100) : NULL;
    bool roots = pd && space_mem_loc(&pd->mem, 0) == E_OK;
    uint64_t used = pd ? quota_used(&pd->quota) : 0;
    if (obj)
        kheap_free(&pd->heap, obj);
    if (pd)
        pd_destroy_empty(pd);
    size_t free2 = kernel_pool.nfree;
    unfragment_pool(kept);
    if (!pd || !obj || !roots)
        return SELFTEST_FAIL("%lu free frames, none adjacent: pd %d, object %d, root %d",
                             (unsigned long)free1,
                             pd != NULL, obj != NULL, roots);
    if (free2 != free1 || kernel_pool.nfree != free0)
        return SELFTEST_FAIL("frames not given back: %lu -> %lu, %lu -> %lu", (unsigned long)free1,
                             (unsigned long)free2, (unsigned long)free0,
                             (unsigned long)kernel_pool.nfree);
    if (used != PD_OBJ_FRAMES + SPACE_MEM_ROOT_FRAMES + SPACE_MEM_CORE_FRAMES + 1)
        return SELFTEST_FAIL("the PD was charged %lu frames, want %u", (unsigned long)used,
                             PD_OBJ_FRAMES + SPACE_MEM_ROOT_FRAMES + SPACE_MEM_CORE_FRAMES + 1);
    return true;
}
