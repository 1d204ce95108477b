/*
 * svm_vmrun(vmcb, gpr, host): one turn of an SVM guest on this core (svm.c), called with
 * interrupts off. GIF is cleared first, so RFLAGS.IF can be set for the guest's turn (a host
 * interrupt then ends it, V_INTR_MASKING) while nothing is delivered in the host until the
 * kernel is back: cli and stgi close the turn, and the interrupt stays pending until the
 * kernel's next interrupt window.
 *
 *   host state VMRUN does not switch   vmsave to host (rax = host), vmload the guest's
 *   guest GPRs but rax, rsp            loaded from gpr[] (rax, rsp, rip are in the VMCB)
 *   vmrun (rax = vmcb)                 until #VMEXIT: rax, rsp, rip are the host's again
 *   guest's FS, GS, TR, LDTR, MSRs     vmsave to the VMCB; the GPRs back into gpr[]
 *   host's                             vmload from host
 * Callee-saved registers of the C caller are kept on the stack.
 */
#define GPR(i) (8 * (i))                /* vcpu_regs.gpr index i: hardware register order */

    .text
    .globl svm_vmrun
svm_vmrun:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdx                           /* host area */
    push %rsi                           /* gpr[] */
    push %rdi                           /* vmcb */
    clgi
    sti
    mov %rdx, %rax
    vmsave %rax
    mov %rdi, %rax
    vmload %rax
    mov GPR(1)(%rsi), %rcx
    mov GPR(2)(%rsi), %rdx
    mov GPR(3)(%rsi), %rbx
    mov GPR(5)(%rsi), %rbp
    mov GPR(7)(%rsi), %rdi
    mov GPR(8)(%rsi), %r8
    mov GPR(9)(%rsi), %r9
    mov GPR(10)(%rsi), %r10
    mov GPR(11)(%rsi), %r11
    mov GPR(12)(%rsi), %r12
    mov GPR(13)(%rsi), %r13
    mov GPR(14)(%rsi), %r14
    mov GPR(15)(%rsi), %r15
    mov GPR(6)(%rsi), %rsi
    vmrun %rax
    vmsave %rax
    push %rsi                           /* the guest's rsi, until gpr[] is at hand */
    mov 16(%rsp), %rsi                  /* gpr[] */
    mov %rcx, GPR(1)(%rsi)
    mov %rdx, GPR(2)(%rsi)
    mov %rbx, GPR(3)(%rsi)
    mov %rbp, GPR(5)(%rsi)
    mov %rdi, GPR(7)(%rsi)
    mov %r8, GPR(8)(%rsi)
    mov %r9, GPR(9)(%rsi)
    mov %r10, GPR(10)(%rsi)
    mov %r11, GPR(11)(%rsi)
    mov %r12, GPR(12)(%rsi)
    mov %r13, GPR(13)(%rsi)
    mov %r14, GPR(14)(%rsi)
    mov %r15, GPR(15)(%rsi)
    pop %rax
    mov %rax, GPR(6)(%rsi)
    pop %rdi                            /* vmcb */
    pop %rsi                            /* gpr[] */
    pop %rax                            /* host area */
    vmload %rax
    cli
    stgi
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret
