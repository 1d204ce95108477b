/*
 * Control registers of every core and the register state of an EC beyond its trap frame
 * (arch/x86_64/cpu.c). Every core loads the same complete CR0, CR4, EFER and XCR0
 * (cpu_config), built from named constants and CPUID. Each EC owns an x87/MMX/SSE/AVX
 * image (XSAVE format, or FXSAVE's 512 bytes without XSAVE) and its data segment
 * selectors; the scheduler switches them eagerly whenever a core changes ECs.
 */
#pragma once
#include "types.h"

#define XREGS_ALIGN     64u         /* XSAVE/FXSAVE image alignment (XSAVE needs 64) */
#define XREGS_MAX       3072u       /* largest image accepted (AVX-512 needs 2696 bytes) */

/* The complete control-register values of every core, from CPUID on the boot core. */
struct cpu_config {
    uint64_t cr0, cr4, efer, xcr0;  /* xcr0: 0 without XSAVE */
    uint32_t xstate_size;           /* bytes of an EC's image */
    bool xsave, xsaveopt;           /* save with XSAVEOPT, else XSAVE, else FXSAVE */
};
extern struct cpu_config cpu_config;

/* The user-visible register state of an EC not in its trap frame. */
struct xregs {
    uint16_t ds, es, fs, gs;        /* data segment selectors (bases are always 0) */
    void *image;                    /* x87/SSE/AVX image, XREGS_ALIGN aligned */
};

void cpu_control_init(void);
size_t xregs_alloc_size(void);

void xregs_init(struct xregs *x, void *mem);

void xregs_save(struct xregs *x);
void xregs_switch(struct xregs *from, const struct xregs *to);
void xregs_read_segs(struct xregs *x);
