/*
 * System calls (docs/abi.md): dispatch and every call. Each call decodes and
 * checks all arguments in the documented order before it changes anything
 * ("decode, then perform"); pd_lock serialises object creation, capability
 * writes and the mapping database.
 */
#include "syscall.h"
#include "paging.h"
#include "ec.h"
#include "pd.h"
#include "sched.h"
#include "sysarg.h"
#include "tlb.h"
#include "uaccess.h"
#include "cpu.h"
#include "cpu_local.h"
#include "frame.h"
#include "kmalloc.h"
#include "kmem.h"
#include "printk.h"
#include "smp.h"
#include "kcov.h"

#define REVOKE_UNITS    512     /* units per revoke step at most: one 2 MiB of 4 KiB pages */
#define REVOKE_WORK     64      /* mapping nodes a revoke step visits, about */
#define CONSOLE_CHUNK   64      /* console bytes written with interrupts off, at most */
#define DELEGATE_PIECES 16      /* source pieces (mapping nodes or holes) one delegate call takes */
#define DELEGATE_ENTRIES 1024   /* most page-table leaf entries one memory delegate call writes */
#define LOCK_PASS_SPINS 1024    /* pauses a revoke waits between steps for pd_lock's waiters */

static char console_buf[NUM_CPU][CONSOLE_MAX];
static struct spinlock console_user_lock = SPINLOCK_INIT;   /* one console_write at a time */
static struct shootdown_batch call_batch;   /* what a mapping-database call leaves to shoot down
                                               and free (pd_lock; flushed before it is dropped) */

/* The calling EC and its PD. */
static struct ec *cur_ec(void) { return this_cpu()->ec; }
static struct pd *cur_pd(void) { return this_cpu()->ec->pd; }

/* Put a new capability at sel of pd's object space: E_OK or E_NOMEM. */
static int cap_insert(struct pd *pd, mword sel, const void *obj, enum cap_type t, unsigned rights)
{
    return space_obj_insert(&kernel_mdb, &pd->obj, sel, cap_make(obj, t, rights));
}

/* create_pd(dst_sel, parent_pd_sel) */
static int sys_create_pd(struct trap_frame *f)
{
    struct pd *self = cur_pd(), *parent, *pd;
    int err = pd_cap(self, f->rsi, CAP_PD, PD_R_CREATE, (void **)&parent);
    if (err || (err = pd_dst_sel(self, f->rdi)))
        return err;
    if (!(pd = pd_create(parent)))
        return E_NOMEM;
    if ((err = cap_insert(self, f->rdi, pd, CAP_PD, PD_R_ALL))) {
        pd_destroy_empty(pd);
        return err;
    }
    return E_OK;
}

/* create_ec(dst_sel, pd_sel, cpu, entry_ip, stack_ptr, arg) */
static int sys_create_ec(struct trap_frame *f)
{
    struct pd *self = cur_pd(), *pd;
    mword cpu = f->rdx;
    int err = pd_cap(self, f->rsi, CAP_PD, PD_R_CREATE, (void **)&pd);
    if (err)
        return err;
    if (cpu >= smp_cpus.count || !cpu_remote((unsigned)cpu)->online)
        return E_CPU;
    if ((err = sysarg_ec_start(f->r10, f->r8)) || (err = pd_dst_sel(self, f->rdi)))
        return err;
    /* The per-core root exists before the EC can run there (resume never allocates). */
    bool new_root = !pd->mem.loc[cpu].root;
    if (space_mem_loc(&pd->mem, (unsigned)cpu))
        return E_NOMEM;
    struct ec *ec = ec_create(pd, (unsigned)cpu, f->r10, f->r8, f->r9);
    if (!ec || (err = cap_insert(self, f->rdi, ec, CAP_EC, EC_R_ALL))) {
        /* All or nothing: undo the EC and a root made for it. */
        if (ec) {
            __atomic_sub_fetch(&pd->live_ecs, 1, __ATOMIC_SEQ_CST);
            kfree(ec);
        }
        if (new_root)
            space_mem_loc_drop(&pd->mem, (unsigned)cpu);
        return ec ? err : E_NOMEM;
    }
    sched_enqueue(ec);
    return E_OK;
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
    for (uint64_t u = base; u < base + n; u = in.base + in.size)
        if (mdb_lookup(s, u, &in) != E_OK)
            return E_NOENT;
    for (uint64_t u = base; u < base + n; u = in.base + in.size)
        if (mdb_lookup(s, u, &in) != E_OK || (in.rights & mask) != mask)
            return E_PERM;
    return E_OK;
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

/* delegate(src_pd_sel, dst_pd_sel, xfer, src_base, dst_base, count) */
static int sys_delegate(struct trap_frame *f)
{
    struct pd *self = cur_pd(), *src, *dst;
    struct delegate_args a = { f->rdx, f->r10, f->r8, f->r9 };
    struct xfer x;
    unsigned effect;
    int err;
    if ((err = pd_cap(self, f->rdi, CAP_PD, 0, (void **)&src)) ||
        (err = pd_cap(self, f->rsi, CAP_PD, 0, (void **)&dst)) ||
        (err = pd_cap(self, f->rdi, CAP_PD, PD_R_DELEGATE, (void **)&src)) ||
        (err = pd_cap(self, f->rsi, CAP_PD, PD_R_DELEGATE, (void **)&dst)) ||
        (err = sysarg_delegate(&a, &x)))
        return err;
    uint64_t sb = a.src_base, db = a.dst_base, n = a.count;
    if (x.kind == SPACE_MEM) {
        sb /= PAGE_SIZE_USER;
        db /= PAGE_SIZE_USER;
    }
    if (x.kind == SPACE_PIO && db != sb)
        return E_ARG;               /* ports are identity-mapped */
    /* At most DELEGATE_PIECES source pieces per call: as many nodes created, O(pieces) work
       (the destination must be empty); the caller continues from rdx items on. Fewer nodes
       than a revoke step removes, so a revoke of what is delegated here ends. */
    n = mdb_delegate_extent(space_of(src, x.kind), sb, n, DELEGATE_PIECES);
    if (x.kind == SPACE_MEM)
        n = mem_extent(src, dst, sb, db, n);
    if ((err = check_source(space_of(src, x.kind), sb, n, x.rights)) ||
        (err = check_dest(dst, x.kind, db, n)))
        return err;
    if (x.kind == SPACE_OBJ)
        err = space_obj_delegate(&kernel_mdb, &src->obj, sb, &dst->obj, db, n, x.rights, &effect);
    else if (x.kind == SPACE_PIO)
        err = space_pio_delegate(&kernel_mdb, &src->pio, sb, &dst->pio, db, n, x.rights, &effect);
    else
        err = mdb_delegate(&kernel_mdb, &call_batch, &src->mem.mdb, sb, &dst->mem.mdb, db, n,
                           x.rights, &effect);
    shootdown_batch_flush(&call_batch);
    if (err == E_OK)
        f->rdx = n;
    return err;
}

/*
 * Drop pd_lock for a moment, long enough for a core spinning in pd_lock_take to get it,
 * then queue for it by ticket: pd_lock_take's waiters only win a free lock, so the revoke
 * gets it back right after the current holder's call, answering shootdowns and taking
 * interrupts meanwhile (no lock is held here; kernel-mode handlers take none).
 */
static void pd_lock_pass(void)
{
    uint32_t free_at = __atomic_load_n(&pd_lock.next, __ATOMIC_RELAXED);   /* no taker yet */
    spin_unlock(&pd_lock);
    irq_window();
    for (unsigned i = 0;
         i < LOCK_PASS_SPINS && __atomic_load_n(&pd_lock.next, __ATOMIC_RELAXED) == free_at; i++) {
        irq_window();
        cpu_pause();
    }
    uint32_t t = __atomic_fetch_add(&pd_lock.next, 1, __ATOMIC_RELAXED);
    while (__atomic_load_n(&pd_lock.owner, __ATOMIC_ACQUIRE) != t) {
        tlb_poll();
        irq_window();
        cpu_pause();
    }
}

/*
 * Run a revoke to its end in steps of at most REVOKE_UNITS units and about REVOKE_WORK
 * mapping nodes. Each step's changes are shot down before pd_lock is dropped between
 * steps, so other cores' calls (and this core's interrupts) wait for one bounded step at
 * most; they may run between steps (mdb_revoke_step states what the revoke then
 * guarantees). PDs are never destroyed while a call runs, so pd stays valid.
 */
static int revoke_run(struct mdb_revoke *op)
{
    int err;
    while ((err = mdb_revoke_step(&kernel_mdb, &call_batch, op, REVOKE_UNITS, REVOKE_WORK)) ==
           MDB_MORE) {
        shootdown_batch_flush(&call_batch);
        pd_lock_pass();
    }
    shootdown_batch_flush(&call_batch);
    return err;
}

/* revoke(pd_sel, flags, xfer, base, count) */
static int sys_revoke(struct trap_frame *f)
{
    struct pd *self = cur_pd(), *pd;
    struct revoke_args a = { f->rsi, f->rdx, f->r10, f->r8 };
    struct xfer x;
    int err;
    if ((err = pd_cap(self, f->rdi, CAP_PD, PD_R_DELEGATE, (void **)&pd)) ||
        (err = sysarg_revoke(&a, &x)))
        return err;
    if (x.kind == SPACE_MEM && !IS_ALIGNED(a.base, PAGE_SIZE_USER))
        return E_ALIGN;
    uint64_t base = a.base, n = a.count;
    unsigned rights = x.rights;
    if (x.kind == SPACE_MEM) {
        base /= PAGE_SIZE_USER;
        if (rights & MEM_R)
            rights = MEM_RWX;       /* a page without read access cannot stay mapped */
    }
    struct mdb_revoke op;
    if ((err = mdb_revoke_begin(&op, space_of(pd, x.kind), base, n, rights, a.flags & REVOKE_SELF)))
        return err;
    return revoke_run(&op);
}

/* lookup(pd_sel, kind, addr, out) */
static int sys_lookup(struct trap_frame *f)
{
    struct pd *pd;
    struct lookup_info li = { 0 };
    int err;
    if ((err = pd_cap(cur_pd(), f->rdi, CAP_PD, 0, (void **)&pd)) ||
        (err = sysarg_lookup(f->rsi, f->rdx)) ||
        (err = sysarg_user_buf(f->r10, sizeof(li))))
        return err;
    if (f->rsi == SPACE_MEM) {
        struct ptab_map m;
        if (!ptab_lookup(&pd->mem.hpt, f->rdx, &m))
            return E_NOENT;
        li = (struct lookup_info){ m.va, m.size, m.pa, 0, 0 };
        li.rights = space_mem_rights(m.attr.perm);
    } else if (f->rsi == SPACE_PIO) {
        if (!space_pio_allowed(&pd->pio, (unsigned)f->rdx))
            return E_NOENT;
        li = (struct lookup_info){ f->rdx, 1, 0, PIO_A, 0 };
    } else {
        struct capability c;
        if (!space_obj_lookup(&pd->obj, f->rdx, &c) || cap_is_null(c))
            return E_NOENT;
        li = (struct lookup_info){ f->rdx, 1, 0, (uint32_t)c.rights, cap_type(c) };
    }
    return copy_to_user(f->r10, &li, sizeof(li));
}

/* ec_status(ec_sel, flags, out); with EC_WAIT may block (then does not return). */
static int sys_ec_status(struct trap_frame *f)
{
    struct ec *self = cur_ec(), *ec;
    struct ec_info info;
    int err;
    if ((err = pd_cap(cur_pd(), f->rdi, CAP_EC, EC_R_CTRL, (void **)&ec)))
        return err;
    if (f->rsi & ~(mword)EC_WAIT)
        return E_ARG;
    if ((err = sysarg_user_buf(f->rdx, sizeof(info))))
        return err;
    if ((f->rsi & EC_WAIT) && ec == self)
        return E_ARG;
    if (f->rsi & EC_WAIT) {
        spin_lock(&ec_lock);
        if (ec->state == EC_RUNNING) {
            /* Block: the stopping EC enqueues us, sched_resume writes *out. */
            sched_save(f);
            self->wait_for = ec;
            self->wait_out = f->rdx;
            self->next = ec->waiters;
            ec->waiters = self;
            spin_unlock(&ec_lock);
            spin_unlock(&pd_lock);
            sched_run();
        }
        spin_unlock(&ec_lock);
    }
    ec_info_of(ec, &info);
    return copy_to_user(f->rdx, &info, sizeof(info));
}

/*
 * console_write(buf, len): all len bytes, NUL included, in chunks of CONSOLE_CHUNK with
 * interrupts taken between them; console_user_lock keeps the chunks of one call together
 * (its waiters take interrupts too). No other lock is held.
 */
static int sys_console_write(struct trap_frame *f)
{
    char *buf = console_buf[cpu_id()];
    mword len = f->rsi;
    int err;
    if (len > CONSOLE_MAX)
        return E_ARG;
    if ((err = copy_from_user(buf, f->rdi, len)))
        return err;
    while (!spin_trylock(&console_user_lock))
        irq_window();
    for (mword done = 0; done < len; done += CONSOLE_CHUNK) {
        console_write(buf + done, MIN(CONSOLE_CHUNK, len - done));
        irq_window();
    }
    spin_unlock(&console_user_lock);
    return E_OK;
}

/* counters(cpu, out) */
static int sys_counters(struct trap_frame *f)
{
    if (f->rdi >= smp_cpus.count)
        return E_CPU;
    struct cpu_local *r = cpu_remote((unsigned)f->rdi);
    struct core_counters c = r->counters;
    c.timer_ticks = r->ticks;
    kalloc_stats(&c.pool_free, &c.heap_pages, &c.heap_live);
    c.pd_frames = kframe_pd_frames();
    return copy_to_user(f->rsi, &c, sizeof(c));
}

/* pd_info(pd_sel, out) */
static int sys_pd_info(struct trap_frame *f)
{
    struct pd *pd;
    int err = pd_cap(cur_pd(), f->rdi, CAP_PD, 0, (void **)&pd);
    if (err)
        return err;
    struct pd_info in = {
        .obj_pages = pd->obj.r.pages, .pio_pages = pd->pio.r.pages,
        .hpt_tables = space_mem_hpt_count(&pd->mem), .loc_roots = pd->mem.loc_roots,
        .kpd_tables = pd->obj.r.tables + pd->pio.r.tables,
        .frames = pd_frames(pd), .hpt_kept = space_mem_hpt_kept(&pd->mem),
    };
    return copy_to_user(f->rsi, &in, sizeof(in));
}

/* C side of the syscall entry: f is the caller's user state; rax gets the status. */
void syscall_dispatch(struct trap_frame *f)
{
    struct cpu_local *c = this_cpu();
    struct ec *ec = c->ec;
    int st;
    c->counters.syscalls++;
    switch (f->rax) {
    case SYS_YIELD:
        f->rax = E_OK;
        sched_save(f);
        sched_yield();
    case SYS_EXIT:
        sched_save(f);
        ec->exit_code = (int64_t)f->rdi;
        ec_stop(ec, EC_EXITED);
    case SYS_CONSOLE_WRITE:
        f->rax = (mword)sys_console_write(f);
        return;
    case SYS_COUNTERS:
        f->rax = (mword)sys_counters(f);
        return;
#ifdef KCOV
    case SYS_KCOV:
        f->rax = (mword)kcov_sys(f->rdi, f->rsi);
        return;
#endif
    }
    pd_lock_take_call(f);               /* or re-issued later, if busy for long */
    switch (f->rax) {
    case SYS_CREATE_PD:  st = sys_create_pd(f); break;
    case SYS_CREATE_EC:  st = sys_create_ec(f); break;
    case SYS_DELEGATE:   st = sys_delegate(f); break;
    case SYS_REVOKE:     st = sys_revoke(f); break;
    case SYS_LOOKUP:     st = sys_lookup(f); break;
    case SYS_EC_STATUS:  st = sys_ec_status(f); break;
    case SYS_PD_INFO:    st = sys_pd_info(f); break;
    default:             st = E_NOSYS; break;
    }
    spin_unlock(&pd_lock);
    f->rax = (mword)st;
}
