/*
 * The x87 last-instruction and last-operand pointers (FIP, FDP) do not cross PDs.
 * FXSAVE/XSAVE on AMD CPUs (and QEMU's TCG, whose FXSAVE stores zeros for them
 * while FNSTENV reports them) do not save them, and FXRSTOR/XRSTOR does not load
 * them, so without a scrub at the switch the next EC on the core reads the
 * previous EC's code and data addresses with FNSTENV (the CVE-2006-1056 class).
 * On every core: an EC of PD B uses the x87 (so its image holds x87 state and
 * the switch loads it) and yields until an EC of PD A on that core has loaded a
 * marker with fldl and recorded its own FNSTENV; then B's next x87 instruction
 * is FNSTENV: neither pointer may be A's. Run as the root task; TAP output.
 */
#include "utest.h"

#define ENV_FIP     12              /* FNSTENV 28-byte format: last instruction offset */
#define ENV_FDP     20              /* last operand offset */

struct x87_env {
    uint32_t fip, fdp;
};

static volatile double marker = 2.5;            /* A's operand */
static struct x87_env seen_a[INFO_MAX_CPUS], seen_b[INFO_MAX_CPUS];
static volatile mword b_ready[INFO_MAX_CPUS], a_done[INFO_MAX_CPUS];

/* FIP and FDP of this EC's x87 environment at this point. */
static inline void read_env(struct x87_env *e)
{
    uint8_t env[28] aligned(16);
    __asm__ __volatile__("fnstenv %0" : "=m"(env) :: "memory");
    e->fip = *(uint32_t *)&env[ENV_FIP];
    e->fdp = *(uint32_t *)&env[ENV_FDP];
}

/* PD A on core arg: an x87 load of the marker, its pointers recorded; exits. */
static void child_a(mword cpu)
{
    __asm__ __volatile__("fninit; fldl %0" :: "m"(marker) : "memory");
    read_env(&seen_a[cpu]);                             /* FNSTENV leaves them as they are */
    a_done[cpu] = 1;
    sys_exit(0);
}

/* PD B on core arg: x87 in use, wait for A, then the pointers its registers hold. */
static void child_b(mword cpu)
{
    __asm__ __volatile__("fninit; fld1; fstp %%st(0)" ::: "memory");
    b_ready[cpu] = 1;
    while (!a_done[cpu])
        sys_yield_pause();                              /* no x87 here: A runs on this core */
    read_env(&seen_b[cpu]);
    sys_exit(0);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    unsigned n = info_page()->num_cpus;
    mword a, b;
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    for (unsigned c = 0; c < n; c++) {
        struct ec_info ia, ib;
        mword ec_b;
        bool ran = child_ec(b, c, child_b, c, &ec_b) == E_OK;
        while (ran && !b_ready[c])
            sys_yield_pause();
        ran = ran && child_run(a, c, child_a, c, &ia) == E_OK && exited_with(&ia, 0) &&
              ec_wait(ec_b, &ib) == E_OK && exited_with(&ib, 0);
        tap_check(ran, "core %u: the ECs of PD B and PD A ran and exited", c);
        struct x87_env *ea = &seen_a[c], *eb = &seen_b[c];
        bool shown = ea->fip != 0 || ea->fdp != 0;         /* Bochs reports FIP, FDP 0 */
        tap_check(
            ea->fdp == 0 || ea->fdp == (uint32_t)(mword)&marker,
            "core %u: A's FNSTENV shows its own operand or none (FIP %x, FDP %x, marker %lx)%s", c,
            ea->fip, ea->fdp, (unsigned long)(mword)&marker,
            shown ? "" : " # SKIP this CPU reports neither pointer");
        tap_check((ea->fip == 0 || eb->fip != ea->fip) && (ea->fdp == 0 || eb->fdp != ea->fdp),
                  "core %u: B does not see A's last x87 instruction or operand (B %x %x, A %x %x)",
                  c, eb->fip, eb->fdp, ea->fip, ea->fdp);
    }
    return utest_done("x87_pointers");
}
