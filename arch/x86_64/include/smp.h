/* Cores: discovery (ACPI MADT), start-up (INIT-SIPI-SIPI), cross-core calls. */
#pragma once
#include "acpi.h"
#include "cpu_local.h"

extern struct acpi_cpus smp_cpus;      /* cores from the MADT; core id = index */
extern unsigned smp_bsp;               /* core id of the boot processor */

/* Find the cores and the BSP's index (boot root: ACPI tables identity-mapped). */
void smp_discover(void);

extern paddr_t smp_tramp_pa;           /* page of the AP trampoline (0: none) */

/* Copy the AP trampoline to a free low page holding no loader data, or keep only the
 * boot core if there is none (boot root only; after the last use of loader data). */
void smp_install_trampoline(void);

/* This core: GDT/TSS/IDT, SMEP/SMAP, LAPIC and timer, mark online, print its line. */
void smp_setup_core(void);

/* Start every other core in MADT order; returns the number of cores online. */
unsigned smp_boot_aps(void);

/* Number of cores online. */
unsigned smp_online(void);

/* Run fn(arg) on core c (through an IPI unless c is this core); false on timeout. */
bool smp_call(unsigned c, cpu_call_fn fn, void *arg);
