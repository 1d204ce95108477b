/*
 * Memory spaces isolate PDs: a child PD reads and writes exactly the memory
 * delegated to it, with the delegated rights. Every forbidden access stops
 * the child EC with a fault record (vector, address, access, RIP) that the
 * root reads with ec_status(EC_WAIT). Run as the root task; TAP output.
 */
#include "utest.h"

#define DATA_VA  0x10000000UL   /* child A: one page, read/write */
#define RO_VA    0x11000000UL   /* child A: one page, read only */
#define NX_VA    0x12000000UL   /* child A: a `ret` page, read/write, not executable */
#define RX_VA    0x13000000UL   /* child A: the same `ret` page, read/execute */
#define HOLE_VA  0x20000000UL   /* never delegated to anyone */
#define KADDR    0xffffffff81000000UL
#define MAGIC    0x5eed1234u
#define RET_INSN 0xc3           /* x86 `ret` */
#define FN_BYTES 64             /* a child function is shorter than this */

static mword cpu;               /* core the children run on: 1 if there is one */

/* Child: read a 32-bit word at a and exit with it. */
static void child_read(mword a)
{
    sys_exit(*(volatile uint32_t *)a);
}

/* Child: write MAGIC at a and exit 0. */
static void child_write(mword a)
{
    *(volatile uint32_t *)a = MAGIC;
    sys_exit(0);
}

/* Child: call the code at a and exit 7. */
static void child_exec(mword a)
{
    ((void (*)(void))a)();
    sys_exit(7);
}

/* True if the fault's RIP lies inside fn. */
static bool rip_in(const struct ec_info *ei, child_fn fn)
{
    return ei->fault.rip >= (mword)fn && ei->fault.rip < (mword)fn + FN_BYTES;
}

/* Run fn(a) in pd on the test core and return its final state. */
static struct ec_info run(mword pd, child_fn fn, mword a)
{
    struct ec_info ei;
    int st = child_run(pd, cpu, fn, a, &ei);
    if (st != E_OK)
        printf("# child_run -> status %d\n", st);
    return ei;
}

static void test_delegated_memory_works(mword a, mword data)
{
    *(volatile uint32_t *)data = MAGIC;
    struct ec_info ei = run(a, child_read, DATA_VA);
    tap_check(exited_with(&ei, MAGIC),
              "a child reads what the root wrote into the delegated frame");
    *(volatile uint32_t *)data = 0;
    ei = run(a, child_write, DATA_VA);
    tap_check(exited_with(&ei, 0) && *(volatile uint32_t *)data == MAGIC,
              "a child's write to a read/write delegation reaches the root's frame");
}

static void test_undelegated_memory_faults(mword a, mword b, mword data)
{
    struct ec_info ei = run(a, child_read, HOLE_VA);
    tap_check(faulted_on(&ei, HOLE_VA, FAULT_R),
              "reading a never delegated address faults (read at %lx)",
              (unsigned long)ei.fault.addr);
    tap_check(rip_in(&ei, child_read), "the fault record holds the RIP of the faulting load");
    tap_check(ei.cpu == cpu, "the fault record names the EC's core");
    ei = run(a, child_write, HOLE_VA);
    tap_check(faulted_on(&ei, HOLE_VA, FAULT_W) && rip_in(&ei, child_write),
              "writing a never delegated address faults as a write");
    ei = run(a, child_read, data);
    tap_check(faulted_on(&ei, data, FAULT_R),
              "a child cannot read the root's memory at the root's address");
    ei = run(b, child_read, DATA_VA);
    tap_check(faulted_on(&ei, DATA_VA, FAULT_R),
              "another child cannot read a page delegated to the first");
    ei = run(b, child_write, DATA_VA);
    tap_check(faulted_on(&ei, DATA_VA, FAULT_W),
              "another child cannot write a page delegated to the first");
    tap_check(*(volatile uint32_t *)data == MAGIC, "the refused write changed nothing");
    ei = run(a, child_read, KADDR);
    tap_check(ei.state == EC_FAULTED && ei.fault.vector == VEC_PF && ei.fault.addr == KADDR &&
                  ei.fault.user == 1,
              "a child reading a kernel address takes a user page fault");
}

static void test_read_only(mword a, mword ro)
{
    struct lookup_info li;
    *(volatile uint32_t *)ro = MAGIC + 1;
    tap_check(sys_lookup(a, SPACE_MEM, RO_VA, &li) == E_OK && li.rights == MEM_R,
              "lookup shows the read-only delegation with MEM_R only");
    struct ec_info ei = run(a, child_read, RO_VA);
    tap_check(exited_with(&ei, MAGIC + 1), "a read-only delegation can be read");
    ei = run(a, child_write, RO_VA);
    tap_check(faulted_on(&ei, RO_VA, FAULT_W), "a read-only delegation faults on write");
    tap_check(ei.fault.error & 1, "the write fault is a protection violation (error code P set)");
    tap_check(*(volatile uint32_t *)ro == MAGIC + 1, "the faulting write did not change the page");
}

static void test_execute(mword a, mword code)
{
    *(volatile uint8_t *)code = RET_INSN;
    struct ec_info ei = run(a, child_exec, NX_VA);
    tap_check(faulted_on(&ei, NX_VA, FAULT_X), "a delegation without MEM_X faults on execute");
    tap_check(ei.fault.rip == NX_VA, "the execute fault's RIP is the page's first byte");
    ei = run(a, child_read, NX_VA);
    tap_check(exited_with(&ei, RET_INSN), "the non-executable page can still be read");
    ei = run(a, child_exec, RX_VA);
    tap_check(exited_with(&ei, 7), "the same frame delegated with MEM_X runs");
    ei = run(a, child_write, RX_VA);
    tap_check(faulted_on(&ei, RX_VA, FAULT_W), "the read/execute delegation faults on write");
}

int main(mword arg)
{
    const struct info_page *ip = (const struct info_page *)arg;
    mword a, b, data, ro, code;
    if (!utest_init(arg))
        return utest_done("mem_isolation");
    cpu = ip->num_cpus > 1 ? 1 : 0;
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    CHECK_ST(child_give(a, DATA_VA, 1, MEM_R | MEM_W, &data), E_OK);
    CHECK_ST(child_give(a, RO_VA, 1, MEM_R, &ro), E_OK);
    CHECK_ST(child_give(a, NX_VA, 1, MEM_R | MEM_W, &code), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, code, RX_VA, 1, MEM_R | MEM_X), E_OK);
    if (tap_failures() == 0) {
        test_delegated_memory_works(a, data);
        test_undelegated_memory_faults(a, b, data);
        test_read_only(a, ro);
        test_execute(a, code);
    }
    struct ec_info self;
    tap_check(sys_ec_status(SEL_ROOT_EC, 0, &self) == E_OK && self.state == EC_RUNNING,
              "the root EC runs on after all child faults");
    return utest_done("mem_isolation");
}
