/* Constants shared by C and assembly: UL_(x) is x in assembly and xUL in C. */
#pragma once

#ifdef __ASSEMBLER__
#define UL_(x)  x
#else
#define UL_(x)  x##UL
#endif
