/* Protection domains: creation, capability lookups (lecture: "Protection Domain"). */
#include "pd.h"
#include "kalloc_far.h"
#include "arch.h"
#include "frame.h"
#include "kmalloc.h"
#include "kstring.h"
#include "sched.h"
#include "tlb.h"
#include "ec.h"

#define PD_LOCK_SPIN_US 1000            /* a call waits this long for pd_lock, then retries */

struct fair_lock pd_lock = FAIR_LOCK_INIT;
struct mdb kernel_mdb;

#define PD_LOCK_PARK_TURNS 1    /* turns a waiter spins before it halts until kicked (TCG on an
                                   overcommitted host: fewest is fastest) */

/* Per core: halted in a wait for pd_lock, to be woken by an IPI when the lock is its (or free). */
static bool parked[NUM_CPU];

/* A wait for pd_lock: when to give up the place (0: never), turns taken. */
struct lock_wait {
    uint64_t deadline;
    unsigned turns;
};

/*
 * Halt this core (interrupts on) until an interrupt, unless pd_lock is granted to it or free
 * already: a waiter whose (virtual) CPU sleeps leaves the host's CPU to the holder. The
 * releaser kicks parked cores (pd_lock_give); the store of parked and the check of the lock
 * here, and the lock's update and the load of parked there, are each fenced, so one of the
 * two sees the other. The timer wakes the core too.
 */
static void park(void)
{
    unsigned me = cpu_id();
    __atomic_store_n(&parked[me], true, __ATOMIC_RELAXED);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (!fair_lock_ready(&pd_lock, me))
        arch_idle_wait();
    __atomic_store_n(&parked[me], false, __ATOMIC_RELAXED);
}

/*
 * One turn of a wait for pd_lock (arg: struct lock_wait), interrupts off: answer shootdown
 * requests, take interrupts for a moment (kernel-mode handlers only count, flush and
 * acknowledge: they never switch ECs or take pd_lock; the holder may be waiting for this
 * core's acknowledgement); after PD_LOCK_PARK_TURNS turns, halt until kicked if no other EC
 * of this core is ready. False after the deadline if another EC is ready: giving up the
 * place for it (with none, giving up would only re-issue the call and lose the place).
 */
static bool lock_turn(void *arg)
{
    struct lock_wait *w = arg;
    tlb_poll();
    bool others = sched_others_ready();
    if (++w->turns >= PD_LOCK_PARK_TURNS && !others) {
        park();
    } else {
        cpu_sti();
        cpu_pause();
        cpu_cli();
    }
    return !w->deadline || time_us() < w->deadline || !others;
}

#ifdef PTACCESS_recursive
static bool lock_mine[NUM_CPU];         /* core c holds pd_lock (PTACCESS=recursive) */
#endif

/* Note that this core took pd_lock (taken) or gives it back (!taken): pd_lock_mine. */
static inline void lock_mark(bool taken)
{
#ifdef PTACCESS_recursive
    lock_mine[cpu_id()] = taken;
#else
    (void)taken;
#endif
}

/* Whether this core holds pd_lock (only the lab switch PTACCESS=recursive keeps track). */
bool pd_lock_mine(void)
{
#ifdef PTACCESS_recursive
    return lock_mine[cpu_id()];
#else
    return false;
#endif
}

/* Wait for busy pd_lock for at most us microseconds (0: for good), as lock_turn says, interrupts
   off; true if taken. */
static noinline bool lock_wait(uint64_t us)
{
    struct lock_wait w = { us ? time_us() + us : 0, 0 };
    uint32_t bypassed = 0;
    struct cpu_local *c = this_cpu();
    c->counters.lock_waits++;
    bool taken = fair_lock_wait(&pd_lock, c->id, lock_turn, &w, &bypassed);
    if (taken && bypassed > c->counters.lock_bypass_max)
        c->counters.lock_bypass_max = bypassed;
    return taken;
}

/* Take pd_lock, waiting for at most us microseconds (0: for good) if it is busy; true if taken.
   Interrupts as they were. */
static bool lock_spin(uint64_t us)
{
    mword fl = irq_save();
    bool taken = fair_lock_try(&pd_lock) || lock_wait(us);
    lock_mark(taken);
    irq_restore(fl);
    return taken;
}

/* Wake core c if it is parked in a wait for pd_lock. */
static void kick(unsigned c)
{
    if (__atomic_load_n(&parked[c], __ATOMIC_RELAXED))
        lapic_send_ipi(cpu_remote(c)->apic_id, VEC_IPI_WAKE);
}

/* Take pd_lock, taking interrupts and answering shootdown requests while waiting: the holder may
 * be waiting for this core's shootdown acknowledgement. */
void pd_lock_take(void)
{
    lock_spin(0);
}

/* Take pd_lock if it is free at this moment (a copy-user fault under pd_lock finds it busy);
   true if taken. */
bool pd_lock_try(void)
{
    bool taken = fair_lock_try(&pd_lock);
    if (taken)
        lock_mark(true);
    return taken;
}

/* Release pd_lock (held by this core): it goes to the next core waiting for it, if any, which
   is woken if parked; if the lock is free, every parked waiter is woken to take it. */
void pd_lock_give(void)
{
    unsigned me = cpu_id();
    lock_mark(false);
    int to = fair_lock_release(&pd_lock, me);
    if (to >= 0) {
        kick((unsigned)to);             /* the grant's compare-and-swap fences */
        return;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (unsigned c = 0; c < smp_cpus.count; c++)
        if (c != me)
            kick(c);
}

/*
 * Take pd_lock for a system call whose user state is f (the EC's regs). If it
 * stays busy for PD_LOCK_SPIN_US while another EC of this core is ready to run, the call
 * is re-issued later instead: rip goes
 * back to the syscall instruction, the EC yields to the other ECs of this core,
 * and its next run enters the call anew (nothing has changed yet). Does not
 * return then.
 */
void pd_lock_take_call(struct trap_frame *f)
{
    if (lock_spin(PD_LOCK_SPIN_US))
        return;
    this_cpu()->counters.lock_retries++;
    f->rip -= SYSCALL_INSN_LEN;
    sched_save(f);
    sched_yield();
}

/* The PD whose space s is (its kind by its hooks). */
static struct pd *pd_holding(struct mdb_space *s)
{
    if (s->ops == &space_mem_ops)
        return container_of(s, struct pd, mem.mdb);
    if (s->ops == &space_obj_ops)
        return container_of(s, struct pd, obj.mdb);
    ASSERT(s->ops == &space_pio_ops);
    return container_of(s, struct pd, pio.mdb);
}

/* The database's node memory: an object of size bytes from the heap of the PD holding s,
   charged to its quota; NULL if that quota or the pool is out. */
static void *pd_node_alloc(struct mdb_space *s, size_t size)
{
    return kheap_alloc(&pd_holding(s)->heap, size);
}

/* Initialise the mapping database (boot, once). */
void pd_boot_init(void)
{
    mdb_init(&kernel_mdb, pd_node_alloc, kobj_free);
    destroy_boot_init();
}

/* pd's frame source for page tables, roots and kdir pages: a pool frame charged to pd. */
static paddr_t pd_env_alloc(void *ctx)
{
    struct pd *pd = ctx;
    return kframe_alloc_charged(&pd->quota);
}

/* pd's frame sink: the frame back to the pool, uncharged. */
static void pd_env_free(void *ctx, paddr_t pa)
{
    struct pd *pd = ctx;
    kframe_free_charged(&pd->quota, pa);
}

/* pd's frame source for page tables (master, per-core roots): a table frame (the far pool's
   with "tables-far", else the kernel pool's) charged to pd; 0 if pd's quota or both are out. */
static paddr_t pd_tables_alloc(void *ctx)
{
    struct pd *pd = ctx;
    if (quota_charge(&pd->quota, 1))
        return 0;
    paddr_t pa = kptab_env_tables.alloc(NULL);
    if (!pa)
        quota_uncharge(&pd->quota, 1);
    return pa;
}

/* pd's page-table frame sink: the frame back to its pool, uncharged. */
static void pd_tables_free(void *ctx, paddr_t pa)
{
    struct pd *pd = ctx;
    kptab_env_tables.free(NULL, pa);
    quota_uncharge(&pd->quota, 1);
}

/* Give back a partly built PD: whatever of its parts exist, its quota to its parent. The one
   place where a PD's last frames go back to the pool (a new PD that failed, or a destroyed one:
   pd_free_last). */
static void pd_free(struct pd *pd, bool obj, bool mem, bool pio)
{
    if (pio)
        space_pio_destroy(&pd->pio);
    if (obj)
        space_obj_destroy(&pd->obj);
    if (mem)
        space_mem_destroy(&pd->mem);
    if (pd->kdir)
        kframe_free_charged(&pd->quota, pd->kdir);
    struct quota q = pd->quota;
    kframes_free(pd, PD_FRAMES);
    kframe_account(-(long)PD_FRAMES);
    if (q.payer == &pd->quota)
        q.payer = &q;
    quota_uncharge(&q, PD_FRAMES);
    quota_return(&q);
}

/* The frames of a new PD object, child of parent with quota (see pd_create); NULL if none. */
static struct pd *pd_object(struct pd *parent, uint64_t quota)
{
    struct quota q;
    if (!parent)
        quota_init_root(&q, quota);
    else if (quota_give(&parent->quota, &q, quota))
        return NULL;
    struct pd *pd = quota_charge(&q, PD_FRAMES) ? NULL : kframes_alloc(PD_FRAMES);
    if (!pd) {
        if (quota_used(&q))
            quota_uncharge(&q, PD_FRAMES);
        quota_return(&q);
        return NULL;
    }
    kframe_account((long)PD_FRAMES);
    pd->parent = parent;
    pd->quota = q;
    if (q.payer == &q)
        pd->quota.payer = &pd->quota;
    return pd;
}

/* Give pd its heap, frame sources, kernel directory and three empty spaces; false (pd freed)
 * if its quota or the pool runs out. */
static bool pd_spaces_init(struct pd *pd)
{
    kheap_init(&pd->heap, &pd->quota);
    pd->env = (struct ptab_env){ .ctx = pd, .p2v = kmem_p2v, .lin = &kmem_linear,
                                 .alloc = pd_env_alloc, .free = pd_env_free, .flush = NULL,
                                 .trace = NULL };
    pd->tables_env = (struct ptab_env){ .ctx = pd, .p2v = kmem_p2v, .lin = &kmem_linear,
                                        .alloc = pd_tables_alloc, .free = pd_tables_free,
                                        .flush = NULL, .trace = NULL };
    pd->kdir = pd->env.alloc(pd);
    if (!pd->kdir) {
        pd_free(pd, false, false, false);
        return false;
    }
    pd->kobj.type = CAP_PD;
    if (space_mem_init(&pd->mem, pd->kdir) != E_OK) {
        pd_free(pd, false, false, false);
        return false;
    }
    if (space_obj_init(&pd->obj, pd->kdir) != E_OK) {
        pd_free(pd, false, true, false);
        return false;
    }
    pd->obj.r.env = &pd->env;           /* its backing pages and tables are charged to pd */
    if (space_pio_init(&pd->pio, pd->kdir) != E_OK) {
        pd_free(pd, true, true, false);
        return false;
    }
    pd->pio.r.env = &pd->env;
    return true;
}

/*
 * A new PD with three empty spaces, child of parent, with quota frames taken from parent's
 * quota (QUOTA_SHARED: it draws on parent's; without a parent: quota frames of its own);
 * its object, kernel directory and spaces' first tables are charged to it. NULL if parent
 * cannot give the quota, the quota does not hold those frames, or the pool is out.
 */
struct pd *pd_create(struct pd *parent, uint64_t quota)
{
    struct pd *pd = pd_object(parent, quota);
    if (pd && !pd_spaces_init(pd))
        return NULL;
    return pd;
}

/* Fix the quota of pd (made without a parent) at what it uses plus room frames. */
void pd_quota_seal(struct pd *pd, uint64_t room)
{
    ASSERT(!pd->parent && pd->quota.payer == &pd->quota);
    pd->quota.limit = quota_used(&pd->quota) + room;
}

/* Space_pio replaced a shared page of s by a real one: every other core that runs s's PD drops
 * its cached bitmap translations before it next runs user code (tlb_flush_pd of the PD that
 * embeds s). */
void space_pio_shootdown(struct space_pio *s)
{
    tlb_flush_pd(container_of(s, struct pd, pio));
}

/* Every pool frame pd holds (pd_info.frames): its object, tables, roots and backing pages. */
uint64_t pd_frames(const struct pd *pd)
{
    return PD_OBJ_FRAMES + space_mem_frames(&pd->mem) + pd->vcpu_pages + pd->obj.r.pages +
           pd->obj.r.tables +
           pd->obj.r.res_count + pd->pio.r.pages + pd->pio.r.tables + pd->pio.r.res_count;
}

/* Free a PD that never held anything (creation failed after pd_create); its quota goes back. */
void pd_destroy_empty(struct pd *pd)
{
    pd_free(pd, true, true, true);
}

/* Free a destroyed PD (destroy.c: its spaces empty, no core runs it, no EC, child or
   capability left): its tables, roots, backing pages, PCID and the PD itself. */
void pd_free_last(struct pd *pd)
{
    ASSERT(!pd->nr_ecs && !pd->nr_children && !pd->kobj.caps && !pd->busy);
    if (pd->parent)
        pd->parent->nr_children--;
    pd_free(pd, true, true, true);
}

/* Make pd (new, from pd_create) a live PD whose first capability went to selector sel of
   creator: its slots count in their objects, and it is a child of its parent. */
void pd_adopt(struct pd *pd, struct pd *creator, mword sel)
{
    pd->obj.counted = true;
    pd->kobj.cap_pd = creator;
    pd->kobj.cap_sel = sel;
    struct pd *p = pd->parent;
    if (!p)
        return;
    pd->sib_next = p->children;
    if (p->children)
        p->children->sib_prev = pd;
    p->children = pd;
    p->nr_children++;
}

/* The PD running on this core (NULL in the idle loop before any PD ran). */
struct pd *pd_current(void)
{
    return this_cpu()->pd;
}

/* Look up selector sel in pd's object space: E_CAP if out of range, null or not of type t (or
 * its object is being destroyed); else E_OK, *obj and the capability's rights in *rights. */
int pd_cap_get(struct pd *pd, mword sel, enum cap_type t, void **obj, unsigned *rights)
{
    struct capability c;
    if (sel == SEL_NULL || sel >= SEL_COUNT)
        return E_CAP;
    /* The caller's own table is read at PD_CAPS (lecture: Space_obj::page_fault on a hole). */
    bool found = pd == pd_current() ? space_obj_lookup_current(&pd->obj, sel, &c)
                                    : space_obj_lookup(&pd->obj, sel, &c);
    if (!found || cap_is_null(c) || cap_type(c) != t)
        return E_CAP;
    /* An object being destroyed is named by no usable capability (devices never are). */
    struct kobj *o = t == CAP_PD ? &((struct pd *)cap_object(c))->kobj
                   : t == CAP_EC ? &((struct ec *)cap_object(c))->kobj : NULL;
    if (o && o->doomed)
        return E_CAP;
    *obj = cap_object(c);
    *rights = c.rights;
    return E_OK;
}

/* Look up selector sel in pd's object space: pd_cap_get's E_CAP; E_PERM if it lacks any of
 * rights; else E_OK and *obj. */
int pd_cap(struct pd *pd, mword sel, enum cap_type t, unsigned rights, void **obj)
{
    unsigned have;
    void *o;
    int err = pd_cap_get(pd, sel, t, &o, &have);
    if (err)
        return err;
    if ((have & rights) != rights)
        return E_PERM;
    *obj = o;
    return E_OK;
}

/* Check destination selector sel of pd: E_ARG, E_FULL, E_BUSY or E_OK. */
int pd_dst_sel(struct pd *pd, mword sel)
{
    return space_obj_check_free(&pd->obj, sel);
}
