/* Kernel-memory quotas: charge, uncharge, give and return (see include/quota.h). */
#include "quota.h"
#include "abi.h"
#include "panic.h"
#include "syscall.h"

_Static_assert(QUOTA_SHARED == PD_QUOTA_SHARED, "create_pd's shared quota is the accounts' one");

/* An account that owns limit frames and was given by no one (the root PD's, a kernel test's). */
void quota_init_root(struct quota *q, uint64_t limit)
{
    *q = (struct quota){ .limit = limit, .used = 0, .payer = q, .parent = NULL };
}

/* Add n to *w if the sum stays within limit: E_OK, else E_NOMEM (nothing changed). */
static int add_within(uint64_t *w, uint64_t n, uint64_t limit)
{
    uint64_t old = __atomic_load_n(w, __ATOMIC_RELAXED);
    do {
        if (n > limit || old > limit - n)
            return E_NOMEM;
    } while (!__atomic_compare_exchange_n(w, &old, old + n, true, __ATOMIC_RELAXED,
                                          __ATOMIC_RELAXED));
    return E_OK;
}

/* Charge n frames to q: within its payer's limit, counted in q too; E_NOMEM (nothing charged)
 * if the payer's limit would be passed. */
int quota_charge(struct quota *q, uint64_t n)
{
    if (q->payer == q)
        return add_within(&q->used, n, q->limit);
    if (add_within(&q->payer->used, n, q->payer->limit))
        return E_NOMEM;
    __atomic_add_fetch(&q->used, n, __ATOMIC_RELAXED);
    return E_OK;
}

/* Give back n frames charged to q (to its payer too); panics below zero. */
void quota_uncharge(struct quota *q, uint64_t n)
{
    if (q->payer != q)
        ASSERT(__atomic_sub_fetch(&q->payer->used, n, __ATOMIC_RELAXED) + n >= n);
    ASSERT(__atomic_sub_fetch(&q->used, n, __ATOMIC_RELAXED) + n >= n);
}

/* Frames charged to q. */
uint64_t quota_used(const struct quota *q)
{
    return __atomic_load_n(&q->used, __ATOMIC_RELAXED);
}

/*
 * Make q a child account of parent: with limit > 0 it owns limit frames, charged to parent
 * as one charge (E_NOMEM, q untouched, if parent cannot pay them); with QUOTA_SHARED it
 * shares parent's payer (nothing charged). E_OK.
 */
int quota_give(struct quota *parent, struct quota *q, uint64_t limit)
{
    if (limit == QUOTA_SHARED) {
        *q = (struct quota){ .limit = 0, .used = 0, .payer = parent->payer, .parent = parent };
        return E_OK;
    }
    if (quota_charge(parent, limit))
        return E_NOMEM;
    *q = (struct quota){ .limit = limit, .used = 0, .payer = q, .parent = parent };
    return E_OK;
}

/* Give q's limit back to its parent (q must hold nothing any more); q then owns nothing. */
void quota_return(struct quota *q)
{
    ASSERT(quota_used(q) == 0);
    if (q->payer == q && q->parent)
        quota_uncharge(q->parent, q->limit);
    q->limit = 0;
    q->parent = NULL;
    q->payer = q;
}

/* Frames that can still be charged to q (its payer's limit minus what the payer has used). */
uint64_t quota_room(const struct quota *q)
{
    uint64_t used = quota_used(q->payer);
    return q->payer->limit > used ? q->payer->limit - used : 0;
}
