/*
 * Self-checks of this issue (run with the command-line word "selftest"):
 * W^X and no user-accessible kernel page, per-core roots and core-local
 * mappings, core ids, IPIs between all pairs of cores, the LAPIC timer, and
 * that a core spinning for a lock with interrupts off answers shootdowns.
 */
#include "cpu.h"
#include "cpu_local.h"
#include "kmem.h"
#include "kalloc_far.h"
#include "bootinfo.h"
#include "frame.h"
#include "kmalloc.h"
#include "lapic.h"
#include "ptab.h"
#include "selftest.h"
#include "smp.h"
#include "space_pio.h"
#include "spinlock.h"
#include "tlb.h"
#include "trap.h"
#include "xregs.h"

#define SCRATCH_MAGIC   0x7E55E4A000000000UL
#define WAIT_US         3000000
#define ACK_WAIT_US     100000          /* a waiting core answers a shootdown request within this */

extern char __text_start[], __rodata_start[], __data_start[];

/* Per-core answers gathered through smp_call (indexed by core id). */
static volatile uint64_t answer[NUM_CPU];

/* Wait until cond() holds, with a bound; true if it did. */
static bool wait_for(bool (*cond)(void))
{
    for (uint64_t t0 = time_us(); !cond();) {
        if (time_us() - t0 > WAIT_US)
            return false;
        cpu_pause();
    }
    return true;
}

SELFTEST(no_kernel_page_is_writable_and_executable_or_user_accessible)
{
    vaddr_t bad = 0;
    unsigned c = 0, n = kmem_check_wx_cores(&c, &bad);
    if (n)
        return SELFTEST_FAIL("core %u: %u bad mappings, first at %lx", c, n, bad);
    /* The boot root (AP start-up) shares the master PD and lost its identity map. */
    n = kmem_check_wx(kmem_boot_root(), &bad);
    if (n || ((uint64_t *)phys_to_virt(kmem_boot_root()))[0])
        return SELFTEST_FAIL("boot root: %u bad kernel mappings (first %lx) or identity map left",
                             n, bad);
    return true;
}

/* Map [va, va + 4 KiB) in t to frame 0 with perm; false if out of memory. */
static bool map_scratch(struct ptab *t, vaddr_t va, unsigned perm)
{
    struct ptab_dfree df;
    struct ptab_result res;
    ptab_dfree_init(&df);
    struct ptab_attr a = { perm, PTAB_WB };
    return ptab_update(t, va, PAGE_SIZE, 0, a, &df, &res) == E_OK;
}

SELFTEST(the_wx_check_counts_a_user_table_entry_and_a_writable_executable_kernel_page)
{
    const vaddr_t kernel_half = ~0UL << 47;     /* the user page's top-level entry starts here */
    size_t before = kernel_pool.nfree;
    struct ptab user, kernel;
    vaddr_t bad = 0;
    if (ptab_init(&user, &ptab_hpt, &kptab_env, HPT_LEVELS, 0) != E_OK)
        return SELFTEST_FAIL("out of memory");
    kernel = user;
    kernel.caps = PTAB_CAP_HPT_KERNEL;
    /* A read-only page behind user-accessible tables, and a W+X page behind kernel tables. */
    bool ok = map_scratch(&user, kernel_half + GiB(3), PTAB_R) &&
              map_scratch(&kernel, PD_IOBMP, PTAB_R | PTAB_W | PTAB_XS) &&
              map_scratch(&kernel, CPU_TMAP, PTAB_R | PTAB_W);
    unsigned n = ok ? kmem_check_wx(user.root, &bad) : 0;
    ptab_release(&user);
    if (!ok)
        return SELFTEST_FAIL("out of memory");
    if (n != 2 || bad != kernel_half)
        return SELFTEST_FAIL("%u bad mappings, first at %lx; want 2, first at %lx", n, bad,
                             kernel_half);
    if (kernel_pool.nfree != before)
        return SELFTEST_FAIL("leaked %ld frames", (long)(before - kernel_pool.nfree));
    return true;
}

/* Does va map with exactly the permissions perm and memory type mt in root? */
static bool attr_is(paddr_t root, vaddr_t va, unsigned perm, enum ptab_mtype mt)
{
    struct ptab_map m;
    return kmem_lookup(root, va, &m) && m.attr.perm == perm && m.attr.mt == mt;
}

/* The permissions of va in root, for a failure message (0: unmapped). */
static unsigned perm_at(paddr_t root, vaddr_t va)
{
    struct ptab_map m;
    return kmem_lookup(root, va, &m) ? m.attr.perm : 0;
}

SELFTEST(kernel_text_is_rx_rodata_r_data_rw_nx_and_all_global)
{
    paddr_t root = this_cpu()->root;
    struct ptab_map m;
    const unsigned x = PTAB_XU | PTAB_XS;       /* Hpt has one execute bit: both or neither */
    if (!attr_is(root, (vaddr_t)__text_start, PTAB_R | x | PTAB_G, PTAB_WB))
        return SELFTEST_FAIL("text: %x", perm_at(root, (vaddr_t)__text_start));
    if (!attr_is(root, (vaddr_t)__rodata_start, PTAB_R | PTAB_G, PTAB_WB))
        return SELFTEST_FAIL("rodata: %x", perm_at(root, (vaddr_t)__rodata_start));
    if (!attr_is(root, (vaddr_t)__data_start, PTAB_R | PTAB_W | PTAB_G, PTAB_WB))
        return SELFTEST_FAIL("data: %x", perm_at(root, (vaddr_t)__data_start));
    vaddr_t pool_end = (vaddr_t)phys_to_virt(kmem_linear.end);   /* KERNEL_LINEAR_END or less */
    if (!attr_is(root, pool_end - PAGE_SIZE, PTAB_R | PTAB_W | PTAB_G, PTAB_WB))
        return SELFTEST_FAIL("pool: %x", perm_at(root, pool_end - PAGE_SIZE));
    if (pool_end < KERNEL_LINEAR_END && kmem_lookup(root, pool_end, &m))
        return SELFTEST_FAIL("the linear map goes on beyond the pool at %lx", pool_end);
    if (!attr_is(root, CPU_LAPIC, PTAB_R | PTAB_W | PTAB_G, PTAB_UC))
        return SELFTEST_FAIL("LAPIC: %x", perm_at(root, CPU_LAPIC));
    if (kmem_lookup(root, CPU_STACK_GUARD, &m) || kmem_lookup(root, PD_IOBMP, &m) ||
        kmem_lookup(root, USER_ADDR - PAGE_SIZE, &m))
        return SELFTEST_FAIL("stack guard, per-PD slot or user half mapped");
    return true;
}

/* Record this core's control-register bits that must be set (0 if all are). */
static void read_cr_bits(void *arg)
{
    (void)arg;
    uint32_t r[4];
    uint64_t missing = 0, cr4 = read_cr4();
    cpuid(7, 0, r);
    if (!(read_cr0() & CR0_WP))   missing |= 1;
    if (!(rdmsr(MSR_EFER) & EFER_NXE)) missing |= 2;
    if (!(cr4 & CR4_PGE))         missing |= 4;
    if ((r[1] & CPUID_7_EBX_SMEP) && !(cr4 & CR4_SMEP)) missing |= 8;
    if ((r[1] & CPUID_7_EBX_SMAP) && !(cr4 & CR4_SMAP)) missing |= 16;
    answer[cpu_id()] = missing;
}

SELFTEST(every_core_runs_with_wp_nxe_pge_and_smep_smap_when_present)
{
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        answer[c] = ~0UL;
        if (!smp_call(c, read_cr_bits, NULL))
            return SELFTEST_FAIL("core %u did not answer", c);
        if (answer[c])
            return SELFTEST_FAIL("core %u lacks bits %lx (1 WP, 2 NXE, 4 PGE, 8 SMEP, 16 SMAP)", c,
                                 answer[c]);
    }
    return true;
}

/* Control registers and segment bases of each core (read_control). */
static struct control_regs {
    uint64_t cr0, cr4, efer, xcr0, bases;   /* bases: FS | GS | kernel GS base */
} control[NUM_CPU];

/* Record this core's CR0, CR4, EFER, XCR0 and FS/GS bases (PERCPU=gs: the GS base less this
 * core's data page, which it must hold in the kernel). */
static void read_control(void *arg)
{
    (void)arg;
    uint64_t gs = rdmsr(MSR_GS_BASE);
    if (PERCPU_VARIANT == PERCPU_GS)
        gs ^= (vaddr_t)cpu_local_mapped()->self;
    control[cpu_id()] = (struct control_regs){
        .cr0 = read_cr0(), .cr4 = read_cr4(), .efer = rdmsr(MSR_EFER),
        .xcr0 = read_cr4() & CR4_OSXSAVE ? xgetbv(0) : 0,
        .bases = rdmsr(MSR_FS_BASE) | gs | rdmsr(MSR_KERNEL_GS_BASE),
    };
}

SELFTEST(every_core_has_the_same_complete_cr0_cr4_efer_xcr0_caches_on_ne_set)
{
    const struct cpu_config *k = &cpu_config;
    if ((k->cr0 & (CR0_CD | CR0_NW | CR0_EM | CR0_TS)) ||
        (k->cr0 & (CR0_NE | CR0_MP)) != (CR0_NE | CR0_MP))
        return SELFTEST_FAIL("configured CR0 %lx: CD/NW/EM/TS set or NE/MP clear", k->cr0);
    if ((k->cr4 & (CR4_OSFXSR | CR4_OSXMMEXCPT)) != (CR4_OSFXSR | CR4_OSXMMEXCPT) ||
        (k->cr4 & CR4_FSGSBASE))
        return SELFTEST_FAIL("configured CR4 %lx: OSFXSR/OSXMMEXCPT clear or FSGSBASE set", k->cr4);
    if (k->xsave && (k->xcr0 & (XCR_X87 | XCR_SSE)) != (XCR_X87 | XCR_SSE))
        return SELFTEST_FAIL("configured XCR0 %lx lacks x87 or SSE", k->xcr0);
    if (k->efer & EFER_FFXSR)
        return SELFTEST_FAIL("configured EFER %lx has FFXSR (FXSAVE would skip XMM)", k->efer);
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        control[c] = (struct control_regs){ ~0UL, ~0UL, ~0UL, ~0UL, ~0UL };
        if (!smp_call(c, read_control, NULL))
            return SELFTEST_FAIL("core %u did not answer", c);
        const struct control_regs *r = &control[c];
        /* CR4.VMXE: set on a core once it ran a vCPU (vmx.c). */
        if (r->cr0 != k->cr0 || (r->cr4 & ~CR4_VMXE) != k->cr4 || r->efer != k->efer ||
            r->xcr0 != k->xcr0)
            return SELFTEST_FAIL(
                "core %u: CR0 %lx CR4 %lx EFER %lx XCR0 %lx, configured %lx %lx %lx %lx", c, r->cr0,
                r->cr4, r->efer, r->xcr0, k->cr0, k->cr4, k->efer, k->xcr0);
        if (r->bases)
            return SELFTEST_FAIL("core %u: an FS/GS base is not 0 (or of them %lx)", c, r->bases);
    }
    return true;
}

/* Record (core-local id, LAPIC id) of this core. */
static void read_ids(void *arg)
{
    (void)arg;
    answer[cpu_id()] = (uint64_t)this_cpu()->id << 32 | lapic_id();
}

SELFTEST(core_id_read_through_core_local_mapping_equals_madt_index)
{
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        answer[c] = ~0UL;
        if (!smp_call(c, read_ids, NULL))
            return SELFTEST_FAIL("core %u did not answer", c);
        if (answer[c] != ((uint64_t)c << 32 | smp_cpus.apic_id[c]))
            return SELFTEST_FAIL("core %u: id/APIC %lx, expected %u/%u", c, answer[c], c,
                                 smp_cpus.apic_id[c]);
    }
    return true;
}

#ifdef PTSYNC_shared
SELFTEST(every_root_shares_one_kernel_pd_and_maps_no_core_local_slot)
{
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        struct cpu_local *r = cpu_remote(c);
        struct ptab_map m;
        if (r->pd_phys != kmem_core_pd(0))
            return SELFTEST_FAIL("core %u has a kernel PD of its own", c);
        if (kmem_lookup(r->root, CPU_LOCAL, &m) || kmem_lookup(r->root, CPU_STACK, &m))
            return SELFTEST_FAIL("core %u maps a core-local slot", c);
        /* Every core's stacks, each above its guard, in every root (the one kernel PD). */
        for (unsigned d = 0; d < smp_cpus.count; d++)
            if (!kmem_lookup(r->root, CORE_STACK_TOP(d) - PAGE_SIZE, &m) ||
                kmem_lookup(r->root, CORE_STACK_TOP(d) - 2 * PAGE_SIZE, &m) ||
                !kmem_lookup(r->root, CORE_IST_TOP(d, 1) - PAGE_SIZE, &m))
                return SELFTEST_FAIL("core %u: the stacks of core %u are not as laid out", c, d);
    }
    return true;
}
#else
/* A core's kernel PD entries below its core-local slot, as a visit shows them. */
struct pd_entries {
    unsigned n;
    struct ptab_entry e[PTAB_ENTRIES];
};

/* Visitor: keep the PD entries (level 1); descend down to them. */
static bool keep_pd_entry(void *arg, const struct ptab_entry *e)
{
    struct pd_entries *p = arg;
    if (e->level == 1 && p->n < PTAB_ENTRIES)
        p->e[p->n++] = *e;
    return e->level > 1;
}

/* The PD entries 0..510 of root's kernel region (PML4 511, PDPT 510) into *p. */
static void pd_entries(paddr_t root, struct pd_entries *p)
{
    struct ptab k = kmem_view(root);
    vaddr_t base = ALIGN_DOWN(KERNEL_BASE, GiB(1));
    p->n = 0;
    ptab_visit(&k, base, CPU_PRIVATE_PD_BASE - base, keep_pd_entry, p);
}

/* True if a and b map the same range to the same frame or table with the same attributes. */
static bool same_entry(const struct ptab_entry *a, const struct ptab_entry *b)
{
    struct ptab k = kmem_view(0);       /* the format only: no table is read */
    struct ptab_attr x = ptab_entry_attr(&k, a->level, a->e),
                     y = ptab_entry_attr(&k, b->level, b->e);
    return a->va == b->va && a->leaf == b->leaf && a->pa == b->pa && x.perm == y.perm &&
           x.mt == y.mt;
}

SELFTEST(each_root_is_private_and_shares_the_kernel_pd_except_core_local_slot)
{
    static struct pd_entries pd0, pd;     /* 20 KiB each: not on the 4 KiB stack */
    paddr_t root0 = cpu_remote(0)->root;
    pd_entries(root0, &pd0);
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        struct cpu_local *r = cpu_remote(c);
        if (c && (r->root == root0 || r->pd_phys == cpu_remote(0)->pd_phys))
            return SELFTEST_FAIL("core %u shares its root or PD with core 0", c);
        /* The same entries (their attributes leave out the accessed/dirty bits walks set). */
        pd_entries(r->root, &pd);
        if (pd.n != pd0.n || !pd.n)
            return SELFTEST_FAIL("core %u: %u PD entries, core 0 %u", c, pd.n, pd0.n);
        for (unsigned i = 0; i < pd.n; i++)
            if (!same_entry(&pd.e[i], &pd0.e[i]))
                return SELFTEST_FAIL("core %u: PD entry for %lx differs", c, pd.e[i].va);
        /* The data page at CPU_LOCAL is the one at the global alias. */
        struct ptab_map local, alias;
        if (!kmem_lookup(r->root, CPU_LOCAL, &local) ||
            !kmem_lookup(r->root, (vaddr_t)r->self, &alias) || local.pa != alias.pa)
            return SELFTEST_FAIL("core %u: CPU_LOCAL and its global alias differ", c);
    }
    return true;
}

#endif

/* Write this core's marker into its core-local page at CPU_LOCAL. */
static void write_marker(void *arg)
{
    (void)arg;
    this_cpu()->scratch = SCRATCH_MAGIC | cpu_id();
}

/* Read the scratch word at CPU_LOCAL on this core. */
static void read_marker(void *arg)
{
    (void)arg;
    answer[cpu_id()] = this_cpu()->scratch;
}

SELFTEST(core_local_write_is_private_at_cpu_local_and_visible_through_global_alias)
{
    for (unsigned c = 0; c < smp_cpus.count; c++)
        if (!smp_call(c, write_marker, NULL))
            return SELFTEST_FAIL("core %u did not answer", c);
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        if (!smp_call(c, read_marker, NULL))
            return SELFTEST_FAIL("core %u did not answer", c);
        /* Every core wrote the same virtual address; each must still see its own value. */
        if (answer[c] != (SCRATCH_MAGIC | c))
            return SELFTEST_FAIL("core %u sees %lx at CPU_LOCAL", c, answer[c]);
        if (cpu_remote(c)->scratch != (SCRATCH_MAGIC | c))
            return SELFTEST_FAIL("global alias of core %u shows %lx", c, cpu_remote(c)->scratch);
    }
    return true;
}

static uint64_t ipi_before[NUM_CPU];
static volatile unsigned ipi_lost;          /* test IPIs not acknowledged in time */

/*
 * Send a test IPI from this core to every other core, one at a time: wait until
 * the target's counter moves before the next (the lecture's Counter::remote
 * loop). Two IPIs with the same vector pending at one core would merge into one.
 */
static void send_to_all_others(void *arg)
{
    (void)arg;
    for (unsigned d = 0; d < smp_cpus.count; d++) {
        if (d == cpu_id())
            continue;
        uint64_t ctr = cpu_remote(d)->ipi_count, t0 = time_us();
        lapic_send_ipi(cpu_remote(d)->apic_id, VEC_IPI_TEST);
        while (cpu_remote(d)->ipi_count == ctr) {
            if (time_us() - t0 > WAIT_US) {
                ipi_lost++;
                break;
            }
            cpu_pause();
        }
    }
}

SELFTEST(an_ipi_from_every_core_to_every_other_core_is_received_and_counted)
{
    unsigned n = smp_cpus.count, me = cpu_id();
    ipi_lost = 0;
    for (unsigned c = 0; c < n; c++)
        ipi_before[c] = cpu_remote(c)->ipi_count;
    for (unsigned c = 0; c < n; c++)
        if (!smp_call(c, send_to_all_others, NULL))
            return SELFTEST_FAIL("core %u did not answer", c);
    if (ipi_lost)
        return SELFTEST_FAIL("%u IPIs were not acknowledged", ipi_lost);
    delay_us(10000);            /* let stray extra IPIs arrive, then count exactly */
    for (unsigned c = 0; c < n; c++) {
        /* n-1 test IPIs, plus the smp_call IPI that made core c send (none for us). */
        uint64_t got = cpu_remote(c)->ipi_count - ipi_before[c], want = n - 1 + (c != me);
        if (got != want)
            return SELFTEST_FAIL("core %u counted %lu IPIs, expected %lu", c, got, want);
    }
    return true;
}

static struct spinlock held_lock = SPINLOCK_INIT;
static volatile bool lock_waiter_in;        /* the target core entered wait_held_lock */

/* Target core, in its IPI handler (interrupts off): wait for held_lock, then release it. */
static void wait_held_lock(void *arg)
{
    (void)arg;
    lock_waiter_in = true;
    spin_lock(&held_lock);
    spin_unlock(&held_lock);
}

static unsigned lock_target;

/* Has the target core entered wait_held_lock? */
static bool lock_waiter_entered(void)
{
    return lock_waiter_in;
}

/* Has the target core finished wait_held_lock? */
static bool lock_call_done(void)
{
    return !__atomic_load_n(&cpu_remote(lock_target)->call_fn, __ATOMIC_ACQUIRE);
}

/*
 * Another core spins for a lock this core holds, with interrupts off (so no IPI
 * reaches it); a shootdown request to it (tlb_reqs, as tlb_shootdown makes one)
 * must still be answered before the lock is released: lock waits can be long
 * (a holder writing to a slow UART), and a shootdown waits for every answer.
 */
SELFTEST(a_core_spinning_for_a_lock_with_interrupts_off_answers_a_shootdown_request)
{
    if (smp_cpus.count < 2)
        return true;
    lock_target = cpu_id() == 0 ? 1 : 0;
    struct cpu_local *r = cpu_remote(lock_target);
    bool acked = false;
    spin_lock(&held_lock);
    lock_waiter_in = false;
    r->call_arg = NULL;
    __atomic_store_n(&r->call_fn, wait_held_lock, __ATOMIC_RELEASE);
    lapic_send_ipi(r->apic_id, VEC_IPI_CALL);
    bool entered = wait_for(lock_waiter_entered);
    if (entered) {
        delay_us(1000);                         /* it spins in spin_lock by then */
        uint64_t req = __atomic_add_fetch(&r->tlb_reqs, 1, __ATOMIC_SEQ_CST);
        for (uint64_t t0 = time_us(); !acked && time_us() - t0 < ACK_WAIT_US; cpu_pause())
            acked = __atomic_load_n(&r->tlb_acks, __ATOMIC_ACQUIRE) >= req;
    }
    spin_unlock(&held_lock);
    if (!entered || !wait_for(lock_call_done))
        return SELFTEST_FAIL("core %u did not run the lock-waiting call", lock_target);
    if (!acked)
        return SELFTEST_FAIL(
            "core %u, spinning for a lock, did not answer a shootdown request in %u us",
            lock_target, ACK_WAIT_US);
    return true;
}

static uint64_t ticks_before[NUM_CPU];

/* Has every core taken at least two more timer interrupts? */
static bool ticks_advanced(void)
{
    for (unsigned c = 0; c < smp_cpus.count; c++)
        if (cpu_remote(c)->ticks < ticks_before[c] + 2)
            return false;
    return true;
}

SELFTEST(the_lapic_timer_ticks_on_every_core)
{
    for (unsigned c = 0; c < smp_cpus.count; c++)
        ticks_before[c] = cpu_remote(c)->ticks;
    if (!wait_for(ticks_advanced))
        return SELFTEST_FAIL("some core's tick count did not advance by 2 in %u us", WAIT_US);
    return true;
}

SELFTEST(low_memory_kernel_image_and_modules_are_not_in_the_free_pool)
{
    extern char __kernel_end[];
    for (unsigned i = 0; i < kernel_pool.nuser; i++)
        if (kernel_pool.user[i].start < LOW_RESERVED)
            return SELFTEST_FAIL("low memory [%lx, %lx) is user memory", kernel_pool.user[i].start,
                                 kernel_pool.user[i].end);
    for (paddr_t pa = KERNEL_LOAD; pa < virt_to_phys(__kernel_end); pa += PAGE_SIZE)
        if (frame_is_free(&kernel_pool, pa))
            return SELFTEST_FAIL("kernel image frame %lx is free", pa);
    for (unsigned i = 0; i < boot_info.nmods; i++)
        for (paddr_t pa = ALIGN_DOWN(boot_info.mods[i].start, PAGE_SIZE);
             pa < boot_info.mods[i].end; pa += PAGE_SIZE)
            if (kframe_is_free(pa))
                return SELFTEST_FAIL("module %u frame %lx is free", i, pa);
    if (!kernel_pool.nfree)
        return SELFTEST_FAIL("the pool is empty");
    return true;
}

SELFTEST(tss_io_bitmap_is_at_pd_iobmp_and_the_limit_covers_the_terminating_byte)
{
    const struct tss *t = cpu_tss(cpu_local_mapped());     /* the TSS is addressed there */
    uint32_t limit;
    __asm__ __volatile__("lsl %1, %0" : "=r"(limit) : "r"((uint32_t)SEL_TSS));
    if ((vaddr_t)t + t->iomap_base != PD_IOBMP)
        return SELFTEST_FAIL("iomap_base %u does not reach PD_IOBMP", t->iomap_base);
    if ((vaddr_t)t + limit != PIO_BITMAP_END)
        return SELFTEST_FAIL("TSS limit %x ends at %lx", limit, (vaddr_t)t + limit);
    return true;
}
