/*
 * The device page (docs/abi.md "Boot: the root task"): the root finds the PCI functions (bus 0
 * and the buses behind its bridges) and the IOMMU at INFO_DEV_ADDR, read-only, with holes
 * around it. The entries are sane (in bdf order, the host bridge at 00:00.0, BARs of
 * power-of-two sizes aligned to them, none in the RAM the root was given), the IOMMU fields
 * agree with each other, and QEMU's edu device, when present, shows its 1 MiB BAR0. Run as the
 * root task; TAP output.
 */
#include "utest.h"

#define PCI_CLASS_HOST_BRIDGE   0x0600
#define EDU_VENDOR              0x1234
#define EDU_DEVICE              0x11E8
#define EDU_BAR0_SIZE           0x100000

/* Does [base, base + size) meet a range of free RAM the root was given? */
static bool in_ram(const struct info_page *ip, uint64_t base, uint64_t size)
{
    for (unsigned i = 0; i < ip->num_mem; i++)
        if (ip->mem[i].type == INFO_MEM_FREE && base < ip->mem[i].phys + ip->mem[i].size &&
            ip->mem[i].phys < base + size)
            return true;
    return false;
}

/* Check the BARs of d; false (with a TAP line) at the first bad one. */
static bool bars_ok(const struct info_page *ip, const struct info_dev *d)
{
    for (unsigned b = 0; b < INFO_BARS; b++) {
        const struct info_bar *r = &d->bar[b];
        bool io = r->flags & INFO_BAR_IO;
        bool bad = r->size && ((r->size & (r->size - 1)) || (r->base & (r->size - 1)) ||
                               (io && r->base + r->size > 0x10000) ||
                               (!io && r->base && in_ram(ip, r->base, r->size)));
        bad = bad || (!r->size && r->base);
        bad = bad || ((r->flags & INFO_BAR_64) && (b + 1 == INFO_BARS || d->bar[b + 1].size));
        if (bad) {
            tap_check(false, "%02x:%02x.%x BAR%u base %lx size %lx flags %x is sane",
                      d->bdf >> 8, (d->bdf >> 3) & 31, d->bdf & 7, b, r->base, r->size, r->flags);
            return false;
        }
    }
    return true;
}

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("devices");
    const struct info_page *ip = info_page();
    tap_check(ip->dev_page == INFO_DEV_ADDR, "the information page names the device page");
    struct lookup_info li;
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_MEM, INFO_DEV_ADDR, &li), E_OK);
    tap_check(li.rights == MEM_R && li.size == PAGE_SIZE_USER,
              "the device page is one read-only page (rights %x, size %lx)", li.rights, li.size);
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_MEM, INFO_DEV_ADDR - PAGE_SIZE_USER, &li), E_NOENT);
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_MEM, INFO_DEV_ADDR + PAGE_SIZE_USER, &li), E_NOENT);

    const struct info_devices *dv = (const struct info_devices *)INFO_DEV_ADDR;
    tap_check(dv->num_devs >= 1 && dv->num_devs <= INFO_MAX_DEVS && dv->excess == 0,
              "the device page lists %u PCI functions (%u more)", dv->num_devs, dv->excess);
    tap_check(dv->dev[0].bdf == 0 && dv->dev[0].class_rev >> 16 == PCI_CLASS_HOST_BRIDGE,
              "the host bridge is 00:00.0 (class %x)", dv->dev[0].class_rev >> 16);
    bool order = true, ids = true, bars = true;
    const struct info_dev *edu = NULL;
    for (unsigned i = 0; i < dv->num_devs && i < INFO_MAX_DEVS; i++) {
        const struct info_dev *d = &dv->dev[i];
        order = order && (i == 0 || d->bdf > dv->dev[i - 1].bdf);
        ids = ids && d->vendor != 0xFFFF && d->vendor != 0;
        bars = bars_ok(ip, d) && bars;
        if (d->vendor == EDU_VENDOR && d->device == EDU_DEVICE && !edu)
            edu = d;
    }
    tap_check(order, "the functions are in bdf order");
    tap_check(ids, "every function has a vendor id");
    tap_check(bars, "every BAR is a power of two, aligned, outside the root's RAM");
    if (dv->iommu == INFO_IOMMU_VTD)
        tap_check(dv->dpt_levels >= 3 && dv->dpt_levels <= 5,
                  "the device page says: IOMMU VT-d, %u-level tables", dv->dpt_levels);
    else
        tap_check(dv->iommu == 0 && dv->dpt_levels == 0,
                  "the device page says: no IOMMU (%u, %u levels)", dv->iommu, dv->dpt_levels);
    if (edu)
        tap_check(edu->bar[0].size == EDU_BAR0_SIZE && !(edu->bar[0].flags & INFO_BAR_IO) &&
                      edu->bar[0].base,
                  "the edu device at %02x:%02x.%x has its 1 MiB BAR0 at %lx", edu->bdf >> 8,
                  (edu->bdf >> 3) & 31, edu->bdf & 7, edu->bar[0].base);
    else
        tap_check(true, "the edu device's BAR0 # SKIP no edu device (-device edu)");
    return utest_done("devices");
}
