/*
 * Pure argument checks of the system calls, in the order docs/abi.md lists
 * them. No kernel state: capability lookups, occupancy and memory come after.
 */
#include "sysarg.h"

/* Number of units in space kind (pages of user space, ports, selectors). */
static mword space_units(unsigned kind)
{
    switch (kind) {
    case SPACE_MEM: return USER_LIMIT / PAGE_SIZE_USER;
    case SPACE_PIO: return PIO_PORTS;
    default:        return SEL_COUNT;
    }
}

/* Valid rights bits of a mask for space kind. */
static unsigned kind_rights(unsigned kind)
{
    switch (kind) {
    case SPACE_MEM: return MEM_ALL;
    case SPACE_PIO: return PIO_A;
    default:        return OBJ_R_ALL;
    }
}

/* Decode xfer for delegate (memory masks must include MEM_R) or revoke: E_OK or E_ARG. */
int sysarg_xfer(mword xfer, bool delegating, struct xfer *out)
{
    unsigned kind = XFER_KIND(xfer), rights = XFER_RIGHTS(xfer);

    if (!XFER_VALID(xfer) || kind > SPACE_PIO)
        return E_ARG;
    if (rights == 0 || (rights & ~kind_rights(kind)) != 0)
        return E_ARG;
    /* x86 has no mapping without read access: a delegated page always carries MEM_R. */
    if (delegating && kind == SPACE_MEM && !(rights & MEM_R))
        return E_ARG;
    *out = (struct xfer){ kind, rights, 0, 0, 0 };
    return E_OK;
}

/* Check a destination selector for a new capability: E_ARG (0), E_FULL (>= SEL_COUNT) or E_OK. */
int sysarg_dst_sel(mword sel)
{
    if (sel == SEL_NULL)
        return E_ARG;
    return sel < SEL_COUNT ? E_OK : E_FULL;
}

/* Check that [addr, addr+len) lies inside user space without wrapping: E_RANGE or E_OK. */
int sysarg_user_buf(mword addr, mword len)
{
    if (addr > USER_LIMIT || len > USER_LIMIT - addr)
        return E_RANGE;
    return E_OK;
}

/* Check create_ec's entry_ip and stack_ptr: E_RANGE or E_OK. */
int sysarg_ec_start(mword entry_ip, mword stack_ptr)
{
    return entry_ip < USER_LIMIT && stack_ptr <= USER_LIMIT ? E_OK : E_RANGE;
}

/* Check ec_resume's flags and, with EC_RESUME_RIP, its rip: E_ARG, E_RANGE or E_OK. */
int sysarg_ec_resume(mword flags, mword rip)
{
    if (flags & ~(mword)EC_RESUME_ALL)
        return E_ARG;
    return !(flags & EC_RESUME_RIP) || rip < USER_LIMIT ? E_OK : E_RANGE;
}

/* Check lookup's kind and addr: E_ARG (kind), E_RANGE (addr) or E_OK. */
int sysarg_lookup(mword kind, mword addr)
{
    if (kind > SPACE_PIO)
        return E_ARG;
    mword limit = kind == SPACE_MEM ? USER_LIMIT : space_units((unsigned)kind);
    return addr < limit ? E_OK : E_RANGE;
}

/* Base in units of space kind: pages for memory (base aligned), else base itself. */
static uint64_t to_units(unsigned kind, mword base)
{
    return kind == SPACE_MEM ? base / PAGE_SIZE_USER : base;
}

/* Check that [base, base+count) units fit space kind: E_ALIGN (memory base), E_RANGE or E_OK. */
static int check_range(unsigned kind, mword base, mword count)
{
    if (kind == SPACE_MEM && !IS_ALIGNED(base, PAGE_SIZE_USER))
        return E_ALIGN;
    base = to_units(kind, base);    /* like count */
    mword units = space_units(kind);
    return base <= units && count <= units - base ? E_OK : E_RANGE;
}

/* Check an object-space destination range: E_ARG (includes selector 0), E_FULL or E_OK. */
static int check_obj_dst(mword base, mword count)
{
    if (base == SEL_NULL)
        return E_ARG;
    return base < SEL_COUNT && count <= SEL_COUNT - base ? E_OK : E_FULL;
}

/* Check delegate's xfer, count, alignment and both ranges in ABI order; fill x (bases in
   units) on E_OK. */
int sysarg_delegate(const struct delegate_args *a, struct xfer *x)
{
    struct xfer d;
    int st = sysarg_xfer(a->xfer, true, &d);

    if (st != E_OK)
        return st;
    if (a->count == 0)
        return E_ARG;
    if (d.kind == SPACE_MEM &&
        (!IS_ALIGNED(a->src_base, PAGE_SIZE_USER) || !IS_ALIGNED(a->dst_base, PAGE_SIZE_USER)))
        return E_ALIGN;
    if ((st = check_range(d.kind, a->src_base, a->count)) != E_OK)
        return st;
    if (d.kind == SPACE_OBJ)
        st = check_obj_dst(a->dst_base, a->count);
    else
        st = check_range(d.kind, a->dst_base, a->count);
    if (st != E_OK)
        return st;
    d.src = to_units(d.kind, a->src_base);
    d.dst = to_units(d.kind, a->dst_base);
    d.count = a->count;
    *x = d;
    return E_OK;
}

/* Check revoke's flags, xfer, count, alignment and range in ABI order; fill x (x->src: the
   base in units) on E_OK. */
int sysarg_revoke(const struct revoke_args *a, struct xfer *x)
{
    struct xfer d;
    int st;

    if ((a->flags & ~(mword)REVOKE_SELF) != 0)
        return E_ARG;
    if ((st = sysarg_xfer(a->xfer, false, &d)) != E_OK)
        return st;
    if (a->count == 0)
        return E_ARG;
    if ((st = check_range(d.kind, a->base, a->count)) != E_OK)
        return st;
    d.src = to_units(d.kind, a->base);
    d.count = a->count;
    *x = d;
    return E_OK;
}
