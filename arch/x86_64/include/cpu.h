/* x86-64 control registers, MSRs, CPUID bits and the instructions that touch them. */
#pragma once
#include "asm_const.h"

/*      name            value                    bit  meaning */
#define CR0_PE          UL_(0x00000001)     /*  0   protected mode */
#define CR0_MP          UL_(0x00000002)     /*  1   wait/fwait honour TS */
#define CR0_EM          UL_(0x00000004)     /*  2   x87 emulation: x87/SSE instructions fault */
#define CR0_TS          UL_(0x00000008)     /*  3   task switched: x87/SSE faults with #NM */
#define CR0_ET          UL_(0x00000010)     /*  4   extension type (reads 1 on every x86-64 CPU) */
#define CR0_NE          UL_(0x00000020)     /*  5   x87 errors as #MF, not the legacy FERR# pin */
#define CR0_WP          UL_(0x00010000)     /* 16   write protect in ring 0 */
#define CR0_NW          UL_(0x20000000)     /* 29   not write-through (set by INIT) */
#define CR0_CD          UL_(0x40000000)     /* 30   cache disable (set by INIT) */
#define CR0_PG          UL_(0x80000000)     /* 31   paging */
/* The complete CR0 of every core in long mode (boot.S, trampoline.S): caches on (CD, NW clear),
   x87 present and native (EM clear, MP, NE), no lazy switching (TS clear), WP, paging. */
#define CR0_KERNEL      (CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE)
/* CR0 of an AP between real mode and long mode (trampoline.S): only protection on. */
#define CR0_PROT        (CR0_NE | CR0_ET | CR0_PE)
#define CR4_PAE         UL_(0x00000020)     /*  5   physical address extension */
#define CR4_PGE         UL_(0x00000080)     /*  7   global pages */
#define CR4_OSFXSR      UL_(0x00000200)     /*  9   FXSAVE/FXRSTOR and SSE enabled */
#define CR4_OSXMMEXCPT  UL_(0x00000400)     /* 10   unmasked SIMD exceptions raise #XM */
#define CR4_UMIP        UL_(0x00000800)     /* 11   sgdt/sidt/sldt/str/smsw fault in ring 3 */
#define CR4_VMXE        UL_(0x00002000)     /* 13   VMX operation allowed (arch/x86_64/vmx.c) */
#define CR4_FSGSBASE    UL_(0x00010000)     /* 16   rd/wr{fs,gs}base in ring 3 (never set) */
#define CR4_PCIDE       UL_(0x00020000)     /* 17   process-context identifiers */
#define CR4_OSXSAVE     UL_(0x00040000)     /* 18   XSAVE/XRSTOR and XCR0 enabled */
#define CR4_SMEP        UL_(0x00100000)     /* 20   supervisor mode execution prevention */
#define CR4_SMAP        UL_(0x00200000)     /* 21   supervisor mode access prevention */
/* CR4 bits every core has (boot.S, trampoline.S); the rest come from CPUID (cpu.c). */
#define CR4_BOOT        (CR4_PAE | CR4_PGE)

/*      RFLAGS bit      value                    bit  meaning */
#define RFL_TF          UL_(0x00000100)     /*  8   trap (single step) */
#define RFL_IF          UL_(0x00000200)     /*  9   interrupts */
#define RFL_DF          UL_(0x00000400)     /* 10   direction */
#define RFL_NT          UL_(0x00004000)     /* 14   nested task */
#define RFL_AC          UL_(0x00040000)     /* 18   alignment check / SMAP override */

/* RFLAGS bits syscall clears (MSR_SFMASK): no single step (#DB) or user access (SMAP) in the
 * kernel, no interrupts before the stack switch, string instructions upwards, no nested task. */
#define SYSCALL_RFLAGS_MASK (RFL_TF | RFL_IF | RFL_DF | RFL_NT | RFL_AC)

#define DR6_RESET       UL_(0xFFFF0FF0)     /* DR6 with no debug condition recorded */

#define MSR_APIC_BASE   0x1B                /* IA32_APIC_BASE */
#define MSR_PAT         0x277               /* page attribute table */
#define MSR_EFER        0xC0000080          /* extended feature enable */
#define MSR_STAR        0xC0000081          /* segment bases of syscall/sysret */
#define MSR_LSTAR       0xC0000082          /* 64-bit syscall entry point */
#define MSR_CSTAR       0xC0000083          /* compatibility-mode syscall entry (unused) */
#define MSR_SFMASK      0xC0000084          /* RFLAGS bits cleared on syscall */
#define EFER_SCE        UL_(0x001)          /*  0   syscall enable */
#define EFER_LME        UL_(0x100)          /*  8   long mode enable */
#define EFER_LMA        UL_(0x400)          /* 10   long mode active (set by the CPU) */
#define EFER_NXE        UL_(0x800)          /* 11   no-execute enable */
#define EFER_FFXSR      UL_(0x4000)         /* 14   AMD fast FXSAVE: no XMM in ring 0 (never set) */
/* EFER from the 32-bit boot code until long mode (boot.S, trampoline.S); complete in long mode:
   EFER_KERNEL. */
#define EFER_BOOT       (EFER_LME | EFER_NXE)
#define EFER_KERNEL     (EFER_LME | EFER_LMA | EFER_NXE | EFER_SCE)
#define MSR_FS_BASE     0xC0000100          /* FS base (0 on every core, cpu.c) */
#define MSR_GS_BASE     0xC0000101          /* GS base (0; PERCPU=gs: the core's data page) */
#define MSR_KERNEL_GS_BASE 0xC0000102       /* swapgs partner (0, or the user's with PERCPU=gs) */
#define MSR_TSC_AUX     0xC0000103          /* read by RDPID and RDTSCP (PERCPU=rdpid: core id) */

/*      XCR0 bit        value                    state component */
#define XCR_X87         UL_(0x01)           /*  0   x87 and MMX */
#define XCR_SSE         UL_(0x02)           /*  1   XMM registers, MXCSR */
#define XCR_AVX         UL_(0x04)           /*  2   upper halves of YMM registers */
#define XCR_OPMASK      UL_(0x20)           /*  5   AVX-512 k0..k7 */
#define XCR_ZMM_HI256   UL_(0x40)           /*  6   upper halves of ZMM0..15 */
#define XCR_HI16_ZMM    UL_(0x80)           /*  7   ZMM16..31 */
#define XCR_AVX512      (XCR_OPMASK | XCR_ZMM_HI256 | XCR_HI16_ZMM)

#define CPUID_1_ECX_X2APIC      (1u << 21)  /* leaf 1 ECX: x2APIC */
#define CPUID_1_ECX_VMX         (1u << 5)   /* leaf 1 ECX: Intel VMX */
#define CPUID_1_ECX_PCID        (1u << 17)  /* leaf 1 ECX: process-context identifiers */
#define CPUID_1_ECX_XSAVE       (1u << 26)  /* leaf 1 ECX: XSAVE/XRSTOR, XCR0 */
#define CPUID_1_ECX_AVX         (1u << 28)  /* leaf 1 ECX: AVX */
#define CPUID_1_EDX_FXSR        (1u << 24)  /* leaf 1 EDX: FXSAVE/FXRSTOR */
#define CPUID_1_EDX_SSE2        (1u << 26)  /* leaf 1 EDX: SSE2 */
#define CPUID_7_ECX_UMIP        (1u << 2)   /* leaf 7 ECX: user-mode instruction prevention */
#define CPUID_7_ECX_RDPID       (1u << 22)  /* leaf 7 ECX: RDPID */
#define CPUID_7_EBX_AVX512F     (1u << 16)  /* leaf 7 EBX: AVX-512 foundation */
#define CPUID_D1_EAX_XSAVEOPT   (1u << 0)   /* leaf 0xD sub-leaf 1 EAX: XSAVEOPT */
#define CPUID_LEAF_XSTATE       0xD         /* EAX/EDX: XCR0 bits supported; EBX: size for XCR0 */
#define CPUID_LEAF_EXT          0x80000001  /* EDX: NX, 1 GiB pages, long mode (CPUID_EXT_EDX_*) */
#define CR3_NOFLUSH             (1ul << 63) /* CR3 write with PCIDE: keep the PCID's entries */
#define CR3_ADDR                0x000FFFFFFFFFF000ul    /* bits 51:12: frame of the root table */
#define CPUID_7_EBX_SMEP        (1u << 7)   /* leaf 7 EBX: SMEP */
#define CPUID_7_EBX_SMAP        (1u << 20)  /* leaf 7 EBX: SMAP */
#define CPUID_EXT_EDX_NX        (1 << 20)   /* leaf 0x80000001 EDX: NX */
#define CPUID_EXT_EDX_1G        (1 << 26)   /* leaf 0x80000001 EDX: 1 GiB pages */
#define CPUID_EXT_EDX_RDTSCP    (1 << 27)   /* leaf 0x80000001 EDX: RDTSCP, IA32_TSC_AUX */
#define CPUID_EXT_EDX_LM        (1 << 29)   /* leaf 0x80000001 EDX: long mode */

/* Segment selectors of the per-core GDT (arch/x86_64/gdt.c). */
#define SEL_KCODE       0x08
#define SEL_KDATA       0x10
#define SEL_UDATA       0x1B                /* 0x18 | RPL 3 */
#define SEL_UCODE       0x23                /* 0x20 | RPL 3 */
#define SEL_TSS         0x28
#define SEL_NO_LDT      0x00                /* lldt operand: no LDT, LDT selectors fault #GP */
#define CS_RPL_MASK     3                   /* privilege level in a selector (CS: of the code) */
#define GDT_ENTRIES     7                   /* null, kcode, kdata, udata, ucode, tss (2) */

#ifndef __ASSEMBLER__
#include "types.h"
#include "compiler.h"

/* Halt until the next interrupt; disable and enable maskable interrupts. */
static inline void cpu_hlt(void)   { __asm__ __volatile__("hlt" ::: "memory"); }
static inline void cpu_cli(void)   { __asm__ __volatile__("cli" ::: "memory"); }
static inline void cpu_sti(void)   { __asm__ __volatile__("sti" ::: "memory"); }

/* Write byte v to I/O port port. */
static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ __volatile__("outb %0, %1" :: "a"(v), "Nd"(port));
}

/* Write word v to I/O port port. */
static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ __volatile__("outw %0, %1" :: "a"(v), "Nd"(port));
}

/* Write doubleword v to I/O port port. */
static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ __volatile__("outl %0, %1" :: "a"(v), "Nd"(port));
}

/* Read a doubleword from I/O port port. */
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ __volatile__("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* Read a byte from I/O port port. */
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

/* Read model-specific register msr. */
static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

/* Write v to model-specific register msr. */
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ __volatile__("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                         : "memory");
}

/* CPUID leaf, subleaf sub: EAX, EBX, ECX, EDX into r[0..3]. */
static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                         : "a"(leaf), "c"(sub));
}

/* The time-stamp counter. */
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

/* Extended control register idx (XCR0) of this core (needs CR4.OSXSAVE). */
static inline uint64_t xgetbv(uint32_t idx)
{
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(idx));
    return ((uint64_t)hi << 32) | lo;
}

/* Set extended control register idx (needs CR4.OSXSAVE). */
static inline void xsetbv(uint32_t idx, uint64_t v)
{
    __asm__ __volatile__("xsetbv" :: "c"(idx), "a"((uint32_t)v), "d"((uint32_t)(v >> 32))
                         : "memory");
}

#define DEFINE_CR(n) \
    static inline mword read_cr##n(void) \
    { \
        mword v; \
        __asm__ __volatile__("mov %%cr" #n ", %0" : "=r"(v)); \
        return v; \
    } \
    static inline void write_cr##n(mword v) \
    { \
        __asm__ __volatile__("mov %0, %%cr" #n :: "r"(v) : "memory"); \
    }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

/* The current RFLAGS. */
static inline mword read_rflags(void)
{
    mword flags;
    __asm__ __volatile__("pushfq; popq %0" : "=r"(flags) :: "memory");
    return flags;
}

/* Forget the debug conditions DR6 recorded. */
static inline void clear_dr6(void) { __asm__ __volatile__("mov %0, %%dr6" :: "r"(DR6_RESET)); }

/* Disable interrupts; returns the previous RFLAGS for irq_restore. */
static inline mword irq_save(void)
{
    mword flags;
    __asm__ __volatile__("pushfq; popq %0; cli" : "=r"(flags) :: "memory");
    return flags;
}

/* Restore the interrupt flag saved by irq_save. */
static inline void irq_restore(mword flags)
{
    __asm__ __volatile__("pushq %0; popfq" :: "r"(flags) : "memory", "cc");
}

/* Let pending interrupts in for one instruction, then disable them again (sti shadow). */
static inline void irq_window(void) { __asm__ __volatile__("sti; nop; cli" ::: "memory"); }

/* Invalidate the TLB entry for one page on this core. */
static inline void invlpg(vaddr_t va) { __asm__ __volatile__("invlpg (%0)" :: "r"(va) : "memory"); }

/* Stop this core for good (interrupts off). */
static inline noreturn void cpu_halt_forever(void)
{
    for (;;) __asm__ __volatile__("cli; hlt" ::: "memory");
}
#endif
