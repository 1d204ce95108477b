/* Local APIC (xAPIC through CPU_LAPIC, or x2APIC through MSRs), its timer, and time. */
#pragma once
#include "types.h"

#ifndef TIMER_HZ
#define TIMER_HZ 20             /* LAPIC timer rate per core (modest: 64 vCPUs under TCG) */
#endif

#define XAPIC_MAX_ID 254        /* xAPIC destinations: 8 bits, 0xFF is the broadcast */

void lapic_preset_x2apic(void);
void lapic_choose(bool allow_x2apic);
void lapic_setup(void);
void lapic_init(void);
void lapic_enable_mode(void);
void lapic_eoi(void);

uint32_t lapic_id(void);

bool lapic_x2apic(void);
void lapic_send_ipi(uint32_t apic_id, uint8_t vector);
void lapic_start_ap(uint32_t apic_id, uint8_t page);
void lapic_nmi_others(void);
bool lapic_in_service(unsigned vector);
bool lapic_nmi_stopping(void);
void delay_us(uint64_t us);
uint64_t time_us(void);
