/*
 * A small 64-bit guest and the VMM side of it, for user/tests/vm_guest.c and the kbench row
 * (docs/abi.md "create_vcpu"). The VMM builds the guest's page tables in guest memory (an
 * identity map of the first GiB with 2 MiB pages), copies the code below to CODE_GPA and starts
 * the vCPU in long mode directly (vcpu_regs), at one of the entry points.
 *
 * Guest-physical layout:
 *   0x1000 PML4, 0x2000 PDPT, 0x3000 PD     the guest's own tables
 *   CODE_GPA   the code                     DATA_GPA  results the VMM reads
 *   STACK_GPA  its stack page               LAZY_GPA  not delegated: the first touch faults
 *   REV_GPA    delegated, revoked under it  BEYOND_GPA  never delegated (its tables map it)
 *   0          its GDT (flat code and data)  IDT_GPA   an IDT the VMM delegates on demand
 * The guest's vmmcall (SVM) becomes vmcall (VMX) where vm_patch_calls finds a VMX machine.
 */
#pragma once
#include "utest.h"

#define GUEST_PAGES 64u                 /* delegated from gpa 0 */
#define PML4_GPA    0x1000UL
#define PDPT_GPA    0x2000UL
#define PD_GPA      0x3000UL
#define CODE_GPA    0x10000UL
#define DATA_GPA    0x20000UL
#define STACK_GPA   0x30000UL
#define LAZY_GPA    0x100000UL
#define REV_GPA     0x101000UL
#define BEYOND_GPA  0x20000000UL        /* 512 MiB: far beyond the guest's memory */
#define IDT_GPA     0x102000UL

#define G_PTE_P     0x1UL               /* guest page-table bits: present */
#define G_PTE_W     0x2UL               /* writable */
#define G_PTE_PS    0x80UL              /* 2 MiB leaf */
#define G_CR0       0x80010031UL        /* PG, WP, NE, ET, PE */
#define G_CR4_PAE   0x20UL
#define G_EFER      0x500UL             /* LME, LMA */
#define G_CS_ATTR   0xa9bu              /* code, present, L, G */
#define G_DS_ATTR   0xc93u              /* data, present, D/B, G */
#define G_TR_ATTR   0x08bu              /* busy 64-bit TSS */
#define G_PAT       0x0007040600070406UL
#define G_RFLAGS_IF 0x200UL                 /* the guest's interrupt flag */
#define G_GDT_CODE  0x00af9b000000ffffUL    /* GDT 0x08: 64-bit code, present, accessed */
#define G_GDT_DATA  0x00cf93000000ffffUL    /* GDT 0x10: data, writable, accessed */
#define G_GATE_INTR 0x8e00UL                /* IDT gate: present 64-bit interrupt gate */

/* Guest data words (DATA_GPA + 8 * i). */
enum { D_TOUCH, D_COPY, D_IN, D_CPUID_B, D_CPUID_C, D_CPUID_D, D_LAZY, D_COUNT };

/* The guest's code; entry points and the vmmcall sites are labels of it. */
extern const uint8_t g_start[], g_end[], g_main[], g_beyond[], g_after_beyond[], g_spin[],
    g_call_loop[], g_plain[], g_call1[], g_call2[], g_priv[], g_priv_dr[], g_event[],
    g_event_ret[], g_db[], g_db_done[], g_tpr[], g_tpr_read[], g_in[];

__asm__(".pushsection .rodata\n"
        ".globl g_start, g_end, g_main, g_beyond, g_after_beyond, g_spin, g_call_loop\n"
        ".globl g_plain, g_call1, g_call2, g_priv, g_priv_dr, g_event, g_event_ret, g_db\n"
        ".globl g_db_done, g_tpr, g_tpr_read, g_in\n"
        "g_start:\n"
        "g_main:\n"
        "    movabs $0x20000, %r8\n"            /* DATA_GPA */
        "    movq $0x1234, (%r8)\n"             /* touch memory */
        "    mov (%r8), %rax\n"
        "    mov %rax, 8(%r8)\n"
        "    mov $0x11, %al\n"
        "    out %al, $0x80\n"                  /* out: port 0x80, 1 byte */
        "    mov $0x5678, %ax\n"
        "    mov $0x3f8, %dx\n"
        "    out %ax, %dx\n"                    /* out: port 0x3f8, 2 bytes */
        "    xor %eax, %eax\n"
        "    in $0x60, %al\n"                   /* in: the VMM gives the value */
        "    mov %rax, 16(%r8)\n"
        "    mov $0x40000000, %eax\n"
        "    xor %ecx, %ecx\n"
        "    cpuid\n"                           /* cpuid: the VMM emulates it */
        "    mov %rbx, 24(%r8)\n"
        "    mov %rcx, 32(%r8)\n"
        "    mov %rdx, 40(%r8)\n"
        "    movabs $0x100000, %r9\n"           /* LAZY_GPA */
        "    movq $0x77, (%r9)\n"               /* nested fault, retried once delegated */
        "    mov (%r9), %rax\n"
        "    mov %rax, 48(%r8)\n"
        "    movabs $0xfeed, %rax\n"
        "g_call1:\n"
        "    .byte 0x0f, 0x01, 0xd9\n"          /* vmmcall */
        "g_beyond:\n"
        "    movabs $0x20000000, %r9\n"         /* BEYOND_GPA */
        "    mov (%r9), %rax\n"                 /* nested fault: the VMM skips it */
        "g_after_beyond:\n"
        "    hlt\n"
        "g_spin:\n"                             /* read REV_GPA and count, for ever */
        "    movabs $0x101000, %r9\n"
        "    movabs $0x20000, %r8\n"
        "1:  mov (%r9), %rax\n"
        "    incq 56(%r8)\n"
        "    jmp 1b\n"
        "g_call_loop:\n"                        /* the benchmark: vmmcall for ever */
        "g_call2:\n"
        "    .byte 0x0f, 0x01, 0xd9\n"
        "    jmp g_call_loop\n"
        "g_plain:\n"                            /* count in DATA_GPA for ever */
        "    movabs $0x20000, %r8\n"
        "1:  incq 64(%r8)\n"
        "    jmp 1b\n"
        "g_priv:\n"                             /* what only the host may do: each exits */
        "    wbinvd\n"                          /* 2 bytes */
        "g_priv_dr:\n"
        "    mov %rax, %dr0\n"                  /* 3 bytes */
        "    hlt\n"
        "g_event:\n"                           /* a #DB trap after the nop (TF) */
        "    movabs $0x20000, %r8\n"
        "    pushfq\n"
        "    orq $0x100, (%rsp)\n"
        "    popfq\n"
        "    nop\n"
        "g_event_ret:\n"
        "    hlt\n"                            /* reached only if the #DB was lost */
        "g_db:\n"                              /* the #DB handler: its return rip */
        "    mov (%rsp), %rax\n"
        "    mov %rax, 72(%r8)\n"
        "g_db_done:\n"
        "    hlt\n"
        "g_tpr:\n"                             /* cr8 = 5 across an exit */
        "    movabs $0x20000, %r8\n"
        "    mov $5, %eax\n"
        "    mov %rax, %cr8\n"
        "    hlt\n"
        "g_tpr_read:\n"
        "    mov %cr8, %rax\n"
        "    mov %rax, 80(%r8)\n"
        "    hlt\n"
        "g_in:\n"                              /* in of 1, 2, 4 bytes over a full rax */
        "    movabs $0x20000, %r8\n"
        "    movabs $0x1122334455667788, %rax\n"
        "    in $0x60, %al\n"
        "    mov %rax, 88(%r8)\n"
        "    mov $0x61, %dx\n"
        "    movabs $0x1122334455667788, %rax\n"
        "    in %dx, %ax\n"
        "    mov %rax, 96(%r8)\n"
        "    movabs $0x1122334455667788, %rax\n"
        "    in %dx, %eax\n"
        "    mov %rax, 104(%r8)\n"
        "    hlt\n"
        "g_end:\n"
        ".popsection\n");

#define D_SPIN  7u                      /* g_spin's counter: DATA_GPA + 56 */
#define D_PLAIN 8u                      /* g_plain's counter: DATA_GPA + 64 */
#define D_EVENT 9u                      /* g_db: the return rip of the #DB it handled */
#define D_TPR   10u                     /* g_tpr: cr8 read after the exit */
#define D_IN1   11u                     /* g_in: rax after the in of 1, 2 and 4 bytes */
#define D_IN2   12u
#define D_IN4   13u

/* Guest-physical address of guest code label l. */
static inline uint64_t g_addr(const uint8_t *l)
{
    return CODE_GPA + (uint64_t)(l - g_start);
}

/* Whether CPUID says the CPU has AMD SVM / Intel VMX. */
static inline bool cpu_has_svm(void)
{
    uint32_t a, b, c, d;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001u), "c"(0));
    return c & (1u << 2);
}

/* Whether CPUID says the CPU has AMD SVM with nested paging. */
static inline bool cpu_has_npt(void)
{
    uint32_t a, b, c, d;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
    if (a < 0x8000000au || !cpu_has_svm())
        return false;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x8000000au), "c"(0));
    return d & 1u;
}

/* Whether CPUID says the CPU has Intel VMX. */
static inline bool cpu_has_vmx(void)
{
    uint32_t a, b, c, d;
    __asm__ __volatile__("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1u), "c"(0));
    return c & (1u << 5);
}

/* A guest's memory: its GUEST_PAGES pages in the root's window, code and tables in place. */
struct guest {
    mword pd, vcpu;                     /* the VM's PD and its vCPU (root selectors) */
    mword mem;                          /* the root's view of gpa 0 */
};

/* The root's view of guest word i of DATA_GPA. */
static inline volatile uint64_t *g_data(const struct guest *g, unsigned i)
{
    return (volatile uint64_t *)(g->mem + DATA_GPA) + i;
}

/* Fill the guest memory at mem: GDT, page tables, code (vmcall on VMX). */
static inline void guest_image(mword mem)
{
    uint64_t *gdt = (uint64_t *)mem;
    gdt[1] = G_GDT_CODE;
    gdt[2] = G_GDT_DATA;
    uint64_t *pml4 = (uint64_t *)(mem + PML4_GPA), *pdpt = (uint64_t *)(mem + PDPT_GPA);
    uint64_t *pd = (uint64_t *)(mem + PD_GPA);
    pml4[0] = PDPT_GPA | G_PTE_P | G_PTE_W;
    pdpt[0] = PD_GPA | G_PTE_P | G_PTE_W;
    for (unsigned i = 0; i < 512; i++)
        pd[i] = ((uint64_t)i << 21) | G_PTE_P | G_PTE_W | G_PTE_PS;
    uint8_t *code = (uint8_t *)(mem + CODE_GPA);
    memcpy(code, g_start, (size_t)(g_end - g_start));
    if (!cpu_has_svm()) {               /* vmcall: 0f 01 c1 */
        code[g_call1 - g_start + 2] = 0xc1;
        code[g_call2 - g_start + 2] = 0xc1;
    }
}

/* Long-mode registers of the guest at entry rip (flat segments, its tables, a stack). */
static inline struct vcpu_regs guest_regs(uint64_t rip)
{
    struct vcpu_regs r = { .rip = rip, .rflags = 2, .cr0 = G_CR0, .cr3 = PML4_GPA,
                           .cr4 = G_CR4_PAE, .efer = G_EFER, .pat = G_PAT };
    r.gpr[VCPU_RSP] = STACK_GPA + PAGE_SIZE_USER;
    struct vcpu_seg data = { 0x10, G_DS_ATTR, 0xffffffffu, 0 };
    r.es = r.ss = r.ds = r.fs = r.gs = data;
    r.cs = (struct vcpu_seg){ 0x08, G_CS_ATTR, 0xffffffffu, 0 };
    r.tr = (struct vcpu_seg){ 0x18, G_TR_ATTR, 0x67, 0 };
    r.gdtr = (struct vcpu_seg){ 0, 0, 0x1f, 0 };
    return r;
}

/* Make a VM (a PD with a vCPU on cpu) with guest memory at gpa 0.., the guest at rip; statuses
   of the calls (the first that failed). */
static inline int guest_make(struct guest *g, mword cpu, uint64_t rip)
{
    g->pd = sel_alloc();
    g->vcpu = sel_alloc();
    g->mem = mem_alloc(GUEST_PAGES);
    if (!g->mem)
        return E_NOMEM;
    guest_image(g->mem);
    int st = sys_create_pd(g->pd, SEL_ROOT_PD, PD_QUOTA_SHARED);
    if (st == E_OK)
        st = sys_create_vcpu(g->vcpu, g->pd, cpu);
    if (st == E_OK)
        st = sys_delegate(SEL_ROOT_PD, g->pd, SPACE_MEM, g->mem, 0, GUEST_PAGES,
                          MEM_RWX | MEM_G);
    struct vcpu_regs r = guest_regs(rip);
    if (st == E_OK)
        st = sys_vcpu_regs(g->vcpu, VCPU_REGS_SET, &r);
    return st;
}

/* Wait for the vCPU's next exit but host interrupts (resumed, counted in *intr); ec_status's
   status. */
static inline int guest_next(const struct guest *g, struct ec_info *ei, unsigned *intr)
{
    for (;;) {
        int st = ec_wait(g->vcpu, ei);
        if (st != E_OK || ei->state != EC_VMEXIT || ei->exit.reason != VM_EXIT_INTR)
            return st;
        if (intr)
            (*intr)++;
        if ((st = sys_ec_resume(g->vcpu, 0, 0, 0)) != E_OK)
            return st;
    }
}

/* Resume the vCPU after the exit in *ei, past its instruction (rip + len), rax if set_rax. */
static inline int guest_skip(const struct guest *g, const struct ec_info *ei, bool set_rax,
                             uint64_t rax)
{
    return sys_ec_resume(g->vcpu, EC_RESUME_RIP | (set_rax ? EC_RESUME_RAX : 0),
                         ei->exit.rip + ei->exit.len, rax);
}
