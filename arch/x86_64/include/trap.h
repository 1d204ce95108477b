/* Interrupt vectors, the trap frame built by entry.S, and descriptor-table set-up. */
#pragma once
#include "types.h"
#include "compiler.h"
#include "layout.h"
#include "x86_vectors.h"    /* the exceptions: VEC_DB (IST_DB), VEC_NMI (panic: stop this core,
                               IST_NMI), VEC_DF (IST_DF), VEC_MC (IST_MC), VEC_PF, ... */

/*      name            vector     use */
#define VEC_PIC_BASE    0x30    /* legacy PIC, remapped and masked: 0x30..0x3F ignored */
#define VEC_TIMER       0x20    /* LAPIC timer */
#define VEC_IOMMU_FAULT 0x40    /* the IOMMU recorded a DMA fault (arch/x86_64/iommu.c) */
#define VEC_IPI_CALL    0xF0    /* run the function posted by smp_call */
#define VEC_IPI_TEST    0xF1    /* count only (self-checks) */
#define VEC_IPI_WAKE    0xF2    /* a run queue got an EC: leave hlt */
#define VEC_IPI_TLB     0xF3    /* TLB shootdown (arch/x86_64/tlb.c) */
#define VEC_SYSCALL     0x100   /* not a vector: frame built by the syscall entry */
#define VEC_SPURIOUS    0xFF    /* LAPIC spurious vector: no EOI */

/* TSS IST slots (1..7): vectors that may arrive before the kernel stack is usable. */
#define IST_DF          1       /* double fault */
#define IST_NMI         2       /* NMI */
#define IST_DB          3       /* debug exception (a user's TF at syscall: the user rsp) */
#define IST_MC          4       /* machine check */
#define IST_STACKS      4       /* slots used: 1..IST_STACKS, at CPU_IST_TOP(slot) on every core */
_Static_assert(IST_STACKS == CPU_IST_SLOTS, "layout.h has a guarded stack for every IST slot");

/* Registers as pushed by entry.S (lowest address first). */
struct trap_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;      /* pushed by the CPU */
};

#define SYSCALL_INSN_LEN 2              /* bytes of the syscall instruction (0f 05) */

/* The user state of the running EC: the frame at the top of the core's kernel stack. */
#define USER_FRAME \
    ((struct trap_frame *)(CORE_STACK_TOP(cpu_id()) - sizeof(struct trap_frame)))

_Static_assert(sizeof(struct trap_frame) == 176, "entry.S: TRAP_FRAME_SIZE");
#define TF_AT(reg, off) _Static_assert(__builtin_offsetof(struct trap_frame, reg) == (off), \
                                       "entry.S: TF_" #reg)
TF_AT(r10, 40); TF_AT(r9, 48); TF_AT(r8, 56); TF_AT(rdi, 72); TF_AT(rsi, 80); TF_AT(rdx, 88);
TF_AT(rax, 112); TF_AT(rip, 136); TF_AT(rflags, 152); TF_AT(rsp, 160);
#undef TF_AT

/* Continue in the saved state src, popped where it lies (interrupts off); never returns. */
noreturn void resume_frame(const struct trap_frame *src);
noreturn void trap_exit_shifted(struct trap_frame *f);

void cpu_user_init(void);

void cpu_tables_init(void);
void cpu_tables_reload(void);
void trap_dispatch(struct trap_frame *f);
