/*
 * Kernel-memory quotas (pure logic, host-tested): an account of pool frames per PD.
 * An account either owns a limit, taken from its parent account when it is made
 * (quota_give: the parent is charged the whole limit), or shares the limit of the
 * nearest ancestor that owns one (its payer). Charging n frames to an account
 * charges its payer within the payer's limit and counts them in the account too,
 * so `used` of an owning account is everything charged against its limit (its
 * sharing descendants' frames and the limits of its owning children included),
 * and `used` of a sharing account is what its own PD holds. Charges are atomic;
 * quota_return gives an emptied account's limit back to its parent.
 */
#pragma once
#include "types.h"

#define QUOTA_SHARED 0              /* quota_give's limit 0: share the parent's payer */

struct quota {
    uint64_t limit;                 /* frames charged at most (0: the payer's limit applies) */
    uint64_t used;                  /* frames charged to this account */
    struct quota *payer;            /* the account whose limit bounds charges: self or ancestor */
    struct quota *parent;           /* the account the limit came from (NULL: none) */
};

void quota_init_root(struct quota *q, uint64_t limit);
int  quota_give(struct quota *parent, struct quota *q, uint64_t limit);
int  quota_charge(struct quota *q, uint64_t n);
void quota_uncharge(struct quota *q, uint64_t n);
uint64_t quota_used(const struct quota *q);
void quota_return(struct quota *q);
uint64_t quota_room(const struct quota *q);
