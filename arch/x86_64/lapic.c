/* Local APIC: xAPIC through the core-local mapping CPU_LAPIC, x2APIC through MSRs. */
#include "lapic.h"
#include "cpu.h"
#include "layout.h"
#include "printk.h"
#include "trap.h"

/*      register        offset     (x2APIC MSR = 0x800 + offset / 16) */
#define LAPIC_ID        0x020   /* APIC id (xAPIC: bits 31:24) */
#define LAPIC_EOI       0x0B0   /* end of interrupt */
#define LAPIC_ISR       0x100   /* in-service bits: 8 registers of 32 vectors, 0x10 apart */
#define LAPIC_REG_STEP  0x10
#define LAPIC_SVR       0x0F0   /* spurious vector, software enable */
#define LAPIC_ICR_LO    0x300   /* interrupt command, low half (write sends in xAPIC) */
#define LAPIC_ICR_HI    0x310   /* interrupt command, destination (xAPIC) */
#define LAPIC_LVT_TIMER 0x320   /* timer local vector */
#define LAPIC_TIMER_ICR 0x380   /* timer initial count */
#define LAPIC_TIMER_CCR 0x390   /* timer current count */
#define LAPIC_TIMER_DCR 0x3E0   /* timer divide configuration */
#define X2APIC_MSR_BASE 0x800

#define APIC_BASE_EXTD  (1UL << 10)     /* IA32_APIC_BASE: x2APIC mode */
#define APIC_BASE_EN    (1UL << 11)     /* IA32_APIC_BASE: global enable */
#define SVR_ENABLE      (1u << 8)       /* APIC software enable */
#define ICR_FIXED       (0u << 8)       /* delivery mode fixed */
#define ICR_NMI         (4u << 8)       /* delivery mode NMI */
#define ICR_INIT        (5u << 8)       /* delivery mode INIT */
#define ICR_STARTUP     (6u << 8)       /* delivery mode start-up */
#define ICR_PENDING     (1u << 12)      /* xAPIC: delivery status busy */
#define ICR_ASSERT      (1u << 14)      /* level assert */
#define ICR_ALL_BUT_SELF (3u << 18)     /* destination shorthand */
#define XAPIC_DEST_SHIFT 24             /* ICR_HI destination field */
#define LVT_MASKED      (1u << 16)
#define LVT_PERIODIC    (1u << 17)
#define DCR_DIV16       0x3             /* timer divides the bus clock by 16 */

#define PIT_HZ          1193182         /* PIT input clock */
#define PIT_CH2         0x42            /* channel 2 data port */
#define PIT_CMD         0x43            /* mode/command port */
#define PIT_CMD_CH2_MODE0 0xB0          /* channel 2, lobyte/hibyte, mode 0 */
#define PORT_B          0x61            /* system control port B */
#define PORT_B_GATE2    0x01            /* channel 2 gate */
#define PORT_B_SPEAKER  0x02            /* speaker data enable */
#define PORT_B_OUT2     0x20            /* channel 2 output (read) */
#define CALIB_MS        10

#define PIC1_CMD        0x20            /* legacy 8259 PICs */
#define PIC1_DATA       0x21
#define PIC2_CMD        0xA0
#define PIC2_DATA       0xA1
#define PIC_ICW1_INIT   0x11            /* edge, cascade, ICW4 follows */
#define PIC_ICW3_MASTER 0x04            /* slave on IRQ 2 */
#define PIC_ICW3_SLAVE  0x02            /* slave identity */
#define PIC_ICW4_8086   0x01
#define PIC_MASK_ALL    0xFF

#define INIT_DELAY_US   10000           /* INIT to first SIPI (Intel MP spec) */
#define SIPI_DELAY_US   200             /* between the two SIPIs */

static bool x2apic;
static bool nmi_stop;                   /* NMIs sent to stop the other cores (a panic, an exit) */
static bool ready;                      /* lapic_setup done: CPU_LAPIC usable */
static uint64_t tsc_per_us = 1;
static uint64_t tsc_start;
static uint32_t timer_count;            /* LAPIC timer ticks per period */

/* Read LAPIC register reg. */
static uint32_t rd(uint32_t reg)
{
    if (x2apic)
        return (uint32_t)rdmsr(X2APIC_MSR_BASE + reg / 16);
    return *(volatile uint32_t *)(CPU_LAPIC + reg);
}

/* Write LAPIC register reg. */
static void wr(uint32_t reg, uint32_t v)
{
    if (x2apic)
        wrmsr(X2APIC_MSR_BASE + reg / 16, v);
    else
        *(volatile uint32_t *)(CPU_LAPIC + reg) = v;
}

/* Send an interrupt command lo to destination dest (ignored with a shorthand). */
static void send_icr(uint32_t dest, uint32_t lo)
{
    mword flags = irq_save();
    if (x2apic) {
        /* One MSR write; a fence orders earlier stores before the IPI. */
        __asm__ __volatile__("mfence" ::: "memory");
        wrmsr(X2APIC_MSR_BASE + LAPIC_ICR_LO / 16, (uint64_t)dest << 32 | lo);
    } else {
        while (rd(LAPIC_ICR_LO) & ICR_PENDING)
            cpu_pause();
        wr(LAPIC_ICR_HI, dest << XAPIC_DEST_SHIFT);
        wr(LAPIC_ICR_LO, lo);
        while (rd(LAPIC_ICR_LO) & ICR_PENDING)
            cpu_pause();
    }
    irq_restore(flags);
}

/* Enable this core's LAPIC, in x2APIC mode if chosen (idempotent). */
void lapic_enable_mode(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE) | APIC_BASE_EN;
    if (x2apic)
        base |= APIC_BASE_EXTD;
    wrmsr(MSR_APIC_BASE, base);
}

/* Wait for ms milliseconds with PIT channel 2 in one-shot mode (ms <= 54). */
static void pit_wait_ms(unsigned ms)
{
    uint32_t count = PIT_HZ * ms / 1000;
    uint8_t b = inb(PORT_B) & ~PORT_B_SPEAKER;

    outb(PORT_B, b & ~PORT_B_GATE2);
    outb(PIT_CMD, PIT_CMD_CH2_MODE0);
    outb(PIT_CH2, count & 0xFF);
    outb(PIT_CH2, count >> 8);
    /* Raising the gate starts the count; OUT2 goes high at zero. */
    outb(PORT_B, b | PORT_B_GATE2);
    while (!(inb(PORT_B) & PORT_B_OUT2))
        cpu_pause();
}

/* Remap the legacy PICs away from the exception vectors and mask them all. */
static void pic_disable(void)
{
    outb(PIC1_CMD, PIC_ICW1_INIT);
    outb(PIC2_CMD, PIC_ICW1_INIT);
    outb(PIC1_DATA, VEC_PIC_BASE);
    outb(PIC2_DATA, VEC_PIC_BASE + 8);
    outb(PIC1_DATA, PIC_ICW3_MASTER);
    outb(PIC2_DATA, PIC_ICW3_SLAVE);
    outb(PIC1_DATA, PIC_ICW4_8086);
    outb(PIC2_DATA, PIC_ICW4_8086);
    outb(PIC1_DATA, PIC_MASK_ALL);
    outb(PIC2_DATA, PIC_MASK_ALL);
}

/* Whether the CPU has x2APIC mode (CPUID). */
static bool has_x2apic(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    return r[2] & CPUID_1_ECX_X2APIC;
}

/* Test (boot word "x2apic-preset"): switch this core's LAPIC to x2APIC mode as firmware that
   leaves it on would, before the kernel chooses its mode; nothing without x2APIC. */
void lapic_preset_x2apic(void)
{
    if (has_x2apic())
        wrmsr(MSR_APIC_BASE, rdmsr(MSR_APIC_BASE) | APIC_BASE_EN | APIC_BASE_EXTD);
}

/*
 * BSP, once, before the cores are counted (smp_discover parks what the mode cannot address):
 * choose x2APIC mode if the CPU has it and allow_x2apic, or if the firmware left the LAPIC in
 * x2APIC mode (IA32_APIC_BASE.EXTD set): leaving it takes disabling the LAPIC first, and
 * cores with APIC ids above 254 can only be reached in x2APIC mode ("nox2apic" is ignored).
 */
void lapic_choose(bool allow_x2apic)
{
    bool firmware = (rdmsr(MSR_APIC_BASE) & (APIC_BASE_EN | APIC_BASE_EXTD)) ==
                    (APIC_BASE_EN | APIC_BASE_EXTD);
    x2apic = firmware || (allow_x2apic && has_x2apic());
    if (firmware && !allow_x2apic)
        printk("tessera: nox2apic ignored: the firmware left the LAPIC in x2APIC mode\n");
}

/* BSP, once, after lapic_choose: set up the LAPIC in the chosen mode, calibrate TSC and LAPIC
   timer against the PIT. */
void lapic_setup(void)
{
    pic_disable();
    lapic_enable_mode();
    wr(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
    wr(LAPIC_TIMER_DCR, DCR_DIV16);
    wr(LAPIC_LVT_TIMER, LVT_MASKED);
    wr(LAPIC_TIMER_ICR, ~0u);
    uint64_t t0 = rdtsc();
    pit_wait_ms(CALIB_MS);
    uint64_t t1 = rdtsc();
    uint32_t elapsed = ~0u - rd(LAPIC_TIMER_CCR);
    wr(LAPIC_TIMER_ICR, 0);
    tsc_per_us = MAX((t1 - t0) / (CALIB_MS * 1000), 1UL);
    timer_count = MAX(elapsed / CALIB_MS * 1000 / TIMER_HZ, 1u);
    tsc_start = t1;
    ready = true;
}

/* This core: enable the LAPIC, set the spurious vector, start the periodic timer. */
void lapic_init(void)
{
    lapic_enable_mode();
    wr(LAPIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
    wr(LAPIC_TIMER_DCR, DCR_DIV16);
    wr(LAPIC_LVT_TIMER, LVT_PERIODIC | VEC_TIMER);
    wr(LAPIC_TIMER_ICR, timer_count);
}

/* Signal end of interrupt. */
void lapic_eoi(void)
{
    wr(LAPIC_EOI, 0);
}

/* Is vector in service at this core's LAPIC (an interrupt delivered, not yet acknowledged)?
   An exception vector is only if it came as an interrupt message. False before lapic_setup. */
bool lapic_in_service(unsigned vector)
{
    if (!ready)
        return false;
    return (rd(LAPIC_ISR + (vector / 32) * LAPIC_REG_STEP) >> (vector % 32)) & 1;
}

/* Were NMIs sent to stop the cores (lapic_nmi_others)? Any other NMI is a stray message. */
bool lapic_nmi_stopping(void)
{
    return __atomic_load_n(&nmi_stop, __ATOMIC_SEQ_CST);
}

/* This core's APIC id, read from the LAPIC (start-up, checks; this_cpu with PERCPU=lapic, hash). */
uint32_t lapic_id(void)
{
    uint32_t v = rd(LAPIC_ID);
    return x2apic ? v : v >> XAPIC_DEST_SHIFT;
}

/* Is the LAPIC in x2APIC mode? */
bool lapic_x2apic(void)
{
    return x2apic;
}

/* Send a fixed IPI with vector to the core with apic_id. */
void lapic_send_ipi(uint32_t apic_id, uint8_t vector)
{
    send_icr(apic_id, ICR_FIXED | ICR_ASSERT | vector);
}

/* Send INIT, then two STARTUP IPIs for the trampoline at page (physical / 4 KiB). */
void lapic_start_ap(uint32_t apic_id, uint8_t page)
{
    send_icr(apic_id, ICR_INIT | ICR_ASSERT);
    delay_us(INIT_DELAY_US);
    send_icr(apic_id, ICR_STARTUP | page);
    delay_us(SIPI_DELAY_US);
    send_icr(apic_id, ICR_STARTUP | page);
}

/* Send an NMI to all other cores. */
void lapic_nmi_others(void)
{
    __atomic_store_n(&nmi_stop, true, __ATOMIC_SEQ_CST);
    if (!ready)
        return;
    send_icr(0, ICR_NMI | ICR_ASSERT | ICR_ALL_BUT_SELF);
}

/* Busy-wait for us microseconds (TSC; pause in the loop). */
void delay_us(uint64_t us)
{
    uint64_t end = rdtsc() + us * tsc_per_us;
    while (rdtsc() < end)
        cpu_pause();
}

/* Microseconds since calibration. */
uint64_t time_us(void)
{
    return (rdtsc() - tsc_start) / tsc_per_us;
}
