/*
 * A plain reference model of one window of address space (one entry per
 * 4 KiB page) to check the page-table engine against, and the random
 * operation generator shared by the randomized test and the fuzzer.
 */
#pragma once
#include "ptab.h"

struct ptab_model {
    vaddr_t  base;          /* first address of the window */
    size_t   npages;        /* window size in pages */
    paddr_t  *pa;           /* frame of each page */
    uint8_t  *perm;         /* normalised perm of each page, 0 = unmapped */
    uint8_t  *mt;           /* memory type of each page */
};

/* One operation: update [va, va+size) to pa/attr. */
struct ptab_op {
    vaddr_t va;
    uint64_t size;
    paddr_t pa;
    struct ptab_attr attr;
};

void model_init(struct ptab_model *m, vaddr_t base, size_t npages);
void model_destroy(struct ptab_model *m);
struct ptab_attr model_norm(const struct ptab *t, struct ptab_attr attr);
bool model_apply(struct ptab_model *m, const struct ptab_op *op);
vaddr_t model_check(const struct ptab_model *m, const struct ptab *t, vaddr_t va, uint64_t size);
struct ptab_op model_random_op(const struct ptab_model *m, const struct ptab *t, uint64_t *seed);
uint64_t model_rand(uint64_t *s);
