/*
 * Interrupt and exception entry: 256 stubs of 16 bytes each (isr_stubs + 16 *
 * vector). Each pushes a zero error code if the CPU does not push one, then the
 * vector, and joins isr_common, which saves the registers as struct trap_frame.
 * Every entry first forbids user access again (clac: a user may have set
 * RFLAGS.AC with popf, and an interrupt gate does not clear it).
 *
 * #DB, NMI and #MC arrive on IST stacks of their own (gdt.c), as #DF does: they
 * can hit the syscall entry before it has switched to the kernel stack, where
 * rsp is still the user's. They join isr_ist: from kernel mode the handler runs
 * on the IST stack; from user mode the frame moves to the top of the core's
 * kernel stack (unused while the core runs user code), so the EC's user state
 * is USER_FRAME as for every other entry from user mode.
 * Nesting: each IST stack is reused from its top at each delivery, so a second
 * delivery of the same vector while its handler runs on that stack would
 * overwrite the first frame. The NMI handler halts when a core panics (NMIs stay
 * blocked: no iretq); any other NMI (a device's message) it returns from at once,
 * taking no fault, so no NMI nests before its iretq;
 * the kernel-mode #DB handler runs with TF clear and no breakpoint armed, so no
 * #DB can nest (a #DB that a mov ss shadow defers to the first instruction of
 * another handler lands on the #DB stack, not on that handler's); #MC is fatal.
 */
#include "cpu.h"
#include "layout.h"
#include "smap.h"
#include "x86_vectors.h"
#include "percpu.h"

#define STUB_SIZE 16
#define VEC_SYSCALL 0x100               /* trap.h: frame built by syscall_entry */
#define E_RANGE 3                       /* abi.h */
#define CPU_LOCAL_USER_RSP 8            /* cpu_local.h (static assertion there) */
#define CPU_LOCAL_FRAME_END 16          /* cpu_local.h (static assertion there) */
#define CPU_LOCAL_STACK_TOP 24          /* cpu_local.h (static assertion there), PTSYNC=shared */
#define TRAP_FRAME_SIZE 176             /* sizeof(struct trap_frame) (static assertion in trap.h) */
/* Offsets in struct trap_frame of what the sysret path reloads (static assertions in trap.h). */
#define TF_R10 40
#define TF_R9 48
#define TF_R8 56
#define TF_RDI 72
#define TF_RSI 80
#define TF_RDX 88
#define TF_RAX 112
#define TF_RIP 136
#define TF_RFLAGS 152
#define TF_RSP 160

/*
 * PERCPU=gs: the kernel runs with GS base = its core's data page, user code with its own
 * (KERNEL_GS_BASE holds the other one). Every entry from user mode swaps, every exit to it
 * swaps back. An NMI, #DB or #MC that arrives in kernel mode at one of the five instructions
 * where GS still (or already) holds the user's base -- the first of syscall_entry, the sysretq,
 * the user iretq and the two of percpu_load_user_gs -- swaps as well; its saved rip says so
 * (gs_window). A user cannot make its GS base a kernel address (CR4.FSGSBASE is clear,
 * descriptor bases are 0), but the rip test does not depend on that.
 * gs_window: ZF set if the frame's rip (at off(%rsp)) is one of the five; clobbers flags.
 */
.macro gs_window off
    cmpq    $syscall_entry, \off(%rsp)
    je      2f
    cmpq    $sysret_insn, \off(%rsp)
    je      2f
    cmpq    $gs_load_insn, \off(%rsp)
    je      2f
    cmpq    $gs_load_back, \off(%rsp)
    je      2f
    cmpq    $iret_user, \off(%rsp)
2:
.endm

/* gs_entry: swapgs if the frame at rsp (vector, error, rip, cs, ...) came from user mode or from
 * a gs_window instruction. */
.macro gs_entry
#if PERCPU_VARIANT == PERCPU_GS
    testb   $3, 24(%rsp)
    jnz     1f
    gs_window 16
    jne     3f
1:  swapgs
3:
#endif
.endm

/* Push the general registers in struct trap_frame order (r15 ends lowest). */
.macro push_regs
    push    %rax
    push    %rbx
    push    %rcx
    push    %rdx
    push    %rsi
    push    %rdi
    push    %rbp
    push    %r8
    push    %r9
    push    %r10
    push    %r11
    push    %r12
    push    %r13
    push    %r14
    push    %r15
.endm

/* Pop r10, r9, r8, rbp, rdi, rsi, rdx (the middle of struct trap_frame). */
.macro pop_r10_to_rdx
    pop     %r10
    pop     %r9
    pop     %r8
    pop     %rbp
    pop     %rdi
    pop     %rsi
    pop     %rdx
.endm

    .text
    .align STUB_SIZE
    .global isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    .align STUB_SIZE
    /* A zero where the CPU pushes no error code (all but the vectors of VEC_ERRCODE_MASK). */
    .if vec >= 32
    pushq   $0
    .elseif ((VEC_ERRCODE_MASK >> vec) & 1) == 0
    pushq   $0
    .endif
    pushq   $vec
    .if (vec == 1) || (vec == 2) || (vec == 18)
    jmp     isr_ist                     /* #DB, NMI, #MC: on their IST stacks */
    .else
    jmp     isr_common
    .endif
    .set vec, vec + 1
    .endr

/*
 * IST entry (rsp = vector, error, CPU frame on the IST stack): from user mode,
 * move those 7 words to the top of the kernel stack and continue there.
 */
#define IST_WORDS 7                     /* vector, error, rip, cs, rflags, rsp, ss */
#define IST_CS 24                       /* offset of the saved cs */
isr_ist:
    smap_clac
    testb   $3, IST_CS(%rsp)
    jz      isr_common
    push    %rcx
    push    %rsi
    push    %rdi
    cld
    lea     24(%rsp), %rsi              /* above the three saved registers */
#ifdef PTSYNC_shared
    /* The core's stack lies in the 64 KiB area of the IST stack we are on. */
    mov     %rsp, %rdi
    and     $~(CPU_AREA_SIZE - 1), %rdi
    add     $(CPU_AREA_STACK_OFF + PAGE_SIZE - IST_WORDS * 8), %rdi
#else
    mov     $(CPU_STACK_TOP - IST_WORDS * 8), %rdi
#endif
    mov     $IST_WORDS, %ecx
    rep movsq
    pop     %rdi
    pop     %rsi
    pop     %rcx
#ifdef PTSYNC_shared
    and     $~(CPU_AREA_SIZE - 1), %rsp
    add     $(CPU_AREA_STACK_OFF + PAGE_SIZE - IST_WORDS * 8), %rsp
#else
    mov     $(CPU_STACK_TOP - IST_WORDS * 8), %rsp
#endif
isr_common:
    smap_clac
    gs_entry
    cld
    push_regs
    mov     %rsp, %rdi
    call    trap_dispatch
    .global trap_exit
trap_exit:
    pop     %r15
    pop     %r14
    pop     %r13
    pop     %r12
    pop     %r11
    pop_r10_to_rdx
    pop     %rcx
    pop     %rbx
    pop     %rax
#if PERCPU_VARIANT == PERCPU_GS
    testb   $3, 24(%rsp)
    jz      1f
    swapgs
    add     $16, %rsp                   /* vector and error code */
    .global iret_user
iret_user:
    iretq
1:  gs_window 16                        /* interrupted at a window: GS back to the user's */
    jne     3f
    swapgs
3:
#endif
    add     $16, %rsp                   /* vector and error code */
    iretq

/*
 * trap_exit_shifted(f): return from an interrupt that came through the stub of an exception
 * with an error code (a vector in VEC_ERRCODE_MASK sent as a message): the CPU pushed no error
 * code, so f's error slot holds the interrupted rip and the CPU frame starts there.
 */
    .global trap_exit_shifted
trap_exit_shifted:
    mov     %rdi, %rsp
    pop     %r15
    pop     %r14
    pop     %r13
    pop     %r12
    pop     %r11
    pop_r10_to_rdx
    pop     %rcx
    pop     %rbx
    pop     %rax
    add     $8, %rsp                    /* the vector only */
    iretq

/*
 * syscall: rcx = user rip, r11 = user rflags; SFMASK cleared IF, DF, AC, TF, NT
 * (user.c). A single-step #DB that a user's TF raises at the first instruction
 * arrives on its IST stack, so the user rsp is never used as a stack here.
 * Build a struct trap_frame exactly as an interrupt from user mode would, but
 * in the running EC's saved state (cpu_local.frame_end, set when the EC was
 * resumed), so that no call has to copy it there; the call itself runs on
 * this core's stack. A switch to another EC leaves through resume_frame
 * (iretq); a call that returns to its caller leaves through sysret.
 */
    .global syscall_entry
syscall_entry:
#if PERCPU_VARIANT == PERCPU_GS
    swapgs
    mov     %rsp, %gs:CPU_LOCAL_USER_RSP
    mov     %gs:CPU_LOCAL_FRAME_END, %rsp
    pushq   $SEL_UDATA                  /* ss */
    pushq   %gs:CPU_LOCAL_USER_RSP      /* rsp */
#else
    mov     %rsp, CPU_LOCAL + CPU_LOCAL_USER_RSP
    mov     CPU_LOCAL + CPU_LOCAL_FRAME_END, %rsp
    pushq   $SEL_UDATA                  /* ss */
    pushq   CPU_LOCAL + CPU_LOCAL_USER_RSP  /* rsp */
#endif
    push    %r11                        /* rflags */
    pushq   $SEL_UCODE                  /* cs */
    push    %rcx                        /* rip */
    pushq   $0                          /* error */
    pushq   $VEC_SYSCALL                /* vector */
    push_regs
    mov     %rsp, %rdi
#ifdef PTSYNC_shared
    mov     %gs:CPU_LOCAL_STACK_TOP, %rsp
#else
    mov     $CPU_STACK_TOP, %rsp
#endif
    call    syscall_dispatch
    /*
     * Back to the caller with sysret (calls that switch ECs left through
     * resume_frame instead), rax = the status. The frame ends at frame_end still
     * (only a switch changes it). rcx = rip and r11 = rflags come from the frame,
     * as saved by syscall: rip is below USER_LIMIT, so canonical (a non-canonical
     * rcx would make sysret fault in ring 0). The ABI destroys rcx and r11.
     * rbx, rbp and r12-r15 still hold the caller's values (C preserved them, and
     * no call returning here changes them in its frame), so only the rest reload.
     */
#if PERCPU_VARIANT == PERCPU_GS
    mov     %gs:CPU_LOCAL_FRAME_END, %rsp
#else
    mov     CPU_LOCAL + CPU_LOCAL_FRAME_END, %rsp
#endif
    mov     %rax, TF_RAX - TRAP_FRAME_SIZE(%rsp)
    mov     TF_R10 - TRAP_FRAME_SIZE(%rsp), %r10
    mov     TF_R9 - TRAP_FRAME_SIZE(%rsp), %r9
    mov     TF_R8 - TRAP_FRAME_SIZE(%rsp), %r8
    mov     TF_RDI - TRAP_FRAME_SIZE(%rsp), %rdi
    mov     TF_RSI - TRAP_FRAME_SIZE(%rsp), %rsi
    mov     TF_RDX - TRAP_FRAME_SIZE(%rsp), %rdx
    mov     TF_RIP - TRAP_FRAME_SIZE(%rsp), %rcx
    mov     TF_RFLAGS - TRAP_FRAME_SIZE(%rsp), %r11
    mov     TF_RSP - TRAP_FRAME_SIZE(%rsp), %rsp    /* user rsp (ss is implied by STAR) */
#if PERCPU_VARIANT == PERCPU_GS
    swapgs
#endif
    .global sysret_insn
sysret_insn:
    sysretq

#if PERCPU_VARIANT == PERCPU_GS
/* percpu_load_user_gs(sel): load the user's GS selector (and so its base) with the user's base
 * swapped in, so the kernel's GS base survives. */
    .global percpu_load_user_gs
percpu_load_user_gs:
    swapgs
gs_load_insn:
    mov     %di, %gs
gs_load_back:
    swapgs
    ret
#endif

/*
 * resume_frame(src): return to user mode through the trap frame src (an EC's saved state)
 * where it lies, with src as the stack: nothing is copied. Interrupts are off; NMI, #DB,
 * #MC and #DF arrive on IST stacks, so nothing pushes onto the EC below src meanwhile.
 */
    .global resume_frame
resume_frame:
    mov     %rdi, %rsp
    jmp     trap_exit

/*
 * uaccess_copy(dst, src, n) -> 0 or E_RANGE: copy n bytes with user access
 * allowed (SMAP). A fault at uaccess_insn resumes at uaccess_fixup (fault.c).
 */
    .global uaccess_copy, uaccess_insn, uaccess_fixup
uaccess_copy:
    mov     %rdx, %rcx
    smap_stac
uaccess_insn:
    rep movsb
    smap_clac
    xor     %eax, %eax
    ret
uaccess_fixup:
    smap_clac
    mov     $E_RANGE, %eax
    ret
