/*
 * Program entry. The kernel starts an EC at the ELF entry with rdi = start
 * argument (root task: INFO_PAGE_ADDR) and an rsp the program does not trust:
 * switch to the program's own stack and continue in C (start.c).
 */
#define STACK_SIZE 0x10000      /* 64 KiB */

    .section .text.start, "ax"
    .globl _start
    .type _start, @function
_start:
    lea     stack_top(%rip), %rsp       /* 16-byte aligned before the call, as the ABI wants */
    xor     %ebp, %ebp                  /* end of the frame-pointer chain */
    call    start_c                     /* rdi (the start argument) passes through */
    ud2                                 /* start_c does not return */
    .size _start, . - _start

    .section .bss
    .balign 16
    .skip   STACK_SIZE
stack_top:

    .section .note.GNU-stack, "", @progbits
