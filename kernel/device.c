/*
 * Devices as kernel objects (include/device.h): one per PCI function of the device page,
 * assignment to a PD's dpt through the IOMMU driver, the faults it reports per device, and
 * the test whether a physical range is a device's memory BAR (mapped uncached).
 */
#include "device.h"
#include "arch.h"
#include "infopage.h"
#include "pd.h"
#include "printk.h"

struct device devices[INFO_MAX_DEVS];
unsigned ndevices;
static paddr_t mmio_lo = ~(paddr_t)0, mmio_hi;  /* bounds of every memory BAR (quick test) */

/* One device per PCI function of the device page, in its order (boot, once). */
void device_boot_init(void)
{
    ndevices = MIN(pci_ndevs, INFO_MAX_DEVS);
    for (unsigned i = 0; i < ndevices; i++) {
        devices[i] = (struct device){ .bdf = pci_devs[i].bdf };
        for (unsigned b = 0; b < PCI_BARS; b++) {
            const struct pci_bar *r = &pci_devs[i].bar[b];
            if (r->size && !r->io && r->base) {
                mmio_lo = MIN(mmio_lo, r->base);
                mmio_hi = MAX(mmio_hi, r->base + r->size);
            }
        }
    }
}

/* Check and reserve what assigning d to pd needs: E_NOENT without an IOMMU unit for d or if
 * that unit cannot block d's interrupt messages, E_BUSY if d is assigned, E_NOMEM (context
 * table, pd's dpt; what was built stays). */
int device_assign_decode(struct device *d, struct pd *pd)
{
    if (!iommu_present() || !iommu_irq_blocked(d->bdf))
        return E_NOENT;
    if (d->owner)
        return E_BUSY;
    int err = iommu_prepare(d->bdf);
    bool built;
    return err ? err : space_mem_dpt(&pd->mem, &built);
}

/* Put d's DMA under pd's dpt (after device_assign_decode): memory decode and bus mastering
 * on, then the context entry. */
void device_assign(struct device *d, struct pd *pd)
{
    uint16_t cmd = pci_read16(d->bdf, PCI_COMMAND);
    pci_write16(d->bdf, PCI_COMMAND, cmd | PCI_CMD_MEM | PCI_CMD_MASTER);
    if (iommu_attach(d->bdf, pd->mem.dpt->t.root, (uint16_t)pd->mem.dpt->did) != E_OK)
        printk("device %x: attach did not complete\n", d->bdf);
    d->owner = pd;
}

/* Block d's DMA again (if it is assigned): when this returns, it reaches no memory. */
void device_unassign(struct device *d)
{
    if (!d->owner)
        return;
    if (iommu_detach(d->bdf) != E_OK)
        printk("device %x: detach did not complete\n", d->bdf);
    d->owner = NULL;
}

/* pd goes away: every device assigned to it is unassigned. */
void device_pd_gone(struct pd *pd)
{
    for (unsigned i = 0; i < ndevices; i++)
        if (devices[i].owner == pd)
            device_unassign(&devices[i]);
}

/* Read the IOMMU's recorded faults into the devices they came from: one pass over its whole
   log (faults that found the log full were counted there, not kept, and are lost here). */
static void faults_collect(void)
{
    struct iommu_fault f[IOMMU_FAULT_LOG];
    unsigned n = iommu_faults(f, ARRAY_SIZE(f));
    n = MIN(n, ARRAY_SIZE(f));
    for (unsigned k = 0; k < n; k++)
        for (unsigned i = 0; i < ndevices; i++)
            if (devices[i].bdf == f[k].sid) {
                struct dev_faults *r = &devices[i].faults;
                *r = (struct dev_faults){ r->count + 1, f[k].addr, f[k].reason, !f[k].read };
            }
}

/* d's DMA faults since the last call (then forgotten). */
struct dev_faults device_faults(struct device *d)
{
    faults_collect();
    struct dev_faults r = d->faults;
    d->faults = (struct dev_faults){ 0, 0, 0, 0 };
    return r;
}

/* Does [pa, pa + size) meet a device's memory BAR? */
bool device_mmio(paddr_t pa, uint64_t size)
{
    if (pa >= mmio_hi || pa + size <= mmio_lo)
        return false;
    for (unsigned i = 0; i < ndevices; i++)
        for (unsigned b = 0; b < PCI_BARS; b++) {
            const struct pci_bar *r = &pci_devs[i].bar[b];
            if (r->size && !r->io && r->base && pa < r->base + r->size && r->base < pa + size)
                return true;
        }
    return false;
}

/* A capability slot names d. */
void device_cap_gained(struct device *d)
{
    d->caps++;
}

/* A capability slot stopped naming d (revoked, or its PD destroyed): d is unassigned, whoever
   assigned it. Every holder may unassign d anyway, so this gives no one more power; it makes
   taking a device capability away stop the device's DMA, not only taking the last one. */
void device_cap_lost(struct device *d)
{
    d->caps--;
    device_unassign(d);
}
