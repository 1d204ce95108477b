/*
 * The system-call interface shared by the kernel, user programs and host
 * tests: call numbers, argument encodings, selector limits and the records
 * the kernel writes to user buffers. docs/abi.md is the specification:
 * calling convention, arguments, rights needed, and every error code.
 *
 *   rax = call number             -> rax = status (enum status, include/abi.h)
 *   rdi, rsi, rdx, r10, r8, r9    -> rdx = second result (where a call has one)
 *   rcx, r11 clobbered by syscall/sysret; rdi rsi rdx r8 r9 r10 not preserved.
 */
#pragma once
#include "types.h"
#include "abi.h"

/* Call numbers (rax). 0 is never a call: a forgotten number gets E_NOSYS. */
enum sysno {
    SYS_CREATE_PD     = 1,  /* (dst_sel, parent_pd_sel) */
    SYS_CREATE_EC     = 2,  /* (dst_sel, pd_sel, cpu, entry_ip, stack_ptr, arg) */
    SYS_DELEGATE      = 3,  /* (src_pd_sel, dst_pd_sel, XFER(kind, rights), src_base, dst_base,
                               count) */
    SYS_REVOKE        = 4,  /* (pd_sel, flags, XFER(kind, rights), base, count) */
    SYS_LOOKUP        = 5,  /* (pd_sel, kind, addr, struct lookup_info *out) */
    SYS_EC_STATUS     = 6,  /* (ec_sel, flags, struct ec_info *out) */
    SYS_YIELD         = 7,  /* () */
    SYS_EXIT          = 8,  /* (code); never returns */
    SYS_CONSOLE_WRITE = 9,  /* (buf, len) */
    SYS_COUNTERS      = 10, /* (cpu, struct core_counters *out) */
    SYS_PD_INFO       = 11, /* (pd_sel, struct pd_info *out) */
    SYS_EC_RESUME     = 12, /* (ec_sel, flags, rip, rax) */
    SYS_ASSIGN        = 13, /* (dev_sel, pd_sel): pd_sel SEL_NULL unassigns */
    SYS_DEV_FAULTS    = 14, /* (dev_sel, struct dev_faults *out) */
    SYS_CREATE_VCPU   = 15, /* (dst_sel, pd_sel, cpu): a vCPU EC of pd, stopped at VM_EXIT_START */
    SYS_VCPU_REGS     = 16, /* (ec_sel, flags, struct vcpu_regs *buf): VCPU_REGS_SET or read */
    SYS_COUNT               /* first number that is not a call */
};

/* Test build only (make KCOV=1): kernel edge coverage, numbered far from SYS_COUNT; every other
   build answers E_NOSYS. */
#define SYS_KCOV  256       /* (out, len): struct kcov_info, then the hit bitmap */
/* Test build only (make INSPECT=1): a PD's page tables on the serial console (make inspect). */
#define SYS_INSPECT 257     /* (pd_sel, tag) */

/* SYS_KCOV result header: guards in the kernel, and how many of them have run. */
struct kcov_info {
    uint64_t edges;         /* instrumented edges (guards) of kernel/ and arch/ */
    uint64_t hit;           /* edges executed at least once since boot */
};

/*
 * Object space (capability table): selector s names slot s of the caller's
 * table in the 512 MiB "Capabilities" region, one CAP_SLOT_SIZE slot each.
 * Selector 0 is the null capability and can never be written.
 */
#define CAP_SLOT_SIZE   16u                              /* bytes per capability slot */
#define CAP_REGION_SIZE MiB(512)                         /* layout: "Capabilities" */
#define SEL_COUNT       (CAP_REGION_SIZE / CAP_SLOT_SIZE) /* 2^25 selectors: 0 .. SEL_COUNT-1 */
#define SEL_NULL        0u                               /* always the null capability */

/* Well-known selectors in the root PD's object space at boot. */
#define SEL_ROOT_PD     1u      /* the root PD itself, PD_R_ALL */
#define SEL_ROOT_EC     2u      /* the root's first EC (core 0), EC_R_ALL */
#define SEL_ROOT_FREE   16u     /* first selector the kernel leaves free; 3..15 reserved */
#define SEL_ROOT_DEV    0x100000u   /* device i of the device page at SEL_ROOT_DEV + i, DEV_R_ALL */

/*
 * User part of every memory space: [0, USER_LIMIT). Addresses, ranges,
 * entry points and stack pointers at or above it are E_RANGE.
 */
#define USER_LIMIT      0x00007ffffffff000UL    /* lecture layout: end of "User" */
#define PAGE_SIZE_USER  4096UL                  /* unit of SPACE_MEM: one 4 KiB page */
#define PIO_PORTS       0x10000UL               /* SPACE_PIO: ports 0 .. 0xffff */

/*
 * Second argument of delegate/revoke (rdx): which space, and a rights mask.
 * Bits 7:0 kind (enum space_kind), bits 15:8 rights, every other bit zero.
 */
#define XFER_KIND_MASK   0xffUL     /* bits 7:0: enum space_kind */
#define XFER_RIGHTS_SHIFT 8         /* bits 15:8: MEM_* / PIO_A / PD_R_* / EC_R_* */
#define XFER_RIGHTS_MASK 0xffUL
#define XFER(kind, rights) \
    ((mword)(kind) | ((mword)(rights) << XFER_RIGHTS_SHIFT))
#define XFER_KIND(x)     ((unsigned)((x) & XFER_KIND_MASK))
#define XFER_RIGHTS(x)   ((unsigned)(((x) >> XFER_RIGHTS_SHIFT) & XFER_RIGHTS_MASK))
#define XFER_VALID(x)    (((x) >> 16) == 0)

/* Valid rights bits per space kind (a delegate/revoke mask must be a non-empty subset). */
#define OBJ_R_ALL  (PD_R_ALL | EC_R_ALL | DEV_R_ALL)

/* revoke() flags (rsi). */
#define REVOKE_SELF   (1u << 0)     /* also revoke pd's own rights, not only the derived ones */

/* ec_status() flags (rsi). */
#define EC_WAIT       (1u << 0)     /* block until the EC has stopped (faulted or exited) */

/* ec_resume() flags (rsi): registers the resumed EC gets instead of its saved ones. */
#define EC_RESUME_RIP (1u << 0)     /* rip = argument 3 (rdx), below USER_LIMIT */
#define EC_RESUME_RAX (1u << 1)     /* rax = argument 4 (r10) */
#define EC_RESUME_ALL (EC_RESUME_RIP | EC_RESUME_RAX)

/* vcpu_regs() flags (rsi): without VCPU_REGS_SET the vCPU's registers are copied to buf. */
#define VCPU_REGS_SET (1u << 0)     /* copy buf into the stopped vCPU's registers */

/* lookup(): what a PD holds at one place of one of its spaces. */
struct lookup_info {
    uint64_t base;      /* MEM: first byte of the mapping containing addr; PIO/OBJ: addr */
    uint64_t size;      /* MEM: bytes of that mapping (4K, 2M or 1G); PIO/OBJ: 1 */
    uint64_t phys;      /* MEM: physical address of base; PIO/OBJ: 0 */
    uint32_t rights;    /* MEM_* / PIO_A / capability rights */
    uint32_t type;      /* OBJ: enum cap_type; MEM/PIO: 0 */
};

/* dev_faults() result: the DMA faults of a device since the previous call. */
struct dev_faults {
    uint64_t count;     /* faults recorded (the IOMMU's log may drop some: at least 1 if any) */
    uint64_t addr;      /* page of the last one's bus address */
    uint32_t reason;    /* the last one's VT-d fault reason */
    uint32_t write;     /* 1: the last one was a write (device to memory) */
};

/* States of an EC as reported by ec_status(). */
enum ec_state {
    EC_RUNNING = 0,     /* runnable, running or blocked in the kernel */
    EC_FAULTED = 1,     /* stopped by a fault the kernel could not resolve; see fault */
    EC_EXITED  = 2,     /* stopped by exit(); see exit_code */
    EC_VMEXIT  = 3,     /* a vCPU stopped by a VM exit (or new); see exit */
};

/* Access type of a fault (fault_record.access). */
#define FAULT_R  MEM_R      /* read */
#define FAULT_W  MEM_W      /* write */
#define FAULT_X  MEM_X      /* instruction fetch */

/* Where and why an EC stopped on a fault. */
struct fault_record {
    uint64_t addr;      /* #PF: faulting linear address (CR2); other vectors: 0 */
    uint64_t rip;       /* instruction that faulted */
    uint64_t error;     /* hardware error code (0 for vectors without one) */
    uint8_t  vector;    /* exception vector (include/x86_vectors.h): VEC_PF, VEC_GP, VEC_UD, ... */
    uint8_t  access;    /* #PF: FAULT_R, FAULT_W or FAULT_X; other vectors: 0 */
    uint8_t  user;      /* 1: the access was a user access (error code bit U) */
    uint8_t  pad[5];
};

/*
 * Why a vCPU stopped (vm_exit.reason), the same on AMD SVM and Intel VMX. The vCPU's
 * registers are at the exiting instruction: the VMM emulates it, sets the results
 * (ec_resume's rax, or vcpu_regs) and resumes at rip + len to skip it.
 */
enum vm_exit_reason {
    VM_EXIT_START    = 0,   /* created, never run: set its registers, then resume it */
    VM_EXIT_NPF      = 1,   /* nested page fault / EPT violation: addr, access */
    VM_EXIT_HLT      = 2,   /* hlt */
    VM_EXIT_IO       = 3,   /* in/out: port in addr, size, access; out's value in qual */
    VM_EXIT_CPUID    = 4,   /* cpuid: leaf and subleaf in the guest's eax, ecx */
    VM_EXIT_VMCALL   = 5,   /* vmmcall (SVM) / vmcall (VMX) */
    VM_EXIT_INTR     = 6,   /* a host interrupt or the preemption timer: nothing to emulate */
    VM_EXIT_SHUTDOWN = 7,   /* triple fault: the guest's state is whatever it left */
    VM_EXIT_INVALID  = 8,   /* VMRUN / VM entry refused the guest state (qual: vendor code) */
    VM_EXIT_OTHER    = 9,   /* another intercepted event (rdmsr/wrmsr, xsetbv, SVM/VMX
                               instructions, ...): qual = vendor exit code, addr = its
                               EXITINFO1 / exit qualification */
    VM_EXIT_REASONS
};

/* vm_exit.access for VM_EXIT_IO (with FAULT_R/W/X for VM_EXIT_NPF). */
#define VM_IO_IN   FAULT_R      /* in: the VMM gives the value as ec_resume's rax */
#define VM_IO_OUT  FAULT_W      /* out: the value (size bytes of the guest's rax) in qual */

/* Where and why a vCPU stopped (ec_info.exit while EC_VMEXIT). */
struct vm_exit {
    uint64_t rip;       /* guest rip of the exiting instruction */
    uint64_t addr;      /* NPF: guest-physical address; IO: port; OTHER: EXITINFO1 / qual. */
    uint64_t qual;      /* NPF: vendor fault info (SVM EXITINFO1, VMX qualification); IO out:
                           the value; INVALID, OTHER: the vendor exit code; else 0 */
    uint32_t reason;    /* enum vm_exit_reason */
    uint8_t  access;    /* NPF: FAULT_R, FAULT_W or FAULT_X; IO: VM_IO_IN or VM_IO_OUT */
    uint8_t  size;      /* IO: 1, 2 or 4 bytes; else 0 */
    uint8_t  len;       /* length of the exiting instruction (rip + len: the next), 0 unknown */
    uint8_t  pad;
};

/* ec_status() result. */
struct ec_info {
    uint32_t state;     /* enum ec_state */
    uint32_t cpu;       /* the core the EC is bound to */
    int64_t  exit_code; /* EC_EXITED: the argument of exit() */
    union {
        struct fault_record fault;  /* EC_FAULTED: the fault */
        struct vm_exit exit;        /* EC_VMEXIT: the VM exit */
    };
};

/*
 * A vCPU's guest state (vcpu_regs). Segment attributes in the SVM (VMCB) layout: bits 7:0
 * the descriptor's type (3:0), S (4), DPL (6:5), P (7); bits 11:8 AVL, L, D/B, G; P clear is
 * an unusable segment. gdtr and idtr use base and limit only. The MSRs are the guest's own.
 */
struct vcpu_seg {
    uint16_t sel;
    uint16_t attr;
    uint32_t limit;
    uint64_t base;
};

/* Indices of vcpu_regs.gpr: the hardware's register numbers. */
enum vcpu_gpr {
    VCPU_RAX, VCPU_RCX, VCPU_RDX, VCPU_RBX, VCPU_RSP, VCPU_RBP, VCPU_RSI, VCPU_RDI,
    VCPU_R8, VCPU_R9, VCPU_R10, VCPU_R11, VCPU_R12, VCPU_R13, VCPU_R14, VCPU_R15, VCPU_GPRS
};

struct vcpu_regs {
    uint64_t gpr[VCPU_GPRS];
    uint64_t rip, rflags;
    uint64_t cr0, cr2, cr3, cr4, efer, pat;
    struct vcpu_seg es, cs, ss, ds, fs, gs, ldtr, tr, gdtr, idtr;
    uint64_t star, lstar, cstar, sfmask, kernel_gs_base;
    uint64_t sysenter_cs, sysenter_esp, sysenter_eip;
};

/* Per-core event counters, read with counters(cpu, out). Counted since boot. */
struct core_counters {
    uint64_t lazy_syncs;        /* top-level user entries copied from hpt into loc[cpu] */
    uint64_t page_faults;       /* #PF taken on this core (user and kernel) */
    uint64_t ipis_sent;         /* shootdown IPIs this core sent */
    uint64_t ipis_received;     /* shootdown IPIs this core handled */
    uint64_t full_flushes;      /* CR3 reloads done to flush the TLB */
    uint64_t invlpgs;           /* single-page invalidations */
    uint64_t flushes_avoided;   /* flushes skipped: marked core not running the PD (no IPI),
                                   page-table update into a hole, no-flush CR3 load (PCID) */
    uint64_t tables_freed;      /* page-table frames freed after a shootdown (deferred) */
    uint64_t syscalls;          /* system calls entered on this core */
    uint64_t ctx_switches;      /* EC switches on this core */
    uint64_t timer_ticks;       /* LAPIC timer interrupts taken (also inside the kernel) */
    uint64_t mdb_remaps;        /* pages the page-fault handler mapped again into hpt from the
                                   mapping database (a large page was dropped for lack of memory) */
    uint64_t ac_entries;        /* interrupts and exceptions whose handler found RFLAGS.AC set
                                   on a CPU with SMAP (user access allowed): always 0 */
    uint64_t kernel_debug_traps;/* #DB taken in kernel mode (a user's TF at the syscall
                                   instruction): TF cleared, execution resumed */
    uint64_t heap_live;         /* global: kernel objects allocated and not freed (kmalloc) */
    uint64_t heap_pages;        /* global: pool frames the object heap holds (its peak; kept) */
    uint64_t pool_free;         /* global: free frames of the kernel pool (and far pool) */
    uint64_t lock_retries;      /* calls re-issued because pd_lock stayed busy (kernel/pd.c) */
    uint64_t pd_frames;         /* global: pool frames PDs hold (pd_info.frames of every PD, and
                                   the capability and I/O-bitmap spaces' shared pages): with
                                   pool_free and heap_pages, every frame the kernel hands out */
    uint64_t lock_bypass_max;   /* most pd_lock critical sections of other cores that began while
                                   this core waited for it once (kernel/fairlock.c: < cores) */
    uint64_t lock_waits;        /* times this core found pd_lock held and queued for it */
    uint64_t revoke_steps;      /* revoke steps run on this core (pd_lock dropped after each) */
    uint64_t revoke_work;       /* their work (mapping-database entries visited), summed */
    uint64_t revoke_step_max;   /* the most work one of them did */
    uint64_t kernel_ticks;      /* of timer_ticks, those that interrupted kernel mode (a call
                                   between two steps, a wait for a lock, the idle loop) */
    uint64_t pcid_recycled;     /* global: PCIDs handed to a new space while their last owner's
                                   entries may still be in TLBs (flushed on every core first) */
    uint64_t stray_irqs;        /* exception vectors and NMIs that came as interrupt messages
                                   (a device's DMA write to 0xFEEx_xxxx): acknowledged, ignored */
    uint64_t cr3_loads;         /* CR3 writes: address-space switches and full flushes, with or
                                   without the no-flush bit (PCID) */
    uint64_t tlb_deferred;      /* shootdown IPIs acknowledged before the flush, which is left to
                                   the next make_current (lab switch TLB_ACK=deferred; else 0) */
    uint64_t eager_syncs;       /* top-level user entries copied from hpt into a loc[cpu] when a
                                   map made them or the root was created (lab: PTSYNC=eager) */
    uint64_t pt_window_ops;     /* page-table operations of a PD loaded on this core that reached
                                   its tables through the recursive window (PTACCESS=recursive) */
    uint64_t pt_linear_ops;     /* ... of a PD not loaded here: through the linear map instead */
    uint64_t pt_window_flushes; /* full flushes after a table detached from a window's tables */
    uint64_t pt_pages;          /* lab test build PTCOUNT=1 (else 0), summed over system calls
                                   and page faults: distinct 4 KiB pages of page tables the
                                   kernel read or wrote in each */
    uint64_t pt_tlb;            /* ... the TLB entries they take: a 2 MiB page of the linear
                                   map, or a 4 KiB page (recursive window, temporal window) */
};

/* pd_info() result: how much kernel memory a PD's spaces use (for tests). */
struct pd_info {
    uint64_t obj_pages;     /* Space_obj: capability-table backing pages allocated */
    uint64_t pio_pages;     /* Space_pio: I/O-bitmap backing pages allocated */
    uint64_t hpt_tables;    /* Space_mem: table frames of the master hpt (root included) */
    uint64_t loc_roots;     /* Space_mem: per-core roots loc[cpu] (PD_LOC_ROOT_FRAMES each) */
    uint64_t frames;        /* every pool frame the PD holds: the PD object (PD_OBJ_FRAMES), all of
                               the above, and frames reserved for an operation (0 between calls) */
    uint64_t hpt_kept;      /* of hpt_tables, those kept while the PD lives: the root and one PDPT
                               per 512 GiB region ever mapped (the per-core roots share them) */
    uint64_t quota;         /* frames the PD may be charged (0: it draws on its parent's quota) */
    uint64_t kpd_tables;    /* Space_obj + Space_pio: private page tables of their backing pages */
    uint64_t used;          /* frames charged to the PD: with a quota of its own, everything
                               charged against it (its own frames and heap pages, the quotas of
                               its children, the frames of children drawing on it); without,
                               what it holds itself (frames + heap_pages) */
    uint64_t heap_pages;    /* pool frames of the PD's object heap: its ECs */
};
#define HAVE_PD_INFO 1
#define PD_QUOTA_SHARED 0       /* create_pd's quota: the new PD draws on its parent's quota */
#define PD_LOC_ROOT_FRAMES 2    /* frames of a per-core root: top-level table, kernel-half PDPT */
#if defined(NUM_CPU) && NUM_CPU > 64
#define PD_OBJ_FRAMES      3    /* frames of the PD object: struct pd (2), kernel directory (1) */
#else
#define PD_OBJ_FRAMES      2    /* frames of the PD object: struct pd (1), kernel directory (1) */
#endif

_Static_assert(sizeof(struct pd_info) == 80, "ABI: pd_info is 80 bytes");
_Static_assert(sizeof(struct dev_faults) == 24, "ABI: dev_faults is 24 bytes");
_Static_assert(sizeof(struct lookup_info) == 32, "ABI: lookup_info is 32 bytes");
_Static_assert(sizeof(struct fault_record) == 32, "ABI: fault_record is 32 bytes");
_Static_assert(sizeof(struct ec_info) == 48, "ABI: ec_info is 48 bytes");
_Static_assert(sizeof(struct vm_exit) == 32, "ABI: vm_exit is 32 bytes");
_Static_assert(sizeof(struct vcpu_regs) == 416, "ABI: vcpu_regs is 416 bytes");
_Static_assert(sizeof(struct core_counters) == 280, "ABI: core_counters is 280 bytes");

/* Largest len console_write() accepts in one call. */
#define CONSOLE_MAX   4096u

/* Register state of a new EC (create_ec): rip=entry_ip, rsp=stack_ptr, rdi=arg, rflags=IF,
   rest 0. */
#define EC_START_RFLAGS  0x202UL    /* IF | reserved bit 1 */
