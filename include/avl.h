/*
 * Intrusive AVL tree keyed by a 64-bit integer (lib/avl.c; the searches are inline here, so a
 * caller's key function inlines into them), shared by the kernel and the host tests. A user
 * embeds struct avl_node in its own object and passes a key function that reads the
 * object's key through container_of; keys in one tree are unique. The tree
 * allocates nothing and has no lock: the caller serialises every call on one tree.
 * Insertion, removal and the searches take O(log n); insertion and removal recurse to a
 * depth of at most 1.45 log2(n) + 2.
 */
#pragma once
#include "types.h"

struct avl_node {
    struct avl_node *left, *right;  /* subtrees with smaller and larger keys */
    int height;                     /* height of the subtree rooted here (a leaf: 1) */
};

/* The key of the object that embeds n. */
typedef uint64_t (*avl_key_fn)(const struct avl_node *n);

void avl_insert(struct avl_node **root, struct avl_node *n, avl_key_fn key);
void avl_remove(struct avl_node **root, const struct avl_node *n, avl_key_fn key);
long avl_check(const struct avl_node *root, avl_key_fn key);

/* The node with the largest key <= k, or NULL. */
static inline struct avl_node *avl_floor(struct avl_node *root, uint64_t k, avl_key_fn key)
{
    struct avl_node *best = NULL;
    while (root) {
        if (key(root) <= k) {
            best = root;
            root = root->right;
        } else {
            root = root->left;
        }
    }
    return best;
}

/* The node with the largest key <= k, or NULL; *above gets the node with the smallest key > k,
 * or NULL (one descent for both). */
static inline struct avl_node *avl_around(struct avl_node *root, uint64_t k, avl_key_fn key,
                                          struct avl_node **above)
{
    struct avl_node *best = NULL;
    *above = NULL;
    while (root) {
        if (key(root) <= k) {
            best = root;
            root = root->right;
        } else {
            *above = root;
            root = root->left;
        }
    }
    return best;
}

/* The node with the smallest key >= k, or NULL. */
static inline struct avl_node *avl_ceil(struct avl_node *root, uint64_t k, avl_key_fn key)
{
    struct avl_node *best = NULL;
    while (root) {
        if (key(root) >= k) {
            best = root;
            root = root->left;
        } else {
            root = root->right;
        }
    }
    return best;
}
