/*
 * Boot sequence of the boot core (BSP). APs start in ap_main (arch/x86_64/smp.c).
 *
 * Command line words: "selftest" runs the self-checks and leaves QEMU with the
 * result (with a root task: fails at once if a check failed, else the root's
 * exit code decides); "fault-test" makes a deliberate kernel page fault; "fault-test-ist"
 * overflows the NMI's IST stack (its guard page must turn that into a double fault);
 * "nox2apic" keeps the LAPIC in xAPIC mode (unless the firmware left it in x2APIC mode);
 * "x2apic-preset" (test) first puts it in x2APIC mode as such firmware would; "tables-far"
 * keeps the linear map's pool small and takes the PDs' page tables from RAM outside it
 * (arch/x86_64/kmem.c).
 */
#include "bootinfo.h"
#include "arch.h"
#include "kcov.h"
#include "panic.h"
#include "pd.h"
#include "printk.h"
#include "root.h"
#include "sched.h"
#include "selftest.h"

#ifndef LAB_CHANGED
#define LAB_CHANGED ""          /* mk/lab.conf: the lab switches that differ from their default */
#endif

void serial_init(void);
noreturn void kernel_main(uint32_t magic, paddr_t info);

/* Panic if any core's root maps a kernel page writable+executable or user-accessible. */
static void check_wx_all(void)
{
    vaddr_t bad = 0;
    unsigned c = 0, n = kmem_check_wx_cores(&c, &bad);
    if (n)
        panic("W^X: core %u's root has %u bad kernel mappings, first at %lx", c, n, bad);
    printk("tessera: W^X check passed on %u roots\n", smp_cpus.count);
}

/* Second half of the BSP's boot, on its own root and on its stack at CPU_STACK. */
static noreturn void bsp_main(void)
{
    lapic_setup();
    percpu_bind();              /* before the first this_cpu() of a PERCPU lookup variant */
    printk("tessera: LAPIC in %s mode, timer %u Hz per core\n", lapic_x2apic() ? "x2APIC" : "xAPIC",
           TIMER_HZ);
    pci_discover();
    iommu_init();
    check_wx_all();
    smp_setup_core();
    cpu_sti();
    unsigned n = smp_boot_aps();
    kmem_boot_done();
    printk("tessera: %u cores online\n", n);
    if (cmdline_has("fault-test"))
        arch_fault_test();
    if (cmdline_has("fault-test-ist"))
        arch_fault_test_ist();
    pd_boot_init();
    /* Self-checks first; with a root task, it then decides how the run ends. */
    if (cmdline_has("selftest") && selftest_run_all() != 0)
        arch_exit(false);
    if (root_start())
        sched_run();
    if (cmdline_has("selftest"))
        arch_exit(true);
    for (;;)
        cpu_hlt();
}

/* First C code: on the boot root, boot stack; parse boot data, build the tables, switch. */
noreturn void kernel_main(uint32_t magic, paddr_t info)
{
    kcov_init();
    serial_init();
    printk("\ntessera: booting\n");
    if (LAB_CHANGED[0])
        printk("tessera: lab %s\n", LAB_CHANGED);     /* the switches off their default */
    smap_patch();               /* before the first interrupt entry or user copy, before the APs */
    if (!multiboot_parse(magic, info))
        panic("not started by a multiboot loader (eax=%x)", magic);
    printk("tessera: multiboot%u, command line \"%s\"\n", boot_info.version, boot_info.cmdline);
    for (unsigned i = 0; i < boot_info.nmods; i++)
        printk("tessera: module \"%s\" at [%lx, %lx)\n", boot_info.mods[i].name,
               boot_info.mods[i].start, boot_info.mods[i].end);
    /* Loader data (boot_info.loader, modules, ACPI tables) is read or moved before low memory
       is written. */
    if (cmdline_has("x2apic-preset"))
        lapic_preset_x2apic();
    lapic_choose(!cmdline_has("nox2apic"));     /* smp_discover parks what it cannot address */
    smp_discover();
    kmem_pool_init(cmdline_has("tables-far"));
    root_relocate_module();
    smp_install_trampoline();
    printk("tessera: kernel pool %lu KiB free\n", kernel_pool_free_kib());
    kmem_init_cores(smp_cpus.count, smp_cpus.lapic_base);
    kmem_switch_bsp(smp_bsp, bsp_main);
}
