/*
 * System-call stubs for user programs: one inline function per call of
 * docs/abi.md, all through sys_call6(). Every stub returns the status
 * (enum status); a call's second result goes to an out-parameter.
 */
#pragma once
#include "syscall.h"
#include "infopage.h"
#include "compiler.h"

/* Enter the kernel with call nr and six arguments; *rdx_out gets rdx after the call. */
static inline mword sys_call6(mword nr, mword a1, mword a2, mword a3, mword a4,
                              mword a5, mword a6, mword *rdx_out)
{
    /* Arguments rdi rsi rdx r10 r8 r9; the kernel may change all of them, and
       syscall/sysret clobber rcx (user rip) and r11 (user rflags). */
    register mword r10 __asm__("r10") = a4;
    register mword r8 __asm__("r8") = a5;
    register mword r9 __asm__("r9") = a6;
    __asm__ __volatile__("syscall"
                         : "+a"(nr), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10), "+r"(r8), "+r"(r9)
                         :
                         : "rcx", "r11", "memory", "cc");
    if (rdx_out != NULL)
        *rdx_out = a3;
    return nr;
}

/* Create an empty PD, child of parent_pd, with quota frames of kernel memory taken from
   parent_pd's (PD_QUOTA_SHARED: it draws on parent_pd's); its capability (PD_R_ALL) goes to
   selector dst. */
static inline int sys_create_pd(mword dst, mword parent_pd, mword quota)
{
    return (int)sys_call6(SYS_CREATE_PD, dst, parent_pd, quota, 0, 0, 0, NULL);
}

/* Create an EC in pd on cpu starting at ip with rsp=sp, rdi=arg; capability (EC_R_ALL) at dst. */
static inline int sys_create_ec(mword dst, mword pd, mword cpu, mword ip, mword sp, mword arg)
{
    return (int)sys_call6(SYS_CREATE_EC, dst, pd, cpu, ip, sp, arg, NULL);
}

/* Delegate count units of space kind from src_pd at src to dst_pd at dst with rights: one
   kernel call per at most 16 source pieces / 1024 page-table entries (it reports the items
   done in rdx); a failing call stops it, the items of the earlier calls stay delegated. */
static inline int sys_delegate(mword src_pd, mword dst_pd, unsigned kind, mword src, mword dst,
                               mword count, unsigned rights)
{
    for (;;) {
        mword done = 0;
        int st = (int)sys_call6(SYS_DELEGATE, src_pd, dst_pd, XFER(kind, rights), src, dst, count,
                                &done);
        if (st != 0 || done >= count || done == 0)
            return st;
        mword step = kind == SPACE_MEM ? done * PAGE_SIZE_USER : done;
        src += step;
        dst += step;
        count -= done;
    }
}

/* Remove rights from everything derived from pd's [base, base+count) of kind (and pd's own
   with REVOKE_SELF). */
static inline int sys_revoke(mword pd, unsigned kind, mword base, mword count, unsigned rights,
                             unsigned flags)
{
    return (int)sys_call6(SYS_REVOKE, pd, flags, XFER(kind, rights), base, count, 0, NULL);
}

/* What pd holds at addr in space kind; E_NOENT if nothing. */
static inline int sys_lookup(mword pd, unsigned kind, mword addr, struct lookup_info *out)
{
    return (int)sys_call6(SYS_LOOKUP, pd, kind, addr, (mword)out, 0, 0, NULL);
}

/* State of an EC (and its fault record); with EC_WAIT block until it has stopped. */
static inline int sys_ec_status(mword ec, unsigned flags, struct ec_info *out)
{
    return (int)sys_call6(SYS_EC_STATUS, ec, flags, (mword)out, 0, 0, 0, NULL);
}

/* Continue a faulted EC at its saved state (the faulting instruction); flags EC_RESUME_RIP and
   EC_RESUME_RAX give it rip and rax instead. */
static inline int sys_ec_resume(mword ec, unsigned flags, mword rip, mword rax)
{
    return (int)sys_call6(SYS_EC_RESUME, ec, flags, rip, rax, 0, 0, NULL);
}

/* Put device dev's DMA under pd's dpt (pd SEL_NULL: block it again). */
static inline int sys_assign(mword dev, mword pd)
{
    return (int)sys_call6(SYS_ASSIGN, dev, pd, 0, 0, 0, 0, NULL);
}

/* Device dev's DMA faults since the previous call. */
static inline int sys_dev_faults(mword dev, struct dev_faults *out)
{
    return (int)sys_call6(SYS_DEV_FAULTS, dev, (mword)out, 0, 0, 0, 0, NULL);
}

/* A vCPU of pd (made a VM) on core cpu at dst, stopped at VM_EXIT_START. */
static inline int sys_create_vcpu(mword dst, mword pd, mword cpu)
{
    return (int)sys_call6(SYS_CREATE_VCPU, dst, pd, cpu, 0, 0, 0, NULL);
}

/* Read a stopped vCPU's registers into *r, or with VCPU_REGS_SET set them from *r. */
static inline int sys_vcpu_regs(mword ec, unsigned flags, struct vcpu_regs *r)
{
    return (int)sys_call6(SYS_VCPU_REGS, ec, flags, (mword)r, 0, 0, 0, NULL);
}

/* Give the core to the next runnable EC. */
static inline int sys_yield(void)
{
    return (int)sys_call6(SYS_YIELD, 0, 0, 0, 0, 0, 0, NULL);
}

/* The body of a wait loop that polls yield: cpu_pause, then yield; yield's status. */
static inline int sys_yield_pause(void)
{
    cpu_pause();
    return sys_yield();
}

/* Stop the calling EC with an exit code its creator can read. */
static inline noreturn void sys_exit(long code)
{
    sys_call6(SYS_EXIT, (mword)code, 0, 0, 0, 0, 0, NULL);
    for (;;)
        __builtin_trap();   /* exit never returns; a kernel bug if it does */
}

/* Write len bytes of buf to the debug console. */
static inline int sys_console_write(const char *buf, mword len)
{
    return (int)sys_call6(SYS_CONSOLE_WRITE, (mword)buf, len, 0, 0, 0, 0, NULL);
}

/* Copy core cpu's event counters to *out. */
static inline int sys_counters(mword cpu, struct core_counters *out)
{
    return (int)sys_call6(SYS_COUNTERS, cpu, (mword)out, 0, 0, 0, 0, NULL);
}

/* Copy pd's space usage (backing pages, table frames) to *out. */
static inline int sys_pd_info(mword pd, struct pd_info *out)
{
    return (int)sys_call6(SYS_PD_INFO, pd, (mword)out, 0, 0, 0, 0, NULL);
}

/* Stack pointer to pass to create_ec for a C function entered with stack top `top`:
   the function sees the ABI's alignment (rsp + 8 a multiple of 16) on entry. */
static inline mword ec_stack_ptr(void *top)
{
    return ALIGN_DOWN((mword)top, 16) - 8;
}

/* The root task's information page. */
static inline const struct info_page *info_page(void)
{
    return (const struct info_page *)INFO_PAGE_ADDR;
}
