/*
 * Runs user programs (build/root.elf, build/user/tests/ulib_check.elf) on the
 * host under a ptrace "fake kernel": PTRACE_SYSEMU stops the program at each
 * `syscall`, and this file plays the Tessera kernel (docs/abi.md) for it.
 *
 * What it checks: the programs pass kernel/elf.c's validation; crt0 runs with
 * rsp = 0 and rdi = INFO_PAGE_ADDR as the kernel starts the root EC; the stubs
 * put arguments in rdi rsi rdx r10 r8 r9 (checked call by call against a
 * table) and cope with the kernel destroying rcx, r11 and the argument
 * registers (this fake kernel fills them with garbage); exit(code) ends the
 * program. Output of the programs (their own TAP lines) is passed through.
 * Prints TAP; needs ptrace, which the sandbox allows (PTRACE_TRACEME).
 */
#define _GNU_SOURCE         /* memmem */
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>
#include "elf.h"
#include "infopage.h"
#include "syscall.h"

#define GARBAGE   0xbadbadbadbad0000UL  /* what the fake kernel leaves in clobbered registers */
#define MAX_STOPS 100000                /* bound on system calls per program */
#define LINUX_SYS_MMAP 9                /* injected once to map the information page */

static int tests, failures;

/* Print one TAP line. */
static void tap(int ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void tap(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("%sok %d - ", ok ? "" : "not ", ++tests);
    vprintf(fmt, ap);
    printf("\n");
    va_end(ap);
    failures += !ok;
}

/* A traced program and what the fake kernel saw of it. */
struct run {
    pid_t pid;
    int mem;                /* /proc/<pid>/mem */
    char out[16384];        /* console output */
    size_t out_len;
    int exited;             /* 1 if it called exit */
    long exit_code;
    int calls_ok, calls_bad; /* argument checks against the expected table */
    unsigned next_call;     /* index into the expected table */
    const struct call *expect;
    unsigned nexpect;
    char problem[200];      /* first unexpected event */
};

/* One expected system call: number and the six argument registers. */
struct call {
    mword nr, a[6];
    unsigned nargs;         /* arguments checked; later ones are pointers into the program */
};

/* The calls ulib_check makes in check_stubs(), in order (console writes aside). */
static const struct call ulib_calls[] = {
    { SYS_CREATE_PD, { 0x11, 0x12, PD_QUOTA_SHARED }, 3 },
    { SYS_CREATE_EC, { 0x21, 0x22, 0x23, 0x24, 0x25, 0x26 }, 6 },
    { SYS_DELEGATE, { 0x31, 0x32, XFER(SPACE_MEM, MEM_R | MEM_W), 0x34, 0x35, 0x36 }, 6 },
    { SYS_REVOKE, { 0x41, REVOKE_SELF, XFER(SPACE_PIO, PIO_A), 0x43, 0x44 }, 5 },
    { SYS_LOOKUP, { 0x51, SPACE_OBJ, 0x53 }, 3 },
    { SYS_EC_STATUS, { 0x61, EC_WAIT }, 2 },
    { SYS_YIELD, { 0 }, 0 },
    { SYS_COUNTERS, { 1 }, 1 },
    { SYS_EC_RESUME, { 0x71, EC_RESUME_RIP | EC_RESUME_RAX, 0x73, 0x74 }, 4 },
};

/* Note the first problem of a run. */
static void problem(struct run *r, const char *what, unsigned long v)
{
    if (r->problem[0] == '\0')
        snprintf(r->problem, sizeof(r->problem), "%s %#lx", what, v);
}

/* Copy len bytes between the tracer and the program; false if the program's memory faulted. */
static int mem_read(struct run *r, mword addr, void *buf, size_t len)
{
    return pread(r->mem, buf, len, (off_t)addr) == (ssize_t)len;
}

static int mem_write(struct run *r, mword addr, const void *buf, size_t len)
{
    return pwrite(r->mem, buf, len, (off_t)addr) == (ssize_t)len;
}

/* Compare a call's registers with the next expected call. */
static void check_args(struct run *r, mword nr, const mword a[6])
{
    if (r->expect == NULL)
        return;
    if (r->next_call >= r->nexpect) {
        problem(r, "unexpected extra call", nr);
        return;
    }
    const struct call *c = &r->expect[r->next_call++];
    int ok = c->nr == nr;
    for (unsigned i = 0; i < c->nargs; i++)
        ok = ok && c->a[i] == a[i];
    ok ? r->calls_ok++ : r->calls_bad++;
    if (!ok)
        problem(r, "call with unexpected registers, number", nr);
}

/* Play the kernel for one call; returns the status, *rdx the second result. */
static mword emulate(struct run *r, mword nr, const mword a[6])
{
    static const struct lookup_info li = { 0x1111, 0x2222, 0x3333, 7, CAP_EC };
    static const struct ec_info ei = {
        EC_FAULTED, 1, 0, { .fault = { 0xdead000, 0x400123, 6, 14, FAULT_W, 1, { 0 } } } };
    static const struct core_counters cc = { .lazy_syncs = 42 };

    switch (nr) {
    case SYS_CONSOLE_WRITE:
        if (a[1] > CONSOLE_MAX)
            return E_ARG;
        if (a[1] > sizeof(r->out) - r->out_len || !mem_read(r, a[0], r->out + r->out_len, a[1]))
            return E_RANGE;
        r->out_len += a[1];
        return E_OK;
    case SYS_EXIT:
        r->exited = 1;
        r->exit_code = (long)a[0];
        return E_OK;
    case SYS_CREATE_PD: check_args(r, nr, a); return E_BUSY;
    case SYS_LOOKUP:
        check_args(r, nr, a);
        return mem_write(r, a[3], &li, sizeof(li)) ? E_OK : E_RANGE;
    case SYS_EC_STATUS:
        check_args(r, nr, a);
        return mem_write(r, a[2], &ei, sizeof(ei)) ? E_OK : E_RANGE;
    case SYS_COUNTERS:
        check_args(r, nr, a);
        return mem_write(r, a[1], &cc, sizeof(cc)) ? E_OK : E_RANGE;
    case SYS_CREATE_EC: case SYS_DELEGATE: case SYS_REVOKE: case SYS_YIELD: case SYS_EC_RESUME:
        check_args(r, nr, a);
        return E_OK;
    default:
        problem(r, "unknown call", nr);
        return E_NOSYS;
    }
}

/* Address of a `syscall` instruction in the image's executable segments, 0 if none. */
static mword find_syscall_insn(const struct elf_image *img)
{
    struct elf_segment s;
    for (unsigned i = 0; elf_segment(img, i, &s); i++)
        for (uint64_t j = 0; (s.rights & MEM_X) && j + 1 < s.filesz; j++)
            if (s.bytes[j] == 0x0f && s.bytes[j + 1] == 0x05)
                return s.vaddr + j;
    return 0;
}

/* Make the stopped program map its information page (a Linux mmap run through a borrowed
   `syscall` instruction), fill it, and set the start registers the kernel would: rdi, rsp. */
static int map_info_page(struct run *r, mword insn)
{
    struct user_regs_struct saved, regs;
    struct info_page ip = { .magic = INFO_MAGIC, .version = INFO_VERSION,
                            .size = sizeof(ip), .num_cpus = 2, .phys_window = ROOT_PHYS_WINDOW,
                            .user_limit = USER_LIMIT, .pio_count = PIO_PORTS,
                            .first_free_sel = SEL_ROOT_FREE, .cmdline = "uemu" };
    int st;

    ptrace(PTRACE_GETREGS, r->pid, 0, &saved);
    regs = saved;
    regs.rax = LINUX_SYS_MMAP;
    regs.rdi = INFO_PAGE_ADDR;
    regs.rsi = 4096;            /* one page: struct info_page fits (static assert) */
    regs.rdx = PROT_READ | PROT_WRITE;
    regs.r10 = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED;
    regs.r8 = (mword)-1;
    regs.r9 = 0;
    regs.rip = insn;
    ptrace(PTRACE_SETREGS, r->pid, 0, &regs);
    ptrace(PTRACE_SINGLESTEP, r->pid, 0, 0);
    waitpid(r->pid, &st, 0);
    ptrace(PTRACE_GETREGS, r->pid, 0, &regs);
    if (!WIFSTOPPED(st) || regs.rax != INFO_PAGE_ADDR ||
        !mem_write(r, INFO_PAGE_ADDR, &ip, sizeof(ip)))
        return 0;
    saved.rdi = INFO_PAGE_ADDR;
    saved.rsp = 0;              /* crt0 must set up its own stack */
    ptrace(PTRACE_SETREGS, r->pid, 0, &saved);
    return 1;
}

/* Handle one syscall stop: emulate, then return with garbage in every non-preserved register. */
static void syscall_stop(struct run *r)
{
    struct user_regs_struct regs;
    ptrace(PTRACE_GETREGS, r->pid, 0, &regs);
    mword a[6] = { regs.rdi, regs.rsi, regs.rdx, regs.r10, regs.r8, regs.r9 };
    mword nr = regs.orig_rax;
    regs.rax = emulate(r, nr, a);
    regs.rdx = GARBAGE + 2;
    regs.rcx = GARBAGE + 1;     /* syscall/sysret destroy rcx and r11 */
    regs.r11 = 0x202;           /* a sane rflags: Linux restores r11 into rflags on the iret path */
    regs.rdi = GARBAGE + 3;
    regs.rsi = GARBAGE + 4;
    regs.r10 = GARBAGE + 5;
    regs.r8 = GARBAGE + 6;
    regs.r9 = GARBAGE + 7;
    ptrace(PTRACE_SETREGS, r->pid, 0, &regs);
}

/* Trace the program until it exits, is killed, or runs too long. */
static void trace(struct run *r)
{
    int st;
    for (int n = 0; n < MAX_STOPS && !r->exited; n++) {
        ptrace(PTRACE_SYSEMU, r->pid, 0, 0);
        if (waitpid(r->pid, &st, 0) < 0 || !WIFSTOPPED(st)) {
            problem(r, "program ended without exit(), status", (unsigned long)st);
            return;
        }
        if (WSTOPSIG(st) != SIGTRAP) {
            struct user_regs_struct regs;
            ptrace(PTRACE_GETREGS, r->pid, 0, &regs);
            problem(r, "signal at rip", regs.rip);
            break;
        }
        syscall_stop(r);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, &st, 0);
}

/* Start path under ptrace, stopped at its first instruction; 0 on failure. */
static int start(struct run *r, const char *path)
{
    int st;
    char mem[64];
    r->pid = fork();
    if (r->pid == 0) {
        ptrace(PTRACE_TRACEME, 0, 0, 0);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    if (r->pid < 0 || waitpid(r->pid, &st, 0) < 0 || !WIFSTOPPED(st))
        return 0;
    snprintf(mem, sizeof(mem), "/proc/%d/mem", r->pid);
    r->mem = open(mem, O_RDWR);
    return r->mem >= 0;
}

/* Read a whole file into a malloc'd buffer; NULL if it cannot be read. */
static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    long n;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf != NULL)
        *size = (size_t)n;
    if (f != NULL)
        fclose(f);
    return buf;
}

/* Validate, start and trace one program; r holds the result. Returns 0 if it could not run. */
static int run_program(const char *path, struct run *r)
{
    size_t size = 0;
    struct elf_image img;
    uint8_t *file = slurp(path, &size);
    if (file == NULL) {
        tap(0, "%s exists (build it with make)", path);
        return 0;
    }
    enum elf_status st = elf_validate(&img, file, size, ROOT_ELF_LO, ROOT_PHYS_WINDOW);
    tap(st == ELF_OK, "%s passes the kernel's ELF validation (%s)", path, elf_status_name(st));
    mword insn = find_syscall_insn(&img);
    int ok = st == ELF_OK && insn != 0 && start(r, path) && map_info_page(r, insn);
    tap(ok, "%s starts with its information page mapped", path);
    free(file);
    if (!ok)
        return 0;
    trace(r);
    close(r->mem);
    fwrite(r->out, 1, r->out_len, stdout);     /* the program's own TAP lines */
    if (r->out_len > 0 && r->out[r->out_len - 1] != '\n')
        printf("\n");
    tap(r->problem[0] == '\0', "%s ran without surprises%s%s", path,
        r->problem[0] ? ": " : "", r->problem);
    tap(r->exited && r->exit_code == 0, "%s called exit(0) (exit %d, code %ld)", path, r->exited,
        r->exit_code);
    return 1;
}

int main(void)
{
    static struct run root, ulib;
    setvbuf(stdout, NULL, _IONBF, 0);
    alarm(30);      /* a hung program fails the suite instead of blocking make test */

    if (run_program("build/root.elf", &root))
        tap(memmem(root.out, root.out_len, "root: done", 10) != NULL,
            "root.elf printed \"root: done\"");
    ulib.expect = ulib_calls;
    ulib.nexpect = sizeof(ulib_calls) / sizeof(ulib_calls[0]);
    if (run_program("build/user/tests/ulib_check.elf", &ulib))
        tap(ulib.calls_ok == (int)ulib.nexpect && ulib.calls_bad == 0,
            "ulib_check: %d of %u calls had the documented registers", ulib.calls_ok, ulib.nexpect);
    return failures != 0;
}
