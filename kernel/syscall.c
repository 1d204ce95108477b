/*
 * System calls (docs/abi.md). Each call is split as seL4 splits an invocation:
 *
 *   decode_x  runs every check of the call, in the order docs/abi.md lists its errors, then
 *             every reservation the call needs (new objects, mapping-database nodes, frames
 *             for capability slots, I/O bitmaps, page tables and per-core roots), and fills
 *             the call's invocation record. It changes nothing a caller can see: on an error
 *             it gives back what it reserved and returns the status.
 *   perform_x applies the record in a few lines and cannot fail: everything it takes was
 *             reserved by decode. It may return a value (delegate: the items delegated).
 *
 * sys_x runs the two; a call that answers with a structure copies it out after perform (the
 * copy writes only the caller's memory; its E_RANGE is the call's status). Revoke's perform
 * runs in bounded steps and returns the documented progress (E_NOMEM keeps what is done).
 * yield and exit have nothing to decode. pd_lock serialises object creation, capability
 * writes and the mapping database, so what decode checked and reserved holds in perform.
 */
#include "syscall.h"
#include "paging.h"
#include "ec.h"
#include "pd.h"
#include "sched.h"
#include "sysarg.h"
#include "tlb.h"
#include "uaccess.h"
#include "arch.h"
#include "frame.h"
#include "kmalloc.h"
#include "printk.h"
#include "kcov.h"
#include "inspect.h"
#include "pcid.h"
#include "device.h"
#include "vcpu.h"

#define REVOKE_UNITS    512     /* units per revoke step at most: one 2 MiB of 4 KiB pages */
#define REVOKE_WORK     64      /* mapping nodes a revoke step visits, about */
#define CONSOLE_CHUNK   64      /* console bytes written with interrupts off, at most */
#define DELEGATE_PIECES MDB_DELEGATE_PIECES /* source pieces (nodes or holes) one call takes */
#define DELEGATE_ENTRIES 1024   /* most page-table leaf entries one memory delegate call writes */

static char console_buf[NUM_CPU][CONSOLE_MAX];
static struct spinlock console_user_lock = SPINLOCK_INIT;   /* one console_write at a time */
struct shootdown_batch call_batch;          /* what a mapping-database call leaves to shoot down
                                               and free (pd_lock; flushed before it is dropped) */

/* The calling EC and its PD. */
static struct ec *cur_ec(void) { return this_cpu()->ec; }
static struct pd *cur_pd(void) { return this_cpu()->ec->pd; }

/* create_pd's invocation: the new PD and its capability, reserved at sel of self. */
struct create_pd_inv {
    struct pd *self, *pd;
    mword sel;
    struct mdb_root cap;
};

/* Decode create_pd(dst_sel, parent_pd_sel, quota): the parent's capability, dst_sel, then
   memory: the slot's node and page charged to the caller, the quota to the parent. */
static int decode_create_pd(struct trap_frame *f, struct create_pd_inv *inv)
{
    struct pd *parent;
    *inv = (struct create_pd_inv){ .self = cur_pd(), .sel = f->rdi };
    int err = pd_cap(inv->self, f->rsi, CAP_PD, PD_R_CREATE, (void **)&parent);
    if (err || (err = pd_dst_sel(inv->self, inv->sel)))
        return err;
    if ((err = space_obj_insert_decode(&kernel_mdb, &inv->self->obj, inv->sel, &inv->cap)))
        return err;
    if (!(inv->pd = pd_create(parent, f->rdx))) {
        space_obj_insert_cancel(&kernel_mdb, &inv->self->obj, &inv->cap);
        return E_NOMEM;
    }
    return E_OK;
}

/* Perform create_pd: the new PD's capability at dst_sel. */
static void perform_create_pd(struct create_pd_inv *inv)
{
    struct capability c = cap_make(inv->pd, CAP_PD, PD_R_ALL);
    pd_adopt(inv->pd, inv->self, inv->sel);
    space_obj_insert_perform(&inv->cap, &inv->self->obj, inv->sel, c);
}

/* create_pd(dst_sel, parent_pd_sel, quota) */
static int sys_create_pd(struct trap_frame *f)
{
    struct create_pd_inv inv;
    int err = decode_create_pd(f, &inv);
    if (err == E_OK)
        perform_create_pd(&inv);
    return err;
}

/* create_ec's invocation: the EC's memory and start, its PD's root for cpu if it lacks one,
   and its capability, reserved at sel of self. */
struct create_ec_inv {
    struct pd *self, *pd;
    mword sel, ip, sp, arg;
    unsigned cpu;
    bool new_root;                      /* root is pd's root for cpu, built and not installed */
    struct ptab root;
    struct ec *ec;
    struct mdb_root cap;
};

/* Decode create_ec(dst_sel, pd_sel, cpu, entry_ip, stack_ptr, arg): checks, then memory. */
static int decode_create_ec(struct trap_frame *f, struct create_ec_inv *inv)
{
    *inv = (struct create_ec_inv){ .self = cur_pd(), .sel = f->rdi, .ip = f->r10, .sp = f->r8,
                                   .arg = f->r9 };
    mword cpu = f->rdx;
    int err = pd_cap(inv->self, f->rsi, CAP_PD, PD_R_CREATE, (void **)&inv->pd);
    if (err)
        return err;
    if (cpu >= smp_cpus.count || !cpu_remote((unsigned)cpu)->online)
        return E_CPU;
    if ((err = sysarg_ec_start(inv->ip, inv->sp)) || (err = pd_dst_sel(inv->self, inv->sel)))
        return err;
    inv->cpu = (unsigned)cpu;
    /* The per-core root exists before the EC can run there (resume never allocates). */
    inv->new_root = !inv->pd->mem.loc[cpu].root;
    if (inv->new_root && space_mem_loc_build(&inv->pd->mem, inv->cpu, &inv->root))
        return E_NOMEM;
    inv->ec = ec_alloc(inv->pd);
    err = inv->ec ? space_obj_insert_decode(&kernel_mdb, &inv->self->obj, inv->sel, &inv->cap)
                  : E_NOMEM;
    if (err && inv->ec)
        kheap_free(&inv->pd->heap, inv->ec);
    if (err && inv->new_root)
        space_mem_loc_discard(&inv->root);
    return err;
}

/* Perform create_ec: install the root, start the EC, put its capability, make it runnable. */
static void perform_create_ec(struct create_ec_inv *inv)
{
    if (inv->new_root)
        space_mem_loc_install(&inv->pd->mem, inv->cpu, &inv->root);
    ec_init(inv->ec, inv->pd, inv->cpu, inv->ip, inv->sp, inv->arg);
    ec_adopt(inv->ec, inv->self, inv->sel);
    space_obj_insert_perform(&inv->cap, &inv->self->obj, inv->sel,
                             cap_make(inv->ec, CAP_EC, EC_R_ALL));
    sched_enqueue(inv->ec);
}

/* create_ec(dst_sel, pd_sel, cpu, entry_ip, stack_ptr, arg) */
static int sys_create_ec(struct trap_frame *f)
{
    struct create_ec_inv inv;
    int err = decode_create_ec(f, &inv);
    if (err == E_OK)
        perform_create_ec(&inv);
    return err;
}

/* The mapping-database space of kind in pd. */
static struct mdb_space *space_of(struct pd *pd, unsigned kind)
{
    return kind == SPACE_MEM ? &pd->mem.mdb : kind == SPACE_PIO ? &pd->pio.mdb : &pd->obj.mdb;
}

/* Every unit of s [base, +n) is held (E_NOENT), then with all of mask (E_PERM), in ABI order. */
static int check_source(struct mdb_space *s, uint64_t base, uint64_t n, unsigned mask)
{
    struct mdb_info in;
    int err = E_OK;
    for (uint64_t u = base; u < base + n; u = in.base + in.size) {
        if (mdb_lookup(s, u, &in) != E_OK)
            return E_NOENT;
        if ((in.rights & mask) != mask)
            err = E_PERM;               /* reported only if no unit is empty */
    }
    return err;
}

/*
 * Every destination item of dst [base, +n) of kind is empty (else E_BUSY): no silent
 * overwrite. The mapping database decides, in O(log n) for any n: every item of every
 * kind is written only through it, and after a revoke under memory exhaustion hpt may
 * hold less than the database (space_mem.c): a dropped page is not empty.
 */
static int check_dest(struct pd *dst, unsigned kind, uint64_t base, uint64_t n)
{
    return mdb_range_empty(space_of(dst, kind), base, n) ? E_OK : E_BUSY;
}

/*
 * Leaf entries that mapping dst pages [d, +len) to frames t + (page - d) writes at most when
 * leaves of up to leaf pages are allowed (4 KiB pages at the ends, the largest leaf the
 * offset d - t and the alignment allow in the middle). Recursion depth: leaf levels.
 */
static uint64_t mem_entries(uint64_t d, uint64_t t, uint64_t len, uint64_t leaf)
{
    while (leaf > 1 && (d - t) % leaf)
        leaf /= PTAB_ENTRIES;
    if (leaf == 1 || !len)
        return len;
    uint64_t head = MIN(len, (leaf - d % leaf) % leaf), mid = (len - head) / leaf;
    uint64_t tail = len - head - mid * leaf;
    return mem_entries(d, t, head, leaf / PTAB_ENTRIES) + mid +
           mem_entries(d + head + mid * leaf, t + head + mid * leaf, tail, leaf / PTAB_ENTRIES);
}

/*
 * The prefix of src [sb, +n) (n items within DELEGATE_PIECES source pieces) whose mapping at
 * dst_pd's db.. writes at most DELEGATE_ENTRIES leaf entries (at least one page). A hole
 * ends the walk: check_source then answers E_NOENT for the call.
 */
static uint64_t mem_extent(struct pd *src, struct pd *dst, uint64_t sb, uint64_t db, uint64_t n)
{
    unsigned mask = dst->mem.hpt.leaf_mask;
    uint64_t leaf = mask & BIT(2) ? PTAB_ENTRIES * PTAB_ENTRIES : mask & BIT(1) ? PTAB_ENTRIES : 1;
    uint64_t left = DELEGATE_ENTRIES, off = 0;
    struct mdb_info in;
    if (n == 1)
        return 1;                       /* one page: one leaf entry at most */
    while (off < n && mdb_lookup(&src->mem.mdb, sb + off, &in) == E_OK) {
        uint64_t len = MIN(in.base + in.size - (sb + off), n - off);
        uint64_t d = db + off, t = in.target + (sb + off - in.base);
        uint64_t e = mem_entries(d, t, len, leaf);
        if (e <= left) {
            left -= e;
            off += len;
            continue;
        }
        /* The longest part that fits (entries are not monotone in len: bisect on a fit). */
        uint64_t lo = 0, hi = len;
        while (hi - lo > 1) {
            uint64_t mid = lo + (hi - lo) / 2;
            if (mem_entries(d, t, mid, leaf) <= left)
                lo = mid;
            else
                hi = mid;
        }
        return off + lo > 0 ? off + lo : 1;
    }
    return off < n ? n : off;
}

/* delegate's invocation: the PDs, the space, the items this call takes, the decoded delegation. */
struct delegate_inv {
    struct pd *src, *dst;
    unsigned kind;
    uint64_t n;                         /* a prefix of count: the items this call delegates */
    struct mdb_delegation d;
};

/* Decode delegate(src_pd_sel, dst_pd_sel, xfer, src_base, dst_base, count): both capabilities,
   both rights, the arguments, the source, the destination, then the reservations. */
static int decode_delegate(struct trap_frame *f, struct delegate_inv *inv)
{
    struct pd *self = cur_pd();
    struct delegate_args a = { f->rdx, f->r10, f->r8, f->r9 };
    struct xfer x;
    unsigned src_rights, dst_rights;
    int err;
    if ((err = pd_cap_get(self, f->rdi, CAP_PD, (void **)&inv->src, &src_rights)) ||
        (err = pd_cap_get(self, f->rsi, CAP_PD, (void **)&inv->dst, &dst_rights)))
        return err;
    if (!(src_rights & dst_rights & PD_R_DELEGATE))
        return E_PERM;
    if ((err = sysarg_delegate(&a, &x)))
        return err;
    if (x.kind == SPACE_PIO && x.dst != x.src)
        return E_ARG;                   /* ports are identity-mapped */
    struct pd *src = inv->src, *dst = inv->dst;
    struct mdb_space *s = space_of(src, x.kind);
    inv->kind = x.kind;
    /* At most DELEGATE_PIECES source pieces per call: as many nodes created, O(pieces) work
       (the destination must be empty); the caller continues from rdx items on. Fewer nodes
       than a revoke step removes, so a revoke of what is delegated here ends. */
    uint64_t n = mdb_delegate_extent(s, x.src, x.count, DELEGATE_PIECES);
    if (x.kind == SPACE_MEM)
        n = mem_extent(src, dst, x.src, x.dst, n);
    bool dma = x.kind == SPACE_MEM && (x.rights & MEM_D), built = false;
    bool guest = x.kind == SPACE_MEM && (x.rights & MEM_G);
    if (dma || guest)
        n = MIN(n, DELEGATE_ENTRIES);   /* dpt, nested table: 4 KiB leaves, one per page */
    inv->n = n;
    if ((err = check_source(s, x.src, n, x.rights)) || (err = check_dest(dst, x.kind, x.dst, n)))
        return err;
    if (dma && !iommu_present())
        return E_NOENT;
    if (dma && (err = space_mem_dpt_span(x.dst * PAGE_SIZE, n)))
        return err;
    if (guest && !dst->mem.nested)
        return E_NOENT;                 /* not a VM: no create_vcpu in dst yet */
    /* One check for every table the pages go into: they are charged together. */
    if ((dma || guest) && (err = space_mem_side_room(&dst->mem, n, dma, guest)))
        return err;
    if (dma && (err = space_mem_dpt(&dst->mem, &built)))
        return err;
    if (x.kind == SPACE_OBJ)
        err = space_obj_delegate_decode(&kernel_mdb, &inv->d, &src->obj, x.src, &dst->obj, x.dst,
                                        n, x.rights);
    else if (x.kind == SPACE_PIO)
        err = space_pio_delegate_decode(&kernel_mdb, &inv->d, &src->pio, x.src, &dst->pio, x.dst,
                                        n, x.rights);
    else
        err = mdb_delegate_decode(&kernel_mdb, &inv->d, s, x.src, &dst->mem.mdb, x.dst, n,
                                  x.rights);
    if (!err)
        inv->n = inv->d.size;           /* n, which is within the database's own bound */
    else if (built)
        space_mem_dpt_drop(&dst->mem);
    return err;
}

/* Perform delegate: apply the delegation, shoot down what it changed; the items delegated. */
static uint64_t perform_delegate(struct delegate_inv *inv)
{
    if (inv->kind == SPACE_OBJ)
        space_obj_delegate_perform(&kernel_mdb, &inv->d, &inv->dst->obj);
    else if (inv->kind == SPACE_PIO)
        space_pio_delegate_perform(&kernel_mdb, &inv->d, &inv->dst->pio);
    else
        mdb_delegate_perform(&kernel_mdb, &call_batch, &inv->d);
    shootdown_batch_flush(&call_batch);
    return inv->n;
}

/* delegate(src_pd_sel, dst_pd_sel, xfer, src_base, dst_base, count); rdx gets the items done. */
static int sys_delegate(struct trap_frame *f)
{
    struct delegate_inv inv;
    int err = decode_delegate(f, &inv);
    if (err == E_OK)
        f->rdx = perform_delegate(&inv);
    return err;
}

/* Drop pd_lock (the batch flushed) and hand it over as the unlock of a call does. */
static void call_unlock(void)
{
    ASSERT(shootdown_batch_empty(&call_batch));
    pd_lock_give();
}

/*
 * Between two steps of a revoke: hand pd_lock to the next core waiting for it, take
 * interrupts for a moment, then wait for pd_lock again in turn (answering shootdowns and
 * taking interrupts meanwhile; no lock is held here, kernel-mode handlers take none).
 * Every core that waits is let in before the revoke's next step.
 */
static void pd_lock_pass(void)
{
    call_unlock();
    irq_window();
    pd_lock_take();
}

/* Count a revoke step that did op->work (core_counters). */
static void count_step(const struct mdb_revoke *op)
{
    struct core_counters *c = &this_cpu()->counters;
    c->revoke_steps++;
    c->revoke_work += op->work;
    c->revoke_step_max = MAX(c->revoke_step_max, op->work);
}

/*
 * Run a revoke in pd's space to its end in steps of at most REVOKE_UNITS units and about
 * REVOKE_WORK mapping nodes. Each step's changes are shot down before pd_lock is dropped
 * between steps, so other cores' calls (and this core's interrupts) wait for one bounded step
 * at most; they may run between steps (mdb_revoke_step states what the revoke then
 * guarantees). pd stays valid while the revoke is pending (pd->busy): if it is doomed
 * between steps, the revoke ends with E_ABORT (its destruction removes every item).
 */
static int revoke_run(struct pd *pd, struct mdb_revoke *op)
{
    int err;
    pd->busy++;
    while ((err = mdb_revoke_step(&kernel_mdb, &call_batch, op, REVOKE_UNITS, REVOKE_WORK)) ==
           MDB_MORE) {
        shootdown_batch_flush(&call_batch);
        count_step(op);
        pd_lock_pass();
        if (pd->kobj.doomed) {
            err = E_ABORT;
            break;
        }
    }
    shootdown_batch_flush(&call_batch);
    count_step(op);
    pd->busy--;
    return err;
}

/* Decode revoke(pd_sel, flags, xfer, base, count) into op and *pd: the capability, the
   arguments. */
static int decode_revoke(struct trap_frame *f, struct mdb_revoke *op, struct pd **out)
{
    struct pd *pd;
    struct revoke_args a = { f->rsi, f->rdx, f->r10, f->r8 };
    struct xfer x;
    int err;
    if ((err = pd_cap(cur_pd(), f->rdi, CAP_PD, PD_R_DELEGATE, (void **)&pd)) ||
        (err = sysarg_revoke(&a, &x)))
        return err;
    *out = pd;
    unsigned rights = x.rights;
    *out = pd;
    if (x.kind == SPACE_MEM && (rights & MEM_R))
        rights = MEM_ALL;               /* a page without read access cannot stay mapped */
    return mdb_revoke_begin(op, space_of(pd, x.kind), x.src, x.count, rights,
                            a.flags & REVOKE_SELF);
}

/* revoke(pd_sel, flags, xfer, base, count); perform is revoke_run, in steps. */
static int sys_revoke(struct trap_frame *f)
{
    struct mdb_revoke op;
    struct pd *pd;
    int err = decode_revoke(f, &op, &pd);
    return err ? err : revoke_run(pd, &op);
}

/* lookup's invocation: what decode found at addr of kind in pd. */
struct lookup_inv {
    mword kind, addr;
    struct ptab_map map;                /* SPACE_MEM: the mapping at addr */
    struct capability cap;              /* SPACE_OBJ: the capability at addr */
};

/* Decode lookup(pd_sel, kind, addr, out): capability, kind and addr, out, then E_NOENT. */
static int decode_lookup(struct trap_frame *f, struct lookup_inv *inv)
{
    struct pd *pd;
    int err;
    if ((err = pd_cap(cur_pd(), f->rdi, CAP_PD, 0, (void **)&pd)) ||
        (err = sysarg_lookup(f->rsi, f->rdx)) ||
        (err = sysarg_user_buf(f->r10, sizeof(struct lookup_info))))
        return err;
    *inv = (struct lookup_inv){ .kind = f->rsi, .addr = f->rdx };
    bool found;
    if (inv->kind == SPACE_MEM)
        found = ptab_lookup(&pd->mem.hpt, inv->addr, &inv->map);
    else if (inv->kind == SPACE_PIO)
        found = space_pio_allowed(&pd->pio, (unsigned)inv->addr);
    else
        found = space_obj_lookup(&pd->obj, inv->addr, &inv->cap) && !cap_is_null(inv->cap);
    return found ? E_OK : E_NOENT;
}

/* Perform lookup: the answer for what decode found. */
static struct lookup_info perform_lookup(const struct lookup_inv *inv)
{
    const struct ptab_map *m = &inv->map;
    if (inv->kind == SPACE_MEM)
        return (struct lookup_info){ m->va, m->size, m->pa, space_mem_rights(m->attr.perm), 0 };
    if (inv->kind == SPACE_PIO)
        return (struct lookup_info){ inv->addr, 1, 0, PIO_A, 0 };
    return (struct lookup_info){ inv->addr, 1, 0, (uint32_t)inv->cap.rights, cap_type(inv->cap) };
}

/* lookup(pd_sel, kind, addr, out) */
static int sys_lookup(struct trap_frame *f)
{
    struct lookup_inv inv;
    int err = decode_lookup(f, &inv);
    if (err)
        return err;
    struct lookup_info li = perform_lookup(&inv);
    return copy_to_user(f->r10, &li, sizeof(li));
}

/* ec_status's invocation: the EC, whether to wait for it, where the answer goes. */
struct ec_status_inv {
    struct ec *ec;
    bool wait;
    mword out;
};

/* Decode ec_status(ec_sel, flags, out): capability, flags, out, then waiting for oneself. */
static int decode_ec_status(struct trap_frame *f, struct ec_status_inv *inv)
{
    int err;
    if ((err = pd_cap(cur_pd(), f->rdi, CAP_EC, EC_R_CTRL, (void **)&inv->ec)))
        return err;
    if (f->rsi & ~(mword)EC_WAIT)
        return E_ARG;
    if ((err = sysarg_user_buf(f->rdx, sizeof(struct ec_info))))
        return err;
    inv->wait = f->rsi & EC_WAIT;
    inv->out = f->rdx;
    return inv->wait && inv->ec == cur_ec() ? E_ARG : E_OK;
}

/* Block the caller until ec stops (ec_lock held, ec running): the stopping EC enqueues it and
   sched_resume writes the status to out. Does not return. */
static noreturn void wait_stop(struct trap_frame *f, struct ec *ec, mword out)
{
    struct ec *self = cur_ec();
    sched_save(f);
    self->wait_for = ec;
    self->wait_out = out;
    self->next = ec->waiters;
    self->rq_prev = NULL;
    if (ec->waiters)
        ec->waiters->rq_prev = self;
    ec->waiters = self;
    spin_unlock(&ec_lock);
    call_unlock();
    sched_run();
}

/* Perform ec_status: with wait and ec running, block (does not return); else ec's status. */
static struct ec_info perform_ec_status(struct trap_frame *f, const struct ec_status_inv *inv)
{
    struct ec_info info;
    if (inv->wait) {
        spin_lock(&ec_lock);
        if (inv->ec->state == EC_RUNNING)
            wait_stop(f, inv->ec, inv->out);
        spin_unlock(&ec_lock);
    }
    ec_info_of(inv->ec, &info);
    return info;
}

/* ec_status(ec_sel, flags, out); with EC_WAIT may block (then does not return). */
static int sys_ec_status(struct trap_frame *f)
{
    struct ec_status_inv inv;
    int err = decode_ec_status(f, &inv);
    if (err)
        return err;
    struct ec_info info = perform_ec_status(f, &inv);
    return copy_to_user(inv.out, &info, sizeof(info));
}

/* Drop pd_lock and leave f's call before it changed anything: the EC re-enters the call at its
   syscall instruction after the other ECs of this core had their turn (and a pause, for the
   core it waits for). Does not return. */
static noreturn void call_reissue(struct trap_frame *f)
{
    call_unlock();
    cpu_pause();
    f->rip -= SYSCALL_INSN_LEN;
    sched_save(f);
    sched_yield();
}

/* ec_resume's invocation: the EC, and the registers it gets (flags say which). */
struct ec_resume_inv {
    struct ec *ec;
    mword flags, rip, rax;
};

/* Decode ec_resume(ec_sel, flags, rip, rax): capability, flags, rip, then the EC's state. */
static int decode_ec_resume(struct trap_frame *f, struct ec_resume_inv *inv)
{
    int err;
    *inv = (struct ec_resume_inv){ .flags = f->rsi, .rip = f->rdx, .rax = f->r10 };
    if ((err = pd_cap(cur_pd(), f->rdi, CAP_EC, EC_R_CTRL, (void **)&inv->ec)) ||
        (err = sysarg_ec_resume(inv->flags, inv->ec->vcpu ? 0 : inv->rip)))
        return err;                     /* a vCPU's rip is the guest's: any value */
    return ec_resumable(inv->ec);
}

/* Perform ec_resume: the registers the flags give, then the EC runnable at its saved state. */
static void perform_ec_resume(const struct ec_resume_inv *inv)
{
    struct vcpu *v = inv->ec->vcpu;
    if (v && (inv->flags & EC_RESUME_RIP))
        vcpu_hw_set_rip(&v->hw, inv->rip);
    if (v && (inv->flags & EC_RESUME_RAX))
        vcpu_set_rax(v, &inv->ec->vmexit, inv->rax);
    if (!v && (inv->flags & EC_RESUME_RIP))
        inv->ec->regs.rip = inv->rip;
    if (!v && (inv->flags & EC_RESUME_RAX))
        inv->ec->regs.rax = inv->rax;
    ec_resume(inv->ec);
}

/* ec_resume(ec_sel, flags, rip, rax); re-issued while the EC's core still lets go of it. */
static int sys_ec_resume(struct trap_frame *f)
{
    struct ec_resume_inv inv;
    int err = decode_ec_resume(f, &inv);
    if (err == EC_LEAVING)
        call_reissue(f);
    if (err == E_OK)
        perform_ec_resume(&inv);
    return err;
}

/* create_vcpu's invocation: the vCPU's EC and state, the PD's nested table and root for cpu if
   it lacks them, and the capability, reserved at sel of self. */
struct create_vcpu_inv {
    struct pd *self, *pd;
    mword sel;
    unsigned cpu;
    bool new_root, new_nested;
    struct ptab root;
    struct ec *ec;
    struct vcpu *v;
    struct mdb_root cap;
};

/* Give back what decode_create_vcpu reserved for inv (nothing of it is in use). */
static void create_vcpu_undo(struct create_vcpu_inv *inv)
{
    if (inv->v)
        vcpu_free(inv->pd, inv->v);
    if (inv->ec)
        kheap_free(&inv->pd->heap, inv->ec);
    if (inv->new_root)
        space_mem_loc_discard(&inv->root);
    if (inv->new_nested)
        space_mem_nested_drop(&inv->pd->mem);
}

/* Decode create_vcpu(dst_sel, pd_sel, cpu): capability, core, dst_sel, the hardware, then
   memory: the nested table, the per-core root, the EC, its vCPU state, the slot. */
static int decode_create_vcpu(struct trap_frame *f, struct create_vcpu_inv *inv)
{
    *inv = (struct create_vcpu_inv){ .self = cur_pd(), .sel = f->rdi };
    mword cpu = f->rdx;
    int err = pd_cap(inv->self, f->rsi, CAP_PD, PD_R_CREATE, (void **)&inv->pd);
    if (err)
        return err;
    if (cpu >= smp_cpus.count || !cpu_remote((unsigned)cpu)->online)
        return E_CPU;
    if ((err = pd_dst_sel(inv->self, inv->sel)))
        return err;
    if (!vcpu_supported())
        return E_NOENT;
    inv->cpu = (unsigned)cpu;
    if ((err = space_mem_nested(&inv->pd->mem, &inv->new_nested)))
        return err;
    inv->new_root = !inv->pd->mem.loc[cpu].root;
    if (inv->new_root && space_mem_loc_build(&inv->pd->mem, inv->cpu, &inv->root)) {
        inv->new_root = false;
        create_vcpu_undo(inv);
        return E_NOMEM;
    }
    inv->ec = ec_alloc(inv->pd);
    inv->v = inv->ec ? vcpu_alloc(inv->pd) : NULL;
    err = inv->v ? space_obj_insert_decode(&kernel_mdb, &inv->self->obj, inv->sel, &inv->cap)
                 : E_NOMEM;
    if (err)
        create_vcpu_undo(inv);
    return err;
}

/* Perform create_vcpu: install the root, the EC stopped at VM_EXIT_START, its capability. */
static void perform_create_vcpu(struct create_vcpu_inv *inv)
{
    if (inv->new_root)
        space_mem_loc_install(&inv->pd->mem, inv->cpu, &inv->root);
    ec_init_stopped(inv->ec, inv->pd, inv->cpu);
    inv->ec->vcpu = inv->v;
    inv->ec->vmexit = (struct vm_exit){ .reason = VM_EXIT_START };
    inv->ec->state = EC_VMEXIT;
    ec_adopt(inv->ec, inv->self, inv->sel);
    space_obj_insert_perform(&inv->cap, &inv->self->obj, inv->sel,
                             cap_make(inv->ec, CAP_EC, EC_R_ALL));
}

/* create_vcpu(dst_sel, pd_sel, cpu) */
static int sys_create_vcpu(struct trap_frame *f)
{
    struct create_vcpu_inv inv;
    int err = decode_create_vcpu(f, &inv);
    if (err == E_OK)
        perform_create_vcpu(&inv);
    return err;
}

/* vcpu_regs's invocation: the vCPU, the direction, the user buffer. */
struct vcpu_regs_inv {
    struct ec *ec;
    bool set;
    mword buf;
};

/* Decode vcpu_regs(ec_sel, flags, buf): capability, flags, buf, a vCPU, then its state. */
static int decode_vcpu_regs(struct trap_frame *f, struct vcpu_regs_inv *inv)
{
    int err;
    *inv = (struct vcpu_regs_inv){ .set = f->rsi & VCPU_REGS_SET, .buf = f->rdx };
    if ((err = pd_cap(cur_pd(), f->rdi, CAP_EC, EC_R_CTRL, (void **)&inv->ec)))
        return err;
    if (f->rsi & ~(mword)VCPU_REGS_SET)
        return E_ARG;
    if ((err = sysarg_user_buf(inv->buf, sizeof(struct vcpu_regs))))
        return err;
    if (!inv->ec->vcpu)
        return E_ARG;
    return ec_resumable(inv->ec);
}

/* vcpu_regs(ec_sel, flags, buf); re-issued while the vCPU's core still lets go of it. */
static int sys_vcpu_regs(struct trap_frame *f)
{
    struct vcpu_regs_inv inv;
    static struct vcpu_regs r;          /* pd_lock: one caller at a time */
    int err = decode_vcpu_regs(f, &inv);
    if (err == EC_LEAVING)
        call_reissue(f);
    if (err)
        return err;
    if (!inv.set) {
        vcpu_hw_get(&inv.ec->vcpu->hw, &r);
        return copy_to_user(inv.buf, &r, sizeof(r));
    }
    if ((err = copy_from_user(&r, inv.buf, sizeof(r))))
        return err;
    vcpu_hw_set(&inv.ec->vcpu->hw, &r);
    return E_OK;
}

/* Decode console_write(buf, len): len, then the bytes into this core's buffer (*out). */
static int decode_console_write(struct trap_frame *f, char **out)
{
    char *buf = console_buf[cpu_id()];
    if (f->rsi > CONSOLE_MAX)
        return E_ARG;
    *out = buf;
    return copy_from_user(buf, f->rdi, f->rsi);
}

/*
 * Perform console_write: all len bytes of buf, NUL included, in chunks of CONSOLE_CHUNK with
 * interrupts taken between them; console_user_lock keeps the chunks of one call together
 * (its waiters take interrupts too). No other lock is held.
 */
static void perform_console_write(const char *buf, mword len)
{
    while (!spin_trylock(&console_user_lock))
        irq_window();
    for (mword done = 0; done < len; done += CONSOLE_CHUNK) {
        console_write(buf + done, MIN(CONSOLE_CHUNK, len - done));
        irq_window();
    }
    spin_unlock(&console_user_lock);
}

/* console_write(buf, len) */
static int sys_console_write(struct trap_frame *f)
{
    char *buf;
    int err = decode_console_write(f, &buf);
    if (err == E_OK)
        perform_console_write(buf, f->rsi);
    return err;
}

/* Decode counters(cpu, out): the core (*out). */
static int decode_counters(struct trap_frame *f, struct cpu_local **out)
{
    if (f->rdi >= smp_cpus.count)
        return E_CPU;
    *out = cpu_remote((unsigned)f->rdi);
    return E_OK;
}

/* Perform counters: r's counters and the global words. */
static struct core_counters perform_counters(const struct cpu_local *r)
{
    struct core_counters c = r->counters;
    c.timer_ticks = r->ticks;
    kalloc_stats(&c.pool_free, &c.heap_pages, &c.heap_live);
    c.pd_frames = kframe_pd_frames();
    c.pcid_recycled = pcid_recycled();
    return c;
}

/* counters(cpu, out) */
static int sys_counters(struct trap_frame *f)
{
    struct cpu_local *r;
    int err = decode_counters(f, &r);
    if (err)
        return err;
    struct core_counters c = perform_counters(r);
    return copy_to_user(f->rsi, &c, sizeof(c));
}

/* Perform pd_info: pd's space and frame counts (decode is the capability lookup). */
static struct pd_info perform_pd_info(struct pd *pd)
{
    return (struct pd_info){
        .obj_pages = pd->obj.r.pages, .pio_pages = pd->pio.r.pages,
        .hpt_tables = space_mem_hpt_count(&pd->mem), .loc_roots = pd->mem.loc_roots,
        .kpd_tables = pd->obj.r.tables + pd->pio.r.tables,
        .frames = pd_frames(pd), .hpt_kept = space_mem_hpt_kept(&pd->mem),
        .quota = pd->quota.limit, .used = quota_used(&pd->quota), .heap_pages = pd->heap.pages,
    };
}

/* pd_info(pd_sel, out) */
static int sys_pd_info(struct trap_frame *f)
{
    struct pd *pd;
    int err = pd_cap(cur_pd(), f->rdi, CAP_PD, 0, (void **)&pd);
    if (err)
        return err;
    struct pd_info in = perform_pd_info(pd);
    return copy_to_user(f->rsi, &in, sizeof(in));
}

/* assign's invocation: the device, and the PD it goes to (NULL: unassign). */
struct assign_inv {
    struct device *dev;
    struct pd *pd;
};

/* Decode assign(dev_sel, pd_sel): the device's capability, the PD's (SEL_NULL: unassign, which
   needs an assigned device), then device_assign_decode's IOMMU, occupancy and memory. */
static int decode_assign(struct trap_frame *f, struct assign_inv *inv)
{
    int err;
    *inv = (struct assign_inv){ 0 };
    if ((err = pd_cap(cur_pd(), f->rdi, CAP_DEV, DEV_R_ASSIGN, (void **)&inv->dev)))
        return err;
    if (f->rsi == SEL_NULL)
        return inv->dev->owner ? E_OK : E_NOENT;
    if ((err = pd_cap(cur_pd(), f->rsi, CAP_PD, PD_R_DELEGATE, (void **)&inv->pd)))
        return err;
    return device_assign_decode(inv->dev, inv->pd);
}

/* Perform assign: the device under the PD's dpt, or (no PD) blocked again. */
static void perform_assign(const struct assign_inv *inv)
{
    if (inv->pd)
        device_assign(inv->dev, inv->pd);
    else
        device_unassign(inv->dev);
}

/* assign(dev_sel, pd_sel) */
static int sys_assign(struct trap_frame *f)
{
    struct assign_inv inv;
    int err = decode_assign(f, &inv);
    if (err == E_OK)
        perform_assign(&inv);
    return err;
}

/* Decode dev_faults(dev_sel, out): the device's capability (*out), then out. */
static int decode_dev_faults(struct trap_frame *f, struct device **out)
{
    int err = pd_cap(cur_pd(), f->rdi, CAP_DEV, DEV_R_ASSIGN, (void **)out);
    return err ? err : sysarg_user_buf(f->rsi, sizeof(struct dev_faults));
}

/* dev_faults(dev_sel, out); perform (device_faults) hands out the record and clears it. */
static int sys_dev_faults(struct trap_frame *f)
{
    struct device *dev;
    int err = decode_dev_faults(f, &dev);
    if (err)
        return err;
    struct dev_faults r = device_faults(dev);
    return copy_to_user(f->rsi, &r, sizeof(r));
}

/* Perform yield (nothing to decode): E_OK, then the next EC of this core. */
static noreturn int sys_yield(struct trap_frame *f)
{
    f->rax = E_OK;
    sched_save(f);
    sched_yield();
}

/* Perform exit(code) (nothing to decode): the caller stops with code. */
static noreturn int sys_exit(struct trap_frame *f)
{
    struct ec *ec = cur_ec();
    sched_save(f);
    ec->exit_code = (int64_t)f->rdi;
    ec_stop(ec, EC_EXITED);
}

#ifdef KCOV
/* kcov(out, len) */
static int sys_kcov(struct trap_frame *f)
{
    return kcov_sys(f->rdi, f->rsi);
}
#endif

#ifdef INSPECT
/* inspect(pd_sel, tag) */
static int sys_inspect(struct trap_frame *f)
{
    return inspect_sys(cur_pd(), f->rdi, f->rsi);
}
#endif

/* A call: its function, and whether it runs under pd_lock. */
struct call {
    int (*run)(struct trap_frame *f);
    bool locked;
};

/* Every call by number; a hole is no call (E_NOSYS, answered without pd_lock). */
static const struct call calls[SYS_COUNT] = {
    [SYS_CREATE_PD]     = { sys_create_pd, true },
    [SYS_CREATE_EC]     = { sys_create_ec, true },
    [SYS_DELEGATE]      = { sys_delegate, true },
    [SYS_REVOKE]        = { sys_revoke, true },
    [SYS_LOOKUP]        = { sys_lookup, true },
    [SYS_EC_STATUS]     = { sys_ec_status, true },
    [SYS_PD_INFO]       = { sys_pd_info, true },
    [SYS_YIELD]         = { sys_yield, false },
    [SYS_EXIT]          = { sys_exit, false },
    [SYS_CONSOLE_WRITE] = { sys_console_write, false },
    [SYS_COUNTERS]      = { sys_counters, false },
    [SYS_EC_RESUME]     = { sys_ec_resume, true },
    [SYS_ASSIGN]        = { sys_assign, true },
    [SYS_DEV_FAULTS]    = { sys_dev_faults, true },
    [SYS_CREATE_VCPU]   = { sys_create_vcpu, true },
    [SYS_VCPU_REGS]     = { sys_vcpu_regs, true },
};

/* The call numbered n; NULL if n is no call. */
static inline const struct call *call_of(mword n)
{
#ifdef KCOV
    static const struct call kcov = { sys_kcov, false };
    if (n == SYS_KCOV)
        return &kcov;
#endif
#ifdef INSPECT
    static const struct call inspect = { sys_inspect, true };
    if (n == SYS_INSPECT)
        return &inspect;
#endif
    if (n >= SYS_COUNT || !calls[n].run)
        return NULL;
    return &calls[n];
}

/* Leave the core to the scheduler if its EC was killed (or destroyed) meanwhile. */
static void leave_if_killed(void)
{
    struct ec *self = this_cpu()->ec;
    if (!self)
        sched_run();                    /* the caller was destroyed by its own call */
    if (__atomic_load_n(&self->killed, __ATOMIC_SEQ_CST)) {
        ec_leave(self);                 /* killed: the call does not run or return */
        sched_run();
    }
}

/* Run f's call c under pd_lock, and what the call doomed before it returns; its status. */
static noinline int locked_call(struct trap_frame *f, const struct call *c)
{
    pd_lock_take_call(f);               /* or re-issued later, if busy for long */
    if (__atomic_load_n(&cur_ec()->killed, __ATOMIC_SEQ_CST)) {
        call_unlock();                  /* destroyed: the call does not run */
        leave_if_killed();
    }
    int st = c->run(f);
    if (destroy_pending())
        destroy_run(&call_batch, pd_lock_pass);
    call_unlock();
    leave_if_killed();
    return st;
}

/* C side of the syscall entry: f is the caller's user state; returns the status (its rax).
   Before the return to user mode, a flush a shootdown left due (lab switch TLB_ACK=deferred). */
mword syscall_dispatch(struct trap_frame *f)
{
    this_cpu()->counters.syscalls++;
    space_mem_count_begin();
    const struct call *c = call_of(f->rax);
    int st;
    if (!c)
        st = E_NOSYS;
    else if (!c->locked)
        st = c->run(f);
    else
        st = locked_call(f, c);
    tlb_hazard();
    return (mword)st;
}
