/*
 * Reused virtual address (lecture: "TLB Invalidations and Shootdowns"): a PD
 * maps frame A at an address and reads it on every core, the root revokes it
 * and delegates frame B at the same address; every core must then read B,
 * never A from a stale TLB entry. One reader EC per core (core 0 shares its
 * core with the root) reads only when the root announces a new round, so the
 * translation of the previous round stays in its TLB. Run as the root task.
 */
#include "utest.h"

#define REUSE_VA   0x10000000UL     /* child: the address that is remapped every round */
#define ROUNDS     200u             /* A, B, A, B, ...: each round one revoke and one remap */
#define MARK_A     0xaaaa0000aaaa0001UL
#define MARK_B     0xbbbb0000bbbb0002UL

static volatile uint64_t round_no;              /* the root announces round r (0: none yet) */
static volatile uint64_t done_round[INFO_MAX_CPUS]; /* reader c has read round r */
static volatile uint64_t seen[INFO_MAX_CPUS];   /* what reader c read in its last round */
static volatile uint64_t stop;

/* Reader on one core: for each announced round read REUSE_VA once and report it. */
static void child_reader(mword cpu)
{
    uint64_t r = 0;
    while (!stop) {
        if (round_no == r) {
            sys_yield_pause();                  /* core 0: let the root run */
            continue;
        }
        r = round_no;
        seen[cpu] = *(volatile uint64_t *)REUSE_VA;
        done_round[cpu] = r;
    }
    sys_exit(0);
}

/* Announce round r and wait until every reader has read it. */
static void run_round(unsigned n, uint64_t r)
{
    round_no = r;
    for (unsigned c = 0; c < n; c++)
        while (done_round[c] != r)
            sys_yield_pause();
}

static void test_every_core_reads_the_new_frame_after_a_remap(unsigned n)
{
    mword pd, ec[INFO_MAX_CPUS];
    mword frame[2] = { mem_alloc(1), mem_alloc(1) };
    tap_check(frame[0] != 0 && frame[1] != 0, "two frames A and B");
    if (frame[0] == 0 || frame[1] == 0)
        return;
    *(volatile uint64_t *)frame[0] = MARK_A;
    *(volatile uint64_t *)frame[1] = MARK_B;
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, frame[0], REUSE_VA, 1, MEM_R), E_OK);
    for (unsigned c = 0; c < n; c++)
        CHECK_ST(child_ec(pd, c, child_reader, c, &ec[c]), E_OK);
    unsigned wrong = 0, errors = 0, first_wrong = 0;
    for (unsigned r = 1; r <= ROUNDS; r++) {
        unsigned cur = (r - 1) & 1;             /* frame mapped in this round */
        run_round(n, r);
        for (unsigned c = 0; c < n; c++)
            if (seen[c] != (cur ? MARK_B : MARK_A) && wrong++ == 0)
                first_wrong = r * 100 + c;
        errors += sys_revoke(SEL_ROOT_PD, SPACE_MEM, frame[cur], 1, MEM_RWX, 0) != E_OK;
        errors += sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, frame[!cur], REUSE_VA, 1, MEM_R) != E_OK;
    }
    stop = 1;
    struct ec_info ei;
    unsigned exited = 0;
    for (unsigned c = 0; c < n; c++)
        exited += ec_wait(ec[c], &ei) == E_OK && exited_with(&ei, 0);
    tap_check(errors == 0,
              "every revoke of the old frame and delegation of the new one succeeded (%u errors)",
              errors);
    tap_check(wrong == 0,
              "every core read the frame mapped now in each of %u rounds (%u stale, first at "
              "round*100+core %u)",
              ROUNDS, wrong, first_wrong);
    tap_check(exited == n, "all %u readers ran to the end without a fault (%u)", n, exited);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    test_every_core_reads_the_new_frame_after_a_remap(info_page()->num_cpus);
    return utest_done("tlb_reuse");
}
