/*
 * vCPUs (include/vcpu.h, docs/abi.md "create_vcpu"): their memory, and the loop that runs a
 * vCPU on its core between the guest and the VM exits that stop it. The vendor's part is
 * behind the hooks of virt.h (arch/x86_64/svm.c, arch/x86_64/vmx.c).
 */
#include "vcpu.h"
#include "ec.h"
#include "pd.h"
#include "sched.h"
#include "arch.h"
#include "kmalloc.h"
#include "panic.h"

/* Whether this machine runs vCPUs (SVM with nested paging, or VMX with EPT). */
bool vcpu_supported(void)
{
    return virt_kind() != VIRT_NONE;
}

/* A vCPU's state for pd (heap object and control page, both charged to pd) in the reset
   state, or NULL if pd's quota or the pool is out. */
struct vcpu *vcpu_alloc(struct pd *pd)
{
    struct vcpu *v = kheap_alloc(&pd->heap, sizeof(*v));
    if (!v)
        return NULL;
    paddr_t ctl = pd->env.alloc(pd->env.ctx);
    if (!ctl) {
        kheap_free(&pd->heap, v);
        return NULL;
    }
    pd->vcpu_pages++;
    *v = (struct vcpu){ .flushed_gen = 0 };
    vcpu_hw_init(&v->hw, ctl);
    return v;
}

/* Free v (from vcpu_alloc for pd; its EC left its core for good). */
void vcpu_free(struct pd *pd, struct vcpu *v)
{
    vcpu_hw_fini(&v->hw);
    pd->env.free(pd->env.ctx, v->hw.ctl);
    pd->vcpu_pages--;
    kheap_free(&pd->heap, v);
}

/* Give stopped vCPU v, whose last exit was x, the rax its VMM emulated: after an in, only the
   low size bytes, as the instruction writes them (4: the upper half cleared, as by any 32-bit
   write); after any other exit all of rax. */
void vcpu_set_rax(struct vcpu *v, const struct vm_exit *x, uint64_t rax)
{
    if (x->reason == VM_EXIT_IO && x->access == VM_IO_IN && x->size < 4) {
        uint64_t low = (1UL << (8 * x->size)) - 1;
        rax = (vcpu_hw_rax(&v->hw) & ~low) | (rax & low);
    } else if (x->reason == VM_EXIT_IO && x->access == VM_IO_IN) {
        rax = (uint32_t)rax;
    }
    vcpu_hw_set_rax(&v->hw, rax);
}

/*
 * Run this core's EC, a vCPU (its PD current, interrupts off), in the guest until a VM exit
 * that stops it; never returns. It runs at the top of the core's stack (sched_resume), so
 * exits that stop one vCPU and enter another on the same core never nest. The nested TLB is
 * flushed at the entry when the PD's nested table lost translations since the vCPU's last
 * entry (a refused entry does not count): the revoke raised nested_gen before
 * its shootdown, whose IPI forces every core running the PD out of the guest, so no core
 * enters the guest again with a stale translation. A host interrupt that ended the guest is
 * taken before the exit is reported; a vCPU killed meanwhile leaves instead.
 */
noreturn void vcpu_enter(void)
{
    struct ec *ec = this_cpu()->ec;
    struct vcpu *v = ec->vcpu;
    struct space_mem *m = &ec->pd->mem;
    uint64_t gen = __atomic_load_n(&m->nested->gen, __ATOMIC_SEQ_CST);
    struct vm_exit x;
    vcpu_hw_run(&v->hw, m->nested->npt.root, gen != v->flushed_gen, &x);
    if (x.reason != VM_EXIT_INVALID)
        v->flushed_gen = gen;           /* a refused entry may not have flushed */
    if (x.reason == VM_EXIT_INTR)
        irq_window();
    if (__atomic_load_n(&ec->killed, __ATOMIC_SEQ_CST)) {
        ec_leave(ec);                   /* destroyed: never back to the guest */
        sched_run();
    }
    ec->vmexit = x;
    ec_stop(ec, EC_VMEXIT);
}
