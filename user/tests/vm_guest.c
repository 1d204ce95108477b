/*
 * vCPUs (docs/abi.md "create_vcpu", "vcpu_regs"): the root is the VMM of a small 64-bit guest
 * (user/tests/vm_guest.h) that runs on another core with its own page tables in guest memory.
 * The guest touches memory, does port I/O that exits and is emulated (out values seen, in
 * answered), a cpuid the VMM emulates, takes a nested fault on an undelegated page that the
 * VMM delegates before resuming it, a vmmcall (vmcall on VMX), touches memory beyond what it
 * has, and halts. A revoke of a page the guest reads in a loop on another core makes its next
 * access fault: when the revoke returns, at most the instruction in flight completes. An
 * exception whose delivery faults on the guest's undelegated IDT is delivered once the VMM
 * delegates it; the guest's cr8 stays its own across exits (SVM); an emulated in of 1, 2 or 4
 * bytes writes only what the instruction writes. Attacks:
 * guest states the hardware refuses (reported as VM_EXIT_INVALID), the reset state (a fetch
 * beyond guest memory), another PD resuming or reading the vCPU, vcpu_regs on an EC that is no
 * vCPU, the VM's PD destroyed while its vCPU runs on another core (every frame back). Without
 * SVM and VMX (or with "novirt") create_vcpu and MEM_G answer E_NOENT. The cost of a VM exit
 * round trip (vmmcall, VMM, resume) is printed. Root task; TAP output.
 */
#include "vm_guest.h"
#include "words.h"

#define TWO_ON_ONE_EXITS 64u             /* over 3 s at 20 timer ticks a second */
#define CPUID_B     0x756e6547u         /* the VMM's answer to leaf 0x40000000 */
#define CPUID_C     0x6c65746eu
#define CPUID_D     0x49656e69u
#define IN_VALUE    0xabu
#define VMCALL_RESULT 0xdeadbeefcafef00dUL      /* the VMM's result of the vmmcall, in rax */
#define SPIN_READS  2000u               /* reads the guest makes before the revoke */
#define ROUNDS      16u                 /* round trips timed */
#define VCPUS       40u                 /* vCPUs of the ASID case */
#define TRIALS      96u                 /* random guest states */

/* Whether the kernel should run vCPUs here: CPUID has SVM with nested paging or VMX (whose
   EPT only the kernel can see), and no "novirt". */
static bool virt_expected(void)
{
    return (cpu_has_npt() || cpu_has_vmx()) && !word_find(info_page()->cmdline, "novirt", 0);
}

/* Pool frames and heap pages, the books a destroyed VM must leave as they were. */
static uint64_t books(void)
{
    struct core_counters c = utest_counters(0);
    return c.pool_free + c.heap_pages;
}

/* Without SVM/VMX: create_vcpu and MEM_G refused, nothing changed. */
static void no_virt(void)
{
    mword pd = sel_alloc(), v = sel_alloc(), w = mem_alloc(1);
    CHECK_ST(sys_create_pd(pd, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    struct pd_info a, b;
    sys_pd_info(pd, &a);
    CHECK_ST(sys_create_vcpu(v, pd, 0), E_NOENT);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, w, 0, 1, MEM_RWX | MEM_G), E_NOENT);
    sys_pd_info(pd, &b);
    struct lookup_info li;
    tap_check(a.frames == b.frames && sys_lookup(SEL_ROOT_PD, SPACE_OBJ, v, &li) == E_NOENT,
              "no virtualization: create_vcpu and MEM_G answer E_NOENT, nothing changed");
}

/* The argument checks of create_vcpu and vcpu_regs, in their order. */
static void arg_checks(void)
{
    mword pd = sel_alloc(), v = sel_alloc(), ec;
    struct vcpu_regs r;
    CHECK_ST(sys_create_pd(pd, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    CHECK_ST(sys_create_vcpu(v, SEL_ROOT_EC, 0), E_CAP);
    CHECK_ST(sys_create_vcpu(v, pd, info_page()->num_cpus), E_CPU);
    CHECK_ST(sys_create_vcpu(SEL_NULL, pd, 0), E_ARG);
    CHECK_ST(sys_create_vcpu(SEL_ROOT_EC, pd, 0), E_BUSY);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, mem_alloc(1), 0, 1, MEM_R | MEM_G),
             E_NOENT);
    CHECK_ST(sys_create_vcpu(v, pd, 0), E_OK);
    struct ec_info ei;
    CHECK_ST(sys_ec_status(v, 0, &ei), E_OK);
    tap_check(ei.state == EC_VMEXIT && ei.exit.reason == VM_EXIT_START,
              "a new vCPU is stopped at VM_EXIT_START (state %u, reason %u)", ei.state,
              ei.exit.reason);
    CHECK_ST(sys_vcpu_regs(v, 2, &r), E_ARG);
    CHECK_ST(sys_vcpu_regs(v, 0, (struct vcpu_regs *)USER_LIMIT), E_RANGE);
    CHECK_ST(sys_vcpu_regs(SEL_ROOT_EC, 0, &r), E_ARG);
    CHECK_ST(sys_vcpu_regs(SEL_ROOT_PD, 0, &r), E_CAP);
    CHECK_ST(sys_vcpu_regs(v, 0, &r), E_OK);
    tap_check(r.rip == 0xfff0 && r.cs.sel == 0xf000 && r.cs.base == 0xffff0000 &&
                  r.cr0 == 0x60000010 && r.gpr[VCPU_RDX] == 0x600 && r.efer == 0,
              "the reset state: cs:rip f000:fff0 (base ffff0000), cr0 60000010, edx 600");
    /* The reset state runs: its first fetch (0xfffffff0) is beyond the guest's memory. */
    uint64_t sw = utest_counters(0).ctx_switches;
    CHECK_ST(sys_ec_resume(v, 0, 0, 0), E_OK);
    int again = sys_ec_resume(v, 0, 0, 0);
    /* E_OK only if core 0 switched to the vCPU in between and it stopped again (a timer tick
       preempted this EC): a resume of a vCPU that runs or waits to run is E_BUSY. */
    sw = utest_counters(0).ctx_switches - sw;
    tap_check(again == E_BUSY || (again == E_OK && sw > 1),
              "a second resume before the vCPU stopped again: E_BUSY (got %d, %lu switches)",
              again, (unsigned long)sw);
    struct guest g = { .pd = pd, .vcpu = v };
    CHECK_ST(guest_next(&g, &ei, NULL), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_NPF && ei.exit.addr == 0xfffffff0 &&
                  ei.exit.access == FAULT_X,
              "the reset state fetches at 0xfffffff0: nested fault (reason %u, addr %lx, "
              "access %u)", ei.exit.reason, (unsigned long)ei.exit.addr, ei.exit.access);
    (void)ec;
    /* A PD whose quota cannot hold a vCPU: E_NOMEM, nothing changed. */
    mword small = sel_alloc(), v2 = sel_alloc();
    struct pd_info a, b;
    CHECK_ST(sys_create_pd(small, SEL_ROOT_PD, PD_OBJ_FRAMES + 2), E_OK);
    sys_pd_info(small, &a);
    CHECK_ST(sys_create_vcpu(v2, small, 0), E_NOMEM);
    sys_pd_info(small, &b);
    struct lookup_info li;
    tap_check(a.frames == b.frames && a.used == b.used && a.heap_pages == b.heap_pages &&
                  sys_lookup(SEL_ROOT_PD, SPACE_OBJ, v2, &li) == E_NOENT,
              "create_vcpu in a PD without the quota for it: E_NOMEM, nothing changed (frames "
              "%lu -> %lu, used %lu -> %lu)", (unsigned long)a.frames, (unsigned long)b.frames,
              (unsigned long)a.used, (unsigned long)b.used);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, small, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* Refused guest states: VMRUN / VM entry fails, reported as VM_EXIT_INVALID. The first is the
 * vendor's: VMX ignores CR0.NW and CD at entry (SDM Vol. 3, 26.3.2.1), SVM does not check TR. */
static void bad_states(mword cpu)
{
    bool svm = cpu_has_svm();
    const char *what[] = { svm ? "CR0.NW without CD" : "an unusable TR",
                           "long mode without CR4.PAE", "CS with both L and D in long mode" };
    for (unsigned i = 0; i < ARRAY_SIZE(what); i++) {
        struct guest g;
        CHECK_ST(guest_make(&g, cpu, g_addr(g_main)), E_OK);
        struct vcpu_regs r = guest_regs(g_addr(g_main));
        if (i == 0 && svm)
            r.cr0 |= 0x20000000UL;
        if (i == 0 && !svm)
            r.tr.attr &= ~0x80u;                /* P clear: unusable */
        if (i == 1)
            r.cr4 = 0;
        if (i == 2)
            r.cs.attr |= 0x400;
        CHECK_ST(sys_vcpu_regs(g.vcpu, VCPU_REGS_SET, &r), E_OK);
        CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
        struct ec_info ei;
        CHECK_ST(guest_next(&g, &ei, NULL), E_OK);
        tap_check(ei.state == EC_VMEXIT && ei.exit.reason == VM_EXIT_INVALID,
                  "%s: VM_EXIT_INVALID (state %u, reason %u, code %lx)", what[i], ei.state,
                  ei.exit.reason, (unsigned long)ei.exit.qual);
        /* Fixed, the same vCPU runs. */
        r = guest_regs(g_addr(g_after_beyond));
        CHECK_ST(sys_vcpu_regs(g.vcpu, VCPU_REGS_SET, &r), E_OK);
        CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
        CHECK_ST(guest_next(&g, &ei, NULL), E_OK);
        tap_check(ei.exit.reason == VM_EXIT_HLT, "%s, fixed: the vCPU runs to its hlt", what[i]);
        CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF),
                 E_OK);
    }
}

/* Run g from its hlt to its hlt again; whether it got there. */
static bool hlt_again(const struct guest *g)
{
    struct ec_info ei;
    return sys_ec_resume(g->vcpu, EC_RESUME_RIP, g_addr(g_after_beyond), 0) == E_OK &&
           guest_next(g, &ei, NULL) == E_OK && ei.exit.reason == VM_EXIT_HLT;
}

/* More vCPUs on cpu than the CPU has ASIDs (QEMU: 16): new generations, and a vCPU made
   before them runs on with a new ASID. */
static void asid_wrap(mword cpu)
{
    struct guest old, g;
    CHECK_ST(guest_make(&old, cpu, g_addr(g_after_beyond)), E_OK);
    tap_check(hlt_again(&old), "a first vCPU runs to its hlt");
    unsigned bad = 0;
    for (unsigned i = 0; i < VCPUS; i++) {
        bad += guest_make(&g, cpu, g_addr(g_after_beyond)) != E_OK || !hlt_again(&g);
        bad += sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF) != E_OK;
    }
    tap_check(bad == 0, "%u more vCPUs on core %lu, one after the other, each ran (%u failed)",
              VCPUS, (unsigned long)cpu, bad);
    tap_check(hlt_again(&old), "the first vCPU runs again after the ASID generations");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, old.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* The guest's main path on cpu: every exit checked and emulated. */
static void main_path(mword cpu)
{
    struct guest g;
    struct ec_info ei;
    unsigned intr = 0;
    CHECK_ST(guest_make(&g, cpu, g_addr(g_main)), E_OK);
    CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, &intr), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_IO && ei.exit.addr == 0x80 && ei.exit.size == 1 &&
                  ei.exit.access == VM_IO_OUT && ei.exit.qual == 0x11 && ei.exit.len == 2 &&
                  ei.cpu == cpu,
              "out %%al, $0x80: VM_EXIT_IO out, port 80, 1 byte, value 11, length 2 (reason %u "
              "port %lx size %u value %lx len %u)", ei.exit.reason, (unsigned long)ei.exit.addr,
              ei.exit.size, (unsigned long)ei.exit.qual, ei.exit.len);
    tap_check(*g_data(&g, D_TOUCH) == 0x1234 && *g_data(&g, D_COPY) == 0x1234,
              "the guest wrote and read its memory (the VMM sees %lx)",
              (unsigned long)*g_data(&g, D_COPY));
    CHECK_ST(guest_skip(&g, &ei, false, 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, &intr), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_IO && ei.exit.addr == 0x3f8 && ei.exit.size == 2 &&
                  ei.exit.access == VM_IO_OUT && ei.exit.qual == 0x5678 && ei.exit.len == 2,
              "out %%ax, %%dx: port 3f8, 2 bytes, value 5678 (got port %lx size %u value %lx)",
              (unsigned long)ei.exit.addr, ei.exit.size, (unsigned long)ei.exit.qual);
    CHECK_ST(guest_skip(&g, &ei, false, 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, &intr), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_IO && ei.exit.addr == 0x60 && ei.exit.size == 1 &&
                  ei.exit.access == VM_IO_IN,
              "in $0x60, %%al: VM_EXIT_IO in, port 60, 1 byte (got reason %u port %lx)",
              ei.exit.reason, (unsigned long)ei.exit.addr);
    CHECK_ST(guest_skip(&g, &ei, true, IN_VALUE), E_OK);
    CHECK_ST(guest_next(&g, &ei, &intr), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_CPUID && ei.exit.len == 2,
              "cpuid: VM_EXIT_CPUID, length 2 (reason %u)", ei.exit.reason);
    tap_check(*g_data(&g, D_IN) == IN_VALUE, "the guest got the emulated in (%lx)",
              (unsigned long)*g_data(&g, D_IN));
    struct vcpu_regs r;
    CHECK_ST(sys_vcpu_regs(g.vcpu, 0, &r), E_OK);
    tap_check(r.gpr[VCPU_RAX] == 0x40000000 && r.gpr[VCPU_RCX] == 0 &&
                  r.gpr[VCPU_R8] == DATA_GPA && r.rip == ei.exit.rip,
              "the VMM reads the leaf in eax (%lx), the guest's r8 and rip",
              (unsigned long)r.gpr[VCPU_RAX]);
    r.gpr[VCPU_RBX] = CPUID_B;
    r.gpr[VCPU_RCX] = CPUID_C;
    r.gpr[VCPU_RDX] = CPUID_D;
    r.rip += ei.exit.len;
    CHECK_ST(sys_vcpu_regs(g.vcpu, VCPU_REGS_SET, &r), E_OK);
    CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, &intr), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_NPF && ei.exit.addr == LAZY_GPA &&
                  ei.exit.access == FAULT_W,
              "a write to an undelegated page: VM_EXIT_NPF at %lx, write (got %u at %lx, %u)",
              LAZY_GPA, ei.exit.reason, (unsigned long)ei.exit.addr, ei.exit.access);
    tap_check(*g_data(&g, D_CPUID_B) == CPUID_B && *g_data(&g, D_CPUID_C) == CPUID_C &&
                  *g_data(&g, D_CPUID_D) == CPUID_D,
              "the guest got the emulated cpuid");
    mword lazy = mem_alloc(1);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, g.pd, SPACE_MEM, lazy, LAZY_GPA, 1, MEM_R | MEM_W | MEM_G),
             E_OK);
    CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, &intr), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_VMCALL && ei.exit.len == 3,
              "vmmcall: VM_EXIT_VMCALL, length 3 (reason %u len %u)", ei.exit.reason,
              ei.exit.len);
    CHECK_ST(sys_vcpu_regs(g.vcpu, 0, &r), E_OK);
    tap_check(r.gpr[VCPU_RAX] == 0xfeed && *(volatile uint64_t *)lazy == 0x77 &&
                  *g_data(&g, D_LAZY) == 0x77,
              "the faulting write was retried after the delegation: the page holds 77, and the "
              "call's argument 0xfeed is in rax");
    CHECK_ST(guest_skip(&g, &ei, true, VMCALL_RESULT), E_OK);
    CHECK_ST(guest_next(&g, &ei, &intr), E_OK);
    CHECK_ST(sys_vcpu_regs(g.vcpu, 0, &r), E_OK);
    tap_check(r.gpr[VCPU_RAX] == VMCALL_RESULT, "after the call EC_RESUME_RAX set all of rax "
              "(%lx)", (unsigned long)r.gpr[VCPU_RAX]);
    tap_check(ei.exit.reason == VM_EXIT_NPF && ei.exit.addr == BEYOND_GPA &&
                  ei.exit.access == FAULT_R && ei.exit.rip == g_addr(g_beyond) + 10,
              "a read beyond the guest's memory: VM_EXIT_NPF at %lx (got %lx, rip %lx)",
              BEYOND_GPA, (unsigned long)ei.exit.addr, (unsigned long)ei.exit.rip);
    CHECK_ST(sys_ec_resume(g.vcpu, EC_RESUME_RIP, g_addr(g_after_beyond), 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, &intr), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_HLT && ei.exit.rip == g_addr(g_after_beyond) &&
                  ei.exit.len == 1,
              "hlt: VM_EXIT_HLT at the rip the VMM set (reason %u)", ei.exit.reason);
    printf("# main path: %u host-interrupt exits resumed on the way\n", intr);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* The guest reads REV_GPA in a loop on cpu; the VMM revokes it: when the revoke returns the
   guest completes at most the read in flight, then faults on the page. */
static void revoke_race(mword cpu)
{
    struct guest g;
    struct ec_info ei;
    CHECK_ST(guest_make(&g, cpu, g_addr(g_spin)), E_OK);
    mword rev = mem_alloc(1);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, g.pd, SPACE_MEM, rev, REV_GPA, 1, MEM_R | MEM_G), E_OK);
    CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
    volatile uint64_t *count = g_data(&g, D_SPIN);
    unsigned intr = 0;
    while (*count < SPIN_READS) {           /* resume it after host interrupts meanwhile */
        if (sys_ec_status(g.vcpu, 0, &ei) == E_OK && ei.state == EC_VMEXIT &&
            ei.exit.reason == VM_EXIT_INTR && sys_ec_resume(g.vcpu, 0, 0, 0) == E_OK)
            intr++;
        cpu_pause();
    }
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, rev, 1, MEM_G, 0), E_OK);
    uint64_t at = *count;
    CHECK_ST(guest_next(&g, &ei, &intr), E_OK);
    uint64_t after = *count;
    tap_check(ei.exit.reason == VM_EXIT_NPF && ei.exit.addr == REV_GPA &&
                  ei.exit.access == FAULT_R,
              "after the revoke of MEM_G the guest's next read of the page faults (reason %u "
              "at %lx)", ei.exit.reason, (unsigned long)ei.exit.addr);
    tap_check(after - at <= 1,
              "when the revoke returned, at most the read in flight completed (%lu reads after)",
              (unsigned long)(after - at));
    struct lookup_info li;
    CHECK_ST(sys_lookup(g.pd, SPACE_MEM, REV_GPA, &li), E_OK);
    tap_check(li.rights == MEM_R, "the VM's PD keeps the page without MEM_G (rights %x)",
              li.rights);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, g.pd, SPACE_MEM, rev, REV_GPA, 1, MEM_R | MEM_G), E_BUSY);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, rev, 1, MEM_R, 0), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, g.pd, SPACE_MEM, rev, REV_GPA, 1, MEM_R | MEM_G), E_OK);
    CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
    at = *count;
    while (*count < at + 100) {
        if (sys_ec_status(g.vcpu, 0, &ei) == E_OK && ei.state == EC_VMEXIT &&
            ei.exit.reason == VM_EXIT_INTR)
            sys_ec_resume(g.vcpu, 0, 0, 0);
        cpu_pause();
    }
    tap_check(true, "delegated again, the guest reads the page again (%u interrupt exits)",
              intr);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* Resume whichever of the n vCPUs vs of g stopped on a host interrupt (non-blocking). */
static void resume_interrupted(const struct guest *g, const mword *vs, unsigned n)
{
    (void)g;
    for (unsigned i = 0; i < n; i++) {
        struct ec_info ei;
        if (sys_ec_status(vs[i], 0, &ei) == E_OK && ei.state == EC_VMEXIT &&
            ei.exit.reason == VM_EXIT_INTR)
            sys_ec_resume(vs[i], 0, 0, 0);
    }
    cpu_pause();
}

/* Two vCPUs of one VM read REV_GPA on cores 1 and 2; the revoke returns when neither can use
   the page any more: each one's next read faults. */
static void revoke_two(void)
{
    struct guest g;
    CHECK_ST(guest_make(&g, 1, g_addr(g_spin)), E_OK);
    mword vs[2] = { g.vcpu, sel_alloc() };
    CHECK_ST(sys_create_vcpu(vs[1], g.pd, 2), E_OK);
    struct vcpu_regs r = guest_regs(g_addr(g_spin));
    CHECK_ST(sys_vcpu_regs(vs[1], VCPU_REGS_SET, &r), E_OK);
    mword rev = mem_alloc(1);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, g.pd, SPACE_MEM, rev, REV_GPA, 1, MEM_R | MEM_G), E_OK);
    CHECK_ST(sys_ec_resume(vs[0], 0, 0, 0), E_OK);
    CHECK_ST(sys_ec_resume(vs[1], 0, 0, 0), E_OK);
    volatile uint64_t *count = g_data(&g, D_SPIN);
    while (*count < SPIN_READS)
        resume_interrupted(&g, vs, 2);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, rev, 1, MEM_R, 0), E_OK);
    uint64_t at = *count;
    unsigned faulted = 0;
    for (unsigned i = 0; i < 2; i++) {
        struct guest one = { .pd = g.pd, .vcpu = vs[i] };
        struct ec_info ei;
        faulted += guest_next(&one, &ei, NULL) == E_OK && ei.exit.reason == VM_EXIT_NPF &&
                   ei.exit.addr == REV_GPA && ei.cpu == 1 + i;
    }
    tap_check(faulted == 2 && *count - at <= 2,
              "two vCPUs of one VM on cores 1 and 2: after the revoke each one's next read "
              "faults (%u of 2), %lu reads after it returned", faulted,
              (unsigned long)(*count - at));
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* Two spinning vCPUs of one VM on core cpu, resumed at once after every host interrupt: the
   core goes from one guest to the other without ever idling or running user code, for many
   more exits than a kernel stack would hold if each entry nested in the exit before it. The
   guests run with interrupts on: Bochs' VMX takes no external-interrupt exit from a guest with
   IF clear (docs/ARCHITECTURE.md), only the preemption timer's, 2^24 TSC cycles each. */
static void two_on_one_core(mword cpu)
{
    struct guest g;
    CHECK_ST(guest_make(&g, cpu, g_addr(g_plain)), E_OK);
    mword vs[2] = { g.vcpu, sel_alloc() };
    CHECK_ST(sys_create_vcpu(vs[1], g.pd, cpu), E_OK);
    struct vcpu_regs r = guest_regs(g_addr(g_plain));
    r.rflags |= G_RFLAGS_IF;
    CHECK_ST(sys_vcpu_regs(vs[0], VCPU_REGS_SET, &r), E_OK);
    CHECK_ST(sys_vcpu_regs(vs[1], VCPU_REGS_SET, &r), E_OK);
    CHECK_ST(sys_ec_resume(vs[0], 0, 0, 0), E_OK);
    CHECK_ST(sys_ec_resume(vs[1], 0, 0, 0), E_OK);
    unsigned resumed = 0;
    uint64_t t0 = utest_rdtsc();
    while (resumed < TWO_ON_ONE_EXITS) {
        for (unsigned i = 0; i < 2; i++) {
            struct ec_info ei;
            if (sys_ec_status(vs[i], 0, &ei) == E_OK && ei.state == EC_VMEXIT &&
                ei.exit.reason == VM_EXIT_INTR && sys_ec_resume(vs[i], 0, 0, 0) == E_OK)
                resumed++;
        }
        cpu_pause();
    }
    uint64_t t = utest_rdtsc() - t0;
    tap_check(*g_data(&g, D_PLAIN) > 0, "two vCPUs on core %lu, each resumed at once after "
              "its host interrupts: %u exits and entries in %lu TSC cycles, the kernel holds",
              cpu, resumed, (unsigned long)t);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* Make a VM with its guest at rip on cpu, start it and wait for its first exit but host
   interrupts into *ei; the status of the first call that failed. */
static int guest_first(struct guest *g, mword cpu, uint64_t rip, struct ec_info *ei)
{
    int st = guest_make(g, cpu, rip);
    if (st == E_OK)
        st = sys_ec_resume(g->vcpu, 0, 0, 0);
    return st == E_OK ? guest_next(g, ei, NULL) : st;
}

/* A guest's wbinvd (a long cache flush of the host's caches) and its write of DR0 (a host
   register no VMCB or VMCS holds) exit instead of running. */
static void privileged(mword cpu)
{
    struct guest g;
    struct ec_info ei;
    CHECK_ST(guest_first(&g, cpu, g_addr(g_priv), &ei), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_OTHER && ei.exit.rip == g_addr(g_priv),
              "the guest's wbinvd exits (reason %u, code %lx)", ei.exit.reason,
              (unsigned long)ei.exit.qual);
    CHECK_ST(sys_ec_resume(g.vcpu, EC_RESUME_RIP, g_addr(g_priv_dr), 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, NULL), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_OTHER && ei.exit.rip == g_addr(g_priv_dr),
              "the guest's write of DR0 exits (reason %u, code %lx)", ei.exit.reason,
              (unsigned long)ei.exit.qual);
    CHECK_ST(sys_ec_resume(g.vcpu, EC_RESUME_RIP, g_addr(g_priv_dr) + 3, 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, NULL), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_HLT, "then it halts (reason %u)", ei.exit.reason);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* The guest single-steps into a #DB whose delivery reads its IDT, which is not delegated: the
   exit comes in the middle of the delivery. The VMM delegates the IDT and resumes: the #DB in
   flight is delivered (its handler sees the return rip of the trap), not lost (the guest
   would go on at that rip with the trap forgotten and halt there). With set, the VMM gives
   the vCPU its registers (as read) before the resume: a new state, the event dropped. */
static void event_in_flight(mword cpu, bool set)
{
    struct guest g;
    struct ec_info ei;
    CHECK_ST(guest_make(&g, cpu, g_addr(g_event)), E_OK);
    struct vcpu_regs r = guest_regs(g_addr(g_event));
    r.idtr = (struct vcpu_seg){ 0, 0, 0xfff, IDT_GPA };
    CHECK_ST(sys_vcpu_regs(g.vcpu, VCPU_REGS_SET, &r), E_OK);
    CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, NULL), E_OK);
    tap_check(ei.exit.reason == VM_EXIT_NPF && (ei.exit.addr & ~0xfffUL) == IDT_GPA &&
                  ei.exit.access == FAULT_R,
              "a #DB whose IDT is not delegated: VM_EXIT_NPF in its delivery (reason %u at %lx)",
              ei.exit.reason, (unsigned long)ei.exit.addr);
    mword idt = mem_alloc(1);
    uint64_t h = g_addr(g_db), *gate = (uint64_t *)idt + 2 * 1;     /* vector 1 */
    gate[0] = (h & 0xffff) | 0x08UL << 16 | G_GATE_INTR << 32 | (h >> 16 & 0xffff) << 48;
    gate[1] = h >> 32;
    CHECK_ST(sys_delegate(SEL_ROOT_PD, g.pd, SPACE_MEM, idt, IDT_GPA, 1, MEM_R | MEM_G), E_OK);
    if (set) {
        CHECK_ST(sys_vcpu_regs(g.vcpu, 0, &r), E_OK);
        CHECK_ST(sys_vcpu_regs(g.vcpu, VCPU_REGS_SET, &r), E_OK);
    }
    CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, NULL), E_OK);
    uint64_t stop = set ? g_addr(g_event_ret) : g_addr(g_db_done);
    uint64_t seen = set ? 0 : g_addr(g_event_ret);
    tap_check(ei.exit.reason == VM_EXIT_HLT && ei.exit.rip == stop && *g_data(&g, D_EVENT) == seen,
              "%s (exit %u at %lx, want hlt at %lx; return rip %lx, want %lx)",
              set ? "the vCPU's registers set after the exit: the #DB in flight is dropped" :
                    "the IDT delegated, the #DB in flight is delivered on resume: its handler ran",
              ei.exit.reason, (unsigned long)ei.exit.rip, (unsigned long)stop,
              (unsigned long)*g_data(&g, D_EVENT), (unsigned long)seen);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* The guest's cr8 across an exit: on SVM it is the guest's V_TPR and stays what the guest
   wrote; on VMX a move to cr8 exits (VM_EXIT_OTHER, the VMM's to emulate). */
static void tpr_kept(mword cpu)
{
    struct guest g;
    struct ec_info ei;
    CHECK_ST(guest_first(&g, cpu, g_addr(g_tpr), &ei), E_OK);
    if (!cpu_has_svm()) {
        tap_check(ei.exit.reason == VM_EXIT_OTHER && ei.exit.qual == 28,
                  "VMX: the guest's move to cr8 exits (reason %u, code %lu)", ei.exit.reason,
                  (unsigned long)ei.exit.qual);
    } else {
        bool halted = ei.exit.reason == VM_EXIT_HLT;
        CHECK_ST(guest_skip(&g, &ei, false, 0), E_OK);
        CHECK_ST(guest_next(&g, &ei, NULL), E_OK);
        tap_check(halted && ei.exit.reason == VM_EXIT_HLT && *g_data(&g, D_TPR) == 5,
                  "the guest's cr8 (V_TPR) is its own across an exit: wrote 5, read %lu",
                  (unsigned long)*g_data(&g, D_TPR));
    }
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* Emulated ins of 1, 2 and 4 bytes into a full rax, the VMM's result with garbage above the
   size: the guest's rax keeps its upper bytes for 1 and 2, its upper half is cleared for 4
   (as the instructions do). */
static void in_sizes(mword cpu)
{
    static const uint64_t give[3] = { 0xdeadbeefcafef0abUL, 0xdeadbeefcafe4321UL,
                                      0xdeadbeef87654321UL };
    static const uint64_t want[3] = { 0x11223344556677abUL, 0x1122334455664321UL,
                                      0x87654321UL };
    static const unsigned size[3] = { 1, 2, 4 };
    struct guest g;
    struct ec_info ei;
    unsigned bad = 0;
    CHECK_ST(guest_first(&g, cpu, g_addr(g_in), &ei), E_OK);
    for (unsigned i = 0; i < 3; i++) {
        bad += i > 0 && guest_next(&g, &ei, NULL) != E_OK;
        bad += ei.exit.reason != VM_EXIT_IO || ei.exit.access != VM_IO_IN ||
               ei.exit.size != size[i];
        bad += guest_skip(&g, &ei, true, give[i]) != E_OK;
    }
    CHECK_ST(guest_next(&g, &ei, NULL), E_OK);
    tap_check(bad == 0 && ei.exit.reason == VM_EXIT_HLT && *g_data(&g, D_IN1) == want[0] &&
                  *g_data(&g, D_IN2) == want[1] && *g_data(&g, D_IN4) == want[2],
              "in of 1, 2, 4 bytes: EC_RESUME_RAX sets the low size bytes (rax %lx %lx %lx; "
              "%u bad exits)", (unsigned long)*g_data(&g, D_IN1),
              (unsigned long)*g_data(&g, D_IN2), (unsigned long)*g_data(&g, D_IN4), bad);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* The next number of a xorshift sequence. */
static uint64_t rnd(uint64_t *x)
{
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}

/* The guest's valid state with random bits flipped in control registers, EFER, RFLAGS, the
   segments and rip (trial t of the sequence x). */
static struct vcpu_regs mangled(uint64_t *x)
{
    struct vcpu_regs r = guest_regs(g_addr(g_main));
    uint64_t *w = (uint64_t *)&r;
    unsigned flips = 1 + (unsigned)(rnd(x) % 8);
    for (unsigned i = 0; i < flips; i++) {
        unsigned word = VCPU_GPRS + (unsigned)(rnd(x) % (sizeof(r) / 8 - VCPU_GPRS));
        w[word] ^= 1UL << (rnd(x) % 64);
    }
    return r;
}

/* Random guest states: each trial ends in some exit (or runs until its VM is destroyed); the
   kernel never panics, and every frame of the trials is back (the same two selectors and the
   same guest memory for each, so the root's own books stay as they were). */
static void random_states(mword cpu)
{
    uint64_t x = 0x9e3779b97f4a7c15UL, before = 0;
    unsigned seen[VM_EXIT_REASONS + 1] = { 0 }, bad = 0;
    struct guest g = { .pd = sel_alloc(), .vcpu = sel_alloc(), .mem = mem_alloc(GUEST_PAGES) };
    for (unsigned t = 0; t < TRIALS; t++) {
        struct vcpu_regs r = mangled(&x);
        guest_image(g.mem);
        if (t == 1)
            before = books();           /* after the first trial's slot pages */
        bad += sys_create_pd(g.pd, SEL_ROOT_PD, PD_QUOTA_SHARED) != E_OK;
        bad += sys_create_vcpu(g.vcpu, g.pd, cpu) != E_OK;
        bad += sys_delegate(SEL_ROOT_PD, g.pd, SPACE_MEM, g.mem, 0, GUEST_PAGES,
                            MEM_RWX | MEM_G) != E_OK;
        bad += sys_vcpu_regs(g.vcpu, VCPU_REGS_SET, &r) != E_OK;
        bad += sys_ec_resume(g.vcpu, 0, 0, 0) != E_OK;
        unsigned reason = VM_EXIT_REASONS;      /* still running */
        for (unsigned i = 0; i < 2000 && reason == VM_EXIT_REASONS; i++) {
            struct ec_info ei;
            if (sys_ec_status(g.vcpu, 0, &ei) == E_OK && ei.state == EC_VMEXIT) {
                if (ei.exit.reason == VM_EXIT_INTR)
                    sys_ec_resume(g.vcpu, 0, 0, 0);
                else
                    reason = MIN(ei.exit.reason, (uint32_t)VM_EXIT_REASONS);
            }
            cpu_pause();
        }
        seen[reason]++;
        bad += sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF) != E_OK;
    }
    tap_check(bad == 0 && books() == before,
              "%u random states: npf %u hlt %u io %u cpuid %u vmcall %u shutdown %u invalid %u "
              "other %u running %u; %u bad calls, books %lu -> %lu", TRIALS, seen[VM_EXIT_NPF],
              seen[VM_EXIT_HLT], seen[VM_EXIT_IO], seen[VM_EXIT_CPUID], seen[VM_EXIT_VMCALL],
              seen[VM_EXIT_SHUTDOWN], seen[VM_EXIT_INVALID], seen[VM_EXIT_OTHER],
              seen[VM_EXIT_REASONS], bad,
              (unsigned long)before, (unsigned long)books());
}

/* EC of another PD: try to resume and read the root's vCPU at selector sel; exit with the
   statuses (resume in bits 0..7, vcpu_regs in 8..15). */
static void intruder(mword sel)
{
    static struct vcpu_regs r;
    int a = sys_ec_resume(sel, 0, 0, 0), b = sys_vcpu_regs(sel, 0, &r);
    sys_exit(a | b << 8);
}

/* Another PD names the vCPU's selector in its own space: E_CAP, the vCPU untouched. */
static void other_pd(mword cpu)
{
    struct guest g;
    CHECK_ST(guest_make(&g, cpu, g_addr(g_after_beyond)), E_OK);
    mword b;
    struct ec_info ei;
    CHECK_ST(child_pd(&b), E_OK);
    CHECK_ST(child_run(b, 0, intruder, g.vcpu, &ei), E_OK);
    tap_check(exited_with(&ei, E_CAP | E_CAP << 8),
              "another PD's ec_resume and vcpu_regs of the vCPU's selector: E_CAP, E_CAP "
              "(exit %lx)", (unsigned long)ei.exit_code);
    CHECK_ST(sys_ec_status(g.vcpu, 0, &ei), E_OK);
    tap_check(ei.state == EC_VMEXIT && ei.exit.reason == VM_EXIT_START,
              "the vCPU was not started by it");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, b, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* The VM's PD destroyed while its vCPU spins in the guest on cpu: no panic, every frame back. */
static void destroy_running(mword cpu)
{
    uint64_t before = books();
    struct core_counters c0 = utest_counters(0);
    struct guest g;
    CHECK_ST(guest_make(&g, cpu, g_addr(g_plain)), E_OK);
    CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
    volatile uint64_t *count = g_data(&g, D_PLAIN);
    struct ec_info ei;
    while (*count < 1000) {
        if (sys_ec_status(g.vcpu, 0, &ei) == E_OK && ei.state == EC_VMEXIT &&
            ei.exit.reason == VM_EXIT_INTR)
            sys_ec_resume(g.vcpu, 0, 0, 0);
        cpu_pause();
    }
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
    uint64_t at = *count;
    for (unsigned i = 0; i < 100000; i++)
        cpu_pause();
    CHECK_ST(sys_ec_status(g.vcpu, 0, &ei), E_CAP);
    struct core_counters c1 = utest_counters(0);
    tap_check(*count == at, "the destroyed VM's guest runs no more (%lu, then %lu)",
              (unsigned long)at, (unsigned long)*count);
    tap_check(books() == before && c1.pd_frames == c0.pd_frames,
              "every frame of the VM is back: pool + heap %lu -> %lu, pd_frames %lu -> %lu",
              (unsigned long)before, (unsigned long)books(), (unsigned long)c0.pd_frames,
              (unsigned long)c1.pd_frames);
}

/* Median of v[0..n) (sorts v). */
static uint64_t median(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned j = i; j > 0 && v[j - 1] > v[j]; j--) {
            uint64_t t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

/* VM exit round trips on core 0 (the VMM's): vmmcall, the VMM woken, resume past it. */
static void round_trip(void)
{
    struct guest g;
    struct ec_info ei;
    uint64_t v[ROUNDS];
    CHECK_ST(guest_make(&g, 0, g_addr(g_call_loop)), E_OK);
    CHECK_ST(sys_ec_resume(g.vcpu, 0, 0, 0), E_OK);
    CHECK_ST(guest_next(&g, &ei, NULL), E_OK);
    unsigned bad = ei.exit.reason != VM_EXIT_VMCALL;
    for (unsigned i = 0; i < ROUNDS; i++) {
        uint64_t t0 = utest_rdtsc();
        bad += guest_skip(&g, &ei, false, 0) != E_OK;
        bad += guest_next(&g, &ei, NULL) != E_OK || ei.exit.reason != VM_EXIT_VMCALL;
        v[i] = utest_rdtsc() - t0;
    }
    tap_check(bad == 0, "%u VM exit round trips on the VMM's core, median %lu TSC cycles",
              ROUNDS, (unsigned long)median(v, ROUNDS));
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, g.pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* Root task entry. */
int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("vm_guest");
    bool expect = virt_expected();
    mword probe = sel_alloc(), pd = sel_alloc();
    CHECK_ST(sys_create_pd(pd, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    int st = sys_create_vcpu(probe, pd, 0);
    tap_check(st == (expect ? E_OK : E_NOENT), "create_vcpu -> %d: %s", st,
              expect ? "the CPU has SVM or VMX" : "no SVM or VMX (or novirt)");
    if (st != E_OK) {
        no_virt();
        return utest_done("vm_guest");
    }
    mword other = info_page()->num_cpus > 1 ? 1 : 0;
    arg_checks();
    main_path(other);
    main_path(0);
    bad_states(other);
    privileged(other);
    event_in_flight(other, false);
    event_in_flight(other, true);
    tpr_kept(other);
    in_sizes(other);
    asid_wrap(other);
    random_states(other);
    other_pd(other);
    if (utest_need_cores(2, "the revoke and destroy races on another core")) {
        revoke_race(other);
        destroy_running(other);
        two_on_one_core(other);
    }
    if (utest_need_cores(3, "two vCPUs of one VM on two other cores"))
        revoke_two();
    round_trip();
    return utest_done("vm_guest");
}
