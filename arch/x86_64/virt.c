/*
 * Hardware virtualization: which vendor's, chosen on the boot core by CPUID (the first table
 * of vendors whose probe answers), and the hooks of virt.h forwarded to it. Without one,
 * virt_kind is VIRT_NONE and the generic side refuses vCPUs (create_vcpu: E_NOENT).
 */
#include "virt_ops.h"
#include "bootinfo.h"
#include "printk.h"

static const struct virt_ops *const vendors[] = { &svm_ops, &vmx_ops };
static const struct virt_ops *ops;      /* NULL: none */
static bool probed;

/* This core: on the boot core (first call) pick the vendor, then turn it on here. */
void virt_init_cpu(void)
{
    if (!probed) {
        probed = true;
        for (unsigned i = 0; i < ARRAY_SIZE(vendors) && !ops; i++)
            if (!cmdline_has("novirt") && vendors[i]->probe())
                ops = vendors[i];
        if (!ops)
            printk("tessera: no SVM with nested paging, no VMX with EPT: no vCPUs\n");
    }
    if (ops)
        ops->init_cpu();
}

/* Which virtualization the cores have. */
enum virt_kind virt_kind(void)
{
    return ops ? ops->kind : VIRT_NONE;
}

/* Format of a VM's nested table (only with a vendor). */
const struct ptab_fmt *virt_nested_fmt(void)
{
    return ops->fmt;
}

/* Levels of a VM's nested table. */
unsigned virt_nested_levels(void)
{
    return ops->levels;
}

/* PTAB_CAP_* of a VM's nested table. */
unsigned virt_nested_caps(void)
{
    return ops->caps;
}

/* Put h (zero-filled, control page ctl zeroed) in the reset state. */
void vcpu_hw_init(struct vcpu_hw *h, paddr_t ctl)
{
    ops->init(h, ctl);
}

/* The guest registers of h (not running) in *r. */
void vcpu_hw_get(const struct vcpu_hw *h, struct vcpu_regs *r)
{
    ops->get(h, r);
}

/* Give h (not running) the guest registers *r: a new state, without the event that was in
   flight at its last exit. */
void vcpu_hw_set(struct vcpu_hw *h, const struct vcpu_regs *r)
{
    h->event = 0;
    ops->set(h, r);
}

/* Give h (not running) the guest rip. */
void vcpu_hw_set_rip(struct vcpu_hw *h, uint64_t rip)
{
    ops->set_rip(h, rip);
}

/* The guest rax of h (not running). */
uint64_t vcpu_hw_rax(const struct vcpu_hw *h)
{
    return ops->rax(h);
}

/* Give h (not running) the guest rax. */
void vcpu_hw_set_rax(struct vcpu_hw *h, uint64_t rax)
{
    ops->set_rax(h, rax);
}

/* Run h on this core (interrupts off) until a VM exit, described in *x. */
void vcpu_hw_run(struct vcpu_hw *h, paddr_t nroot, bool flush, struct vm_exit *x)
{
    ops->run(h, nroot, flush, x);
}

/* Release what h holds of the hardware before its control page is freed. */
void vcpu_hw_fini(struct vcpu_hw *h)
{
    ops->fini(h);
}
