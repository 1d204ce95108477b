/*
 * The root task of `make run`: shows the lecture "Address Spaces" at work.
 * It prints what the kernel gave it, then creates two child PDs, delegates
 * memory to each, runs an EC of each on its own core and shows the lazy
 * page-table syncs each core counted; child A holds the COM1 ports and
 * writes a line to the serial port itself, child B does not and takes a
 * #GP that the root reports. Every step prints its result; a failed step
 * ends the demo early, and the root always ends with "root: done".
 */
#include "child.h"
#include "uart.h"
#include "x86_vectors.h"

#define DEMO_VA     (1UL << 39)     /* children's memory: PML4 slot 1 (512 GiB) */
#define DEMO_PAGES  16u             /* 64 KiB each */
#define COM1_LSR    (COM1 + UART_LSR)
#define COM1_PORTS  UART_PORTS

static const char *const mem_type[] = {
    [INFO_MEM_FREE] = "free", [INFO_MEM_MODULE] = "module",
    [INFO_MEM_KERNEL] = "kernel", [INFO_MEM_RESERVED] = "reserved",
};

/* Name of a memory range type. */
static const char *mem_type_name(uint32_t t)
{
    return t < ARRAY_SIZE(mem_type) && mem_type[t] != NULL ? mem_type[t] : "?";
}

/* Print the information page: cores, memory map, modules. Returns false if it is not there. */
static bool show_info_page(const struct info_page *bi)
{
    if (bi->magic != INFO_MAGIC || bi->version != INFO_VERSION) {
        printf("root: no information page at %p\n", (const void *)bi);
        return false;
    }
    printf("root: cmdline \"%s\", %u cores, timer %lu Hz\n", bi->cmdline, bi->num_cpus,
           (unsigned long)bi->timer_hz);
    for (uint32_t i = 0; i < bi->num_cpus && i < INFO_MAX_CPUS; i++)
        printf("  cpu %2u: apic id %u%s\n", i, bi->cpu[i].apic_id,
               bi->cpu[i].online ? "" : " (offline)");
    for (uint32_t i = 0; i < bi->num_mem && i < INFO_MAX_MEM; i++)
        printf("  mem %016lx-%016lx %-8s\n", (unsigned long)bi->mem[i].phys,
               (unsigned long)(bi->mem[i].phys + bi->mem[i].size), mem_type_name(bi->mem[i].type));
    for (uint32_t i = 0; i < bi->num_mods && i < INFO_MAX_MODS; i++)
        printf("  mod %u: %.*s, %lu bytes at %016lx\n", i, (int)INFO_NAME_LEN,
               bi->mods[i].name, (unsigned long)bi->mods[i].size, (unsigned long)bi->mods[i].phys);
    return true;
}

/* Show what a PD holds at one place of one space. */
static void show_lookup(mword pd, const char *what, unsigned kind, mword addr)
{
    struct lookup_info li;
    int st = sys_lookup(pd, kind, addr, &li);
    if (st == E_NOENT)
        printf("  %-12s %lx: nothing (E_NOENT)\n", what, (unsigned long)addr);
    else if (st != E_OK)
        printf("  %-12s %lx: status %d\n", what, (unsigned long)addr, st);
    else
        printf("  %-12s %lx: base %lx size %lx phys %lx rights %x type %u\n", what,
               (unsigned long)addr, (unsigned long)li.base, (unsigned long)li.size,
               (unsigned long)li.phys, li.rights, li.type);
}

/* Show the kernel memory of a PD's three spaces. */
static void show_pd_info(const char *name, mword pd)
{
    struct pd_info pi;
    int st = sys_pd_info(pd, &pi);
    if (st != E_OK)
        printf("  %-8s pd_info -> status %d\n", name, st);
    else
        printf("  %-8s object space %lu page(s), I/O bitmap %lu page(s), hpt %lu table(s), "
               "%lu per-core root(s)\n", name, (unsigned long)pi.obj_pages,
               (unsigned long)pi.pio_pages, (unsigned long)pi.hpt_tables,
               (unsigned long)pi.loc_roots);
}

/* Write s to COM1 with port I/O (only a PD holding the COM1 ports may). */
static void com1_write(const char *s)
{
    for (; *s != '\0'; s++) {
        while (!(inb(COM1_LSR) & LSR_THRE))
            cpu_pause();
        outb(COM1, (uint8_t)*s);
    }
}

/* A child's EC: fill its memory, report, then write a line to COM1 directly; exits 0. */
static void child_main(mword name)
{
    uint64_t *mem = (uint64_t *)DEMO_VA;
    for (mword i = 0; i < DEMO_PAGES * PAGE_SIZE_USER / 8; i++)
        mem[i] = i;
    printf("child %c: filled %u KiB at 0x%lx; now writing to COM1 with outb\n", (char)name,
           DEMO_PAGES * 4, (unsigned long)DEMO_VA);
    com1_write(name == 'A' ? "child A: this line went straight to the serial port (outb 0x3f8)\n"
                           : "child B: this line must never appear\n");
    sys_exit(0);
}

/* Lazy syncs each core counted so far, into syncs[]. */
static void read_syncs(unsigned n, uint64_t *syncs)
{
    struct core_counters cc;
    for (unsigned c = 0; c < n; c++)
        syncs[c] = sys_counters(c, &cc) == E_OK ? cc.lazy_syncs : 0;
}

/* Print each core's lazy syncs since `before`; returns core cpu's increase. */
static uint64_t show_syncs(unsigned n, const uint64_t *before, mword cpu)
{
    uint64_t now[INFO_MAX_CPUS];
    read_syncs(n, now);
    for (unsigned c = 0; c < n; c++)
        printf("  core %u: %lu lazy syncs (+%lu)\n", c, (unsigned long)now[c],
               (unsigned long)(now[c] - before[c]));
    return now[cpu] - before[cpu];
}

/* Create a child PD with the program and DEMO_PAGES of memory; false on failure. */
static bool make_child(char name, mword *pd)
{
    int st = child_pd(pd);
    if (st == E_OK)
        st = child_give(*pd, DEMO_VA, DEMO_PAGES, MEM_R | MEM_W, NULL);
    printf("root: child %c: PD at selector %lu, %u KiB delegated at 0x%lx -> status %d\n", name,
           (unsigned long)*pd, DEMO_PAGES * 4, (unsigned long)DEMO_VA, st);
    if (st == E_OK)
        show_lookup(*pd, "its memory", SPACE_MEM, DEMO_VA);
    return st == E_OK;
}

/* Run child_main in pd on cpu and wait for it; shows its end and the syncs (*syncs: on cpu). */
static struct ec_info run_child(char name, mword pd, mword cpu, unsigned n, uint64_t *syncs)
{
    uint64_t before[INFO_MAX_CPUS];
    struct ec_info ei;
    mword ec;
    read_syncs(n, before);
    printf("root: child %c: starting an EC on core %lu, waiting for it to stop\n", name,
           (unsigned long)cpu);
    int st = child_ec(pd, cpu, child_main, (mword)name, &ec);
    memset(&ei, 0, sizeof(ei));
    if (st != E_OK)
        printf("root: child %c: create_ec -> status %d\n", name, st);
    else if (ec_wait(ec, &ei) == E_OK) {
        if (ei.state == EC_EXITED)
            printf("root: child %c exited with code %ld\n", name, (long)ei.exit_code);
        else if (ei.state == EC_FAULTED)
            printf("root: child %c stopped by vector %u (%s) at rip 0x%lx, error 0x%lx\n", name,
                   ei.fault.vector, ei.fault.vector == VEC_GP ? "#GP" : "fault",
                   (unsigned long)ei.fault.rip, (unsigned long)ei.fault.error);
    }
    printf("root: lazy syncs per core while child %c ran (one per top-level entry it touched"
           " on its core: program+stack in PML4 slot 0, its memory in slot 1):\n", name);
    *syncs = show_syncs(n, before, cpu);
    return ei;
}

/* The two-child demo; returns the number of steps that did not go as the lecture says. */
static int demo(const struct info_page *ip)
{
    unsigned n = ip->num_cpus < INFO_MAX_CPUS ? ip->num_cpus : INFO_MAX_CPUS;
    mword cpu_a = n > 1 ? 1 : 0, cpu_b = n > 2 ? 2 : cpu_a;
    mword a, b;
    if (!mem_init(ip)) {
        printf("root: no free memory reported; demo skipped\n");
        return 0;       /* nothing failed: there is nothing to show (e.g. the host's fake kernel) */
    }
    printf("root: step 1: two child PDs, each with the program and its own memory\n");
    if (!make_child('A', &a) || !make_child('B', &b))
        return 1;
    printf("root: step 2: COM1 ports 0x%x-0x%x delegated to child A only\n", COM1,
           COM1 + COM1_PORTS - 1);
    int st = sys_delegate(SEL_ROOT_PD, a, SPACE_PIO, COM1, COM1, COM1_PORTS, PIO_A);
    show_lookup(a, "A's COM1", SPACE_PIO, COM1);
    show_lookup(b, "B's COM1", SPACE_PIO, COM1);
    if (st != E_OK)
        return 1;
    printf("root: the spaces' kernel memory "
           "(backing pages exist only where something was written):\n");
    show_pd_info("root", SEL_ROOT_PD);
    show_pd_info("child A", a);
    show_pd_info("child B", b);
    printf("root: step 3: child A runs on core %lu\n", (unsigned long)cpu_a);
    uint64_t syncs_a, syncs_b;
    struct ec_info ea = run_child('A', a, cpu_a, n, &syncs_a);
    printf("root: step 4: child B runs on core %lu\n", (unsigned long)cpu_b);
    struct ec_info eb = run_child('B', b, cpu_b, n, &syncs_b);
    printf("root: after the runs (a per-core root for each core a child ran on):\n");
    show_pd_info("child A", a);
    show_pd_info("child B", b);
    bool a_ok = ea.state == EC_EXITED && ea.exit_code == 0;
    bool b_ok = eb.state == EC_FAULTED && eb.fault.vector == VEC_GP;
    printf(
        "root: summary: child A on core %lu %s, %lu lazy syncs; child B on core %lu %s (rip 0x%lx),"
        " %lu lazy syncs\n",
        (unsigned long)cpu_a, a_ok ? "wrote COM1 directly and exited" : "FAILED",
        (unsigned long)syncs_a, (unsigned long)cpu_b,
        b_ok ? "took #GP without the ports" : "did NOT take #GP", (unsigned long)eb.fault.rip,
        (unsigned long)syncs_b);
    return !a_ok + !b_ok;
}

int main(mword arg)
{
    const struct info_page *bi = (const struct info_page *)arg;

    printf("root: hello from user mode, main at %p\n", (void *)main);
    if (!show_info_page(bi))
        return 1;
    show_lookup(SEL_ROOT_PD, "own PD", SPACE_OBJ, SEL_ROOT_PD);
    show_lookup(SEL_ROOT_PD, "info page", SPACE_MEM, INFO_PAGE_ADDR);
    show_lookup(SEL_ROOT_PD, "serial port", SPACE_PIO, COM1);
    int bad = demo(bi);
    printf("root: done (%d demo step%s failed)\n", bad, bad == 1 ? "" : "s");
    return bad;
}
