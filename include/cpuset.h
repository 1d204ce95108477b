/*
 * Cpuset: a set of up to NUM_CPU cores (lecture: Space_mem::htlb, "CPUs using this
 * address space"). Many cores update one set at the same time: a core sets its bit
 * when it loads the address space (make_current), the shootdown loop tests bits
 * (htlb.chk) and a core clears its own bit after flushing (htlb.clr). Every single-bit
 * operation is therefore atomic; whole-set operations (count, union, iteration) are
 * atomic per 64-bit word only, which is what the shootdown needs: a bit set
 * concurrently may or may not be seen, a bit set before the call is seen.
 */
#pragma once
#include "types.h"
#include "panic.h"

#ifndef NUM_CPU
#define NUM_CPU 64
#endif

#define CPUSET_WORD_BITS 64                                    /* bits per word */
#define CPUSET_WORDS ((NUM_CPU + CPUSET_WORD_BITS - 1) / CPUSET_WORD_BITS)

struct cpuset {
    uint64_t word[CPUSET_WORDS];    /* bit (cpu % 64) of word[cpu / 64] */
};

/* The word that holds cpu's bit; panics if cpu is not below NUM_CPU. */
static inline uint64_t *cpuset_word(struct cpuset *s, unsigned cpu)
{
    ASSERT(cpu < NUM_CPU);
    return &s->word[cpu / CPUSET_WORD_BITS];
}

/* The mask of cpu's bit inside its word. */
static inline uint64_t cpuset_bit(unsigned cpu)
{
    return 1ULL << (cpu % CPUSET_WORD_BITS);
}

/* Empty the set (not atomic: only for a set nobody else uses yet). */
static inline void cpuset_init(struct cpuset *s)
{
    for (unsigned i = 0; i < CPUSET_WORDS; i++)
        s->word[i] = 0;
}

/* Atomically add cpu to the set. */
static inline void cpuset_set(struct cpuset *s, unsigned cpu)
{
    __atomic_fetch_or(cpuset_word(s, cpu), cpuset_bit(cpu), __ATOMIC_SEQ_CST);
}

/* Atomically remove cpu from the set. */
static inline void cpuset_clr(struct cpuset *s, unsigned cpu)
{
    __atomic_fetch_and(cpuset_word(s, cpu), ~cpuset_bit(cpu), __ATOMIC_SEQ_CST);
}

/* Whether cpu is in the set (lecture: htlb.chk). */
static inline bool cpuset_chk(struct cpuset *s, unsigned cpu)
{
    return __atomic_load_n(cpuset_word(s, cpu), __ATOMIC_SEQ_CST) & cpuset_bit(cpu);
}

/* Atomically remove cpu; returns whether it was in the set (exactly one racer wins). A clear
   bit is seen by a load (a point at which it was clear) and costs no locked instruction. */
static inline bool cpuset_tst_clr(struct cpuset *s, unsigned cpu)
{
    uint64_t *w = cpuset_word(s, cpu);
    if (!(__atomic_load_n(w, __ATOMIC_SEQ_CST) & cpuset_bit(cpu)))
        return false;
    return __atomic_fetch_and(w, ~cpuset_bit(cpu), __ATOMIC_SEQ_CST) & cpuset_bit(cpu);
}

/* Atomically add every member of src to dst (word by word). */
static inline void cpuset_union(struct cpuset *dst, struct cpuset *src)
{
    for (unsigned i = 0; i < CPUSET_WORDS; i++)
        __atomic_fetch_or(&dst->word[i], __atomic_load_n(&src->word[i], __ATOMIC_SEQ_CST),
                          __ATOMIC_SEQ_CST);
}

/* Set bits of w, without the library call __builtin_popcountll becomes without POPCNT (the
   freestanding kernel links no libgcc). */
static inline unsigned cpuset_bits(uint64_t w)
{
    w -= (w >> 1) & 0x5555555555555555ull;
    w = (w & 0x3333333333333333ull) + ((w >> 2) & 0x3333333333333333ull);
    w = (w + (w >> 4)) & 0x0F0F0F0F0F0F0F0Full;
    return (unsigned)((w * 0x0101010101010101ull) >> 56);
}

/* Number of members (each word read atomically). */
static inline unsigned cpuset_count(struct cpuset *s)
{
    unsigned n = 0;
    for (unsigned i = 0; i < CPUSET_WORDS; i++)
        n += cpuset_bits(__atomic_load_n(&s->word[i], __ATOMIC_SEQ_CST));
    return n;
}

/* The smallest member >= from, or NUM_CPU if there is none. */
static inline unsigned cpuset_next(struct cpuset *s, unsigned from)
{
    for (unsigned i = from / CPUSET_WORD_BITS; from < NUM_CPU; i++) {
        uint64_t w = __atomic_load_n(&s->word[i], __ATOMIC_SEQ_CST);
        w &= ~0ULL << (from % CPUSET_WORD_BITS);            /* drop bits below from */
        if (w) {
            unsigned cpu = i * CPUSET_WORD_BITS + (unsigned)__builtin_ctzll(w);
            return cpu < NUM_CPU ? cpu : NUM_CPU;
        }
        from = (i + 1) * CPUSET_WORD_BITS;
    }
    return NUM_CPU;
}

/* Iterate cpu over the members of s in increasing order. */
#define cpuset_for_each(cpu, s) \
    for ((cpu) = cpuset_next((s), 0); (cpu) < NUM_CPU; (cpu) = cpuset_next((s), (cpu) + 1))
