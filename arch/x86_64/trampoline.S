/*
 * AP start-up trampoline (slide "Manipulating Page Tables: Bootstrapping", for
 * the other cores). smp_install_trampoline copies it to a free page below 1 MiB
 * that holds no loader data (smp_tramp_pa) and adds that page's physical address
 * to every field listed in tramp_fixups. The STARTUP IPI starts the AP in real
 * mode at CS:IP = (page >> 4):0. It enters protected mode, then long mode on the
 * boot root (which identity-maps this page), and jumps to ap_entry64 in the
 * kernel, which switches to the core's own root and stack.
 */
#include "layout.h"
#include "paging.h"
#include "cpu.h"
#include "longmode.h"

#define TO(x)           ((x) - tramp_start)                     /* offset in the copy */
#define T_SEL_CODE32    0x08
#define T_SEL_DATA      0x10
#define T_SEL_CODE64    0x18

/* A 32-bit field holding the physical address of label in the copy: assembled as
 * its offset, listed in tramp_fixups (subsection 1, not copied) for the install. */
.macro TRAMP_ADDR label
0:  .long   \label - tramp_start
    .subsection 1
    .short  0b - tramp_start
    .subsection 0
.endm

    .section .trampoline, "a"
    .global tramp_start, tramp_root, tramp_end, tramp_fixups, tramp_fixups_end
    .subsection 1
tramp_fixups:                           /* u16 offsets of the TRAMP_ADDR fields */
    .subsection 0
    .code16
tramp_start:
    cli
    cld
    mov     %cs, %ax
    mov     %ax, %ds                    /* the copy's fields, by offset */
    xor     %esi, %esi
    mov     %ax, %si
    shl     $4, %esi                    /* %esi = physical address of the copy */
    lgdtl   TO(tramp_gdtr)
    mov     $CR0_PROT, %eax             /* complete: clears INIT's CD and NW */
    mov     %eax, %cr0
    ljmpl   *TO(tramp_far32)

    .code32
tramp_32:
    mov     $T_SEL_DATA, %ax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    mov     TO(tramp_root)(%esi), %edx
    ENTER_LONG_MODE                     /* clobbers eax, ecx, edx only: keeps %esi */
    ljmp    *TO(tramp_far64)(%esi)

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
    TRAMP_ADDR tramp_gdt
    .align 4
tramp_far32:                            /* m16:32 far pointers */
    TRAMP_ADDR tramp_32
    .short  T_SEL_CODE32
tramp_far64:
    TRAMP_ADDR tramp_64
    .short  T_SEL_CODE64
    .align 4
tramp_root:
    .long   0                           /* boot root, patched in the copy */
tramp_end:

    .subsection 2
tramp_fixups_end:
