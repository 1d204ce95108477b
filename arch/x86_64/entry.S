/*
 * Interrupt and exception entry: 256 stubs of 16 bytes each (isr_stubs + 16 *
 * vector). Each pushes a zero error code if the CPU does not push one, then the
 * vector, and joins isr_common, which saves the registers as struct trap_frame.
 */
#define STUB_SIZE 16

    .text
    .align STUB_SIZE
    .global isr_stubs
isr_stubs:
    .set vec, 0
    .rept 256
    .align STUB_SIZE
    /* Vectors with a CPU error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX. */
    .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq   $0
    .endif
    pushq   $vec
    jmp     isr_common
    .set vec, vec + 1
    .endr

isr_common:
    cld
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
    mov     %rsp, %rdi
    call    trap_dispatch
    pop     %r15
    pop     %r14
    pop     %r13
    pop     %r12
    pop     %r11
    pop     %r10
    pop     %r9
    pop     %r8
    pop     %rbp
    pop     %rdi
    pop     %rsi
    pop     %rdx
    pop     %rcx
    pop     %rbx
    pop     %rax
    add     $16, %rsp                   /* vector and error code */
    iretq
