/*
 * SMAP windows through patch sites. stac and clac exist only on CPUs with
 * SMAP (#UD elsewhere), so the kernel never writes them directly: assembly
 * uses the macros smap_stac / smap_clac, which emit the instruction and
 * record its address in the section .smap_sites (kernel.ld collects it
 * between __smap_sites_start and __smap_sites_end). At boot, on the boot
 * root (whose mapping of the kernel image is still writable) and before any
 * other core starts, smap_patch replaces every recorded site with a 3-byte
 * NOP if CPUID lacks SMAP. The self-checks confirm that each site holds the
 * form this CPU needs and that no stac/clac of the image escapes the table.
 */
#pragma once

#define SMAP_INSN_LEN   3               /* stac, clac and the NOP replacing them */

#ifdef __ASSEMBLER__
/* Emit insn (stac or clac) as a patch site. */
.macro smap_site insn
771:
    \insn
    .pushsection .smap_sites, "a"
    .balign 8
    .quad   771b
    .popsection
.endm
.macro smap_stac
    smap_site stac
.endm
.macro smap_clac
    smap_site clac
.endm
#else
#include "types.h"

/* Set by smap_patch if the sites keep stac/clac (the CPU has SMAP); read-only afterwards. */
extern bool smap_on;

bool smap_present(void);

void smap_patch(void);

unsigned smap_sites_check(vaddr_t *bad);
#endif
