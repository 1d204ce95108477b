/* Multiboot v1 and v2 constants (header and boot information) used by boot.S and multiboot.c. */
#pragma once

#define MB1_HEADER_MAGIC    0x1BADB002      /* in the kernel image */
#define MB1_BOOT_MAGIC      0x2BADB002      /* in eax at entry */
#define MB1_FLAG_ALIGN      0x00000001      /* bit 0: page-align modules */
#define MB1_FLAG_MEMINFO    0x00000002      /* bit 1: provide the memory map */

#define MB2_HEADER_MAGIC    0xE85250D6
#define MB2_BOOT_MAGIC      0x36D76289
#define MB2_ARCH_I386       0

/* Multiboot v1 info: flags bits and field offsets. */
#define MB1_INFO_CMDLINE    (1u << 2)       /* cmdline valid */
#define MB1_INFO_MODS       (1u << 3)       /* mods_count/mods_addr valid */
#define MB1_INFO_MMAP       (1u << 6)       /* mmap_length/mmap_addr valid */

/* Multiboot v2 tag types. */
#define MB2_TAG_END         0
#define MB2_TAG_CMDLINE     1
#define MB2_TAG_MODULE      3
#define MB2_TAG_MMAP        6
#define MB2_TAG_ACPI_OLD    14              /* copy of the ACPI 1.0 RSDP */
#define MB2_TAG_ACPI_NEW    15              /* copy of the ACPI 2.0+ RSDP */

#define MB_MEM_AVAILABLE    1               /* memory map type: usable RAM */
