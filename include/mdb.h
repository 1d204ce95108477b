/*
 * Mapping database: delegation and recursive revocation (lecture: "Mapping Concept").
 *
 * One mechanism for all three space kinds; the unit is a page (SPACE_MEM), a port
 * (SPACE_PIO) or a selector (SPACE_OBJ). A node says: space S holds units
 * [base, base+size) with `rights`, and unit base+i refers to target+i (physical page
 * number, port number, or object value). Every node except a root (inserted with
 * mdb_insert_root) has a parent, the node it was delegated from. Delegation keeps the
 * target, so a child's target range lies inside its parent's target range and its
 * rights are a subset of its parent's. Revocation works on target ranges: revoking
 * in N removes rights from the overlapping part of every node derived from N.
 *
 * The database applies its effects through the space's hooks (struct mdb_ops); the
 * kernel implements them with the page tables, the I/O bitmap or capability slots.
 *
 * Concurrency: the database has no lock of its own. Every call that takes a
 * struct mdb * must be serialised by the caller (one lock per database). Between two
 * mdb_revoke_step() calls of one revoke the lock may be dropped and any other call may
 * run, including other revokes, delegations and teardowns of other spaces; the only
 * rule is that the revoke's space must not be torn down while the revoke is pending.
 * mdb_lookup() only reads; it still needs the lock (or the caller's own exclusion).
 */
#pragma once
#include "types.h"
#include "abi.h"
#include "avl.h"

struct mdb_space;
struct shootdown_batch;     /* the caller's deferred cleanup (include/space_mem.h) */

/* Hooks into a space; called with the database lock held. map/protect/unmap must not fail.
   b is the batch the caller passed to the database call (NULL if its spaces defer nothing):
   the hooks record into it what must wait for the caller's flush (shootdowns, frees). */
struct mdb_ops {
    /* Make [base, base+size) refer to target.. with rights (a hole or an upgrade). */
    void (*map)(struct mdb_space *s, struct shootdown_batch *b, uint64_t base, uint64_t size,
                uint64_t target, unsigned rights);
    /* Reduce the rights of [base, base+size) to rights (non-zero, a subset). */
    void (*protect)(struct mdb_space *s, struct shootdown_batch *b, uint64_t base, uint64_t size,
                    unsigned rights);
    /* Remove [base, base+size) entirely. */
    void (*unmap)(struct mdb_space *s, struct shootdown_batch *b, uint64_t base, uint64_t size);
    /* Optional (NULL: nothing to reserve). Called by mdb_delegate on the destination after
       the nodes are allocated and before the first change: E_OK if the map hooks of mapping
       [base, +size) cannot fail from here on, else E_NOMEM (the delegation then changes
       nothing). */
    int (*reserve)(struct mdb_space *s, uint64_t base, uint64_t size);
};

/* Node memory, injected so the host tests can fail any allocation: alloc charges a node or a
   kin to the memory of space s (kernel: the object heap of s's PD), free returns an
   object to whatever it was charged to. Who pays: a root node and a delegated node the space
   holding it; a kin the space of the node whose children it holds; a node cut by a revoke step
   (mdb_revoke_step) the revoke's space, a node cut by a delegation's upgrade its destination.
   Each lies in, or is derived from, the space it is charged to, so the teardown of that space
   frees it. Every mutating call takes the caller's batch b and hands it to the hooks it calls
   (see struct mdb_ops). */
struct mdb {
    void *(*alloc)(struct mdb_space *s, size_t size);   /* NULL when out of memory */
    void (*free)(void *p);
    uint64_t gen;                   /* internal: bumped by structural changes at pinned nodes
                                       (cursors valid while equal) */
    uint64_t tokens;                /* internal: next deep revoke's pin token */
    uint64_t self;                  /* internal: token of the revoke that is stepping, 0 outside */
    uint64_t born;                  /* internal: nodes delegated so far */
    struct shootdown_batch *batch;  /* internal: the batch of the mutating call that runs */
    struct mdb_space *payer;        /* internal: the space a revoke step's cuts are charged to */
};

#define MDB_PIN_SHARED 1            /* internal: a node on the cursor paths of several revokes */

struct mdb_node;
struct mdb_kin;

/* One space of one PD as the database sees it. Initialise with mdb_space_init. */
struct mdb_space {
    const struct mdb_ops *ops;
    void *owner;                    /* the kernel's space object (for the hooks) */
    uint64_t limit;                 /* valid units are [0, limit) */
    struct avl_node *root;          /* internal: tree of nodes keyed by base */
    size_t nodes;                   /* number of nodes in this space */
    struct mdb_node *finger;        /* internal: the node a search found last, or NULL */
};

/* A node as reported by lookups and walks. */
struct mdb_info {
    const struct mdb_node *node;    /* identity of the node */
    const struct mdb_node *parent;  /* NULL for a root */
    struct mdb_space *space;
    uint64_t base, size, target;
    unsigned rights;
    struct mdb_space *src_space;    /* parent's space, NULL for a root */
    uint64_t src_unit;              /* the parent's unit that base derives from */
};

/* What a delegation did at the destination (for the TLB flush decision). */
#define MDB_CREATED  (1u << 0)  /* a translation was added into a hole: no flush needed */
#define MDB_UPGRADED (1u << 1)  /* rights of an existing translation grew: no flush needed */
/* Never reported: an existing translation overwritten or downgraded (refused with E_BUSY). */

/* A resumable revoke; its fields are private. */
struct mdb_revoke {
    struct mdb_space *space;
    uint64_t next, end;             /* units still to do: [next, end) */
    unsigned rights;                /* rights to remove */
    bool include_self;
    bool deep, resume, after;       /* a piece [next, stop) in progress; at/scan valid; after
                                       scan */
    struct mdb_node *at, *scan;     /* a deep piece's resume point (valid while db->gen == gen) */
    uint64_t stop, gen, token;      /* end of that piece; db->gen after the last step; pin token */
    uint64_t born, debt;            /* db->born after the last step; this step's extra budget */
    uint64_t work;                  /* work the last step did (tests, statistics) */
};

/* Step results besides the status codes of abi.h. */
#define MDB_MORE (-1)               /* mdb_revoke_step/mdb_teardown_step: call again */

void mdb_init(struct mdb *db, void *(*alloc)(struct mdb_space *, size_t), void (*free)(void *));
void mdb_space_init(struct mdb_space *s, const struct mdb_ops *ops, void *owner, uint64_t limit);
int mdb_insert_root(struct mdb *db, struct shootdown_batch *b, struct mdb_space *s, uint64_t base,
                    uint64_t size, uint64_t target, unsigned rights);
struct mdb_root {
    struct mdb_node *node;          /* internal: the reserved node */
};
int  mdb_root_check(struct mdb_space *s, uint64_t base, uint64_t size, uint64_t target,
                    unsigned rights);
int  mdb_root_reserve(struct mdb *db, struct mdb_root *r, struct mdb_space *s);
void mdb_root_cancel(struct mdb *db, struct mdb_root *r);
void mdb_root_perform(struct mdb_root *r, struct shootdown_batch *b, struct mdb_space *s,
                      uint64_t base, uint64_t size, uint64_t target, unsigned rights);

/* A delegation decoded by mdb_delegate_decode, applied by mdb_delegate_perform. */
struct mdb_delegation {
    struct mdb_space *src, *dst;
    uint64_t src_base, dst_base, size;
    unsigned mask;
    unsigned effect;                /* internal: what perform did */
    size_t need, need_kins;         /* internal: nodes and kins perform takes */
    struct mdb_node *nodes;         /* internal: those nodes, reserved by decode */
    struct mdb_kin *kins;           /* internal: those kins */
    struct mdb_node *grow;          /* internal: the node that perform grows into a hole at
                                       dst_base (it merges with one there), or NULL */
};

/* One delegation's bound (mdb_delegate_decode): source pieces, and destination nodes visited
   plus the nodes an upgrade's cut walks. */
#define MDB_DELEGATE_PIECES 16
#define MDB_DELEGATE_WORK   256
int mdb_delegate(struct mdb *db, struct shootdown_batch *b, struct mdb_space *src,
                 uint64_t src_base, struct mdb_space *dst, uint64_t dst_base, uint64_t size,
                 unsigned mask, unsigned *effect, uint64_t *done);
int mdb_delegate_decode(struct mdb *db, struct mdb_delegation *a, struct mdb_space *src,
                        uint64_t src_base, struct mdb_space *dst, uint64_t dst_base,
                        uint64_t size, unsigned mask);
unsigned mdb_delegate_perform(struct mdb *db, struct shootdown_batch *b, struct mdb_delegation *a);
uint64_t mdb_delegate_extent(struct mdb_space *src, uint64_t base, uint64_t size, uint64_t pieces);

/*
 * Revoke in steps: mdb_revoke_begin validates (E_ARG, E_RANGE); each mdb_revoke_step covers at
 * most units units and does about budget work (nodes visited, siblings skipped, nodes cut; holes
 * cost O(log n)) and returns MDB_MORE, E_OK (all done) or E_NOMEM (progress kept, call again
 * later). Units left without rights are unmapped with all they gave. The lock may be dropped
 * between steps (kernel/mdb.c, mdb_revoke_step, has the exact guarantee).
 */

int mdb_revoke_begin(struct mdb_revoke *op, struct mdb_space *s, uint64_t base,
                     uint64_t size, unsigned rights, bool include_self);
int mdb_revoke_step(struct mdb *db, struct shootdown_batch *b, struct mdb_revoke *op,
                    uint64_t units, uint64_t budget);
int mdb_revoke(struct mdb *db, struct shootdown_batch *b, struct mdb_space *s, uint64_t base,
               uint64_t size, unsigned rights, bool include_self);
int mdb_teardown_step(struct mdb *db, struct shootdown_batch *b, struct mdb_space *s,
                      uint64_t budget);
int mdb_lookup(struct mdb_space *s, uint64_t unit, struct mdb_info *out);
bool mdb_range_empty(struct mdb_space *s, uint64_t base, uint64_t size);
size_t mdb_walk(struct mdb_space *s, struct mdb_info *out, size_t max);
bool mdb_check(struct mdb_space *s);
