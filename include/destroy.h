/*
 * Destruction through revocation (docs/abi.md, "Object lifetime"). A kernel object (PD or EC)
 * counts the capability slots that name it (struct kobj.caps, kept by the object space's
 * hooks). When the count drops to zero the object is doomed: no lookup finds it any more,
 * and it joins the list of objects being destroyed. The call that removed the last
 * capability runs destroy_run before it returns, which steps every doomed object through
 * its phases in bounded steps, dropping pd_lock between steps like a revoke. Destroying a
 * PD dooms its ECs and the PDs it created; any object doomed that way while capabilities
 * still name it first revokes its first capability (kobj.cap_pd, kobj.cap_sel), from which
 * every other capability to it derives.
 *
 * Locking: everything here runs under pd_lock, except ec_leave (an EC's own core).
 */
#pragma once
#include "types.h"
#include "mdb.h"

struct pd;
struct shootdown_batch;

struct kobj {
    uint64_t caps;                  /* capability slots naming the object */
    struct kobj *doom_next;         /* link on the list of doomed objects */
    struct pd *cap_pd;              /* the PD whose object space got the first capability */
    uint64_t cap_sel;               /* its selector there */
    struct mdb_revoke op;           /* the revoke of that capability while revoking */
    struct pd *op_pd;               /* the PD whose space op revokes in (busy counted) */
    uint64_t tear;                  /* PD: the space being torn down (0 obj, 1 pio, 2 mem) */
    unsigned type;                  /* CAP_PD or CAP_EC */
    unsigned phase;                 /* where its destruction is (destroy.c) */
    volatile bool doomed;           /* no capability lookup finds it; being destroyed */
    bool revoking;                  /* op is in progress */
};

void destroy_boot_init(void);
void destroy_run(struct shootdown_batch *b, void (*pass)(void));
bool destroy_pending(void);
