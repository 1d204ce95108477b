/*
 * Edge coverage of the KCOV=1 test build (include/kcov.h). This file itself is
 * compiled without instrumentation (mk/kcov.mk): the hook must not call itself.
 */
#include "kcov.h"
#include "syscall.h"
#include "uaccess.h"

#define KCOV_MAX_GUARDS 65536u      /* edges recorded; guards beyond stay 0 (not recorded) */

extern uint32_t __start___sancov_guards[], __stop___sancov_guards[];

static uint8_t edge_hit[KCOV_MAX_GUARDS];              /* 1: edge i+1 has run */
static uint8_t edge_bits[KCOV_MAX_GUARDS / 8];         /* packed copy for SYS_KCOV */
static uint64_t edges_total, edges_hit;

/* Number every guard 1..n (0 means "not recorded") and start recording; before this no edge is
 * recorded. */
void kcov_init(void)
{
    uint64_t n = (uint64_t)(__stop___sancov_guards - __start___sancov_guards);
    if (n > KCOV_MAX_GUARDS)
        n = KCOV_MAX_GUARDS;
    for (uint64_t i = 0; i < n; i++)
        __start___sancov_guards[i] = (uint32_t)(i + 1);
    __atomic_store_n(&edges_total, n, __ATOMIC_RELEASE);
}

/* Compiler hook, called on every instrumented edge: record its first execution. */
void __sanitizer_cov_trace_pc_guard(uint32_t *guard);
void __sanitizer_cov_trace_pc_guard(uint32_t *guard)
{
    uint32_t i = *guard;
    if (i == 0 || edge_hit[i - 1])
        return;
    if (__atomic_exchange_n(&edge_hit[i - 1], 1, __ATOMIC_RELAXED) == 0)
        __atomic_add_fetch(&edges_hit, 1, __ATOMIC_RELAXED);
}

/* Compiler hook for module constructors; the kernel runs none, kcov_init numbers the guards. */
void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop);
void __sanitizer_cov_trace_pc_guard_init(uint32_t *start, uint32_t *stop)
{
    (void)start;
    (void)stop;
}

/* SYS_KCOV(out, len): struct kcov_info, then the hit bitmap (bit i = guard i+1), cut at len.
 * E_ARG if len cannot hold the struct, E_RANGE if out is not writable user memory, else E_OK. */
int kcov_sys(mword out, mword len)
{
    struct kcov_info in = { __atomic_load_n(&edges_total, __ATOMIC_ACQUIRE),
                            __atomic_load_n(&edges_hit, __ATOMIC_RELAXED) };
    if (len < sizeof(in))
        return E_ARG;
    int err = copy_to_user(out, &in, sizeof(in));
    mword bytes = (in.edges + 7) / 8;
    if (err || len == sizeof(in))
        return err;
    if (len - sizeof(in) < bytes)
        bytes = len - sizeof(in);
    for (mword b = 0; b < bytes; b++) {
        uint8_t v = 0;
        for (unsigned k = 0; k < 8; k++)
            v |= (uint8_t)(__atomic_load_n(&edge_hit[b * 8 + k], __ATOMIC_RELAXED) << k);
        edge_bits[b] = v;
    }
    return copy_to_user(out + sizeof(in), edge_bits, bytes);
}
