/*
 * Check of the user library as compiled for user mode: string helpers,
 * formatting, and the system-call stubs' register use. Runs under the
 * host's ptrace "fake kernel" (tests/host/test_uemu.c), which checks the
 * registers of each call below against its own table and answers with fixed
 * results that this program checks in turn. Under a real kernel the calls
 * would be meaningless: this is not a root task.
 */
#include "ulib.h"
#include "x86_vectors.h"

/* memcpy, memmove both ways, memset, memcmp. */
static void check_memory(void)
{
    char a[32], b[32];
    memset(a, 'x', sizeof(a));
    tap_check(a[0] == 'x' && a[31] == 'x', "memset fills every byte");
    memcpy(b, "0123456789", 11);
    tap_check(memcmp(b, "0123456789", 11) == 0, "memcpy copies bytes");
    memmove(b + 2, b, 8);       /* dst above src: must copy backwards */
    tap_check(memcmp(b, "0101234567", 10) == 0, "memmove handles overlap upwards");
    memcpy(b, "0123456789", 11);
    memmove(b, b + 2, 8);
    tap_check(memcmp(b, "2345678989", 10) == 0, "memmove handles overlap downwards");
    tap_check(memcmp("abc", "abd", 3) < 0 && memcmp("abd", "abc", 3) > 0, "memcmp orders bytes");
}

/* strlen, strnlen, strcmp, strncmp. */
static void check_strings(void)
{
    tap_check(strlen("hello") == 5 && strlen("") == 0, "strlen counts to the NUL");
    tap_check(strnlen("hello", 3) == 3, "strnlen stops at its limit");
    tap_check(strcmp("abc", "abc") == 0 && strcmp("abc", "abd") < 0 && strcmp("b", "a") > 0,
              "strcmp orders strings");
    tap_check(strncmp("abcx", "abcy", 3) == 0 && strncmp("ab", "abc", 3) < 0, "strncmp stops at n");
}

/* snprintf as built for user mode (freestanding, SSE allowed). */
static void check_format(void)
{
    char buf[64];
    int n =
        snprintf(buf, sizeof(buf), "%d|%5u|%-3x|%016lx|%s|%c", -5, 7u, 0xau, 0x1234UL, "s", 'c');
    tap_check(n == 33 && strcmp(buf, "-5|    7|a  |0000000000001234|s|c") == 0,
              "snprintf formats in user mode");
}

/* The stubs pass arguments in rdi rsi rdx r10 r8 r9 and return rax (and rdx). */
static void check_stubs(mword arg)
{
    struct lookup_info li;
    struct ec_info ei;
    struct core_counters cc;

    tap_check(arg == INFO_PAGE_ADDR && info_page()->magic == INFO_MAGIC,
              "start argument and information page arrive");
    tap_check(sys_create_pd(0x11, 0x12, PD_QUOTA_SHARED) == E_BUSY,
              "create_pd returns the kernel's status");
    tap_check(sys_create_ec(0x21, 0x22, 0x23, 0x24, 0x25, 0x26) == E_OK,
              "create_ec passes six arguments");
    tap_check(sys_delegate(0x31, 0x32, SPACE_MEM, 0x34, 0x35, 0x36, MEM_R | MEM_W) == E_OK,
              "delegate packs kind and rights");
    tap_check(sys_revoke(0x41, SPACE_PIO, 0x43, 0x44, PIO_A, REVOKE_SELF) == E_OK,
              "revoke passes flags");
    tap_check(sys_lookup(0x51, SPACE_OBJ, 0x53, &li) == E_OK && li.base == 0x1111 &&
              li.size == 0x2222 && li.phys == 0x3333 && li.rights == 7 && li.type == CAP_EC,
              "lookup result arrives in the buffer");
    tap_check(sys_ec_status(0x61, EC_WAIT, &ei) == E_OK && ei.state == EC_FAULTED && ei.cpu == 1 &&
              ei.fault.addr == 0xdead000 && ei.fault.vector == VEC_PF && ei.fault.access == FAULT_W,
              "ec_status fault record arrives in the buffer");
    tap_check(sys_yield() == E_OK, "yield returns");
    tap_check(sys_counters(1, &cc) == E_OK && cc.lazy_syncs == 42, "counters arrive in the buffer");
    tap_check(sys_ec_resume(0x71, EC_RESUME_RIP | EC_RESUME_RAX, 0x73, 0x74) == E_OK,
              "ec_resume passes flags, rip and rax");
}

int main(mword arg)
{
    check_memory();
    check_strings();
    check_format();
    check_stubs(arg);
    return tap_failures();
}
