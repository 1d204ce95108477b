/*
 * Self-check of DMA remapping with QEMU's edu device (-device edu; -device intel-iommu on
 * -machine q35): a device is blocked until attached; attached to a Dpt table its DMA reaches
 * the pages mapped there, while DMA to a hole, to a read-only page, to a page unmapped since
 * (IOTLB invalidated) and after the detach faults, is recorded with the device's source id,
 * and leaves memory unchanged; the faults raise the fault event interrupt. Domain id 0 (reserved
 * in caching mode), a function no unit covers and a second attach are refused. Without an
 * IOMMU, attaching is refused.
 */
#include "iommu.h"
#include "abi.h"
#include "vtd.h"
#include "cpu.h"
#include "kmalloc.h"
#include "kmem.h"
#include "kstring.h"
#include "lapic.h"
#include "pci.h"
#include "selftest.h"

/* edu registers (BAR0) and its DMA engine (QEMU docs/specs/edu.txt). */
#define EDU_ID              0x00        /* u32: 0xRRrr00ed */
#define EDU_ID_MAGIC        0xED        /* its low byte */
#define EDU_DMA_SRC         0x80        /* u64: source address */
#define EDU_DMA_DST         0x88        /* u64: destination address */
#define EDU_DMA_COUNT       0x90        /* u64: bytes */
#define EDU_DMA_CMD         0x98        /* u64: command */
#define EDU_DMA_START       BIT(0)      /* start; cleared when the transfer is done */
#define EDU_DMA_TO_RAM      BIT(1)      /* direction: device buffer -> bus address */
#define EDU_BUF             0x40000     /* the device's buffer, in the device's own addresses */
#define EDU_DMA_TIMEOUT_US  2000000     /* a transfer takes ~100 ms of QEMU's virtual clock */

#define CHECK_DID           1           /* domain id of the check's table */
#define NO_UNIT_BDF         PCI_BDF(0xFE, 31, 7)    /* a function no DMAR scope names */
#define IOVA_RO             0x100000    /* bus address of the read-only page */
#define IOVA_RW             0x101000    /* bus address of the writable page */
#define IOVA_HOLE           0x102000    /* bus address mapped nowhere */
#define XFER                64          /* bytes per transfer */

struct edu_check {
    volatile uint8_t *regs;
    uint16_t bdf;
    struct ptab dpt;
    struct ptab_env env;
    uint8_t *ro, *rw;                   /* the two pages, as the kernel sees them */
    paddr_t ro_pa, rw_pa;
};

/* Run one edu DMA of XFER bytes from src to dst (to_ram: from the device's buffer); false if
 * it did not finish in time. */
static bool edu_dma(struct edu_check *c, uint64_t src, uint64_t dst, bool to_ram)
{
    *(volatile uint64_t *)(c->regs + EDU_DMA_SRC) = src;
    *(volatile uint64_t *)(c->regs + EDU_DMA_DST) = dst;
    *(volatile uint64_t *)(c->regs + EDU_DMA_COUNT) = XFER;
    *(volatile uint64_t *)(c->regs + EDU_DMA_CMD) = EDU_DMA_START | (to_ram ? EDU_DMA_TO_RAM : 0);
    uint64_t end = time_us() + EDU_DMA_TIMEOUT_US;
    while (*(volatile uint64_t *)(c->regs + EDU_DMA_CMD) & EDU_DMA_START) {
        if (time_us() > end)
            return false;
        cpu_pause();
    }
    return true;
}

/* Was exactly one fault recorded since the last call, from the edu at the page of addr with
 * reason (0: any)? */
static bool faulted(const struct edu_check *c, uint64_t addr, unsigned reason)
{
    struct iommu_fault f[4];
    unsigned n = iommu_faults(f, ARRAY_SIZE(f));
    return n == 1 && f[0].sid == c->bdf && f[0].addr == ALIGN_DOWN(addr, PAGE_SIZE) &&
           (!reason || f[0].reason == reason);
}

/* Map (perm) or unmap (perm 0) the page at iova of the check's table to pa; false on OOM. The
 * caller invalidates the IOTLB after an unmap. */
static bool dpt_set(struct edu_check *c, uint64_t iova, paddr_t pa, unsigned perm)
{
    struct ptab_dfree df;
    struct ptab_result res;
    ptab_dfree_init(&df);
    int err = ptab_update(&c->dpt, iova, PAGE_SIZE, pa, (struct ptab_attr){ perm, PTAB_WB }, &df,
                          &res);
    iommu_flush_domain(CHECK_DID);
    ptab_dfree_release(&df, &c->env);
    return err == E_OK;
}

/* Is every byte of the XFER bytes at p equal to v? */
static bool all_bytes(const uint8_t *p, uint8_t v)
{
    for (unsigned i = 0; i < XFER; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* The check's steps on the attached edu; NULL when all passed, else what failed. */
static const char *edu_steps(struct edu_check *c)
{
    for (unsigned i = 0; i < XFER; i++)
        c->ro[i] = (uint8_t)(0xA0 + i);
    if (!edu_dma(c, IOVA_RO, EDU_BUF, false) || !edu_dma(c, EDU_BUF, IOVA_RW, true))
        return "a translated transfer did not finish";
    if (memcmp(c->ro, c->rw, XFER) != 0 || iommu_faults(NULL, 0) != 0)
        return "the data did not arrive through the table (or faulted)";
    if (!edu_dma(c, EDU_BUF, IOVA_HOLE, true) || !faulted(c, IOVA_HOLE, VTD_FR_WRITE))
        return "DMA to a hole was not reported as a write fault there";
    /* QEMU blocks a write through a read-only translation its IOTLB holds (from the read
       above) without recording a fault; after an invalidation it walks and records one. */
    c->ro[0] ^= 0xFF;
    iommu_flush_domain(CHECK_DID);
    if (!edu_dma(c, EDU_BUF, IOVA_RO, true) || !faulted(c, IOVA_RO, VTD_FR_WRITE) ||
        c->ro[0] != (uint8_t)(0xA0 ^ 0xFF))
        return "DMA wrote a read-only page (or no fault was reported)";
    /* A write through the writable page puts its translation into the IOTLB: the unmap
       must invalidate it. */
    if (!edu_dma(c, EDU_BUF, IOVA_RW, true) || iommu_faults(NULL, 0) != 0)
        return "a transfer to the writable page faulted";
    memset(c->rw, 0, XFER);
    if (!dpt_set(c, IOVA_RW, 0, 0))
        return "unmap failed";
    if (!edu_dma(c, EDU_BUF, IOVA_RW, true) || !faulted(c, IOVA_RW, 0) || !all_bytes(c->rw, 0))
        return "DMA reached a page after its unmap and the IOTLB invalidation";
    if (!dpt_set(c, IOVA_RW, c->rw_pa, PTAB_R | PTAB_W) || iommu_detach(c->bdf) != E_OK)
        return "remap or detach failed";
    if (!edu_dma(c, EDU_BUF, IOVA_RW, true) || !faulted(c, IOVA_RW, VTD_FR_CTX_NP) ||
        !all_bytes(c->rw, 0))
        return "DMA went on after the device was detached";
    return NULL;
}

/* Set up the table, pages and device, run the steps, undo it all; NULL or what failed. */
static const char *edu_check(const struct pci_dev *d)
{
    struct edu_check c = { .bdf = d->bdf };
    const char *why = NULL;
    c.regs = kmem_map_mmio(d->bar[0].base, PAGE_SIZE);
    if (!c.regs || (*(volatile uint32_t *)(c.regs + EDU_ID) & 0xFF) != EDU_ID_MAGIC)
        return "edu BAR0 unmapped or not an edu";
    c.env = kptab_env;
    c.env.flush = iommu_cache_flush;
    if (ptab_init(&c.dpt, &ptab_dpt, &c.env, iommu_dpt_levels(), iommu_dpt_caps()) != E_OK)
        return "no memory for the table";
    c.dpt.leaf_mask &= iommu_dpt_leaf_mask();
    c.ro_pa = kframe_alloc();
    c.rw_pa = kframe_alloc();
    uint16_t cmd = pci_read16(c.bdf, PCI_COMMAND);
    pci_write16(c.bdf, PCI_COMMAND, cmd | PCI_CMD_MEM | PCI_CMD_MASTER);
    iommu_faults(NULL, 0);
    if (!c.ro_pa || !c.rw_pa || !dpt_set(&c, IOVA_RO, c.ro_pa, PTAB_R) ||
        !dpt_set(&c, IOVA_RW, c.rw_pa, PTAB_R | PTAB_W))
        why = "no memory for the pages";
    else {
        c.ro = phys_to_virt(c.ro_pa);
        c.rw = phys_to_virt(c.rw_pa);
        if (!edu_dma(&c, EDU_BUF, IOVA_RW, true) || iommu_faults(NULL, 0) != 1 ||
            !all_bytes(c.rw, 0))
            why = "the device was not blocked before it was attached";
        else if (iommu_attach(c.bdf, c.dpt.root, 0) != E_ARG ||
                 iommu_attach(NO_UNIT_BDF, c.dpt.root, CHECK_DID) != E_NOENT ||
                 iommu_detach(NO_UNIT_BDF) != E_NOENT || iommu_faults(NULL, 0) != 0)
            why = "domain id 0 or a device no unit covers was not refused";
        else if (iommu_attach(c.bdf, c.dpt.root, CHECK_DID) != E_OK)
            why = "attach failed";
        else if (iommu_attach(c.bdf, c.dpt.root, CHECK_DID + 1) != E_BUSY)
            why = "an attached device was attached again";
        else
            why = edu_steps(&c);
    }
    iommu_detach(c.bdf);
    pci_write16(c.bdf, PCI_COMMAND, cmd);
    ptab_release(&c.dpt);
    if (c.ro_pa)
        kframe_free(c.ro_pa);
    if (c.rw_pa)
        kframe_free(c.rw_pa);
    return why;
}

SELFTEST(iommu_confines_edu_dma_to_its_table_and_reports_the_faults)
{
    const struct pci_dev *d = pci_find(PCI_VENDOR_QEMU, PCI_DEVICE_EDU);
    if (!d || !d->bar[0].size) {
        printk("iommu: edu DMA check skipped (no edu device)\n");
        return true;
    }
    if (!iommu_present()) {
        if (iommu_attach(d->bdf, 0, CHECK_DID) != E_NOENT)
            return SELFTEST_FAIL("attach without an IOMMU was not refused");
        printk("iommu: edu DMA check: assignment refused without an IOMMU\n");
        return true;
    }
    unsigned long events = iommu_fault_events();
    const char *failed = edu_check(d);
    if (failed)
        return SELFTEST_FAIL("%s", failed);
    if (iommu_fault_events() == events)
        return SELFTEST_FAIL("no fault event interrupt arrived");
    printk("iommu: edu DMA check passed\n");
    return true;
}
