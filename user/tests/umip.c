/*
 * UMIP (docs/abi.md "Register state"): where CPUID has it the kernel sets CR4.UMIP, so sgdt, sidt,
 * sldt, str and smsw in user mode fault with #GP (the EC's fault record says vector 13 at the
 * instruction) instead of revealing the GDT, IDT, LDT and task register and CR0. The program
 * learns from CPUID (user mode) whether the CPU has UMIP; without it each check is a TAP skip.
 * Run as the root task; TAP output.
 */
#include "utest.h"

#define CPUID7_ECX_UMIP (1u << 2)

static uint8_t sink[16];            /* the instructions' memory operand */

/* One child per instruction; each has a global label at the instruction (the expected rip). */
#define UMIP_CHILD(name, insn)                                                                \
    extern const char umip_at_##name[];                                                       \
    static noinline void child_##name(mword unused_arg)                      \
    {                                                                                         \
        (void)unused_arg;                                                                     \
        __asm__ __volatile__(".globl umip_at_" #name "\numip_at_" #name ": " insn             \
                             :: "r"(sink) : "memory", "rax");                                 \
        sys_exit(1);                                                                          \
    }
UMIP_CHILD(sgdt, "sgdt (%0)")
UMIP_CHILD(sidt, "sidt (%0)")
UMIP_CHILD(sldt, "sldt %%ax")
UMIP_CHILD(str, "str %%ax")
UMIP_CHILD(smsw, "smsw %%rax")
UMIP_CHILD(smsw_mem, "smsw (%0)")

int main(mword arg)
{
    static const struct { const char *name; child_fn fn; const char *at; } t[] = {
        { "sgdt", child_sgdt, umip_at_sgdt }, { "sidt", child_sidt, umip_at_sidt },
        { "sldt", child_sldt, umip_at_sldt }, { "str", child_str, umip_at_str },
        { "smsw reg", child_smsw, umip_at_smsw }, { "smsw mem", child_smsw_mem, umip_at_smsw_mem },
    };
    if (!utest_init(arg))
        return utest_done("umip");
    uint32_t a = 7, b, c = 0, d;
    __asm__ __volatile__("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    bool umip = c & CPUID7_ECX_UMIP;
    unsigned n = info_page()->num_cpus;
    mword pd;
    CHECK_ST(child_pd(&pd), E_OK);
    for (unsigned cpu = 0; cpu < n; cpu++)
        for (unsigned i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
            if (!umip) {
                tap_check(true, "%s in user mode faults on core %u # SKIP CPUID has no UMIP",
                          t[i].name, cpu);
                continue;
            }
            struct ec_info ei;
            int st = child_run(pd, cpu, t[i].fn, 0, &ei);
            tap_check(st == E_OK && ei.state == EC_FAULTED && ei.fault.vector == VEC_GP &&
                          ei.fault.error == 0 && ei.fault.rip == (mword)t[i].at,
                      "%s in user mode faults with #GP on core %u (state %u, "
                      "vector %u at %lx, want %p)",
                      t[i].name, cpu, ei.state, ei.fault.vector, ei.fault.rip,
                      (const void *)t[i].at);
        }
    return utest_done("umip");
}
