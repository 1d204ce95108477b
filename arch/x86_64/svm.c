/*
 * AMD SVM with nested paging (APM Vol. 2, ch. 15): the vendor half of virt.h.
 *
 * Every core turns on EFER.SVME and gets a host save area (VM_HSAVE_PA) and a page for the
 * host state VMRUN does not switch (FS, GS, TR, LDTR and the syscall MSRs: VMSAVE / VMLOAD
 * around the guest, svm_entry.S). A vCPU's VMCB is its control page: the guest state but
 * the GPRs VMRUN leaves alone (kept in vcpu_hw.gpr), the intercepts the kernel forces, the
 * nested root N_CR3 (the PD's npt, Hpt format) and its ASID.
 *
 * ASIDs: per core, handed out in generations. A vCPU keeps its ASID while the generation of
 * its core is the one it got it in; when a core runs out, a new generation starts and its
 * first VMRUN flushes every ASID (TLB_CONTROL 1). A vCPU whose PD's nested table lost
 * translations flushes its own ASID at its next VMRUN (TLB_CONTROL 3, or 1 without
 * FlushByAsid): the revoke promise for guests (kernel/vcpu.c).
 *
 * Intercepted, always (the VMM cannot turn them off): physical interrupts, NMI, SMI, INIT,
 * CPUID, HLT, every port (I/O map all ones), every MSR (MSR map all ones), INVD, INVLPGA,
 * shutdown, and VMRUN, VMMCALL, VMLOAD, VMSAVE, STGI, CLGI, SKINIT, XSETBV. Guest
 * exceptions and interrupts are the guest's own; RFLAGS.IF of the guest masks only virtual
 * interrupts (V_INTR_MASKING), so a host interrupt always ends the guest's turn. An event the
 * guest was delivering when it exited is delivered at its next VMRUN (event_keep).
 */
#include "virt_ops.h"
#include "svm.h"
#include "cpu.h"
#include "cpu_local.h"
#include "xregs.h"
#include "kmem.h"
#include "layout.h"
#include "frame.h"
#include "kstring.h"
#include "printk.h"
#include "panic.h"

/* Per core: its host areas and its ASIDs. */
struct svm_core {
    paddr_t hsave;                  /* VM_HSAVE_PA */
    paddr_t host;                   /* VMSAVE / VMLOAD of the host's other state */
    uint32_t next_asid;             /* the next ASID of this generation to hand out */
    uint64_t gen;                   /* generation of the core's ASIDs (from 1) */
    bool flush_all;                 /* a new generation: the next VMRUN flushes every ASID */
};

static struct svm_core cores[NUM_CPU];
static uint32_t nasid;              /* ASIDs the CPU has (ASID 0 is the host's) */
static bool nrips, flush_by_asid;
static paddr_t iopm, msrpm;         /* shared by every VMCB: intercept everything */

void svm_vmrun(paddr_t vmcb, uint64_t *gpr, paddr_t host);     /* svm_entry.S */

/* A field of the VMCB at pa. */
#define VMCB64(pa, off) (*(volatile uint64_t *)((uint8_t *)phys_to_virt(pa) + (off)))
#define VMCB32(pa, off) (*(volatile uint32_t *)((uint8_t *)phys_to_virt(pa) + (off)))
#define VMCB8(pa, off)  (*(volatile uint8_t *)((uint8_t *)phys_to_virt(pa) + (off)))

/* Boot core: does the CPU have SVM (not locked off) with nested paging? */
static bool svm_probe(void)
{
    uint32_t r[4];
    cpuid(0x80000000u, 0, r);
    if (r[0] < CPUID_LEAF_SVM)
        return false;
    cpuid(CPUID_LEAF_EXT, 0, r);
    if (!(r[2] & CPUID_EXT_ECX_SVM) || (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS))
        return false;
    cpuid(CPUID_LEAF_SVM, 0, r);
    if (!(r[3] & CPUID_SVM_EDX_NP) || r[1] < 2)
        return false;
    nasid = r[1];
    cpu_config.efer |= EFER_SVME;       /* part of every core's complete EFER */
    nrips = r[3] & CPUID_SVM_EDX_NRIPS;
    flush_by_asid = r[3] & CPUID_SVM_EDX_FLUSHASID;
    if (frame_alloc(&kernel_pool, IOPM_PAGES, PAGE_SIZE, &iopm) ||
        frame_alloc(&kernel_pool, MSRPM_PAGES, PAGE_SIZE, &msrpm))
        panic("svm: no memory for the permission maps");
    memset(phys_to_virt(iopm), 0xff, IOPM_PAGES * PAGE_SIZE);
    memset(phys_to_virt(msrpm), 0xff, MSRPM_PAGES * PAGE_SIZE);
    printk("tessera: SVM revision %u, nested paging, %u ASIDs%s%s\n", r[0] & 0xff, nasid,
           nrips ? ", NRIPS" : "", flush_by_asid ? ", FlushByAsid" : "");
    return true;
}

/* This core: EFER.SVME, its host save area and host state page, its first ASID generation. */
static void svm_init_cpu(void)
{
    struct svm_core *c = &cores[cpu_id()];
    c->hsave = kmem_alloc_zeroed();
    c->host = kmem_alloc_zeroed();
    c->next_asid = 1;
    c->gen = 1;
    c->flush_all = true;
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | EFER_SVME);
    wrmsr(MSR_VM_HSAVE_PA, c->hsave);
}

/* Write segment s into the VMCB at pa, offset off. */
static void seg_put(paddr_t pa, unsigned off, const struct vcpu_seg *s)
{
    struct vcpu_seg *d = (struct vcpu_seg *)((uint8_t *)phys_to_virt(pa) + off);
    *d = *s;
}

/* Segment at offset off of the VMCB at pa. */
static struct vcpu_seg seg_get(paddr_t pa, unsigned off)
{
    return *(const struct vcpu_seg *)((const uint8_t *)phys_to_virt(pa) + off);
}

/* Segment attributes of the reset state: present, accessed; data, code, LDT, busy TSS. */
#define ATTR_DATA   0x093
#define ATTR_CODE   0x09b
#define ATTR_LDT    0x082
#define ATTR_TSS    0x083
#define RESET_CR0   0x60000010ul    /* CD, NW, ET */
#define RESET_RIP   0xfff0ul
#define RESET_CS    0xf000u
#define RESET_CS_BASE 0xffff0000ul
#define RESET_RDX   0x600ul         /* family 6 */
#define RESET_PAT   0x0007040600070406ul
#define RESET_DR7   0x400ul
#define RFLAGS_RESET 0x2ul
#define DR6_CLEAR   0xffff0ff0ul

/* The intercepts the kernel forces, permission maps, nested paging, V_INTR_MASKING (V_TPR, the
   guest's CR8, is the guest's: kept). DR0-DR3 are the host's (no VMCB field): their moves
   exit, as RDPMC (host counters), WBINVD (a long cache flush) and MONITOR/MWAIT do. */
static void vmcb_controls(paddr_t v)
{
    VMCB32(v, VMCB_INTERCEPT_DR) = SVM_I_DR0_3;
    VMCB32(v, VMCB_INTERCEPT_MISC1) = SVM_I_INTR | SVM_I_NMI | SVM_I_SMI | SVM_I_INIT |
                                      SVM_I_RDPMC | SVM_I_CPUID | SVM_I_INVD | SVM_I_HLT |
                                      SVM_I_INVLPGA | SVM_I_IOIO | SVM_I_MSR | SVM_I_SHUTDOWN;
    VMCB32(v, VMCB_INTERCEPT_MISC2) = SVM_I_VMRUN | SVM_I_VMMCALL | SVM_I_VMLOAD |
                                      SVM_I_VMSAVE | SVM_I_STGI | SVM_I_CLGI | SVM_I_SKINIT |
                                      SVM_I_WBINVD | SVM_I_MONITOR | SVM_I_MWAIT |
                                      SVM_I_XSETBV;
    VMCB64(v, VMCB_IOPM_BASE) = iopm;
    VMCB64(v, VMCB_MSRPM_BASE) = msrpm;
    VMCB64(v, VMCB_VINTR) = (VMCB64(v, VMCB_VINTR) & VINTR_TPR) | VINTR_MASKING;
    VMCB64(v, VMCB_NP_ENABLE) = 1;
}

/* Put h (control page ctl, zeroed) in the x86 reset state (docs/abi.md, create_vcpu). */
static void svm_init(struct vcpu_hw *h, paddr_t ctl)
{
    ASSERT(kmem_in_pool(ctl, PAGE_SIZE));
    h->ctl = ctl;
    vmcb_controls(ctl);
    struct vcpu_regs r = { .rip = RESET_RIP, .rflags = RFLAGS_RESET, .cr0 = RESET_CR0,
                           .pat = RESET_PAT };
    r.gpr[VCPU_RDX] = RESET_RDX;
    struct vcpu_seg data = { 0, ATTR_DATA, 0xffff, 0 };
    r.es = r.ss = r.ds = r.fs = r.gs = data;
    r.cs = (struct vcpu_seg){ RESET_CS, ATTR_CODE, 0xffff, RESET_CS_BASE };
    r.ldtr = (struct vcpu_seg){ 0, ATTR_LDT, 0xffff, 0 };
    r.tr = (struct vcpu_seg){ 0, ATTR_TSS, 0xffff, 0 };
    r.gdtr = r.idtr = (struct vcpu_seg){ 0, 0, 0xffff, 0 };
    VMCB64(ctl, VMCB_DR7) = RESET_DR7;
    VMCB64(ctl, VMCB_DR6) = DR6_CLEAR;
    svm_ops.set(h, &r);
}

/* The guest registers of h (VMCB and gpr) in *r; EFER without the kernel's SVME. */
static void svm_get(const struct vcpu_hw *h, struct vcpu_regs *r)
{
    paddr_t v = h->ctl;
    memcpy(r->gpr, h->gpr, sizeof(r->gpr));
    r->gpr[VCPU_RAX] = VMCB64(v, VMCB_RAX);
    r->gpr[VCPU_RSP] = VMCB64(v, VMCB_RSP);
    r->rip = VMCB64(v, VMCB_RIP);
    r->rflags = VMCB64(v, VMCB_RFLAGS);
    r->cr0 = VMCB64(v, VMCB_CR0);
    r->cr2 = VMCB64(v, VMCB_CR2);
    r->cr3 = VMCB64(v, VMCB_CR3);
    r->cr4 = VMCB64(v, VMCB_CR4);
    r->efer = VMCB64(v, VMCB_EFER) & ~EFER_SVME;
    r->pat = VMCB64(v, VMCB_G_PAT);
    r->es = seg_get(v, VMCB_ES);
    r->cs = seg_get(v, VMCB_CS);
    r->ss = seg_get(v, VMCB_SS);
    r->ds = seg_get(v, VMCB_DS);
    r->fs = seg_get(v, VMCB_FS);
    r->gs = seg_get(v, VMCB_GS);
    r->ldtr = seg_get(v, VMCB_LDTR);
    r->tr = seg_get(v, VMCB_TR);
    r->gdtr = seg_get(v, VMCB_GDTR);
    r->idtr = seg_get(v, VMCB_IDTR);
    r->star = VMCB64(v, VMCB_STAR);
    r->lstar = VMCB64(v, VMCB_LSTAR);
    r->cstar = VMCB64(v, VMCB_CSTAR);
    r->sfmask = VMCB64(v, VMCB_SFMASK);
    r->kernel_gs_base = VMCB64(v, VMCB_KERNEL_GS_BASE);
    r->sysenter_cs = VMCB64(v, VMCB_SYSENTER_CS);
    r->sysenter_esp = VMCB64(v, VMCB_SYSENTER_ESP);
    r->sysenter_eip = VMCB64(v, VMCB_SYSENTER_EIP);
}

/* Give h the guest registers *r (VMRUN checks them); EFER with SVME, CPL from SS. */
static void svm_set(struct vcpu_hw *h, const struct vcpu_regs *r)
{
    paddr_t v = h->ctl;
    memcpy(h->gpr, r->gpr, sizeof(h->gpr));
    VMCB64(v, VMCB_RAX) = r->gpr[VCPU_RAX];
    VMCB64(v, VMCB_RSP) = r->gpr[VCPU_RSP];
    VMCB64(v, VMCB_RIP) = r->rip;
    VMCB64(v, VMCB_RFLAGS) = r->rflags;
    VMCB64(v, VMCB_CR0) = r->cr0;
    VMCB64(v, VMCB_CR2) = r->cr2;
    VMCB64(v, VMCB_CR3) = r->cr3;
    VMCB64(v, VMCB_CR4) = r->cr4;
    VMCB64(v, VMCB_EFER) = r->efer | EFER_SVME;
    VMCB64(v, VMCB_G_PAT) = r->pat;
    seg_put(v, VMCB_ES, &r->es);
    seg_put(v, VMCB_CS, &r->cs);
    seg_put(v, VMCB_SS, &r->ss);
    seg_put(v, VMCB_DS, &r->ds);
    seg_put(v, VMCB_FS, &r->fs);
    seg_put(v, VMCB_GS, &r->gs);
    seg_put(v, VMCB_LDTR, &r->ldtr);
    seg_put(v, VMCB_TR, &r->tr);
    seg_put(v, VMCB_GDTR, &r->gdtr);
    seg_put(v, VMCB_IDTR, &r->idtr);
    VMCB8(v, VMCB_CPL) = (r->cr0 & CR0_PE) ? (uint8_t)((r->ss.attr >> 5) & 3) : 0;
    VMCB64(v, VMCB_STAR) = r->star;
    VMCB64(v, VMCB_LSTAR) = r->lstar;
    VMCB64(v, VMCB_CSTAR) = r->cstar;
    VMCB64(v, VMCB_SFMASK) = r->sfmask;
    VMCB64(v, VMCB_KERNEL_GS_BASE) = r->kernel_gs_base;
    VMCB64(v, VMCB_SYSENTER_CS) = r->sysenter_cs;
    VMCB64(v, VMCB_SYSENTER_ESP) = r->sysenter_esp;
    VMCB64(v, VMCB_SYSENTER_EIP) = r->sysenter_eip;
}

/* Give h the guest rip. */
static void svm_set_rip(struct vcpu_hw *h, uint64_t rip)
{
    VMCB64(h->ctl, VMCB_RIP) = rip;
}

/* The guest rax of h. */
static uint64_t svm_rax(const struct vcpu_hw *h)
{
    return VMCB64(h->ctl, VMCB_RAX);
}

/* Give h the guest rax. */
static void svm_set_rax(struct vcpu_hw *h, uint64_t rax)
{
    VMCB64(h->ctl, VMCB_RAX) = rax;
}

/* TLB_CONTROL for h's next VMRUN on core c: a fresh ASID if its generation is gone (a new
   generation when the core has none left: every ASID flushed), and h's ASID flushed if its
   nested table lost translations (flush). */
static uint8_t asid_prepare(struct svm_core *c, struct vcpu_hw *h, bool flush)
{
    if (h->tag_gen != c->gen) {
        if (c->next_asid >= nasid) {
            c->gen++;
            c->next_asid = 1;
            c->flush_all = true;
        }
        h->tag = c->next_asid++;
        h->tag_gen = c->gen;
        VMCB32(h->ctl, VMCB_GUEST_ASID) = h->tag;
    }
    if (c->flush_all) {
        c->flush_all = false;
        return TLB_FLUSH_ALL;
    }
    if (flush)
        return flush_by_asid ? TLB_FLUSH_ASID : TLB_FLUSH_ALL;
    return TLB_NOTHING;
}

/* Length of the instruction the exit with code stopped at rip (0 unknown). */
static uint8_t exit_len(paddr_t v, uint64_t code, uint64_t rip)
{
    if (nrips && VMCB64(v, VMCB_NRIP) > rip && VMCB64(v, VMCB_NRIP) - rip <= 15)
        return (uint8_t)(VMCB64(v, VMCB_NRIP) - rip);
    switch (code) {
    case SVM_EXIT_CPUID:   return SVM_LEN_CPUID;
    case SVM_EXIT_HLT:     return SVM_LEN_HLT;
    case SVM_EXIT_VMMCALL: return SVM_LEN_VMMCALL;
    default:               return 0;
    }
}

/* The vendor-neutral record of the exit h's VMCB describes. */
static void exit_decode(const struct vcpu_hw *h, struct vm_exit *x)
{
    paddr_t v = h->ctl;
    uint64_t code = VMCB64(v, VMCB_EXITCODE), i1 = VMCB64(v, VMCB_EXITINFO1);
    uint64_t i2 = VMCB64(v, VMCB_EXITINFO2);
    *x = (struct vm_exit){ .rip = VMCB64(v, VMCB_RIP) };
    if ((uint32_t)code == (uint32_t)SVM_EXIT_INVALID)
        code = SVM_EXIT_INVALID;        /* QEMU's TCG writes the -1 as 32 bits */
    x->len = exit_len(v, code, x->rip);
    switch (code) {
    case SVM_EXIT_NPF:
        x->reason = VM_EXIT_NPF;
        x->addr = i2;
        x->qual = i1;
        x->access = (i1 & NPF_X) ? FAULT_X : (i1 & NPF_W) ? FAULT_W : FAULT_R;
        break;
    case SVM_EXIT_HLT:      x->reason = VM_EXIT_HLT; break;
    case SVM_EXIT_CPUID:    x->reason = VM_EXIT_CPUID; break;
    case SVM_EXIT_VMMCALL:  x->reason = VM_EXIT_VMCALL; break;
    case SVM_EXIT_SHUTDOWN: x->reason = VM_EXIT_SHUTDOWN; break;
    case SVM_EXIT_INTR: case SVM_EXIT_NMI: case SVM_EXIT_SMI: case SVM_EXIT_INIT:
        x->reason = VM_EXIT_INTR;
        break;
    case SVM_EXIT_IOIO:
        x->reason = VM_EXIT_IO;
        x->addr = i1 >> IOIO_PORT_SHIFT;
        x->size = (i1 & IOIO_SZ32) ? 4 : (i1 & IOIO_SZ16) ? 2 : 1;
        x->access = (i1 & IOIO_IN) ? VM_IO_IN : VM_IO_OUT;
        if (!(i1 & IOIO_IN))
            x->qual = VMCB64(v, VMCB_RAX) & (x->size == 4 ? 0xffffffffu : x->size == 2 ?
                                              0xffffu : 0xffu);
        x->len = i2 > x->rip && i2 - x->rip <= 15 ? (uint8_t)(i2 - x->rip) : 0;
        break;
    case SVM_EXIT_INVALID:
        x->reason = VM_EXIT_INVALID;
        x->qual = code;
        break;
    default:
        x->reason = VM_EXIT_OTHER;
        x->qual = code;
        x->addr = i1;
        break;
    }
}

/* After h's exit x: the event its guest was delivering when it exited (EXITINTINFO), which
   its next VMRUN delivers (h->event; 0: none). A refused VMRUN delivered nothing: h's event
   stays. INTn, INT3 and INTO are not kept: the guest's rip is at the instruction, which raises
   them again. */
static void event_keep(struct vcpu_hw *h, const struct vm_exit *x)
{
    if (x->reason == VM_EXIT_INVALID)
        return;
    uint64_t e = VMCB64(h->ctl, VMCB_EXITINTINFO), type = e & EVENT_TYPE_MASK;
    unsigned vec = (unsigned)(e & EVENT_VECTOR);
    bool again = type == EVENT_TYPE_SOFT ||
                 (type == EVENT_TYPE_EXC && (vec == EVENT_VEC_BP || vec == EVENT_VEC_OF));
    h->event = (e & EVENT_VALID) && !again ? e : 0;
}

/* Run h on this core (interrupts off) until a #VMEXIT, described in *x; an event in flight at
   the last exit is delivered first (event_keep). */
static void svm_run(struct vcpu_hw *h, paddr_t nroot, bool flush, struct vm_exit *x)
{
    struct svm_core *c = &cores[cpu_id()];
    paddr_t v = h->ctl;
    uint8_t tlb = asid_prepare(c, h, flush);
    VMCB8(v, VMCB_TLB_CONTROL) = tlb;
    VMCB64(v, VMCB_N_CR3) = nroot;
    VMCB32(v, VMCB_CLEAN) = 0;
    vmcb_controls(v);                   /* what the kernel forces, whatever happened */
    VMCB64(v, VMCB_EVENTINJ) = h->event;
    svm_vmrun(v, h->gpr, c->host);
    VMCB8(v, VMCB_TLB_CONTROL) = TLB_NOTHING;
    exit_decode(h, x);
    event_keep(h, x);
    if (x->reason == VM_EXIT_INVALID && tlb == TLB_FLUSH_ALL)
        c->flush_all = true;            /* a refused VMRUN flushed nothing: the next one does */
}

/* Nothing of the hardware holds an SVM vCPU once it left its core. */
static void svm_fini(struct vcpu_hw *h)
{
    (void)h;
}

const struct virt_ops svm_ops = {
    .kind = VIRT_SVM, .name = "SVM", .probe = svm_probe, .init_cpu = svm_init_cpu,
    .fmt = &ptab_npt, .levels = HPT_LEVELS, .caps = 0,
    .init = svm_init, .get = svm_get, .set = svm_set, .set_rip = svm_set_rip,
    .rax = svm_rax, .set_rax = svm_set_rax, .run = svm_run, .fini = svm_fini,
};
