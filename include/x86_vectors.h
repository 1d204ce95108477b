/*
 * x86 exception vectors (Intel SDM Vol. 3, 6.3.1): the numbers the CPU raises, the kernel
 * dispatches on (arch/x86_64/include/trap.h adds its own interrupt vectors) and a fault record
 * reports to user space (struct fault in include/syscall.h). Plain numbers: C and assembly.
 */
#pragma once

/*      name            vector     meaning */
#define VEC_DE          0       /* divide error */
#define VEC_DB          1       /* debug: single step, breakpoints */
#define VEC_NMI         2       /* non-maskable interrupt */
#define VEC_BP          3       /* breakpoint (int3) */
#define VEC_UD          6       /* invalid opcode */
#define VEC_DF          8       /* double fault */
#define VEC_GP          13      /* general protection */
#define VEC_PF          14      /* page fault */
#define VEC_MC          18      /* machine check */
#define VEC_EXC_LAST    31      /* vectors 0..31 are exceptions */
/* Exceptions whose frame carries an error code: #DF #TS #NP #SS #GP #PF #AC #CP #VC #SX. */
#define VEC_ERRCODE_MASK 0x60227D00
/* Lowest vector a local APIC accepts as an interrupt (0..15 are illegal there): 16..31 can
   arrive as interrupt messages, from a device too, with no error code pushed. */
#define VEC_APIC_FIRST  16
