/* Intrusive AVL tree (include/avl.h). */
#include "avl.h"

/* Height of a possibly empty subtree. */
static int height(const struct avl_node *n)
{
    return n ? n->height : 0;
}

/* Recompute n's height from its children. */
static void fix_height(struct avl_node *n)
{
    n->height = 1 + MAX(height(n->left), height(n->right));
}

/* Rotate n's right child up; returns the new subtree root. */
static struct avl_node *rotate_left(struct avl_node *n)
{
    struct avl_node *r = n->right;
    n->right = r->left;
    r->left = n;
    fix_height(n);
    fix_height(r);
    return r;
}

/* Rotate n's left child up; returns the new subtree root. */
static struct avl_node *rotate_right(struct avl_node *n)
{
    struct avl_node *l = n->left;
    n->left = l->right;
    l->right = n;
    fix_height(n);
    fix_height(l);
    return l;
}

/* Restore the balance at n whose subtrees are balanced and differ in height by at most 2;
   returns the subtree root. */
static struct avl_node *rebalance(struct avl_node *n)
{
    fix_height(n);
    int bal = height(n->left) - height(n->right);
    if (bal > 1) {
        if (height(n->left->left) < height(n->left->right))
            n->left = rotate_left(n->left);
        return rotate_right(n);
    }
    if (bal < -1) {
        if (height(n->right->right) < height(n->right->left))
            n->right = rotate_right(n->right);
        return rotate_left(n);
    }
    return n;
}

/* Insert n (key not in subtree t) into t; returns the new subtree root. */
static struct avl_node *insert(struct avl_node *t, struct avl_node *n, uint64_t k, avl_key_fn key)
{
    if (!t) {
        n->left = n->right = NULL;
        n->height = 1;
        return n;
    }
    struct avl_node **side = k < key(t) ? &t->left : &t->right;
    int h = height(*side);
    *side = insert(*side, n, k, key);
    /* A subtree that kept its height leaves every node above it balanced as it was. */
    return height(*side) == h ? t : rebalance(t);
}

/* Insert n into the tree at *root; no node of the tree may have n's key. */
void avl_insert(struct avl_node **root, struct avl_node *n, avl_key_fn key)
{
    *root = insert(*root, n, key(n), key);
}

/* Detach the minimum of the non-empty subtree t into *min; returns the new subtree root. */
static struct avl_node *take_min(struct avl_node *t, struct avl_node **min)
{
    if (!t->left) {
        *min = t;
        return t->right;
    }
    int h = height(t->left);
    t->left = take_min(t->left, min);
    return height(t->left) == h ? t : rebalance(t);
}

/* Remove the node with key k from subtree t (unchanged if absent); returns the new root. */
static struct avl_node *remove_key(struct avl_node *t, uint64_t k, avl_key_fn key)
{
    if (!t)
        return NULL;
    uint64_t tk = key(t);
    if (k != tk) {
        struct avl_node **side = k < tk ? &t->left : &t->right;
        int h = height(*side);
        *side = remove_key(*side, k, key);
        return height(*side) == h ? t : rebalance(t);
    }
    struct avl_node *m;
    if (!t->right)
        return t->left;
    t->right = take_min(t->right, &m);
    m->left = t->left;
    m->right = t->right;
    return rebalance(m);
}

/* Remove n from the tree at *root (the tree is unchanged if no node has n's key). */
void avl_remove(struct avl_node **root, const struct avl_node *n, avl_key_fn key)
{
    *root = remove_key(*root, key(n), key);
}

/* Check subtree t, whose keys must lie in [lo, hi]: heights exact, balanced, keys strictly
   ordered. Returns its height and adds its nodes to *count, or -1 if broken. */
static int check(const struct avl_node *t, uint64_t lo, uint64_t hi, avl_key_fn key, long *count)
{
    if (!t)
        return 0;
    uint64_t k = key(t);
    if (k < lo || k > hi || (t->left && k == 0) || (t->right && k == UINT64_MAX))
        return -1;
    int l = check(t->left, lo, k - 1, key, count);
    int r = check(t->right, k + 1, hi, key, count);
    if (l < 0 || r < 0 || l - r > 1 || r - l > 1 || t->height != 1 + MAX(l, r))
        return -1;
    ++*count;
    return t->height;
}

/* The number of nodes of the tree at root if every AVL invariant holds (each height
   exact, the subtrees' heights differ by at most one, keys strictly ordered), else -1. */
long avl_check(const struct avl_node *root, avl_key_fn key)
{
    long count = 0;
    return check(root, 0, UINT64_MAX, key, &count) < 0 ? -1 : count;
}
