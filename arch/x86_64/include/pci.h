/*
 * PCI: configuration space of segment 0 (ECAM from the ACPI MCFG table for bus 0, the
 * 0xCF8/0xCFC port mechanism for other buses or without an MCFG) and the functions found at
 * boot on bus 0 and the buses behind its bridges (as the firmware numbered them), in bdf
 * order, with their BARs sized by the write-ones protocol. A function is named by its
 * bus/device/function (bdf), the 16-bit requester id a DMA request carries:
 * bus << 8 | device << 3 | function.
 */
#pragma once
#include "types.h"

#define PCI_BDF(b, d, f)    ((uint16_t)((b) << 8 | (d) << 3 | (f)))
#define PCI_BUS(bdf)        ((unsigned)(bdf) >> 8)
#define PCI_DEV(bdf)        (((unsigned)(bdf) >> 3) & 0x1F)
#define PCI_FN(bdf)         ((unsigned)(bdf) & 7)
#define PCI_DEVS            32              /* devices per bus */
#define PCI_FNS             8               /* functions per device */
#define PCI_CFG_SIZE        0x1000          /* extended configuration space of one function */

/* Configuration space registers (type 0 and 1 headers). */
#define PCI_VENDOR          0x00            /* u16; 0xFFFF: no function */
#define PCI_DEVICE          0x02            /* u16 */
#define PCI_COMMAND         0x04            /* u16 */
#define PCI_CLASS_REV       0x08            /* u32: class, subclass, prog-if, revision */
#define PCI_HEADER          0x0E            /* u8: header type */
#define PCI_BAR0            0x10            /* u32 each, PCI_BARS of them (type 0) */
#define PCI_SECONDARY_BUS   0x19            /* u8: type 1 header: bus behind the bridge */
#define PCI_SUBORDINATE_BUS 0x1A            /* u8: type 1 header: last bus behind it */
#define PCI_CMD_IO          BIT(0)          /* command: I/O space decode */
#define PCI_CMD_MEM         BIT(1)          /* command: memory space decode */
#define PCI_CMD_MASTER      BIT(2)          /* command: bus master (the function may DMA) */
#define PCI_HDR_TYPE        0x7F            /* header type: layout */
#define PCI_HDR_MULTI       BIT(7)          /* header type: device has functions 1..7 */
#define PCI_HDR_BRIDGE      1               /* layout: PCI-to-PCI bridge */
#define PCI_BAR_IO          BIT(0)          /* BAR: I/O space */
#define PCI_BAR_64          BIT(2)          /* memory BAR type 2: 64-bit (two BARs) */
#define PCI_BAR_PREFETCH    BIT(3)
#define PCI_BAR_MEM_MASK    (~(uint64_t)0xF)
#define PCI_BAR_IO_MASK     (~(uint64_t)0x3)
#define PCI_BARS            6

/* The ISA configuration mechanism: address port (enable bit, bdf, register) and data port. */
#define PCI_CF8_ADDR        0xCF8
#define PCI_CF8_DATA        0xCFC
#define PCI_CF8_ENABLE      BIT(31)

/* QEMU's "edu" teaching device (docs/specs/edu.txt of QEMU). */
#define PCI_VENDOR_QEMU     0x1234
#define PCI_DEVICE_EDU      0x11E8

struct pci_bar {
    paddr_t base;                           /* address (memory) or port (I/O); 0 if unused */
    uint64_t size;                          /* bytes decoded, 0 if the BAR is not implemented */
    bool io, is64, prefetch;
};

struct pci_dev {
    uint16_t bdf;
    uint16_t vendor, device;
    uint32_t class_rev;                     /* class, subclass, prog-if, revision */
    uint8_t header;                         /* header type */
    uint8_t secondary, subordinate;         /* a bridge's buses (type 1 header), else 0 */
    struct pci_bar bar[PCI_BARS];           /* type 0 only; a 64-bit BAR fills bar[i] only */
};

#define PCI_MAX_DEVS        64
extern struct pci_dev pci_devs[PCI_MAX_DEVS];
extern unsigned pci_ndevs;

void pci_discover(void);
const struct pci_dev *pci_find(uint16_t vendor, uint16_t device);
const struct pci_dev *pci_at(uint16_t bdf);
uint32_t pci_read32(uint16_t bdf, unsigned off);
uint16_t pci_read16(uint16_t bdf, unsigned off);
void pci_write32(uint16_t bdf, unsigned off, uint32_t v);
void pci_write16(uint16_t bdf, unsigned off, uint16_t v);
