/* Per-core set-up for user mode (syscall MSRs STAR, LSTAR, SFMASK; PAT), a new EC's first frame. */
#include "arch.h"
#include "cpu.h"
#include "ptab.h"
#include "syscall.h"

#define STAR_KERNEL_SHIFT 32        /* syscall: CS = this, SS = this + 8 */
#define STAR_USER_SHIFT   48        /* sysret: SS = this + 8, CS = this + 16 (RPL 3) */
#define STAR_USER_BASE    (SEL_UDATA - 8)   /* 0x13: user data 0x1B, user code 0x23 */

void syscall_entry(void);

/* This core: point syscall at syscall_entry (EFER.SCE is in EFER_KERNEL), program the PAT. */
void cpu_user_init(void)
{
    wrmsr(MSR_STAR, ((uint64_t)STAR_USER_BASE << STAR_USER_SHIFT) |
                    ((uint64_t)SEL_KCODE << STAR_KERNEL_SHIFT));
    wrmsr(MSR_LSTAR, (uint64_t)(uintptr_t)syscall_entry);
    wrmsr(MSR_SFMASK, SYSCALL_RFLAGS_MASK);
    wrmsr(MSR_PAT, PTAB_HPT_PAT_MSR);
}

/* Fill f as the first entry to user mode of a new EC: at ip with stack sp and arg in rdi, with
   interrupts on (EC_START_RFLAGS) and the user code and data selectors. */
void arch_user_frame(struct trap_frame *f, mword ip, mword sp, mword arg)
{
    f->rip = ip;
    f->rsp = sp;
    f->rdi = arg;
    f->rflags = EC_START_RFLAGS;
    f->cs = SEL_UCODE;
    f->ss = SEL_UDATA;
}
