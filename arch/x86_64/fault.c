/*
 * Exceptions (lecture: the page-fault handler of "Syncing Page Tables").
 *
 * Page fault, by address:
 *   I/O-bitmap region          -> Space_pio::page_fault (CPU reading the bitmap)
 *   capability region          -> Space_obj::page_fault (kernel reading a slot)
 *   user address (< USER_ADDR) -> loc[cpu].sync_from(hpt); else a stale TLB entry
 *                                 (hpt allows the access: flush it and retry); else a
 *                                 page hpt dropped but the mdb holds (map it again);
 *                                 else (or when the same fault follows such a flush or
 *                                 restore with no rights lost meanwhile) the copy-user
 *                                 fixup (kernel) or the program's fault
 *   anything else in the kernel -> panic with a dump (trap.c)
 * Any other exception from user mode stops the faulting EC with a fault record.
 */
#include "trap.h"
#include "cpu.h"
#include "cpu_local.h"
#include "ec.h"
#include "paging.h"
#include "pd.h"
#include "sched.h"
#include "tmap.h"

extern const char uaccess_insn[], uaccess_fixup[];

/* MEM_* right a #PF with error code err needed. */
static unsigned pf_access(uint64_t err)
{
    return (err & PFERR_I) ? FAULT_X : (err & PFERR_W) ? FAULT_W : FAULT_R;
}

/*
 * The master lost a page the mapping database still gives pd (a revoke dropped a whole
 * large page for lack of memory, space_mem.c: hpt_drop): map it again; true if done.
 * A copy-user access may run under pd_lock already (lookup, ec_status and pd_info
 * copy their result while holding it; the lock records no owner), so it only tries
 * the lock once: if it is busy the copy fails with E_RANGE as for a page not held.
 */
static bool user_restore(struct pd *pd, vaddr_t addr, unsigned need, bool uaccess)
{
    if (!uaccess)
        pd_lock_take();                 /* from user mode: this core holds no lock */
    else if (!pd_lock_try())
        return false;
    bool ok = space_mem_restore(&call_batch, &pd->mem, addr, need);
    pd_lock_give();
    return ok;
}

/*
 * Whether ec's fault f at addr repeats the one the handler last resolved by a flush or a
 * restore (same address, error code and rip) while pd lost no rights: that retry did not
 * help, so this one will not either (e.g. a user-mode iretq whose frame the CPU reads with
 * supervisor accesses, which SMAP refuses however often the TLB is flushed). Records f.
 */
static bool fault_repeats(struct ec *ec, struct pd *pd, const struct trap_frame *f, vaddr_t addr)
{
    struct fault_fix now = {
        .addr = addr, .rip = f->rip, .error = f->error,
        .reductions = __atomic_load_n(&pd->mem.reductions, __ATOMIC_ACQUIRE),
    };
    struct fault_fix *last = &ec->last_fix;
    bool same = last->addr == now.addr && last->rip == now.rip && last->error == now.error &&
                last->reductions == now.reductions;
    *last = now;
    return same;
}

/* User address fault f at addr in the current PD: true if resolved (sync, stale TLB entry,
 * restore); false for a fault that the last flush or restore of this EC did not cure. */
static bool user_fault(struct pd *pd, const struct trap_frame *f, vaddr_t addr, bool uaccess)
{
    struct ec *ec = this_cpu()->ec;
    unsigned need = pf_access(f->error) | MEM_R;
    if (!pd)
        return false;
    if (uaccess && space_mem_sync(&pd->mem, addr))
        return true;                    /* progress (from user mode, fault_user_sync tried) */
    if (ec && fault_repeats(ec, pd, f, addr))
        return false;
    /* Already synced: the master may allow more than a stale TLB entry said. */
    if (space_mem_allows(&pd->mem, addr, need)) {
        this_cpu()->counters.invlpgs++;
        invlpg(addr);
        return true;
    }
    /* The master may hold less than the mapping database (never more). */
    if (!user_restore(pd, addr, need, uaccess))
        return false;
    space_mem_sync(&pd->mem, addr);     /* a top-level entry the restore added, if any */
    return true;
}

/* A page fault f from user mode (counted here): true if syncing loc[cpu] resolved it (the first
   touch of a top-level slot on this core, tried before anything else). */
bool fault_user_sync(const struct trap_frame *f)
{
    struct cpu_local *c = this_cpu();
    vaddr_t addr = read_cr2();
    c->counters.page_faults++;
    space_mem_count_begin();
    if (!c->pd || addr >= USER_ADDR || (f->error & PFERR_RSVD))
        return false;
    return space_mem_sync(&c->pd->mem, addr);
}

/* Stop the current EC with a record of the fault in f; never returns. */
static noreturn void stop_ec(struct trap_frame *f, vaddr_t addr)
{
    struct ec *ec = this_cpu()->ec;
    sched_save(f);
    ec->fault = (struct fault_record){
        .addr = f->vector == VEC_PF ? addr : 0,
        .rip = f->rip,
        .error = f->error,
        .vector = (uint8_t)f->vector,
        .access = f->vector == VEC_PF ? (uint8_t)pf_access(f->error) : 0,
        .user = f->vector == VEC_PF ? !!(f->error & PFERR_U) : 1,
    };
    ec_stop(ec, EC_FAULTED);
}

/* Handle exception f (fault_handle without the window's nesting). */
static bool fault_dispatch(struct trap_frame *f)
{
    struct cpu_local *c = this_cpu();
    bool from_user = (f->cs & CS_RPL_MASK) != 0;

    if (f->vector == VEC_PF) {
        vaddr_t addr = read_cr2();
        if (!from_user)
            c->counters.page_faults++;  /* from user mode, fault_user_sync counted it */
        /* Kernel regions by the error code (a user in/out reads the bitmap as supervisor). */
        bool kernel_access = !(f->error & PFERR_U);
        if (kernel_access && addr >= PIO_FAULT_FIRST && addr <= PIO_FAULT_LAST &&
            space_pio_page_fault(addr, f->error))
            return true;
        if (kernel_access && addr >= PD_CAPS && space_obj_page_fault(addr, f->error))
            return true;
        /* User addresses: user accesses and the copy-user instruction only (SMAP faults of any
           other kernel access must not be retried as stale entries: they would loop). */
        bool uaccess = !from_user && f->rip == (vaddr_t)uaccess_insn;
        if (addr < USER_ADDR && (from_user || uaccess) && !(f->error & PFERR_RSVD) &&
            user_fault(c->pd, f, addr, uaccess))
            return true;
        if (uaccess) {
            f->rip = (vaddr_t)uaccess_fixup;     /* copy_*_user returns E_RANGE */
            return true;
        }
        if (from_user && c->ec)
            stop_ec(f, addr);
        return false;
    }
    if (from_user && c->ec)
        stop_ec(f, 0);
    return false;
}

/* Handle exception f if it is resolvable or a user fault; false: a kernel bug (panic). A fault
   in kernel mode runs on the temporal window's next depth: the path it interrupted may hold
   window pointers (a copy-user fault syncs and restores tables through the window too). */
bool fault_handle(struct trap_frame *f)
{
    if (f->cs & CS_RPL_MASK)
        return fault_dispatch(f);
    unsigned depth = tmap_enter();
    bool ok = fault_dispatch(f);
    tmap_leave(depth);
    return ok;
}
