/*
 * Intel VMX with EPT (SDM Vol. 3, chapters 24 to 29): capability MSRs, VMCS field encodings,
 * control bits, exit reasons and exit qualifications, and the VMX engine of arch/x86_64/vmx.c.
 *
 * Model (the hooks of virt.h through vmx_ops, arch/x86_64/vmx.c): every core enters VMX
 * operation at boot (VMXON). A vCPU's control page is its VMCS. The generic side calls the
 * hooks on whatever core it is on (create_vcpu and vcpu_regs on the VMM's, the run on the
 * vCPU's, the free on the last to hold it), so a VMCS is active only inside one hook: each
 * loads it (VMPTRLD), works, and clears it again (VMCLEAR), and every entry is a VMLAUNCH. No
 * core caches a VMCS between hooks: its frame may be freed from any core. The guest's general
 * registers but rsp, its CR2 (in the rsp slot) and the MSRs the VMCS has no field for (the
 * syscall MSRs, the kernel GS base) are in struct vcpu_hw; the rest is in the VMCS.
 * Guest-physical memory is the VM's Ept (the engine's ptab_ept format), named by the EPT
 * pointer of every entry; an entry with flush, and a vCPU's first entry, first drop the
 * translations derived from that EPTP on the core (INVEPT, single context). VPIDs are per core,
 * handed out in generations as SVM's ASIDs: a wrap starts a generation with INVVPID of every
 * VPID on that core.
 */
#pragma once
#include "asm_const.h"
#ifndef __ASSEMBLER__
#include "types.h"
#endif

/*      capability MSR              index        contents */
#define MSR_FEATURE_CONTROL         0x03A   /* IA32_FEATURE_CONTROL */
#define MSR_VMX_BASIC               0x480   /* revision id, VMCS size, memory type, true ctls */
#define MSR_VMX_PINBASED_CTLS       0x481   /* allowed 0 (low 32 bits) and 1 (high 32 bits) */
#define MSR_VMX_PROCBASED_CTLS      0x482
#define MSR_VMX_EXIT_CTLS           0x483
#define MSR_VMX_ENTRY_CTLS          0x484
#define MSR_VMX_MISC                0x485   /* preemption timer rate, activity states */
#define MSR_VMX_CR0_FIXED0          0x486   /* CR0 bits that must be 1 in VMX operation */
#define MSR_VMX_CR0_FIXED1          0x487   /* CR0 bits that may be 1 */
#define MSR_VMX_CR4_FIXED0          0x488
#define MSR_VMX_CR4_FIXED1          0x489
#define MSR_VMX_PROCBASED_CTLS2     0x48B   /* secondary controls */
#define MSR_VMX_EPT_VPID_CAP        0x48C   /* EPT and VPID capabilities */
#define MSR_VMX_TRUE_PINBASED_CTLS  0x48D   /* the true controls (VMX_BASIC_TRUE_CTLS) */
#define MSR_VMX_TRUE_PROCBASED_CTLS 0x48E
#define MSR_VMX_TRUE_EXIT_CTLS      0x48F
#define MSR_VMX_TRUE_ENTRY_CTLS     0x490

/*      IA32_FEATURE_CONTROL bit    value        meaning */
#define FEATURE_CONTROL_LOCK        BIT(0)  /* locked until reset */
#define FEATURE_CONTROL_VMX_OUTSIDE BIT(2)  /* VMXON allowed outside SMX operation */

/*      IA32_VMX_BASIC field        value        meaning */
#define VMX_BASIC_REVISION          BITS(30, 0)     /* VMCS revision identifier */
#define VMX_BASIC_SIZE_SHIFT        32              /* bits 44:32: bytes of the VMCS region */
#define VMX_BASIC_SIZE_MASK         BITS(44, 32)
#define VMX_BASIC_ADDR32            BIT(48)         /* regions below 4 GiB only */
#define VMX_BASIC_MT_SHIFT          50              /* bits 53:50: memory type of VMCS accesses */
#define VMX_BASIC_MT_MASK           BITS(53, 50)
#define VMX_BASIC_TRUE_CTLS         BIT(55)         /* the TRUE_*_CTLS MSRs exist */
#define VMX_MT_WB                   6               /* write-back (VMCS, EPTP, EPT leaves) */

/*      IA32_VMX_MISC field         value        meaning */
#define VMX_MISC_TIMER_RATE         BITS(4, 0)      /* timer ticks every 2^rate TSC cycles */
#define VMX_MISC_HLT                BIT(6)          /* activity state HLT supported */

/*      IA32_VMX_EPT_VPID_CAP bit   value        meaning */
#define EPT_CAP_WALK4               BIT(6)          /* page-walk length 4 */
#define EPT_CAP_WB                  BIT(14)         /* EPT structures may be write-back */
#define EPT_CAP_2M                  BIT(16)         /* 2 MiB EPT leaves */
#define EPT_CAP_1G                  BIT(17)         /* 1 GiB EPT leaves */
#define EPT_CAP_INVEPT              BIT(20)         /* INVEPT */
#define EPT_CAP_INVEPT_SINGLE       BIT(25)         /* INVEPT type 1: one EPTP */
#define EPT_CAP_INVEPT_ALL          BIT(26)         /* INVEPT type 2: every EPTP */
#define VPID_CAP_INVVPID            BIT(32)         /* INVVPID */
#define VPID_CAP_SINGLE             BIT(41)         /* INVVPID type 1: one VPID */
#define VPID_CAP_ALL                BIT(42)         /* INVVPID type 2: every VPID */

/*      INVEPT / INVVPID type       value */
#define INVEPT_SINGLE               1               /* the mappings derived from one EPTP */
#define INVEPT_ALL                  2
#define INVVPID_SINGLE              1               /* the mappings tagged with one VPID */
#define INVVPID_ALL                 2

/*      EPT pointer field           value        meaning */
#define EPTP_MT_WB                  UL_(6)          /* bits 2:0: memory type of the walk */
#define EPTP_WALK4                  (UL_(3) << 3)   /* bits 5:3: page-walk length - 1 */

/*      pin-based control           value        meaning */
#define PIN_EXT_INTR                BIT(0)          /* external interrupts exit */
#define PIN_NMI                     BIT(3)          /* NMIs exit */
#define PIN_PREEMPT_TIMER           BIT(6)          /* activate the VMX preemption timer */

/*      primary processor-based     value        meaning */
#define PROC_HLT                    BIT(7)          /* HLT exits */
#define PROC_INVLPG                 BIT(9)          /* INVLPG exits */
#define PROC_MWAIT                  BIT(10)         /* MWAIT exits */
#define PROC_RDPMC                  BIT(11)         /* RDPMC exits */
#define PROC_CR3_LOAD               BIT(15)         /* MOV to CR3 exits */
#define PROC_CR3_STORE              BIT(16)         /* MOV from CR3 exits */
#define PROC_CR8_LOAD               BIT(19)         /* MOV to CR8 exits */
#define PROC_CR8_STORE              BIT(20)         /* MOV from CR8 exits */
#define PROC_MOV_DR                 BIT(23)         /* MOV DR exits */
#define PROC_IO_ALL                 BIT(24)         /* every I/O instruction exits */
#define PROC_MONITOR                BIT(29)         /* MONITOR exits */
#define PROC_SECONDARY              BIT(31)         /* the secondary controls apply */

/*      secondary processor-based   value        meaning */
#define PROC2_EPT                   BIT(1)          /* enable EPT */
#define PROC2_VPID                  BIT(5)          /* enable VPID */
#define PROC2_WBINVD                BIT(6)          /* WBINVD exiting */
#define PROC2_UNRESTRICTED          BIT(7)          /* unrestricted guest (real mode, no paging) */

/*      VM-exit control             value        meaning */
#define EXIT_SAVE_DEBUG             BIT(2)          /* save DR7, IA32_DEBUGCTL */
#define EXIT_HOST_64                BIT(9)          /* host address-space size: 64-bit host */
#define EXIT_SAVE_PAT               BIT(18)
#define EXIT_LOAD_PAT               BIT(19)
#define EXIT_SAVE_EFER              BIT(20)
#define EXIT_LOAD_EFER              BIT(21)

/*      VM-entry control            value        meaning */
#define ENTRY_LOAD_DEBUG            BIT(2)          /* load DR7, IA32_DEBUGCTL */
#define ENTRY_IA32E                 BIT(9)          /* IA-32e mode guest */
#define ENTRY_LOAD_PAT              BIT(14)
#define ENTRY_LOAD_EFER             BIT(15)

/* VMCS field encodings (SDM Vol. 3, appendix B). */
/*      16-bit fields               encoding */
#define VMCS_VPID                   0x0000
#define VMCS_GUEST_ES_SEL           0x0800          /* ES, CS, SS, DS, FS, GS, LDTR, TR: +2 */
#define VMCS_GUEST_CS_SEL           0x0802
#define VMCS_GUEST_SS_SEL           0x0804
#define VMCS_GUEST_DS_SEL           0x0806
#define VMCS_GUEST_FS_SEL           0x0808
#define VMCS_GUEST_GS_SEL           0x080A
#define VMCS_GUEST_LDTR_SEL         0x080C
#define VMCS_GUEST_TR_SEL           0x080E
#define VMCS_HOST_ES_SEL            0x0C00
#define VMCS_HOST_CS_SEL            0x0C02
#define VMCS_HOST_SS_SEL            0x0C04
#define VMCS_HOST_DS_SEL            0x0C06
#define VMCS_HOST_FS_SEL            0x0C08
#define VMCS_HOST_GS_SEL            0x0C0A
#define VMCS_HOST_TR_SEL            0x0C0C
/*      64-bit fields               encoding */
#define VMCS_EPTP                   0x201A
#define VMCS_GUEST_PHYS             0x2400          /* read-only: the EPT violation's address */
#define VMCS_LINK                   0x2800          /* VMCS link pointer (~0: none) */
#define VMCS_GUEST_DEBUGCTL         0x2802
#define VMCS_GUEST_PAT              0x2804
#define VMCS_GUEST_EFER             0x2806
#define VMCS_HOST_PAT               0x2C00
#define VMCS_HOST_EFER              0x2C02
/*      32-bit fields               encoding */
#define VMCS_PIN_CTLS               0x4000
#define VMCS_PROC_CTLS              0x4002
#define VMCS_EXC_BITMAP             0x4004
#define VMCS_CR3_TARGETS            0x400A
#define VMCS_EXIT_CTLS              0x400C
#define VMCS_EXIT_MSR_STORE         0x400E
#define VMCS_EXIT_MSR_LOAD          0x4010
#define VMCS_ENTRY_CTLS             0x4012
#define VMCS_ENTRY_MSR_LOAD         0x4014
#define VMCS_ENTRY_INTR             0x4016          /* the event the entry delivers */
#define VMCS_ENTRY_ERR              0x4018          /* its error code */
#define VMCS_ENTRY_INSN_LEN         0x401A          /* its instruction length (software) */
#define VMCS_PROC_CTLS2             0x401E
#define VMCS_INSN_ERROR             0x4400          /* read-only: why VMLAUNCH failed */
#define VMCS_EXIT_REASON            0x4402
#define VMCS_EXIT_INTR              0x4404          /* interruption information of the exit */
#define VMCS_IDT_VEC_INFO           0x4408          /* the event the exit interrupted */
#define VMCS_IDT_VEC_ERR            0x440A          /* its error code */
#define VMCS_EXIT_INSN_LEN          0x440C
#define VMCS_GUEST_ES_LIMIT         0x4800          /* limits: +2 per segment as selectors */
#define VMCS_GUEST_GDTR_LIMIT       0x4810
#define VMCS_GUEST_IDTR_LIMIT       0x4812
#define VMCS_GUEST_ES_AR            0x4814          /* access rights: +2 per segment */
#define VMCS_GUEST_INTERRUPTIBILITY 0x4824
#define VMCS_GUEST_ACTIVITY         0x4826
#define VMCS_GUEST_SYSENTER_CS      0x482A
#define VMCS_PREEMPT_TIMER          0x482E
#define VMCS_HOST_SYSENTER_CS       0x4C00
/*      natural-width fields        encoding */
#define VMCS_CR0_MASK               0x6000
#define VMCS_CR4_MASK               0x6002
#define VMCS_CR0_SHADOW             0x6004
#define VMCS_CR4_SHADOW             0x6006
#define VMCS_EXIT_QUAL              0x6400
#define VMCS_GUEST_CR0              0x6800
#define VMCS_GUEST_CR3              0x6802
#define VMCS_GUEST_CR4              0x6804
#define VMCS_GUEST_ES_BASE          0x6806          /* bases: +2 per segment as selectors */
#define VMCS_GUEST_GDTR_BASE        0x6816
#define VMCS_GUEST_IDTR_BASE        0x6818
#define VMCS_GUEST_DR7              0x681A
#define VMCS_GUEST_RSP              0x681C
#define VMCS_GUEST_RIP              0x681E
#define VMCS_GUEST_RFLAGS           0x6820
#define VMCS_GUEST_PENDING_DBG      0x6822
#define VMCS_GUEST_SYSENTER_ESP     0x6824
#define VMCS_GUEST_SYSENTER_EIP     0x6826
#define VMCS_HOST_CR0               0x6C00
#define VMCS_HOST_CR3               0x6C02
#define VMCS_HOST_CR4               0x6C04
#define VMCS_HOST_FS_BASE           0x6C06
#define VMCS_HOST_GS_BASE           0x6C08
#define VMCS_HOST_TR_BASE           0x6C0A
#define VMCS_HOST_GDTR_BASE         0x6C0C
#define VMCS_HOST_IDTR_BASE         0x6C0E
#define VMCS_HOST_SYSENTER_ESP      0x6C10
#define VMCS_HOST_SYSENTER_EIP      0x6C12
#define VMCS_HOST_RSP               0x6C14
#define VMCS_HOST_RIP               0x6C16
#define VMCS_SEG_STRIDE             2               /* encoding step from one segment to next */

/*      segment access rights       value        meaning */
#define VMX_AR_UNUSABLE             0x10000 /* bit 16: segment unusable */
#define VMX_AR_P                    0x80    /* bit 7: present (also in the ABI's attributes) */

#define VMX_RFLAGS_FIXED            UL_(0x2)        /* RFLAGS bit 1 reads 1 */
#define VMX_DR7_INIT                UL_(0x400)      /* DR7 after reset */
#define VMX_PAT_INIT                0x0007040600070406UL    /* IA32_PAT after reset */
#define VMX_LINK_NONE               (~0UL)          /* no shadow VMCS */

/* The x86 reset state (SDM Vol. 3, 9.1.1; docs/abi.md create_vcpu), attributes in the ABI's
 * (VMCB) layout. */
#define VMX_RESET_RIP               0xFFF0UL
#define VMX_RESET_CS                0xF000
#define VMX_RESET_CS_BASE           0xFFFF0000UL
#define VMX_RESET_CR0               0x60000010UL    /* CD, NW, ET */
#define VMX_RESET_RDX               0x600UL         /* family 6 */
#define VMX_RESET_ATTR_DATA         0x093           /* present, read/write, accessed */
#define VMX_RESET_ATTR_CODE         0x09B           /* present, execute/read, accessed */
#define VMX_RESET_ATTR_LDT          0x082           /* present, LDT */
#define VMX_RESET_ATTR_TSS          0x08B           /* present, busy TSS (32-bit form) */

/* vcpu_hw.msr: the guest MSRs without a VMCS field, loaded around each entry (vmx.c). */
#define VMX_MSR_STAR                0
#define VMX_MSR_LSTAR               1
#define VMX_MSR_CSTAR               2
#define VMX_MSR_SFMASK              3
#define VMX_MSR_KGS                 4               /* kernel GS base (swapgs) */
#define VMX_MSRS                    5

/*      exit reason (basic)         value */
#define VMX_EXIT_EXC_NMI            0       /* an exception or NMI (VMCS_EXIT_INTR) */
#define VMX_EXIT_EXT_INTR           1       /* an external interrupt */
#define VMX_EXIT_TRIPLE_FAULT       2
#define VMX_EXIT_INIT               3
#define VMX_EXIT_CPUID              10
#define VMX_EXIT_HLT                12
#define VMX_EXIT_VMCALL             18
#define VMX_EXIT_CR                 28      /* MOV CR */
#define VMX_EXIT_IO                 30      /* I/O instruction */
#define VMX_EXIT_RDMSR              31
#define VMX_EXIT_WRMSR              32
#define VMX_EXIT_BAD_GUEST          33      /* VM-entry failure: invalid guest state */
#define VMX_EXIT_BAD_MSR            34      /* VM-entry failure: MSR loading */
#define VMX_EXIT_EPT_VIOLATION      48
#define VMX_EXIT_EPT_MISCONFIG      49
#define VMX_EXIT_PREEMPT_TIMER      52
#define VMX_EXIT_REASON_BASIC       BITS(15, 0)     /* of VMCS_EXIT_REASON */
#define VMX_EXIT_REASON_ENTRY_FAIL  BIT(31)         /* the VM entry failed */

/*      interruption information    value        meaning */
#define VMX_INTR_VECTOR             BITS(7, 0)
#define VMX_INTR_TYPE_SHIFT         8               /* bits 10:8: type */
#define VMX_INTR_TYPE_MASK          BITS(10, 8)
#define VMX_INTR_TYPE_NMI           2
#define VMX_INTR_DELIVER_ERR        BIT(11)         /* an error code is pushed */
#define VMX_INTR_VALID              BIT(31)
#define VMX_INTR_ENTRY_BITS         (VMX_INTR_VALID | VMX_INTR_DELIVER_ERR | VMX_INTR_TYPE_MASK | \
                                     VMX_INTR_VECTOR)   /* 30:12 reserved at entry */

/*      I/O exit qualification      value        meaning */
#define VMX_IO_SIZE                 BITS(2, 0)      /* bytes - 1 */
#define VMX_IO_IN                   BIT(3)          /* IN (else OUT) */
#define VMX_IO_STRING               BIT(4)          /* INS/OUTS */
#define VMX_IO_REP                  BIT(5)
#define VMX_IO_PORT_SHIFT           16              /* bits 31:16: port */

/*      EPT violation qualification value        meaning */
#define VMX_EPT_READ                BIT(0)          /* the access was a read */
#define VMX_EPT_WRITE               BIT(1)          /* a write */
#define VMX_EPT_FETCH               BIT(2)          /* an instruction fetch */
#define VMX_EPT_READABLE            BIT(3)          /* the EPT entry allowed reads */
#define VMX_EPT_WRITABLE            BIT(4)
#define VMX_EPT_EXECUTABLE          BIT(5)

#ifndef __ASSEMBLER__

/* What this CPU's VMX offers, read once at boot (vmx_ops.probe). */
struct vmx_caps {
    bool ok;                        /* VMX with EPT usable as this kernel needs it */
    const char *why;                /* if not: the missing piece */
    uint32_t revision;              /* VMCS revision identifier */
    uint32_t pin, proc, proc2, exit, entry;     /* the control values every VMCS gets */
    uint64_t cr0_fixed0, cr0_fixed1, cr4_fixed0, cr4_fixed1;
    uint64_t ept_vpid;              /* IA32_VMX_EPT_VPID_CAP */
    unsigned timer_rate;            /* preemption timer: one tick per 2^rate TSC cycles */
    bool vpid;                      /* VPIDs tag guest translations (INVVPID present) */
};
extern struct vmx_caps vmx_caps;

/* Enter the guest of the current VMCS (launch state clear) with the registers gpr[VCPU_GPRS]
 * (hardware order; the rsp slot neither loaded nor stored: the VMCS holds rsp) through
 * VMLAUNCH, interrupts off; at the exit gpr holds the guest's and the result is 0. A failed
 * VMLAUNCH returns 1 (VMfailValid: VMCS_INSN_ERROR says why), gpr as it was (vmx_entry.S). */
int vmx_enter(uint64_t *gpr);

extern const struct virt_ops vmx_ops;
void vmx_invept(paddr_t root);
#endif
