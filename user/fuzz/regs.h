/*
 * The fuzzer's register checks (docs/abi.md "Calling convention", "Register state"): every
 * fuzzed call runs through fzr_call, which loads a random state into every class of registers
 * the ABI lets user mode set (general registers, RFLAGS' user bits, DS/ES/FS/GS, x87, MMX,
 * SSE, AVX, AVX-512), executes `syscall` and stores them all again; fzr_check then demands
 * that the kernel kept what the ABI says it keeps, exactly, and that no register holds a
 * value of another EC (every EC's random values carry its owner tag).
 */
#pragma once
#include "../tests/xregs.h"

/* Owner tags: a general register value tagged by owner o has OWNER_TAG in its top byte and o + 1
   below; so do the first two bytes of every 16-byte lane of the x87/SSE/AVX registers. */
#define OWNER_TAG       0xF7u
#define GPR_TAG(o)      ((uint64_t)OWNER_TAG << 56 | (uint64_t)((o) + 1) << 48)
#define GPR_TAG_MASK    0xFFFF000000000000UL

/* RFLAGS bits user mode may set with popf and the ABI keeps over a call (arithmetic flags: the
   kernel may change them). TF is not among them: it stops the EC (docs/abi.md "Faults"). */
#define RFL_USER_KEPT   (RFLAGS_DF | RFLAGS_NT | RFLAGS_AC | RFLAGS_ID)
#define RFL_ARITH       (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

#define FSW_ES          0x0080      /* x87 status: exception summary */
#define FSW_B           0x8000      /* x87 status: busy (a copy of ES on every CPU since the 487) */

/* General registers in fzr_call's order. */
enum { G_RAX, G_RBX, G_RCX, G_RDX, G_RSI, G_RDI, G_RBP, G_RSP, G_R8, G_R9, G_R10, G_R11, G_R12,
       G_R13, G_R14, G_R15, G_COUNT };

/* One EC's register round: what fzr_call loads (in, gin, fin) and what it found after the call
   (out, gout, fout). gin[G_RSP] is set by fzr_call (the stack pointer at the syscall). */
struct fzr {
    struct xstate in, out;
    uint64_t gin[G_COUNT], gout[G_COUNT];
    uint64_t fin, fout;
};
#define FZR_OUT   4160
#define FZR_GIN   8320
#define FZR_GOUT  8448
#define FZR_FIN   8576
#define FZR_FOUT  8584
_Static_assert(sizeof(struct xstate) == FZR_OUT && __builtin_offsetof(struct fzr, out) == FZR_OUT &&
                   __builtin_offsetof(struct fzr, gin) == FZR_GIN &&
                   __builtin_offsetof(struct fzr, gout) == FZR_GOUT &&
                   __builtin_offsetof(struct fzr, fin) == FZR_FIN &&
                   __builtin_offsetof(struct fzr, fout) == FZR_FOUT,
               "fzr_call offsets");

/* Load r's input state, syscall, store the state found after it into r (regs.c's assembly);
   returns with the ABI's state for compiled code (FNINIT, MXCSR reset, null data selectors,
   RFLAGS 0x202). */
void fzr_call(struct fzr *r);

/* Walk the 16-byte lanes of s that hold registers: ST/MM, XMM, and the XSAVE components 2..
   that XCR0 enables and s records as not initial (AVX-512 opmasks: lanes of two registers). */
static inline bool fzr_lane_next(const struct xstate *s, unsigned *c, unsigned *off, unsigned *end)
{
    for (;;) {
        if (*off + 16 <= *end)
            return true;
        ++*c;
        if (*c == 1)
            *off = XI_ST, *end = XI_XMM_END;
        else if (*c < XI_COMPONENTS && xinfo.xsave) {
            if (!(xinfo.xcr0 & *(const uint64_t *)&s->img[XI_XSTATE_BV] & (1ul << *c)) ||
                xinfo.size[*c] < 16)
                continue;
            *off = xinfo.off[*c], *end = xinfo.off[*c] + xinfo.size[*c];
        } else
            return false;
    }
}
#define FOR_LANES(s, off) \
    for (unsigned c_ = 0, off = 0, e_ = 0; fzr_lane_next((s), &c_, &off, &e_); off += 16)

/* Next value of the pseudo-random stream *s (splitmix64). */
static inline uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15UL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
    return z ^ (z >> 31);
}

/* Owner o's random values from stream *rng in every x87/SSE/AVX register of s, with valid
   control words (MXCSR within mxcsr_mask). */
static inline void fzr_image_fill(struct xstate *s, unsigned o, uint64_t *rng, uint32_t mxcsr_mask)
{
    memset(s->img, 0, XI_XSTATE_BV + 64);          /* legacy region and XSAVE header */
    /* Components 2.. in the header's XSTATE_BV get random lanes (FOR_LANES walks those), the
       others zeros; then XSTATE_BV names every component, so that XRSTOR loads each (a CPU may
       then save a zero component as in use or not: xstate_same takes both). */
    if (xinfo.xsave) {
        uint64_t random = xinfo.xcr0 & (splitmix(rng) | 3);
        *(uint64_t *)&s->img[XI_XSTATE_BV] = random;
        for (unsigned c = 2; c < XI_COMPONENTS; c++)
            if (xinfo.xcr0 & ~random & (1ul << c))
                memset(&s->img[xinfo.off[c]], 0, xinfo.size[c]);
    }
    FOR_LANES(s, off) {
        uint64_t a = splitmix(rng), b = splitmix(rng);
        memcpy(&s->img[off], &a, 8);
        memcpy(&s->img[off + 8], &b, 8);
        s->img[off] = OWNER_TAG;
        s->img[off + 1] = (uint8_t)(o + 1);
    }
    if (xinfo.xsave)
        *(uint64_t *)&s->img[XI_XSTATE_BV] = xinfo.xcr0;
    for (unsigned i = 0; i < 8; i++)        /* ST slots: only 10 of 16 bytes are registers */
        memset(&s->img[XI_ST + 16 * i + 10], 0, 6);
    uint64_t r = splitmix(rng);
    /* FCW: any masks, precision, rounding (an unmasked exception pending in FSW is fine until an
       x87 instruction waits: the kernel must not). */
    *(uint16_t *)&s->img[XI_FCW] = (uint16_t)(0x0040 | (r & 0x0F3F));
    uint16_t fsw = (uint16_t)(r >> 16) & ~FSW_B;
    *(uint16_t *)&s->img[XI_FSW] = fsw & FSW_ES ? fsw | FSW_B : fsw;     /* B mirrors ES */
    s->img[XI_FTW] = (uint8_t)(r >> 32);
    *(uint32_t *)&s->img[XI_MXCSR] = (uint32_t)(r >> 40) & 0xFFFF & mxcsr_mask;
}

/* True if the n bytes (a multiple of 8) at a and b are equal (the library's memcmp goes byte by
   byte: too slow for every call under TCG). */
static inline bool same_words(const uint8_t *a, const uint8_t *b, unsigned n)
{
    uint64_t d = 0;
    for (unsigned i = 0; i < n; i += 8)
        d |= *(const uint64_t *)&a[i] ^ *(const uint64_t *)&b[i];
    return d == 0;
}

/* True if a and b (an image loaded, the image stored after the call) hold the same registers
   and selectors where both record them: xstate_same's answer without its byte loop in the
   common case (false: ask xstate_same). */
static inline bool fzr_quick_same(const struct xstate *a, const struct xstate *b)
{
    if (*(const uint32_t *)a->img != *(const uint32_t *)b->img ||      /* FCW, FSW */
        a->img[XI_FTW] != b->img[XI_FTW] ||
        *(const uint32_t *)&a->img[XI_MXCSR] != *(const uint32_t *)&b->img[XI_MXCSR] ||
        !same_words(&a->img[XI_ST], &b->img[XI_ST], XI_XMM_END - XI_ST) ||
        a->ds != b->ds || a->es != b->es || a->fs != b->fs || a->gs != b->gs)
        return false;
    uint64_t bv_a = *(const uint64_t *)&a->img[XI_XSTATE_BV];
    uint64_t bv_b = *(const uint64_t *)&b->img[XI_XSTATE_BV];
    for (unsigned c = 2; xinfo.xsave && c < XI_COMPONENTS; c++) {
        uint64_t m = 1ul << c;
        if (!(xinfo.xcr0 & m) || !((bv_a | bv_b) & m))
            continue;                   /* not enabled, or initial in both */
        if (!(bv_a & bv_b & m) ||
            !same_words(&a->img[xinfo.off[c]], &b->img[xinfo.off[c]], xinfo.size[c] & ~7u))
            return false;
    }
    return true;
}

/* True if v is a general register value tagged by an owner other than o. */
static inline bool gpr_foreign(uint64_t v, unsigned o)
{
    unsigned t = (unsigned)(v >> 48);
    return t >> 8 == OWNER_TAG && (t & 0xFF) != 0 && (t & 0xFF) != o + 1;
}

/* The owner (+1) of the first lane of s that carries another owner's tag than o; 0 if none. */
static inline unsigned image_foreign(const struct xstate *s, unsigned o)
{
    FOR_LANES(s, off) {
        if (s->img[off] == OWNER_TAG && s->img[off + 1] != 0 && s->img[off + 1] != o + 1)
            return s->img[off + 1];
    }
    return 0;
}
