/*
 * Arch hooks: all that generic kernel code (kernel/ and the kernel-state headers of include/)
 * uses of the architecture, and the one arch header it includes besides the base constants
 * (layout.h, paging.h, multiboot.h). Generic code calls no instruction itself: the hooks
 * below name what it needs of the hardware (scripts/layers.py checks both).
 *
 * From the headers it includes, generic code uses: this core's data and the others'
 * (cpu_local.h: this_cpu, cpu_id, cpu_remote) and interrupt control (cpu.h: irq_save,
 * irq_restore, irq_window, cpu_cli, cpu_sti, cpu_hlt); the saved user state (trap.h:
 * struct trap_frame, USER_FRAME, resume_frame; xregs.h: an EC's x87/SSE/AVX image); kernel
 * memory (kmem.h: the linear map, the kernel pool, per-core roots, kmem_ptr: any frame through
 * the temporal window); IPIs and time (lapic.h);
 * the cores (smp.h); and, at boot only, the SMAP patching (smap.h) and device discovery
 * (pci.h: the PCI functions; iommu.h: the DMA remapping units).
 */
#pragma once
#include "cpu_local.h"
#include "kmem.h"
#include "iommu.h"
#include "lapic.h"
#include "pci.h"
#include "smap.h"
#include "smp.h"
#include "trap.h"
#include "xregs.h"

/* Load root (physical address of a top-level table) into this core's MMU with PCID pcid (0
 * without PCIDs); keep_tlb keeps that PCID's cached translations, else they are flushed. */
static inline void arch_root_load(paddr_t root, unsigned pcid, bool keep_tlb)
{
    this_cpu()->counters.cr3_loads++;
    write_cr3(root | pcid | (keep_tlb ? CR3_NOFLUSH : 0));
}

/* The top-level table this core translates through. */
static inline paddr_t arch_root_loaded(void)
{
    return read_cr3() & CR3_ADDR;
}

/* Load root with the loaded PCID (its translations flushed); what arch_root_restore takes
 * back. */
static inline mword arch_root_swap(paddr_t root)
{
    mword old = read_cr3();
    this_cpu()->counters.cr3_loads++;
    write_cr3(root | (old & ~CR3_ADDR));
    return old;
}

/* Load again what arch_root_swap returned. */
static inline void arch_root_restore(mword saved)
{
    this_cpu()->counters.cr3_loads++;
    write_cr3(saved);
}

/* Forget this core's translation of the page at va (in every PCID for global pages, else in
 * the loaded one). */
static inline void arch_flush_page(vaddr_t va)
{
    invlpg(va);
}

/* Wait with interrupts on for the next interrupt, then turn them off again (an interrupt
 * arriving between the two still ends the wait). */
static inline void arch_idle_wait(void)
{
    __asm__ __volatile__("sti; hlt; cli" ::: "memory");
}

/* Continue in fn() on the stack ending at top; never returns (boot.S). */
noreturn void switch_stack(vaddr_t top, void (*fn)(void));

bool arch_has_1g_pages(void);
void arch_user_frame(struct trap_frame *f, mword ip, mword sp, mword arg);
noreturn void arch_fault_test(void);
noreturn void arch_fault_test_ist(void);
