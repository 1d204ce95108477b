/*
 * vCPUs (docs/abi.md "create_vcpu"): an EC of a VM's PD that runs guest code. Its guest state
 * is in struct vcpu (the arch part, virt.h); a VM exit stops it like a fault stops an EC
 * (EC_VMEXIT, the record in ec->vmexit), ec_resume continues it. The nested table of the PD
 * is its space_mem's nested npt/ept (space_mem_nested): its gen counts the reductions of it, and
 * a vCPU entering with a stale generation flushes the nested TLB first (the revoke promise).
 */
#pragma once
#include "types.h"
#include "compiler.h"
#include "virt.h"

struct ec;
struct pd;

struct vcpu {
    struct vcpu_hw hw;              /* vendor state: control page, GPRs, ASID / VPID */
    uint64_t flushed_gen;           /* the PD's nested_gen at the vCPU's last entry */
};

bool vcpu_supported(void);
noreturn void vcpu_enter(void);
struct vcpu *vcpu_alloc(struct pd *pd);
void vcpu_free(struct pd *pd, struct vcpu *v);
void vcpu_set_rax(struct vcpu *v, const struct vm_exit *x, uint64_t rax);
