/*
 * The tables behind the lookup variants of this_cpu() (percpu.h, cpu_local.h): each core enters
 * its own data page under its key once, at boot (percpu_bind), before it uses this_cpu().
 */
#include "cpu_local.h"
#include "panic.h"
#include "printk.h"

struct cpu_local *percpu_by_apic[PERCPU_APIC_SLOTS];
struct percpu_slot percpu_hash[PERCPU_HASH_SLOTS];
bool percpu_rdpid_ok, percpu_rdtscp_ok;
char percpu_gs_order;

/* Enter c under APIC id a in percpu_by_apic; panics on an id the table cannot hold. */
static unused void by_apic_insert(uint32_t a, struct cpu_local *c)
{
    if (a >= PERCPU_APIC_SLOTS)
        panic("percpu: APIC id %u does not fit the %u-slot table", a, PERCPU_APIC_SLOTS);
    percpu_by_apic[a] = c;
}

/* Enter c under APIC id a in percpu_hash: claim the first empty slot of a's probe sequence by
 * CAS (cores bind concurrently; each looks up only its own key, found only after it entered
 * it). */
static unused void hash_insert(uint32_t a, struct cpu_local *c)
{
    for (uint32_t i = percpu_hash_index(a), n = 0; n < PERCPU_HASH_SLOTS; n++) {
        struct percpu_slot *s = &percpu_hash[(i + n) % PERCPU_HASH_SLOTS];
        uint32_t empty = 0;
        if (__atomic_compare_exchange_n(&s->key, &empty, a + 1, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE) || empty == a + 1) {
            __atomic_store_n(&s->cpu, c, __ATOMIC_RELEASE);
            return;
        }
    }
    panic("percpu: hash table full");
}

/* This core, first thing on its own root: enter its data page (CPU_LOCAL's self) where the
 * variant's this_cpu() will look for it; PERCPU=gs loads the GS base instead. */
void percpu_bind(void)
{
    struct cpu_local *c = cpu_local_mapped()->self;
    (void)c;
#if PERCPU_VARIANT == PERCPU_LAPIC || PERCPU_VARIANT == PERCPU_HASH
    lapic_enable_mode();                /* an AP's LAPIC answers in the chosen mode from here */
#if PERCPU_VARIANT == PERCPU_LAPIC
    by_apic_insert(lapic_id(), c);
#else
    hash_insert(lapic_id(), c);
#endif
#elif PERCPU_VARIANT == PERCPU_CPUID
    by_apic_insert(percpu_cpuid_apic(), c);
#elif PERCPU_VARIANT == PERCPU_CPUIDB
    uint32_t r[4];
    cpuid(0xB, 0, r);
    by_apic_insert(r[3], c);
#elif PERCPU_VARIANT == PERCPU_RDPID
    uint32_t r[4];
    cpuid(0, 0, r);
    bool leaf7 = r[0] >= 7;
    cpuid(7, 0, r);
    bool rdpid = leaf7 && (r[2] & CPUID_7_ECX_RDPID);
    cpuid(CPUID_LEAF_EXT, 0, r);
    bool rdtscp = r[3] & CPUID_EXT_EDX_RDTSCP;
    if (rdpid || rdtscp)
        wrmsr(MSR_TSC_AUX, c->id);
    by_apic_insert(percpu_cpuid_apic(), c);     /* the fallback's table, filled on every CPU */
    static bool detected;                       /* the BSP binds before any AP starts */
    if (!detected) {
        percpu_rdpid_ok = rdpid;
        percpu_rdtscp_ok = rdtscp;
        detected = true;
        printk("tessera: this_cpu() reads the core id with %s\n",
               rdpid ? "RDPID" : rdtscp ? "RDTSCP" : "CPUID leaf 1 (no RDPID, no RDTSCP)");
    }
#elif PERCPU_VARIANT == PERCPU_GS
    wrmsr(MSR_GS_BASE, (vaddr_t)c);
#endif
}
