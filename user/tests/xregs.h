/*
 * User-mode view of the register state the kernel keeps per EC (docs/abi.md "Register state"):
 * x87/MMX/SSE/AVX(-512) through XSAVE/XRSTOR (FXSAVE/FXRSTOR on CPUs without OSXSAVE), the
 * data segment selectors, and the fixed FS/GS bases. Images use the standard (non-compacted)
 * XSAVE layout of CPUID leaf 0xD.
 */
#pragma once
#include "utest.h"

#define XI_SIZE        4096u        /* image buffer (XSAVE with AVX-512 needs 2696 bytes) */
#define XI_FCW         0            /* legacy region: x87 control word (16 bits) */
#define XI_FSW         2            /* x87 status word */
#define XI_FTW         4            /* abridged tag word (8 bits, 1 = valid) */
#define XI_FOP         6            /* last x87 opcode */
#define XI_FIP         8            /* last x87 instruction pointer (64 bits) */
#define XI_FDP         16           /* last x87 operand pointer */
#define XI_MXCSR       24
#define XI_ST          32           /* ST0..7 / MM0..7: 16-byte slots, 10 bytes used */
#define XI_XMM         160          /* XMM0..15, 16 bytes each */
#define XI_XMM_END     416
#define XI_XSTATE_BV   512          /* XSAVE header: components not in their initial state */
#define XI_COMPONENTS  8            /* components 0..7: x87, SSE, AVX, MPX (2), AVX-512 (3) */
#define FCW_RESET      0x037F
#define MXCSR_RESET    0x1F80
#define CPUID1_ECX_OSXSAVE (1u << 27)   /* CR4.OSXSAVE as seen from user mode */

/* RFLAGS bits (user mode sets them with popf; IOPL, IF, VM, VIF, VIP it cannot). */
#define RFLAGS_CF      0x1UL
#define RFLAGS_PF      0x4UL
#define RFLAGS_AF      0x10UL
#define RFLAGS_ZF      0x40UL
#define RFLAGS_SF      0x80UL
#define RFLAGS_TF      0x100UL
#define RFLAGS_DF      0x400UL
#define RFLAGS_OF      0x800UL
#define RFLAGS_NT      0x4000UL
#define RFLAGS_AC      0x40000UL
#define RFLAGS_ID      0x200000UL

/* A register state: the image plus the data selectors (xr_round's layout). */
struct xstate {
    uint8_t img[XI_SIZE] aligned(64);
    uint16_t ds, es, fs, gs;        /* at offset XI_SIZE */
    uint8_t pad[56];
};
_Static_assert(__builtin_offsetof(struct xstate, ds) == 4096, "xr_round offsets");

/* Assembly text: load the struct xstate at %rbx into the x87/SSE/AVX registers and ds, es, fs,
   gs (clobbers rax, rdx; uses the local labels 1 and 2). */
#define XR_LOAD_ASM \
    "    cmpb $0, xr_use_xsave(%rip); je 1f\n" \
    "    mov $-1, %eax; mov $-1, %edx; xrstor64 (%rbx); jmp 2f\n" \
    "1:  fxrstor64 (%rbx)\n" \
    "2:  mov 4096(%rbx), %ax; mov %ax, %ds\n" \
    "    mov 4098(%rbx), %ax; mov %ax, %es\n" \
    "    mov 4100(%rbx), %ax; mov %ax, %fs\n" \
    "    mov 4102(%rbx), %ax; mov %ax, %gs\n"

/* CPU facts user mode can learn: XSAVE enabled, XCR0, component offsets and sizes. */
struct xinfo {
    bool xsave;
    uint64_t xcr0;
    uint32_t off[XI_COMPONENTS], size[XI_COMPONENTS];
};
extern struct xinfo xinfo;
extern uint8_t xr_use_xsave;        /* read by xr_round: 1 = XSAVE/XRSTOR, 0 = FXSAVE/FXRSTOR */

static inline void xr_cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4])
{
    __asm__ __volatile__("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
                         : "a"(leaf), "c"(sub));
}

/* Fill xinfo from CPUID and XGETBV (user mode). */
static inline void xinfo_detect(void)
{
    uint32_t r[4];
    xr_cpuid(1, 0, r);
    xinfo.xsave = r[2] & CPUID1_ECX_OSXSAVE;
    if (xinfo.xsave) {
        uint32_t lo, hi;
        __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
        xinfo.xcr0 = (uint64_t)hi << 32 | lo;
        for (unsigned i = 2; i < XI_COMPONENTS; i++)
            if (xinfo.xcr0 & (1ul << i)) {
                xr_cpuid(0xD, i, r);
                xinfo.size[i] = r[0];
                xinfo.off[i] = r[1];
            }
    }
    xr_use_xsave = xinfo.xsave;
}

/*
 * xr_round(in, out, mode, arg) (xregs.c, assembly): load every register class from *in
 * (XRSTOR/FXRSTOR, then the selectors), then by mode:
 *   XR_SYSCALL  system call arg[0] with arguments arg[1..3] (XR_FILD: an fild first, which sets
 *               the x87 instruction and operand pointers to user addresses)
 *   XR_SPIN     increment arg[0] until arg[1] changed (another EC of this core ran: preemption)
 * then store every register class into *out (NULL: none). No compiled code runs in between.
 */
#define XR_SYSCALL 0
#define XR_SPIN    1
#define XR_FILD    2
void xr_round(const struct xstate *in, struct xstate *out, mword mode, volatile mword *arg);

/* A distinctive valid state number k (k >= 1): every byte differs from the reset state. */
static inline void xstate_pattern(struct xstate *s, unsigned k)
{
    memset(s, 0, sizeof(*s));
    for (unsigned i = XI_ST; i < XI_XMM_END; i++)
        s->img[i] = (uint8_t)(k * 37 + i * 11 + 1);
    for (unsigned i = 0; i < 8; i++)            /* ST slots: only 10 of 16 bytes are registers */
        memset(&s->img[XI_ST + 16 * i + 10], 0, 6);
    *(uint16_t *)&s->img[XI_FCW] = (uint16_t)(0x027F | (k & 3) << 10);  /* precision, rounding */
    *(uint16_t *)&s->img[XI_FSW] = (uint16_t)((k & 7) << 11);           /* stack top */
    s->img[XI_FTW] = 0xFF;                                              /* all 8 valid */
    *(uint32_t *)&s->img[XI_MXCSR] = MXCSR_RESET | 0x8000 | (k & 3) << 13;  /* FZ, rounding */
    if (xinfo.xsave) {
        *(uint64_t *)&s->img[XI_XSTATE_BV] = xinfo.xcr0;
        for (unsigned c = 2; c < XI_COMPONENTS; c++)
            for (unsigned i = 0; i < xinfo.size[c]; i++)
                s->img[xinfo.off[c] + i] = (uint8_t)(k * 53 + i * 7 + c);
    }
    s->ds = (uint16_t)(0x18 | (k & 3));         /* user data or user code (readable), any RPL */
    s->es = (uint16_t)(0x20 | ((k + 1) & 3));
    s->fs = (uint16_t)(0x18 | ((k + 2) & 3));
    s->gs = (uint16_t)(0x20 | ((k + 3) & 3));
}

/* First difference between the register contents of a and b ("" if none) into why. */
static inline bool xstate_same(const struct xstate *a, const struct xstate *b, char *why, size_t n)
{
    static const struct { unsigned off, len; const char *name; } f[] = {
        { XI_FCW, 2, "FCW" }, { XI_FSW, 2, "FSW" }, { XI_FTW, 1, "FTW" }, { XI_MXCSR, 4, "MXCSR" },
    };
    for (unsigned i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (memcmp(&a->img[f[i].off], &b->img[f[i].off], f[i].len))
            return snprintf(why, n, "%s", f[i].name), false;
    for (unsigned r = 0; r < 8; r++)
        if (memcmp(&a->img[XI_ST + 16 * r], &b->img[XI_ST + 16 * r], 10))
            return snprintf(why, n, "ST%u/MM%u", r, r), false;
    for (unsigned r = 0; r < 16; r++)
        if (memcmp(&a->img[XI_XMM + 16 * r], &b->img[XI_XMM + 16 * r], 16))
            return snprintf(why, n, "XMM%u", r), false;
    for (unsigned c = 2; xinfo.xsave && c < XI_COMPONENTS; c++) {
        if (!(xinfo.xcr0 & (1ul << c)))
            continue;
        /* A component in its initial state may be recorded as such (XSTATE_BV clear) unwritten. */
        bool ia = !(*(const uint64_t *)&a->img[XI_XSTATE_BV] & (1ul << c));
        bool ib = !(*(const uint64_t *)&b->img[XI_XSTATE_BV] & (1ul << c));
        for (unsigned i = 0; i < xinfo.size[c]; i++) {
            uint8_t va = ia ? 0 : a->img[xinfo.off[c] + i], vb = ib ? 0 : b->img[xinfo.off[c] + i];
            if (va != vb)
                return snprintf(why, n, "XSAVE component %u byte %u", c, i), false;
        }
    }
    if (a->ds != b->ds || a->es != b->es || a->fs != b->fs || a->gs != b->gs)
        return snprintf(why, n, "selectors %x %x %x %x vs %x %x %x %x", a->ds, a->es, a->fs, a->gs,
                        b->ds, b->es, b->fs, b->gs), false;
    return snprintf(why, n, "%s", ""), true;
}

/* The reset state as xstate_same compares it: FNINIT, MXCSR 0x1F80, zeros, null selectors. */
static inline void xstate_reset(struct xstate *s)
{
    memset(s, 0, sizeof(*s));
    *(uint16_t *)&s->img[XI_FCW] = FCW_RESET;
    *(uint32_t *)&s->img[XI_MXCSR] = MXCSR_RESET;
}
