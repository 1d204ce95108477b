/*
 * How a core finds its own data (lecture slides "Per-Core Data Structures", "Determining
 * Core ID"): the lab switch PERCPU=name (mk/lab.conf) picks the body of this_cpu()
 * (cpu_local.h), the one accessor every other file uses. Values of PERCPU_VARIANT:
 *
 *   map     the page at CPU_LOCAL, mapped in each core's own root (default): one constant
 *   lapic   percpu_by_apic[LAPIC ID register] (xAPIC MMIO at CPU_LAPIC, or the x2APIC MSR)
 *   cpuid   percpu_by_apic[CPUID leaf 1 EBX[31:24]] (initial APIC id, 8 bits)
 *   cpuidb  percpu_by_apic[CPUID leaf 0xB EDX] (x2APIC id)
 *   rdpid   cpu_remote(IA32_TSC_AUX) read by RDPID, else RDTSCP (TSC_AUX = core id, written
 *           at boot); a CPU with neither falls back to the cpuid variant's lookup
 *   gs      %gs:0 (GS base = the core's page; swapgs on every entry from and exit to user mode)
 *   hash    an open-addressing hash table keyed by the LAPIC ID (the slide's Linux pattern)
 *
 * Whatever the variant, the syscall entry's scratch word, the kernel stack, the IST stacks
 * and the TSS (with the I/O bitmap that must follow it) stay at their core-local addresses;
 * the gs variant keeps the syscall entry's scratch word in the GS page instead.
 * This header is read by the assembler too (entry.S).
 */
#pragma once

#define PERCPU_MAP      0
#define PERCPU_LAPIC    1
#define PERCPU_CPUID    2
#define PERCPU_CPUIDB   3
#define PERCPU_RDPID    4
#define PERCPU_GS       5
#define PERCPU_HASH     6

/* The lab switch PERCPU=v (mk/lab.conf) arrives as the macro PERCPU_v. */
#if defined(PERCPU_lapic)
#define PERCPU_VARIANT  PERCPU_LAPIC
#elif defined(PERCPU_cpuid)
#define PERCPU_VARIANT  PERCPU_CPUID
#elif defined(PERCPU_cpuidb)
#define PERCPU_VARIANT  PERCPU_CPUIDB
#elif defined(PERCPU_rdpid)
#define PERCPU_VARIANT  PERCPU_RDPID
#elif defined(PERCPU_gs)
#define PERCPU_VARIANT  PERCPU_GS
#elif defined(PERCPU_hash)
#define PERCPU_VARIANT  PERCPU_HASH
#else
#define PERCPU_VARIANT  PERCPU_MAP
#endif

#define PERCPU_APIC_SLOTS 256           /* percpu_by_apic: APIC ids 0..255 */
#define PERCPU_HASH_SLOTS 256           /* power of two, at least 2 x NUM_CPU */
