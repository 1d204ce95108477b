/*
 * Control registers of every core and the per-EC x87/SSE/AVX state (arch/x86_64/include/xregs.h).
 *
 * The boot core derives one complete value of CR0, CR4, EFER and XCR0 from named constants and
 * CPUID; every core loads exactly those (nothing left by the firmware or INIT survives, e.g.
 * INIT's CR0.CD/NW). The kernel is built with -mgeneral-regs-only and never touches x87/SSE
 * state itself: the registers always hold the state of one EC (the core's owner, sched.c),
 * saved and loaded only here.
 */
#include "xregs.h"
#include "cpu.h"
#include "cpu_local.h"
#include "kstring.h"
#include "panic.h"
#include "printk.h"

/*      FXSAVE image field  value/offset        meaning */
#define FX_FCW_RESET        0x037F          /* x87 control word after FNINIT: all masked, 64-bit */
#define FX_MXCSR_RESET      0x1F80          /* MXCSR at reset: all SIMD exceptions masked */
#define FX_MXCSR_OFF        24              /* offset of MXCSR in the image */
#define FX_SIZE             512u            /* FXSAVE image; the XSAVE legacy region */
#define XSAVE_HDR_SIZE      64u             /* XSAVE header after the legacy region (XSTATE_BV=0:
                                               every component in its initial state) */

struct cpu_config cpu_config;

/* x86-64 CPUs all have FXSR and SSE2; without them there is no safe way to run user code. */
static void require(bool ok, const char *what)
{
    if (!ok)
        panic("cpu: CPUID lacks %s", what);
}

/* XSAVE in k (the CPU has it; l1c, l7b: CPUID leaf 1 ECX, leaf 7 EBX): CR4.OSXSAVE, and XCR0
   with x87, SSE, and AVX and AVX-512 where both the CPU and XSAVE support them. */
static void xsave_detect(struct cpu_config *k, uint32_t l1c, uint32_t l7b)
{
    uint32_t r[4];
    cpuid(CPUID_LEAF_XSTATE, 0, r);
    uint64_t have = r[0] | (uint64_t)r[3] << 32;
    k->cr4 |= CR4_OSXSAVE;
    k->xsave = true;
    k->xcr0 = XCR_X87 | XCR_SSE;
    if ((l1c & CPUID_1_ECX_AVX) && (have & XCR_AVX))
        k->xcr0 |= XCR_AVX;
    if ((k->xcr0 & XCR_AVX) && (l7b & CPUID_7_EBX_AVX512F) && (have & XCR_AVX512) == XCR_AVX512)
        k->xcr0 |= XCR_AVX512;
    cpuid(CPUID_LEAF_XSTATE, 1, r);
    k->xsaveopt = r[0] & CPUID_D1_EAX_XSAVEOPT;
}

/* The complete values from CPUID (boot core, once). */
static void config_detect(void)
{
    uint32_t r[4], max, l1c, l1d, l7b = 0, l7c = 0;
    cpuid(0, 0, r);
    max = r[0];
    cpuid(1, 0, r);
    l1c = r[2];
    l1d = r[3];
    if (max >= 7) {
        cpuid(7, 0, r);
        l7b = r[1];
        l7c = r[2];
    }
    require(l1d & CPUID_1_EDX_FXSR, "FXSR");
    require(l1d & CPUID_1_EDX_SSE2, "SSE2");

    struct cpu_config k = { .cr0 = CR0_KERNEL, .efer = EFER_KERNEL };
    k.cr4 = CR4_BOOT | CR4_OSFXSR | CR4_OSXMMEXCPT;
#ifndef PCID_0
    if (l1c & CPUID_1_ECX_PCID)
        k.cr4 |= CR4_PCIDE;                 /* tlb_pcid_init then uses PCIDs */
#endif                                      /* PCID=0 (lab switch): never */
    if (l7b & CPUID_7_EBX_SMEP)
        k.cr4 |= CR4_SMEP;
    if (l7b & CPUID_7_EBX_SMAP)
        k.cr4 |= CR4_SMAP;
    if (l7c & CPUID_7_ECX_UMIP)
        k.cr4 |= CR4_UMIP;
    k.xstate_size = FX_SIZE;
    if ((l1c & CPUID_1_ECX_XSAVE) && max >= CPUID_LEAF_XSTATE)
        xsave_detect(&k, l1c, l7b);
    cpu_config = k;
}

/* Image size for the XCR0 just loaded (CPUID 0xD answers for the current XCR0). */
static uint32_t xsave_size(void)
{
    uint32_t r[4];
    cpuid(CPUID_LEAF_XSTATE, 0, r);
    return r[1];
}

/* This core: load the complete CR0, CR4, EFER, XCR0 and zero FS/GS bases (first call: from
 * CPUID). */
void cpu_control_init(void)
{
    bool first = cpu_config.cr0 == 0;
    if (first)
        config_detect();
    write_cr0(cpu_config.cr0);
    write_cr4(cpu_config.cr4);
    wrmsr(MSR_EFER, cpu_config.efer);
    if (cpu_config.xsave) {
        xsetbv(0, cpu_config.xcr0);
        if (first && xsave_size() > XREGS_MAX) {
            cpu_config.xcr0 &= ~XCR_AVX512;     /* keep an EC's allocation within a page */
            xsetbv(0, cpu_config.xcr0);
        }
        if (first)
            cpu_config.xstate_size = xsave_size();
    }
    wrmsr(MSR_FS_BASE, 0);
    wrmsr(MSR_GS_BASE, 0);                  /* PERCPU=gs: percpu_bind loads it next */
    wrmsr(MSR_KERNEL_GS_BASE, 0);
    if (first)
        printk("tessera: CR0 %lx CR4 %lx EFER %lx XCR0 %lx; %s, %u-byte EC register image%s\n",
               cpu_config.cr0, cpu_config.cr4, cpu_config.efer, cpu_config.xcr0,
               cpu_config.xsaveopt ? "XSAVEOPT" : cpu_config.xsave ? "XSAVE" : "FXSAVE",
               cpu_config.xstate_size, cpu_config.cr4 & CR4_UMIP ? ", UMIP" : "");
}

/* Bytes an EC allocation needs after struct ec for its image (alignment slack included). */
size_t xregs_alloc_size(void)
{
    return cpu_config.xstate_size + XREGS_ALIGN - 1;
}

/* Give x the image in mem (xregs_alloc_size bytes) and the reset state: FNINIT (FCW 0x37F),
 * MXCSR 0x1F80, every x87/MMX/XMM/YMM/ZMM register 0, null data selectors. */
void xregs_init(struct xregs *x, void *mem)
{
    uint8_t *img = (uint8_t *)ALIGN_UP((uintptr_t)mem, XREGS_ALIGN);
    memset(img, 0, cpu_config.xstate_size);     /* XSAVE header: XSTATE_BV = XCOMP_BV = 0 */
    *(uint16_t *)img = FX_FCW_RESET;            /* FXRSTOR loads it; XRSTOR initialises x87 */
    *(uint32_t *)(img + FX_MXCSR_OFF) = FX_MXCSR_RESET;     /* both load it from the image */
    *x = (struct xregs){ .image = img };
}

/* The XSAVE components to save and load: all of XCR0. */
#define XMASK_LO ((uint32_t)cpu_config.xcr0)
#define XMASK_HI ((uint32_t)(cpu_config.xcr0 >> 32))

/* Save this core's x87/SSE/AVX state and data selectors into x (the core keeps them). */
void xregs_save(struct xregs *x)
{
    if (cpu_config.xsaveopt)
        __asm__ __volatile__("xsaveopt64 (%0)" :: "r"(x->image), "a"(XMASK_LO), "d"(XMASK_HI)
                             : "memory");
    else if (cpu_config.xsave)
        __asm__ __volatile__("xsave64 (%0)" :: "r"(x->image), "a"(XMASK_LO), "d"(XMASK_HI)
                             : "memory");
    else
        __asm__ __volatile__("fxsave64 (%0)" :: "r"(x->image) : "memory");
    xregs_read_segs(x);
}

/* Save this core's state into from (NULL: discard it), then load to's. */
void xregs_switch(struct xregs *from, const struct xregs *to)
{
    static const uint32_t fixed_word = 0;       /* operand of the FIP/FDP scrub below */
    if (from)
        xregs_save(from);
    /*
     * AMD CPUs (and QEMU's TCG) load the x87 last-instruction/operand pointers (FIP, FDP, FOP)
     * only when the image has an exception pending: the previous EC's would survive. Give them
     * fixed values first, on every CPU (user/tests/x87_pointers.c): fnclex drops a pending
     * exception (fild would raise #MF here), emms frees the stack.
     */
    __asm__ __volatile__("fnclex; emms; fildl %0" :: "m"(fixed_word));
    if (cpu_config.xsave)
        __asm__ __volatile__("xrstor64 (%0)" :: "r"(to->image), "a"(XMASK_LO), "d"(XMASK_HI)
                             : "memory");
    else
        __asm__ __volatile__("fxrstor64 (%0)" :: "r"(to->image) : "memory");
    /* The kernel uses none of them; user selectors are null or DPL 3, which ring 0 may load. */
#if PERCPU_VARIANT == PERCPU_GS
    __asm__ __volatile__("mov %0, %%ds; mov %1, %%es; mov %2, %%fs"
                         :: "r"(to->ds), "r"(to->es), "r"(to->fs) : "memory");
    percpu_load_user_gs(to->gs);            /* the kernel's GS base is the core's data page */
#else
    __asm__ __volatile__("mov %0, %%ds; mov %1, %%es; mov %2, %%fs; mov %3, %%gs"
                         :: "r"(to->ds), "r"(to->es), "r"(to->fs), "r"(to->gs) : "memory");
#endif
}

/* Read this core's data segment selectors (self-checks). */
void xregs_read_segs(struct xregs *x)
{
    __asm__ __volatile__("mov %%ds, %0; mov %%es, %1; mov %%fs, %2; mov %%gs, %3"
                         : "=r"(x->ds), "=r"(x->es), "=r"(x->fs), "=r"(x->gs));
}

/* Does this CPU map 1 GiB pages (CPUID leaf 0x80000001)? */
bool arch_has_1g_pages(void)
{
    uint32_t r[4];
    cpuid(CPUID_LEAF_EXT, 0, r);
    return r[3] & CPUID_EXT_EDX_1G;
}
