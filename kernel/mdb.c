/*
 * Mapping database: delegation and recursive, preemptible revocation.
 *
 * Structures. Each space keeps its nodes in an AVL tree keyed by base (lookup and
 * insertion O(log n)). Derivation is an explicit tree: every node points to its
 * parent and heads a doubly linked list of its children. Targets are preserved by
 * delegation, so the target range of a node contains the target ranges of all its
 * descendants; every walk below works in target coordinates.
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
#include "panic.h"

struct mdb_node {
    struct mdb_space *space;
    uint64_t base, size, target;        /* units [base, base+size) -> target.. */
    unsigned rights;
    int height;                         /* AVL height of this subtree */
    struct mdb_node *left, *right;      /* AVL children (same space) */
    struct mdb_node *parent;            /* derivation parent, NULL for a root */
    struct mdb_node *child, *last;      /* first and last derived node */
    struct mdb_node *next, *prev;       /* siblings under parent (next: pool link) */
    struct mdb_node *split_lo, *split_hi; /* pieces split off in pass split_pass */
    uint64_t split_pass;
    uint64_t pin;                       /* == db->gen: on a pending deep revoke's cursor path */
};

#define MERGE_FACTOR 4       /* a deep piece merges up to this many times its budget at its edges */

/* Preallocated nodes of one operation, linked through next. */
struct pool {
    struct mdb_node *head;
};

/* ---- AVL tree of a space's nodes, keyed by base -------------------------------- */

/* Height of a possibly empty subtree. */
static int avl_h(struct mdb_node *n)
{
    return n ? n->height : 0;
}

/* Recompute n's height from its children. */
static void avl_fix(struct mdb_node *n)
{
    n->height = 1 + MAX(avl_h(n->left), avl_h(n->right));
}

/* Rotate n's right child up; returns the new subtree root. */
static struct mdb_node *avl_rot_left(struct mdb_node *n)
{
    struct mdb_node *r = n->right;
    n->right = r->left;
    r->left = n;
    avl_fix(n);
    avl_fix(r);
    return r;
}

/* Rotate n's left child up; returns the new subtree root. */
static struct mdb_node *avl_rot_right(struct mdb_node *n)
{
    struct mdb_node *l = n->left;
    n->left = l->right;
    l->right = n;
    avl_fix(n);
    avl_fix(l);
    return l;
}

/* Restore the AVL balance at n (children balanced); returns the subtree root. */
static struct mdb_node *avl_balance(struct mdb_node *n)
{
    avl_fix(n);
    int bal = avl_h(n->left) - avl_h(n->right);
    if (bal > 1) {
        if (avl_h(n->left->left) < avl_h(n->left->right))
            n->left = avl_rot_left(n->left);
        return avl_rot_right(n);
    }
    if (bal < -1) {
        if (avl_h(n->right->right) < avl_h(n->right->left))
            n->right = avl_rot_right(n->right);
        return avl_rot_left(n);
    }
    return n;
}

/* Insert n (unique base) into the subtree t; returns the new subtree root. */
static struct mdb_node *avl_insert(struct mdb_node *t, struct mdb_node *n)
{
    if (!t) {
        n->left = n->right = NULL;
        n->height = 1;
        return n;
    }
    if (n->base < t->base)
        t->left = avl_insert(t->left, n);
    else
        t->right = avl_insert(t->right, n);
    return avl_balance(t);
}

/* Detach the minimum of subtree t into *min; returns the new subtree root. */
static struct mdb_node *avl_take_min(struct mdb_node *t, struct mdb_node **min)
{
    if (!t->left) {
        *min = t;
        return t->right;
    }
    t->left = avl_take_min(t->left, min);
    return avl_balance(t);
}

/* Remove the node with key base from subtree t; returns the new subtree root. */
static struct mdb_node *avl_remove(struct mdb_node *t, uint64_t base)
{
    ASSERT(t);
    if (base < t->base) {
        t->left = avl_remove(t->left, base);
    } else if (base > t->base) {
        t->right = avl_remove(t->right, base);
    } else {
        struct mdb_node *m;
        if (!t->right)
            return t->left;
        t->right = avl_take_min(t->right, &m);
        m->left = t->left;
        m->right = t->right;
        t = m;
    }
    return avl_balance(t);
}

/* The node with the largest base <= unit, or NULL. */
static struct mdb_node *tree_floor(struct mdb_space *s, uint64_t unit)
{
    struct mdb_node *t = s->root, *best = NULL;
    while (t) {
        if (t->base <= unit) {
            best = t;
            t = t->right;
        } else {
            t = t->left;
        }
    }
    return best;
}

/* The node with the smallest base >= unit, or NULL. */
static struct mdb_node *tree_ceil(struct mdb_space *s, uint64_t unit)
{
    struct mdb_node *t = s->root, *best = NULL;
    while (t) {
        if (t->base >= unit) {
            best = t;
            t = t->left;
        } else {
            t = t->right;
        }
    }
    return best;
}

/* End (exclusive) of n's unit range. */
static uint64_t node_end(const struct mdb_node *n)
{
    return n->base + n->size;
}

/* The node of s containing unit, or NULL. */
static struct mdb_node *tree_find(struct mdb_space *s, uint64_t unit)
{
    struct mdb_node *n = tree_floor(s, unit);
    return n && unit < node_end(n) ? n : NULL;
}

/* The node containing unit, else the first one after it, or NULL. */
static struct mdb_node *tree_from(struct mdb_space *s, uint64_t unit)
{
    struct mdb_node *n = tree_find(s, unit);
    return n ? n : tree_ceil(s, unit);
}

/* The node of n's space directly before n, or NULL. */
static struct mdb_node *tree_pred(struct mdb_node *n)
{
    return n->base ? tree_floor(n->space, n->base - 1) : NULL;
}

/* Add n to its space's tree. */
static void tree_add(struct mdb_node *n)
{
    n->space->root = avl_insert(n->space->root, n);
    n->space->nodes++;
}

/* Remove n from its space's tree. */
static void tree_del(struct mdb_node *n)
{
    n->space->root = avl_remove(n->space->root, n->base);
    n->space->nodes--;
}

/* ---- derivation tree ------------------------------------------------------------ */

/* Make n the last child of parent (NULL: a root). Appending keeps a pending deep revoke's
   cursor valid: a new child is reached by the scans still to come (see revoke_deep). */
static void child_link(struct mdb_node *parent, struct mdb_node *n)
{
    n->parent = parent;
    n->next = NULL;
    n->prev = parent ? parent->last : NULL;
    if (!parent)
        return;
    if (n->prev)
        n->prev->next = n;
    else
        parent->child = n;
    parent->last = n;
}

/* Whether n lies on a pending deep revoke's cursor path (see revoke_deep). */
static bool pinned(const struct mdb *db, const struct mdb_node *n)
{
    return n->pin == db->gen;
}

/* A structural change at n: if n is pinned, every pending deep cursor becomes invalid. */
static void touch(struct mdb *db, const struct mdb_node *n)
{
    if (pinned(db, n))
        db->gen++;
}

/* Remove n from its parent's child list. */
static void child_unlink(struct mdb_node *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else if (n->parent)
        n->parent->child = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else if (n->parent)
        n->parent->last = n->prev;
    n->parent = n->next = n->prev = NULL;
}

/* Move the children of from that lie wholly below t (or, if above, at/after t) to to. */
static void children_move(struct mdb *db, struct mdb_node *from, struct mdb_node *to, uint64_t t, bool above)
{
    struct mdb_node *c = from->child, *nx;
    for (; c; c = nx) {
        nx = c->next;
        if (above ? c->target >= t : c->target + c->size <= t) {
            touch(db, c);
            child_unlink(c);
            child_link(to, c);
        }
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

/* The first of n and its later siblings that overlaps [t0, t1), or NULL. */
static struct mdb_node *first_overlap(struct mdb_node *n, uint64_t t0, uint64_t t1)
{
    while (n && !overlaps(n, t0, t1))
        n = n->next;
    return n;
}

/* Pre-order successor of x in root's subtree, skipping x's children; NULL at the end. */
static struct mdb_node *walk_skip(struct mdb_node *root, struct mdb_node *x, uint64_t t0, uint64_t t1)
{
    for (; x != root; x = x->parent) {
        struct mdb_node *s = first_overlap(x->next, t0, t1);
        if (s)
            return s;
    }
    return NULL;
}

/* Pre-order successor of x among the nodes of root's subtree overlapping [t0, t1). */
static struct mdb_node *walk_next(struct mdb_node *root, struct mdb_node *x, uint64_t t0, uint64_t t1)
{
    struct mdb_node *c = first_overlap(x->child, t0, t1);
    return c ? c : walk_skip(root, x, t0, t1);
}

/* ---- node memory ---------------------------------------------------------------- */

/* Allocate n nodes into pool; E_NOMEM (pool emptied again) if any allocation fails. */
static int pool_fill(struct mdb *db, struct pool *p, size_t n)
{
    p->head = NULL;
    for (size_t i = 0; i < n; i++) {
        struct mdb_node *x = db->alloc(sizeof(*x));
        if (!x) {
            while ((x = p->head)) {
                p->head = x->next;
                db->free(x);
            }
            return E_NOMEM;
        }
        x->next = p->head;
        p->head = x;
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

/* Return the nodes the perform step did not need. */
static void pool_drain(struct mdb *db, struct pool *p)
{
    struct mdb_node *x;
    while ((x = p->head)) {
        p->head = x->next;
        db->free(x);
    }
}

/* Remove childless n from its space and the derivation tree, and free it. */
static void node_drop(struct mdb *db, struct mdb_node *n)
{
    ASSERT(!n->child);
    touch(db, n);
    tree_del(n);
    child_unlink(n);
    db->free(n);
}

/* ---- splitting and merging -------------------------------------------------------- */

/* The node that takes a piece split off a child of p: p's own piece if p was split. */
static struct mdb_node *piece_parent(struct mdb *db, struct mdb_node *p, bool hi)
{
    if (!p || p->split_pass != db->pass)
        return p;
    struct mdb_node *q = hi ? p->split_hi : p->split_lo;
    ASSERT(q);
    return q;
}

/* Note that x is split in the current pass. */
static void split_mark(struct mdb *db, struct mdb_node *x)
{
    if (x->split_pass != db->pass) {
        x->split_pass = db->pass;
        x->split_lo = x->split_hi = NULL;
    }
}

/* Split x at target t (inside x): a new node takes the part below t, x keeps the rest. */
static void split_lo(struct mdb *db, struct pool *p, struct mdb_node *x, uint64_t t)
{
    struct mdb_node *l = pool_take(p);
    uint64_t n = t - x->target;
    touch(db, x);
    l->space = x->space;
    l->base = x->base;
    l->size = n;
    l->target = x->target;
    l->rights = x->rights;
    /* Shrink x first: its key grows but stays below its successor's, so the tree holds. */
    x->base += n;
    x->size -= n;
    x->target = t;
    tree_add(l);
    child_link(piece_parent(db, x->parent, false), l);
    children_move(db, x, l, t, false);
    split_mark(db, x);
    x->split_lo = l;
}

/* Split x at target t (inside x): a new node takes the part from t on, x keeps the rest. */
static void split_hi(struct mdb *db, struct pool *p, struct mdb_node *x, uint64_t t)
{
    struct mdb_node *h = pool_take(p);
    uint64_t n = t - x->target;
    touch(db, x);
    h->space = x->space;
    h->base = x->base + n;
    h->size = x->size - n;
    h->target = t;
    h->rights = x->rights;
    x->size = n;
    tree_add(h);
    child_link(piece_parent(db, x->parent, true), h);
    children_move(db, x, h, t, true);
    split_mark(db, x);
    x->split_hi = h;
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
static void split_range(struct mdb *db, struct pool *p, struct mdb_node *root, uint64_t t0, uint64_t t1)
{
    db->pass++;
    /* Pre-order: a parent is split before its children, so their pieces find its pieces. */
    for (struct mdb_node *x = root; x; x = walk_next(root, x, t0, t1)) {
        if (straddles(x, t0))
            split_lo(db, p, x, t0);
        if (straddles(x, t1))
            split_hi(db, p, x, t1);
    }
}

/* Whether b directly follows a in the same space and can become one node with it. */
static bool mergeable(const struct mdb_node *a, const struct mdb_node *b)
{
    return node_end(a) == b->base && a->target + a->size == b->target &&
           a->parent == b->parent && a->rights == b->rights;
}

/* Fold neighbour y of x (same space, mergeable) into x and free y. */
static void absorb(struct mdb *db, struct mdb_node *x, struct mdb_node *y)
{
    struct mdb_node *c;
    touch(db, x);
    touch(db, y);
    while ((c = y->child)) {
        touch(db, c);
        child_unlink(c);
        child_link(x, c);
    }
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
   (a pending deep revoke's cursor path) stay split, which no unit can see. */
static void merge_neighbours(struct mdb *db, struct mdb_node *x)
{
    if (pinned(db, x))
        return;
    struct mdb_node *q = tree_pred(x);
    if (q && !pinned(db, q) && mergeable(q, x))
        absorb(db, x, q);
    q = tree_ceil(x->space, node_end(x));
    if (q && !pinned(db, q) && mergeable(x, q))
        absorb(db, x, q);
}

/* Merge every node of root's subtree overlapping [t0, t1) with its neighbours. */
static void merge_range(struct mdb *db, struct mdb_node *root, uint64_t t0, uint64_t t1)
{
    /* Pre-order: parents merge first, so pieces of their children get equal parents. */
    for (struct mdb_node *x = root; x; x = walk_next(root, x, t0, t1))
        merge_neighbours(db, x);
}

/* ---- setup, roots, lookup ------------------------------------------------------- */

/* Set up an empty database whose nodes come from alloc/free. */
void mdb_init(struct mdb *db, void *(*alloc)(size_t), void (*free)(void *))
{
    db->alloc = alloc;
    db->free = free;
    db->pass = 0;
    db->gen = 1;                        /* a fresh node's pin (0) never matches */
}

/* Set up an empty space with valid units [0, limit) and hooks ops. */
void mdb_space_init(struct mdb_space *s, const struct mdb_ops *ops, void *owner, uint64_t limit)
{
    s->ops = ops;
    s->owner = owner;
    s->limit = limit;
    s->root = NULL;
    s->nodes = 0;
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

/* Give s an underived range (boot resources); E_BUSY if any unit is held already. */
int mdb_insert_root(struct mdb *db, struct mdb_space *s, uint64_t base, uint64_t size,
                    uint64_t target, unsigned rights)
{
    int err = range_check(s, base, size);
    if (err)
        return err;
    if (!rights || target + size < target)
        return E_ARG;
    struct mdb_node *n = tree_from(s, base);
    if (n && n->base < base + size)
        return E_BUSY;
    if (!(n = db->alloc(sizeof(*n))))
        return E_NOMEM;
    __builtin_memset(n, 0, sizeof(*n));
    n->space = s;
    n->base = base;
    n->size = size;
    n->target = target;
    n->rights = rights;
    tree_add(n);
    s->ops->map(s, base, size, target, rights);
    return E_OK;
}

/* Fill out with the public view of n. */
static void info_fill(const struct mdb_node *n, struct mdb_info *out)
{
    out->node = n;
    out->parent = n->parent;
    out->space = n->space;
    out->base = n->base;
    out->size = n->size;
    out->target = n->target;
    out->rights = n->rights;
    out->src_space = n->parent ? n->parent->space : NULL;
    out->src_unit = n->parent ? n->parent->base + (n->target - n->parent->target) : 0;
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

/* One delegation's arguments and what its decode pass found. */
struct deleg {
    struct mdb_space *src, *dst;
    uint64_t src_base, dst_base, size;
    unsigned mask, effect;
    size_t need;                        /* nodes the perform pass will take */
};

/*
 * Handle dst node d holding the destination units from d0 on that receive targets
 * [t0, t1) from source piece n. Decode (p == NULL): E_BUSY unless d holds them derived
 * from n with the same targets; count the splits an upgrade needs. Perform: raise the
 * rights of exactly those units.
 */
static int deleg_occupied(struct mdb *db, struct deleg *a, struct pool *p, struct mdb_node *n,
                          struct mdb_node *d, uint64_t d0, uint64_t t0, uint64_t t1)
{
    unsigned want = d->rights | (n->rights & a->mask);
    if (!p) {
        if (d->parent != n || d->target - d->base != t0 - d0)
            return E_BUSY;
        if (want != d->rights)
            a->need += split_count(d, t0, t1);
        return E_OK;
    }
    if (want == d->rights)
        return E_OK;
    /* Cut d (and what is derived from it) to the delegated units, then raise rights (a
       done node may need the revoke's rights again: pending cursors become invalid). */
    split_range(db, p, d, t0, t1);
    db->gen++;
    d->rights = want;
    a->dst->ops->map(a->dst, d->base, d->size, d->target, want);
    a->effect |= MDB_UPGRADED;
    return E_OK;
}

/* Decode: count a hole node. Perform: derive a node for dst units [d0, d1) from n. */
static void deleg_hole(struct deleg *a, struct pool *p, struct mdb_node *n, uint64_t d0,
                       uint64_t d1, uint64_t t0)
{
    if (!p) {
        a->need++;
        return;
    }
    struct mdb_node *x = pool_take(p);
    x->space = a->dst;
    x->base = d0;
    x->size = d1 - d0;
    x->target = t0;
    x->rights = n->rights & a->mask;
    tree_add(x);
    child_link(n, x);
    a->dst->ops->map(a->dst, d0, d1 - d0, t0, x->rights);
    a->effect |= MDB_CREATED;
}

/* Walk the destination units [d0, d1) that receive targets t0.. from n (see deleg_pass). */
static int deleg_piece(struct mdb *db, struct deleg *a, struct pool *p, struct mdb_node *n,
                       uint64_t d0, uint64_t d1, uint64_t t0)
{
    while (d0 < d1) {
        struct mdb_node *d = tree_from(a->dst, d0);
        if (!d || d->base >= d1) {
            deleg_hole(a, p, n, d0, d1, t0);
            return E_OK;
        }
        if (d->base > d0) {
            uint64_t gap = d->base - d0;
            deleg_hole(a, p, n, d0, d->base, t0);
            d0 += gap;
            t0 += gap;
            continue;
        }
        uint64_t len = MIN(node_end(d), d1) - d0;
        int err = deleg_occupied(db, a, p, n, d, d0, t0, t0 + len);
        if (err)
            return err;
        d0 += len;
        t0 += len;
    }
    return E_OK;
}

/*
 * Walk the source range piece by piece (one piece per source node). Decode (p NULL):
 * validate and count nodes. Perform: create and upgrade. Both passes see the same
 * pieces, so perform takes at most the nodes decode counted.
 */
static int deleg_pass(struct mdb *db, struct deleg *a, struct pool *p)
{
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
        int err = deleg_piece(db, a, p, n, d0, d0 + len, n->target + (s0 - n->base));
        if (err)
            return err;
        off += len;
    }
    return E_OK;
}

/*
 * Delegate src units [src_base, +size) into dst at dst_base with rights (source & mask).
 * Destination units must be empty or already derived from the same source units (then
 * their rights grow). *effect gets MDB_CREATED / MDB_UPGRADED. Errors, nothing changed:
 * E_ARG (size or mask 0), E_RANGE (wrap or beyond a space's limit), E_NOENT (a source
 * unit is empty), E_PERM (a source unit has none of mask), E_BUSY (a destination unit
 * holds something else), E_NOMEM.
 */
int mdb_delegate(struct mdb *db, struct mdb_space *src, uint64_t src_base,
                 struct mdb_space *dst, uint64_t dst_base, uint64_t size,
                 unsigned mask, unsigned *effect)
{
    struct deleg a = { src, dst, src_base, dst_base, size, mask, 0, 0 };
    struct pool p;
    int err = range_check(src, src_base, size);
    if (!err)
        err = range_check(dst, dst_base, size);
    if (!err && !mask)
        err = E_ARG;
    if (!err)
        err = deleg_pass(db, &a, NULL);
    if (!err)
        err = pool_fill(db, &p, a.need);
    if (err)
        return err;
    /* The nodes are taken: what the hooks need comes from what is left. */
    if (dst->ops->reserve && (err = dst->ops->reserve(dst, dst_base, size))) {
        pool_drain(db, &p);
        return err;
    }
    err = deleg_pass(db, &a, &p);
    ASSERT(err == E_OK);
    pool_drain(db, &p);
    /* Merge what the delegation created or cut with equal neighbours. */
    for (struct mdb_node *d = tree_from(dst, dst_base); d && d->base < dst_base + size;
         d = tree_ceil(dst, node_end(d)))
        merge_neighbours(db, d);
    *effect = a.effect;
    return E_OK;
}

/* ---- revocation ----------------------------------------------------------------- */

/* Free n and everything derived from it, unmapping each; iterative, leaves first. */
static void subtree_drop(struct mdb *db, struct mdb_node *n)
{
    struct mdb_node *y = n;
    for (;;) {
        while (y->child)
            y = y->child;
        struct mdb_node *up = y->parent;
        bool last = y == n;
        y->space->ops->unmap(y->space, y->base, y->size);
        node_drop(db, y);
        if (last)
            return;
        y = up;
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
                x->space->ops->protect(x->space, x->base, x->size, left);
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
    int err = pool_fill(db, &p, split_count(n, t0, t1));
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

/* Number of nodes of root's subtree overlapping [t0, t1), counted up to limit + 1. */
static uint64_t count_upto(struct mdb_node *root, uint64_t t0, uint64_t t1, uint64_t limit)
{
    uint64_t n = 0;
    for (struct mdb_node *x = root; x && n <= limit; x = walk_next(root, x, t0, t1))
        n++;
    return n;
}

/* Which nodes a pruned walk visits: those for which pick(node, a, b) holds. */
typedef bool (*pick_fn)(const struct mdb_node *x, uint64_t a, uint64_t b);

/* The first of c and its later siblings that pick accepts, or NULL. */
static struct mdb_node *first_pick(struct mdb_node *c, pick_fn pick, uint64_t a, uint64_t b)
{
    while (c && !pick(c, a, b))
        c = c->next;
    return c;
}

/* Pre-order successor of x among the nodes of root's subtree that pick accepts, entering
   only accepted nodes (pick must hold for a node's parent wherever it holds for the node). */
static struct mdb_node *walk_pick(struct mdb_node *root, struct mdb_node *x, pick_fn pick,
                                  uint64_t a, uint64_t b)
{
    struct mdb_node *c = first_pick(x->child, pick, a, b);
    for (; !c && x != root; x = x->parent)
        c = first_pick(x->next, pick, a, b);
    return c;
}

/* Pick: x straddles t (a child can only if its parent does). */
static bool pick_straddler(const struct mdb_node *x, uint64_t t, uint64_t none)
{
    (void)none;
    return straddles(x, t);
}

/* Pick, inside a piece [t0, t1): x begins at t0 or ends at t1 (then so does its parent). */
static bool pick_edge(const struct mdb_node *x, uint64_t t0, uint64_t t1)
{
    return x->target == t0 || x->target + x->size == t1;
}

/*
 * After a deep piece [t0, t1) of root: merge the nodes of root's subtree at the piece's
 * edges with their neighbours (pre-order: parents first, so children's pieces get equal
 * parents), at most limit of them. What the limit leaves stays split (invisible per unit).
 */
static void merge_edges(struct mdb *db, struct mdb_node *root, uint64_t t0, uint64_t t1, uint64_t limit)
{
    struct mdb_node *c = first_pick(root->child, pick_edge, t0, t1);
    merge_neighbours(db, root);
    for (uint64_t n = 0; c && n < limit; c = walk_pick(root, c, pick_edge, t0, t1), n++)
        merge_neighbours(db, c);
}

/* Number of nodes of root's subtree that straddle t (a pruned walk: only straddlers). */
static uint64_t count_straddlers(struct mdb_node *root, uint64_t t)
{
    uint64_t n = 0;
    for (struct mdb_node *x = straddles(root, t) ? root : NULL; x; x = walk_pick(root, x, pick_straddler, t, 0))
        n++;
    return n;
}

/* Split the nodes of root's subtree that straddle t (hi: root keeps the part below t, else
   the part from t on), one node each from p, and nothing else. */
static void split_straddlers(struct mdb *db, struct pool *p, struct mdb_node *root, uint64_t t, bool hi)
{
    db->pass++;
    for (struct mdb_node *x = straddles(root, t) ? root : NULL; x; x = walk_pick(root, x, pick_straddler, t, 0)) {
        if (hi)
            split_hi(db, p, x, t);
        else
            split_lo(db, p, x, t);
    }
}

/*
 * Cut root's subtree at the piece's ends t0 and t1: only the nodes straddling them, so
 * the cost is their number, not the subtree's. Returns the nodes visited; *err E_NOMEM
 * (nothing changed) or E_OK.
 */
static uint64_t split_ends(struct mdb *db, struct mdb_node *root, uint64_t t0, uint64_t t1, int *err)
{
    struct pool p;
    uint64_t n0 = count_straddlers(root, t0), n1 = count_straddlers(root, t1);
    if ((*err = pool_fill(db, &p, n0 + n1)))
        return n0 + n1;
    split_straddlers(db, &p, root, t0, false);
    split_straddlers(db, &p, root, t1, true);
    pool_drain(db, &p);
    return 2 * (n0 + n1);
}

/* Whether x still holds some of the revoke's rights in [t0, t1) (a deep piece's work). */
static bool needs(const struct mdb_node *x, uint64_t t0, uint64_t t1, unsigned rights)
{
    return overlaps(x, t0, t1) && (x->rights & rights);
}

/* Remove rights from x (whose children hold none of them): protect it, or drop it if empty. */
static void node_revoke(struct mdb *db, struct mdb_node *x, unsigned rights)
{
    unsigned left = x->rights & ~rights;
    if (!left) {
        x->space->ops->unmap(x->space, x->base, x->size);
        node_drop(db, x);
    } else {
        x->rights = left;
        x->space->ops->protect(x->space, x->base, x->size, left);
    }
}

/*
 * A piece whose derived nodes exceed a step's budget: remove the rights node by node,
 * leaves first (post-order), at most allowance nodes per step. Which nodes are done is
 * visible in the nodes themselves (a node without any of the rights needs nothing, nor
 * does anything derived from it). A step that stops pins its cursor path (op->scan, op->at
 * and its ancestors up to n: node->pin = db->gen). Children are appended, so a node
 * created between steps is reached by the scans still to come; only a structural change
 * at a pinned node (split, merge, move, drop) or a rights upgrade bumps db->gen, and a step
 * that finds db->gen changed walks again from n (every node visited, skips included, is
 * charged; a step always does at least one node). Otherwise it resumes at op->at / op->scan. The nodes straddling t0 or t1 are split first, so every node of n's subtree
 * that overlaps [t0, t1) lies inside it; at the end the nodes at the piece's edges merge
 * with their neighbours again (merge_edges, bounded).
 */
static int revoke_deep(struct mdb *db, struct mdb_revoke *op, struct mdb_node *n, uint64_t t0,
                       uint64_t t1, uint64_t allowance, uint64_t *work, bool *done)
{
    struct mdb_node *x = n, *c = n->child;
    int err = E_OK;
    if (op->at) {
        x = op->at;
        c = op->scan;
    } else {
        *work += split_ends(db, n, t0, t1, &err);
        if (err)
            return err;
        c = n->child;
    }
    uint64_t start = *work;
    for (;;) {
        while (c && !needs(c, t0, t1, op->rights)) {
            c = c->next;
            ++*work;
        }
        if (c) {
            x = c;
            c = x->child;
            ++*work;
            continue;
        }
        if (x == n)
            break;
        struct mdb_node *up = x->parent;
        c = x->next;
        node_revoke(db, x, op->rights);
        x = up;
        if (++*work - start >= allowance) {
            op->at = x;
            op->scan = c;
            op->gen = db->gen;          /* the caller keeps it; pin the cursor path */
            if (c)
                c->pin = db->gen;
            for (struct mdb_node *y = x; ; y = y->parent, ++*work) {
                y->pin = db->gen;
                if (y == n)
                    break;
            }
            *done = false;
            return E_OK;
        }
    }
    bool gone = false;
    db->gen++;                          /* unpin this op's path, so the edges can merge */
    if (op->include_self && (n->rights & op->rights)) {
        gone = !(n->rights & ~op->rights);
        node_revoke(db, n, op->rights);
    }
    if (!gone)
        merge_edges(db, n, t0, t1, MERGE_FACTOR * allowance);
    op->at = NULL;
    *done = true;
    return E_OK;
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
    op->at = op->scan = NULL;
    op->stop = 0;
    op->gen = 0;
    return E_OK;
}

/*
 * Revoke the piece of node n from op->next to u1 with what is left of the step's budget.
 * A piece whose derived nodes fit the budget is done at once (split, remove, merge); a
 * larger one starts only as a step's first piece and goes node by node (revoke_deep).
 * *done: the piece is complete (op->next may move on).
 */
static int revoke_part(struct mdb *db, struct mdb_revoke *op, struct mdb_node *n, uint64_t u1,
                       uint64_t budget, uint64_t *work, bool *done)
{
    uint64_t u0 = op->next, t0 = n->target + (u0 - n->base), t1 = t0 + (u1 - u0);
    if (op->at)
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
    op->stop = u1;
    return revoke_deep(db, op, n, t0, t1, budget, work, done);
}

/*
 * Revoke the next part of op's range, each unit in s and in everything derived from it,
 * visiting about budget nodes: holes are skipped through the tree (O(log n)), a step
 * covers at most units units, and a unit with more derived nodes than budget takes
 * several steps of about budget nodes each (plus the nodes straddling its piece's ends). Returns MDB_MORE, E_OK when the whole range is
 * done, or E_NOMEM (progress so far kept; call again later).
 *
 * Semantics: units are done in increasing order, and a unit is done when no node derived
 * from it (nor the unit itself, with include_self) holds any of the rights. So when E_OK
 * is returned, every mapping derived from the range before its unit was processed -- in
 * particular everything derived at mdb_revoke_begin time -- has lost the rights, whatever
 * ran between the steps under the database lock (other delegations, revokes, teardowns of
 * other spaces). A delegation from an already processed unit is simply later than the
 * revoke of that unit: with include_self false the unit still holds the rights and may pass
 * them on. This holds because op keeps unit numbers, and node pointers only while the
 * database is unchanged since its last step (db->gen); derivation only grows by
 * delegation. The host model test checks exactly this with random interleavings.
 */
int mdb_revoke_step(struct mdb *db, struct mdb_revoke *op, uint64_t units, uint64_t budget)
{
    uint64_t work = 0, done_units = 0;
    int err = E_OK;
    units = MAX(units, 1);
    budget = MAX(budget, 1);
    if (op->gen != db->gen)
        op->at = NULL;                  /* nodes may have changed: walk again */
    while (op->next < op->end && work < budget && done_units < units) {
        struct mdb_node *n = tree_from(op->space, op->next);
        if (!n || n->base >= op->end) {
            op->next = op->end;         /* nothing held up to the end */
            break;
        }
        if (n->base > op->next) {
            op->next = n->base;         /* skip the hole */
            op->at = NULL;
        }
        uint64_t u1 = op->at ? op->stop : MIN(MIN(node_end(n), op->end), op->next + (units - done_units));
        bool done;
        if ((err = revoke_part(db, op, n, u1, budget, &work, &done)) || !done)
            break;
        done_units += u1 - op->next;
        op->next = u1;
    }
    if (err)
        op->at = NULL;
    op->gen = db->gen;
    if (err)
        return err;
    return op->next < op->end ? MDB_MORE : E_OK;
}

/* Revoke in one go (mdb_revoke_begin + steps); same errors. */
int mdb_revoke(struct mdb *db, struct mdb_space *s, uint64_t base, uint64_t size,
               unsigned rights, bool include_self)
{
    struct mdb_revoke op;
    int err = mdb_revoke_begin(&op, s, base, size, rights, include_self);
    if (err)
        return err;
    while ((err = mdb_revoke_step(db, &op, op.end - op.next, UINT64_MAX)) == MDB_MORE)
        ;
    return err;
}

/*
 * Remove up to budget nodes of s and of what is derived from s (PD destruction);
 * leaves go first, each one unmapped. Returns MDB_MORE until s is empty, then E_OK.
 */
int mdb_teardown_step(struct mdb *db, struct mdb_space *s, uint64_t budget)
{
    for (uint64_t i = 0; i < MAX(budget, 1) && s->root; i++) {
        struct mdb_node *y = s->root;
        while (y->child)
            y = y->child;
        y->space->ops->unmap(y->space, y->base, y->size);
        node_drop(db, y);
    }
    return s->root ? MDB_MORE : E_OK;
}

/* ---- invariant check (tests, kernel debug builds) ------------------------------- */

/* Whether n's derivation links are consistent and it lies within its parent. */
static bool node_ok(struct mdb_space *s, const struct mdb_node *n)
{
    const struct mdb_node *p = n->parent;
    if (n->space != s || !n->size || !n->rights || n->target + n->size < n->target)
        return false;
    if (n->prev ? n->prev->next != n : (p && p->child != n))
        return false;
    if (n->next ? n->next->prev != n : (p && p->last != n))
        return false;
    if (!n->child != !n->last)
        return false;
    for (const struct mdb_node *c = n->child; c; c = c->next)
        if (c->parent != n)
            return false;
    if (!p)
        return true;
    return p->target <= n->target && n->target + n->size <= p->target + p->size &&
           !(n->rights & ~p->rights);
}

/* Check AVL subtree t: balanced, ordered within (lo, hi], nodes valid; -1 if broken. */
static int avl_check(struct mdb_space *s, const struct mdb_node *t, uint64_t lo, uint64_t hi, size_t *count)
{
    if (!t)
        return 0;
    if (t->base < lo || node_end(t) > hi || !node_ok(s, t))
        return -1;
    int l = avl_check(s, t->left, lo, t->base, count);
    int r = avl_check(s, t->right, node_end(t), hi, count);
    if (l < 0 || r < 0 || l - r > 1 || r - l > 1 || t->height != 1 + MAX(l, r))
        return -1;
    ++*count;
    return t->height;
}

/* Whether every structural invariant of s holds (tree, ranges, derivation links). */
bool mdb_check(struct mdb_space *s)
{
    size_t count = 0;
    return avl_check(s, s->root, 0, s->limit, &count) >= 0 && count == s->nodes;
}
