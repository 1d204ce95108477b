/* Interrupt and exception dispatch; exceptions print their state and panic. */
#include "trap.h"
#include "iommu.h"
#include "cpu_local.h"
#include "lapic.h"
#include "panic.h"
#include "printk.h"
#include "sched.h"
#include "smap.h"
#include "tlb.h"

bool fault_handle(struct trap_frame *f);
bool fault_user_sync(const struct trap_frame *f);

static const char *const exc_names[32] = {
    "#DE divide error", "#DB debug", "NMI", "#BP breakpoint", "#OF overflow", "#BR bound range",
    "#UD invalid opcode", "#NM device not available", "#DF double fault", "coprocessor overrun",
    "#TS invalid TSS", "#NP segment not present", "#SS stack fault", "#GP general protection",
    "#PF page fault", "reserved", "#MF x87 error", "#AC alignment check", "#MC machine check",
    "#XM SIMD error", "#VE virtualisation", "#CP control protection",
};

/* Print vector, error code, CR2, RIP and all registers of f, then panic. */
static noreturn void exception(const struct trap_frame *f)
{
    const char *name = exc_names[f->vector] ? exc_names[f->vector] : "reserved";
    console_force();
    printk("\nEXCEPTION %lu (%s) on core %u: error 0x%lx\n", f->vector, name, cpu_id(), f->error);
    printk("  CR2=%016lx RIP=%016lx CS=%lx RFLAGS=%lx RSP=%016lx SS=%lx\n",
           read_cr2(), f->rip, f->cs, f->rflags, f->rsp, f->ss);
    printk("  RAX=%016lx RBX=%016lx RCX=%016lx RDX=%016lx\n", f->rax, f->rbx, f->rcx, f->rdx);
    printk("  RSI=%016lx RDI=%016lx RBP=%016lx R8 =%016lx\n", f->rsi, f->rdi, f->rbp, f->r8);
    printk("  R9 =%016lx R10=%016lx R11=%016lx R12=%016lx\n", f->r9, f->r10, f->r11, f->r12);
    printk("  R13=%016lx R14=%016lx R15=%016lx CR3=%016lx\n", f->r13, f->r14, f->r15, read_cr3());
    panic("kernel exception %lu at %016lx", f->vector, f->rip);
}

/* Run the function posted by smp_call on this core, then clear it to signal completion. */
static void run_call(struct cpu_local *c)
{
    cpu_call_fn fn = c->call_fn;
    if (fn) {
        fn(c->call_arg);
        __atomic_store_n(&c->call_fn, NULL, __ATOMIC_RELEASE);
    }
}

/*
 * #DB in kernel mode. The kernel sets no breakpoint and never runs with TF, so
 * the cause is a user's TF at an instruction that entered the kernel: some CPUs
 * (Bochs) deliver the single step of syscall at the first instruction of
 * syscall_entry, on the IST stack (rsp is the user's there), and a mov ss
 * before int n defers it into that handler. Resume with TF clear (syscall
 * already cleared it: SFMASK; a gate clears it too) and DR6 reset; the user's
 * TF stays in its saved flags, so the EC gets its own #DB in user mode.
 */
static void kernel_debug_trap(struct cpu_local *c, struct trap_frame *f)
{
    c->counters.kernel_debug_traps++;
    f->rflags &= ~RFL_TF;
    clear_dr6();
}

/* Did f enter the kernel from user mode? */
static bool from_user(const struct trap_frame *f)
{
    return f->cs & CS_RPL_MASK;
}

/* A LAPIC timer tick: counted, acknowledged; it preempts a user EC. */
static void timer_tick(struct cpu_local *c, struct trap_frame *f)
{
    c->ticks++;
    lapic_eoi();
    if (from_user(f))
        sched_tick(f);
    else
        c->counters.kernel_ticks++;
}

/* An IPI to this core (a VEC_IPI_* vector): counted, answered, acknowledged. A wake-up
   preempts a user EC at once (round robin before the next tick); idle, the loop picks the
   EC. */
static void ipi(struct cpu_local *c, struct trap_frame *f)
{
    c->ipi_count++;
    if (f->vector == VEC_IPI_TLB)
        tlb_ipi();
    else if (f->vector == VEC_IPI_CALL)
        run_call(c);
    lapic_eoi();
    if (f->vector == VEC_IPI_WAKE && from_user(f))
        sched_tick(f);
}

/* Any vector but the LAPIC's: a kernel #DB resumes, a fault the kernel handles returns, other
   exceptions panic; a stray legacy PIC interrupt is ignored, any other is reported. */
static void other_vector(struct cpu_local *c, struct trap_frame *f)
{
    if (f->vector == VEC_DB && !from_user(f)) {
        kernel_debug_trap(c, f);
        return;
    }
    if (f->vector <= VEC_EXC_LAST) {
        if (fault_handle(f))
            return;
        exception(f);
    }
    if (f->vector >= VEC_PIC_BASE && f->vector < VEC_PIC_BASE + 16)
        return;                 /* spurious legacy PIC interrupt: no LAPIC EOI */
    printk("core %u: unexpected interrupt %lu\n", cpu_id(), f->vector);
    lapic_eoi();
}

/* Every interrupt and exception: the handler of f's vector. */
static void dispatch(struct trap_frame *f)
{
    struct cpu_local *c = this_cpu();

    /* The entry cleared AC (clac): count any handler that would run with user access allowed. */
    if (smap_on && (read_rflags() & RFL_AC))
        c->counters.ac_entries++;
    if (f->vector == VEC_PF && from_user(f) && fault_user_sync(f))
        return;                         /* the most frequent exception, resolved at once */
    switch (f->vector) {
    case VEC_NMI:
        /* NMIs come only from a panicking core: stop here. */
        cpu_halt_forever();
    case VEC_TIMER:
        timer_tick(c, f);
        return;
    case VEC_IPI_WAKE:
    case VEC_IPI_TLB:
    case VEC_IPI_CALL:
    case VEC_IPI_TEST:
        ipi(c, f);
        return;
    case VEC_IOMMU_FAULT:
        iommu_fault_irq();
        lapic_eoi();
        return;
    case VEC_SPURIOUS:
        return;
    }
    other_vector(c, f);
}

/* C side of every interrupt and exception; before a return to user mode, a flush a shootdown
   left due (tlb_hazard: lab switch TLB_ACK=deferred, else nothing). */
void trap_dispatch(struct trap_frame *f)
{
    dispatch(f);
    if (from_user(f))
        tlb_hazard();
}
