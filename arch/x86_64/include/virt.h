/*
 * Hardware virtualization (lecture: "vCPU", "Space_mem: union { Ept ept; Hpt npt; }"): the
 * arch hooks generic kernel code (kernel/vcpu.c, kernel/space_mem.c) uses to run a vCPU,
 * whatever the vendor. arch/x86_64/svm.c implements them for AMD SVM with nested paging,
 * arch/x86_64/vmx.c for Intel VMX with EPT; virt.c picks one by CPUID at boot. The generic
 * side owns the frames (charged to the VM's PD) and the nested table (built by the generic
 * page-table engine in the format virt_nested_fmt names); the arch side owns the layout of
 * the control page (VMCB / VMCS), the guest registers the hardware does not keep there,
 * and the TLB tags (ASID / VPID) of its core.
 *
 * Protocol, all on the vCPU's own core with interrupts off:
 *   vcpu_hw_init(h, ctl)               once, before anything else: reset state in h
 *   vcpu_hw_get / vcpu_hw_set          while the vCPU does not run (a set drops the event
 *                                      in flight at the last exit, which the next entry
 *                                      would deliver: vcpu_hw.event)
 *   vcpu_hw_run(h, nroot, flush, &x)   enter the guest until the next VM exit, x filled;
 *                                      flush: the nested table lost translations since the
 *                                      vCPU last ran (revoke): no stale guest translation
 *                                      may survive this entry
 *   vcpu_hw_fini(h)                    before the control page is freed (VMCLEAR on VMX)
 */
#pragma once
#include "types.h"
#include "syscall.h"
#include "ptab.h"

/* Which virtualization this machine's cores have (all the same; VIRT_NONE: vCPUs refused). */
enum virt_kind {
    VIRT_NONE = 0,  /* neither SVM with nested paging nor VMX with EPT */
    VIRT_SVM  = 1,  /* AMD SVM, NPT (the Hpt format), ASIDs */
    VIRT_VMX  = 2,  /* Intel VMX, EPT, VPIDs */
};

#define VCPU_HW_MSRS 5                  /* VMX: STAR, LSTAR, CSTAR, SFMASK, kernel GS base */

/* Per vCPU, arch state outside the control page. Zero-filled before vcpu_hw_init. */
struct vcpu_hw {
    paddr_t ctl;                    /* control page (VMCB / VMCS), 4 KiB, from the generic side */
    uint64_t gpr[VCPU_GPRS];        /* guest registers the control page does not hold */
    uint32_t tag;                   /* ASID / VPID on its core (0: none yet) */
    uint64_t tag_gen;               /* the core's tag generation tag belongs to */
    bool launched;                  /* VMX: entered once (its first entry flushes the EPTP) */
    uint64_t event;                 /* the event the guest was delivering at its last exit, to
                                       deliver at the next entry (vendor format; 0: none) */
    uint32_t event_len;             /* VMX: its instruction length (software interrupts) */
    uint64_t msr[VCPU_HW_MSRS];     /* VMX: guest MSRs the VMCS has no field for (vmx.h) */
};

enum virt_kind virt_kind(void);
void virt_init_cpu(void);
const struct ptab_fmt *virt_nested_fmt(void);
unsigned virt_nested_levels(void);
unsigned virt_nested_caps(void);
void vcpu_hw_init(struct vcpu_hw *h, paddr_t ctl);
void vcpu_hw_get(const struct vcpu_hw *h, struct vcpu_regs *r);
void vcpu_hw_set(struct vcpu_hw *h, const struct vcpu_regs *r);
void vcpu_hw_set_rip(struct vcpu_hw *h, uint64_t rip);
uint64_t vcpu_hw_rax(const struct vcpu_hw *h);
void vcpu_hw_set_rax(struct vcpu_hw *h, uint64_t rax);
void vcpu_hw_run(struct vcpu_hw *h, paddr_t nroot, bool flush, struct vm_exit *x);
void vcpu_hw_fini(struct vcpu_hw *h);
