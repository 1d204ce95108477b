/*
 * The root task (build/root.elf). For now it shows what the kernel gave it —
 * the information page, its capabilities and memory — and calls a few system
 * calls; the two-child demo of issue 4 comes with the kernel side.
 */
#include "ulib.h"

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

/* Show what the root PD holds at one place of one space. */
static void show_lookup(const char *what, unsigned kind, mword addr)
{
    struct lookup_info li;
    int st = sys_lookup(SEL_ROOT_PD, kind, addr, &li);
    if (st != E_OK)
        printf("  %-12s %#lx: status %d\n", what, (unsigned long)addr, st);
    else
        printf("  %-12s %lx: base %lx size %lx phys %lx rights %x type %u\n", what,
               (unsigned long)addr, (unsigned long)li.base, (unsigned long)li.size,
               (unsigned long)li.phys, li.rights, li.type);
}

int main(mword arg)
{
    const struct info_page *bi = (const struct info_page *)arg;
    struct core_counters cc;

    printf("root: hello from user mode, main at %p\n", (void *)main);
    if (!show_info_page(bi))
        return 1;
    show_lookup("own PD", SPACE_OBJ, SEL_ROOT_PD);
    show_lookup("info page", SPACE_MEM, INFO_PAGE_ADDR);
    show_lookup("serial port", SPACE_PIO, 0x3f8);
    printf("root: create_pd into selector 0 -> %d (expect %d)\n",
           sys_create_pd(SEL_NULL, SEL_ROOT_PD), E_ARG);
    printf("root: yield -> %d\n", sys_yield());
    for (uint32_t cpu = 0; cpu < bi->num_cpus; cpu++)
        if (sys_counters(cpu, &cc) == E_OK)
            printf("  cpu %u: %lu lazy syncs, %lu page faults, %lu syscalls\n", cpu,
                   (unsigned long)cc.lazy_syncs, (unsigned long)cc.page_faults,
                   (unsigned long)cc.syscalls);
    printf("root: done\n");
    return 0;
}
