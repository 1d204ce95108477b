/* x86-64 control registers, MSRs, CPUID bits and the instructions that touch them. */
#pragma once
#include "asm_const.h"

/*      name            value                    bit  meaning */
#define CR0_PE          UL_(0x00000001)     /*  0   protected mode */
#define CR0_WP          UL_(0x00010000)     /* 16   write protect in ring 0 */
#define CR0_PG          UL_(0x80000000)     /* 31   paging */
#define CR4_PAE         UL_(0x00000020)     /*  5   physical address extension */
#define CR4_PGE         UL_(0x00000080)     /*  7   global pages */
#define CR4_PCIDE       UL_(0x00020000)     /* 17   process-context identifiers */
#define CR4_SMEP        UL_(0x00100000)     /* 20   supervisor mode execution prevention */
#define CR4_SMAP        UL_(0x00200000)     /* 21   supervisor mode access prevention */

#define MSR_APIC_BASE   0x1B                /* IA32_APIC_BASE */
#define MSR_EFER        0xC0000080          /* extended feature enable */
#define EFER_SCE        UL_(0x001)          /*  0   syscall enable */
#define EFER_LME        UL_(0x100)          /*  8   long mode enable */
#define EFER_NXE        UL_(0x800)          /* 11   no-execute enable */

#define CPUID_1_ECX_X2APIC      (1u << 21)  /* leaf 1 ECX: x2APIC */
#define CPUID_1_ECX_PCID        (1u << 17)  /* leaf 1 ECX: process-context identifiers */
#define CR3_NOFLUSH             (1ul << 63) /* CR3 write with PCIDE: keep the PCID's entries */
#define CPUID_7_EBX_SMEP        (1u << 7)   /* leaf 7 EBX: SMEP */
#define CPUID_7_EBX_SMAP        (1u << 20)  /* leaf 7 EBX: SMAP */
#define CPUID_EXT_EDX_NX        (1 << 20)   /* leaf 0x80000001 EDX: NX */
#define CPUID_EXT_EDX_LM        (1 << 29)   /* leaf 0x80000001 EDX: long mode */

/* Segment selectors of the per-core GDT (arch/x86_64/gdt.c). */
#define SEL_KCODE       0x08
#define SEL_KDATA       0x10
#define SEL_UDATA       0x1B                /* 0x18 | RPL 3 */
#define SEL_UCODE       0x23                /* 0x20 | RPL 3 */
#define SEL_TSS         0x28
#define GDT_ENTRIES     7                   /* null, kcode, kdata, udata, ucode, tss (2) */

#ifndef __ASSEMBLER__
#include "types.h"
#include "compiler.h"

static inline void cpu_hlt(void)   { __asm__ __volatile__("hlt" ::: "memory"); }
static inline void cpu_cli(void)   { __asm__ __volatile__("cli" ::: "memory"); }
static inline void cpu_sti(void)   { __asm__ __volatile__("sti" ::: "memory"); }

static inline void outb(uint16_t port, uint8_t v) { __asm__ __volatile__("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outw(uint16_t port, uint16_t v) { __asm__ __volatile__("outw %0, %1" :: "a"(v), "Nd"(port)); }
static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ __volatile__("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}

static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ __volatile__("wrmsr" :: "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("rdtsc" : "=a"(lo), "=d"(hi));
    return ((uint64_t)hi << 32) | lo;
}

#define DEFINE_CR(n) \
    static inline mword read_cr##n(void) { mword v; __asm__ __volatile__("mov %%cr" #n ", %0" : "=r"(v)); return v; } \
    static inline void write_cr##n(mword v) { __asm__ __volatile__("mov %0, %%cr" #n :: "r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

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
