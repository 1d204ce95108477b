/*
 * Destruction through revocation (include/destroy.h, docs/abi.md "Object lifetime").
 *
 * Phases of a doomed object, one bounded step at a time (destroy_step), pd_lock held:
 *
 *   DOOM_SPREAD   PD: doom up to DESTROY_WORK of its ECs and children per step (an EC is
 *                 killed as it is doomed: it never returns to user mode).
 *   DOOM_CAPS     revoke the object's first capability (and so every one derived from it)
 *                 unless no capability names it; if that capability lies in a doomed PD, that
 *                 PD's teardown removes it, and the step waits for it.
 *   DOOM_QUIET    EC: wait until no core holds it; PD: until none of its ECs runs and no
 *                 revoke of its spaces is pending (such revokes stop at their next step).
 *   DOOM_TEAR     PD: tear down its object, I/O and memory spaces in the mapping database,
 *                 everything derived from them too, each step shot down (the caller's batch).
 *   DOOM_LEAVE    PD: wait until no core has it current (cores switch to their own root) and
 *                 its ECs and children are freed, and no capability names it.
 *   DOOM_FREE     free: the EC (its waiters wake with E_ABORT), or the PD (pd_free_last).
 *
 * Nothing waits for an object later in the list than itself in a cycle: a PD waits only for
 * its own ECs and children, which wait for nothing of it, and for capability slots in a
 * doomed PD, whose teardown waits for nothing of theirs. The one wait outside the lists, a
 * PD's DOOM_QUIET for its ECs to leave their cores, would close a cycle when such an EC is
 * itself running a destruction that waits for that PD's teardown (its objects' capabilities
 * lie in the PD): so a call that is destroying lets go of its EC and PD as soon as another
 * core's destruction kills its EC (leave_killed_caller), and goes on without them.
 */
#include "destroy.h"
#include "device.h"
#include "arch.h"
#include "ec.h"
#include "panic.h"
#include "pd.h"
#include "quarantine.h"
#include "sched.h"
#include "tlb.h"

#define DESTROY_UNITS 512       /* units of one capability revoke step, at most */
#define DESTROY_WORK  64        /* mapping nodes, ECs or children one step handles, about */

enum { DOOM_SPREAD, DOOM_CAPS, DOOM_QUIET, DOOM_TEAR, DOOM_LEAVE, DOOM_FREE };

/* Per core: the objects doomed by the call running there, in round-robin order. A core runs
   one call at a time, so that call destroys exactly what it doomed (and what that dooms). */
static struct doom_list {
    struct kobj *head, *tail;
} dooms[NUM_CPU];

/* Append o to this core's doomed list. */
static void doom_push(struct kobj *o)
{
    struct doom_list *l = &dooms[cpu_id()];
    o->doom_next = NULL;
    if (l->tail)
        l->tail->doom_next = o;
    else
        l->head = o;
    l->tail = o;
}

/* Take the first object of this core's doomed list, or NULL. */
static struct kobj *doom_pop(void)
{
    struct doom_list *l = &dooms[cpu_id()];
    struct kobj *o = l->head;
    if (o && !(l->head = o->doom_next))
        l->tail = NULL;
    return o;
}

/* The PD or EC of o. */
static struct pd *pd_of(struct kobj *o) { return container_of(o, struct pd, kobj); }
static struct ec *ec_of(struct kobj *o) { return container_of(o, struct ec, kobj); }

/* Doom ec: off its PD's list, killed, on the doomed list (once). */
static void ec_doom(struct ec *ec)
{
    if (ec->kobj.doomed)
        return;
    ec->kobj.doomed = true;
    struct pd *pd = ec->pd;
    if (ec->pd_prev)
        ec->pd_prev->pd_next = ec->pd_next;
    else
        pd->ecs = ec->pd_next;
    if (ec->pd_next)
        ec->pd_next->pd_prev = ec->pd_prev;
    ec->pd_next = ec->pd_prev = NULL;
    doom_push(&ec->kobj);
    ec_kill(ec);
}

/* Doom pd: off its parent's list of children, on the doomed list (once). */
static void pd_doom(struct pd *pd)
{
    if (pd->kobj.doomed)
        return;
    __atomic_store_n(&pd->kobj.doomed, true, __ATOMIC_SEQ_CST);
    struct pd *p = pd->parent;
    if (p && pd->sib_prev)
        pd->sib_prev->sib_next = pd->sib_next;
    else if (p)
        p->children = pd->sib_next;
    if (pd->sib_next)
        pd->sib_next->sib_prev = pd->sib_prev;
    pd->sib_next = pd->sib_prev = NULL;
    doom_push(&pd->kobj);
}

/* The kernel object of capability word 0 word. */
static struct kobj *kobj_of(uint64_t word)
{
    struct capability c = { word, 0 };
    return cap_type(c) == CAP_PD ? &((struct pd *)cap_object(c))->kobj
                                 : &((struct ec *)cap_object(c))->kobj;
}

/* Object space hook: a slot names word's object. */
static void cap_gained(uint64_t word)
{
    struct capability c = { word, 0 };
    if (cap_type(c) == CAP_DEV)
        device_cap_gained(cap_object(c));
    else
        kobj_of(word)->caps++;
}

/* Object space hook: a slot stopped naming word's object; the last one dooms it (a device:
   unassigns it). */
static void cap_lost(uint64_t word)
{
    struct capability c = { word, 0 };
    if (cap_type(c) == CAP_DEV) {
        device_cap_lost(cap_object(c));
        return;
    }
    struct kobj *o = kobj_of(word);
    ASSERT(o->caps > 0);
    if (--o->caps)
        return;
    if (o->type == CAP_PD)
        pd_doom(pd_of(o));
    else
        ec_doom(ec_of(o));
}

/* Make the kernel's object spaces count the capabilities they hold (boot, once). */
void destroy_boot_init(void)
{
    space_obj_gained = cap_gained;
    space_obj_lost = cap_lost;
}

/* Whether the call running on this core doomed an object (it runs destroy_run before it ends). */
bool destroy_pending(void)
{
    return dooms[cpu_id()].head != NULL;
}

/* Stop o's capability revoke (o->op_pd's busy count goes back). */
static void caps_stop(struct kobj *o)
{
    o->revoking = false;
    o->op_pd->busy--;
}

/* DOOM_CAPS: one step of revoking o's first capability; true when no capability names o. */
static bool caps_step(struct kobj *o, struct shootdown_batch *b)
{
    if (o->revoking && o->op_pd->kobj.doomed)
        caps_stop(o);                   /* its teardown removes the capability */
    if (!o->caps) {
        if (o->revoking)
            caps_stop(o);
        return true;
    }
    struct pd *holder = o->cap_pd;
    if (holder == (o->type == CAP_PD ? pd_of(o) : NULL))
        return true;                    /* only its own space names it: its teardown ends that */
    if (holder->kobj.doomed)
        return false;                   /* wait for the holder's teardown */
    if (!o->revoking) {
        int err = mdb_revoke_begin(&o->op, &holder->obj.mdb, o->cap_sel, 1, ~0u, true);
        ASSERT(err == E_OK);
        o->revoking = true;
        o->op_pd = holder;
        holder->busy++;
    }
    int err = mdb_revoke_step(&kernel_mdb, b, &o->op, DESTROY_UNITS, DESTROY_WORK);
    if (err != MDB_MORE)
        caps_stop(o);                   /* E_NOMEM: begun again at the next step */
    return !o->caps;
}

/* DOOM_SPREAD of pd: doom a bounded number of its ECs and children; true when none is left. */
static bool spread_step(struct pd *pd)
{
    for (unsigned i = 0; i < DESTROY_WORK && (pd->ecs || pd->children); i++) {
        if (pd->ecs)
            ec_doom(pd->ecs);
        else
            pd_doom(pd->children);
    }
    return !pd->ecs && !pd->children;
}

/* DOOM_TEAR of pd: a bounded step of removing its spaces' nodes; true when all are empty. */
static bool tear_step(struct pd *pd, struct shootdown_batch *b)
{
    struct mdb_space *s[] = { &pd->obj.mdb, &pd->pio.mdb, &pd->mem.mdb };
    while (pd->kobj.tear < 3) {
        if (mdb_teardown_step(&kernel_mdb, b, s[pd->kobj.tear], DESTROY_WORK) == MDB_MORE)
            return false;
        pd->kobj.tear++;
    }
    return true;
}

/* Whether some core has pd current (or is leaving it); this core switches away at once, each
   other such core is asked to (it does when it next schedules: its ECs of pd are killed). */
static bool pd_in_use(struct pd *pd)
{
    bool used = false;
    for (unsigned c = 0; c < smp_cpus.count; c++) {
        struct cpu_local *r = cpu_remote(c);
        if (__atomic_load_n(&r->pd, __ATOMIC_SEQ_CST) != pd &&
            __atomic_load_n(&r->pd_leaving, __ATOMIC_SEQ_CST) != pd)
            continue;
        if (c == cpu_id()) {
            make_current_none();        /* the destroyer's own core: its EC is gone */
            continue;
        }
        used = true;
        lapic_send_ipi(r->apic_id, VEC_IPI_WAKE);
    }
    return used;
}

/* Free destroyed pd; the quarantine build first tags its roots and checks they are unused. */
static void pd_release(struct pd *pd)
{
#ifdef PTAB_QUARANTINE
    for (unsigned c = 0; c < NUM_CPU; c++)
        if (pd->mem.loc[c].root)
            quarantine_detached(&pd->mem, pd->mem.loc[c].root);
    quarantine_detached(&pd->mem, pd->mem.hpt.root);
    for (unsigned c = 0; c < smp_cpus.count; c++)
        if (cpu_remote(c)->pd == pd || cpu_remote(c)->pd_leaving == pd)
            panic("destroy: core %u still runs a destroyed PD", c);
#endif
    tlb_flush_pd(pd);                   /* covers the tagged roots; no core runs pd */
    pd_free_last(pd);
}

/* One step of destroying PD pd; true when it is freed. */
static bool pd_step(struct pd *pd, struct shootdown_batch *b)
{
    struct kobj *o = &pd->kobj;
    bool phase_done;
    switch (o->phase) {
    case DOOM_SPREAD: phase_done = spread_step(pd); break;
    case DOOM_CAPS:   phase_done = caps_step(o, b); break;
    case DOOM_QUIET:  phase_done = !pd->ecs_on && !pd->busy; break;
    case DOOM_TEAR:   phase_done = tear_step(pd, b); break;
    case DOOM_LEAVE:
        if (pd->nr_ecs || pd->nr_children || o->caps || pd_in_use(pd))
            return false;
        pd_release(pd);
        return true;
    default:
        panic("destroy: PD in phase %u", o->phase);
    }
    if (phase_done)
        o->phase++;                     /* the phases run in their enum's order */
    return false;
}

/* One step of destroying EC ec; true when it is freed. */
static bool ec_step(struct ec *ec, struct shootdown_batch *b)
{
    struct kobj *o = &ec->kobj;
    switch (o->phase) {
    case DOOM_SPREAD:
    case DOOM_CAPS:
        if (!caps_step(o, b))
            return false;
        o->phase = DOOM_QUIET;
        return false;
    case DOOM_QUIET:
        /* On this core, destroy_run's sched_retire before the step retired it if a wake put
           it on the retire list after ec_kill looked. */
        if (!ec->off && ec->cpu != cpu_id())    /* its core may have taken the last IPI in */
            lapic_send_ipi(cpu_remote(ec->cpu)->apic_id, VEC_IPI_WAKE);   /* kernel mode */
        if (!ec->off || !ec_wake_some(ec, E_ABORT, DESTROY_WORK))
            return false;               /* more waiters: woken in later steps */
        ec_free(ec);
        return true;
    }
    panic("destroy: EC in phase %u", o->phase);
}

/* If the EC of the call on this core was killed (by another core's destruction), this core
   lets go of it and of its PD at once: their destruction waits for that, not for this call. */
static void leave_killed_caller(void)
{
    struct ec *self = this_cpu()->ec;
    if (!self || !__atomic_load_n(&self->killed, __ATOMIC_SEQ_CST))
        return;
    ec_leave(self);
    make_current_none();
}

/*
 * Destroy every object the call on this core doomed (pd_lock held): one bounded step of each
 * in turn, the step's shootdowns flushed from b, then pd_lock passed to other cores (pass)
 * before the next. Returns when none is left, so the call returns after they are gone.
 */
void destroy_run(struct shootdown_batch *b, void (*pass)(void))
{
    struct kobj *o;
    while ((o = doom_pop())) {
        leave_killed_caller();
        sched_retire();                 /* killed ECs queued here: their PDs' teardowns wait */
        bool freed = o->type == CAP_PD ? pd_step(pd_of(o), b) : ec_step(ec_of(o), b);
        shootdown_batch_flush(b);
        if (!freed) {
            doom_push(o);
            cpu_pause();                /* it may wait on another core: let it run (TCG, SMT) */
        }
        if (destroy_pending())
            pass();
    }
}
