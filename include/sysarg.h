/*
 * Pure argument checks of the system calls (kernel/sysarg.c): everything
 * docs/abi.md requires of an argument that does not need kernel state. The
 * kernel runs them in the documented order after looking up the capability
 * selectors, before it changes anything ("decode, then perform").
 * Every function returns E_OK or the status the ABI prescribes.
 */
#pragma once
#include "types.h"
#include "abi.h"
#include "syscall.h"

/* A decoded xfer word of delegate/revoke. */
struct xfer {
    unsigned kind;      /* enum space_kind */
    unsigned rights;    /* mask: delegate grants it, revoke removes it */
    uint64_t src, dst;  /* sysarg_delegate/revoke: bases in units of kind (pages for memory) */
    uint64_t count;     /* sysarg_delegate/revoke: the count (units) */
};

/* The arguments of delegate after the two PD selectors. */
struct delegate_args {
    mword xfer, src_base, dst_base, count;
};

/* The arguments of revoke after the PD selector. */
struct revoke_args {
    mword flags, xfer, base, count;
};

int sysarg_xfer(mword xfer, bool delegating, struct xfer *out);
int sysarg_dst_sel(mword sel);
int sysarg_user_buf(mword addr, mword len);
int sysarg_ec_start(mword entry_ip, mword stack_ptr);
int sysarg_ec_resume(mword flags, mword rip);
int sysarg_lookup(mword kind, mword addr);
int sysarg_delegate(const struct delegate_args *a, struct xfer *x);
int sysarg_revoke(const struct revoke_args *a, struct xfer *x);
