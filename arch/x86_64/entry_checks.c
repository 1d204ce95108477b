/*
 * Self-checks of the kernel entry (run with "selftest"): the SMAP patch sites hold
 * the form this CPU needs, and on every core CR4.SMAP agrees with them, syscall
 * clears TF, IF, DF, NT and AC, and #DB, NMI, #DF and #MC have IST stacks of
 * their own in the TSS and the IDT, each (and the kernel stack) mapped above an
 * unmapped guard page in the root the core runs on.
 */
#include "cpu.h"
#include "cpu_local.h"
#include "kmem.h"
#include "paging.h"
#include "selftest.h"
#include "smap.h"
#include "smp.h"
#include "trap.h"

#define IDT_GATE_SIZE   16
#define IDT_IST_BYTE    4           /* offset of the IST field in a gate */

/* Per-core answers (indexed by core id): 0 if the core passed, else the failed checks. */
static volatile uint64_t entry_answer[NUM_CPU];

/*      answer bit              meaning */
#define BAD_SMAP        1u  /* CR4.SMAP differs from what the patch sites say */
#define BAD_SFMASK      2u  /* SFMASK lacks a bit of SYSCALL_RFLAGS_MASK */
#define BAD_IST         4u  /* an IST vector without its own stack in the TSS or the IDT */
#define BAD_RFLAGS_AC   8u  /* with SMAP: this cross-core call's handler runs with AC set */
#define BAD_GUARD       16u /* an IST or kernel stack not mapped, or its guard page mapped */

/* Whether the stack page below top is mapped in root and the guard page below it is not. */
static bool guarded(paddr_t root, vaddr_t top)
{
    struct ptab_map m;
    return kmem_lookup(root, top - PAGE_SIZE, &m) && !kmem_lookup(root, top - 2 * PAGE_SIZE, &m);
}

/* Check this core's entry set-up against the patch decision keep (SMAP sites kept). */
static void check_core(void *arg)
{
    bool keep = arg != NULL;
    struct cpu_local *c = this_cpu();
    static const uint8_t vec[] = { VEC_DF, VEC_NMI, VEC_DB, VEC_MC };
    static const uint8_t slot[] = { IST_DF, IST_NMI, IST_DB, IST_MC };
    uint64_t bad = 0;

    if (!!(read_cr4() & CR4_SMAP) != keep)
        bad |= BAD_SMAP;
    if ((rdmsr(MSR_SFMASK) & SYSCALL_RFLAGS_MASK) != SYSCALL_RFLAGS_MASK)
        bad |= BAD_SFMASK;
    for (unsigned i = 0; i < sizeof(vec); i++) {
        uint64_t top = cpu_tss(c)->ist[slot[i] - 1];
        uint8_t ist = ((const uint8_t *)c->idt)[vec[i] * IDT_GATE_SIZE + IDT_IST_BYTE] & 7;
        if (ist != slot[i] || !top || top == CORE_STACK_TOP(c->id) || top != c->ist[slot[i] - 1])
            bad |= BAD_IST;
        for (unsigned j = 0; j < i; j++)
            if (cpu_tss(c)->ist[slot[j] - 1] == top)
                bad |= BAD_IST;
        if (!guarded(read_cr3() & CR3_ADDR, top))
            bad |= BAD_GUARD;
    }
    if (!guarded(read_cr3() & CR3_ADDR, CORE_STACK_TOP(c->id)))
        bad |= BAD_GUARD;
    if (keep && (read_rflags() & RFL_AC))
        bad |= BAD_RFLAGS_AC;
    entry_answer[c->id] = bad;
}

SELFTEST(smap_sites_hold_stac_clac_exactly_when_the_cpu_has_smap)
{
    vaddr_t bad;
    unsigned n = smap_sites_check(&bad);
    if (n == 0)
        return SELFTEST_FAIL("no patch sites recorded");
    if (bad)
        return SELFTEST_FAIL("site %lx holds the wrong form (SMAP %s)", bad,
                             smap_present() ? "present" : "absent");
    return true;
}

SELFTEST(every_core_has_smap_as_patched_syscall_mask_and_guarded_ist_stacks_for_db_nmi_df_mc)
{
    void *keep = smap_present() ? (void *)1 : NULL;
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        entry_answer[c] = ~0UL;
        if (!smp_call(c, check_core, keep))
            return SELFTEST_FAIL("core %u did not answer", c);
        if (entry_answer[c])
            return SELFTEST_FAIL(
                "core %u fails checks %lx (1 CR4.SMAP, 2 SFMASK, 4 IST, 8 AC, 16 guard)", c,
                entry_answer[c]);
    }
    return true;
}
