/*
 * Self-check of the VMX backend (Bochs: corei7_skylake_x) through vmx_ops, the hooks
 * kernel/vcpu.c calls: a 64-bit guest with its own page tables in guest memory, in an Ept
 * built by the engine, runs on the boot core and exits with CPUID, an EPT violation on a page
 * not yet mapped (mapped, then resumed at the same instruction), OUT and IN (the IN result
 * emulated), VMCALL (its data page is revoked then and the Ept flushed on every core), an EPT
 * violation on the revoked page, swapgs and a WRMSR of LSTAR (an exit: the host's LSTAR and
 * kernel GS base stay), a MOV to CR8 (an exit: the host's TPR stays), HLT, and a spin
 * that only the preemption timer or an interrupt ends; then a state the hardware refuses, and
 * a guest MSR that WRMSR refuses, are VM_EXIT_INVALID. Without VMX the check only says so.
 */
#include "vmx.h"
#include "virt_ops.h"
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
#define G_CR0       (CR0_PG | CR0_WP | CR0_NE | CR0_ET | CR0_MP | CR0_PE)
#define G_ATTR_CODE 0xA9B       /* ABI (VMCB) layout: code, present, L, G */
#define G_ATTR_DATA 0xC93       /* data, present, D/B, G */
#define G_ATTR_TSS  0x08B       /* busy 64-bit TSS, present */
#define G_TSS_LIMIT 0x67
#define G_KGS       0x1111      /* the guest's kernel GS base and GS base: swapgs swaps them */
#define G_GS        0x2222

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
        "\tswapgs\n"                        /* the guest's kernel GS base, not the host's */
        "\tmovl $0xc0000082, %ecx\n"
        "\txorl %eax, %eax\n"
        "\txorl %edx, %edx\n"
        "\twrmsr\n"                         /* exit: WRMSR of LSTAR (the host's stays) */
        "\tmovl $15, %eax\n"
        "\tmovq %rax, %cr8\n"               /* exit: MOV CR8 (the host's TPR stays) */
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
    paddr_t page[G_PAGES + 1], late, ctl;
    struct vcpu_hw h;
    struct vcpu_regs r;                 /* the registers: set before a run, read after */
};

/* Map guest page gpa to frame pa with perm (perm 0: unmap); E_NOMEM. */
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

/* This core's CR8 (the LAPIC TPR's priority class). */
static uint64_t host_cr8(void)
{
    uint64_t v;
    __asm__ __volatile__("mov %%cr8, %0" : "=r"(v));
    return v;
}

/* INVEPT of the root in arg on this core (smp_call). */
static void t_invept(void *arg)
{
    vmx_invept(*(const paddr_t *)arg);
}

/* Run g (its registers from g->r) until an exit other than VM_EXIT_INTR (taken, as
 * kernel/vcpu.c does, and counted in *intrs; once: the first exit), registers back in g->r. */
static void t_run(struct t_guest *g, struct vm_exit *x, bool once, unsigned *intrs)
{
    vmx_ops.set(&g->h, &g->r);
    for (;;) {
        mword fl = irq_save();
        vmx_ops.run(&g->h, g->ept.root, false, x);
        irq_restore(fl);
        if (once || x->reason != VM_EXIT_INTR)
            break;
        ++*intrs;
    }
    vmx_ops.get(&g->h, &g->r);
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
    if (g->ctl) {
        vmx_ops.fini(&g->h);
        kframe_free(g->ctl);
    }
}

/* Build g: guest page tables (one 2 MiB page at 0), code, data, stack, the Ept, the vCPU in
 * 64-bit mode at G_CODE; E_NOMEM. */
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
    g->ctl = kframe_alloc();
    if (!g->late || !g->ctl)
        return E_NOMEM;
    *(uint64_t *)phys_to_virt(g->late) = G_LATE_WORD;
    *(uint64_t *)phys_to_virt(g->page[G_PML4 / PAGE_SIZE]) = G_PDPT | PTE_TABLE;
    *(uint64_t *)phys_to_virt(g->page[G_PDPT / PAGE_SIZE]) = G_PD | PTE_TABLE;
    *(uint64_t *)phys_to_virt(g->page[G_PD / PAGE_SIZE]) = 0 | PTE_TABLE | PTE_PS;
    memcpy(phys_to_virt(g->page[G_CODE / PAGE_SIZE]), vmx_test_guest,
           (size_t)(vmx_test_guest_end - vmx_test_guest));
    vmx_ops.init(&g->h, g->ctl);
    vmx_ops.get(&g->h, &g->r);
    struct vcpu_regs *r = &g->r;
    r->rip = G_CODE;
    r->gpr[VCPU_RSP] = G_STACK + PAGE_SIZE;
    r->cr0 = G_CR0;
    r->cr3 = G_PML4;
    r->cr4 = CR4_PAE;
    r->efer = EFER_LME | EFER_LMA | EFER_NXE;
    const struct vcpu_seg data = { SEL_KDATA, G_ATTR_DATA, 0xFFFFFFFF, 0 };
    r->es = r->ss = r->ds = r->fs = r->gs = data;
    r->gs.base = G_GS;
    r->kernel_gs_base = G_KGS;
    r->cs = (struct vcpu_seg){ SEL_KCODE, G_ATTR_CODE, 0xFFFFFFFF, 0 };
    r->ldtr = (struct vcpu_seg){ 0, 0, 0, 0 };
    r->tr = (struct vcpu_seg){ 0, G_ATTR_TSS, G_TSS_LIMIT, 0 };
    return E_OK;
}

/* Fail the check unless exit x has reason want. */
#define EXPECT(x, want, what) do { \
        if ((x).reason != (want)) { \
            t_free_guest(&g); \
            return SELFTEST_FAIL("%s: exit %u (qual %lx, addr %lx, rip %lx), expected %u", what, \
                                 (x).reason, (x).qual, (x).addr, (x).rip, (unsigned)(want)); \
        } \
    } while (0)

SELFTEST(vmx_guest_exits_cpuid_ept_violation_io_vmcall_revoke_hlt_timer_and_invalid_state)
{
    if (virt_kind() != VIRT_VMX) {
        printk("# vmx: not checked (%s)\n", vmx_caps.why ? vmx_caps.why : "SVM or nothing");
        return true;
    }
    static struct t_guest g;
    memset(&g, 0, sizeof(g));
    size_t free0 = kernel_pool_free_kib();
    if (t_build(&g) != E_OK) {
        t_free_guest(&g);
        return SELFTEST_FAIL("out of memory");
    }
    struct vm_exit x;
    unsigned intrs = 0;
    t_run(&g, &x, false, &intrs);
    EXPECT(x, VM_EXIT_CPUID, "cpuid");
    g.r.gpr[VCPU_RAX] = G_CPUID_RAX;
    g.r.rip += x.len;
    t_run(&g, &x, false, &intrs);
    EXPECT(x, VM_EXIT_NPF, "read of an unmapped page");
    if (x.addr != G_LATE || x.access != FAULT_R || (x.qual & VMX_EPT_READABLE)) {
        t_free_guest(&g);
        return SELFTEST_FAIL("EPT violation at %lx, access %u, qualification %lx", x.addr,
                             x.access, x.qual);
    }
    uint64_t fault_rip = x.rip;
    if (t_map(&g, G_LATE, g.late, PTAB_R | PTAB_W) != E_OK) {
        t_free_guest(&g);
        return SELFTEST_FAIL("out of memory");
    }
    t_run(&g, &x, false, &intrs);
    EXPECT(x, VM_EXIT_IO, "out");
    if (x.addr != G_OUT_PORT || x.access != VM_IO_OUT || x.size != 1 || x.qual != G_OUT_VALUE) {
        t_free_guest(&g);
        return SELFTEST_FAIL("out: port %lx, access %u, size %u, value %lx", x.addr, x.access,
                             x.size, x.qual);
    }
    g.r.rip += x.len;
    t_run(&g, &x, false, &intrs);
    EXPECT(x, VM_EXIT_IO, "in");
    if (x.addr != G_IN_PORT || x.access != VM_IO_IN || x.size != 1) {
        t_free_guest(&g);
        return SELFTEST_FAIL("in: port %lx, access %u, size %u", x.addr, x.access, x.size);
    }
    g.r.gpr[VCPU_RAX] = (g.r.gpr[VCPU_RAX] & ~0xFFUL) | G_IN_VALUE;
    g.r.rip += x.len;
    t_run(&g, &x, false, &intrs);
    EXPECT(x, VM_EXIT_VMCALL, "vmcall");
    if (g.r.gpr[VCPU_RAX] != G_VMCALL_RAX) {
        t_free_guest(&g);
        return SELFTEST_FAIL("vmcall with rax %lx", g.r.gpr[VCPU_RAX]);
    }
    /* The guest's writes so far, then the revoke of its data page, flushed on every core. */
    const uint64_t *data = phys_to_virt(g.page[G_DATA / PAGE_SIZE]);
    if (data[0] != G_CPUID_RAX || data[1] != G_LATE_WORD || (uint8_t)data[2] != G_IN_VALUE) {
        t_free_guest(&g);
        return SELFTEST_FAIL("guest data %lx %lx %lx", data[0], data[1], data[2]);
    }
    t_map(&g, G_DATA, 0, 0);
    for (unsigned c = 0; c < smp_cpus.count; c++)
        if (c != cpu_id() && !smp_call(c, t_invept, &g.ept.root)) {
            t_free_guest(&g);
            return SELFTEST_FAIL("core %u did not answer", c);
        }
    vmx_invept(g.ept.root);
    g.r.rip += x.len;
    t_run(&g, &x, false, &intrs);
    EXPECT(x, VM_EXIT_NPF, "read of the revoked page");
    if (x.addr != G_DATA) {
        t_free_guest(&g);
        return SELFTEST_FAIL("EPT violation at %lx after the revoke", x.addr);
    }
    t_map(&g, G_DATA, g.page[G_DATA / PAGE_SIZE], PTAB_R | PTAB_W);
    uint64_t lstar = rdmsr(MSR_LSTAR);
    t_run(&g, &x, false, &intrs);
    EXPECT(x, VM_EXIT_OTHER, "wrmsr");
    if (x.qual != VMX_EXIT_WRMSR || rdmsr(MSR_LSTAR) != lstar || rdmsr(MSR_KERNEL_GS_BASE) ||
        g.r.kernel_gs_base != G_GS || g.r.gs.base != G_KGS) {
        t_free_guest(&g);
        return SELFTEST_FAIL("wrmsr after swapgs: exit code %lx, host LSTAR %lx (was %lx) and "
                             "kernel GS base %lx, guest's %lx and GS base %lx", x.qual,
                             rdmsr(MSR_LSTAR), lstar, rdmsr(MSR_KERNEL_GS_BASE),
                             g.r.kernel_gs_base, g.r.gs.base);
    }
    g.r.rip += x.len;
    t_run(&g, &x, false, &intrs);
    EXPECT(x, VM_EXIT_OTHER, "mov to CR8");
    if (x.qual != VMX_EXIT_CR || host_cr8() != 0) {
        t_free_guest(&g);
        return SELFTEST_FAIL("mov to CR8: exit code %lx, host CR8 %lx", x.qual, host_cr8());
    }
    g.r.rip += x.len;
    t_run(&g, &x, false, &intrs);
    EXPECT(x, VM_EXIT_HLT, "hlt");
    g.r.rip += x.len;
    /* The spin: only the preemption timer or an interrupt ends it. */
    t_run(&g, &x, true, &intrs);
    EXPECT(x, VM_EXIT_INTR, "spin");
    uint64_t spin_rip = g.r.rip;
    /* A state the checks refuse (CR0.PG without PE, no unrestricted guest for paging) is
     * VM_EXIT_INVALID, the state unchanged. */
    g.r.cr0 &= ~CR0_PE;
    t_run(&g, &x, true, &intrs);
    EXPECT(x, VM_EXIT_INVALID, "CR0.PG without PE");
    uint64_t cr0_qual = x.qual;
    /* A guest MSR that WRMSR refuses (a non-canonical LSTAR) is refused the same way. */
    g.r.cr0 |= CR0_PE;
    g.r.lstar = BIT(63);
    t_run(&g, &x, true, &intrs);
    EXPECT(x, VM_EXIT_INVALID, "a non-canonical LSTAR");
    if (x.qual != (VMX_EXIT_REASON_ENTRY_FAIL | VMX_EXIT_BAD_MSR)) {
        t_free_guest(&g);
        return SELFTEST_FAIL("a non-canonical LSTAR: code %lx", x.qual);
    }
    bool same = g.r.rip == spin_rip;
    t_free_guest(&g);
    if (!same || spin_rip != G_CODE + (uint64_t)(vmx_test_guest_spin - vmx_test_guest))
        return SELFTEST_FAIL("the spin stopped at %lx, after the refused entry at %lx",
                             spin_rip, g.r.rip);
    if (kernel_pool_free_kib() != free0)
        return SELFTEST_FAIL("pool: %lu KiB free before, %lu after", free0,
                             kernel_pool_free_kib());
    printk("# vmx: guest ran: CPUID, EPT violation at %lx (rip %lx) mapped and resumed, OUT, IN, "
           "VMCALL, EPT violation after the revoke, swapgs, WRMSR, MOV CR8, HLT, spin ended, "
           "refused CR0 (qual %lx) and LSTAR; %u interrupt exits\n", (uint64_t)G_LATE, fault_rip,
           cr0_qual, intrs);
    return true;
}
