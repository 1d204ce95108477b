/*
 * Intel VMX with EPT (the model: arch/x86_64/include/vmx.h): detection from CPUID and the
 * capability MSRs, VMXON per core, a VMCS per vCPU, the run of a vCPU up to its next exit, and
 * INVEPT. The controls every VMCS gets: external interrupts and NMIs exit (a guest cannot keep
 * its core; NMIs are the host's), HLT, every I/O instruction, MOV CR8, MOV DR, MWAIT/MONITOR and
 * RDPMC exit; RDMSR/WRMSR, CPUID, XSETBV, VMCALL and the VMX instructions exit unconditionally;
 * EPT on, VPID where the CPU has INVVPID, unrestricted guest where it has it (real mode, the
 * reset state); the guest runs in IA-32e mode when its EFER.LMA is set. An event the guest was
 * delivering when it exited is delivered at its next entry (event_keep).
 */
#include "vmx.h"
#include "virt_ops.h"
#include "arch.h"
#include "cpu.h"
#include "kmalloc.h"
#include "kstring.h"
#include "panic.h"
#include "printk.h"

struct vmx_caps vmx_caps;

#define VPID_MAX 0xFFFF                 /* VPIDs 1..VPID_MAX (0 is the host's) */
#define VMX_TIMER_BUDGET (1UL << 24)    /* TSC cycles a guest runs at most per entry */

/* A core's VMX state. */
struct vmx_core {
    paddr_t vmxon;                      /* its VMXON region; 0: not in VMX operation */
    uint32_t next_vpid;                 /* next VPID of this generation */
    uint64_t gen;                       /* VPID generation (from 1) */
};
static struct vmx_core cores[NUM_CPU];

/* Read VMCS field f of the current VMCS (0 if the read fails). */
static uint64_t vmread(uint64_t f)
{
    uint64_t v = 0;
    __asm__ __volatile__("vmread %1, %0" : "+rm"(v) : "r"(f) : "cc");
    return v;
}

/* Write v to VMCS field f of the current VMCS; false on VMfail. */
static bool vmwrite(uint64_t f, uint64_t v)
{
    bool fail;
    __asm__ __volatile__("vmwrite %2, %1" : "=@ccbe"(fail) : "r"(f), "rm"(v) : "memory");
    return !fail;
}

/* Make the VMCS at pa current on this core; false on VMfail. */
static bool vmptrld(paddr_t pa)
{
    bool fail;
    __asm__ __volatile__("vmptrld %1" : "=@ccbe"(fail) : "m"(pa) : "memory");
    return !fail;
}

/* Write the VMCS at pa back to memory and make it inactive and clear (launch state). */
static void vmclear(paddr_t pa)
{
    __asm__ __volatile__("vmclear %0" :: "m"(pa) : "cc", "memory");
}

/* Controls from the capability MSR msr: want plus what must be 1, or false when a bit of need
 * (part of want) may not be 1. Low half: bits that may be 0 (clear: must be 1); high half: bits
 * that may be 1 (SDM Vol. 3, A.3). */
static bool adjust(uint32_t msr, uint32_t want, uint32_t need, uint32_t *out)
{
    uint64_t v = rdmsr(msr);
    uint32_t must = (uint32_t)v, may = (uint32_t)(v >> 32);
    if (need & ~may)
        return false;
    *out = (want | must) & may;
    return true;
}

/* Boot core: read what this CPU's VMX offers into vmx_caps; true if it is usable (printed). */
static bool vmx_probe(void)
{
    struct vmx_caps *k = &vmx_caps;
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & CPUID_1_ECX_VMX)) {
        k->why = "no VMX in CPUID";
        return false;
    }
    uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
    if ((fc & FEATURE_CONTROL_LOCK) && !(fc & FEATURE_CONTROL_VMX_OUTSIDE)) {
        k->why = "VMX locked off in IA32_FEATURE_CONTROL";
        return false;
    }
    uint64_t basic = rdmsr(MSR_VMX_BASIC);
    bool truec = basic & VMX_BASIC_TRUE_CTLS;
    k->revision = (uint32_t)(basic & VMX_BASIC_REVISION);
    /* CR8 moves exit: without a TPR shadow the guest would write the host's LAPIC TPR. */
    uint32_t pin = PIN_EXT_INTR | PIN_NMI;
    uint32_t proc_need = PROC_HLT | PROC_IO_ALL | PROC_SECONDARY | PROC_CR8_LOAD | PROC_CR8_STORE;
    uint32_t proc = proc_need | PROC_MOV_DR | PROC_MWAIT | PROC_MONITOR | PROC_RDPMC;
    uint32_t exit = EXIT_HOST_64 | EXIT_LOAD_EFER | EXIT_SAVE_EFER | EXIT_SAVE_PAT | EXIT_LOAD_PAT;
    uint32_t entry = ENTRY_IA32E | ENTRY_LOAD_EFER | ENTRY_LOAD_PAT;
    k->why = "VMCS larger than a page or not write-back";
    if (((basic & VMX_BASIC_SIZE_MASK) >> VMX_BASIC_SIZE_SHIFT) > PAGE_SIZE ||
        ((basic & VMX_BASIC_MT_MASK) >> VMX_BASIC_MT_SHIFT) != VMX_MT_WB)
        return false;
    k->why = "a needed VM-execution, exit or entry control";
    if (!adjust(truec ? MSR_VMX_TRUE_PINBASED_CTLS : MSR_VMX_PINBASED_CTLS, pin, pin, &k->pin) ||
        !adjust(truec ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS, proc, proc_need,
                &k->proc) ||
        !adjust(truec ? MSR_VMX_TRUE_EXIT_CTLS : MSR_VMX_EXIT_CTLS, exit, exit, &k->exit) ||
        !adjust(truec ? MSR_VMX_TRUE_ENTRY_CTLS : MSR_VMX_ENTRY_CTLS, entry, entry, &k->entry))
        return false;
    k->why = "no EPT";
    if (!adjust(MSR_VMX_PROCBASED_CTLS2, PROC2_EPT | PROC2_VPID | PROC2_UNRESTRICTED | PROC2_WBINVD,
                PROC2_EPT, &k->proc2))
        return false;
    k->ept_vpid = rdmsr(MSR_VMX_EPT_VPID_CAP);
    uint64_t ept_need = EPT_CAP_WALK4 | EPT_CAP_WB | EPT_CAP_INVEPT | EPT_CAP_INVEPT_SINGLE;
    k->why = "no 4-level write-back EPT with single-context INVEPT";
    if ((k->ept_vpid & ept_need) != ept_need)
        return false;
    k->vpid = (k->proc2 & PROC2_VPID) &&
              (k->ept_vpid & (VPID_CAP_INVVPID | VPID_CAP_SINGLE)) ==
              (VPID_CAP_INVVPID | VPID_CAP_SINGLE);
    if (!k->vpid)
        k->proc2 &= ~(uint32_t)PROC2_VPID;
    uint64_t misc = rdmsr(MSR_VMX_MISC);
    k->timer_rate = (unsigned)(misc & VMX_MISC_TIMER_RATE);
    uint32_t tp;
    if (adjust(truec ? MSR_VMX_TRUE_PINBASED_CTLS : MSR_VMX_PINBASED_CTLS, PIN_PREEMPT_TIMER,
               PIN_PREEMPT_TIMER, &tp))
        k->pin |= PIN_PREEMPT_TIMER;
    k->cr0_fixed0 = rdmsr(MSR_VMX_CR0_FIXED0);
    k->cr0_fixed1 = rdmsr(MSR_VMX_CR0_FIXED1);
    k->cr4_fixed0 = rdmsr(MSR_VMX_CR4_FIXED0);
    k->cr4_fixed1 = rdmsr(MSR_VMX_CR4_FIXED1);
    k->ok = true;
    k->why = NULL;
    printk("tessera: VMX revision %u, EPT 4-level write-back%s%s, %s, preemption timer %s "
           "(2^%u TSC cycles), %s\n", k->revision,
           k->ept_vpid & EPT_CAP_2M ? ", 2M" : "", k->ept_vpid & EPT_CAP_1G ? ", 1G" : "",
           k->vpid ? "VPID" : "no VPID", k->pin & PIN_PREEMPT_TIMER ? "on" : "off",
           k->timer_rate, k->proc2 & PROC2_UNRESTRICTED ? "unrestricted guest" : "no real mode");
    return true;
}

/* This core, at boot: enter VMX operation, start its first VPID generation. A core that cannot
 * (IA32_FEATURE_CONTROL locked without VMX, CR0 or CR4 outside the fixed bits, VMXON failed)
 * is a machine this kernel does not run on: it panics (the cores are alike, the boot core
 * probed them). */
static void vmx_init_cpu(void)
{
    struct vmx_core *c = &cores[cpu_id()];
    c->next_vpid = 1;
    c->gen = 1;
    uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK))
        wrmsr(MSR_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE);
    else if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE))
        panic("vmx: IA32_FEATURE_CONTROL %lx is locked with VMX off", fc);
    uint64_t cr0 = read_cr0(), cr4 = read_cr4() | CR4_VMXE;
    if ((cr0 & vmx_caps.cr0_fixed0) != vmx_caps.cr0_fixed0 || (cr0 & ~vmx_caps.cr0_fixed1) ||
        (cr4 & vmx_caps.cr4_fixed0) != vmx_caps.cr4_fixed0 || (cr4 & ~vmx_caps.cr4_fixed1))
        panic("vmx: CR0 %lx or CR4 %lx outside VMX's fixed bits", cr0, cr4);
    paddr_t pa = kmem_alloc_zeroed();
    *(uint32_t *)phys_to_virt(pa) = vmx_caps.revision;
    write_cr4(cr4);
    bool fail;
    __asm__ __volatile__("vmxon %1" : "=@ccbe"(fail) : "m"(pa) : "memory");
    if (fail)
        panic("vmx: VMXON failed on core %u", cpu_id());
    c->vmxon = pa;
}


/* Make h's VMCS current and active on this core, interrupts off; what vmcs_put takes. */
static mword vmcs_get(const struct vcpu_hw *h)
{
    mword fl = irq_save();
    if (!vmptrld(h->ctl))
        panic("vmx: VMPTRLD of %lx failed", h->ctl);
    return fl;
}

/* Write h's VMCS back to memory, inactive and not launched (any core may load it next), and
 * restore the interrupt flag fl of vmcs_get. */
static void vmcs_put(const struct vcpu_hw *h, mword fl)
{
    vmclear(h->ctl);
    irq_restore(fl);
}

/* vmwrite that cannot fail for the kernel's own fields (a failure is a kernel bug). */
static void vmw(uint64_t f, uint64_t v)
{
    if (!vmwrite(f, v))
        panic("vmx: VMWRITE of field %lx failed (error %lu)", f, vmread(VMCS_INSN_ERROR));
}

/* vcpu_hw.gpr[VCPU_RSP]: rsp is a VMCS field, so the slot holds the guest's CR2 (which has
 * none); vmx_enter neither loads nor stores it. */
#define GPR_CR2 VCPU_RSP

/* Segment attributes of the ABI (VMCB layout, P clear: unusable) as VMX access rights. */
static uint32_t ar_of(uint16_t attr)
{
    uint32_t ar = (attr & 0xFFu) | ((uint32_t)(attr & 0xF00u) << 4);
    return (attr & VMX_AR_P) ? ar : ar | VMX_AR_UNUSABLE;
}

/* VMX access rights as the ABI's segment attributes. */
static uint16_t attr_of(uint32_t ar)
{
    uint16_t attr = (uint16_t)((ar & 0xFFu) | ((ar >> 4) & 0xF00u));
    return (ar & VMX_AR_UNUSABLE) ? (uint16_t)(attr & ~VMX_AR_P) : attr;
}

/* Segment i (ES, CS, SS, DS, FS, GS, LDTR, TR) into the current VMCS. */
static void seg_put(unsigned i, const struct vcpu_seg *s)
{
    vmw(VMCS_GUEST_ES_SEL + i * VMCS_SEG_STRIDE, s->sel);
    vmw(VMCS_GUEST_ES_LIMIT + i * VMCS_SEG_STRIDE, s->limit);
    vmw(VMCS_GUEST_ES_AR + i * VMCS_SEG_STRIDE, ar_of(s->attr));
    vmw(VMCS_GUEST_ES_BASE + i * VMCS_SEG_STRIDE, s->base);
}

/* Segment i of the current VMCS. */
static struct vcpu_seg seg_get(unsigned i)
{
    return (struct vcpu_seg){
        .sel = (uint16_t)vmread(VMCS_GUEST_ES_SEL + i * VMCS_SEG_STRIDE),
        .attr = attr_of((uint32_t)vmread(VMCS_GUEST_ES_AR + i * VMCS_SEG_STRIDE)),
        .limit = (uint32_t)vmread(VMCS_GUEST_ES_LIMIT + i * VMCS_SEG_STRIDE),
        .base = vmread(VMCS_GUEST_ES_BASE + i * VMCS_SEG_STRIDE),
    };
}

/* CR0 bits the kernel owns: those VMX operation needs set (PE and PG are the guest's with
 * unrestricted guest). */
static uint64_t cr0_forced(void)
{
    uint64_t f = vmx_caps.cr0_fixed0;
    if (vmx_caps.proc2 & PROC2_UNRESTRICTED)
        f &= ~(CR0_PE | CR0_PG);
    return f;
}

/* The guest registers of h's vCPU (not running; its VMCS current or made so). */
static void vmx_get(const struct vcpu_hw *h, struct vcpu_regs *r)
{
    mword fl = vmcs_get(h);
    memset(r, 0, sizeof(*r));
    for (unsigned i = 0; i < VCPU_GPRS; i++)
        r->gpr[i] = h->gpr[i];
    r->gpr[VCPU_RSP] = vmread(VMCS_GUEST_RSP);
    r->cr2 = h->gpr[GPR_CR2];
    r->rip = vmread(VMCS_GUEST_RIP);
    r->rflags = vmread(VMCS_GUEST_RFLAGS);
    uint64_t m0 = cr0_forced(), m4 = vmx_caps.cr4_fixed0;
    r->cr0 = (vmread(VMCS_GUEST_CR0) & ~m0) | (vmread(VMCS_CR0_SHADOW) & m0);
    r->cr3 = vmread(VMCS_GUEST_CR3);
    r->cr4 = (vmread(VMCS_GUEST_CR4) & ~m4) | (vmread(VMCS_CR4_SHADOW) & m4);
    r->efer = vmread(VMCS_GUEST_EFER);
    r->pat = vmread(VMCS_GUEST_PAT);
    struct vcpu_seg *seg[8] = { &r->es, &r->cs, &r->ss, &r->ds, &r->fs, &r->gs, &r->ldtr, &r->tr };
    for (unsigned i = 0; i < 8; i++)
        *seg[i] = seg_get(i);
    r->gdtr = (struct vcpu_seg){ .limit = (uint32_t)vmread(VMCS_GUEST_GDTR_LIMIT),
                                 .base = vmread(VMCS_GUEST_GDTR_BASE) };
    r->idtr = (struct vcpu_seg){ .limit = (uint32_t)vmread(VMCS_GUEST_IDTR_LIMIT),
                                 .base = vmread(VMCS_GUEST_IDTR_BASE) };
    r->star = h->msr[VMX_MSR_STAR];
    r->lstar = h->msr[VMX_MSR_LSTAR];
    r->cstar = h->msr[VMX_MSR_CSTAR];
    r->sfmask = h->msr[VMX_MSR_SFMASK];
    r->kernel_gs_base = h->msr[VMX_MSR_KGS];
    r->sysenter_cs = vmread(VMCS_GUEST_SYSENTER_CS);
    r->sysenter_esp = vmread(VMCS_GUEST_SYSENTER_ESP);
    r->sysenter_eip = vmread(VMCS_GUEST_SYSENTER_EIP);
    vmcs_put(h, fl);
}

/* Give the vCPU of h's current VMCS (not running) the guest registers *r: what the VMCS has a
 * field for goes there, checked by the hardware at the next entry (VM_EXIT_INVALID); the CR0
 * and CR4 bits VMX needs set are the kernel's (the guest reads its own through the shadows). */
static void regs_put(struct vcpu_hw *h, const struct vcpu_regs *r)
{
    for (unsigned i = 0; i < VCPU_GPRS; i++)
        h->gpr[i] = r->gpr[i];
    h->gpr[GPR_CR2] = r->cr2;
    vmw(VMCS_GUEST_RSP, r->gpr[VCPU_RSP]);
    vmw(VMCS_GUEST_RIP, r->rip);
    vmw(VMCS_GUEST_RFLAGS, r->rflags);
    uint64_t m0 = cr0_forced(), m4 = vmx_caps.cr4_fixed0;
    vmw(VMCS_CR0_MASK, m0);
    vmw(VMCS_CR0_SHADOW, r->cr0);
    vmw(VMCS_GUEST_CR0, r->cr0 | m0);
    vmw(VMCS_GUEST_CR3, r->cr3);
    vmw(VMCS_CR4_MASK, m4);
    vmw(VMCS_CR4_SHADOW, r->cr4);
    vmw(VMCS_GUEST_CR4, r->cr4 | m4);
    vmw(VMCS_GUEST_EFER, r->efer);
    vmw(VMCS_GUEST_PAT, r->pat);
    const struct vcpu_seg *seg[8] = { &r->es, &r->cs, &r->ss, &r->ds, &r->fs, &r->gs, &r->ldtr,
                                      &r->tr };
    for (unsigned i = 0; i < 8; i++)
        seg_put(i, seg[i]);
    vmw(VMCS_GUEST_GDTR_LIMIT, r->gdtr.limit);
    vmw(VMCS_GUEST_GDTR_BASE, r->gdtr.base);
    vmw(VMCS_GUEST_IDTR_LIMIT, r->idtr.limit);
    vmw(VMCS_GUEST_IDTR_BASE, r->idtr.base);
    h->msr[VMX_MSR_STAR] = r->star;
    h->msr[VMX_MSR_LSTAR] = r->lstar;
    h->msr[VMX_MSR_CSTAR] = r->cstar;
    h->msr[VMX_MSR_SFMASK] = r->sfmask;
    h->msr[VMX_MSR_KGS] = r->kernel_gs_base;
    vmw(VMCS_GUEST_SYSENTER_CS, r->sysenter_cs);
    vmw(VMCS_GUEST_SYSENTER_ESP, r->sysenter_esp);
    vmw(VMCS_GUEST_SYSENTER_EIP, r->sysenter_eip);
}

/* Give h's vCPU (not running) the guest registers *r (regs_put). */
static void vmx_set(struct vcpu_hw *h, const struct vcpu_regs *r)
{
    mword fl = vmcs_get(h);
    regs_put(h, r);
    vmcs_put(h, fl);
}

/* Give h's vCPU (not running) the guest rip. */
static void vmx_set_rip(struct vcpu_hw *h, uint64_t rip)
{
    mword fl = vmcs_get(h);
    vmw(VMCS_GUEST_RIP, rip);
    vmcs_put(h, fl);
}

/* The guest rax of h's vCPU (not running). */
static uint64_t vmx_rax(const struct vcpu_hw *h)
{
    return h->gpr[VCPU_RAX];
}

/* Give h's vCPU (not running) the guest rax. */
static void vmx_set_rax(struct vcpu_hw *h, uint64_t rax)
{
    h->gpr[VCPU_RAX] = rax;
}

/* The x86 reset state (docs/abi.md, create_vcpu): real mode at 0xFFFF0, caches off. */
static void reset_regs(struct vcpu_regs *r)
{
    const struct vcpu_seg data = { .sel = 0, .attr = VMX_RESET_ATTR_DATA, .limit = 0xFFFF };
    memset(r, 0, sizeof(*r));
    r->gpr[VCPU_RDX] = VMX_RESET_RDX;
    r->rip = VMX_RESET_RIP;
    r->rflags = VMX_RFLAGS_FIXED;
    r->cr0 = VMX_RESET_CR0;
    r->pat = VMX_PAT_INIT;
    r->es = r->ss = r->ds = r->fs = r->gs = data;
    r->cs = (struct vcpu_seg){ .sel = VMX_RESET_CS, .attr = VMX_RESET_ATTR_CODE, .limit = 0xFFFF,
                               .base = VMX_RESET_CS_BASE };
    r->ldtr = (struct vcpu_seg){ .attr = VMX_RESET_ATTR_LDT, .limit = 0xFFFF };
    r->tr = (struct vcpu_seg){ .attr = VMX_RESET_ATTR_TSS, .limit = 0xFFFF };
    r->gdtr.limit = r->idtr.limit = 0xFFFF;
}

/* Put h (control page ctl, zeroed: its VMCS) in the reset state: the controls and host fields
 * that never change, the guest in the x86 reset state (any core: the VMCS is cleared again). */
static void vmx_init(struct vcpu_hw *h, paddr_t ctl)
{
    const struct vmx_caps *k = &vmx_caps;
    ASSERT(kmem_in_pool(ctl, PAGE_SIZE));
    h->ctl = ctl;
    h->launched = false;
    *(uint32_t *)phys_to_virt(ctl) = k->revision;
    vmclear(ctl);                       /* launch state clear, data in the region */
    mword fl = vmcs_get(h);
    vmw(VMCS_PIN_CTLS, k->pin);
    vmw(VMCS_PROC_CTLS, k->proc);
    vmw(VMCS_PROC_CTLS2, k->proc2);
    vmw(VMCS_EXIT_CTLS, k->exit);
    vmw(VMCS_ENTRY_CTLS, k->entry);
    vmw(VMCS_EXC_BITMAP, 0);
    vmw(VMCS_CR3_TARGETS, 0);
    vmw(VMCS_EXIT_MSR_STORE, 0);
    vmw(VMCS_EXIT_MSR_LOAD, 0);
    vmw(VMCS_ENTRY_MSR_LOAD, 0);
    vmw(VMCS_ENTRY_INTR, 0);
    vmw(VMCS_LINK, VMX_LINK_NONE);
    vmw(VMCS_GUEST_DR7, VMX_DR7_INIT);
    vmw(VMCS_GUEST_DEBUGCTL, 0);
    vmw(VMCS_GUEST_INTERRUPTIBILITY, 0);
    vmw(VMCS_GUEST_ACTIVITY, 0);
    vmw(VMCS_GUEST_PENDING_DBG, 0);
    vmw(VMCS_HOST_CS_SEL, SEL_KCODE);
    vmw(VMCS_HOST_SS_SEL, SEL_KDATA);
    vmw(VMCS_HOST_DS_SEL, 0);
    vmw(VMCS_HOST_ES_SEL, 0);
    vmw(VMCS_HOST_FS_SEL, 0);
    vmw(VMCS_HOST_GS_SEL, 0);
    vmw(VMCS_HOST_TR_SEL, SEL_TSS);
    vmw(VMCS_HOST_SYSENTER_CS, 0);
    vmw(VMCS_HOST_SYSENTER_ESP, 0);
    vmw(VMCS_HOST_SYSENTER_EIP, 0);
    struct vcpu_regs r;
    reset_regs(&r);
    regs_put(h, &r);
    vmcs_put(h, fl);
}

/* A VPID of this core's current generation for h (a wrap starts a new generation: every
 * VPID's translations on the core dropped first). */
static uint32_t vpid_prepare(struct vmx_core *c, struct vcpu_hw *h)
{
    if (!vmx_caps.vpid)
        return 0;
    if (h->tag && h->tag_gen == c->gen)
        return h->tag;
    if (c->next_vpid > VPID_MAX) {
        struct { uint64_t vpid, addr; } desc = { 0, 0 };
        __asm__ __volatile__("invvpid %0, %1" :: "m"(desc), "r"((uint64_t)INVVPID_ALL)
                             : "cc", "memory");
        c->gen++;
        c->next_vpid = 1;
    }
    h->tag = c->next_vpid++;
    h->tag_gen = c->gen;
    return h->tag;
}

/* Forget on this core every translation derived from the Ept at root, for every VPID. */
void vmx_invept(paddr_t root)
{
    struct { uint64_t eptp, zero; } desc = { root | EPTP_WALK4 | EPTP_MT_WB, 0 };
    __asm__ __volatile__("invept %0, %1" :: "m"(desc), "r"((uint64_t)INVEPT_SINGLE)
                         : "cc", "memory");
}

/* The host state of this core (it differs between cores and, CR3, between PDs). */
static void host_state(void)
{
    struct cpu_local *c = this_cpu();
    vmw(VMCS_HOST_CR0, read_cr0());
    vmw(VMCS_HOST_CR3, read_cr3());
    vmw(VMCS_HOST_CR4, read_cr4());
    vmw(VMCS_HOST_FS_BASE, 0);
    vmw(VMCS_HOST_GS_BASE, 0);
    vmw(VMCS_HOST_TR_BASE, (vaddr_t)cpu_tss(c));
    vmw(VMCS_HOST_GDTR_BASE, (vaddr_t)c->gdt);
    vmw(VMCS_HOST_IDTR_BASE, c->idt);
    vmw(VMCS_HOST_EFER, rdmsr(MSR_EFER));
    vmw(VMCS_HOST_PAT, rdmsr(MSR_PAT));
}

/* The MSRs the guest has its own values of (no VMCS field), in vcpu_hw.msr order. */
static const uint32_t guest_msrs[VMX_MSRS] = {
    [VMX_MSR_STAR] = MSR_STAR, [VMX_MSR_LSTAR] = MSR_LSTAR, [VMX_MSR_CSTAR] = MSR_CSTAR,
    [VMX_MSR_SFMASK] = MSR_SFMASK, [VMX_MSR_KGS] = MSR_KERNEL_GS_BASE,
};

#define CANONICAL_BITS 48               /* 4-level paging (layout.h: HPT_LEVELS, no LA57) */
_Static_assert(HPT_LEVELS == 4, "canonical addresses have 48 bits");
#define SFMASK_RESERVED BITS(63, 32)    /* IA32_FMASK bits that must be 0 */

/* Whether v is a canonical address (bits 63:47 all equal). */
static bool canonical(uint64_t v)
{
    return (uint64_t)((int64_t)(v << (64 - CANONICAL_BITS)) >> (64 - CANONICAL_BITS)) == v;
}

/* Whether WRMSR takes h's guest MSRs (what the MSR-load checks of a VM entry would demand of
 * them, SDM Vol. 3, 26.4): LSTAR, CSTAR and the kernel GS base canonical, SFMASK's upper half
 * 0. */
static bool msrs_loadable(const struct vcpu_hw *h)
{
    return canonical(h->msr[VMX_MSR_LSTAR]) && canonical(h->msr[VMX_MSR_CSTAR]) &&
           canonical(h->msr[VMX_MSR_KGS]) && !(h->msr[VMX_MSR_SFMASK] & SFMASK_RESERVED);
}

/* What exit e of h's vCPU (its VMCS current, after the exit) means, into *x. */
static void exit_decode(const struct vcpu_hw *h, uint32_t reason, struct vm_exit *x)
{
    uint64_t qual = vmread(VMCS_EXIT_QUAL);
    uint8_t len = (uint8_t)vmread(VMCS_EXIT_INSN_LEN);
    *x = (struct vm_exit){ .rip = vmread(VMCS_GUEST_RIP) };
    if (reason & VMX_EXIT_REASON_ENTRY_FAIL) {
        x->reason = VM_EXIT_INVALID;
        x->qual = reason;
        return;
    }
    switch (reason & VMX_EXIT_REASON_BASIC) {
    case VMX_EXIT_EPT_VIOLATION:
        x->reason = VM_EXIT_NPF;
        x->addr = vmread(VMCS_GUEST_PHYS);
        x->qual = qual;
        x->access = (qual & VMX_EPT_FETCH) ? FAULT_X : (qual & VMX_EPT_WRITE) ? FAULT_W : FAULT_R;
        return;
    case VMX_EXIT_HLT:
        x->reason = VM_EXIT_HLT;
        x->len = len;
        return;
    case VMX_EXIT_IO:
        x->reason = VM_EXIT_IO;
        x->addr = qual >> VMX_IO_PORT_SHIFT;
        x->size = (uint8_t)((qual & VMX_IO_SIZE) + 1);
        x->access = (qual & VMX_IO_IN) ? VM_IO_IN : VM_IO_OUT;
        if (!(qual & VMX_IO_IN))
            x->qual = h->gpr[VCPU_RAX] & (~0UL >> (64 - 8 * x->size));
        x->len = len;
        return;
    case VMX_EXIT_CPUID:
        x->reason = VM_EXIT_CPUID;
        x->len = len;
        return;
    case VMX_EXIT_VMCALL:
        x->reason = VM_EXIT_VMCALL;
        x->len = len;
        return;
    case VMX_EXIT_EXC_NMI:
    case VMX_EXIT_EXT_INTR:
    case VMX_EXIT_PREEMPT_TIMER:
        x->reason = VM_EXIT_INTR;
        return;
    case VMX_EXIT_TRIPLE_FAULT:
        x->reason = VM_EXIT_SHUTDOWN;
        return;
    default:
        x->reason = VM_EXIT_OTHER;
        x->qual = reason;
        x->addr = qual;
        x->len = len;
        return;
    }
}

/* After h's exit with reason (its VMCS current): the event its guest was delivering when it
 * exited (IDT-vectoring information, SDM Vol. 3, 27.2.4 and 31.7.1.1), which its next entry
 * delivers: h->event holds the interruption information with bits 30:12 clear (bit 12 is
 * undefined, the entry refuses it) and the error code in bits 63:32, h->event_len the
 * instruction length a software interrupt or exception needs. A failed entry delivered
 * nothing: h's event stays. */
static void event_keep(struct vcpu_hw *h, uint32_t reason)
{
    if (reason & VMX_EXIT_REASON_ENTRY_FAIL)
        return;
    uint32_t info = (uint32_t)vmread(VMCS_IDT_VEC_INFO);
    h->event = 0;
    if (!(info & VMX_INTR_VALID))
        return;
    h->event = (info & VMX_INTR_ENTRY_BITS) | (vmread(VMCS_IDT_VEC_ERR) << 32);
    h->event_len = (uint32_t)vmread(VMCS_EXIT_INSN_LEN);
}

/* Run h's vCPU on this core (interrupts off) in the Ept at nroot until a VM exit, described in
 * *x; flush: the Ept lost translations since the vCPU's last entry. An event in flight at the
 * last exit is delivered first (event_keep). A state the hardware
 * refuses (SDM Vol. 3, 27.2 and 27.3) is VM_EXIT_INVALID with the VM-instruction error (VMfail)
 * or the exit reason (a VM-entry failure) in qual; guest MSRs WRMSR would refuse are the exit
 * reason of a failed MSR load (0x80000022), the guest not entered. An NMI that exits is the
 * host's: delivered here (it halts the core, trap.c). */
static void vmx_run(struct vcpu_hw *h, paddr_t nroot, bool flush, struct vm_exit *x)
{
    const struct vmx_caps *k = &vmx_caps;
    struct vmx_core *c = &cores[cpu_id()];
    if (!vmptrld(h->ctl))
        panic("vmx: VMPTRLD of %lx failed", h->ctl);
    if (!msrs_loadable(h)) {            /* a VM-entry failure in MSR loading, as the hardware's */
        *x = (struct vm_exit){ .reason = VM_EXIT_INVALID, .rip = vmread(VMCS_GUEST_RIP),
                               .qual = VMX_EXIT_REASON_ENTRY_FAIL | VMX_EXIT_BAD_MSR };
        vmclear(h->ctl);
        return;
    }
    uint32_t vpid = vpid_prepare(c, h);
    uint32_t proc2 = vpid ? k->proc2 : k->proc2 & ~(uint32_t)PROC2_VPID;
    vmw(VMCS_PROC_CTLS2, proc2);
    if (k->vpid)
        vmw(VMCS_VPID, vpid);           /* the field exists only where VPIDs do */
    vmw(VMCS_EPTP, nroot | EPTP_WALK4 | EPTP_MT_WB);
    if (flush || !h->launched)
        vmx_invept(nroot);              /* a first entry: the root may be a reused frame */
    h->launched = true;
    bool lma = vmread(VMCS_GUEST_EFER) & EFER_LMA;
    vmw(VMCS_ENTRY_CTLS, lma ? k->entry : k->entry & ~(uint32_t)ENTRY_IA32E);
    vmw(VMCS_ENTRY_INTR, (uint32_t)h->event);
    if (h->event & VMX_INTR_VALID) {
        vmw(VMCS_ENTRY_ERR, h->event >> 32);
        vmw(VMCS_ENTRY_INSN_LEN, h->event_len);
    }
    uint64_t ticks = VMX_TIMER_BUDGET >> k->timer_rate;
    if (k->pin & PIN_PREEMPT_TIMER)
        vmw(VMCS_PREEMPT_TIMER, ticks);
    host_state();
    uint64_t host_msr[VMX_MSRS];
    for (unsigned i = 0; i < VMX_MSRS; i++) {
        host_msr[i] = rdmsr(guest_msrs[i]);
        wrmsr(guest_msrs[i], h->msr[i]);
    }
    uint16_t ds, es, fs, gs;
    __asm__ __volatile__("mov %%ds, %0; mov %%es, %1; mov %%fs, %2; mov %%gs, %3"
                         : "=r"(ds), "=r"(es), "=r"(fs), "=r"(gs));
    write_cr2(h->gpr[GPR_CR2]);
    int failed = vmx_enter(h->gpr);
    h->gpr[GPR_CR2] = read_cr2();
    __asm__ __volatile__("mov %0, %%ds; mov %1, %%es; mov %2, %%fs; mov %3, %%gs"
                         :: "r"(ds), "r"(es), "r"(fs), "r"(gs) : "memory");
    cpu_tables_reload();
    for (unsigned i = 0; i < VMX_MSRS; i++) {
        if (i == VMX_MSR_KGS)
            h->msr[i] = rdmsr(guest_msrs[i]);   /* swapgs changes it without an exit */
        wrmsr(guest_msrs[i], host_msr[i]);
    }
    if (failed) {
        *x = (struct vm_exit){ .reason = VM_EXIT_INVALID, .rip = vmread(VMCS_GUEST_RIP),
                               .qual = vmread(VMCS_INSN_ERROR) };
        vmclear(h->ctl);
        return;
    }
    uint32_t reason = (uint32_t)vmread(VMCS_EXIT_REASON);
    exit_decode(h, reason, x);
    event_keep(h, reason);
    uint32_t intr = (uint32_t)vmread(VMCS_EXIT_INTR);
    vmclear(h->ctl);
    if ((reason & VMX_EXIT_REASON_BASIC) == VMX_EXIT_EXC_NMI && (intr & VMX_INTR_VALID) &&
        ((intr & VMX_INTR_TYPE_MASK) >> VMX_INTR_TYPE_SHIFT) == VMX_INTR_TYPE_NMI)
        __asm__ __volatile__("int $2" ::: "memory");
}

/* Nothing holds h's VMCS once it is back in memory (every hook ends with VMCLEAR). */
static void vmx_fini(struct vcpu_hw *h)
{
    (void)h;
}

const struct virt_ops vmx_ops = {
    .kind = VIRT_VMX, .name = "VMX", .probe = vmx_probe, .init_cpu = vmx_init_cpu,
    .fmt = &ptab_ept, .levels = 4, .caps = 0,
    .init = vmx_init, .get = vmx_get, .set = vmx_set, .set_rip = vmx_set_rip,
    .rax = vmx_rax, .set_rax = vmx_set_rax, .run = vmx_run, .fini = vmx_fini,
};
