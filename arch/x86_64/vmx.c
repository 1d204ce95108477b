/*
 * Intel VMX with EPT (the model: arch/x86_64/include/vmx.h): detection from CPUID and the
 * capability MSRs, VMXON per core, a VMCS per vCPU, the run of a vCPU up to its next exit, and
 * INVEPT. The controls every VMCS gets: external interrupts and NMIs exit (a guest cannot keep
 * its core; NMIs are the host's), HLT, every I/O instruction, MOV DR, MWAIT/MONITOR, RDPMC exit;
 * RDMSR/WRMSR, CPUID, XSETBV, VMCALL and the VMX instructions exit unconditionally; EPT on, VPID
 * where the CPU has INVVPID; the guest runs in IA-32e mode when its EFER.LMA is set.
 */
#include "vmx.h"
#include "arch.h"
#include "cpu.h"
#include "kmalloc.h"
#include "kstring.h"
#include "printk.h"
#include "spinlock.h"

struct vmx_caps vmx_caps;
static paddr_t vmxon_region[NUM_CPU];   /* each core's VMXON region; 0 until vmx_core_on */

#define VPIDS 4096                      /* VPIDs handed out (1..VPIDS-1); beyond: none */
static uint64_t vpid_used[VPIDS / 64];
static struct spinlock vpid_lock;

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

/* Read what this CPU's VMX offers into vmx_caps (the first call, on the boot core; later calls
 * return at once); prints one line when VMX is usable. */
void vmx_detect(void)
{
    struct vmx_caps *k = &vmx_caps;
    if (k->ok || k->why)
        return;
    uint32_t r[4];
    cpuid(1, 0, r);
    if (!(r[2] & CPUID_1_ECX_VMX)) {
        k->why = "no VMX in CPUID";
        return;
    }
    uint64_t basic = rdmsr(MSR_VMX_BASIC);
    bool truec = basic & VMX_BASIC_TRUE_CTLS;
    k->revision = (uint32_t)(basic & VMX_BASIC_REVISION);
    uint32_t pin = PIN_EXT_INTR | PIN_NMI, proc_need = PROC_HLT | PROC_IO_ALL | PROC_SECONDARY;
    uint32_t proc = proc_need | PROC_MOV_DR | PROC_MWAIT | PROC_MONITOR | PROC_RDPMC;
    uint32_t exit = EXIT_HOST_64 | EXIT_LOAD_EFER | EXIT_SAVE_EFER;
    uint32_t entry = ENTRY_IA32E | ENTRY_LOAD_EFER;
    k->why = "VMCS larger than a page or not write-back";
    if (((basic & VMX_BASIC_SIZE_MASK) >> VMX_BASIC_SIZE_SHIFT) > PAGE_SIZE ||
        ((basic & VMX_BASIC_MT_MASK) >> VMX_BASIC_MT_SHIFT) != VMX_MT_WB)
        return;
    k->why = "a needed VM-execution, exit or entry control";
    if (!adjust(truec ? MSR_VMX_TRUE_PINBASED_CTLS : MSR_VMX_PINBASED_CTLS, pin, pin, &k->pin) ||
        !adjust(truec ? MSR_VMX_TRUE_PROCBASED_CTLS : MSR_VMX_PROCBASED_CTLS, proc, proc_need,
                &k->proc) ||
        !adjust(truec ? MSR_VMX_TRUE_EXIT_CTLS : MSR_VMX_EXIT_CTLS, exit, exit, &k->exit) ||
        !adjust(truec ? MSR_VMX_TRUE_ENTRY_CTLS : MSR_VMX_ENTRY_CTLS, entry, entry, &k->entry))
        return;
    k->why = "no EPT";
    if (!adjust(MSR_VMX_PROCBASED_CTLS2, PROC2_EPT | PROC2_VPID, PROC2_EPT, &k->proc2))
        return;
    k->ept_vpid = rdmsr(MSR_VMX_EPT_VPID_CAP);
    uint64_t ept_need = EPT_CAP_WALK4 | EPT_CAP_WB | EPT_CAP_INVEPT | EPT_CAP_INVEPT_SINGLE;
    k->why = "no 4-level write-back EPT with single-context INVEPT";
    if ((k->ept_vpid & ept_need) != ept_need)
        return;
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
           "(2^%u TSC cycles), HLT state %s\n", k->revision,
           k->ept_vpid & EPT_CAP_2M ? ", 2M" : "", k->ept_vpid & EPT_CAP_1G ? ", 1G" : "",
           k->vpid ? "VPID" : "no VPID", k->pin & PIN_PREEMPT_TIMER ? "on" : "off",
           k->timer_rate, misc & VMX_MISC_HLT ? "yes" : "no");
}

/* Enter VMX operation on this core if it is not in it yet (interrupts off); false if it cannot
 * (no usable VMX, IA32_FEATURE_CONTROL locked without VMX, CR0 outside the fixed bits, no
 * memory, VMXON failed). */
bool vmx_core_on(void)
{
    unsigned c = cpu_id();
    if (vmxon_region[c])
        return true;
    if (!vmx_caps.ok)
        return false;
    uint64_t fc = rdmsr(MSR_FEATURE_CONTROL);
    if (!(fc & FEATURE_CONTROL_LOCK))
        wrmsr(MSR_FEATURE_CONTROL, fc | FEATURE_CONTROL_LOCK | FEATURE_CONTROL_VMX_OUTSIDE);
    else if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE))
        return false;
    uint64_t cr0 = read_cr0(), cr4 = read_cr4() | CR4_VMXE;
    if ((cr0 & vmx_caps.cr0_fixed0) != vmx_caps.cr0_fixed0 || (cr0 & ~vmx_caps.cr0_fixed1) ||
        (cr4 & vmx_caps.cr4_fixed0) != vmx_caps.cr4_fixed0 || (cr4 & ~vmx_caps.cr4_fixed1))
        return false;
    paddr_t pa = kframe_alloc();
    if (!pa)
        return false;
    *(uint32_t *)phys_to_virt(pa) = vmx_caps.revision;
    write_cr4(cr4);
    bool fail;
    __asm__ __volatile__("vmxon %1" : "=@ccbe"(fail) : "m"(pa) : "memory");
    if (fail) {
        write_cr4(cr4 & ~CR4_VMXE);
        kframe_free(pa);
        return false;
    }
    vmxon_region[c] = pa;
    return true;
}

/* A free VPID (1..VPIDS-1), or 0 when all are taken (the vCPU then runs without one). */
static uint16_t vpid_alloc(void)
{
    uint16_t got = 0;
    mword fl = irq_save();
    spin_lock(&vpid_lock);
    for (unsigned i = 1; i < VPIDS && !got; i++)
        if (!(vpid_used[i / 64] & BIT(i % 64))) {
            vpid_used[i / 64] |= BIT(i % 64);
            got = (uint16_t)i;
        }
    spin_unlock(&vpid_lock);
    irq_restore(fl);
    return got;
}

/* Give VPID id back (0: none). Its translations are tagged with the EPTPs they came through,
 * which are flushed when an Ept's root is given back (vmx_invept on its cores). */
static void vpid_free(uint16_t id)
{
    if (!id)
        return;
    mword fl = irq_save();
    spin_lock(&vpid_lock);
    vpid_used[id / 64] &= ~BIT(id % 64);
    spin_unlock(&vpid_lock);
    irq_restore(fl);
}

/* Give v a VMCS and a VPID for a guest of the Ept at ept_root; E_NOSYS without usable VMX,
 * E_NOMEM without a frame (nothing held then). */
int vmx_vcpu_init(struct vmx_vcpu *v, paddr_t ept_root)
{
    if (!vmx_caps.ok)
        return E_NOSYS;
    paddr_t pa = kframe_alloc();
    if (!pa)
        return E_NOMEM;
    *(uint32_t *)phys_to_virt(pa) = vmx_caps.revision;
    *v = (struct vmx_vcpu){ .vmcs = pa, .vpid = vmx_caps.vpid ? vpid_alloc() : 0,
                            .ept_root = ept_root };
    return E_OK;
}

/* Give back v's VMCS and VPID (no VMCS is active outside vmx_run). */
void vmx_vcpu_fini(struct vmx_vcpu *v)
{
    if (v->vmcs)
        kframe_free(v->vmcs);
    vpid_free(v->vpid);
    *v = (struct vmx_vcpu){ 0 };
}

/* The state of a 64-bit guest at rip with stack rsp and page tables at cr3 (guest-physical):
 * paging, protection, WP and NE on, PAE, long mode active, interrupts off. */
void vmx_state_init(struct vmx_state *s, uint64_t rip, uint64_t rsp, uint64_t cr3)
{
    *s = (struct vmx_state){
        .rip = rip, .rsp = rsp, .rflags = VMX_RFLAGS_FIXED, .cr3 = cr3,
        .cr0 = CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE, .cr4 = CR4_PAE,
        .efer = EFER_LME | EFER_LMA | EFER_NXE,
    };
}

/* The EPT pointer of the Ept at root: write-back walks of 4 levels. */
uint64_t vmx_eptp(paddr_t root)
{
    return root | EPTP_WALK4 | EPTP_MT_WB;
}

/* Forget on this core every translation derived from the Ept at root (any VPID); nothing on
 * a core that is not in VMX operation (it has none). */
void vmx_invept(paddr_t root)
{
    if (!vmxon_region[cpu_id()])
        return;
    struct { uint64_t eptp, zero; } desc = { vmx_eptp(root), 0 };
    __asm__ __volatile__("invept %0, %1" :: "m"(desc), "r"((uint64_t)INVEPT_SINGLE)
                         : "cc", "memory");
}

/* The fields that stay from run to run: controls, the guest's segments and the fixed parts of
 * its state, the host's selectors; false on a VMfail. */
static bool vmcs_setup(const struct vmx_vcpu *v)
{
    const struct vmx_caps *k = &vmx_caps;
    uint32_t proc2 = v->vpid ? k->proc2 : k->proc2 & ~(uint32_t)PROC2_VPID;
    bool ok = vmwrite(VMCS_PIN_CTLS, k->pin & ~(uint32_t)PIN_PREEMPT_TIMER) &&
              vmwrite(VMCS_PROC_CTLS, k->proc) && vmwrite(VMCS_PROC_CTLS2, proc2) &&
              vmwrite(VMCS_EXIT_CTLS, k->exit) && vmwrite(VMCS_EXC_BITMAP, 0) &&
              vmwrite(VMCS_CR3_TARGETS, 0) && vmwrite(VMCS_EXIT_MSR_STORE, 0) &&
              vmwrite(VMCS_EXIT_MSR_LOAD, 0) && vmwrite(VMCS_ENTRY_MSR_LOAD, 0) &&
              vmwrite(VMCS_ENTRY_INTR, 0) && vmwrite(VMCS_EPTP, vmx_eptp(v->ept_root)) &&
              vmwrite(VMCS_LINK, VMX_LINK_NONE) && vmwrite(VMCS_VPID, v->vpid) &&
              vmwrite(VMCS_CR0_MASK, 0) && vmwrite(VMCS_CR0_SHADOW, 0) &&
              vmwrite(VMCS_CR4_MASK, CR4_VMXE) && vmwrite(VMCS_CR4_SHADOW, 0);
    /* Flat segments: CS 64-bit code, the others data; no LDT; a busy TSS. */
    for (unsigned i = 0; i < 6; i++) {
        bool cs = i == 1;
        ok = ok && vmwrite(VMCS_GUEST_ES_SEL + i * VMCS_SEG_STRIDE, cs ? SEL_KCODE : SEL_KDATA) &&
             vmwrite(VMCS_GUEST_ES_LIMIT + i * VMCS_SEG_STRIDE, 0xFFFFFFFF) &&
             vmwrite(VMCS_GUEST_ES_AR + i * VMCS_SEG_STRIDE, cs ? VMX_AR_CODE64 : VMX_AR_DATA) &&
             vmwrite(VMCS_GUEST_ES_BASE + i * VMCS_SEG_STRIDE, 0);
    }
    unsigned ldtr = 6, tr = 7;
    ok = ok && vmwrite(VMCS_GUEST_ES_SEL + ldtr * VMCS_SEG_STRIDE, 0) &&
         vmwrite(VMCS_GUEST_ES_LIMIT + ldtr * VMCS_SEG_STRIDE, 0) &&
         vmwrite(VMCS_GUEST_ES_AR + ldtr * VMCS_SEG_STRIDE, VMX_AR_UNUSABLE) &&
         vmwrite(VMCS_GUEST_ES_BASE + ldtr * VMCS_SEG_STRIDE, 0) &&
         vmwrite(VMCS_GUEST_ES_SEL + tr * VMCS_SEG_STRIDE, 0) &&
         vmwrite(VMCS_GUEST_ES_LIMIT + tr * VMCS_SEG_STRIDE, VMX_GUEST_TR_LIMIT) &&
         vmwrite(VMCS_GUEST_ES_AR + tr * VMCS_SEG_STRIDE, VMX_AR_TSS64_BUSY) &&
         vmwrite(VMCS_GUEST_ES_BASE + tr * VMCS_SEG_STRIDE, 0) &&
         vmwrite(VMCS_GUEST_GDTR_BASE, 0) && vmwrite(VMCS_GUEST_GDTR_LIMIT, 0) &&
         vmwrite(VMCS_GUEST_IDTR_BASE, 0) && vmwrite(VMCS_GUEST_IDTR_LIMIT, 0) &&
         vmwrite(VMCS_GUEST_DR7, VMX_DR7_INIT) && vmwrite(VMCS_GUEST_DEBUGCTL, 0) &&
         vmwrite(VMCS_GUEST_PAT, VMX_PAT_INIT) && vmwrite(VMCS_GUEST_INTERRUPTIBILITY, 0) &&
         vmwrite(VMCS_GUEST_ACTIVITY, 0) && vmwrite(VMCS_GUEST_PENDING_DBG, 0) &&
         vmwrite(VMCS_GUEST_SYSENTER_CS, 0) && vmwrite(VMCS_GUEST_SYSENTER_ESP, 0) &&
         vmwrite(VMCS_GUEST_SYSENTER_EIP, 0);
    /* The host's selectors: ring 0, GDT; the data selectors the kernel had are put back by
     * vmx_run. */
    ok = ok && vmwrite(VMCS_HOST_CS_SEL, SEL_KCODE) && vmwrite(VMCS_HOST_SS_SEL, SEL_KDATA) &&
         vmwrite(VMCS_HOST_DS_SEL, 0) && vmwrite(VMCS_HOST_ES_SEL, 0) &&
         vmwrite(VMCS_HOST_FS_SEL, 0) && vmwrite(VMCS_HOST_GS_SEL, 0) &&
         vmwrite(VMCS_HOST_TR_SEL, SEL_TSS) && vmwrite(VMCS_HOST_SYSENTER_CS, 0) &&
         vmwrite(VMCS_HOST_SYSENTER_ESP, 0) && vmwrite(VMCS_HOST_SYSENTER_EIP, 0);
    return ok;
}

/* The state that changes from run to run: this core's host state and s's guest registers,
 * the preemption timer (timer TSC cycles, 0: off); false on a VMfail. */
static bool vmcs_load(const struct vmx_state *s, uint64_t timer)
{
    const struct vmx_caps *k = &vmx_caps;
    struct cpu_local *c = this_cpu();
    bool lma = s->efer & EFER_LMA;
    uint32_t entry = lma ? k->entry : k->entry & ~(uint32_t)ENTRY_IA32E;
    uint32_t pin = k->pin & ~(uint32_t)PIN_PREEMPT_TIMER;
    if (timer && (k->pin & PIN_PREEMPT_TIMER))
        pin |= PIN_PREEMPT_TIMER;
    uint64_t ticks = timer >> k->timer_rate;
    return vmwrite(VMCS_HOST_CR0, read_cr0()) && vmwrite(VMCS_HOST_CR3, read_cr3()) &&
           vmwrite(VMCS_HOST_CR4, read_cr4()) && vmwrite(VMCS_HOST_FS_BASE, 0) &&
           vmwrite(VMCS_HOST_GS_BASE, 0) && vmwrite(VMCS_HOST_TR_BASE, (vaddr_t)&c->tss) &&
           vmwrite(VMCS_HOST_GDTR_BASE, (vaddr_t)c->gdt) &&
           vmwrite(VMCS_HOST_IDTR_BASE, c->idt) &&
           vmwrite(VMCS_HOST_EFER, rdmsr(MSR_EFER)) &&
           vmwrite(VMCS_ENTRY_CTLS, entry) && vmwrite(VMCS_PIN_CTLS, pin) &&
           vmwrite(VMCS_PREEMPT_TIMER, ticks > UINT32_MAX ? UINT32_MAX : ticks ? ticks : 1) &&
           vmwrite(VMCS_GUEST_RIP, s->rip) && vmwrite(VMCS_GUEST_RSP, s->rsp) &&
           vmwrite(VMCS_GUEST_RFLAGS, s->rflags | VMX_RFLAGS_FIXED) &&
           vmwrite(VMCS_GUEST_CR0, s->cr0) && vmwrite(VMCS_CR0_SHADOW, s->cr0) &&
           vmwrite(VMCS_GUEST_CR3, s->cr3) && vmwrite(VMCS_GUEST_CR4, s->cr4 | CR4_VMXE) &&
           vmwrite(VMCS_CR4_SHADOW, s->cr4) && vmwrite(VMCS_GUEST_EFER, s->efer);
}

/* Run the guest of v in state s on this core (interrupts off) until its next VM exit, for at
 * most timer TSC cycles when the CPU has a preemption timer (0: no limit); the exit into e and
 * the guest's state back into s. E_NOSYS if this core cannot enter VMX operation; a VM entry
 * that fails (a state the VMM set that the checks of SDM Vol. 3, 27.3 refuse) is not an error
 * but an exit with VMX_EXIT_REASON_ENTRY_FAIL (insn_error says why for VMLAUNCH's own checks).
 * An NMI that exits is the host's: it is delivered here (it halts the core: trap.c). */
int vmx_run(struct vmx_vcpu *v, struct vmx_state *s, struct vmx_exit *e, uint64_t timer)
{
    if (!vmx_core_on())
        return E_NOSYS;
    if (!vmptrld(v->vmcs))
        return E_NOSYS;
    *e = (struct vmx_exit){ 0 };
    if (!vmcs_setup(v) || !vmcs_load(s, timer)) {
        e->reason = VMX_EXIT_REASON_ENTRY_FAIL;
        e->insn_error = (uint32_t)vmread(VMCS_INSN_ERROR);
        vmclear(v->vmcs);
        return E_OK;
    }
    uint16_t ds, es, fs, gs;
    __asm__ __volatile__("mov %%ds, %0; mov %%es, %1; mov %%fs, %2; mov %%gs, %3"
                         : "=r"(ds), "=r"(es), "=r"(fs), "=r"(gs));
    wrmsr(MSR_KERNEL_GS_BASE, s->kernel_gs_base);
    int failed = vmx_enter(&s->g);
    s->kernel_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
    __asm__ __volatile__("mov %0, %%ds; mov %1, %%es; mov %2, %%fs; mov %3, %%gs"
                         :: "r"(ds), "r"(es), "r"(fs), "r"(gs) : "memory");
    cpu_tables_reload();
    if (failed) {
        e->reason = VMX_EXIT_REASON_ENTRY_FAIL;
        e->insn_error = (uint32_t)vmread(VMCS_INSN_ERROR);
    } else {
        e->reason = (uint32_t)vmread(VMCS_EXIT_REASON);
        e->qual = vmread(VMCS_EXIT_QUAL);
        e->gpa = vmread(VMCS_GUEST_PHYS);
        e->insn_len = (uint32_t)vmread(VMCS_EXIT_INSN_LEN);
        e->intr = (uint32_t)vmread(VMCS_EXIT_INTR);
        s->rip = vmread(VMCS_GUEST_RIP);
        s->rsp = vmread(VMCS_GUEST_RSP);
        s->rflags = vmread(VMCS_GUEST_RFLAGS);
        s->cr0 = vmread(VMCS_GUEST_CR0);
        s->cr3 = vmread(VMCS_GUEST_CR3);
        s->cr4 = vmread(VMCS_GUEST_CR4) & ~CR4_VMXE;     /* the guest's view: the shadow */
        s->efer = vmread(VMCS_GUEST_EFER);
    }
    vmclear(v->vmcs);
    if (!failed && (e->reason & VMX_EXIT_REASON_BASIC) == VMX_EXIT_EXC_NMI &&
        (e->intr & VMX_INTR_VALID) &&
        ((e->intr & VMX_INTR_TYPE_MASK) >> VMX_INTR_TYPE_SHIFT) == VMX_INTR_TYPE_NMI)
        __asm__ __volatile__("int $2" ::: "memory");
    return E_OK;
}
