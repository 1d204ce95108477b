/*
 * Register isolation (docs/abi.md "Register state"): every user-visible register of an EC holds
 * its own value or the reset value, never another EC's.
 *  - A fresh EC starts with general registers 0 (but rip, rsp, rdi), rflags 0x202, the FNINIT
 *    x87 state, MXCSR 0x1F80, zero MMX/XMM/YMM/ZMM, null DS/ES/FS/GS, FS/GS bases 0.
 *  - A "dirty" EC of a child PD loads a distinctive value into every class (x87 stack via fild,
 *    MMX, control word, MXCSR, XMM, AVX, AVX-512 as the CPU has them, DS/ES/FS/GS) on each core;
 *    the root (its parent, waiting on core 0) and a fresh EC of another PD that runs next on the
 *    same core see their own or the reset values.
 *  - Two ECs of different PDs on each core switch many times (yield, then timer preemption),
 *    each with its own values in every class, all cores at once; each checks its own survive.
 * Run as the root task; TAP output.
 */
#include "xregs.h"

#define PINGPONG_YIELDS  200        /* yield rounds per EC */
#define PINGPONG_PREEMPT 3          /* preemption rounds per EC (each needs timer switches) */
#define WHY_LEN          96

struct xinfo xinfo;
uint8_t xr_use_xsave;

/*
 * xr_round(in = rdi, out = rsi, mode = rdx, arg = rcx): see xregs.h. Keeps in/out/mode/arg in
 * callee-saved registers across the system call (which may change rdi..r9, rcx, r11).
 */
__asm__(
    "    .text\n"
    "    .globl xr_round\n"
    "xr_round:\n"
    "    push %rbx; push %r12; push %r13; push %r14\n"
    "    mov %rdi, %rbx; mov %rsi, %r12; mov %rdx, %r13; mov %rcx, %r14\n"
    XR_LOAD_ASM
    "    test $1, %r13; jnz 4f\n"
    "    test $2, %r13; jz 3f\n"
    "    fildl xr_fild_src(%rip)\n"
    "3:  mov (%r14), %rax; mov 8(%r14), %rdi; mov 16(%r14), %rsi; mov 24(%r14), %rdx\n"
    "    syscall\n"
    "    mov %rax, (%r14)\n"                        /* the call's status */
    "    jmp 6f\n"
    "4:  mov 16(%r14), %r13\n"                      /* r13: the watched word's old value */
    "5:  mov (%r14), %rcx; incq (%rcx); pause\n"
    "    mov 8(%r14), %rax; cmp (%rax), %r13; je 5b\n"
    "6:  test %r12, %r12; jz 8f\n"
    "    mov %ds, 4096(%r12); mov %es, 4098(%r12); mov %fs, 4100(%r12); mov %gs, 4102(%r12)\n"
    "    cmpb $0, xr_use_xsave(%rip); je 7f\n"
    "    mov $-1, %eax; mov $-1, %edx; xsave64 (%r12); jmp 8f\n"
    "7:  fxsave64 (%r12)\n"
    "8:  pop %r14; pop %r13; pop %r12; pop %rbx\n"
    "    ret\n"
    "    .data\n"
    "    .balign 8\n"
    "xr_fild_src: .quad 12345\n"
    "    .text\n");

/* What a fresh EC found on entry (fresh_entry). */
struct fresh {
    struct xstate x;
    uint64_t gpr[16];               /* rax rbx rcx rdx rsi rdi rbp rsp r8..r15 */
    uint64_t rflags;
    uint64_t fs_probe, gs_probe;    /* probe_word read through %fs: and %gs: */
};
static struct fresh fresh[INFO_MAX_CPUS];
uint64_t probe_word = 0x5eed5eed5eed5eedUL;
noreturn void fresh_main(struct fresh *f);

/* EC entry (rdi = struct fresh *): record every register before any compiled code runs. */
__asm__(
    "    .text\n"
    "    .globl fresh_entry\n"
    "fresh_entry:\n"
    "    mov %rax, 4160(%rdi); mov %rbx, 4168(%rdi); mov %rcx, 4176(%rdi); mov %rdx, 4184(%rdi)\n"
    "    mov %rsi, 4192(%rdi); mov %rdi, 4200(%rdi); mov %rbp, 4208(%rdi); mov %rsp, 4216(%rdi)\n"
    "    mov %r8, 4224(%rdi); mov %r9, 4232(%rdi); mov %r10, 4240(%rdi); mov %r11, 4248(%rdi)\n"
    "    mov %r12, 4256(%rdi); mov %r13, 4264(%rdi); mov %r14, 4272(%rdi); mov %r15, 4280(%rdi)\n"
    "    pushfq; popq 4288(%rdi)\n"
    "    mov %ds, 4096(%rdi); mov %es, 4098(%rdi); mov %fs, 4100(%rdi); mov %gs, 4102(%rdi)\n"
    "    mov %fs:probe_word, %rax; mov %rax, 4296(%rdi)\n"
    "    mov %gs:probe_word, %rax; mov %rax, 4304(%rdi)\n"
    "    cmpb $0, xr_use_xsave(%rip); je 1f\n"
    "    mov $-1, %eax; mov $-1, %edx; xsave64 (%rdi); jmp 2f\n"
    "1:  fxsave64 (%rdi)\n"
    "2:  jmp fresh_main\n");
_Static_assert(__builtin_offsetof(struct fresh, gpr) == 4160 &&
                   __builtin_offsetof(struct fresh, rflags) == 4288 &&
                   __builtin_offsetof(struct fresh, fs_probe) == 4296,
               "fresh_entry offsets");
void fresh_entry(mword arg);

/* After fresh_entry: exit 0. */
noreturn void fresh_main(struct fresh *f)
{
    (void)f;
    sys_exit(0);
}

/* Check what fresh EC f recorded: reset values only; sp and arg are what create_ec passed. */
static void check_fresh(const struct fresh *f, mword sp, const char *what, unsigned cpu)
{
    char why[WHY_LEN];
    struct xstate want;
    xstate_reset(&want);
    bool regs = true;
    for (unsigned i = 0; i < 16; i++)
        regs = regs && f->gpr[i] == (i == 5 ? (mword)f : i == 7 ? sp : 0);
    tap_check(regs && f->rflags == EC_START_RFLAGS,
              "%s on core %u: general registers 0 (but rsp, rdi), "
              "rflags %lx (want %lx)",
              what, cpu, f->rflags, EC_START_RFLAGS);
    tap_check(xstate_same(&f->x, &want, why, sizeof(why)),
              "%s on core %u: x87/MMX/SSE/AVX and selectors in "
              "the reset state %s",
              what, cpu, why);
    uint64_t fip = *(const uint64_t *)&f->x.img[XI_FIP], fdp = *(const uint64_t *)&f->x.img[XI_FDP];
    /* 0 after a reset; a CPU that keeps them over FXRSTOR shows the kernel's fixed values. */
    tap_check((fip == 0 || fip >= USER_LIMIT) && (fdp == 0 || fdp >= USER_LIMIT),
              "%s on core %u: no user address as last x87 instruction/operand (%lx %lx)", what, cpu,
              fip, fdp);
    tap_check(f->fs_probe == probe_word && f->gs_probe == probe_word,
              "%s on core %u: FS and GS bases are 0", what, cpu);
}

static struct xstate dirty_state[INFO_MAX_CPUS];
static volatile mword go;

/* Dirty EC on core arg: every class loaded with pattern 100 + arg, wait for go, fild, exit. */
static void dirty(mword cpu)
{
    static volatile mword count[INFO_MAX_CPUS];
    volatile mword spin_arg[3] = { (mword)&count[cpu], (mword)&go, 0 };   /* count until go != 0 */
    volatile mword exit_call[4] = { SYS_EXIT, 0, 0, 0 };
    xr_round(&dirty_state[cpu], NULL, XR_SPIN, spin_arg);
    xr_round(&dirty_state[cpu], NULL, XR_SYSCALL | XR_FILD, exit_call);   /* does not return */
    sys_exit(1);
}

/* Start fresh_entry in pd on cpu with record f; its EC selector, or 0 on failure. */
static mword start_fresh(mword pd, unsigned cpu, struct fresh *f, mword *sp)
{
    static mword stack_va = 0x50000000UL;
    mword ec = sel_alloc(), stack = stack_va;
    stack_va += (CHILD_STACK_PAGES + 1) * PAGE_SIZE_USER;
    memset(f, 0xA5, sizeof(*f));
    *sp = ec_stack_ptr((void *)(stack + CHILD_STACK_PAGES * PAGE_SIZE_USER));
    if (child_give(pd, stack, CHILD_STACK_PAGES, MEM_R | MEM_W, NULL) != E_OK ||
        sys_create_ec(ec, pd, cpu, (mword)fresh_entry, *sp, (mword)f) != E_OK)
        return 0;
    return ec;
}

static void test_fresh_and_dirty(unsigned n)
{
    mword pda, pdb;
    struct ec_info ei;
    struct xstate mine, got;
    char why[WHY_LEN];
    CHECK_ST(child_pd(&pda), E_OK);
    CHECK_ST(child_pd(&pdb), E_OK);

    /* A fresh EC before anything dirtied its core (core 0: after the root). */
    for (unsigned c = 0; c < n; c++) {
        mword sp, ec = start_fresh(pdb, c, &fresh[c], &sp);
        tap_check(ec && ec_wait(ec, &ei) == E_OK && exited_with(&ei, 0),
                  "a fresh EC runs on core %u", c);
        check_fresh(&fresh[c], sp, "fresh EC", c);
    }
    for (unsigned c = 0; c < n; c++) {
        mword dec, fec, sp;
        xstate_pattern(&dirty_state[c], 100 + c);
        go = 0;
        CHECK_ST(child_ec(pda, c, dirty, c, &dec), E_OK);
        fec = start_fresh(pdb, c, &fresh[c], &sp);
        /* The root holds its own values while it waits: set go, then block until the dirty EC
           has stopped, all in one xr_round (no compiled code touches registers in between). */
        struct ec_info dei;
        volatile mword wait_call[4] = { SYS_EC_STATUS, dec, EC_WAIT, (mword)&dei };
        xstate_pattern(&mine, 1);
        go = 1;
        xr_round(&mine, &got, XR_SYSCALL, wait_call);
        tap_check(wait_call[0] == E_OK && exited_with(&dei, 0), "the dirty EC on core %u exited",
                  c);
        tap_check(xstate_same(&got, &mine, why, sizeof(why)),
                  "the root (its parent, core 0) keeps its own "
                  "registers while a child on core %u used its own %s",
                  c, why);
        tap_check(fec && ec_wait(fec, &ei) == E_OK && exited_with(&ei, 0),
                  "the next EC (other PD) on core %u "
                  "ran",
                  c);
        check_fresh(&fresh[c], sp, "EC after a dirty one", c);
    }
}

/* One side of a ping-pong: its own state, counters for the preemption rounds, failures. */
struct side {
    struct xstate mine, got;
    volatile mword counter;             /* incremented while it runs */
    volatile mword spin_arg[3];         /* xr_round XR_SPIN: own counter, the other's, its value */
    unsigned fails;
    volatile unsigned rounds;
    char why[WHY_LEN];
};
static struct side sides[INFO_MAX_CPUS][2];

/* Ping-pong EC (arg = core * 2 + side): yield, then spin until preempted; check its state each
   time. */
static void pingpong(mword arg)
{
    struct side *s = &sides[arg / 2][arg % 2], *o = &sides[arg / 2][1 - arg % 2];
    volatile mword yield_call[4] = { 0 };
    for (unsigned r = 0; r < PINGPONG_YIELDS + PINGPONG_PREEMPT; r++) {
        if (r < PINGPONG_YIELDS) {
            yield_call[0] = SYS_YIELD;
            xr_round(&s->mine, &s->got, XR_SYSCALL, yield_call);
        } else {
            s->spin_arg[0] = (mword)&s->counter;
            s->spin_arg[1] = (mword)&o->counter;
            s->spin_arg[2] = o->counter;
            xr_round(&s->mine, &s->got, XR_SPIN, s->spin_arg);
        }
        s->counter++;                   /* a partner spinning for a switch sees this one ran */
        s->rounds++;
        char why[WHY_LEN];
        if (!xstate_same(&s->got, &s->mine, why, sizeof(why)) && s->fails++ == 0) {
            memcpy(s->why, why, sizeof(why));
            printf("# pingpong %lu: round %u: %s differs\n", arg, r, why);
        }
    }
    /* Let the partner finish its preemption rounds: it needs this EC to keep counting. */
    while (o->rounds < PINGPONG_YIELDS + PINGPONG_PREEMPT)
        s->counter++;
    sys_exit(0);
}

static void test_pingpong(unsigned n)
{
    mword pd[2], ec[INFO_MAX_CPUS][2];
    struct ec_info ei;
    CHECK_ST(child_pd(&pd[0]), E_OK);
    CHECK_ST(child_pd(&pd[1]), E_OK);
    for (unsigned c = 0; c < n; c++)
        for (unsigned i = 0; i < 2; i++) {
            xstate_pattern(&sides[c][i].mine, 2 + 2 * c + i);
            CHECK_ST(child_ec(pd[i], c, pingpong, 2 * c + i, &ec[c][i]), E_OK);
        }
    for (unsigned c = 0; c < n; c++)
        for (unsigned i = 0; i < 2; i++) {
            bool ok = ec_wait(ec[c][i], &ei) == E_OK && exited_with(&ei, 0);
            const struct side *s = &sides[c][i];
            tap_check(ok && s->fails == 0 && s->rounds == PINGPONG_YIELDS + PINGPONG_PREEMPT,
                      "core %u, PD %u: own x87/MMX/SSE/AVX/selectors survive %u yields and "
                      "%u preemptions (%u of %u rounds differ%s%s)", c, i, PINGPONG_YIELDS,
                      PINGPONG_PREEMPT, s->fails, s->rounds, s->fails ? ": " : "", s->why);
        }
}

#define VEC_MF  16
#define VEC_XM  19
#define FSW_IE  0x0001              /* invalid operation flag */
#define FSW_ES  0x0080              /* exception summary: an unmasked exception is pending */
#define FCW_IM  0x0001              /* invalid operation masked */
#define MXCSR_IM 0x0080             /* SIMD invalid operation masked */

static struct xstate pending_state;
extern const char xr_at_fwait[], xr_at_sqrt[];

/* EC: an unmasked x87 exception pending over several switches (the kernel's restore path must not
   raise it), then fwait raises #MF in user mode. */
static void pending_x87(mword unused_arg)
{
    (void)unused_arg;
    volatile mword yield_call[4] = { SYS_YIELD, 0, 0, 0 };
    for (unsigned i = 0; i < 4; i++) {
        yield_call[0] = SYS_YIELD;
        xr_round(&pending_state, NULL, XR_SYSCALL, yield_call);
    }
    __asm__ __volatile__(".globl xr_at_fwait\nxr_at_fwait: fwait");
    sys_exit(1);
}

/* EC: yield count times, then exit 0. */
static void yielder(mword count)
{
    for (mword i = 0; i < count; i++)
        sys_yield();
    sys_exit(0);
}

/* EC: SIMD invalid operation unmasked, then sqrt(-1) raises #XM (CR4.OSXMMEXCPT; #UD without). */
static void unmasked_simd(mword unused_arg)
{
    (void)unused_arg;
    uint32_t mx = MXCSR_RESET & ~MXCSR_IM;
    float minus_one = -1.0f;
    __asm__ __volatile__("ldmxcsr %0\n.globl xr_at_sqrt\nxr_at_sqrt: sqrtss %1, %%xmm0"
                         :: "m"(mx), "m"(minus_one) : "xmm0");
    sys_exit(2);                    /* the CPU only set the flag (QEMU TCG does so) */
}

/* A pending x87 exception survives switches and faults the EC, not the kernel; so does #XM. */
static void test_exceptions(unsigned n)
{
    mword pd, other;
    struct ec_info ei;
    CHECK_ST(child_pd(&pd), E_OK);
    xstate_pattern(&pending_state, 7);
    *(uint16_t *)&pending_state.img[XI_FCW] &= (uint16_t)~FCW_IM;
    *(uint16_t *)&pending_state.img[XI_FSW] |= FSW_IE | FSW_ES;
    for (unsigned c = 0; c < n; c++) {
        /* A second EC on the core so that the yields switch. */
        if (child_ec(pd, c, yielder, 50, &other) != E_OK)
            other = 0;
        int st = child_run(pd, c, pending_x87, 0, &ei);
        tap_check(st == E_OK && ei.state == EC_FAULTED && ei.fault.vector == VEC_MF &&
                      ei.fault.rip == (mword)xr_at_fwait,
                  "core %u: a pending unmasked x87 exception survives "
                  "switches and fwait faults with #MF (state %u vector %u at %lx)",
                  c, ei.state, ei.fault.vector, ei.fault.rip);
        tap_check(other && ec_wait(other, &ei) == E_OK && exited_with(&ei, 0),
                  "core %u: the other EC ran", c);
        st = child_run(pd, c, unmasked_simd, 0, &ei);
        if (st == E_OK && exited_with(&ei, 2)) {
            tap_check(
                true,
                "core %u: an unmasked SIMD exception faults with #XM # SKIP this CPU sets the flag "
                "without raising #XM (QEMU TCG does)",
                c);
            continue;
        }
        tap_check(st == E_OK && ei.state == EC_FAULTED && ei.fault.vector == VEC_XM &&
                      ei.fault.rip == (mword)xr_at_sqrt,
                  "core %u: an unmasked SIMD exception faults with #XM "
                  "(state %u vector %u at %lx)",
                  c, ei.state, ei.fault.vector, ei.fault.rip);
    }
}

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("xregs");
    unsigned n = info_page()->num_cpus;
    xinfo_detect();
    printf("# xregs: %s, XCR0 %lx, %u cores\n", xinfo.xsave ? "XSAVE" : "FXSAVE only", xinfo.xcr0,
           n);
    test_fresh_and_dirty(n);
    test_pingpong(n);
    test_exceptions(n);
    return utest_done("xregs");
}
