/*
 * What the boot loader told us, copied out of the multiboot information early
 * (while the boot root still identity-maps low memory), so nothing later needs
 * the loader's data structures.
 */
#pragma once
#include "types.h"

#define BOOT_MMAP_MAX     64
#define BOOT_MODS_MAX     16
#define BOOT_CMDLINE_MAX  256
#define BOOT_MODNAME_MAX  64
#define BOOT_LOADER_MAX   8

struct boot_module {
    paddr_t start, end;                 /* [start, end) physical */
    char name[BOOT_MODNAME_MAX];        /* module command line */
};

struct boot_info {
    unsigned version;                   /* 1 or 2 (multiboot version) */
    char cmdline[BOOT_CMDLINE_MAX];
    unsigned nmmap;
    struct { paddr_t start, end; uint32_t type; } mmap[BOOT_MMAP_MAX];
    unsigned nmods;
    struct boot_module mods[BOOT_MODS_MAX];
    paddr_t rsdp;                       /* physical address of the RSDP, 0 if none */
    uint8_t rsdp_copy[64];              /* multiboot2 hands a copy, not an address */
    unsigned rsdp_copy_len;
    unsigned nloader;                   /* the multiboot information and its arrays */
    struct { paddr_t start, end; } loader[BOOT_LOADER_MAX];
};

extern struct boot_info boot_info;

bool multiboot_parse(uint32_t magic, paddr_t info);
bool boot_free_page(const struct boot_info *bi, paddr_t lo, paddr_t hi, paddr_t *pa);

bool cmdline_has(const char *w);
