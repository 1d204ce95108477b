/*
 * The root task's read-only information page, and the root PD's address
 * space at boot. Shared by the kernel (which fills the page from its
 * struct boot_info, include/bootinfo.h) and user code (which reads it);
 * docs/abi.md, "Boot", explains how it is used.
 *
 * Root PD memory space at boot (all below USER_LIMIT):
 *
 *   0x0000_0000_0000_0000  page 0: never mapped (null pointer traps)
 *   INFO_PAGE_ADDR         this page, MEM_R
 *   INFO_DEV_ADDR          the device page (struct info_devices), MEM_R
 *   0x0000_0000_0040_0000  the root ELF's PT_LOAD segments, rights from p_flags
 *   ROOT_PHYS_WINDOW + P   physical page P of every INFO_MEM_FREE range, MEM_RWX;
 *                          of every INFO_MEM_MODULE range (root.elf included), MEM_R
 *
 * The root's object space holds SEL_ROOT_PD and SEL_ROOT_EC (include/syscall.h),
 * its I/O space every port [0, PIO_PORTS) with PIO_A.
 */
#pragma once
#include "types.h"

#define INFO_PAGE_ADDR    0x0000000000100000UL  /* 1 MiB: user virtual address of the page */
#define INFO_DEV_ADDR     0x0000000000180000UL  /* 1.5 MiB: the device page (holes around it) */
#define ROOT_PHYS_WINDOW  0x0000400000000000UL  /* 64 TiB: virtual = window + physical */
#define ROOT_ELF_LO       0x0000000000200000UL  /* root segments must lie in [LO, window) */

#define INFO_MAGIC        0x4f464e4953534554UL  /* "TESSINFO" little endian */
#define INFO_VERSION      2u
#define INFO_MAX_CPUS     128u
#define INFO_MAX_MEM      64u
#define INFO_MAX_MODS     8u
#define INFO_NAME_LEN     48u                   /* module string, NUL terminated */
#define INFO_CMDLINE_LEN  256u
#define INFO_MAX_DEVS     24u                   /* PCI functions in the device page */
#define INFO_BARS         6u

/* Kinds of physical memory ranges. */
enum info_mem_type {
    INFO_MEM_FREE     = 1,  /* given to the root PD at ROOT_PHYS_WINDOW + phys, RWX */
    INFO_MEM_MODULE   = 2,  /* a boot module; mapped MEM_R at ROOT_PHYS_WINDOW + phys */
    INFO_MEM_KERNEL   = 3,  /* kernel image and kernel memory; not accessible */
    INFO_MEM_RESERVED = 4,  /* firmware, ACPI, holes; not accessible */
};

/* One physical memory range [phys, phys + size), page aligned. */
struct info_mem {
    uint64_t phys;
    uint64_t size;
    uint32_t type;          /* enum info_mem_type */
    uint32_t pad;
};

/* One core: its index is the cpu number of create_ec()/counters(). */
struct info_cpu {
    uint32_t apic_id;       /* LAPIC id */
    uint32_t online;        /* 1 if the core runs and accepts ECs */
};

/* A boot module: mods[0] is the root task's ELF file, then test programs, data. */
struct info_module {
    uint64_t phys;          /* first byte; mapped at ROOT_PHYS_WINDOW + phys, MEM_R */
    uint64_t size;          /* bytes */
    char name[INFO_NAME_LEN];   /* the module's multiboot string, truncated */
};

/* One base address register of a PCI function (size 0: not implemented). */
struct info_bar {
    uint64_t base;          /* physical address (memory) or first port (I/O) */
    uint64_t size;          /* bytes or ports decoded */
    uint32_t flags;         /* INFO_BAR_* */
    uint32_t pad;
};
#define INFO_BAR_IO       1u    /* an I/O port range (else memory) */
#define INFO_BAR_64       2u    /* a 64-bit memory BAR (the next BAR is its upper half: size 0) */
#define INFO_BAR_PREFETCH 4u    /* prefetchable memory */

/* One PCI function found at boot. */
struct info_dev {
    uint16_t bdf;           /* requester id: bus << 8 | device << 3 | function */
    uint16_t vendor, device;
    uint16_t pad;
    uint32_t class_rev;     /* class << 24 | subclass << 16 | prog-if << 8 | revision */
    uint32_t header;        /* configuration header type (bit 7: multi-function) */
    struct info_bar bar[INFO_BARS];
};

/* The device page at INFO_DEV_ADDR: PCI segment 0, bus 0 and the buses behind its bridges, in
 * bdf order. */
struct info_devices {
    uint32_t num_devs;      /* valid entries in dev[] */
    uint32_t excess;        /* functions found but not listed (beyond INFO_MAX_DEVS) */
    uint32_t iommu;         /* INFO_IOMMU_VTD if DMA remapping is on, else 0 (none) */
    uint32_t dpt_levels;    /* levels of the IOMMU's second-level tables (0: none) */
    struct info_dev dev[INFO_MAX_DEVS];
};
#define INFO_IOMMU_VTD    1u

_Static_assert(sizeof(struct info_devices) <= 4096, "the device page fits one page");

/* The information page at INFO_PAGE_ADDR. */
struct info_page {
    uint64_t magic;         /* INFO_MAGIC */
    uint32_t version;       /* INFO_VERSION */
    uint32_t size;          /* sizeof(struct info_page) */
    uint32_t num_cpus;      /* cores: cpu numbers 0 .. num_cpus-1 */
    uint32_t num_mem;       /* valid entries in mem[] */
    uint32_t num_mods;      /* valid entries in mods[] */
    uint32_t first_free_sel;   /* SEL_ROOT_FREE */
    uint64_t phys_window;   /* ROOT_PHYS_WINDOW */
    uint64_t user_limit;    /* USER_LIMIT */
    uint32_t pio_base;      /* first I/O port given to the root: 0 */
    uint32_t pio_count;     /* number of ports: PIO_PORTS */
    uint64_t timer_hz;      /* LAPIC timer ticks per second (0 if not calibrated) */
    char cmdline[INFO_CMDLINE_LEN];         /* the kernel command line */
    struct info_cpu cpu[INFO_MAX_CPUS];
    struct info_mem mem[INFO_MAX_MEM];
    struct info_module mods[INFO_MAX_MODS];
    uint64_t dev_page;      /* INFO_DEV_ADDR: the PCI functions and the IOMMU */
};

_Static_assert(sizeof(struct info_page) <= 4096, "the information page fits one page");
