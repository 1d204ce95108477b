/*
 * Boot entry (lecture "Manipulating Page Tables: Bootstrapping"): the loader
 * enters in 32-bit protected mode without paging. We prepare the boot page
 * tables in physical memory, enable PAE, long mode and paging, then jump to the
 * kernel linked at KERNEL_BASE.
 *
 * Boot root (boot_pml4), kept afterwards only for AP start-up:
 *   PML4 0   -> boot_pdpt_lo: identity map 0..4 GiB with 2 MiB pages (loader
 *               data, ACPI tables, the AP trampoline)
 *   PML4 511 -> boot_pdpt_hi, entry 510 -> boot_pd_hi: the kernel region as
 *               the linear map of the pool, 2 MiB pages (replaced by the
 *               master kernel PD in kmem_init)
 */
#include "layout.h"
#include "paging.h"
#include "cpu.h"
#include "multiboot.h"
#include "longmode.h"
#include "uart.h"

#define PHYS(x)         ((x) - KERNEL_VOFFSET)
#define BOOT_STACK_SIZE 16384
#define IDENT_PDS       4                       /* 4 PDs of 1 GiB each */
#define PD_LINEAR_FIRST ((KERNEL_BASE >> 21) & 511)             /* PD index of KERNEL_BASE: 8 */
#define PD_LINEAR_COUNT ((KERNEL_LINEAR_END - KERNEL_BASE) >> 21)  /* 2 MiB pages of it: 487 */
#define BOOT_SEL_CODE   0x08
#define BOOT_SEL_DATA   0x10

/* Multiboot v1 header: must lie in the first 8 KiB of the file. */
    .section .multiboot, "a"
    .align 4
mb1_header:
    .long MB1_HEADER_MAGIC
    .long MB1_FLAG_ALIGN | MB1_FLAG_MEMINFO
    .long -(MB1_HEADER_MAGIC + (MB1_FLAG_ALIGN | MB1_FLAG_MEMINFO))

/* Multiboot v2 header: 8-byte aligned, in the first 32 KiB; only the end tag. */
    .align 8
mb2_header:
    .long MB2_HEADER_MAGIC
    .long MB2_ARCH_I386
    .long mb2_header_end - mb2_header
    .long -(MB2_HEADER_MAGIC + MB2_ARCH_I386 + (mb2_header_end - mb2_header))
    .short 0, 0                                 /* end tag: type 0, flags 0 */
    .long 8                                     /* size */
mb2_header_end:

    .section .boot.text, "ax"
    .code32
    .global boot_entry
boot_entry:
    cli
    cld
    mov     %eax, %edi                          /* multiboot magic (v1 or v2) */
    mov     %ebx, %esi                          /* multiboot info, physical */

    /* Clear .bss (boot tables and stack live there). */
    mov     $PHYS(__bss_start), %ebx
1:  cmp     $PHYS(__bss_end), %ebx
    jae     2f
    movl    $0, (%ebx)
    add     $4, %ebx
    jmp     1b
2:  mov     $PHYS(boot_stack_top), %esp

    /* Long mode and NX are required. */
    mov     $0x80000000, %eax
    cpuid
    cmp     $CPUID_LEAF_EXT, %eax
    jb      no_long_mode
    mov     $CPUID_LEAF_EXT, %eax
    cpuid
    test    $CPUID_EXT_EDX_LM, %edx
    jz      no_long_mode
    test    $CPUID_EXT_EDX_NX, %edx
    jz      no_long_mode

    /* PML4: slot 0 identity, slot 511 kernel. */
    movl    $PHYS(boot_pdpt_lo) + PTE_TABLE, PHYS(boot_pml4)
    movl    $PHYS(boot_pdpt_hi) + PTE_TABLE, PHYS(boot_pml4) + PML4_KERNEL * 8

    /* Identity: PDPT_lo[0..3] -> boot_pd_ident[0..3], each 512 x 2 MiB. */
    xor     %ecx, %ecx
1:  mov     %ecx, %eax
    shl     $12, %eax
    add     $PHYS(boot_pd_ident) + PTE_TABLE, %eax
    mov     %eax, PHYS(boot_pdpt_lo)(, %ecx, 8)
    inc     %ecx
    cmp     $IDENT_PDS, %ecx
    jb      1b
    xor     %ecx, %ecx
1:  mov     %ecx, %eax
    shl     $21, %eax
    or      $(PTE_P | PTE_W | PTE_PS), %eax
    mov     %eax, PHYS(boot_pd_ident)(, %ecx, 8)
    mov     %ecx, %eax
    shr     $11, %eax                           /* bits 63:32 of the address */
    mov     %eax, PHYS(boot_pd_ident) + 4(, %ecx, 8)
    inc     %ecx
    cmp     $IDENT_PDS * 512, %ecx
    jb      1b

    /* Kernel: PDPT_hi[510] -> boot_pd_hi; PD entries 8.. map KERNEL_LOAD + i * 2 MiB. */
    movl    $PHYS(boot_pd_hi) + PTE_TABLE, PHYS(boot_pdpt_hi) + PDPT_KERNEL * 8
    xor     %ecx, %ecx
1:  mov     %ecx, %eax
    shl     $21, %eax
    add     $KERNEL_LOAD + (PTE_P | PTE_W | PTE_PS), %eax
    mov     %eax, PHYS(boot_pd_hi) + PD_LINEAR_FIRST * 8(, %ecx, 8)
    inc     %ecx
    cmp     $PD_LINEAR_COUNT, %ecx
    jb      1b

    mov     $PHYS(boot_pml4), %edx
    ENTER_LONG_MODE
    lgdt    PHYS(boot_gdtr)
    ljmp    $BOOT_SEL_CODE, $PHYS(boot_64)

/* Print a message on COM1 and stop: this CPU cannot run Tessera. */
no_long_mode:
    mov     $PHYS(msg_no_lm), %esi
1:  lodsb
    test    %al, %al
    jz      2f
    mov     $COM1, %dx
    out     %al, %dx
    jmp     1b
2:  cli
    hlt
    jmp     2b

    .code64
boot_64:
    mov     $BOOT_SEL_DATA, %eax
    mov     %ax, %ds
    mov     %ax, %es
    mov     %ax, %ss
    xor     %eax, %eax
    mov     %ax, %fs
    mov     %ax, %gs
    movabs  $boot_stack_top, %rsp
    movabs  $boot_high, %rax
    jmp     *%rax

    .text
boot_high:
    /* Upper halves of registers are undefined after the mode switch. */
    mov     %edi, %edi
    mov     %esi, %esi
    xor     %ebp, %ebp
    call    kernel_main
1:  cli
    hlt
    jmp     1b

/*
 * AP entry from the trampoline, in long mode on the boot root: switch to the
 * core's own root (ap_boot_root), then to its stack at CPU_STACK.
 */
    .global ap_entry64
ap_entry64:
    mov     ap_boot_root(%rip), %rax
    mov     %rax, %cr3
#ifdef PTSYNC_shared
    mov     ap_boot_stack(%rip), %rsp
#else
    movabs  $CPU_STACK_TOP, %rsp
#endif
    xor     %ebp, %ebp
    call    ap_main
1:  cli
    hlt
    jmp     1b

/* switch_stack(top, fn): continue in fn() on the stack ending at top; never returns. */
    .global switch_stack
switch_stack:
    mov     %rdi, %rsp
    xor     %ebp, %ebp
    call    *%rsi
1:  cli
    hlt
    jmp     1b

    .section .rodata
msg_no_lm:
    .asciz "tessera: CPU lacks long mode or NX\r\n"
    .align 8
boot_gdt:
    .quad   0
    .quad   0x00209A0000000000                  /* 0x08: 64-bit code, present, ring 0 */
    .quad   0x0000920000000000                  /* 0x10: data, present, writable */
boot_gdt_end:
boot_gdtr:
    .short  boot_gdt_end - boot_gdt - 1
    .long   PHYS(boot_gdt)

    .data
    .global ap_boot_root
ap_boot_root:
    .quad   0
    .global ap_boot_stack
ap_boot_stack:                          /* PTSYNC=shared: the AP's stack top (no core-local one) */
    .quad   0

    .bss
    .align 4096
    .global boot_pml4, boot_pdpt_hi
boot_pml4:      .skip 4096
boot_pdpt_lo:   .skip 4096
boot_pdpt_hi:   .skip 4096
boot_pd_hi:     .skip 4096
boot_pd_ident:  .skip 4096 * IDENT_PDS
boot_stack:     .skip BOOT_STACK_SIZE
boot_stack_top:
