/*
 * Reference model of the mapping database and a random operation driver, shared by
 * the host test (test_mdb_random.c) and the fuzzer (tests/fuzz/fuzz_mdb.c).
 * The model keeps, per unit, (rights, target, parent unit) and implements the
 * documented semantics directly; after every operation database, hook arrays and
 * model are compared unit by unit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>
#include "test_mdb_model.h"
#include "test_mdb_fake.h"

#define NS      4       /* spaces */
#define NU      48      /* units per space (the spaces' limit) */
#define OPS     10000    /* operations per seed */
#define SEEDS   4       /* seeds per run: 40,000 operations */

struct munit {
    unsigned rights;    /* 0: empty */
    uint64_t target;
    int ps, pu;         /* parent unit; ps < 0 for a root */
};

static struct munit model[NS][NU];
static struct fake_space sp[NS];
static struct mdb db;
uint64_t (*model_rand)(void);
void (*model_fail)(const char *what);
long model_op_no;
long model_seen[E_NOENT + 1], model_upgrades, model_creates, model_nomems, model_max_nodes,
    model_prefixes;
long model_interleaved;

/* The next pseudo-random number from the driver. */
static uint64_t rnd(void)
{
    return model_rand();
}

/* A pseudo-random number below n. */
static unsigned below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

/* Report a disagreement to the driver. */
static void check(bool ok, const char *what)
{
    if (!ok)
        model_fail(what);
}

/* Give space s a root range in database and model. */
static void root(int s, unsigned base, unsigned n, uint64_t target, unsigned rights)
{
    check(mdb_insert_root(&db, NULL, &sp[s].s, base, n, target, rights) == E_OK, "root");
    for (unsigned i = 0; i < n; i++)
        model[s][base + i] = (struct munit){ rights, target + i, -1, 0 };
}

/* The model's answer to a delegation; performs it unless it fails. */
static int model_delegate(int ss, unsigned sb, int ds, unsigned dbase, unsigned n,
                          unsigned mask, unsigned *effect)
{
    if (!n)
        return E_ARG;
    if (sb + n > NU || dbase + n > NU)
        return E_RANGE;
    if (!mask)
        return E_ARG;
    for (unsigned i = 0; i < n; i++) {
        struct munit *s = &model[ss][sb + i], *d = &model[ds][dbase + i];
        if (!s->rights)
            return E_NOENT;
        if (!(s->rights & mask))
            return E_PERM;
        if (d->rights && (d->ps != ss || d->pu != (int)(sb + i) || d->target != s->target))
            return E_BUSY;
    }
    *effect = 0;
    for (unsigned i = 0; i < n; i++) {
        struct munit *s = &model[ss][sb + i], *d = &model[ds][dbase + i];
        unsigned r = s->rights & mask;
        if (!d->rights) {
            *d = (struct munit){ r, s->target, ss, (int)(sb + i) };
            *effect |= MDB_CREATED;
        } else if (r & ~d->rights) {
            d->rights |= r;
            *effect |= MDB_UPGRADED;
        }
    }
    return E_OK;
}

/* Extend mark to every unit derived (transitively) from a marked unit. */
static void mark_derived(bool mark[NS][NU], bool seedset[NS][NU])
{
    bool changed = true;
    while (changed) {
        changed = false;
        for (int s = 0; s < NS; s++)
            for (int u = 0; u < NU; u++) {
                struct munit *m = &model[s][u];
                if (!m->rights || m->ps < 0 || mark[s][u])
                    continue;
                if (mark[m->ps][m->pu] || seedset[m->ps][m->pu]) {
                    mark[s][u] = true;
                    changed = true;
                }
            }
    }
}

/* Remove rights from every marked unit; units left without rights become empty. */
static void model_strip(bool mark[NS][NU], unsigned rights)
{
    for (int s = 0; s < NS; s++)
        for (int u = 0; u < NU; u++)
            if (mark[s][u]) {
                model[s][u].rights &= ~rights;
                if (!model[s][u].rights)
                    model[s][u] = (struct munit){ 0, 0, 0, 0 };
            }
}

/* The model's answer to a revoke; performs it unless it fails. */
static int model_revoke(int s, unsigned base, unsigned n, unsigned rights, bool self)
{
    static bool mark[NS][NU], seedset[NS][NU];
    if (!n)
        return E_ARG;
    if (base + n > NU)
        return E_RANGE;
    if (!rights)
        return E_ARG;
    memset(mark, 0, sizeof(mark));
    memset(seedset, 0, sizeof(seedset));
    for (unsigned i = 0; i < n; i++)
        seedset[s][base + i] = model[s][base + i].rights != 0;
    mark_derived(mark, seedset);
    if (self)
        for (unsigned i = 0; i < n; i++)
            mark[s][base + i] |= seedset[s][base + i];
    model_strip(mark, rights);
    return E_OK;
}

/* The model's teardown of space s: its units and everything derived from them. */
static void model_teardown(int s)
{
    static bool mark[NS][NU], seedset[NS][NU];
    memset(mark, 0, sizeof(mark));
    memset(seedset, 0, sizeof(seedset));
    for (int u = 0; u < NU; u++)
        seedset[s][u] = mark[s][u] = model[s][u].rights != 0;
    mark_derived(mark, seedset);
    model_strip(mark, ~0u);
}

/* Index of the fake space that contains s, or -1. */
static int space_index(const struct mdb_space *s)
{
    for (int i = 0; i < NS; i++)
        if (s == &sp[i].s)
            return i;
    return -1;
}

/* Whether database, hook arrays and model agree on every unit. */
static void compare(void)
{
    for (int s = 0; s < NS; s++) {
        check(fake_agrees(&sp[s]), "hook array or invariants disagree with the nodes");
        for (int u = 0; u < NU; u++) {
            struct mdb_info in;
            struct munit *m = &model[s][u];
            if (mdb_lookup(&sp[s].s, u, &in) != E_OK) {
                check(m->rights == 0, "unit missing in the database");
                continue;
            }
            check(in.rights == m->rights, "rights differ");
            check(in.target + (u - in.base) == m->target, "target differs");
            if (!in.src_space) {
                check(m->ps < 0, "parent differs (root)");
                continue;
            }
            check(space_index(in.src_space) == m->ps, "parent space differs");
            check(in.src_unit + (u - in.base) == (uint64_t)m->pu, "parent unit differs");
        }
    }
}

/* A delegation between random units, or (often) a re-delegation onto a derived unit. */
static void random_delegate(void)
{
    int ss = below(NS), ds = below(NS);
    unsigned sb = below(NU), dbase = below(NU), n = 1 + below(8), mask = below(8);
    unsigned eff = 0, meff = 0;
    for (int tries = 0; tries < 4 && !model[ss][sb].rights; tries++) {
        ss = below(NS);                     /* prefer a source that holds something */
        sb = below(NU);
    }
    if (below(2) == 0) {                    /* aim at an existing derived unit */
        int s = below(NS), u = below(NU);
        if (model[s][u].rights && model[s][u].ps >= 0) {
            ds = s;
            dbase = u;
            ss = model[s][u].ps;
            sb = model[s][u].pu;
        }
    }
    if (below(4) == 0)
        fake_fail_at = fake_allocs + below(3);  /* out of memory at some allocation */
    uint64_t done = 0;
    int err = mdb_delegate(&db, NULL, &sp[ss].s, sb, &sp[ds].s, dbase, n, mask, &eff, &done);
    fake_fail_at = -1;
    if (err == E_NOMEM) {
        model_nomems++;
        return;                              /* compare() proves nothing changed */
    }
    /* A call that fills holes and would cut nodes for an upgrade ends before the first unit of
       the second kind: the caller goes on from there, the model does the prefix alone. */
    while (!err && done < n) {
        check(done > 0, "delegate made no progress");
        check(model_delegate(ss, sb, ds, dbase, (unsigned)done, mask, &meff) == E_OK &&
                  eff == meff, "a delegated prefix differs from the model's");
        model_prefixes++;
        sb += (unsigned)done, dbase += (unsigned)done, n -= (unsigned)done;
        eff = meff = 0;
        err = mdb_delegate(&db, NULL, &sp[ss].s, sb, &sp[ds].s, dbase, n, mask, &eff, &done);
    }
    int merr = model_delegate(ss, sb, ds, dbase, n, mask, &meff);
    check(err == merr, "delegate status differs");
    check(eff == meff || err, "delegate effect differs");
    model_seen[err]++;
    model_upgrades += !!(eff & MDB_UPGRADED);
    model_creates += !!(eff & MDB_CREATED);
}

static void random_revoke(bool nested);

/*
 * Step op to the end; each step must equal an atomic revoke of the units it covered.
 * Unless nested, other random delegations and revokes run between steps (the database
 * lock is dropped between steps in the kernel).
 */
static void revoke_steps(struct mdb_revoke *op, int s, unsigned rights, bool self,
                         unsigned budget, bool nested)
{
    int err;
    /* Node budget: unlimited (every step atomic), or small (a unit with more derived nodes
       goes node by node over several steps: the model sees it once it is complete). */
    uint64_t work = below(2) ? UINT64_MAX : 1 + below(8);
    uint64_t from = op->next;
    do {
        err = mdb_revoke_step(&db, NULL, op, budget, work);
        check(err == E_OK || err == MDB_MORE, "revoke step failed");
        if (op->deep)
            continue;                    /* a unit part done: no model state to compare */
        check(model_revoke(s, from, op->next - from, rights, self) == E_OK, "model step");
        from = op->next;
        if (err == MDB_MORE && !nested && below(3) == 0) {
            compare();
            model_interleaved++;
            if (below(2))
                random_delegate();
            else
                random_revoke(true);
            compare();
        }
    } while (err == MDB_MORE);
}

/* A revoke over a random range with random rights, in steps of a random budget. */
static void random_revoke(bool nested)
{
    int s = below(NS);
    unsigned base = below(NU), n = below(17), rights = below(8), budget = 1 + below(5);
    bool self = below(2);
    struct mdb_revoke op;
    int err = mdb_revoke_begin(&op, &sp[s].s, base, n, rights, self);
    if (err)
        check(err == model_revoke(s, base, n, rights, self), "revoke status differs");
    else
        revoke_steps(&op, s, rights, self, budget, nested);
}

/* Tear a random space down; boot resources come back for the root spaces. */
static void random_teardown(void)
{
    int s = below(NS);
    fake_teardown(&db, &sp[s]);
    model_teardown(s);
    compare();
    if (s == 0)
        root(0, 0, NU, 1000, MEM_RWX);
    if (s == 1)
        root(1, 0, 16, 5000, MEM_R | MEM_W);
}

/* Fresh database and model: space 0 holds all its units, space 1 a few. */
void model_start(void)
{
    memset(model, 0, sizeof(model));
    fake_db_init(&db);
    for (int s = 0; s < NS; s++)
        fake_space_init(&sp[s], NU);
    root(0, 0, NU, 1000, MEM_RWX);
    root(1, 0, 16, 5000, MEM_R | MEM_W);
    model_op_no = 0;
}

/* One random operation, then a full comparison. */
void model_op(void)
{
    unsigned k = below(100);
    if (k < 58)
        random_delegate();
    else if (k < 98)
        random_revoke(false);
    else
        random_teardown();
    compare();
    for (int s = 0; s < NS; s++)
        model_max_nodes = MAX(model_max_nodes, (long)sp[s].s.nodes);
    model_op_no++;
}

/* Tear everything down; every node must be freed. */
void model_finish(void)
{
    for (int s = 0; s < NS; s++)
        fake_teardown(&db, &sp[s]);
    check(fake_live == 0, "nodes leaked after teardown");
}
