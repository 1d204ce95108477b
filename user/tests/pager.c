/*
 * A user-level pager (docs/abi.md "12 ec_resume"): the root creates a PD whose EC writes and
 * reads back 1,000 pages it does not hold; the root, its pager, waits for each fault with
 * ec_status(EC_WAIT), delegates the page the fault names and resumes the EC at the faulting
 * instruction; at the end the data is right in the EC and in the root's own view of the pages.
 * Once with the EC on the pager's core, once on another core while a second root EC waits for
 * it too. Attacks: resume of a running EC (itself included), of an exited one, through a wrong
 * or empty capability, with bad flags or a non-user rip, of a destroyed EC, from every core at
 * once (exactly one resume wins), while the EC's PD is destroyed from another core, and without
 * delegating (the fault is reported again each time, no hang). The EC's registers (general and
 * SSE) survive a fault and a resume on a core where the pager ran meanwhile; EC_RESUME_RIP and
 * EC_RESUME_RAX skip an instruction with a result. Root task; TAP output.
 */
#include "utest.h"

#define MAX_CORES   8u
#define PAGES       1000u               /* pages the EC touches, each served on demand */
#define REGION_VA   0x80000000UL        /* the EC's pages: 2 GiB */
#define HOLE_VA     0xc0000000UL        /* a page the pager serves late or never */
#define REGS_VA     0xc0001000UL        /* the page of the register-state case */
#define RACE_VA     0xc0100000UL        /* the double-resume rounds: one page per round */
#define ROUNDS      8u                  /* double-resume rounds */
#define REFAULTS    3u                  /* resumes without a delegation */
#define SIBLING_ECS 150u                /* younger ECs of the destroy-race PD (3 doom steps) */
#define HOLE_BASE   0x5a00u
#define REGS_MAGIC  0x1122334455667788UL
#define SKIP_RAX    42u

static volatile int go_round, helpers_done, stop;        /* shared with the root's helpers */
static volatile mword target;                             /* the EC the helpers resume */
static volatile int hstat[MAX_CORES][ROUNDS];
static volatile unsigned race_counts[E_NOENT + 1];
static volatile unsigned watcher_seen, watcher_bad;

/* The value page i holds at word w (0 or 511). */
static uint64_t pattern(mword i, unsigned w)
{
    return (0x9a9e00000000UL | i << 12 | w) ^ (w ? ~0UL : 0);
}

/* Child: write word 0 and 511 of each of `pages` pages at REGION_VA, read them back; exit with
   the number of wrong words. */
static void child_touch(mword pages)
{
    unsigned bad = 0;
    for (mword i = 0; i < pages; i++) {
        volatile uint64_t *p = (volatile uint64_t *)(REGION_VA + i * PAGE_SIZE_USER);
        p[0] = pattern(i, 0);
        p[511] = pattern(i, 511);
        bad += (p[0] != pattern(i, 0)) + (p[511] != pattern(i, 511));
    }
    sys_exit(bad);
}

/* Child: write HOLE_BASE + i to the hole page for i < times (0: for ever; each write may
   fault), then exit 0. */
static void child_hole(mword times)
{
    for (mword i = 0; i < times || !times; i++)
        *(volatile uint64_t *)HOLE_VA = HOLE_BASE + i;
    sys_exit(0);
}

/* Child: put REGS_MAGIC in r12 and xmm7, fault on a write to REGS_VA, exit 0 if both still hold
   it afterwards. */
static void child_regs(mword unused_arg)
{
    (void)unused_arg;
    uint64_t x, r;
    __asm__ __volatile__("movabs %[m], %%r12\n\t"
                         "movq %%r12, %%xmm7\n\t"
                         "movq $7, (%[va])\n\t"
                         "movq %%xmm7, %[x]\n\t"
                         "mov %%r12, %[r]"
                         : [x] "=&r"(x), [r] "=&r"(r)
                         : [m] "i"(REGS_MAGIC), [va] "r"(REGS_VA)
                         : "r12", "xmm7", "memory");
    sys_exit(x == REGS_MAGIC && r == REGS_MAGIC ? 0 : 1);
}

/* Child: ud2 with rax = 0; exit with rax as it is after it. */
static void child_skip(mword unused_arg)
{
    (void)unused_arg;
    mword rax = 0;
    __asm__ __volatile__("ud2" : "+a"(rax));
    sys_exit((long)rax);
}

/* Child: touch page `round` of RACE_VA, exit 0. */
static void child_race(mword round)
{
    *(volatile uint64_t *)(RACE_VA + round * PAGE_SIZE_USER) = round;
    sys_exit(0);
}

/* Child: spin until stop, then exit 0. */
static void child_spin(mword unused_arg)
{
    (void)unused_arg;
    while (!READ_ONCE(stop))
        cpu_pause();
    sys_exit(0);
}

/* Child: exit 0 at once. */
static void child_exit(mword unused_arg)
{
    (void)unused_arg;
    sys_exit(0);
}

/* Root helper on core `me`: for each double-resume round, wait for it, resume target once. */
static void helper(mword me)
{
    for (unsigned r = 1; r <= ROUNDS; r++) {
        while (READ_ONCE(go_round) < (int)r)
            sys_yield_pause();
        hstat[me][r - 1] = sys_ec_resume(target, 0, 0, 0);
        __atomic_add_fetch(&helpers_done, 1, __ATOMIC_SEQ_CST);
    }
    sys_exit(0);
}

/* Root helper: resume target over and over until its capability is gone (or stop); counts the
   statuses. */
static void racer(mword unused_arg)
{
    (void)unused_arg;
    while (!READ_ONCE(stop)) {
        int st = sys_ec_resume(target, 0, 0, 0);
        race_counts[st >= 0 && st <= (int)E_NOENT ? st : E_NOSYS]++;
        if (st == E_CAP)
            break;
        sys_yield_pause();              /* the EC shares the core: let it fault again */
    }
    sys_exit(0);
}

/* Root watcher: wait for target with EC_WAIT until it exits, counting the faults it sees (each
   address once). */
static void watcher(mword unused_arg)
{
    (void)unused_arg;
    mword last = ~0UL;
    for (;;) {
        struct ec_info ei;
        if (ec_wait(target, &ei) != E_OK) {
            watcher_bad++;
            break;
        }
        if (ei.state == EC_EXITED)
            break;
        if (ei.fault.addr == last) {
            sys_yield_pause();          /* still stopped at the fault it saw */
            continue;
        }
        last = ei.fault.addr;
        watcher_seen++;
    }
    sys_exit(0);
}

/* Destroy the object at root selector sel (its last capability). */
static int destroy(mword sel)
{
    return sys_revoke(SEL_ROOT_PD, SPACE_OBJ, sel, 1, OBJ_R_ALL, REVOKE_SELF);
}

/* A new PD with the root's program; 0 if it cannot be made (one TAP line then). */
static mword new_pd(const char *what)
{
    mword pd;
    int st = child_pd(&pd);
    if (st != E_OK)
        tap_check(false, "%s: create a PD (%d)", what, st);
    return st == E_OK ? pd : 0;
}

/* Start fn(arg) in pd on cpu and wait until it stopped; its EC selector, *ei its state. */
static mword start_stopped(mword pd, mword cpu, child_fn fn, mword arg, struct ec_info *ei)
{
    mword ec;
    memset(ei, 0, sizeof(*ei));
    if (child_ec(pd, cpu, fn, arg, &ec) != E_OK || ec_wait(ec, ei) != E_OK)
        ei->state = ~0u;
    return ec;
}

/* Serve ec's faults in pd from the root's pages at src: each must be the first write to the
   next page of REGION_VA; delegate it and resume. Pages served; *ei the final state. */
static unsigned serve(mword pd, mword ec, mword src, struct ec_info *ei, unsigned *wrong)
{
    unsigned served = 0;
    while (ec_wait(ec, ei) == E_OK && ei->state == EC_FAULTED) {
        mword va = REGION_VA + served * PAGE_SIZE_USER;
        if (!faulted_on(ei, va, FAULT_W) || served >= PAGES) {
            (*wrong)++;
            break;
        }
        if (sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, src + served * PAGE_SIZE_USER, va, 1,
                         MEM_R | MEM_W) != E_OK || sys_ec_resume(ec, 0, 0, 0) != E_OK) {
            (*wrong)++;
            break;
        }
        served++;
    }
    return served;
}

/* The root's view of the pages at src holds what the EC wrote. */
static bool root_view_right(mword src)
{
    for (mword i = 0; i < PAGES; i++) {
        const volatile uint64_t *p = (const volatile uint64_t *)(src + i * PAGE_SIZE_USER);
        if (p[0] != pattern(i, 0) || p[511] != pattern(i, 511))
            return false;
    }
    return true;
}

/* The 1,000-page case with the EC on cpu (another root EC waits for it too, if cpu != 0). */
static void case_pages(mword cpu)
{
    mword pd = new_pd("pages"), src = mem_alloc(PAGES), ec, w = 0;
    if (!pd || !src) {
        tap_check(false, "core %lu: PD and %u pages", (unsigned long)cpu, PAGES);
        return;
    }
    int st = child_ec(pd, cpu, child_touch, PAGES, &ec);
    target = ec;
    watcher_seen = watcher_bad = 0;
    if (st == E_OK && cpu != 0)
        st = child_ec(SEL_ROOT_PD, 1, watcher, 0, &w);
    struct ec_info ei;
    unsigned wrong = 0, served = st == E_OK ? serve(pd, ec, src, &ei, &wrong) : 0;
    tap_check(st == E_OK && served == PAGES && !wrong && exited_with(&ei, 0),
              "core %lu: the EC faulted on each of %u pages in turn, was served and resumed, and "
              "read back what it wrote (served %u, wrong %u, state %u, code %ld)",
              (unsigned long)cpu, PAGES, served, wrong, ei.state, (long)ei.exit_code);
    tap_check(root_view_right(src), "core %lu: the root's own mapping shows the EC's data",
              (unsigned long)cpu);
    if (w) {
        struct ec_info wi;
        tap_check(ec_wait(w, &wi) == E_OK && exited_with(&wi, 0) && !watcher_bad &&
                      watcher_seen <= PAGES,
                  "a second waiter on core 1 saw %u of the faults and the exit",
                  watcher_seen);
    }
    CHECK_ST(destroy(pd), E_OK);
}

/* Resume without delegating: the same fault is reported again each time; then served. */
static void case_refault(mword cpu)
{
    mword pd = new_pd("refault"), src = mem_alloc(1);
    struct ec_info ei, again;
    mword ec = start_stopped(pd, cpu, child_hole, 1, &ei);
    bool ok = faulted_on(&ei, HOLE_VA, FAULT_W);
    for (unsigned i = 0; i < REFAULTS && ok; i++)
        ok = sys_ec_resume(ec, 0, 0, 0) == E_OK && ec_wait(ec, &again) == E_OK &&
             faulted_on(&again, HOLE_VA, FAULT_W) && again.fault.rip == ei.fault.rip;
    tap_check(ok, "core %lu: resumed %u times without a delegation, the EC faults again at the "
              "same rip and is reported each time", (unsigned long)cpu, REFAULTS);
    ok = sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, src, HOLE_VA, 1, MEM_R | MEM_W) == E_OK &&
         sys_ec_resume(ec, 0, 0, 0) == E_OK && ec_wait(ec, &again) == E_OK &&
         exited_with(&again, 0) && *(volatile uint64_t *)src == HOLE_BASE;
    tap_check(ok, "core %lu: then served, it completes its write and exits",
              (unsigned long)cpu);
    CHECK_ST(destroy(pd), E_OK);
}

/* Registers survive: r12 and xmm7 across the fault while the pager (same core) clobbers xmm7. */
static void case_regs(mword cpu)
{
    mword pd = new_pd("regs"), src = mem_alloc(1);
    struct ec_info ei;
    mword ec = start_stopped(pd, cpu, child_regs, 0, &ei);
    bool faulted = faulted_on(&ei, REGS_VA, FAULT_W);
    __asm__ __volatile__("movq %0, %%xmm7" :: "r"(~REGS_MAGIC) : "xmm7");
    bool ok = faulted &&
              sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, src, REGS_VA, 1, MEM_R | MEM_W) == E_OK &&
              sys_ec_resume(ec, 0, 0, 0) == E_OK && ec_wait(ec, &ei) == E_OK &&
              exited_with(&ei, 0) && *(volatile uint64_t *)src == 7;
    tap_check(ok, "core %lu: r12 and xmm7 hold the EC's values after its resume, the write "
              "landed", (unsigned long)cpu);
    CHECK_ST(destroy(pd), E_OK);
}

/* EC_RESUME_RIP and EC_RESUME_RAX: skip a ud2 with a result; bad flags and rips first. */
static void case_skip(void)
{
    mword pd = new_pd("skip");
    struct ec_info ei, now;
    mword ec = start_stopped(pd, 0, child_skip, 0, &ei);
    bool ud = ei.state == EC_FAULTED && ei.fault.vector == VEC_UD;
    tap_check(ud, "a ud2 stops the EC with #UD");
    CHECK_ST(sys_ec_resume(ec, EC_RESUME_ALL + 1, ei.fault.rip + 2, 0), E_ARG);
    CHECK_ST(sys_ec_resume(ec, 1u << 31, 0, 0), E_ARG);
    CHECK_ST(sys_ec_resume(ec, EC_RESUME_RIP, USER_LIMIT, 0), E_RANGE);
    CHECK_ST(sys_ec_resume(ec, EC_RESUME_RIP, 0x8000000000000000UL, 0), E_RANGE);
    CHECK_ST(sys_ec_resume(ec, EC_RESUME_RIP, ~0UL, 0), E_RANGE);
    tap_check(sys_ec_status(ec, 0, &now) == E_OK && now.state == EC_FAULTED &&
                  now.fault.rip == ei.fault.rip,
              "after the failed resumes the EC is still stopped at its fault");
    CHECK_ST(sys_ec_resume(ec, EC_RESUME_RIP | EC_RESUME_RAX, ei.fault.rip + 2, SKIP_RAX), E_OK);
    tap_check(ec_wait(ec, &now) == E_OK && exited_with(&now, SKIP_RAX),
              "resumed past the ud2 with rax = %u, it exits with it", SKIP_RAX);
    CHECK_ST(sys_ec_resume(ec, 0, 0, 0), E_NOENT);
    tap_check(sys_ec_status(ec, 0, &now) == E_OK && exited_with(&now, SKIP_RAX),
              "resuming the exited EC changed nothing");
    CHECK_ST(destroy(pd), E_OK);
}

/* Resume of a running EC, oneself, wrong capabilities, a destroyed EC. */
static void case_wrong(void)
{
    mword pd = new_pd("wrong"), ec;
    struct ec_info ei;
    WRITE_ONCE(stop, 0);
    CHECK_ST(child_ec(pd, info_page()->num_cpus - 1, child_spin, 0, &ec), E_OK);
    CHECK_ST(sys_ec_resume(ec, 0, 0, 0), E_BUSY);
    CHECK_ST(sys_ec_resume(SEL_ROOT_EC, 0, 0, 0), E_BUSY);
    CHECK_ST(sys_ec_resume(SEL_NULL, 0, 0, 0), E_CAP);
    CHECK_ST(sys_ec_resume(SEL_ROOT_PD, 0, 0, 0), E_CAP);
    CHECK_ST(sys_ec_resume(pd, 0, 0, 0), E_CAP);
    CHECK_ST(sys_ec_resume(SEL_COUNT, 0, 0, 0), E_CAP);
    CHECK_ST(sys_ec_resume(~0UL, 0, 0, 0), E_CAP);
    CHECK_ST(sys_ec_resume(sel_alloc(), 0, 0, 0), E_CAP);
    tap_check(sys_ec_status(ec, 0, &ei) == E_OK && ei.state == EC_RUNNING,
              "the running EC is still running");
    WRITE_ONCE(stop, 1);
    tap_check(ec_wait(ec, &ei) == E_OK && exited_with(&ei, 0), "and exits when told to");
    mword f = start_stopped(pd, 0, child_hole, 1, &ei);
    tap_check(faulted_on(&ei, HOLE_VA, FAULT_W), "a second EC faults");
    CHECK_ST(destroy(f), E_OK);
    CHECK_ST(sys_ec_resume(f, 0, 0, 0), E_CAP);
    f = start_stopped(pd, 0, child_hole, 1, &ei);
    CHECK_ST(destroy(pd), E_OK);
    CHECK_ST(sys_ec_resume(f, 0, 0, 0), E_CAP);
}

/* Every core resumes the same faulted EC at once, ROUNDS times: exactly one E_OK each round. */
static void case_double(unsigned n)
{
    mword pd = new_pd("double"), src = mem_alloc(ROUNDS), h[MAX_CORES];
    bool ok = pd && src;
    go_round = helpers_done = 0;
    for (unsigned c = 1; c < n && ok; c++)
        ok = child_ec(SEL_ROOT_PD, c, helper, c, &h[c]) == E_OK;
    unsigned bad = 0;
    for (unsigned r = 1; r <= ROUNDS && ok; r++) {
        struct ec_info ei;
        mword ec = start_stopped(pd, 0, child_race, r - 1, &ei);
        mword va = RACE_VA + (r - 1) * PAGE_SIZE_USER;
        ok = faulted_on(&ei, va, FAULT_W) &&
             sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, src + (r - 1) * PAGE_SIZE_USER, va, 1,
                          MEM_R | MEM_W) == E_OK;
        target = ec;
        __atomic_store_n(&go_round, (int)r, __ATOMIC_SEQ_CST);
        int mine = sys_ec_resume(ec, 0, 0, 0);
        while (READ_ONCE(helpers_done) < (int)(r * (n - 1)))
            sys_yield_pause();
        unsigned wins = mine == E_OK, others = mine == E_OK || mine == E_BUSY || mine == E_NOENT;
        for (unsigned c = 1; c < n; c++) {
            wins += hstat[c][r - 1] == E_OK;
            others += hstat[c][r - 1] == E_OK || hstat[c][r - 1] == E_BUSY ||
                      hstat[c][r - 1] == E_NOENT;
        }
        bad += wins != 1 || others != n;
        ok = ok && ec_wait(ec, &ei) == E_OK && exited_with(&ei, 0);
    }
    for (unsigned c = 1; c < n; c++) {
        struct ec_info ei;
        ok = ok && ec_wait(h[c], &ei) == E_OK && exited_with(&ei, 0);
    }
    tap_check(ok && !bad, "%u cores resume one faulted EC at once, %u rounds: exactly one E_OK, "
              "the others E_BUSY or E_NOENT (%u bad rounds)", n, ROUNDS, bad);
    CHECK_ST(destroy(pd), E_OK);
}

/* free + heap + PD frames: constant unless a frame leaks. */
static uint64_t books(void)
{
    struct core_counters cc = utest_counters(0);
    return cc.pool_free + cc.heap_pages + cc.pd_frames;
}

/* Core 1 resumes an EC (of core 1: the root's core runs the destruction) that faults over and
   over while the root destroys its PD; the PD's
   SIBLING_ECS younger ECs are doomed first, in steps, so resumes between them find the PD
   doomed and the EC not yet (E_ABORT). */
static void case_destroy_race(void)
{
    uint64_t sum0 = books();
    mword pd = new_pd("destroy race"), r, x;
    struct ec_info ei;
    mword ec = start_stopped(pd, 1, child_hole, 0, &ei);
    unsigned made = 0;
    for (unsigned i = 0; i < SIBLING_ECS; i++)
        made += child_ec(pd, 0, child_exit, 0, &x) == E_OK;
    tap_check(made == SIBLING_ECS, "%u more ECs in the PD", made);
    WRITE_ONCE(stop, 0);
    memset((void *)race_counts, 0, sizeof(race_counts));
    target = ec;
    bool ok = faulted_on(&ei, HOLE_VA, FAULT_W) &&
              child_ec(SEL_ROOT_PD, 1, racer, 0, &r) == E_OK;
    for (unsigned i = 0; ok && i < 1000 && race_counts[E_OK] < 20; i++)
        sys_yield_pause();
    CHECK_ST(destroy(pd), E_OK);
    struct ec_info ri;
    ok = ok && ec_wait(r, &ri) == E_OK && exited_with(&ri, 0);
    unsigned others = 0;
    for (unsigned s = 0; s <= E_NOENT; s++)
        others += s != E_OK && s != E_BUSY && s != E_CAP && s != E_ABORT ? race_counts[s] : 0;
    tap_check(ok && race_counts[E_CAP] == 1 && !others,
              "resumes racing the PD's destruction: %u E_OK, %u E_BUSY, %u E_ABORT, then E_CAP; "
              "nothing else", race_counts[E_OK], race_counts[E_BUSY], race_counts[E_ABORT]);
    CHECK_ST(destroy(r), E_OK);
    uint64_t sum1 = books();
    tap_check(sum1 == sum0, "free + heap + PD frames unchanged (%lu -> %lu): no frame leaked",
              (unsigned long)sum0, (unsigned long)sum1);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("pager");
    unsigned n = MIN(info_page()->num_cpus, MAX_CORES);
    case_pages(0);
    if (utest_need_cores(2, "the EC on another core than its pager"))
        case_pages(n - 1);
    case_refault(n - 1);
    case_regs(0);
    case_skip();
    case_wrong();
    if (utest_need_cores(2, "resumes from several cores at once"))
        case_double(n);
    if (utest_need_cores(2, "resumes racing a destruction"))
        case_destroy_race();
    return utest_done("pager");
}
