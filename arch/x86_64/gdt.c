/* Per-core GDT, TSS and IDT. GDT and TSS live in the core-local data page. */
#include "arch.h"
#include "cpu_local.h"
#include "panic.h"
#include "printk.h"
#include "trap.h"
#include "kstring.h"

/*      descriptor          value                          meaning */
#define DESC_KCODE      0x00209A0000000000UL    /* present, ring 0, code, long mode */
#define DESC_KDATA      0x0000920000000000UL    /* present, ring 0, data, writable */
#define DESC_UDATA      0x0000F20000000000UL    /* present, ring 3, data, writable */
#define DESC_UCODE      0x0020FA0000000000UL    /* present, ring 3, code, long mode */
#define DESC_TSS_TYPE   0x0000890000000000UL    /* present, ring 0, available 64-bit TSS */
#define DESC_TSS_BUSY   0x0000020000000000UL    /* type bit 1: the TSS is busy (ltr sets it) */

#define GATE_INTR       0x8E    /* present, ring 0, 64-bit interrupt gate */
#define STUB_SIZE       16      /* entry.S: bytes per stub */

struct idt_gate {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} packed;

struct dtr {
    uint16_t limit;
    uint64_t base;
} packed;

extern const char isr_stubs[];

/* 16-byte TSS descriptor for the TSS at base: two GDT slots. */
static void tss_desc(uint64_t *d, vaddr_t base, uint32_t limit)
{
    d[0] = DESC_TSS_TYPE | (limit & 0xFFFF) | ((uint64_t)(limit >> 16) & 0xF) << 48 |
           (base & 0xFFFFFF) << 16 | ((base >> 24) & 0xFF) << 56;
    d[1] = base >> 32;
}

/* TSS IST slot of vector v (0: the current stack, or rsp0 from user mode). */
static uint8_t ist_of(unsigned v)
{
    switch (v) {
    case VEC_DF:  return IST_DF;
    case VEC_NMI: return IST_NMI;
    case VEC_DB:  return IST_DB;
    case VEC_MC:  return IST_MC;
    default:      return 0;
    }
}

/* Fill the IDT: every vector to its stub; #DF, NMI, #DB and #MC on their own stacks. */
static void idt_fill(struct idt_gate *idt)
{
    for (unsigned v = 0; v < 256; v++) {
        vaddr_t a = (vaddr_t)isr_stubs + v * STUB_SIZE;
        idt[v] = (struct idt_gate){
            .off_lo = a & 0xFFFF, .sel = SEL_KCODE, .ist = ist_of(v),
            .type = GATE_INTR, .off_mid = (a >> 16) & 0xFFFF, .off_hi = a >> 32,
        };
    }
}

/* Core c's TSS (cpu_tss: addressed through CPU_LOCAL, each core sees its own; PTSYNC=shared: its
   slot at CPU_TSS) and its GDT descriptor: the kernel stack, the IST stacks, and the running
   PD's I/O bitmap. */
static void tss_init(struct cpu_local *c)
{
    struct tss *t = cpu_tss(c);
    memset(t, 0, sizeof(*t));
    t->rsp[0] = CORE_STACK_TOP(c->id);
    for (unsigned i = 0; i < IST_STACKS; i++)
        t->ist[i] = c->ist[i];
    /* I/O bitmap: the running PD's, at PD_IOBMP above the TSS (space_pio.h). The limit
     * also covers the byte after the bitmap, which the SDM requires to read 0xFF. */
    t->iomap_base = (uint16_t)(PD_IOBMP - (vaddr_t)t);
    tss_desc(&c->gdt[SEL_TSS / 8], (vaddr_t)t, t->iomap_base + PD_IOBMP_SIZE);
}

/* Load this core's GDT, TSS and IDT (all set up in its core-local data). */
void cpu_tables_init(void)
{
    struct cpu_local *c = cpu_local_mapped();  /* the TSS must sit right below PD_IOBMP */
    struct dtr gdtr = { sizeof(c->gdt) - 1, (vaddr_t)c->gdt };
    struct dtr idtr = { 256 * sizeof(struct idt_gate) - 1, c->idt };

    c->gdt[0] = 0;
    c->gdt[SEL_KCODE / 8] = DESC_KCODE;
    c->gdt[SEL_KDATA / 8] = DESC_KDATA;
    c->gdt[SEL_UDATA / 8] = DESC_UDATA;
    c->gdt[SEL_UCODE / 8] = DESC_UCODE;
    tss_init(c);
    idt_fill((struct idt_gate *)c->idt);

    /* Load the GDT, reload CS with a far return and the data segments, then TR, IDT and a null
     * LDTR: a core's LDTR after reset or INIT has base 0 and limit 0xFFFF, so an LDT selector
     * would take its descriptor (a call gate, say) from user memory at linear address 0. */
    __asm__ __volatile__(
        "lgdt %0\n\t"
        "pushq %1\n\t"
        "leaq 1f(%%rip), %%rax\n\t"
        "pushq %%rax\n\t"
        "lretq\n"
        "1:\tmov %w2, %%ds\n\t"
        "mov %w2, %%es\n\t"
        "mov %w2, %%ss\n\t"
        "ltr %w3\n\t"
        "lidt %4\n\t"
        "lldt %w5"
        :: "m"(gdtr), "i"(SEL_KCODE), "r"(SEL_KDATA), "r"(SEL_TSS), "m"(idtr), "r"(SEL_NO_LDT)
        : "rax", "memory");
}

/* Load this core's GDTR, IDTR and TR again: a VM exit leaves the limits of GDTR and IDTR at
 * 0xFFFF and TR's at 0x67, which would cut off the TSS's I/O bitmap (SDM Vol. 3, 28.5.2). */
void cpu_tables_reload(void)
{
    struct cpu_local *c = this_cpu();
    struct dtr gdtr = { sizeof(c->gdt) - 1, (vaddr_t)c->gdt };
    struct dtr idtr = { 256 * sizeof(struct idt_gate) - 1, c->idt };

    c->gdt[SEL_TSS / 8] &= ~DESC_TSS_BUSY;      /* ltr faults on a busy TSS */
    __asm__ __volatile__("lgdt %0\n\tlidt %1\n\tltr %w2"
                         :: "m"(gdtr), "m"(idtr), "r"(SEL_TSS) : "memory");
}

/* Touch the unmapped guard page below the stack: the exception path must report it. */
noreturn void arch_fault_test(void)
{
    vaddr_t guard = CORE_STACK_TOP(cpu_id()) - 2 * PAGE_SIZE;
    printk("tessera: fault-test: reading %lx (stack guard page)\n", guard);
    (void)*(volatile uint64_t *)guard;
    panic("fault-test: the read of the guard page did not fault");
}

/* Push zeros for ever (on a stack that must end in a guard page). */
static noreturn void push_forever(void)
{
    for (;;)
        __asm__ __volatile__("pushq $0" ::: "memory");
}

/* Push on the NMI's IST stack until it overflows: the guard page below it must stop it. */
noreturn void arch_fault_test_ist(void)
{
    vaddr_t top = cpu_tss(this_cpu())->ist[IST_NMI - 1];
    printk("tessera: fault-test-ist: pushing below %lx (IST stack %u)\n", top, IST_NMI);
    cpu_cli();
    switch_stack(top, push_forever);
}
