/*
 * The vendor half of virt.h: each of svm.c and vmx.c fills one table, virt.c picks the one
 * whose probe answers on the boot core and forwards the hooks of virt.h to it. Arch only.
 */
#pragma once
#include "virt.h"

struct virt_ops {
    enum virt_kind kind;
    const char *name;
    bool (*probe)(void);            /* boot core: the CPU has it (prints what it found) */
    void (*init_cpu)(void);         /* every core, at boot: turn it on */
    const struct ptab_fmt *fmt;     /* the nested table's format */
    unsigned levels, caps;          /* its levels and PTAB_CAP_* */
    void (*init)(struct vcpu_hw *h, paddr_t ctl);
    void (*get)(const struct vcpu_hw *h, struct vcpu_regs *r);
    void (*set)(struct vcpu_hw *h, const struct vcpu_regs *r);
    void (*set_rip)(struct vcpu_hw *h, uint64_t rip);
    uint64_t (*rax)(const struct vcpu_hw *h);
    void (*set_rax)(struct vcpu_hw *h, uint64_t rax);
    void (*run)(struct vcpu_hw *h, paddr_t nroot, bool flush, struct vm_exit *x);
    void (*fini)(struct vcpu_hw *h);
};

extern const struct virt_ops svm_ops;
extern const struct virt_ops vmx_ops;
