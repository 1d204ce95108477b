/*
 * Self-check of the VMX engine (Bochs: corei7_skylake_x): a 64-bit guest with its own page
 * tables in guest memory, in an Ept built by the engine, runs on the boot core and exits with
 * CPUID, an EPT violation on a page not yet mapped (mapped, then resumed at the same
 * instruction), OUT and IN (the IN result emulated), VMCALL (its data page is revoked then, the
 * Ept flushed on every core), an EPT violation on the revoked page, HLT, and a spin that only
 * the preemption timer or an interrupt ends. Without usable VMX the check only reports why.
 */
#include "vmx.h"
#include "abi.h"
#include "arch.h"
#include "cpu.h"
#include "kmalloc.h"
#include "kstring.h"
#include "paging.h"
#include "ptab.h"
#include "selftest.h"

/* Guest-physical layout of the test guest. */
#define G_PML4      0x1000
#define G_PDPT      0x2000
#define G_PD        0x3000
#define G_CODE      0x4000
#define G_DATA      0x5000
#define G_STACK     0x6000
#define G_LATE      0x8000      /* mapped only at the guest's first touch */
#define G_PAGES     6           /* pages mapped from the start: 0x1000..0x6000 */
#define G_IN_PORT   0x81
#define G_OUT_PORT  0x80
#define G_CPUID_RAX 0x56584d54  /* what the VMM answers to the guest's CPUID */
#define G_LATE_WORD 0x77        /* first word of the page mapped on demand */
#define G_IN_VALUE  0xA5        /* what the guest's IN reads */
#define G_OUT_VALUE 0x5A        /* what the guest writes with OUT */
#define G_VMCALL_RAX 42         /* rax at the guest's VMCALL */

/* The guest: runs at G_CODE with the data page at G_DATA (absolute addresses). */
extern const char vmx_test_guest[], vmx_test_guest_end[], vmx_test_guest_spin[];
__asm__(".pushsection .rodata\n"
        ".global vmx_test_guest, vmx_test_guest_end, vmx_test_guest_spin\n"
        "vmx_test_guest:\n"
        "\txorl %eax, %eax\n"
        "\tcpuid\n"                         /* exit: CPUID */
        "\tmovq %rax, 0x5000\n"
        "\tmovq 0x8000, %rbx\n"             /* exit: EPT violation (read of G_LATE) */
        "\tmovq %rbx, 0x5008\n"
        "\tmovb $0x5a, %al\n"
        "\toutb %al, $0x80\n"               /* exit: OUT */
        "\tinb $0x81, %al\n"                /* exit: IN */
        "\tmovb %al, 0x5010\n"
        "\tmovl $42, %eax\n"
        "\tvmcall\n"                        /* exit: VMCALL (G_DATA revoked then) */
        "\tmovq 0x5000, %rcx\n"             /* exit: EPT violation (read of G_DATA) */
        "\thlt\n"                           /* exit: HLT */
        "vmx_test_guest_spin:\n"
        "\tjmp vmx_test_guest_spin\n"       /* exit: preemption timer or interrupt */
        "vmx_test_guest_end:\n"
        ".popsection\n");

/* A zeroed pool frame for the test's Ept (ptab_env.alloc). */
static paddr_t t_alloc(void *ctx)
{
    (void)ctx;
    return kframe_alloc();
}

/* Give a frame of the test's Ept back (ptab_env.free). */
static void t_free(void *ctx, paddr_t pa)
{
    (void)ctx;
    kframe_free(pa);
}

static const struct ptab_env t_env = { .p2v = kmem_p2v, .alloc = t_alloc, .free = t_free };

/* The test's guest: its Ept, its frames (index: guest page number 1..G_PAGES, and G_LATE). */
struct t_guest {
    struct ptab ept;
    paddr_t page[G_PAGES + 1], late;
    struct vmx_vcpu v;
    struct vmx_state s;
};

/* Map guest page gpa to frame pa (read, write, execute, write-back); E_NOMEM. */
static int t_map(struct t_guest *g, uint64_t gpa, paddr_t pa, unsigned perm)
{
    struct ptab_dfree df;
    struct ptab_result res;
    ptab_dfree_init(&df);
    int r = ptab_update(&g->ept, gpa, PAGE_SIZE, pa, (struct ptab_attr){ perm, PTAB_WB }, &df,
                        &res);
    ptab_dfree_release(&df, &t_env);
    return r;
}

/* INVEPT of the root in arg on this core (smp_call). */
static void t_invept(void *arg)
{
    vmx_invept(*(const paddr_t *)arg);
}

/* Run g until an exit that is not an external interrupt (those are taken, as a scheduler
 * would); timer: preemption timer budget. */
static int t_run(struct t_guest *g, struct vmx_exit *e, uint64_t timer, unsigned *intrs)
{
    for (;;) {
        mword fl = irq_save();
        int r = vmx_run(&g->v, &g->s, e, timer);
        irq_restore(fl);
        if (r != E_OK || e->reason != VMX_EXIT_EXT_INTR)
            return r;
        ++*intrs;
    }
}

/* Give back everything g holds. */
static void t_free_guest(struct t_guest *g)
{
    if (g->ept.root)
        ptab_release(&g->ept);
    for (unsigned i = 1; i <= G_PAGES; i++)
        if (g->page[i])
            kframe_free(g->page[i]);
    if (g->late)
        kframe_free(g->late);
    vmx_vcpu_fini(&g->v);
}

/* Build g: guest page tables (one 2 MiB page at 0), code, data, stack, the Ept; E_NOMEM. */
static int t_build(struct t_guest *g)
{
    if (ptab_init(&g->ept, &ptab_ept, &t_env, 4, 0) != E_OK)
        return E_NOMEM;
    for (unsigned i = 1; i <= G_PAGES; i++) {
        g->page[i] = kframe_alloc();
        if (!g->page[i] || t_map(g, i * PAGE_SIZE, g->page[i], PTAB_R | PTAB_W | PTAB_XS) != E_OK)
            return E_NOMEM;
    }
    g->late = kframe_alloc();
    if (!g->late)
        return E_NOMEM;
    *(uint64_t *)phys_to_virt(g->late) = G_LATE_WORD;
    *(uint64_t *)phys_to_virt(g->page[G_PML4 / PAGE_SIZE]) = G_PDPT | PTE_TABLE;
    *(uint64_t *)phys_to_virt(g->page[G_PDPT / PAGE_SIZE]) = G_PD | PTE_TABLE;
    *(uint64_t *)phys_to_virt(g->page[G_PD / PAGE_SIZE]) = 0 | PTE_TABLE | PTE_PS;
    memcpy(phys_to_virt(g->page[G_CODE / PAGE_SIZE]), vmx_test_guest,
           (size_t)(vmx_test_guest_end - vmx_test_guest));
    int r = vmx_vcpu_init(&g->v, g->ept.root);
    if (r != E_OK)
        return r;
    vmx_state_init(&g->s, G_CODE, G_STACK + PAGE_SIZE, G_PML4);
    return E_OK;
}

/* Expect an exit of basic reason want; its name for the failure message. */
#define EXPECT(e, want, what) do { \
        if ((e).reason != (want)) { \
            t_free_guest(&g); \
            return SELFTEST_FAIL("%s: exit reason %x (error %u, qual %lx, gpa %lx, rip %lx), " \
                                 "expected %u", what, (e).reason, (e).insn_error, (e).qual, \
                                 (e).gpa, g.s.rip, (unsigned)(want)); \
        } \
    } while (0)

SELFTEST(vmx_guest_exits_cpuid_ept_violation_io_vmcall_revoke_hlt_and_timer)
{
    if (!vmx_caps.ok) {
        printk("# vmx: not checked (%s)\n", vmx_caps.why);
        return true;
    }
    static struct t_guest g;
    memset(&g, 0, sizeof(g));
    mword fl = irq_save();
    bool on = vmx_core_on();                    /* its VMXON region stays */
    irq_restore(fl);
    if (!on)
        return SELFTEST_FAIL("this core cannot enter VMX operation");
    size_t free0 = kernel_pool_free_kib();
    if (t_build(&g) != E_OK) {
        t_free_guest(&g);
        return SELFTEST_FAIL("out of memory");
    }
    struct vmx_exit e;
    unsigned intrs = 0;
    if (t_run(&g, &e, 0, &intrs) != E_OK) {
        t_free_guest(&g);
        return SELFTEST_FAIL("this core cannot enter VMX operation");
    }
    EXPECT(e, VMX_EXIT_CPUID, "cpuid");
    g.s.g.rax = G_CPUID_RAX;
    g.s.rip += e.insn_len;
    t_run(&g, &e, 0, &intrs);
    EXPECT(e, VMX_EXIT_EPT_VIOLATION, "read of an unmapped page");
    if (e.gpa != G_LATE || !(e.qual & VMX_EPT_READ) || (e.qual & VMX_EPT_READABLE)) {
        t_free_guest(&g);
        return SELFTEST_FAIL("EPT violation at %lx, qualification %lx", e.gpa, e.qual);
    }
    uint64_t fault_rip = g.s.rip;
    if (t_map(&g, G_LATE, g.late, PTAB_R | PTAB_W) != E_OK) {
        t_free_guest(&g);
        return SELFTEST_FAIL("out of memory");
    }
    t_run(&g, &e, 0, &intrs);
    EXPECT(e, VMX_EXIT_IO, "out");
    uint64_t q = e.qual;
    if ((q >> VMX_IO_PORT_SHIFT) != G_OUT_PORT || (q & VMX_IO_IN) || (q & VMX_IO_SIZE) != 0 ||
        (uint8_t)g.s.g.rax != G_OUT_VALUE) {
        t_free_guest(&g);
        return SELFTEST_FAIL("out: qualification %lx, al %lx", q, g.s.g.rax & 0xFF);
    }
    g.s.rip += e.insn_len;
    t_run(&g, &e, 0, &intrs);
    EXPECT(e, VMX_EXIT_IO, "in");
    q = e.qual;
    if ((q >> VMX_IO_PORT_SHIFT) != G_IN_PORT || !(q & VMX_IO_IN) || (q & VMX_IO_SIZE) != 0) {
        t_free_guest(&g);
        return SELFTEST_FAIL("in: qualification %lx", q);
    }
    g.s.g.rax = (g.s.g.rax & ~0xFFUL) | G_IN_VALUE;
    g.s.rip += e.insn_len;
    t_run(&g, &e, 0, &intrs);
    EXPECT(e, VMX_EXIT_VMCALL, "vmcall");
    if (g.s.g.rax != G_VMCALL_RAX) {
        t_free_guest(&g);
        return SELFTEST_FAIL("vmcall with rax %lx", g.s.g.rax);
    }
    /* The guest's writes so far, then the revoke of its data page, flushed on every core. */
    const uint64_t *data = phys_to_virt(g.page[G_DATA / PAGE_SIZE]);
    if (data[0] != G_CPUID_RAX || data[1] != G_LATE_WORD || (uint8_t)data[2] != G_IN_VALUE) {
        t_free_guest(&g);
        return SELFTEST_FAIL("guest data %lx %lx %lx", data[0], data[1], data[2]);
    }
    if (t_map(&g, G_DATA, 0, 0) != E_OK) {
        t_free_guest(&g);
        return SELFTEST_FAIL("revoke failed");
    }
    for (unsigned c = 0; c < smp_cpus.count; c++)
        if (c != cpu_id() && !smp_call(c, t_invept, &g.ept.root)) {
            t_free_guest(&g);
            return SELFTEST_FAIL("core %u did not answer", c);
        }
    vmx_invept(g.ept.root);
    g.s.rip += e.insn_len;
    t_run(&g, &e, 0, &intrs);
    EXPECT(e, VMX_EXIT_EPT_VIOLATION, "read of the revoked page");
    if (e.gpa != G_DATA) {
        t_free_guest(&g);
        return SELFTEST_FAIL("EPT violation at %lx after the revoke", e.gpa);
    }
    t_map(&g, G_DATA, g.page[G_DATA / PAGE_SIZE], PTAB_R | PTAB_W);
    t_run(&g, &e, 0, &intrs);
    EXPECT(e, VMX_EXIT_HLT, "hlt");
    g.s.rip += e.insn_len;
    /* The spin: only the preemption timer (or an interrupt, when the CPU has no timer) ends it. */
    fl = irq_save();
    vmx_run(&g.v, &g.s, &e, 1000000);
    irq_restore(fl);
    bool timer = vmx_caps.pin & PIN_PREEMPT_TIMER;
    if (e.reason != (timer ? VMX_EXIT_PREEMPT_TIMER : VMX_EXIT_EXT_INTR) &&
        e.reason != VMX_EXIT_EXT_INTR) {
        t_free_guest(&g);
        return SELFTEST_FAIL("spin ended with exit reason %x", e.reason);
    }
    uint64_t spin_rip = g.s.rip;
    uint32_t spin_reason = e.reason;
    /* A state the checks refuse (CR0.PG without PE) is an entry failure, not a fault. */
    g.s.cr0 &= ~CR0_PE;
    fl = irq_save();
    vmx_run(&g.v, &g.s, &e, 0);
    irq_restore(fl);
    bool refused = e.reason & VMX_EXIT_REASON_ENTRY_FAIL;
    t_free_guest(&g);
    if (!refused)
        return SELFTEST_FAIL("a guest CR0 with PG but not PE entered (exit reason %x)", e.reason);
    if (spin_rip != G_CODE + (uint64_t)(vmx_test_guest_spin - vmx_test_guest))
        return SELFTEST_FAIL("the spin stopped at %lx", spin_rip);
    if (kernel_pool_free_kib() != free0)
        return SELFTEST_FAIL("pool: %lu KiB free before, %lu after", free0,
                             kernel_pool_free_kib());
    printk("# vmx: guest ran: CPUID, EPT violation at %lx (rip %lx) mapped and resumed, OUT, IN, "
           "VMCALL, EPT violation after the revoke, HLT, spin ended by %s; %u interrupt exits\n",
           (uint64_t)G_LATE, fault_rip, spin_reason == VMX_EXIT_PREEMPT_TIMER ?
           "the preemption timer" : "an interrupt", intrs);
    return true;
}
