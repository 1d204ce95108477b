/*
 * Attacks on the kernel entry (docs/abi.md "Faults"), from child
 * PDs on every core; the kernel must survive each and stop only the attacking EC:
 *  - RFLAGS.AC set with popf, then timer interrupts, a lazy-sync page fault, syscalls
 *    and a #UD: no handler may run with AC set (core_counters.ac_entries stays 0), and
 *    the EC keeps its own AC;
 *  - RFLAGS.TF set with popf before syscall (the single step of CVE-2018-8897's
 *    window: some CPUs deliver the #DB at the syscall entry with the user's rsp), also
 *    after mov ss (also before int $0x80 and int3: the deferred #DB hits the kernel's #GP
 *    entry), before a switching syscall, int $0x80, int3, sysenter, ud2, and int1 (icebp):
 *    each EC stops with its own fault record; NT set before a yield and a timer tick (the
 *    kernel's iretq must not see it): the EC goes on with its NT;
 *  - user-mode iretq and lretq to itself and to bad selectors: each EC returns or faults
 *    and stops, never loops in the fault handler (its core's timer bounds the wait);
 *  - an LDT selector, with a DPL-3 data descriptor written at linear address 0 of the PD
 *    (where the reset-state LDTR points: base 0, limit 0xFFFF): #GP(selector) on every core,
 *    the descriptor is never used (the kernel loads a null LDTR).
 * Run as the root task; TAP output.
 */
#include "xregs.h"

#define USER_CS         0x23UL          /* ring-3 code selector (user mode runs with it) */
#define USER_SS         0x1BUL          /* ring-3 data selector */
#define KERNEL_CS       0x08UL          /* ring-0 code selector: user iretq/lretq to it faults */
#define FRESH_VA        (3UL << 39)     /* PML4 slot 3: the first touch on a core is a lazy sync */
#define AC_TICKS        3               /* timer interrupts the AC child waits for */
#define AC_ROUNDS       4000            /* bound on its rounds of spinning */
#define SPIN            (1UL << 14)
#define WAIT_TICKS      60              /* bound on a wait: 3 s of the child core's 20 Hz timer */

static volatile uint64_t ac_report[INFO_MAX_CPUS];  /* shared: bit 0 AC kept, bit 1 ticks seen */

/* Core cpu's counters (zero on error). */
static struct core_counters counters(mword cpu)
{
    struct core_counters cc = { 0 };
    if (sys_counters(cpu, &cc) != E_OK)
        memset(&cc, 0, sizeof(cc));
    return cc;
}

/* Sum of ac_entries and kernel_debug_traps over cores 0..n-1. */
static void entry_sums(unsigned n, uint64_t *ac, uint64_t *db)
{
    *ac = *db = 0;
    for (unsigned c = 0; c < n; c++) {
        struct core_counters cc = counters(c);
        *ac += cc.ac_entries;
        *db += cc.kernel_debug_traps;
    }
}

/* This EC's RFLAGS. */
static mword read_flags(void)
{
    mword f;
    __asm__ __volatile__("pushfq; popq %0" : "=r"(f) :: "memory");
    return f;
}

/* Child on core cpu: set AC; with it set, spin through timer interrupts (and syscalls),
 * touch a page never touched on this core (lazy-sync #PF), then execute ud2. */
static void child_ac(mword cpu)
{
    __asm__ __volatile__("pushfq; orq %0, (%%rsp); popfq" :: "i"(RFLAGS_AC) : "memory", "cc");
    uint64_t t0 = counters(cpu).timer_ticks;
    uint64_t report = 0;
    for (unsigned r = 0; r < AC_ROUNDS && counters(cpu).timer_ticks < t0 + AC_TICKS; r++)
        for (volatile mword i = 0; i < SPIN; i++)
            cpu_pause();
    if (counters(cpu).timer_ticks >= t0 + AC_TICKS)
        report |= 2;
    (void)*(volatile uint64_t *)FRESH_VA;
    if (read_flags() & RFLAGS_AC)
        report |= 1;
    ac_report[cpu] = report;
    __asm__ __volatile__("ud2");
    sys_exit(1);
}

/* Children that set TF right before the instruction named; each should stop with a fault. */
static void child_tf_syscall(mword nr)
{
    mword rax = nr;
    __asm__ __volatile__("pushfq; orq %1, (%%rsp); popfq; syscall"
                         : "+a"(rax) : "i"(RFLAGS_TF) : "rcx", "r11", "memory", "cc");
    sys_exit(0x51);         /* the single step after sysret stops the EC first */
}

static void child_tf_movss_syscall(mword nr)
{
    mword rax = nr;
    __asm__ __volatile__("mov %%ss, %%edx; pushfq; orq %1, (%%rsp); popfq; mov %%edx, %%ss; syscall"
                         : "+a"(rax) : "i"(RFLAGS_TF) : "rcx", "rdx", "r11", "memory", "cc");
    sys_exit(0x52);
}

/* TF, then mov ss (which defers the single step by one instruction), then int $0x80 or int3:
 * the #GP they raise is delivered first, the deferred #DB at the first instruction of the
 * kernel's #GP handler. */
static void child_tf_movss_int80(mword unused_arg)
{
    (void)unused_arg;
    __asm__ __volatile__("mov %%ss, %%edx; pushfq; orq %0, (%%rsp); popfq; "
                         "mov %%edx, %%ss; int $0x80"
                         :: "i"(RFLAGS_TF) : "rdx", "memory", "cc");
    sys_exit(0x57);
}

static void child_tf_movss_int3(mword unused_arg)
{
    (void)unused_arg;
    __asm__ __volatile__("mov %%ss, %%edx; pushfq; orq %0, (%%rsp); popfq; mov %%edx, %%ss; int3"
                         :: "i"(RFLAGS_TF) : "rdx", "memory", "cc");
    sys_exit(0x58);
}

/* Child child_tf_<name>: set TF, run insn (an instruction that leaves through the kernel), then
   exit with code if it returns. */
#define CHILD_TF(name, insn, code)                                                     \
    static void child_tf_##name(mword unused_arg)                                      \
    {                                                                                  \
        (void)unused_arg;                                                              \
        __asm__ __volatile__("pushfq; orq %0, (%%rsp); popfq; " insn :: "i"(RFLAGS_TF) \
                             : "memory", "cc");                                        \
        sys_exit(code);                                                                \
    }

CHILD_TF(sysenter, "sysenter", 0x59)    /* not set up: #GP on Intel, #UD on AMD in long mode */
CHILD_TF(int80, "int $0x80", 0x53)
CHILD_TF(int3, "int3", 0x54)
CHILD_TF(ud2, "ud2", 0x55)

static void child_icebp(mword unused_arg)
{
    (void)unused_arg;
    __asm__ __volatile__(".byte 0xf1" ::: "memory");     /* int1: #DB from user mode */
    sys_exit(0x56);
}

/* iretq from user mode with a frame (ss, rsp, rflags, cs, rip = the next line); cs = arg. */
static void child_iret(mword cs)
{
    __asm__ __volatile__("mov %%rsp, %%rax\n\t"
                         "pushq %1\n\t"
                         "pushq %%rax\n\t"
                         "pushfq\n\t"
                         "pushq %0\n\t"
                         "lea 1f(%%rip), %%rax\n\t"
                         "pushq %%rax\n\t"
                         "iretq\n"
                         "1:"
                         :: "r"(cs), "i"(USER_SS) : "rax", "memory", "cc");
    sys_exit(0);
}

/* lretq from user mode to cs:next line; cs = arg. */
static void child_lret(mword cs)
{
    __asm__ __volatile__("pushq %0\n\t"
                         "lea 1f(%%rip), %%rax\n\t"
                         "pushq %%rax\n\t"
                         "lretq\n"
                         "1:"
                         :: "r"(cs) : "rax", "memory", "cc");
    sys_exit(0);
}

/* Set NT (nested task: an iretq with it set would #GP), yield (the kernel returns by iretq,
 * after SFMASK cleared NT for it), spin through a timer tick on core cpu, then exit 0. */
static void child_nt_yield(mword cpu)
{
    __asm__ __volatile__("pushfq; orq %0, (%%rsp); popfq" :: "i"(RFLAGS_NT) : "memory", "cc");
    sys_yield();
    uint64_t t0 = counters(cpu).timer_ticks;
    for (unsigned r = 0; r < AC_ROUNDS && counters(cpu).timer_ticks == t0; r++)
        for (volatile mword i = 0; i < SPIN; i++)
            cpu_pause();
    sys_exit(read_flags() & RFLAGS_NT ? 0 : 1);
}

/* Start fn(arg) in pd on cpu and wait for its end, at most WAIT_TICKS of cpu's timer.
 * False if it did not stop in time (*ei then says EC_RUNNING). */
/* Load the LDT selector sel (TI set) into DS; exit 0x61 if the CPU accepted it. */
static void child_ldt(mword sel)
{
    __asm__ __volatile__("mov %w0, %%ds; xor %%eax, %%eax; mov %%ax, %%ds" :: "r"(sel) : "rax",
                         "memory");
    sys_exit(0x61);
}

static bool run_bounded(mword pd, mword cpu, child_fn fn, mword arg, struct ec_info *ei)
{
    mword ec;
    memset(ei, 0, sizeof(*ei));
    if (child_ec(pd, cpu, fn, arg, &ec) != E_OK)
        return false;
    uint64_t t0 = counters(cpu).timer_ticks;
    while (sys_ec_status(ec, 0, ei) == E_OK && ei->state == EC_RUNNING) {
        if (counters(cpu).timer_ticks > t0 + WAIT_TICKS)
            return false;
        sys_yield_pause();
    }
    return ei->state != EC_RUNNING;
}

/* LDT selectors on every core: a data descriptor (DPL 3, present, writable) at linear 0, where
   a reset-state LDTR (never loaded) finds LDT entry 0; the load must fault #GP(selector). */
static void attack_ldt(unsigned n)
{
    static const uint64_t desc_data3 = 0x0000F20000000000UL;    /* the GDT's user data */
    mword pd, win = 0;
    int st = child_pd(&pd);
    if (st == E_OK)
        st = child_give(pd, 0, 1, MEM_R | MEM_W, &win);
    tap_check(st == E_OK, "a PD with page 0 mapped for the LDT attack (%d)", st);
    if (st != E_OK)
        return;
    for (unsigned i = 0; i < 8; i++)
        ((volatile uint64_t *)win)[i] = desc_data3;
    for (unsigned c = 0; c < n; c++) {
        static const mword sels[] = { 0x07, 0x0F, 0x1C };
        for (unsigned i = 0; i < ARRAY_SIZE(sels); i++) {
            struct ec_info ei;
            bool done = run_bounded(pd, c, child_ldt, sels[i], &ei);
            tap_check(done && ei.state == EC_FAULTED && ei.fault.vector == VEC_GP &&
                          ei.fault.error == (sels[i] & ~3UL),
                      "core %u: LDT selector %lx with a descriptor at linear 0: #GP(%lx) (state %u "
                      "vector %u error %lx exit %ld)",
                      c, (unsigned long)sels[i], (unsigned long)(sels[i] & ~3UL), ei.state,
                      ei.fault.vector, (unsigned long)ei.fault.error, (long)ei.exit_code);
        }
    }
}

static void attack_ac(mword pd, unsigned n)
{
    uint64_t ac0, db0, ac1, db1;
    entry_sums(n, &ac0, &db0);
    for (unsigned c = 0; c < n; c++) {
        struct ec_info ei;
        bool done = run_bounded(pd, c, child_ac, c, &ei);
        tap_check(
            done && ei.state == EC_FAULTED && ei.fault.vector == VEC_UD,
            "core %u: an EC with AC set runs through interrupts, a page fault and syscalls to its "
            "ud2 (state %u vector %u)",
            c, ei.state, ei.fault.vector);
        tap_check(ac_report[c] == 3,
                  "core %u: the EC saw %u timer ticks and still has its AC flag (report %lu)", c,
                  AC_TICKS, (unsigned long)ac_report[c]);
    }
    entry_sums(n, &ac1, &db1);
    tap_check(ac1 == ac0 && ac1 == 0,
              "no interrupt or exception handler ran with AC set (ac_entries %lu -> %lu)",
              (unsigned long)ac0, (unsigned long)ac1);
}

struct attack {
    const char *what;
    child_fn fn;
    mword arg;
    uint8_t vector;                     /* the fault that must stop the EC */
};

static void attack_tf(mword pd, unsigned n)
{
    static const struct attack tf[] = {
        { "TF; syscall (unknown number, sysret)", child_tf_syscall, SYS_COUNT, VEC_DB },
        { "TF; syscall yield (return by iretq)", child_tf_syscall, SYS_YIELD, VEC_DB },
        { "TF; mov ss; syscall", child_tf_movss_syscall, SYS_COUNT, VEC_DB },
        { "TF; int $0x80", child_tf_int80, 0, VEC_GP },
        { "TF; mov ss; int $0x80", child_tf_movss_int80, 0, VEC_GP },
        { "TF; mov ss; int3", child_tf_movss_int3, 0, VEC_GP },
        { "TF; sysenter", child_tf_sysenter, 0, VEC_GP },    /* #UD where sysenter is invalid */
        { "TF; int3", child_tf_int3, 0, VEC_GP },
        { "TF; ud2", child_tf_ud2, 0, VEC_UD },
        { "int1 (icebp)", child_icebp, 0, VEC_DB },    /* QEMU's TCG answers #UD instead */
    };
    uint64_t ac0, db0, ac1, db1;
    entry_sums(n, &ac0, &db0);
    for (unsigned c = 0; c < n; c++)
        for (unsigned i = 0; i < ARRAY_SIZE(tf); i++) {
            struct ec_info ei;
            bool done = run_bounded(pd, c, tf[i].fn, tf[i].arg, &ei);
            bool vec = ei.fault.vector == tf[i].vector ||
                       ((tf[i].fn == child_icebp || tf[i].fn == child_tf_sysenter) &&
                        ei.fault.vector == VEC_UD);
            tap_check(done && ei.state == EC_FAULTED && vec && ei.cpu == c,
                      "core %u: %s stops the EC with vector %u (state %u vector %u exit %ld)", c,
                      tf[i].what, tf[i].vector, ei.state, ei.fault.vector, (long)ei.exit_code);
        }
    for (unsigned c = 0; c < n; c++) {
        struct ec_info ei;
        bool done = run_bounded(pd, c, child_nt_yield, c, &ei);
        tap_check(done && exited_with(&ei, 0),
                  "core %u: an EC with NT set yields, takes a timer tick and "
                  "exits with NT still set (state %u vector %u exit %ld)",
                  c, ei.state, ei.fault.vector, (long)ei.exit_code);
    }
    entry_sums(n, &ac1, &db1);
    printf("# kernel-mode #DB resumed by the kernel during the TF attacks: %lu\n",
           (unsigned long)(db1 - db0));
    tap_check(ac1 == ac0, "the TF attacks left ac_entries at %lu", (unsigned long)ac1);
}

static void attack_iret(mword pd, unsigned n)
{
    static const struct attack ir[] = {
        { "iretq to itself", child_iret, USER_CS, 0 },
        { "lretq to itself", child_lret, USER_CS, 0 },
        { "iretq to the kernel code selector", child_iret, KERNEL_CS, VEC_GP },
        { "lretq to the kernel code selector", child_lret, KERNEL_CS, VEC_GP },
        { "iretq to the null selector", child_iret, 0, VEC_GP },
    };
    for (unsigned c = 0; c < n; c++)
        for (unsigned i = 0; i < ARRAY_SIZE(ir); i++) {
            struct ec_info ei;
            bool done = run_bounded(pd, c, ir[i].fn, ir[i].arg, &ei);
            /* Returning to itself works, or (QEMU reads the frame with supervisor accesses,
             * which SMAP refuses) stops with that #PF; to a bad selector: #GP or that #PF. */
            bool ok = ir[i].vector
                          ? ei.state == EC_FAULTED &&
                                (ei.fault.vector == ir[i].vector || ei.fault.vector == VEC_PF)
                          : exited_with(&ei, 0) || (ei.state == EC_FAULTED &&
                                                    ei.fault.vector == VEC_PF && !ei.fault.user);
            tap_check(done && ok, "core %u: %s ends (state %u vector %u addr %lx user %u)", c,
                      ir[i].what, ei.state, ei.fault.vector, (unsigned long)ei.fault.addr,
                      ei.fault.user);
        }
}

int main(mword arg)
{
    const struct info_page *ip = (const struct info_page *)arg;
    unsigned n = ip->num_cpus < INFO_MAX_CPUS ? ip->num_cpus : INFO_MAX_CPUS;
    mword pd;
    if (!utest_init(arg))
        return 1;
    int st = child_pd(&pd);
    CHECK_ST(st, E_OK);
    CHECK_ST(child_give(pd, FRESH_VA, 1, MEM_R | MEM_W, NULL), E_OK);
    if (st != E_OK)
        return utest_done("entry_attack");
    attack_ac(pd, n);
    attack_tf(pd, n);
    attack_iret(pd, n);
    attack_ldt(n);
    return utest_done("entry_attack");
}
