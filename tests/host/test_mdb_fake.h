/* Host fakes for the mapping database: flat per-unit spaces and a failing allocator. */
#pragma once
#include "mdb.h"

#define FAKE_UNITS 256      /* units per fake space */

/* A space whose hooks write a flat array: what the "hardware" translates. */
struct fake_space {
    struct mdb_space s;
    unsigned rights[FAKE_UNITS];    /* 0: not mapped */
    uint64_t target[FAKE_UNITS];
    unsigned maps, protects, unmaps; /* hook calls */
    uint64_t max_cut;               /* largest range one protect/unmap call covered */
    struct shootdown_batch *batch;  /* the batch the last hook call was handed */
    long charged;                   /* nodes and kins charged to this space and not freed */
};

extern const struct mdb_ops fake_ops;
extern long fake_live;              /* nodes allocated and not freed */
extern long fake_fail_at;           /* allocation number that fails (-1: none) */
extern long fake_allocs;            /* allocations since the last fake_reset */

void fake_reset(void);
void *fake_alloc(struct mdb_space *s, size_t size);
void fake_free(void *p);
void fake_space_init(struct fake_space *f, uint64_t limit);
void fake_db_init(struct mdb *db);
bool fake_agrees(struct fake_space *f);
/* Copy of everything observable about f (nodes and array) for before/after compares. */
struct fake_dump {
    size_t n;
    struct mdb_info node[FAKE_UNITS];
    unsigned rights[FAKE_UNITS];
    uint64_t target[FAKE_UNITS];
};
void fake_dump(struct fake_space *f, struct fake_dump *d);
bool fake_dump_equal(const struct fake_dump *a, const struct fake_dump *b);
void fake_teardown(struct mdb *db, struct fake_space *f);
