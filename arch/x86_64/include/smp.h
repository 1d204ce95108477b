/* Cores: discovery (ACPI MADT), start-up (INIT-SIPI-SIPI), cross-core calls. */
#pragma once
#include "acpi.h"
#include "cpu_local.h"

extern struct acpi_cpus smp_cpus;      /* cores from the MADT; core id = index */
extern unsigned smp_bsp;               /* core id of the boot processor */

void smp_discover(void);

extern paddr_t smp_tramp_pa;           /* page of the AP trampoline (0: none) */

void smp_install_trampoline(void);

void smp_setup_core(void);

unsigned smp_boot_aps(void);
unsigned smp_online(void);
bool smp_call(unsigned c, cpu_call_fn fn, void *arg);
