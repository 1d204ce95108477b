/*
 * Devices (PCI functions) as kernel objects named by CAP_DEV capabilities (kernel/device.c).
 * The root task holds one per function of its device page, at SEL_ROOT_DEV + index. A device
 * assigned to a PD has its DMA translated by that PD's dpt (space_mem.h); unassigned, its DMA
 * is blocked. When no capability names a device any more it is unassigned. Each device keeps
 * the DMA faults recorded for it until dev_faults asks. Callers hold pd_lock.
 */
#pragma once
#include "types.h"
#include "abi.h"
#include "syscall.h"

struct pd;

struct device {
    uint16_t bdf;                       /* bus/device/function: the DMA source id */
    struct pd *owner;                   /* the PD whose dpt translates its DMA; NULL: blocked */
    unsigned caps;                      /* capabilities naming it */
    struct dev_faults faults;           /* recorded since the last dev_faults */
};

extern struct device devices[];
extern unsigned ndevices;

void device_boot_init(void);
int  device_assign_decode(struct device *d, struct pd *pd);
void device_assign(struct device *d, struct pd *pd);
void device_unassign(struct device *d);
void device_pd_gone(struct pd *pd);
struct dev_faults device_faults(struct device *d);
bool device_mmio(paddr_t pa, uint64_t size);
void device_cap_gained(struct device *d);
void device_cap_lost(struct device *d);
