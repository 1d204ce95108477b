/*
 * AMD SVM (AMD64 APM Vol. 2, ch. 15 and appendix B): CPUID bits, MSRs, the VMCB's layout
 * (offsets into the 4 KiB control page), intercept bits and exit codes. Used by svm.c only.
 */
#pragma once
#include "asm_const.h"

/*      name                    value           meaning */
#define CPUID_EXT_ECX_SVM       (1u << 2)   /* leaf 0x80000001 ECX: SVM */
#define CPUID_LEAF_SVM          0x8000000A  /* EAX revision, EBX ASIDs, EDX features */
#define CPUID_SVM_EDX_NP        (1u << 0)   /* nested paging */
#define CPUID_SVM_EDX_NRIPS     (1u << 3)   /* next rip saved on #VMEXIT (VMCB 0xC8) */
#define CPUID_SVM_EDX_FLUSHASID (1u << 6)   /* TLB_CONTROL 3: flush this guest's ASID only */

#define MSR_VM_CR               0xC0010114  /* bit 4: SVMDIS (SVM locked off by firmware) */
#define MSR_VM_HSAVE_PA         0xC0010117  /* host save area of this core (4 KiB) */
#define VM_CR_SVMDIS            (1u << 4)
#define EFER_SVME               UL_(0x1000) /* 12  SVM enable */

/* VMCB control area (offsets). */
#define VMCB_INTERCEPT_DR       0x004       /* u32: DRn reads (bits 0-15), writes (16-31) */
#define VMCB_INTERCEPT_MISC1    0x00C       /* u32: intercept bits, word 3 */
#define VMCB_INTERCEPT_MISC2    0x010       /* u32: intercept bits, word 4 */
#define VMCB_IOPM_BASE          0x040       /* u64: I/O permission map (12 KiB, all ones) */
#define VMCB_MSRPM_BASE         0x048       /* u64: MSR permission map (8 KiB, all ones) */
#define VMCB_GUEST_ASID         0x058       /* u32 */
#define VMCB_TLB_CONTROL        0x05C       /* u8: TLB_* */
#define VMCB_VINTR              0x060       /* u64: V_TPR in bits 7:0, V_INTR_MASKING at bit 24 */
#define VMCB_EXITCODE           0x070       /* u64 */
#define VMCB_EXITINFO1          0x078       /* u64 */
#define VMCB_EXITINFO2          0x080       /* u64 */
#define VMCB_EXITINTINFO        0x088       /* u64: the event the exit interrupted (EVENT_*) */
#define VMCB_NP_ENABLE          0x090       /* u64: bit 0 nested paging */
#define VMCB_EVENTINJ           0x0A8       /* u64: event delivered at VMRUN (EVENT_*) */
#define VMCB_N_CR3              0x0B0       /* u64: nested table root */
#define VMCB_CLEAN              0x0C0       /* u32: clean bits (0: the CPU reloads everything) */
#define VMCB_NRIP               0x0C8       /* u64: next rip (with NRIPS) */

/* VMCB state save area (offsets). Segments: u16 selector, u16 attrib, u32 limit, u64 base. */
#define VMCB_ES                 0x400
#define VMCB_CS                 0x410
#define VMCB_SS                 0x420
#define VMCB_DS                 0x430
#define VMCB_FS                 0x440
#define VMCB_GS                 0x450
#define VMCB_GDTR               0x460
#define VMCB_LDTR               0x470
#define VMCB_IDTR               0x480
#define VMCB_TR                 0x490
#define VMCB_CPL                0x4CB       /* u8 */
#define VMCB_EFER               0x4D0
#define VMCB_CR4                0x548
#define VMCB_CR3                0x550
#define VMCB_CR0                0x558
#define VMCB_DR7                0x560
#define VMCB_DR6                0x568
#define VMCB_RFLAGS             0x570
#define VMCB_RIP                0x578
#define VMCB_RSP                0x5D8
#define VMCB_RAX                0x5F8
#define VMCB_STAR               0x600
#define VMCB_LSTAR              0x608
#define VMCB_CSTAR              0x610
#define VMCB_SFMASK             0x618
#define VMCB_KERNEL_GS_BASE     0x620
#define VMCB_SYSENTER_CS        0x628
#define VMCB_SYSENTER_ESP       0x630
#define VMCB_SYSENTER_EIP       0x638
#define VMCB_CR2                0x640
#define VMCB_G_PAT              0x668

/* Intercept word 3 (VMCB_INTERCEPT_MISC1). */
#define SVM_I_INTR              (1u << 0)   /* physical interrupt */
#define SVM_I_NMI               (1u << 1)
#define SVM_I_SMI               (1u << 2)
#define SVM_I_INIT              (1u << 3)
#define SVM_I_RDPMC             (1u << 15)
#define SVM_I_CPUID             (1u << 18)
#define SVM_I_INVD              (1u << 22)
#define SVM_I_HLT               (1u << 24)
#define SVM_I_INVLPGA           (1u << 26)
#define SVM_I_IOIO              (1u << 27)  /* through the I/O permission map */
#define SVM_I_MSR               (1u << 28)  /* through the MSR permission map */
#define SVM_I_SHUTDOWN          (1u << 31)
/* Intercept word 4 (VMCB_INTERCEPT_MISC2). */
#define SVM_I_VMRUN             (1u << 0)   /* required: VMRUN fails without it */
#define SVM_I_VMMCALL           (1u << 1)
#define SVM_I_VMLOAD            (1u << 2)
#define SVM_I_VMSAVE            (1u << 3)
#define SVM_I_STGI              (1u << 4)
#define SVM_I_CLGI              (1u << 5)
#define SVM_I_SKINIT            (1u << 6)
#define SVM_I_WBINVD            (1u << 9)
#define SVM_I_MONITOR           (1u << 10)
#define SVM_I_MWAIT             (1u << 11)
#define SVM_I_XSETBV            (1u << 13)
#define SVM_I_DR0_3             0x000F000Fu /* reads and writes of DR0-DR3 (not in the VMCB) */

#define VINTR_MASKING           (1ul << 24) /* guest RFLAGS.IF masks only virtual interrupts */
#define VINTR_TPR               0xFFul      /* V_TPR: the guest's CR8 (its own, kept across runs) */

/* EXITINTINFO and EVENTINJ (APM Vol. 2, 15.20): vector, type, error code valid, valid, and
   the error code in bits 63:32. */
#define EVENT_VECTOR            0xFFul
#define EVENT_TYPE_MASK         0x700ul     /* bits 10:8 */
#define EVENT_TYPE_EXC          0x300ul     /* exception */
#define EVENT_TYPE_SOFT         0x400ul     /* software interrupt (INTn) */
#define EVENT_VALID             (1ul << 31)
#define EVENT_VEC_BP            3           /* #BP: raised by INT3 */
#define EVENT_VEC_OF            4           /* #OF: raised by INTO */
#define TLB_NOTHING             0           /* TLB_CONTROL: keep everything */
#define TLB_FLUSH_ALL           1           /* flush every ASID's entries */
#define TLB_FLUSH_ASID          3           /* flush this guest's ASID (FLUSHASID) */

#define IOPM_PAGES              3           /* 12 KiB: a bit per port, and one page beyond */
#define MSRPM_PAGES             2           /* 8 KiB: two bits per MSR of the three ranges */

/* Exit codes (VMCB_EXITCODE). */
#define SVM_EXIT_INTR           0x060
#define SVM_EXIT_NMI            0x061
#define SVM_EXIT_SMI            0x062
#define SVM_EXIT_INIT           0x063
#define SVM_EXIT_CPUID          0x072
#define SVM_EXIT_HLT            0x078
#define SVM_EXIT_IOIO           0x07B
#define SVM_EXIT_SHUTDOWN       0x07F
#define SVM_EXIT_VMMCALL        0x081
#define SVM_EXIT_NPF            0x400
#define SVM_EXIT_INVALID        UL_(0xFFFFFFFFFFFFFFFF)    /* -1: VMRUN refused the state */

/* EXITINFO1 of SVM_EXIT_IOIO. */
#define IOIO_IN                 (1u << 0)   /* type: 1 in, 0 out */
#define IOIO_SZ8                (1u << 4)
#define IOIO_SZ16               (1u << 5)
#define IOIO_SZ32               (1u << 6)
#define IOIO_PORT_SHIFT         16
/* EXITINFO1 of SVM_EXIT_NPF: a page-fault error code. */
#define NPF_W                   (1u << 1)   /* a write */
#define NPF_X                   (1u << 4)   /* an instruction fetch */

/* Lengths of the intercepted instructions, for CPUs without NRIPS. */
#define SVM_LEN_CPUID           2
#define SVM_LEN_HLT             1
#define SVM_LEN_VMMCALL         3
