/*
 * The IOMMU (Intel VT-d, DMA remapping; arch/x86_64/iommu.c): the units the ACPI DMAR table
 * lists, brought up at boot with translation on and every device blocked (no root entry is
 * present), so no DMA reaches memory until a device is attached to a second-level table
 * (the Dpt format of the page-table engine). Without a DMAR unit, iommu_present() is false
 * and device assignment is refused: DMA confinement is never silently off. A recorded fault
 * raises VEC_IOMMU_FAULT on the boot core, whose handler logs it and keeps it for
 * iommu_faults (a log of IOMMU_FAULT_LOG; more are counted, not kept). Interrupt remapping is
 * on with an empty table: no device's interrupt message (a DMA write to 0xFEEx_xxxx) reaches a
 * core; a unit that cannot do that has its devices refused for assignment.
 */
#pragma once
#include "types.h"
#include "ptab.h"

#define IOMMU_FAULT_LOG 16          /* faults kept until iommu_faults asks */

/* One recorded DMA remapping fault. */
struct iommu_fault {
    uint16_t sid;                   /* source id: the requester's bus/device/function */
    bool read;                      /* a read request (else a write) */
    unsigned reason;                /* VTD_FR_* */
    uint64_t addr;                  /* page of the faulting bus address */
};

void iommu_init(void);
bool iommu_present(void);
unsigned iommu_dpt_levels(void);
uint64_t iommu_dpt_span(void);
unsigned iommu_dpt_leaf_mask(void);
unsigned iommu_dpt_caps(void);
void iommu_cache_flush(void *ctx, const void *va);
int iommu_prepare(uint16_t bdf);
bool iommu_irq_blocked(uint16_t bdf);
unsigned iommu_domains(void);
int iommu_attach(uint16_t bdf, paddr_t dpt_root, uint16_t did);
int iommu_detach(uint16_t bdf);
void iommu_flush_domain(uint16_t did);
unsigned iommu_faults(struct iommu_fault *out, unsigned max);
void iommu_fault_irq(void);
unsigned long iommu_fault_events(void);
