/*
 * VM entry and exit (Intel VMX): vmx_enter(uint64_t *g) saves the kernel's callee-saved
 * registers and g on the core's stack, points the VMCS's host RSP and RIP at that stack and at
 * vmx_exit_entry, loads the guest's registers from g (hardware order, the rsp slot skipped:
 * rsp is in the VMCS), and executes VMLAUNCH (every entry starts from a cleared VMCS: vmx.h).
 * A failed entry
 * falls through and returns 1 (g unchanged); a VM exit arrives at
 * vmx_exit_entry with the host RSP, stores the guest's registers into g and returns 0 to
 * vmx_enter's caller. The exit leaves RFLAGS 0x2 (interrupts off, DF clear).
 */
#include "vmx.h"

/* Offsets in vcpu_hw.gpr: 8 * enum vcpu_gpr (include/syscall.h, the hardware's numbers). */
#define G_RAX 0
#define G_RCX 8
#define G_RDX 16
#define G_RBX 24
#define G_RBP 40
#define G_RSI 48
#define G_RDI 56
#define G_R8 64
#define G_R9 72
#define G_R10 80
#define G_R11 88
#define G_R12 96
#define G_R13 104
#define G_R14 112
#define G_R15 120

    .text
    .global vmx_enter
    .type vmx_enter, @function
vmx_enter:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    pushq %rdi                          /* g: the exit path finds it above the host RSP */
    pushq %rsi                          /* padding: g at 8(host RSP) */
    movl $VMCS_HOST_RSP, %eax
    vmwrite %rsp, %rax
    leaq vmx_exit_entry(%rip), %rdx
    movl $VMCS_HOST_RIP, %eax
    vmwrite %rdx, %rax
    movq G_RAX(%rdi), %rax
    movq G_RCX(%rdi), %rcx
    movq G_RDX(%rdi), %rdx
    movq G_RBX(%rdi), %rbx
    movq G_RBP(%rdi), %rbp
    movq G_RSI(%rdi), %rsi
    movq G_R8(%rdi), %r8
    movq G_R9(%rdi), %r9
    movq G_R10(%rdi), %r10
    movq G_R11(%rdi), %r11
    movq G_R12(%rdi), %r12
    movq G_R13(%rdi), %r13
    movq G_R14(%rdi), %r14
    movq G_R15(%rdi), %r15
    movq G_RDI(%rdi), %rdi
    vmlaunch
    /* VMfailInvalid or VMfailValid: the registers hold the guest's; nothing was entered. */
    addq $8, %rsp
    popq %rdi
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    movl $1, %eax
    ret
    .size vmx_enter, . - vmx_enter

    .type vmx_exit_entry, @function
vmx_exit_entry:
    pushq %rdi                          /* the guest's rdi; the padding and g above it */
    movq 16(%rsp), %rdi
    movq %rax, G_RAX(%rdi)
    movq %rcx, G_RCX(%rdi)
    movq %rdx, G_RDX(%rdi)
    movq %rbx, G_RBX(%rdi)
    movq %rbp, G_RBP(%rdi)
    movq %rsi, G_RSI(%rdi)
    movq %r8, G_R8(%rdi)
    movq %r9, G_R9(%rdi)
    movq %r10, G_R10(%rdi)
    movq %r11, G_R11(%rdi)
    movq %r12, G_R12(%rdi)
    movq %r13, G_R13(%rdi)
    movq %r14, G_R14(%rdi)
    movq %r15, G_R15(%rdi)
    popq %rax
    movq %rax, G_RDI(%rdi)
    addq $8, %rsp
    popq %rdi
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    xorl %eax, %eax
    ret
    .size vmx_exit_entry, . - vmx_exit_entry
