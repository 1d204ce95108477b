/* Assembly: the bootstrapping steps shared by boot.S (BSP) and trampoline.S (APs). */
#pragma once
#include "cpu.h"

/*
 * From 32-bit protected mode: PAE + PGE, load the root table whose physical
 * address is in %edx, EFER.LME + NXE, then paging with WP. Long mode is active (in a
 * compatibility segment) afterwards; a far jump to a 64-bit segment follows.
 */
.macro ENTER_LONG_MODE
    mov     $(CR4_PAE | CR4_PGE), %eax
    mov     %eax, %cr4
    mov     %edx, %cr3
    mov     $MSR_EFER, %ecx
    rdmsr
    or      $(EFER_LME | EFER_NXE), %eax
    wrmsr
    mov     %cr0, %eax
    or      $(CR0_PG | CR0_WP | CR0_PE), %eax
    mov     %eax, %cr0
.endm
