/*
 * Faults stop only the faulting EC (docs/abi.md "Faults"): while ECs of two
 * child PDs spin on every core, ECs of both PDs fault on every core (#PF,
 * #UD, #DE); each fault is reported, and every spinner — same PD or other,
 * same core or other — keeps running and finally exits normally.
 * Run as the root task; TAP output.
 */
#include "utest.h"

#define HOLE_VA   0x20000000UL      /* never delegated */
#define WAIT_LOOPS (1UL << 22)      /* bound on the root's polling rounds */
#define NPD       2

static volatile uint64_t spin[NPD][INFO_MAX_CPUS];  /* shared: each spinner's loop count */
static volatile int stop;                           /* shared: spinners exit when set */
static mword spinner[NPD][INFO_MAX_CPUS];           /* EC selectors */

/* Child: count in spin[] slot idx until stop is set, then exit 0. */
static void child_spin(mword idx)
{
    volatile uint64_t *count = &spin[0][0] + idx;
    while (!READ_ONCE(stop)) {
        (*count)++;
        cpu_pause();
    }
    sys_exit(0);
}

/* Child: write to a never delegated address (#PF). */
static void child_pf(mword unused_arg)
{
    (void)unused_arg;
    *(volatile uint64_t *)HOLE_VA = 1;
    sys_exit(1);
}

/* Child: execute an undefined instruction (#UD). */
static void child_ud(mword unused_arg)
{
    (void)unused_arg;
    __asm__ __volatile__("ud2");
    sys_exit(1);
}

/* Child: divide by zero (#DE); arg is 0. */
static void child_de(mword zero)
{
    mword q = 1, hi = 0;    /* dividend hi:q = 1 */
    __asm__ __volatile__("divq %2" : "+a"(q), "+d"(hi) : "r"(zero));
    sys_exit((long)q);
}

/* Poll until every spinner's count exceeds base (NULL: 0); false if the bound ran out. */
static bool all_advance(unsigned n, uint64_t base[NPD][INFO_MAX_CPUS])
{
    for (mword round = 0; round < WAIT_LOOPS; round++) {
        bool all = true;
        for (unsigned p = 0; p < NPD; p++)
            for (unsigned c = 0; c < n; c++)
                all = all && spin[p][c] > (base ? base[p][c] : 0);
        if (all)
            return true;
        sys_yield_pause();
    }
    return false;
}

static void start_spinners(const mword pd[NPD], unsigned n)
{
    bool ok = true;
    for (unsigned p = 0; p < NPD; p++)
        for (unsigned c = 0; c < n; c++)
            ok =
                ok && child_ec(pd[p], c, child_spin, p * INFO_MAX_CPUS + c, &spinner[p][c]) == E_OK;
    tap_check(ok, "a spinning EC of each of the two PDs starts on each of the %u cores", n);
    tap_check(all_advance(n, NULL), "every spinner runs");
}

/* Every core: an EC of each PD faults; check the record. */
static void fault_everywhere(const mword pd[NPD], unsigned n)
{
    static const child_fn fns[] = { child_pf, child_ud, child_de };
    static const uint8_t vec[] = { 14, 6, 0 };
    for (unsigned c = 0; c < n; c++)
        for (unsigned p = 0; p < NPD; p++) {
            unsigned k = (c + p) % ARRAY_SIZE(fns);
            struct ec_info ei;
            int st = child_run(pd[p], c, fns[k], 0, &ei);
            tap_check(st == E_OK && ei.state == EC_FAULTED && ei.fault.vector == vec[k] &&
                          ei.cpu == c,
                      "core %u: an EC of PD %u stops with vector %u (got state %u vector %u)", c, p,
                      vec[k], ei.state, ei.fault.vector);
        }
}

static void check_spinners_survive(unsigned n)
{
    static uint64_t base[NPD][INFO_MAX_CPUS];
    for (unsigned p = 0; p < NPD; p++)
        for (unsigned c = 0; c < n; c++)
            base[p][c] = spin[p][c];
    tap_check(all_advance(n, base),
              "after the faults every spinner of both PDs on every core still advances");
    bool running = true;
    for (unsigned p = 0; p < NPD; p++)
        for (unsigned c = 0; c < n; c++) {
            struct ec_info ei;
            running =
                running && sys_ec_status(spinner[p][c], 0, &ei) == E_OK && ei.state == EC_RUNNING;
        }
    tap_check(running, "ec_status reports every spinner running");
    WRITE_ONCE(stop, 1);
    bool exited = true;
    for (unsigned p = 0; p < NPD; p++)
        for (unsigned c = 0; c < n; c++) {
            struct ec_info ei;
            exited = exited && ec_wait(spinner[p][c], &ei) == E_OK && exited_with(&ei, 0);
        }
    tap_check(exited, "every spinner exits normally when told to");
}

int main(mword arg)
{
    const struct info_page *ip = (const struct info_page *)arg;
    unsigned n = ip->num_cpus < INFO_MAX_CPUS ? ip->num_cpus : INFO_MAX_CPUS;
    mword pd[NPD];
    if (!utest_init(arg))
        return utest_done("fault_isolation");
    for (unsigned p = 0; p < NPD; p++)
        CHECK_ST(child_pd(&pd[p]), E_OK);
    if (tap_failures() != 0)
        return utest_done("fault_isolation");
    start_spinners(pd, n);
    fault_everywhere(pd, n);
    check_spinners_survive(n);
    return utest_done("fault_isolation");
}
