/*
 * AP start-up trampoline (slide "Manipulating Page Tables: Bootstrapping", for
 * the other cores). Copied to TRAMPOLINE_PA; the STARTUP IPI starts the AP in
 * real mode at CS:IP = (TRAMPOLINE_PA >> 4):0. It enters protected mode, then
 * long mode on the boot root (which identity-maps this page), and jumps to
 * ap_entry64 in the kernel, which switches to the core's own root and stack.
 */
#include "layout.h"
#include "paging.h"
#include "cpu.h"
#include "longmode.h"

#define TA(x)           (TRAMPOLINE_PA + ((x) - tramp_start))   /* run-time address */
#define T_SEL_CODE32    0x08
#define T_SEL_DATA      0x10
#define T_SEL_CODE64    0x18

    .section .trampoline, "a"
    .global tramp_start, tramp_root, tramp_end
    .code16
tramp_start:
    cli
    cld
    xor     %ax, %ax
    mov     %ax, %ds
    lgdtl   TA(tramp_gdtr)
    mov     $CR0_PROT, %eax             /* complete: clears INIT's CD and NW */
    mov     %eax, %cr0
    ljmpl   $T_SEL_CODE32, $TA(tramp_32)

    .code32
tramp_32:
    mov     $T_SEL_DATA, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     TA(tramp_root), %edx
    ENTER_LONG_MODE
    ljmp    $T_SEL_CODE64, $TA(tramp_64)

    .code64
tramp_64:
    xor     %eax, %eax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    movabs  $ap_entry64, %rax
    jmp     *%rax

    .align 8
tramp_gdt:
    .quad   0
    .quad   0x00CF9A000000FFFF          /* 0x08: 32-bit code, 4 GiB */
    .quad   0x00CF92000000FFFF          /* 0x10: data, 4 GiB */
    .quad   0x00209A0000000000          /* 0x18: 64-bit code */
tramp_gdt_end:
tramp_gdtr:
    .short  tramp_gdt_end - tramp_gdt - 1
    .long   TA(tramp_gdt)
    .align 4
tramp_root:
    .long   0                           /* boot root, patched in the copy */
tramp_end:
