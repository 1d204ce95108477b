/* SMP: MADT discovery, AP start-up through the trampoline, cross-core calls, panic stop. */
#include "smp.h"
#include "virt.h"
#include "tlb.h"
#include "bootinfo.h"
#include "cpu.h"
#include "kmem.h"
#include "kstring.h"
#include "lapic.h"
#include "panic.h"
#include "printk.h"
#include "spinlock.h"
#include "trap.h"
#include "selftest.h"
#include "sched.h"
#include "xregs.h"

#define BIOS_EBDA_PTR       0x40E           /* BDA: EBDA segment */
#define EBDA_SEARCH_LEN     1024
#define BIOS_ROM_START      0xE0000         /* RSDP search area (ACPI spec 5.2.5.1) */
#define BIOS_ROM_LEN        0x20000
#define IDENT_LIMIT         (4UL << 30)     /* boot root identity map */
#define AP_START_TIMEOUT_US 3000000
#define CALL_TIMEOUT_US     3000000
#define DEBUG_EXIT_PORT     0x501           /* QEMU isa-debug-exit */
#define DEBUG_EXIT_FAIL     1               /* QEMU exits with (1 << 1) | 1 = 3 */
#define CPUID_LEAF_TOPO     0xB             /* x2APIC id in EDX */
#define LAPIC_DEFAULT_BASE  0xFEE00000      /* architectural LAPIC MMIO base */

struct acpi_cpus smp_cpus;
struct acpi_mcfg smp_mcfg;
struct acpi_dmar smp_dmar;
int smp_dmar_status = ACPI_E_NOTABLE;
unsigned smp_bsp;
static unsigned online;
static struct spinlock call_lock = SPINLOCK_INIT;
extern uint64_t ap_boot_root, ap_boot_stack;
extern const char tramp_start[], tramp_root[], tramp_end[];
extern const uint16_t tramp_fixups[], tramp_fixups_end[];
paddr_t smp_tramp_pa;

struct rsdp_copy {
    const void *copy;                       /* multiboot2's RSDP copy, "at" address 0 */
    size_t len;
};

/* ACPI map function on the boot root: identity below 4 GiB, the RSDP copy at 0. */
static const void *map_ident(paddr_t pa, size_t len, void *ctx)
{
    struct rsdp_copy *rc = ctx;
    if (pa == 0)
        return len <= rc->len ? rc->copy : NULL;
    return pa + len <= IDENT_LIMIT && pa + len > pa ? phys_ident(pa) : NULL;
}

/* Physical address of the RSDP from the EBDA or BIOS ROM area, 0 if none. */
static paddr_t find_rsdp(void)
{
    paddr_t ebda = (paddr_t)*(volatile uint16_t *)phys_ident(BIOS_EBDA_PTR) << 4;
    long off;
    if (ebda && (off = acpi_find_rsdp(phys_ident(ebda), EBDA_SEARCH_LEN)) >= 0)
        return ebda + off;
    if ((off = acpi_find_rsdp(phys_ident(BIOS_ROM_START), BIOS_ROM_LEN)) >= 0)
        return BIOS_ROM_START + off;
    return 0;
}

/* APIC id of the running core from CPUID (boot only, before the LAPIC is mapped). */
static uint32_t boot_apic_id(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] >= CPUID_LEAF_TOPO) {
        cpuid(CPUID_LEAF_TOPO, 0, r);
        if (r[1])
            return r[3];
    }
    cpuid(1, 0, r);
    return r[1] >> 24;
}

/* Print len bytes at physical pa as a C array (command-line word "acpi-dump"). */
static void dump_table(const char *name, paddr_t pa, size_t len)
{
    const uint8_t *p = phys_ident(pa);
    printk("/* %s at physical 0x%lx, %zu bytes */\nstatic const uint8_t %s[] = {", name, pa, len,
           name);
    for (size_t i = 0; i < len; i++)
        printk("%s0x%02x,", i % 12 ? " " : "\n    ", p[i]);
    printk("\n};\n");
}

/* Dump RSDP, root table and MADT, to record real firmware tables for host tests. */
static void dump_acpi(paddr_t rsdp)
{
    const uint8_t *r = phys_ident(rsdp);
    size_t rlen = r[15] >= 2 ? *(const uint32_t *)(r + 20) : 20;
    dump_table("rsdp", rsdp, rlen);
    dump_table("root", smp_cpus.root_pa, *(const uint32_t *)phys_ident(smp_cpus.root_pa + 4));
    dump_table("madt", smp_cpus.madt_pa, *(const uint32_t *)phys_ident(smp_cpus.madt_pa + 4));
}

/* Find the cores and the BSP's index, and read MCFG and DMAR (boot root: ACPI tables
 * identity-mapped; acpi-dump needs an RSDP found in memory, i.e. a loader without an RSDP
 * copy such as multiboot v1). */
void smp_discover(void)
{
    struct rsdp_copy rc = { boot_info.rsdp_copy, boot_info.rsdp_copy_len };
    /* The loader's copy first: UEFI has no EBDA or BIOS area to search. */
    paddr_t rsdp = rc.len ? 0 : find_rsdp();
    uint32_t me = boot_apic_id();
    int r = rsdp || rc.len ? acpi_parse(rsdp, map_ident, &rc, NUM_CPU, &smp_cpus) : ACPI_E_RSDP;

    if (r != ACPI_OK || smp_cpus.count == 0) {
        printk("tessera: ACPI/MADT unusable (%d): running on the boot core only\n", r);
        smp_cpus =
            (struct acpi_cpus){ .count = 1, .apic_id = { me }, .lapic_base = LAPIC_DEFAULT_BASE };
    }
    else {
        if (rsdp && cmdline_has("acpi-dump"))
            dump_acpi(rsdp);
        acpi_parse_mcfg(smp_cpus.root_pa, smp_cpus.root_xsdt, map_ident, &rc, &smp_mcfg);
        smp_dmar_status =
            acpi_parse_dmar(smp_cpus.root_pa, smp_cpus.root_xsdt, map_ident, &rc, &smp_dmar);
    }
    if (!lapic_x2apic())
        acpi_park_above(&smp_cpus, XAPIC_MAX_ID, me);
    int bsp = acpi_keep_core(&smp_cpus, me);     /* listed beyond NUM_CPU: it takes the last slot */
    if (bsp < 0)
        panic("smp: boot core (APIC id %u) is not among the %u MADT cores", me, smp_cpus.count);
    smp_bsp = (unsigned)bsp;
    printk("tessera: MADT lists %u usable cores (%u skipped), LAPIC at 0x%lx\n",
           smp_cpus.count + smp_cpus.excess, smp_cpus.skipped, smp_cpus.lapic_base);
    if (smp_cpus.excess)
        printk("tessera: %u cores beyond NUM_CPU=%d are left parked\n", smp_cpus.excess, NUM_CPU);
    if (smp_cpus.unreachable)
        printk("tessera: %u cores with APIC ids above %u are left parked (xAPIC mode)\n",
               smp_cpus.unreachable, XAPIC_MAX_ID);
}

/* Keep only the boot core (no page for the trampoline): it becomes core 0. */
static void boot_core_only(void)
{
    smp_cpus.apic_id[0] = smp_cpus.apic_id[smp_bsp];
    smp_cpus.count = 1;
    smp_bsp = 0;
}

/* Copy the AP trampoline to the lowest free page in [TRAMPOLINE_LO, TRAMPOLINE_LIMIT) that holds
 * no module or loader data, fix up its addresses, tell it the boot root (boot root only, after
 * the last use of loader data). Without such a page only the boot core runs. */
void smp_install_trampoline(void)
{
    _Static_assert(TRAMPOLINE_LIMIT <= LOW_RESERVED, "the trampoline page is never handed out");
    if (smp_cpus.count == 1)
        return;
    if (!boot_free_page(&boot_info, TRAMPOLINE_LO, TRAMPOLINE_LIMIT, &smp_tramp_pa)) {
        printk("tessera: no free page below 0x%lx for the AP trampoline: "
               "running on the boot core only\n", TRAMPOLINE_LIMIT);
        boot_core_only();
        return;
    }
    char *t = phys_ident(smp_tramp_pa);
    memcpy(t, tramp_start, tramp_end - tramp_start);
    for (const uint16_t *f = tramp_fixups; f < tramp_fixups_end; f++)
        *(uint32_t *)(t + *f) += (uint32_t)smp_tramp_pa;
    *(uint32_t *)(t + (tramp_root - tramp_start)) = (uint32_t)kmem_boot_root();
    printk("tessera: AP trampoline at 0x%lx\n", smp_tramp_pa);
}

/* This core: GDT/TSS/IDT, complete CR0/CR4/EFER/XCR0 (cpu.c, with SMEP/SMAP), PCIDs, syscall
 * MSRs and PAT, LAPIC and timer; print its line and mark it online. */
void smp_setup_core(void)
{
    cpu_tables_init();
    cpu_control_init();
    percpu_bind();              /* after the segment reloads and the zeroed GS base */
    struct cpu_local *c = this_cpu();
    virt_init_cpu();
    tlb_pcid_init();
    cpu_user_init();
    lapic_init();
    printk("core %u: id %u (core-local), APIC id %u, data page %lx local, %lx global\n",
           c->id, cpu_id(), lapic_id(), (vaddr_t)CPU_LOCAL, (vaddr_t)c->self);
    __atomic_add_fetch(&online, 1, __ATOMIC_RELEASE);
    __atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
}

/* Entry of every AP on its own root and stack (from ap_entry64). */
noreturn void ap_main(void)
{
    smp_setup_core();
    sched_run();
}

/* Start core c and wait until it is online; false on timeout. */
static bool start_ap(unsigned c)
{
    struct cpu_local *r = cpu_remote(c);
    uint64_t t0 = time_us();

    ap_boot_root = r->root;
    ap_boot_stack = CORE_STACK_TOP(c);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    lapic_start_ap(r->apic_id, smp_tramp_pa / PAGE_SIZE);
    while (!__atomic_load_n(&r->online, __ATOMIC_ACQUIRE))
        if (time_us() - t0 > AP_START_TIMEOUT_US)
            return false;
        else
            cpu_pause();
    return true;
}

/* Start every other core in MADT order; returns the number of cores online. */
unsigned smp_boot_aps(void)
{
    for (unsigned c = 0; c < smp_cpus.count; c++)
        cpu_remote(c)->apic_id = smp_cpus.apic_id[c];
    for (unsigned c = 0; c < smp_cpus.count; c++)
        if (c != smp_bsp && !start_ap(c))
            /* A late AP would take the next core's root: stop here. */
            panic("smp: core %u (APIC id %u) did not start", c, smp_cpus.apic_id[c]);
    return online;
}

/* Number of cores online. */
unsigned smp_online(void)
{
    return __atomic_load_n(&online, __ATOMIC_ACQUIRE);
}

/* Run fn(arg) on core c (through an IPI unless c is this core); false on timeout. */
bool smp_call(unsigned c, cpu_call_fn fn, void *arg)
{
    struct cpu_local *r = cpu_remote(c);
    bool done = true;

    if (c == cpu_id()) {
        fn(arg);
        return true;
    }
    spin_lock(&call_lock);
    r->call_arg = arg;
    __atomic_store_n(&r->call_fn, fn, __ATOMIC_RELEASE);
    lapic_send_ipi(r->apic_id, VEC_IPI_CALL);
    /* The target clears call_fn when fn has returned. */
    for (uint64_t t0 = time_us(); __atomic_load_n(&r->call_fn, __ATOMIC_ACQUIRE);) {
        if (time_us() - t0 > CALL_TIMEOUT_US) {
            done = false;
            break;
        }
        cpu_pause();
    }
    spin_unlock(&call_lock);
    return done;
}

/* Stop the other cores and leave the machine with the failure status. */
noreturn void arch_panic_stop(void)
{
    cpu_cli();
    lapic_nmi_others();
    outw(DEBUG_EXIT_PORT, DEBUG_EXIT_FAIL);
    cpu_halt_forever();
}

/* Leave QEMU through isa-debug-exit: pass -> status 1, fail -> status 3. */
noreturn void arch_exit(bool pass)
{
    cpu_cli();
    if (!pass)
        lapic_nmi_others();
    outw(DEBUG_EXIT_PORT, pass ? 0 : DEBUG_EXIT_FAIL);
    cpu_halt_forever();
}
