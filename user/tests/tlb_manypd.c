/*
 * One revoke that shoots down more PDs than the kernel's shootdown batch holds
 * (a batch holds SHOOTDOWN_BATCH_PDS = 16 PDs, include/space_mem.h). The root
 * delegates one page into each of NPD children, at an address where it is the
 * only entry of its page table, so the revoke detaches one table per child;
 * each child has a reader EC on a core other than 0 reading the page in a
 * loop. One revoke of the page must leave every child without it: every
 * reader faults, none completes a read after the revoke returned (the sequence
 * handshake of utest.h: stale_reader), and every child's detached table is freed.
 * The tables of a PD may be freed only after that PD's shootdown: the
 * quarantine build (make PTAB_QUARANTINE=1, include/quarantine.h) panics if
 * one is freed earlier, which is what the old order did for the 17th PD on.
 * ROUNDS rounds. Run as the root task; TAP output.
 */
#include "utest.h"

#define NPD         40u             /* children: more than twice a shootdown batch */
#define ROUNDS      3u
#define TARGET_VA   0x10000000UL    /* child: 256 MiB, alone in its page table */
#define STACK_VA    0x20000000UL    /* child: the reader's stack, reused every round */
#define PATTERN     0x17171717u

/* Shared with the readers (same data segment); one per child. */
static struct stale_reader readers[NPD] aligned(64);
static volatile uint64_t seq;       /* the root sets it to the round's number after revoke */

/* Reader of child arg >> 32 for round arg & 0xffffffff: read until the read faults. */
static void child_reader(mword arg)
{
    stale_reader_run(&readers[arg >> 32], &seq, arg & 0xffffffffu, TARGET_VA, PATTERN);
}

/* Table frames of pd's master table (pd_info), 0 on error. */
static uint64_t tables(mword pd)
{
    struct pd_info in;
    return sys_pd_info(pd, &in) == E_OK ? in.hpt_tables : 0;
}

static void test_one_revoke_covers_every_child(unsigned ncpu)
{
    mword pd[NPD], ec[NPD];
    uint64_t base[NPD];
    unsigned made = 0, errors = 0, faulted = 0, readers_run = 0, gone = 0, freed = 0;
    for (unsigned i = 0; i < NPD; i++)
        made += child_pd(&pd[i]) == E_OK &&
                child_give(pd[i], STACK_VA, CHILD_STACK_PAGES, MEM_R | MEM_W, NULL) == E_OK;
    tap_check(made == NPD, "%u children with a program and a stack (%u)", NPD, made);
    mword page = mem_alloc(1);
    tap_check(page != 0, "a page for the children");
    if (made != NPD || page == 0)
        return;
    *(volatile uint32_t *)page = PATTERN;
    for (unsigned i = 0; i < NPD; i++)
        base[i] = tables(pd[i]);
    for (uint64_t round = 1; round <= ROUNDS; round++) {
        for (unsigned i = 0; i < NPD; i++) {
            readers[i].reads = 0;
            errors +=
                sys_delegate(SEL_ROOT_PD, pd[i], SPACE_MEM, page, TARGET_VA, 1, MEM_R) != E_OK;
            ec[i] = sel_alloc();
            mword top = STACK_VA + CHILD_STACK_PAGES * PAGE_SIZE_USER;
            errors += sys_create_ec(ec[i], pd[i], 1 + i % (ncpu - 1), (mword)child_reader,
                                    ec_stack_ptr((void *)top), (mword)i << 32 | round) != E_OK;
        }
        for (unsigned i = 0; i < NPD; i++)
            while (readers[i].reads == 0)
                sys_yield_pause();                          /* every reader has read */
        errors += sys_revoke(SEL_ROOT_PD, SPACE_MEM, page, 1, MEM_RWX, 0) != E_OK;
        seq = round;                                        /* revoke has returned */
        for (unsigned i = 0; i < NPD; i++) {
            struct ec_info ei;
            struct lookup_info li;
            errors += ec_wait(ec[i], &ei) != E_OK;
            readers_run++;
            faulted += faulted_on(&ei, TARGET_VA, FAULT_R);
            gone += sys_lookup(pd[i], SPACE_MEM, TARGET_VA, &li) == E_NOENT;
            freed += tables(pd[i]) == base[i];
        }
    }
    unsigned stale, bad;
    stale_reader_sum(readers, NPD, &stale, &bad);
    tap_check(errors == 0, "every delegate, create_ec, revoke and wait succeeded (%u errors)",
              errors);
    tap_check(faulted == readers_run, "every reader faulted on its next read (%u of %u)", faulted,
              readers_run);
    tap_check(stale == 0,
              "no read completed after the revoke returned (%u stale, %u rounds x %u children)",
              stale, ROUNDS, NPD);
    tap_check(bad == 0, "every completed read saw the page's content (%u wrong)", bad);
    tap_check(gone == readers_run, "no child holds the page after the revoke (%u of %u)", gone,
              readers_run);
    tap_check(freed == readers_run,
              "each child's detached table was freed (%u of %u back to their count)", freed,
              readers_run);
}

int main(mword arg)
{
    if (!utest_init(arg))
        return 1;
    unsigned n = info_page()->num_cpus;
    if (n < 2)
        tap_check(true, "readers on other cores need 2 cores # SKIP only %u", n);
    else
        test_one_revoke_covers_every_child(n);
    return utest_done("tlb_manypd");
}
