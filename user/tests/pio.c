/*
 * I/O spaces (lecture: Space_pio): a PD may use exactly the ports delegated
 * to it, on every core, through the CPU's I/O permission bitmap; any other
 * port access is a #GP that stops the EC and is reported to its creator.
 * Child A holds COM1 (0x3f8..0x3ff), 0x8000 and 0xffff; child B nothing.
 * Run as the root task; TAP output.
 */
#include "utest.h"

#define COM1_LSR    (COM1 + UART_LSR)
#define COM1_SCR    (COM1 + UART_SCR)
#define HIGH_PORT   0x8000u     /* first port of the bitmap's second page */
#define LAST_PORT   0xffffu
#define FN_BYTES    64

/* Child: read port `port` (a byte) and exit 0. */
static void child_in8(mword port)
{
    (void)inb((uint16_t)port);
    sys_exit(0);
}

/* Child: read 16 bits from port `port` (covers port and port+1) and exit 0. */
static void child_in16(mword port)
{
    uint16_t v;
    __asm__ __volatile__("inw %1, %0" : "=a"(v) : "Nd"((uint16_t)port));
    sys_exit(0);
}

/* Child: write 0xa5 to COM1's scratch register, exit with what it reads back. */
static void child_scratch(mword unused_arg)
{
    (void)unused_arg;
    outb(COM1_SCR, 0xa5);
    sys_exit(inb(COM1_SCR));
}

static volatile int started, go;    /* shared with child_wait_in8 */

/* Child: say it runs, wait for go, then read port `port` and exit 0. */
static void child_wait_in8(mword port)
{
    WRITE_ONCE(started, 1);
    while (!READ_ONCE(go))
        cpu_pause();
    (void)inb((uint16_t)port);
    sys_exit(0);
}

/* Run fn(port) in pd on cpu; true if it exited 0 (the access was allowed). */
static bool allowed(mword pd, mword cpu, child_fn fn, mword port)
{
    struct ec_info ei;
    return child_run(pd, cpu, fn, port, &ei) == E_OK && exited_with(&ei, 0);
}

/* Run fn(port) in pd on cpu; true if it stopped with #GP inside fn. */
static bool denied(mword pd, mword cpu, child_fn fn, mword port)
{
    struct ec_info ei;
    return child_run(pd, cpu, fn, port, &ei) == E_OK && ei.state == EC_FAULTED &&
           ei.fault.vector == VEC_GP && ei.fault.rip >= (mword)fn &&
           ei.fault.rip < (mword)fn + FN_BYTES;
}

static uint64_t pio_pages(mword pd)
{
    struct pd_info pi;
    return sys_pd_info(pd, &pi) == E_OK ? pi.pio_pages : ~0UL;
}

static void test_delegation(mword a, mword b)
{
    struct lookup_info li;
    CHECK_ST(sys_delegate(SEL_ROOT_PD, a, SPACE_PIO, COM1, COM1, 8, PIO_A), E_OK);
    tap_check(pio_pages(a) == 1, "delegating COM1 populated one I/O-bitmap page (%lu)",
              (unsigned long)pio_pages(a));
    CHECK_ST(sys_delegate(SEL_ROOT_PD, a, SPACE_PIO, HIGH_PORT, HIGH_PORT, 1, PIO_A), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, a, SPACE_PIO, LAST_PORT, LAST_PORT, 1, PIO_A), E_OK);
    tap_check(pio_pages(a) == 2, "ports 0x8000 and 0xffff populated the second page only (%lu)",
              (unsigned long)pio_pages(a));
    tap_check(sys_lookup(a, SPACE_PIO, COM1_SCR, &li) == E_OK && li.rights == PIO_A,
              "lookup shows PIO_A for a delegated port");
    tap_check(sys_lookup(a, SPACE_PIO, COM2, &li) == E_NOENT &&
                  sys_lookup(b, SPACE_PIO, COM1, &li) == E_NOENT,
              "lookup shows nothing for ports not delegated");
}

static void test_per_port(mword a, mword b, mword cpu)
{
    tap_check(allowed(a, cpu, child_in8, COM1_LSR), "core %lu: A reads COM1's status port", cpu);
    tap_check(allowed(a, cpu, child_in8, COM1) && allowed(a, cpu, child_in8, COM1 + 7),
              "core %lu: A reads the first and last COM1 port", cpu);
    tap_check(denied(a, cpu, child_in8, COM1 - 1) && denied(a, cpu, child_in8, COM1 + 8),
              "core %lu: A takes #GP on the ports just below and above COM1", cpu);
    tap_check(denied(a, cpu, child_in8, COM2), "core %lu: A takes #GP on COM2", cpu);
    tap_check(allowed(a, cpu, child_in16, COM1 + 6),
              "core %lu: A reads 16 bits from two allowed ports", cpu);
    tap_check(denied(a, cpu, child_in16, COM1 + 7),
              "core %lu: a 16-bit read covering one denied port takes #GP", cpu);
    tap_check(allowed(a, cpu, child_in8, HIGH_PORT) && denied(a, cpu, child_in8, HIGH_PORT - 1) &&
                  denied(a, cpu, child_in8, HIGH_PORT + 1),
              "core %lu: in the bitmap's second page only 0x8000 is allowed", cpu);
    tap_check(allowed(a, cpu, child_in8, LAST_PORT), "core %lu: A reads port 0xffff", cpu);
    tap_check(denied(b, cpu, child_in8, COM1_LSR) && denied(b, cpu, child_in8, LAST_PORT) &&
                  denied(b, cpu, child_in8, HIGH_PORT),
              "core %lu: B without ports takes #GP on each of them", cpu);
}

static void test_writes(mword a, mword b)
{
    struct ec_info ei;
    outb(COM1_SCR, 0x3c);
    tap_check(denied(b, 0, child_scratch, 0), "B takes #GP writing COM1's scratch register");
    tap_check(inb(COM1_SCR) == 0x3c, "B's refused write left COM1's scratch register unchanged");
    tap_check(child_run(a, 0, child_scratch, 0, &ei) == E_OK && exited_with(&ei, 0xa5),
              "A writes COM1's scratch register and reads the byte back");
    tap_check(inb(COM1_SCR) == 0xa5, "the root sees the byte A wrote");
    tap_check(pio_pages(b) == 0, "B's denied accesses populated no I/O-bitmap page");
}

/* B takes #GP on COM2 on a core (the deny page gets cached there); then, while an EC of B runs on
   that core, COM2 is delegated to B: the EC's next access must see the new bitmap page. */
static void test_delegation_while_running(mword b, mword cpu)
{
    struct ec_info ei;
    mword ec;
    tap_check(denied(b, cpu, child_in8, COM2), "core %lu: B takes #GP on COM2 before it holds it",
              cpu);
    CHECK_ST(child_ec(b, cpu, child_wait_in8, COM2, &ec), E_OK);
    for (mword round = 0; round < (1UL << 22) && !READ_ONCE(started); round++)
        sys_yield_pause();
    tap_check(READ_ONCE(started), "core %lu: B's waiting EC runs", cpu);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, b, SPACE_PIO, COM2, COM2, 8, PIO_A), E_OK);
    WRITE_ONCE(go, 1);
    tap_check(
        ec_wait(ec, &ei) == E_OK && exited_with(&ei, 0),
        "core %lu: B's running EC reads COM2 right after the delegation (stale deny page flushed)",
        cpu);
}

int main(mword arg)
{
    const struct info_page *ip = (const struct info_page *)arg;
    mword a, b;
    if (!utest_init(arg))
        return utest_done("pio");
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    test_delegation(a, b);
    for (mword cpu = 0; cpu < ip->num_cpus; cpu++)
        test_per_port(a, b, cpu);
    test_writes(a, b);
    test_delegation_while_running(b, ip->num_cpus - 1);
    return utest_done("pio");
}
