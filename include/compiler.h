/* Compiler helpers shared by kernel, user and host builds. */
#pragma once

#define likely(x)    __builtin_expect(!!(x), 1)
#define unlikely(x)  __builtin_expect(!!(x), 0)
#define unused       __attribute__((unused))
#define packed       __attribute__((packed))
#define aligned(n)   __attribute__((aligned(n)))
#define noreturn     _Noreturn
#define noinline     __attribute__((noinline))
#define section(s)   __attribute__((section(s)))

#define barrier()    __asm__ __volatile__("" ::: "memory")
#define READ_ONCE(x)     __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)
/* The body of every wait loop, kernel and user: tells the core (and a TCG vCPU under
   -icount, which then lets the other vCPUs run) that this is a spin-wait. */
static inline void cpu_pause(void) { __asm__ __volatile__("pause" ::: "memory"); }
#define container_of(p, type, member) ((type *)((char *)(p) - __builtin_offsetof(type, member)))
