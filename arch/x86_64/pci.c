/* PCI configuration space (ECAM or the 0xCF8 ports) and the functions found at boot (pci.h). */
#include "pci.h"
#include "cpu.h"
#include "kmem.h"
#include "printk.h"
#include "smp.h"
#include "spinlock.h"

#define ECAM_BUS_SIZE   (PCI_DEVS * PCI_FNS * PCI_CFG_SIZE)     /* 1 MiB per bus */
#define PORT_CFG_SIZE   0x100                   /* registers the port mechanism reaches */
#define CLASS_OF(cr)    ((cr) >> 16)            /* class and subclass of PCI_CLASS_REV */
#define PCI_BUSES       256
#define BRIDGE_DEPTH    8                       /* bridges behind bridges followed this deep */

struct pci_dev pci_devs[PCI_MAX_DEVS];
unsigned pci_ndevs;
static volatile uint8_t *ecam;                  /* bus 0's ECAM in KERNEL_MMIO; NULL: ports */
static struct spinlock port_lock = SPINLOCK_INIT;
static uint64_t scanned[PCI_BUSES / 64];        /* buses scanned (a bus is scanned once) */

/* Select register off (aligned down to 4) of bdf on the port mechanism (port_lock held). */
static void port_select(uint16_t bdf, unsigned off)
{
    outl(PCI_CF8_ADDR, PCI_CF8_ENABLE | (uint32_t)bdf << 8 | (off & 0xFC));
}

/* The register at off of bdf (bus 0 through ECAM, else ports below PORT_CFG_SIZE): its
 * address in the window, NULL when the ports serve it. */
static volatile uint8_t *ecam_reg(uint16_t bdf, unsigned off)
{
    return ecam && PCI_BUS(bdf) == 0 ? ecam + (size_t)bdf * PCI_CFG_SIZE + off : NULL;
}

/* The 32-bit register at off (4-aligned) of bdf; all ones for an absent function. */
uint32_t pci_read32(uint16_t bdf, unsigned off)
{
    volatile uint8_t *r = ecam_reg(bdf, off);
    if (r)
        return *(volatile uint32_t *)r;
    if (off >= PORT_CFG_SIZE)
        return ~0u;
    mword f = irq_save();
    spin_lock(&port_lock);
    port_select(bdf, off);
    uint32_t v = inl(PCI_CF8_DATA);
    spin_unlock(&port_lock);
    irq_restore(f);
    return v;
}

/* Write the 32-bit register at off (4-aligned) of bdf. */
void pci_write32(uint16_t bdf, unsigned off, uint32_t v)
{
    volatile uint8_t *r = ecam_reg(bdf, off);
    if (r) {
        *(volatile uint32_t *)r = v;
        return;
    }
    if (off >= PORT_CFG_SIZE)
        return;
    mword f = irq_save();
    spin_lock(&port_lock);
    port_select(bdf, off);
    outl(PCI_CF8_DATA, v);
    spin_unlock(&port_lock);
    irq_restore(f);
}

/* The 16-bit register at off (2-aligned) of bdf. */
uint16_t pci_read16(uint16_t bdf, unsigned off)
{
    return (uint16_t)(pci_read32(bdf, off & ~3u) >> (8 * (off & 2)));
}

/* Write the 16-bit register at off (2-aligned) of bdf alone (its neighbour may be the status
 * register, whose bits a write of ones clears). */
void pci_write16(uint16_t bdf, unsigned off, uint16_t v)
{
    volatile uint8_t *r = ecam_reg(bdf, off);
    if (r) {
        *(volatile uint16_t *)r = v;
        return;
    }
    if (off >= PORT_CFG_SIZE)
        return;
    mword f = irq_save();
    spin_lock(&port_lock);
    port_select(bdf, off);
    outw(PCI_CF8_DATA + (off & 2), v);
    spin_unlock(&port_lock);
    irq_restore(f);
}

/* Size BAR i of bdf by writing all ones (decoding off meanwhile); returns the BARs it used
 * (2 for a 64-bit memory BAR, else 1). */
static unsigned size_bar(uint16_t bdf, unsigned i, struct pci_bar *b)
{
    unsigned off = PCI_BAR0 + 4 * i;
    uint32_t lo = pci_read32(bdf, off), hi = 0, mlo, mhi = ~0u;
    *b = (struct pci_bar){ .io = lo & PCI_BAR_IO };
    b->is64 = !b->io && (lo & 6) == PCI_BAR_64 && i + 1 < PCI_BARS;
    b->prefetch = !b->io && (lo & PCI_BAR_PREFETCH);
    pci_write32(bdf, off, ~0u);
    mlo = pci_read32(bdf, off);
    pci_write32(bdf, off, lo);
    if (b->is64) {
        hi = pci_read32(bdf, off + 4);
        pci_write32(bdf, off + 4, ~0u);
        mhi = pci_read32(bdf, off + 4);
        pci_write32(bdf, off + 4, hi);
    }
    uint64_t base = (uint64_t)hi << 32 | lo, mask;
    if (b->io) {                                /* 16-bit port address */
        base &= PCI_BAR_IO_MASK;
        mask = (mlo & PCI_BAR_IO_MASK & 0xFFFF) | ~(uint64_t)0xFFFF;
    }
    else {                                      /* a 32-bit BAR decodes below 4 GiB */
        base &= PCI_BAR_MEM_MASK;
        mask = ((uint64_t)mhi << 32 | mlo) & PCI_BAR_MEM_MASK;
    }
    /* No writable address bit: the BAR is not implemented. */
    bool implemented = ((uint32_t)mask & (b->io ? 0xFFFC : 0xFFFFFFF0)) || (b->is64 && mhi);
    b->size = implemented ? ~mask + 1 : 0;
    b->base = b->size ? base : 0;
    return b->is64 ? 2 : 1;
}

/* A short name for d (the device if known, else its class). */
static const char *dev_name(const struct pci_dev *d)
{
    static const struct { uint32_t class; const char *name; } classes[] = {
        { 0x0100, "SCSI" }, { 0x0101, "IDE" }, { 0x0106, "SATA" }, { 0x0200, "ethernet" },
        { 0x0300, "VGA" }, { 0x0600, "host bridge" }, { 0x0601, "ISA bridge" },
        { 0x0604, "PCI bridge" }, { 0x0c03, "USB" }, { 0x0c05, "SMBus" },
    };
    if (d->vendor == PCI_VENDOR_QEMU && d->device == PCI_DEVICE_EDU)
        return "edu";
    for (unsigned i = 0; i < ARRAY_SIZE(classes); i++)
        if (classes[i].class == CLASS_OF(d->class_rev))
            return classes[i].name;
    return "device";
}

/* Record and print the function bdf (present), with its BARs. */
static void add_function(uint16_t bdf)
{
    if (pci_ndevs == PCI_MAX_DEVS) {
        printk("pci %02x:%02x.%x: beyond %u functions, not recorded\n", PCI_BUS(bdf),
               PCI_DEV(bdf), PCI_FN(bdf), PCI_MAX_DEVS);
        return;
    }
    struct pci_dev *d = &pci_devs[pci_ndevs++];
    *d = (struct pci_dev){ .bdf = bdf, .vendor = pci_read16(bdf, PCI_VENDOR),
                           .device = pci_read16(bdf, PCI_DEVICE),
                           .class_rev = pci_read32(bdf, PCI_CLASS_REV),
                           .header = (uint8_t)(pci_read32(bdf, PCI_HEADER & ~3u) >> 16) };
    printk("pci %02x:%02x.%x %04x:%04x class %04x %s\n", PCI_BUS(bdf), PCI_DEV(bdf), PCI_FN(bdf),
           d->vendor, d->device, CLASS_OF(d->class_rev), dev_name(d));
    if ((d->header & PCI_HDR_TYPE) == PCI_HDR_BRIDGE) {
        uint32_t buses = pci_read32(bdf, PCI_SECONDARY_BUS & ~3u);
        d->secondary = (uint8_t)(buses >> 8);
        d->subordinate = (uint8_t)(buses >> 16);
        printk("pci %02x:%02x.%x   bridge to buses %u-%u\n", PCI_BUS(bdf), PCI_DEV(bdf),
               PCI_FN(bdf), d->secondary, d->subordinate);
        return;
    }
    if (d->header & PCI_HDR_TYPE)
        return;
    /* Sizing changes the BARs for a moment: decoding is off meanwhile. */
    uint16_t cmd = pci_read16(bdf, PCI_COMMAND);
    pci_write16(bdf, PCI_COMMAND, cmd & ~(PCI_CMD_IO | PCI_CMD_MEM));
    for (unsigned i = 0; i < PCI_BARS;)
        i += size_bar(bdf, i, &d->bar[i]);
    pci_write16(bdf, PCI_COMMAND, cmd);
    for (unsigned i = 0; i < PCI_BARS; i++)
        if (d->bar[i].size)
            printk("pci %02x:%02x.%x   BAR%u %s 0x%lx size 0x%lx%s\n", PCI_BUS(bdf), PCI_DEV(bdf),
                   PCI_FN(bdf), i, d->bar[i].io ? "io" : d->bar[i].is64 ? "mem64" : "mem",
                   d->bar[i].base, d->bar[i].size, d->bar[i].prefetch ? " prefetchable" : "");
}

/* Record the functions of bus and, depth bridges deep, of the buses behind its bridges (each
 * bus once; a bridge's secondary bus must be above its own). */
static void scan_bus(unsigned bus, unsigned depth)
{
    if (scanned[bus / 64] & BIT(bus % 64))
        return;
    scanned[bus / 64] |= BIT(bus % 64);
    for (unsigned dev = 0; dev < PCI_DEVS; dev++) {
        if (pci_read16(PCI_BDF(bus, dev, 0), PCI_VENDOR) == 0xFFFF)
            continue;
        bool multi = (pci_read32(PCI_BDF(bus, dev, 0), PCI_HEADER & ~3u) >> 16) & PCI_HDR_MULTI;
        for (unsigned fn = 0; fn < (multi ? PCI_FNS : 1); fn++) {
            if (pci_read16(PCI_BDF(bus, dev, fn), PCI_VENDOR) == 0xFFFF)
                continue;
            unsigned n = pci_ndevs;
            add_function(PCI_BDF(bus, dev, fn));
            if (pci_ndevs > n && pci_devs[n].secondary > bus && depth < BRIDGE_DEPTH)
                scan_bus(pci_devs[n].secondary, depth + 1);
        }
    }
}

/* Sort the recorded functions by bdf (insertion sort: a few dozen entries). */
static void sort_devs(void)
{
    for (unsigned i = 1; i < pci_ndevs; i++) {
        struct pci_dev d = pci_devs[i];
        unsigned k = i;
        for (; k > 0 && pci_devs[k - 1].bdf > d.bdf; k--)
            pci_devs[k] = pci_devs[k - 1];
        pci_devs[k] = d;
    }
}

/* Find and record the functions of bus 0 and the buses behind its bridges (boot, one core,
 * after kmem_init_cores: bus 0's ECAM is mapped into KERNEL_MMIO when the MCFG covers it). */
void pci_discover(void)
{
    if (smp_mcfg.base && smp_mcfg.bus_start == 0)
        ecam = kmem_map_mmio(smp_mcfg.base, ECAM_BUS_SIZE);
    if (ecam)
        printk("pci: ECAM at 0x%lx (MCFG, buses %u-%u; bus 0 through it, the others through "
               "the ports)\n", smp_mcfg.base, smp_mcfg.bus_start, smp_mcfg.bus_end);
    else
        printk("pci: configuration ports 0x%x/0x%x (no usable MCFG)\n", PCI_CF8_ADDR,
               PCI_CF8_DATA);
    scan_bus(0, 0);
    sort_devs();
    printk("pci: %u functions\n", pci_ndevs);
}

/* The recorded function bdf, NULL if none. */
const struct pci_dev *pci_at(uint16_t bdf)
{
    for (unsigned i = 0; i < pci_ndevs; i++)
        if (pci_devs[i].bdf == bdf)
            return &pci_devs[i];
    return NULL;
}

/* The first recorded function with vendor:device, NULL if none. */
const struct pci_dev *pci_find(uint16_t vendor, uint16_t device)
{
    for (unsigned i = 0; i < pci_ndevs; i++)
        if (pci_devs[i].vendor == vendor && pci_devs[i].device == device)
            return &pci_devs[i];
    return NULL;
}
