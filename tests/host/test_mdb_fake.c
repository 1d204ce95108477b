/* Host fakes for the mapping database: see test_mdb_fake.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "test_mdb_fake.h"

long fake_live, fake_fail_at = -1, fake_allocs;

/* The fake space that contains s. */
static struct fake_space *fake_of(struct mdb_space *s)
{
    return (struct fake_space *)s;
}

/* Hook: map into a hole, or raise rights on the same target. */
static void fake_map(struct mdb_space *s, struct shootdown_batch *bt, uint64_t base, uint64_t size,
                     uint64_t target, unsigned rights)
{
    struct fake_space *f = fake_of(s);
    f->batch = bt;
    f->maps++;
    for (uint64_t i = 0; i < size; i++) {
        unsigned old = f->rights[base + i];
        assert_true(rights != 0);
        assert_true(old == 0 || (!(old & ~rights) && f->target[base + i] == target + i));
        f->rights[base + i] = rights;
        f->target[base + i] = target + i;
    }
}

/* Hook: lower rights of mapped units to a non-empty subset. */
static void fake_protect(struct mdb_space *s, struct shootdown_batch *bt,
                         uint64_t base, uint64_t size, unsigned rights)
{
    struct fake_space *f = fake_of(s);
    f->batch = bt;
    f->protects++;
    f->max_cut = MAX(f->max_cut, size);
    for (uint64_t i = 0; i < size; i++) {
        unsigned old = f->rights[base + i];
        assert_true(old != 0 && rights != 0 && !(rights & ~old));
        f->rights[base + i] = rights;
    }
}

/* Hook: remove mapped units. */
static void fake_unmap(struct mdb_space *s, struct shootdown_batch *bt,
                       uint64_t base, uint64_t size)
{
    struct fake_space *f = fake_of(s);
    f->batch = bt;
    f->unmaps++;
    f->max_cut = MAX(f->max_cut, size);
    for (uint64_t i = 0; i < size; i++) {
        assert_true(f->rights[base + i] != 0);
        f->rights[base + i] = 0;
        f->target[base + i] = 0;
    }
}

const struct mdb_ops fake_ops = { fake_map, fake_protect, fake_unmap, NULL };

/* Forget injected failures and the allocation count. */
void fake_reset(void)
{
    fake_fail_at = -1;
    fake_allocs = 0;
}

/* The header before each fake allocation: the counter it is charged to (NULL: none). */
struct fake_hdr {
    long *charged;
    long pad;
};

/* malloc, except that allocation number fake_fail_at fails; charged to s (its counter, if s
   is a fake space). */
void *fake_alloc(struct mdb_space *s, size_t size)
{
    if (fake_allocs++ == fake_fail_at)
        return NULL;
    struct fake_hdr *h = malloc(sizeof(*h) + size);
    assert_non_null(h);
    fake_live++;
    h->charged = s && s->ops == &fake_ops ? &fake_of(s)->charged : NULL;
    if (h->charged)
        ++*h->charged;
    return h + 1;
}

/* free, counting live nodes and uncharging the space that paid. */
void fake_free(void *p)
{
    struct fake_hdr *h = (struct fake_hdr *)p - 1;
    fake_live--;
    if (h->charged)
        --*h->charged;
    free(h);
}

/* An empty fake space with valid units [0, limit). */
void fake_space_init(struct fake_space *f, uint64_t limit)
{
    memset(f, 0, sizeof(*f));
    mdb_space_init(&f->s, &fake_ops, f, limit);
}

/* A database on the fake allocator. */
void fake_db_init(struct mdb *db)
{
    fake_reset();
    mdb_init(db, fake_alloc, fake_free);
}

/* Whether the hooks' array agrees with the database's nodes of f, unit by unit. */
bool fake_agrees(struct fake_space *f)
{
    for (uint64_t u = 0; u < FAKE_UNITS; u++) {
        struct mdb_info in;
        if (mdb_lookup(&f->s, u, &in) != E_OK) {
            if (f->rights[u])
                return false;
        } else if (f->rights[u] != in.rights || f->target[u] != in.target + (u - in.base)) {
            return false;
        }
    }
    return mdb_check(&f->s);
}

/* Copy of everything observable about f. */
void fake_dump(struct fake_space *f, struct fake_dump *d)
{
    memset(d, 0, sizeof(*d));
    d->n = mdb_walk(&f->s, d->node, FAKE_UNITS);
    memcpy(d->rights, f->rights, sizeof(d->rights));
    memcpy(d->target, f->target, sizeof(d->target));
}

/* Whether two dumps are identical (nodes by identity and contents). */
bool fake_dump_equal(const struct fake_dump *a, const struct fake_dump *b)
{
    return memcmp(a, b, sizeof(*a)) == 0;
}

/* Tear f down completely with small steps. */
void fake_teardown(struct mdb *db, struct fake_space *f)
{
    while (mdb_teardown_step(db, NULL, &f->s, 3) == MDB_MORE)
        ;
}
