/*
 * Mapping database: delegation and recursive, preemptible revocation.
 *
 * Structures. Each space keeps its nodes in an AVL tree keyed by base (lookup and
 * insertion O(log n)). Derivation is an explicit tree whose child lists belong to kins:
 * a node's children hang off its kin, which the pieces cut from one node share, and a
 * child names its parent's kin, not the parent, so a cut or a merge moves no child (O(1)
 * whatever the children). The parent itself is the piece of that kin holding the unit
 * the child derives from (O(log n)). Targets are preserved by delegation, so every child
 * lies inside its parent's target range; every walk below works in target coordinates.
 *
 * Per-unit semantics (what the host model checks): a unit of a space holds
 * (rights, target, parent unit) or nothing. Node boundaries are not visible: the
 * database splits nodes where an operation needs it and merges neighbours with the
 * same parent, rights and linear target again.
 *
 * Every mutating call first decodes (validates, counts the nodes it will need,
 * allocates them all) and only then performs, so a failing call changes nothing.
 * Nothing here recurses over the derivation tree: walks are iterative (kernel stack).
 */
#include "mdb.h"
#include "compiler.h"
#include "panic.h"

/* The children of the pieces of one node (a piece's children are those in its target range):
   every piece has the same space and the same offset from target to unit. */
struct mdb_kin {
    struct mdb_space *space;            /* the pieces' space */
    uint64_t off;                       /* base - target of every piece (mod 2^64) */
    struct mdb_node *child, *last;      /* the derived nodes, oldest first */
    uint64_t refs;                      /* pieces that share it */
    struct mdb_node *owner;             /* one of them (NULL: not known) */
    struct mdb_kin *spare;              /* pool link */
};

struct mdb_node {
    struct mdb_space *space;
    uint64_t base, size, target;        /* units [base, base+size) -> target.. */
    unsigned rights;
    struct avl_node avl;                /* link in the space's tree, keyed by base */
    struct mdb_kin *up;                 /* the parent's kin (holds this node), NULL for a root */
    struct mdb_kin *kin;                /* this node's children, shared with its pieces, or NULL */
    struct mdb_node *next, *prev;       /* siblings in up (next: pool link) */
    uint64_t pin;                       /* token of the deep revoke whose cursor path holds it,
                                           MDB_PIN_SHARED, or 0 */
};

#define MERGE_FACTOR 4       /* a deep piece merges up to this many times its budget at its edges */
#define DEBT_FACTOR 4        /* a deep step's extra budget for nodes delegated since, in budgets */

/* Preallocated nodes (linked through next) and kins (through spare) of one operation. */
struct pool {
    struct mdb_node *head;
    struct mdb_kin *kins;
};

/* ---- a space's nodes by base (include/avl.h) ---------------------------------- */

/* The node that embeds tree link a, or NULL. */
static struct mdb_node *node_of(struct avl_node *a)
{
    return a ? container_of(a, struct mdb_node, avl) : NULL;
}

/* The key of tree link a: its node's base. */
static uint64_t base_key(const struct avl_node *a)
{
    return container_of(a, const struct mdb_node, avl)->base;
}

/* The node with the largest base <= unit, or NULL. */
static struct mdb_node *tree_floor(struct mdb_space *s, uint64_t unit)
{
    return node_of(avl_floor(s->root, unit, base_key));
}

/* The node with the smallest base >= unit, or NULL. */
static struct mdb_node *tree_ceil(struct mdb_space *s, uint64_t unit)
{
    return node_of(avl_ceil(s->root, unit, base_key));
}

/* End (exclusive) of n's unit range. */
static uint64_t node_end(const struct mdb_node *n)
{
    return n->base + n->size;
}

/* True if the node n (or NULL) of space s holds unit. */
static bool holds(const struct mdb_node *n, const struct mdb_space *s, uint64_t unit)
{
    return n && n->space == s && n->base <= unit && unit < node_end(n);
}

/* The node of s containing unit, or NULL. A call's checks and effects look up the same units
 * again and again: the node of s found last (s->finger) is tried first. */
static struct mdb_node *tree_find(struct mdb_space *s, uint64_t unit)
{
    if (holds(s->finger, s, unit))
        return s->finger;
    struct mdb_node *n = tree_floor(s, unit);
    if (!holds(n, s, unit))
        return NULL;
    s->finger = n;
    return n;
}

/* The node containing unit, else the first one after it, or NULL. */
static struct mdb_node *tree_from(struct mdb_space *s, uint64_t unit)
{
    if (holds(s->finger, s, unit))
        return s->finger;
    struct avl_node *above;
    struct mdb_node *n = node_of(avl_around(s->root, unit, base_key, &above));
    if (!holds(n, s, unit))
        return node_of(above);
    s->finger = n;
    return n;
}

/* The node of n's space directly before n, or NULL. */
static struct mdb_node *tree_pred(struct mdb_node *n)
{
    return n->base ? tree_floor(n->space, n->base - 1) : NULL;
}

/* Add n to its space's tree. */
static void tree_add(struct mdb_node *n)
{
    avl_insert(&n->space->root, &n->avl, base_key);
    n->space->nodes++;
}

/* Remove n from its space's tree. */
static void tree_del(struct mdb_node *n)
{
    if (n->space->finger == n)
        n->space->finger = NULL;
    avl_remove(&n->space->root, &n->avl, base_key);
    n->space->nodes--;
}

/* ---- derivation tree ------------------------------------------------------------ */

/* Whether kin k holds any child. */
static bool kin_has(const struct mdb_kin *k)
{
    return k && k->child;
}

/* The first node of x's kin (a child of x or of another piece of it), or NULL. */
static struct mdb_node *kids(const struct mdb_node *x)
{
    return x->kin ? x->kin->child : NULL;
}

/* The node n derives from (the piece of n's parent kin holding n's units), NULL for a root. */
static struct mdb_node *parent_of(const struct mdb_node *n)
{
    return n->up ? tree_find(n->up->space, n->target + n->up->off) : NULL;
}

/* Make n the last child in kin k (NULL: a root). Appending keeps a pending deep revoke's
   cursor valid: a new child is reached by the scans still to come (see revoke_deep). */
static void child_link(struct mdb_kin *k, struct mdb_node *n)
{
    n->up = k;
    n->next = NULL;
    n->prev = k ? k->last : NULL;
    if (!k)
        return;
    if (n->prev)
        n->prev->next = n;
    else
        k->child = n;
    k->last = n;
}

/* Whether n lies on a pending deep revoke's cursor path (see revoke_deep). */
static bool pinned(const struct mdb_node *n)
{
    return n->pin != 0;
}

/* A structural change at n: if another op than the one stepping (db->self) may have n on
   its cursor path, every pending deep cursor becomes invalid (and n's pin is spent). */
static void touch(struct mdb *db, struct mdb_node *n)
{
    if (n->pin && n->pin != db->self) {
        db->gen++;
        n->pin = 0;
    }
}

/* Remove n from its parent kin's child list. */
static void child_unlink(struct mdb_node *n)
{
    struct mdb_kin *k = n->up;
    if (n->prev)
        n->prev->next = n->next;
    else if (k)
        k->child = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else if (k)
        k->last = n->prev;
    n->up = NULL;
    n->next = n->prev = NULL;
}

/* Piece n gives up its share of its kin (if any); the last piece frees it, empty by then. */
static void kin_leave(struct mdb *db, struct mdb_node *n)
{
    struct mdb_kin *k = n->kin;
    n->kin = NULL;
    if (!k)
        return;
    if (k->owner == n)
        k->owner = NULL;
    if (!--k->refs) {
        ASSERT(!k->child);
        db->free(k);
    }
}

/* Free kin k (NULL: none) if it is empty and its one piece is known (which then has none), so
   a node keeps no kin once nothing derives from it. */
static void kin_shrink(struct mdb *db, struct mdb_kin *k)
{
    if (k && !k->child && k->refs == 1 && k->owner) {
        k->owner->kin = NULL;
        db->free(k);
    }
}

/* Whether n's target range overlaps [t0, t1). */
static bool overlaps(const struct mdb_node *n, uint64_t t0, uint64_t t1)
{
    return n->target < t1 && t0 < n->target + n->size;
}

/* Whether target t lies strictly inside n's target range (a split point). */
static bool straddles(const struct mdb_node *n, uint64_t t)
{
    return n->target < t && t < n->target + n->size;
}

/* Whether c, a node of x's kin, is a child of x overlapping [t0, t1) (a child lies inside
   one piece of its parent kin, and the pieces' target ranges are disjoint). */
static bool kid_overlaps(const struct mdb_node *x, const struct mdb_node *c, uint64_t t0,
                         uint64_t t1)
{
    return overlaps(c, MAX(t0, x->target), MIN(t1, x->target + x->size));
}

/* The first of n and its later siblings that is a child of x overlapping [t0, t1), or NULL. */
static struct mdb_node *first_overlap(const struct mdb_node *x, struct mdb_node *n, uint64_t t0,
                                      uint64_t t1)
{
    while (n && !kid_overlaps(x, n, t0, t1))
        n = n->next;
    return n;
}

/* Pre-order successor of x in root's subtree, skipping x's children; NULL at the end. */
static struct mdb_node *walk_skip(struct mdb_node *root, struct mdb_node *x, uint64_t t0,
                                  uint64_t t1)
{
    while (x != root) {
        struct mdb_node *p = parent_of(x), *s = first_overlap(p, x->next, t0, t1);
        if (s)
            return s;
        x = p;
    }
    return NULL;
}

/* Pre-order successor of x among the nodes of root's subtree overlapping [t0, t1). */
static struct mdb_node *walk_next(struct mdb_node *root, struct mdb_node *x, uint64_t t0,
                                  uint64_t t1)
{
    struct mdb_node *c = first_overlap(x, kids(x), t0, t1);
    return c ? c : walk_skip(root, x, t0, t1);
}

/* ---- node memory ---------------------------------------------------------------- */

static void pool_drain(struct mdb *db, struct pool *p);

/* Allocate n nodes charged to space ns and k kins charged to space ks into pool; E_NOMEM (pool
   emptied again) if any allocation fails. */
static int pool_fill(struct mdb *db, struct pool *p, struct mdb_space *ns, size_t n,
                     struct mdb_space *ks, size_t k)
{
    p->head = NULL;
    p->kins = NULL;
    for (size_t i = 0; i < n + k; i++) {
        void *x = i < n ? db->alloc(ns, sizeof(struct mdb_node))
                        : db->alloc(ks, sizeof(struct mdb_kin));
        if (!x) {
            pool_drain(db, p);
            return E_NOMEM;
        }
        if (i < n) {
            ((struct mdb_node *)x)->next = p->head;
            p->head = x;
        } else {
            ((struct mdb_kin *)x)->spare = p->kins;
            p->kins = x;
        }
    }
    return E_OK;
}

/* Take a zeroed node from the pool; the decode step counted it, so it is there. */
static struct mdb_node *pool_take(struct pool *p)
{
    struct mdb_node *x = p->head;
    ASSERT(x);
    p->head = x->next;
    __builtin_memset(x, 0, sizeof(*x));
    return x;
}

/* Take an empty kin for the pieces of n from the pool (decode counted it) and give it to n. */
static struct mdb_kin *kin_take(struct pool *p, struct mdb_node *n)
{
    struct mdb_kin *k = p->kins;
    ASSERT(k);
    p->kins = k->spare;
    *k = (struct mdb_kin){ n->space, n->base - n->target, NULL, NULL, 1, n, NULL };
    n->kin = k;
    return k;
}

/* Return the nodes and kins the perform step did not need. */
static void pool_drain(struct mdb *db, struct pool *p)
{
    struct mdb_node *x;
    struct mdb_kin *k;
    while ((x = p->head)) {
        p->head = x->next;
        db->free(x);
    }
    while ((k = p->kins)) {
        p->kins = k->spare;
        db->free(k);
    }
}

/* Remove childless n from its space and the derivation tree, and free it. */
static void node_drop(struct mdb *db, struct mdb_node *n)
{
    struct mdb_kin *up = n->up;
    ASSERT(!n->kin || n->kin->refs > 1 || !n->kin->child);
    touch(db, n);
    tree_del(n);
    child_unlink(n);
    kin_leave(db, n);
    db->free(n);
    kin_shrink(db, up);
}

/* ---- splitting and merging -------------------------------------------------------- */

/* Make l (a new piece of x, its units and targets set) a node beside x: x's rights, kin and
   parent kin (the cut moves no child: each stays in the kin, in the piece holding it). */
static void piece_add(struct mdb_node *x, struct mdb_node *l)
{
    l->space = x->space;
    l->rights = x->rights;
    l->kin = x->kin;
    if (l->kin)
        l->kin->refs++;
    tree_add(l);
    child_link(x->up, l);
}

/* Split x at target t (inside x): a new node takes the part below t, x keeps the rest. */
static void split_lo(struct mdb *db, struct pool *p, struct mdb_node *x, uint64_t t)
{
    struct mdb_node *l = pool_take(p);
    uint64_t n = t - x->target;
    touch(db, x);
    l->base = x->base;
    l->size = n;
    l->target = x->target;
    /* Shrink x first: its key grows but stays below its successor's, so the tree holds. */
    x->base += n;
    x->size -= n;
    x->target = t;
    piece_add(x, l);
}

/* Split x at target t (inside x): a new node takes the part from t on, x keeps the rest. */
static void split_hi(struct mdb *db, struct pool *p, struct mdb_node *x, uint64_t t)
{
    struct mdb_node *h = pool_take(p);
    uint64_t n = t - x->target;
    touch(db, x);
    h->base = x->base + n;
    h->size = x->size - n;
    h->target = t;
    x->size = n;
    piece_add(x, h);
}

/* Number of nodes split_range(root, t0, t1) will allocate. */
static size_t split_count(struct mdb_node *root, uint64_t t0, uint64_t t1)
{
    size_t n = 0;
    for (struct mdb_node *x = root; x; x = walk_next(root, x, t0, t1))
        n += straddles(x, t0) + straddles(x, t1);
    return n;
}

/* Split every node of root's subtree so that each lies wholly inside or outside [t0, t1). */
static void split_range(struct mdb *db, struct pool *p, struct mdb_node *root, uint64_t t0,
                        uint64_t t1)
{
    /* Pre-order: a parent is split before its children (a piece joins its parent's kin). */
    for (struct mdb_node *x = root; x; x = walk_next(root, x, t0, t1)) {
        if (straddles(x, t0))
            split_lo(db, p, x, t0);
        if (straddles(x, t1))
            split_hi(db, p, x, t1);
    }
}

/* Whether b directly follows a in the same space and can become one node with it without
   moving a child: the same parent and rights, and one kin for both (or one has no child). */
static bool mergeable(const struct mdb_node *a, const struct mdb_node *b)
{
    return node_end(a) == b->base && a->target + a->size == b->target && a->up == b->up &&
           a->rights == b->rights &&
           (a->kin == b->kin || !kin_has(a->kin) || !kin_has(b->kin)) &&
           (!a->up || parent_of(a) == parent_of(b));
}

/* Fold neighbour y of x (same space, mergeable) into x and free y: O(1), no child moves. */
static void absorb(struct mdb *db, struct mdb_node *x, struct mdb_node *y)
{
    touch(db, x);
    touch(db, y);
    if (x->kin == y->kin) {
        if (y->kin)
            y->kin->refs--;             /* x still shares it */
        y->kin = NULL;
    } else if (!kin_has(y->kin)) {
        kin_leave(db, y);
    } else {
        kin_leave(db, x);               /* x has no child: it takes y's kin and share */
        x->kin = y->kin;
        y->kin = NULL;
    }
    if (x->kin)
        x->kin->owner = x;
    kin_shrink(db, x->kin);
    tree_del(y);                        /* before x's key may take y's base */
    if (y->base < x->base) {
        x->base = y->base;
        x->target = y->target;
    }
    x->size += y->size;
    child_unlink(y);
    db->free(y);
}

/* Merge x with its neighbours in its space where nothing distinguishes them; pinned nodes
   (a pending deep revoke's cursor path) stay split, which no unit can see. Returns the node
   after x then, or NULL. */
static struct mdb_node *merge_neighbours(struct mdb *db, struct mdb_node *x)
{
    if (x->kin && x->kin->refs == 1)
        x->kin->owner = x;
    kin_shrink(db, x->kin);
    if (pinned(x))
        return tree_ceil(x->space, node_end(x));
    struct mdb_node *q = tree_pred(x);
    if (q && !pinned(q) && mergeable(q, x))
        absorb(db, x, q);
    q = tree_ceil(x->space, node_end(x));
    if (!q || pinned(q) || !mergeable(x, q))
        return q;
    absorb(db, x, q);
    return tree_ceil(x->space, node_end(x));
}

/* Merge every node of root's subtree overlapping [t0, t1) with its neighbours. */
static void merge_range(struct mdb *db, struct mdb_node *root, uint64_t t0, uint64_t t1)
{
    /* Pre-order: parents merge first, so pieces of their children get equal parents. */
    for (struct mdb_node *x = root; x; x = walk_next(root, x, t0, t1))
        merge_neighbours(db, x);
}

/* ---- setup, roots, lookup ------------------------------------------------------- */

/* Set up an empty database whose nodes come from alloc/free (see struct mdb: who pays). */
void mdb_init(struct mdb *db, void *(*alloc)(struct mdb_space *, size_t), void (*free)(void *))
{
    db->alloc = alloc;
    db->free = free;
    db->payer = NULL;
    db->gen = 1;
    db->tokens = MDB_PIN_SHARED + 1;    /* 0: not pinned */
    db->born = 0;
    db->self = 0;
}

/* Set up an empty space with valid units [0, limit) and hooks ops. */
void mdb_space_init(struct mdb_space *s, const struct mdb_ops *ops, void *owner, uint64_t limit)
{
    s->ops = ops;
    s->owner = owner;
    s->limit = limit;
    s->root = NULL;
    s->nodes = 0;
    s->finger = NULL;
}

/* E_ARG for an empty range, E_RANGE if [base, base+size) wraps or leaves s; else E_OK. */
static int range_check(struct mdb_space *s, uint64_t base, uint64_t size)
{
    if (!size)
        return E_ARG;
    if (base + size < base || base + size > s->limit)
        return E_RANGE;
    return E_OK;
}

/* Check an underived range for s (boot resources): E_ARG, E_RANGE, E_BUSY if any unit is held. */
int mdb_root_check(struct mdb_space *s, uint64_t base, uint64_t size, uint64_t target,
                   unsigned rights)
{
    int err = range_check(s, base, size);
    if (err)
        return err;
    if (!rights || target + size < target)
        return E_ARG;
    struct mdb_node *n = tree_from(s, base);
    return n && n->base < base + size ? E_BUSY : E_OK;
}

/* Reserve the node of one mdb_root_perform into s, charged to s: E_OK or E_NOMEM. */
int mdb_root_reserve(struct mdb *db, struct mdb_root *r, struct mdb_space *s)
{
    r->node = db->alloc(s, sizeof(*r->node));
    return r->node ? E_OK : E_NOMEM;
}

/* Give back a reserve mdb_root_perform did not take. */
void mdb_root_cancel(struct mdb *db, struct mdb_root *r)
{
    db->free(r->node);
    r->node = NULL;
}

/* Give s the range mdb_root_check accepted, from the node of r; its map hook gets the caller's
 * batch b. Cannot fail. */
void mdb_root_perform(struct mdb_root *r, struct shootdown_batch *b, struct mdb_space *s,
                      uint64_t base, uint64_t size, uint64_t target, unsigned rights)
{
    struct mdb_node *n = r->node;
    ASSERT(n);
    r->node = NULL;
    __builtin_memset(n, 0, sizeof(*n));
    n->space = s;
    n->base = base;
    n->size = size;
    n->target = target;
    n->rights = rights;
    tree_add(n);
    s->ops->map(s, b, base, size, target, rights);
}

/* Give s the underived range [base, +size) -> target.. (boot resources): mdb_root_check's
 * statuses (E_BUSY if any unit is held already), E_NOMEM, E_OK. */
int mdb_insert_root(struct mdb *db, struct shootdown_batch *b, struct mdb_space *s, uint64_t base,
                    uint64_t size, uint64_t target, unsigned rights)
{
    struct mdb_root r;
    int err = mdb_root_check(s, base, size, target, rights);
    if (!err)
        err = mdb_root_reserve(db, &r, s);
    if (!err)
        mdb_root_perform(&r, b, s, base, size, target, rights);
    return err;
}

/* Fill out with the public view of n. */
static void info_fill(const struct mdb_node *n, struct mdb_info *out)
{
    out->node = n;
    out->parent = parent_of(n);
    out->space = n->space;
    out->base = n->base;
    out->size = n->size;
    out->target = n->target;
    out->rights = n->rights;
    out->src_space = n->up ? n->up->space : NULL;
    out->src_unit = n->up ? n->target + n->up->off : 0;
}

/* Report the node of s holding unit in *out; E_NOENT if the unit is empty. */
int mdb_lookup(struct mdb_space *s, uint64_t unit, struct mdb_info *out)
{
    struct mdb_node *n = tree_find(s, unit);
    if (!n)
        return E_NOENT;
    info_fill(n, out);
    return E_OK;
}

/* Whether s holds nothing in units [base, base+size) (size > 0, no wrap): O(log n). */
bool mdb_range_empty(struct mdb_space *s, uint64_t base, uint64_t size)
{
    struct mdb_node *n = tree_from(s, base);
    return !n || n->base >= base + size;
}

/* Report up to max nodes of s in base order; returns the number of nodes of s. */
size_t mdb_walk(struct mdb_space *s, struct mdb_info *out, size_t max)
{
    size_t i = 0;
    for (struct mdb_node *n = tree_ceil(s, 0); n; n = tree_ceil(s, node_end(n)), i++)
        if (i < max)
            info_fill(n, &out[i]);
    return i;
}

/* ---- delegation ----------------------------------------------------------------- */

static uint64_t count_upto(struct mdb_node *root, uint64_t t0, uint64_t t1, uint64_t limit);

/*
 * One walk over a delegation's pieces: decode checks and counts (pool unused), perform
 * creates and upgrades from the nodes decode reserved. The same walker serves both, so
 * perform sees the pieces decode counted.
 */
struct deleg_walk {
    struct mdb *db;
    struct mdb_delegation *a;
    struct pool *pool;                  /* perform: the reserved nodes */
    const struct mdb_node *kin_for;     /* decode: the last source piece counted a kin for */
    uint64_t work;                      /* decode: destination nodes visited and upgrade walks */
    uint64_t stop;                      /* decode: where a call cut short ends */
    bool holes, cuts;                   /* decode: a hole seen, an upgrade that cuts seen */
    /* dst node d holds dst units from d0 on that receive targets [t0, t1) from piece n. */
    int (*occupied)(struct deleg_walk *w, struct mdb_node *n, struct mdb_node *d, uint64_t d0,
                    uint64_t t0, uint64_t t1);
    /* dst units [d0, d1) are empty and receive targets t0.. from piece n; E_OK, or MDB_MORE
       (decode: the call ends at stop). */
    int (*hole)(struct deleg_walk *w, struct mdb_node *n, uint64_t d0, uint64_t d1, uint64_t t0);
};

/* Whether an upgrade of d's targets [t0, t1) must cut d (and what derives from it). */
static bool upgrade_cuts(const struct mdb_node *d, uint64_t t0, uint64_t t1)
{
    return straddles(d, t0) || straddles(d, t1);
}

/*
 * Decode: end the call before dst unit d0 (not its first). A call either fills holes or upgrades
 * with cuts, never both: decode counts the cuts in the tree as it stands, and a node perform
 * makes or grows for a hole of the same call could straddle one of them.
 */
static int deleg_defer(struct deleg_walk *w, uint64_t d0)
{
    ASSERT(d0 > w->a->dst_base);
    w->stop = d0;
    return MDB_MORE;
}

/* Decode: E_BUSY unless d holds the units derived from n with the same targets; count the
   splits an upgrade needs and its walk (nodes visited, siblings skipped) in w->work. */
static int deleg_check(struct deleg_walk *w, struct mdb_node *n, struct mdb_node *d,
                       uint64_t d0, uint64_t t0, uint64_t t1)
{
    w->work++;
    if (parent_of(d) != n || d->target - d->base != t0 - d0)
        return E_BUSY;
    if ((d->rights | (n->rights & w->a->mask)) == d->rights || !upgrade_cuts(d, t0, t1))
        return E_OK;
    if (w->holes)
        return deleg_defer(w, d0);
    w->cuts = true;
    w->work += count_upto(d, t0, t1, MDB_DELEGATE_WORK);
    if (w->work <= MDB_DELEGATE_WORK)
        w->a->need += split_count(d, t0, t1);
    return E_OK;
}

/* Perform: raise the rights of exactly the units deleg_check accepted. */
static int deleg_raise(struct deleg_walk *w, struct mdb_node *n, struct mdb_node *d,
                       uint64_t d0, uint64_t t0, uint64_t t1)
{
    struct mdb_delegation *a = w->a;
    unsigned want = d->rights | (n->rights & a->mask);
    (void)d0;
    if (want == d->rights)
        return E_OK;
    /* Cut d (and what is derived from it) to the delegated units, then raise rights (a
       done node may need the revoke's rights again: pending cursors become invalid). */
    if (upgrade_cuts(d, t0, t1))
        split_range(w->db, w->pool, d, t0, t1);
    w->db->gen++;
    d->rights = want;
    a->dst->ops->map(a->dst, w->db->batch, d->base, d->size, d->target, want);
    a->effect |= MDB_UPGRADED;
    return E_OK;
}

/* n's newest child if it ends at unit d0 of dst and a new child of n at targets t0.. with
   rights would merge with it (mergeable, unpinned), or NULL: O(1), no search. */
static struct mdb_node *deleg_extends(struct mdb_space *dst, struct mdb_node *n, uint64_t d0,
                                      uint64_t t0, unsigned rights)
{
    struct mdb_node *q = n->kin ? n->kin->last : NULL;
    return q && q->space == dst && node_end(q) == d0 && q->target + q->size == t0 &&
           q->rights == rights && !pinned(q) && parent_of(q) == n ? q : NULL;
}

/* Decode: count the node a hole takes, and the kin of n if n has none yet. A hole at the
   call's first unit that a node before it can grow into takes none (a->grow): nothing changes
   the destination before perform gets there. */
static int deleg_count(struct deleg_walk *w, struct mdb_node *n, uint64_t d0, uint64_t d1,
                       uint64_t t0)
{
    struct mdb_delegation *a = w->a;
    (void)d1;
    if (w->cuts)
        return deleg_defer(w, d0);
    w->holes = true;
    w->work++;
    if (d0 == a->dst_base && (a->grow = deleg_extends(a->dst, n, d0, t0, n->rights & a->mask)))
        return E_OK;
    a->need++;
    if (!n->kin && w->kin_for != n) {
        w->a->need_kins++;
        w->kin_for = n;
    }
    return E_OK;
}

/* Perform: derive dst units [d0, d1) from n: a new node, or at dst_base the growth of the node
   before it that decode found (consecutive delegations: no tree insert and remove). */
static int deleg_derive(struct deleg_walk *w, struct mdb_node *n, uint64_t d0, uint64_t d1,
                        uint64_t t0)
{
    struct mdb_delegation *a = w->a;
    unsigned rights = n->rights & a->mask;
    struct mdb_node *x = d0 == a->dst_base ? a->grow : NULL;
    if (x) {
        /* As a new node that absorbs x: x becomes n's newest child, so the scans of a pending
           deep revoke of n that are still to come reach the units it gains. */
        touch(w->db, x);
        x->size += d1 - d0;
        child_unlink(x);
        child_link(n->kin, x);
    } else {
        x = pool_take(w->pool);
        x->space = a->dst;
        x->base = d0;
        x->size = d1 - d0;
        x->target = t0;
        x->rights = rights;
        tree_add(x);
        child_link(n->kin ? n->kin : kin_take(w->pool, n), x);
    }
    w->db->born++;
    a->dst->ops->map(a->dst, w->db->batch, d0, d1 - d0, t0, x->rights);
    a->effect |= MDB_CREATED;
    return E_OK;
}

/* Walk the destination units [d0, d1) that receive targets t0.. from n (see deleg_pass). */
static int deleg_piece(struct deleg_walk *w, struct mdb_node *n, uint64_t d0, uint64_t d1,
                       uint64_t t0)
{
    while (d0 < d1) {
        struct mdb_node *d = tree_from(w->a->dst, d0);
        if (!d || d->base >= d1)
            return w->hole(w, n, d0, d1, t0);
        if (d->base > d0) {
            uint64_t gap = d->base - d0;
            int err = w->hole(w, n, d0, d->base, t0);
            if (err)
                return err;
            d0 += gap;
            t0 += gap;
            continue;
        }
        uint64_t len = MIN(node_end(d), d1) - d0;
        size_t need = w->a->need;
        int err = w->occupied(w, n, d, d0, t0, t0 + len);
        if (err)
            return err;
        if (w->work > MDB_DELEGATE_WORK) {
            w->a->need = need;          /* decode: the call ends before d (or is refused) */
            w->stop = d0;
            return d0 > w->a->dst_base ? MDB_MORE : E_BUSY;
        }
        d0 += len;
        t0 += len;
    }
    return E_OK;
}

/* Walk the source range piece by piece (one piece per source node) with w's handlers. */
static int deleg_pass(struct deleg_walk *w)
{
    struct mdb_delegation *a = w->a;
    uint64_t off = 0;
    while (off < a->size) {
        struct mdb_node *n = tree_find(a->src, a->src_base + off);
        if (!n)
            return E_NOENT;
        if (!(n->rights & a->mask))
            return E_PERM;
        uint64_t s0 = a->src_base + off;
        uint64_t len = MIN(node_end(n), a->src_base + a->size) - s0;
        uint64_t d0 = a->dst_base + off;
        int err = deleg_piece(w, n, d0, d0 + len, n->target + (s0 - n->base));
        if (err == MDB_MORE) {
            a->size = w->stop - a->dst_base;   /* the bounded prefix */
            return E_OK;
        }
        if (err)
            return err;
        off += len;
    }
    return E_OK;
}

/*
 * Decode a delegation of src units [src_base, +size) into dst at dst_base with rights
 * (source & mask) into *a: every check, then the nodes and the destination's reserve hook.
 * The delegation is bounded: a->size becomes the longest prefix of at most
 * MDB_DELEGATE_PIECES source pieces (mdb_delegate_extent) whose destination nodes and
 * upgrade walks cost at most MDB_DELEGATE_WORK (at least the first destination node) and that
 * does not both fill holes and cut nodes for an upgrade (deleg_defer).
 * Errors, nothing changed or held: E_ARG (size or mask 0), E_RANGE (wrap or beyond a
 * space's limit), E_NOENT (a source unit is empty), E_PERM (a source unit has none of
 * mask), E_BUSY (a destination unit holds something else, or the upgrade of the first
 * destination node alone would cost more than MDB_DELEGATE_WORK), E_NOMEM. On E_OK the
 * caller runs mdb_delegate_perform(a) before the database changes otherwise.
 */
int mdb_delegate_decode(struct mdb *db, struct mdb_delegation *a, struct mdb_space *src,
                        uint64_t src_base, struct mdb_space *dst, uint64_t dst_base,
                        uint64_t size, unsigned mask)
{
    *a = (struct mdb_delegation){ .src = src, .dst = dst, .src_base = src_base,
                                  .dst_base = dst_base, .size = size, .mask = mask };
    struct deleg_walk w = { .db = db, .a = a, .occupied = deleg_check, .hole = deleg_count };
    struct pool p;
    int err = range_check(src, src_base, size);
    if (!err)
        err = range_check(dst, dst_base, size);
    if (!err && !mask)
        err = E_ARG;
    if (!err) {
        a->size = mdb_delegate_extent(src, src_base, size, MDB_DELEGATE_PIECES);
        err = deleg_pass(&w);
    }
    if (!err)
        err = pool_fill(db, &p, dst, a->need, src, a->need_kins);
    if (err)
        return err;
    /* The nodes are taken: what the hooks need comes from what is left. */
    if (dst->ops->reserve && (err = dst->ops->reserve(dst, dst_base, a->size))) {
        pool_drain(db, &p);
        return err;
    }
    a->nodes = p.head;
    a->kins = p.kins;
    return E_OK;
}

/*
 * Apply a delegation mdb_delegate_decode accepted: destination units that were empty get
 * derived nodes (MDB_CREATED), derived ones raised rights (MDB_UPGRADED); returns that
 * effect; the hooks get the caller's batch b. Cannot fail: decode counted and reserved
 * everything.
 */
unsigned mdb_delegate_perform(struct mdb *db, struct shootdown_batch *b, struct mdb_delegation *a)
{
    db->batch = b;
    struct pool p = { a->nodes, a->kins };
    struct deleg_walk w = { .db = db, .a = a, .pool = &p, .occupied = deleg_raise,
                            .hole = deleg_derive };
    int err = deleg_pass(&w);
    ASSERT(err == E_OK);
    pool_drain(db, &p);
    a->nodes = NULL;
    a->kins = NULL;
    /* Merge what the delegation created or cut with equal neighbours (O(1) each). */
    for (struct mdb_node *d = tree_from(a->dst, a->dst_base); d && d->base < a->dst_base + a->size;)
        d = merge_neighbours(db, d);
    return a->effect;
}

/* Delegate a bounded prefix of src units [src_base, +size) into dst at dst_base with rights
 * (source & mask): the units mdb_delegate_decode takes, *done of them. Destination units must
 * be empty (*effect gets MDB_CREATED) or already derived from the same source units (their
 * rights grow: MDB_UPGRADED; equal rights: nothing); never overwrites or downgrades. Errors,
 * nothing changed: mdb_delegate_decode's. */
int mdb_delegate(struct mdb *db, struct shootdown_batch *b, struct mdb_space *src,
                 uint64_t src_base, struct mdb_space *dst, uint64_t dst_base, uint64_t size,
                 unsigned mask, unsigned *effect, uint64_t *done)
{
    struct mdb_delegation a;
    int err = mdb_delegate_decode(db, &a, src, src_base, dst, dst_base, size, mask);
    if (err)
        return err;
    *effect = mdb_delegate_perform(db, b, &a);
    *done = a.size;
    return E_OK;
}

/* The longest prefix of src [base, +size) (size > 0) of at most pieces nodes or holes (at least
 * one): into an empty destination, mdb_delegate of that prefix creates at most pieces nodes and
 * visits O(pieces) (mdb_delegate_decode bounds each delegation by it). */
uint64_t mdb_delegate_extent(struct mdb_space *src, uint64_t base, uint64_t size, uint64_t pieces)
{
    uint64_t off = 0;
    if (size == 1)
        return 1;                       /* one unit: one node or one hole */
    for (uint64_t k = 0; off < size && k < MAX(pieces, 1); k++) {
        struct mdb_node *n = tree_from(src, base + off);
        if (!n || n->base >= base + size)
            return size;                /* a hole up to the end */
        off = n->base > base + off ? n->base - base : MIN(node_end(n) - base, size);
    }
    return off;
}

/* ---- revocation ----------------------------------------------------------------- */

/* Free n and everything derived from it, unmapping each; iterative, leaves first, each node
   of a kin scanned once per visit of its piece. */
static void subtree_drop(struct mdb *db, struct mdb_node *n)
{
    struct mdb_node *x = n, *c = kids(n);
    for (;;) {
        if (c && !kid_overlaps(x, c, x->target, x->target + x->size)) {
            c = c->next;
        } else if (c) {
            x = c;
            c = kids(x);
        } else {
            struct mdb_node *up = parent_of(x), *nx = x->next;
            bool last = x == n;
            x->space->ops->unmap(x->space, db->batch, x->base, x->size);
            node_drop(db, x);
            if (last)
                return;
            x = up;
            c = nx;
        }
    }
}

/* Remove rights from root's subtree (all inside [t0, t1) after splitting); root only if self. */
static void rights_remove(struct mdb *db, struct mdb_node *root, uint64_t t0, uint64_t t1,
                          unsigned rights, bool self)
{
    struct mdb_node *x = root;
    while (x) {
        unsigned left = x->rights & ~rights;
        if (x == root && !self) {
            x = walk_next(root, x, t0, t1);
        } else if (!left) {
            /* Children hold subsets of x's rights: they lose everything too. */
            struct mdb_node *nx = x == root ? NULL : walk_skip(root, x, t0, t1);
            subtree_drop(db, x);
            x = nx;
        } else {
            if (left != x->rights) {
                x->rights = left;
                x->space->ops->protect(x->space, db->batch, x->base, x->size, left);
            }
            x = walk_next(root, x, t0, t1);
        }
    }
}

/* Revoke rights from the part [u0, u1) of node n (units of n's space); E_NOMEM: no change. */
static int revoke_piece(struct mdb *db, struct mdb_node *n, uint64_t u0, uint64_t u1,
                        unsigned rights, bool self)
{
    uint64_t t0 = n->target + (u0 - n->base), t1 = t0 + (u1 - u0);
    struct pool p;
    int err = pool_fill(db, &p, db->payer, split_count(n, t0, t1), NULL, 0);
    if (err)
        return err;
    split_range(db, &p, n, t0, t1);
    pool_drain(db, &p);
    bool gone = self && !(n->rights & ~rights);
    rights_remove(db, n, t0, t1, rights, self);
    if (!gone)
        merge_range(db, n, t0, t1);
    return E_OK;
}

/*
 * Work of a walk over the nodes of root's subtree overlapping [t0, t1), pre-order, with
 * every sibling it skips counted; stops counting above limit (returns limit + 1 then).
 * revoke_piece's walks visit the same nodes and siblings, so this bounds their work.
 */
static uint64_t count_upto(struct mdb_node *root, uint64_t t0, uint64_t t1, uint64_t limit)
{
    uint64_t n = 1;
    struct mdb_node *x = root, *c = kids(root);
    for (;;) {
        if (n > limit)
            return n;
        if (c && !kid_overlaps(x, c, t0, t1)) {
            c = c->next;
            n++;
        } else if (c) {
            x = c;
            c = kids(x);
            n++;
        } else if (x == root) {
            return n;
        } else {
            c = x->next;
            x = parent_of(x);
        }
    }
}

/* Pick, inside a piece [t0, t1): x begins at t0 or ends at t1 (then so does its parent). */
static bool pick_edge(const struct mdb_node *x, uint64_t t0, uint64_t t1)
{
    return x->target == t0 || x->target + x->size == t1;
}

/*
 * After a deep piece [t0, t1) of root: merge the nodes of root's subtree at the piece's
 * edges with their neighbours (pre-order: parents first, so children's pieces get equal
 * parents), until the walk (siblings skipped included) has cost limit. What the limit
 * leaves stays split (invisible per unit). Returns the work done.
 */
static uint64_t merge_edges(struct mdb *db, struct mdb_node *root, uint64_t t0, uint64_t t1,
                            uint64_t limit)
{
    uint64_t w = 1;
    struct mdb_node *x = root, *c = kids(root);
    merge_neighbours(db, root);
    while (w < limit) {
        if (c && !(kid_overlaps(x, c, t0, t1) && pick_edge(c, t0, t1))) {
            c = c->next;
        } else if (c) {
            merge_neighbours(db, c);
            x = c;
            c = kids(x);
        } else if (x == root) {
            break;
        } else {
            c = x->next;
            x = parent_of(x);
        }
        w++;
    }
    return w;
}

/* Whether a deep piece [t0, t1) enters x, a node of p's kin: x is p's child and holds some
   of the rights there, or x straddles an end (it must be cut there before its parent is;
   its children may hold the rights). */
static bool deep_enters(const struct mdb_node *p, const struct mdb_node *x, uint64_t t0,
                        uint64_t t1, unsigned rights)
{
    return kid_overlaps(p, x, t0, t1) &&
           ((x->rights & rights) || straddles(x, t0) || straddles(x, t1));
}

/* Remove rights from x (whose children hold none of them): protect it, or drop it if empty. */
static void node_revoke(struct mdb *db, struct mdb_node *x, unsigned rights)
{
    unsigned left = x->rights & ~rights;
    if (!left) {
        x->space->ops->unmap(x->space, db->batch, x->base, x->size);
        node_drop(db, x);
    } else {
        x->rights = left;
        x->space->ops->protect(x->space, db->batch, x->base, x->size, left);
    }
}

/*
 * Cut x so that it lies inside [t0, t1) (what lies outside becomes new nodes with x's
 * rights and x's children there); E_NOMEM: nothing changed. x's children straddle neither
 * end. The new pieces join x's parent (which is cut later, if it straddles too).
 */
static int cut_to(struct mdb *db, struct mdb_node *x, uint64_t t0, uint64_t t1)
{
    struct pool p;
    int err = pool_fill(db, &p, db->payer, straddles(x, t0) + straddles(x, t1), NULL, 0);
    if (err)
        return err;
    if (straddles(x, t0))
        split_lo(db, &p, x, t0);
    if (straddles(x, t1))
        split_hi(db, &p, x, t1);
    pool_drain(db, &p);
    return E_OK;
}

/*
 * x straddles exactly one end of [t0, t1) and loses all its rights inside (its children
 * there are gone): unmap that part and shrink x to the rest, which keeps x's children
 * (no node is needed, unlike a cut).
 */
static void trim_off(struct mdb *db, struct mdb_node *x, uint64_t t0, uint64_t t1)
{
    touch(db, x);
    if (straddles(x, t0)) {
        uint64_t keep = t0 - x->target;
        x->space->ops->unmap(x->space, db->batch, x->base + keep, x->size - keep);
        x->size = keep;
    } else {
        uint64_t cut = t1 - x->target;
        x->space->ops->unmap(x->space, db->batch, x->base, cut);
        x->base += cut;                 /* the key grows but stays below its successor's */
        x->target = t1;
        x->size -= cut;
    }
}

/* Put x on op's cursor path (pin it with op's token, or as shared by several). */
static void pin_on(struct mdb_revoke *op, struct mdb_node *x)
{
    x->pin = !x->pin || x->pin == op->token ? op->token : MDB_PIN_SHARED;
}

/* Take x off op's cursor path (if op alone pinned it). */
static void pin_off(struct mdb_revoke *op, struct mdb_node *x)
{
    if (x->pin == op->token)
        x->pin = 0;
}

/* Keep op's cursor: at x (NULL for the piece's node n, which is found anew by unit each
   step), next child c; c NULL (x's children all scanned): after x's last child as it is
   at this step (pinned), so that children appended after it are scanned too. */
static void cursor_save(struct mdb_revoke *op, struct mdb_node *n, struct mdb_node *x,
                        struct mdb_node *c)
{
    op->resume = true;
    op->at = x == n ? NULL : x;
    op->after = !c;
    op->scan = c ? c : x->kin ? x->kin->last : NULL;
    if (op->scan)
        pin_on(op, op->scan);
}

/* Where op's walk of the deep piece of n goes on: *x, whose children are scanned, and *c, the
   next of them (n and its first child when the walk starts or starts again). */
static void cursor_load(struct mdb_revoke *op, struct mdb_node *n, struct mdb_node **x,
                        struct mdb_node **c)
{
    *x = n;
    *c = kids(n);
    if (!op->resume)
        return;
    *x = op->at ? op->at : n;
    *c = op->scan;
    if (*c)
        pin_off(op, *c);
    if (!op->at && *c && (*c)->up != n->kin)
        *c = kids(n);                   /* n took another kin (a merge): scan its children again */
    else if (op->after)
        *c = *c ? (*c)->next : kids(*x);
}

/* Finish x, a node below the top of op's deep piece [t0, t1) whose children are done: trim it
   if it loses everything inside and straddles one end, else cut it to the piece and remove
   the rights; E_NOMEM: nothing changed. */
static int deep_finish(struct mdb *db, struct mdb_revoke *op, struct mdb_node *x, uint64_t t0,
                       uint64_t t1)
{
    if (!(x->rights & ~op->rights) && straddles(x, t0) != straddles(x, t1)) {
        pin_off(op, x);
        trim_off(db, x, t0, t1);
        return E_OK;
    }
    int err = cut_to(db, x, t0, t1);
    if (err)
        return err;
    pin_off(op, x);
    if (x->rights & op->rights)
        node_revoke(db, x, op->rights);
    return E_OK;
}

/* End op's deep piece [t0, t1) of n, everything below done: with include_self n is cut and
   loses the rights, then the piece's edges merge (their work added to *work); E_NOMEM:
   nothing changed, the cursor is kept at n. */
static int deep_close(struct mdb *db, struct mdb_revoke *op, struct mdb_node *n, uint64_t t0,
                      uint64_t t1, uint64_t allowance, uint64_t *work)
{
    bool gone = false;
    if (op->include_self && (n->rights & op->rights)) {
        int err = cut_to(db, n, t0, t1);
        if (err) {
            cursor_save(op, n, n, NULL);
            return err;
        }
        gone = !(n->rights & ~op->rights);
        node_revoke(db, n, op->rights);
    }
    if (!gone)
        *work += merge_edges(db, n, t0, t1, MERGE_FACTOR * allowance);
    op->at = NULL;
    op->deep = op->resume = false;
    return E_OK;
}

/*
 * A piece [t0, t1) of node n that does not fit one step: one post-order walk over n's
 * subtree, entering the nodes deep_enters() accepts; each finished node (n excluded) is
 * cut to the piece (cut_to, bottom-up: its straddling children were cut before it) and
 * loses the rights (node_revoke). A node that holds none of the rights needs nothing, nor
 * does anything derived from it, so the walk's state is visible in the nodes. Every
 * sibling skipped, node entered and node finished costs one unit of *work; the walk stops
 * once allowance units are spent and keeps its cursor (op->at: the node whose children
 * are scanned, op->scan: the next of them). The cursor path (op->scan, op->at and its
 * ancestors up to n) is pinned as the walk moves (pin_on when entering, pin_off when
 * finishing: O(1) per node, whatever the depth). Children are appended, so a node created
 * between steps is reached by the scans still to come; a structural change at a node
 * pinned by another op (split, merge, drop) or a rights upgrade bumps db->gen, and a
 * step that finds db->gen changed walks again from n with a fresh token (done nodes are
 * skipped, and charged). At the end, with include_self, n itself is cut and loses the
 * rights; the nodes at the piece's edges merge again (merge_edges, bounded).
 */
static int revoke_deep(struct mdb *db, struct mdb_revoke *op, struct mdb_node *n, uint64_t t0,
                       uint64_t t1, uint64_t allowance, uint64_t *work, bool *done)
{
    struct mdb_node *x, *c;
    uint64_t limit = *work + allowance + op->debt;
    *done = false;
    cursor_load(op, n, &x, &c);
    for (;;) {
        if (*work >= limit) {
            cursor_save(op, n, x, c);
            return E_OK;
        }
        ++*work;
        if (c && !deep_enters(x, c, t0, t1, op->rights)) {
            c = c->next;
        } else if (c) {
            x = c;
            pin_on(op, x);
            c = kids(x);
        } else if (x == n) {
            int err = deep_close(db, op, n, t0, t1, allowance, work);
            *done = err == E_OK;
            return err;
        } else {
            struct mdb_node *up = parent_of(x), *nx = x->next;
            int err = deep_finish(db, op, x, t0, t1);
            if (err) {
                cursor_save(op, n, x, NULL);   /* x is pinned still: resume here */
                return err;
            }
            x = up;
            c = nx;
        }
    }
}

/*
 * Prepare to revoke rights from everything derived from s's units [base, +size), and
 * from those units themselves if include_self. Empty units are skipped. Errors (op not
 * usable): E_ARG (size or rights 0), E_RANGE (wrap or beyond s's limit).
 */
int mdb_revoke_begin(struct mdb_revoke *op, struct mdb_space *s, uint64_t base,
                     uint64_t size, unsigned rights, bool include_self)
{
    int err = range_check(s, base, size);
    if (err)
        return err;
    if (!rights)
        return E_ARG;
    op->space = s;
    op->next = base;
    op->end = base + size;
    op->rights = rights;
    op->include_self = include_self;
    op->deep = op->resume = op->after = false;
    op->at = op->scan = NULL;
    op->stop = 0;
    op->gen = 0;
    op->token = 0;
    op->born = op->debt = 0;
    op->work = 0;
    return E_OK;
}

/*
 * Revoke the piece of node n from op->next to u1 with what is left of the step's budget.
 * A piece whose walk (nodes and skipped siblings) fits the budget is done at once (split,
 * remove, merge); a larger one starts only as a step's first piece and goes node by node
 * (revoke_deep). *done: the piece is complete (op->next may move on).
 */
static int revoke_part(struct mdb *db, struct mdb_revoke *op, struct mdb_node *n, uint64_t u1,
                       uint64_t budget, uint64_t *work, bool *done)
{
    uint64_t u0 = op->next, t0 = n->target + (u0 - n->base), t1 = t0 + (u1 - u0);
    if (op->deep)
        return revoke_deep(db, op, n, t0, t1, budget, work, done);
    uint64_t left = budget - *work, cnt = count_upto(n, t0, t1, left);
    bool first = *work == 0;
    *work += cnt;
    *done = false;
    if (cnt <= left) {
        int err = revoke_piece(db, n, u0, u1, op->rights, op->include_self);
        *work += 2 * cnt;
        *done = err == E_OK;
        return err;
    }
    if (!first)
        return E_OK;                    /* the next step starts with this piece */
    op->deep = true;
    op->resume = false;
    op->stop = u1;
    op->token = db->tokens++;
    return revoke_deep(db, op, n, t0, t1, budget, work, done);
}

/* Start a step of op: a deep piece whose nodes may have changed since the last step walks
   again with a fresh token, and gets its extra budget for the nodes delegated since. */
static void step_begin(struct mdb *db, struct mdb_revoke *op, uint64_t budget)
{
    if (op->deep && op->gen != db->gen) {
        op->resume = false;             /* nodes may have changed: walk again */
        op->token = db->tokens++;       /* the old path's pins are stale */
    }
    /* Nodes delegated since the last step may lie ahead of a deep piece's cursor: the step
       gets two units of budget for each (enter and finish), up to DEBT_FACTOR budgets, so
       that what other calls add between steps does not eat the step's own progress. */
    op->debt = op->deep ? MIN(2 * (db->born - op->born), DEBT_FACTOR * MIN(budget, UINT32_MAX)) : 0;
    db->self = op->token;
}

/* The node holding op->next, after skipping a hole (and dropping a deep piece the node no
   longer holds); NULL, with op->next = op->end, if op's space holds nothing up to the end. */
static struct mdb_node *next_node(struct mdb_revoke *op)
{
    struct mdb_node *n = tree_from(op->space, op->next);
    if (!n || n->base >= op->end) {
        op->next = op->end;
        return NULL;
    }
    if (n->base > op->next) {
        op->next = n->base;             /* skip the hole */
        op->deep = false;
    }
    if (op->deep && op->stop > node_end(n))
        op->deep = false;               /* n was cut since: take the piece anew */
    if (!op->deep)
        op->resume = false;
    return n;
}

/* Revoke op's pieces from op->next on, until units units are done or about budget work
   (*work) is spent; E_NOMEM stops at the failing piece. */
static int step_pieces(struct mdb *db, struct mdb_revoke *op, uint64_t units, uint64_t budget,
                       uint64_t *work)
{
    uint64_t done_units = 0;
    struct mdb_node *n;
    while (op->next < op->end && *work < budget && done_units < units && (n = next_node(op))) {
        uint64_t u1 =
            op->deep ? op->stop : MIN(MIN(node_end(n), op->end), op->next + (units - done_units));
        bool done;
        int err = revoke_part(db, op, n, u1, budget, work, &done);
        if (err || !done)
            return err;
        done_units += u1 - op->next;
        op->next = u1;
    }
    return E_OK;
}

/*
 * Revoke the next part of op's range, each unit in s and in everything derived from it,
 * with about budget units of work (nodes visited, siblings skipped, nodes cut): holes are
 * skipped through the tree (O(log n)), a step covers at most units units, and a unit with
 * more derived nodes than budget takes several steps of about budget work each. Returns
 * MDB_MORE, E_OK when the whole range is done, or E_NOMEM (progress so far kept; call
 * again later). The nodes its cuts take, in s and in the spaces derived from it, are charged
 * to s (they are derived from s, so s's teardown frees them): E_NOMEM means s's memory is out.
 *
 * Semantics: units are done in increasing order, and a unit is done when no node derived
 * from it (nor the unit itself, with include_self) holds any of the rights. So when E_OK
 * is returned, every mapping derived from the range before its unit was processed -- in
 * particular everything derived at mdb_revoke_begin time -- has lost the rights, whatever
 * ran between the steps under the database lock (other delegations, revokes, teardowns of
 * other spaces). A delegation from an already processed unit is simply later than the
 * revoke of that unit: with include_self false the unit still holds the rights and may pass
 * them on. A node derived between steps from a node the walk has not finished is revoked
 * by this revoke too (children are appended, ahead of the cursor) and charged like any
 * other: the revoke ends as long as fewer nodes are added between two steps than a step's
 * budget removes (each delegation is bounded, see mdb_delegate_decode). This holds because
 * op keeps unit numbers, and node pointers only while db->gen is unchanged since its last
 * step; derivation only grows by delegation. The host model test checks exactly this with
 * random interleavings.
 */
int mdb_revoke_step(struct mdb *db, struct shootdown_batch *b, struct mdb_revoke *op,
                    uint64_t units, uint64_t budget)
{
    uint64_t work = 0;
    db->batch = b;
    db->payer = op->space;              /* the cuts are charged to the revoke's space */
    step_begin(db, op, MAX(budget, 1));
    int err = step_pieces(db, op, MAX(units, 1), MAX(budget, 1), &work);
    db->self = 0;
    db->payer = NULL;
    op->gen = db->gen;
    op->born = db->born;
    op->work = work;
    if (err)
        return err;
    return op->next < op->end ? MDB_MORE : E_OK;
}

/* Revoke in one go (mdb_revoke_begin + steps); same errors. */
int mdb_revoke(struct mdb *db, struct shootdown_batch *b, struct mdb_space *s, uint64_t base,
               uint64_t size, unsigned rights, bool include_self)
{
    struct mdb_revoke op;
    int err = mdb_revoke_begin(&op, s, base, size, rights, include_self);
    if (err)
        return err;
    while ((err = mdb_revoke_step(db, b, &op, op.end - op.next, UINT64_MAX)) == MDB_MORE)
        ;
    return err;
}

/*
 * Remove up to budget nodes of s and of what is derived from s (PD destruction);
 * leaves go first, each one unmapped. Returns MDB_MORE until s is empty, then E_OK.
 */
int mdb_teardown_step(struct mdb *db, struct shootdown_batch *b, struct mdb_space *s,
                      uint64_t budget)
{
    db->batch = b;
    for (uint64_t i = 0; i < MAX(budget, 1) && s->root; i++) {
        struct mdb_node *y = node_of(s->root);
        while (kin_has(y->kin))
            y = y->kin->child;          /* derived from s too: a kin's pieces share a parent */
        y->space->ops->unmap(y->space, db->batch, y->base, y->size);
        node_drop(db, y);
    }
    return s->root ? MDB_MORE : E_OK;
}

/* ---- invariant check (tests, kernel debug builds) ------------------------------- */

/* Whether kin k of n (n's space, n's offset) is consistent: its list, and each child names it. */
static bool kin_ok(const struct mdb_node *n, const struct mdb_kin *k)
{
    if (k->space != n->space || k->off != n->base - n->target || !k->refs ||
        !k->child != !k->last)
        return false;
    for (const struct mdb_node *c = k->child; c; c = c->next)
        if (c->up != k || (c->next ? c->next->prev != c : k->last != c))
            return false;
    return true;
}

/* Whether n's derivation links are consistent and it lies within its parent. */
static bool node_ok(struct mdb_space *s, const struct mdb_node *n)
{
    const struct mdb_kin *u = n->up;
    if (n->space != s || !n->size || !n->rights || n->target + n->size < n->target)
        return false;
    if (n->kin && !kin_ok(n, n->kin))
        return false;
    if (!u)
        return !n->prev && !n->next;
    if (n->prev ? n->prev->next != n : u->child != n)
        return false;
    const struct mdb_node *p = parent_of(n);
    return p && p->kin == u && p->target <= n->target &&
           n->target + n->size <= p->target + p->size && !(n->rights & ~p->rights);
}

/* Whether every structural invariant of s holds (tree, ranges, derivation links; tests and debug
 * builds). */
bool mdb_check(struct mdb_space *s)
{
    if (avl_check(s->root, base_key) != (long)s->nodes)
        return false;
    uint64_t end = 0;           /* nodes in base order: each within [end of the last, limit) */
    for (struct mdb_node *n = tree_ceil(s, 0); n; n = tree_ceil(s, n->base + 1)) {
        if (n->base < end || node_end(n) > s->limit || node_end(n) <= n->base || !node_ok(s, n))
            return false;
        end = node_end(n);
    }
    return true;
}
