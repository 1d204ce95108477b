/* Local APIC (xAPIC through CPU_LAPIC, or x2APIC through MSRs), its timer, and time. */
#pragma once
#include "types.h"

#ifndef TIMER_HZ
#define TIMER_HZ 20             /* periodic LAPIC timer rate per core (modest: 64 vCPUs under TCG) */
#endif

/* BSP, once: choose xAPIC or x2APIC, calibrate TSC and LAPIC timer against the PIT. */
void lapic_setup(bool allow_x2apic);

/* This core: enable the LAPIC, set the spurious vector, start the periodic timer. */
void lapic_init(void);

/* Signal end of interrupt. */
void lapic_eoi(void);

/* This core's APIC id, read from the LAPIC (start-up and checks only, never a hot path). */
uint32_t lapic_id(void);

/* Is the LAPIC in x2APIC mode? */
bool lapic_x2apic(void);

/* Send a fixed IPI with vector to the core with apic_id. */
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);

/* Send INIT, then two STARTUP IPIs for the trampoline at page (physical / 4 KiB). */
void lapic_start_ap(uint32_t apic_id, uint8_t page);

/* Send an NMI to all other cores. */
void lapic_nmi_others(void);

/* Busy-wait for us microseconds (TSC; pause in the loop). */
void delay_us(uint64_t us);

/* Microseconds since calibration. */
uint64_t time_us(void);
