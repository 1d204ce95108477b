/* Assembly: the bootstrapping steps shared by boot.S (BSP) and trampoline.S (APs). */
#pragma once
#include "cpu.h"

/*
 * From 32-bit protected mode: CR4 = PAE + PGE, load the root table whose physical
 * address is in %edx, EFER = LME + NXE, then CR0 = CR0_KERNEL (paging, WP, caches on).
 * Every register gets a complete value, nothing of what the loader or INIT left (INIT
 * sets CR0.CD and NW) survives. Long mode is active (in a compatibility segment)
 * afterwards; a far jump to a 64-bit segment follows. Clobbers eax, ecx, edx.
 */
.macro ENTER_LONG_MODE
    mov     $CR4_BOOT, %eax
    mov     %eax, %cr4
    mov     %edx, %cr3
    mov     $MSR_EFER, %ecx
    mov     $EFER_BOOT, %eax
    xor     %edx, %edx
    wrmsr
    mov     $CR0_KERNEL, %eax
    mov     %eax, %cr0
.endm
