/*
 * Core-local data (lecture slide "Core-local Mappings").
 *
 * Every core's data page is mapped at the same virtual address CPU_LOCAL in
 * that core's own root table, so the hot path finds the core id at a constant
 * address: no GS base, no LAPIC read, no cpuid. The same page is also mapped
 * at CPU_GLOBAL + id * 4 KiB on all cores (cpu_remote) so other cores can
 * read it. New fields go at the end; the struct may grow to 4 KiB.
 */
#pragma once
#include "layout.h"
#include "types.h"
#include "compiler.h"
#include "cpu.h"
#include "syscall.h"
#include "trap.h"
#include "percpu.h"
#include "lapic.h"

struct pd;
struct ec;

#define CPU_LOCAL_USER_RSP  8           /* offsetof(struct cpu_local, user_rsp): syscall entry */
#define CPU_LOCAL_FRAME_END 16          /* offsetof(struct cpu_local, frame_end): syscall entry */
#define CPU_LOCAL_STACK_TOP 24          /* PTSYNC=shared: offsetof(.., stack_top): syscall entry */

/* 64-bit task state segment (Intel SDM Vol. 3, 8.7). */
struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];        /* stack for CPL 0..2 on privilege change */
    uint64_t reserved1;
    uint64_t ist[7];        /* interrupt stack table 1..7 */
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;    /* offset of the I/O permission bitmap */
} packed;

typedef void (*cpu_call_fn)(void *arg);

struct cpu_local {
    struct cpu_local *self;         /* this page through the global alias */
    mword user_rsp;                 /* syscall entry: user rsp until it is in the frame */
    vaddr_t frame_end;              /* syscall entry: end of the running EC's regs (sched.c) */
#ifdef PTSYNC_shared
    vaddr_t stack_top;              /* syscall entry: top of this core's stack, CORE_STACK_TOP */
#endif
    uint32_t id;                    /* core id = index of the core in the MADT */
    uint32_t apic_id;               /* LAPIC id (x2APIC id when in x2APIC mode) */
    volatile uint32_t online;       /* set by the core when it finished start-up */
    uint32_t pad0;
    volatile uint64_t ipi_count;    /* IPIs handled by this core (written only by it) */
    volatile uint64_t ticks;        /* LAPIC timer interrupts taken */
    volatile uint64_t scratch;      /* free word for self-checks */
    paddr_t root;                   /* physical address of this core's root table (PML4) */
    paddr_t pd_phys;                /* this core's private PD for PML4 511 / PDPT 510 */
    cpu_call_fn volatile call_fn;   /* smp_call: function to run, cleared when done */
    void *volatile call_arg;
    vaddr_t idt;                    /* this core's IDT (a pool page) */
    vaddr_t ist[IST_STACKS];        /* top of the stack of TSS IST slot i + 1: CPU_IST_TOP(i + 1) */
    uint64_t gdt[GDT_ENTRIES] aligned(8);
    struct pd *volatile pd;         /* PD whose root CR3 holds (lecture: Pd::current) */
    struct pd *volatile pd_leaving; /* make_current: the previous PD, while CR3 may still hold
                                       its root after pd names the next (else NULL) */
    struct ec *ec;                  /* EC running on this core; NULL while idle */
    volatile uint64_t tlb_reqs;     /* shootdown requests sent to this core (senders add 1) */
    volatile uint64_t tlb_acks;     /* highest request answered by a check made after it */
    bool tlb_hazard;                /* TLB_ACK=deferred: answered, flush still due (tlb.c) */
    struct core_counters counters;  /* event counters (SYS_COUNTERS), written only by this core */
#ifndef PTSYNC_shared
    struct tss tss aligned(16);     /* last: the I/O bitmap at PD_IOBMP follows this page */
#endif
};
_Static_assert(__builtin_offsetof(struct cpu_local, user_rsp) == CPU_LOCAL_USER_RSP,
               "entry.S offset");
_Static_assert(__builtin_offsetof(struct cpu_local, frame_end) == CPU_LOCAL_FRAME_END,
               "entry.S offset");
#ifdef PTSYNC_shared
_Static_assert(__builtin_offsetof(struct cpu_local, stack_top) == CPU_LOCAL_STACK_TOP,
               "entry.S offset");
_Static_assert(sizeof(struct tss) <= CPU_TSS_STRIDE, "a TSS fits its slot");
#if PERCPU_VARIANT != PERCPU_GS
#error "PTSYNC=shared has no core-local slot: this_cpu() and the syscall entry need PERCPU=gs"
#endif
#endif

/* The core's data page at CPU_LOCAL in its own root: what the hardware structures that must sit
 * at one address per core use (TSS and I/O bitmap, syscall scratch), whatever PERCPU says.
 * PTSYNC=shared has no such slot: the page through its global alias, found from the stack
 * pointer (on the core's stack, in the core's CPU_AREA). */
static inline struct cpu_local *cpu_local_mapped(void)
{
#ifdef PTSYNC_shared
    vaddr_t sp;
    __asm__ __volatile__("mov %%rsp, %0" : "=r"(sp));
    return (struct cpu_local *)(CPU_GLOBAL + (sp - CPU_AREA_BASE) / CPU_AREA_SIZE * PAGE_SIZE);
#else
    return (struct cpu_local *)CPU_LOCAL;
#endif
}

/* Core c's TSS: in its data page, so at CPU_LOCAL in its own root; PTSYNC=shared: its slot of
 * the TSS array at CPU_TSS, which every root maps. */
static inline struct tss *cpu_tss(struct cpu_local *c)
{
#ifdef PTSYNC_shared
    return (struct tss *)(CPU_TSS + (vaddr_t)c->id * CPU_TSS_STRIDE);
#else
    return &c->tss;
#endif
}

/* percpu.c: the tables the lookup variants read (written once per core at boot). */
extern struct cpu_local *percpu_by_apic[PERCPU_APIC_SLOTS];
struct percpu_slot {
    uint32_t key;                   /* APIC id + 1 (0: empty) */
    struct cpu_local *cpu;
};
extern struct percpu_slot percpu_hash[PERCPU_HASH_SLOTS];
extern bool percpu_rdpid_ok, percpu_rdtscp_ok;
extern char percpu_gs_order;            /* PERCPU=gs: never written, orders the %gs:0 load */
void percpu_bind(void);
void percpu_load_user_gs(uint16_t sel);     /* entry.S, PERCPU=gs only */

/* Home slot of APIC id a in percpu_hash (multiplicative hash). */
static inline uint32_t percpu_hash_index(uint32_t a)
{
    return (a * 0x9E3779B1u) >> (32 - __builtin_ctz(PERCPU_HASH_SLOTS));
}

/* The data of the core with APIC id a, from percpu_hash (linear probing; a core that is not in
 * the table traps with #UD: it used this_cpu() before percpu_bind). */
static inline struct cpu_local *percpu_hash_find(uint32_t a)
{
    for (uint32_t i = percpu_hash_index(a), n = 0; n < PERCPU_HASH_SLOTS; n++) {
        const struct percpu_slot *s = &percpu_hash[(i + n) % PERCPU_HASH_SLOTS];
        if (s->key == a + 1)
            return s->cpu;
        if (!s->key)
            break;
    }
    __builtin_trap();
}

/* CPUID leaf 1 EBX[31:24]: the initial APIC id. */
static inline uint32_t percpu_cpuid_apic(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    return r[1] >> 24;
}

/* The running core's data: the one accessor; PERCPU (percpu.h) chooses its body. */
static inline struct cpu_local *this_cpu(void)
{
#if PERCPU_VARIANT == PERCPU_MAP
    return cpu_local_mapped();
#elif PERCPU_VARIANT == PERCPU_LAPIC
    return percpu_by_apic[lapic_id() % PERCPU_APIC_SLOTS];
#elif PERCPU_VARIANT == PERCPU_CPUID
    return percpu_by_apic[percpu_cpuid_apic()];
#elif PERCPU_VARIANT == PERCPU_CPUIDB
    uint32_t r[4];
    cpuid(0xB, 0, r);
    return percpu_by_apic[r[3] % PERCPU_APIC_SLOTS];
#elif PERCPU_VARIANT == PERCPU_RDPID
    uint64_t aux;
    if (likely(percpu_rdpid_ok)) {
        __asm__ __volatile__("rdpid %0" : "=r"(aux));
    } else if (percpu_rdtscp_ok) {
        uint32_t lo, hi, c;
        __asm__ __volatile__("rdtscp" : "=a"(lo), "=d"(hi), "=c"(c));
        aux = c;
    } else {
        return percpu_by_apic[percpu_cpuid_apic()];
    }
    return (struct cpu_local *)(CPU_GLOBAL + (aux % NUM_CPU) * PAGE_SIZE);
#elif PERCPU_VARIANT == PERCPU_GS
    /* self at %gs:0. The memory input keeps the load after the wrmsr that set the GS base (a
     * "memory" clobber) and still lets the compiler reuse it between such barriers. */
    struct cpu_local *c;
    __asm__("mov %%gs:0, %0" : "=r"(c) : "m"(percpu_gs_order));
    return c;
#elif PERCPU_VARIANT == PERCPU_HASH
    return percpu_hash_find(lapic_id());
#else
#error "PERCPU: unknown variant (percpu.h)"
#endif
}

/* The running core's id (MADT index): one load from a constant address. */
static inline unsigned cpu_id(void)
{
    return this_cpu()->id;
}

/* Core c's data page through the global alias (valid on every core). */
static inline struct cpu_local *cpu_remote(unsigned c)
{
    return (struct cpu_local *)(CPU_GLOBAL + (vaddr_t)c * PAGE_SIZE);
}

_Static_assert(sizeof(struct cpu_local) <= PAGE_SIZE, "core-local data fits its page");
