/* Cores: discovery (ACPI MADT), start-up (INIT-SIPI-SIPI), cross-core calls; the boot's other
 * ACPI tables (MCFG for PCI, DMAR for the IOMMU), read while they are identity-mapped. */
#pragma once
#include "acpi.h"
#include "cpu_local.h"

extern struct acpi_cpus smp_cpus;      /* cores from the MADT; core id = index */
extern unsigned smp_bsp;               /* core id of the boot processor */

extern struct acpi_mcfg smp_mcfg;      /* MCFG (base 0: none) */
extern struct acpi_dmar smp_dmar;      /* DMAR (no units: none) */
extern int smp_dmar_status;            /* acpi_parse_dmar's result */

void smp_discover(void);

extern paddr_t smp_tramp_pa;           /* page of the AP trampoline (0: none) */

void smp_install_trampoline(void);

void smp_setup_core(void);

unsigned smp_boot_aps(void);
unsigned smp_online(void);
bool smp_call(unsigned c, cpu_call_fn fn, void *arg);
