/*
 * libFuzzer target for the mapping database: the input bytes choose the operations
 * of the reference-model driver (tests/host/test_mdb_model.c); any disagreement
 * between database, hook arrays and model, any broken invariant or leak aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "test_mdb_model.h"

#define BYTES_PER_DRAW 2    /* input bytes consumed by one random draw */

static const uint8_t *in;
static size_t left;

/* The next draw from the input; zero once it is used up. */
static uint64_t input_draw(void)
{
    uint64_t v = 0;
    for (int i = 0; i < BYTES_PER_DRAW && left; i++, left--)
        v = v << 8 | *in++;
    return v;
}

/* A disagreement is a crash for the fuzzer. */
static void fail_abort(const char *what)
{
    fprintf(stderr, "fuzz_mdb: operation %ld: %s\n", model_op_no, what);
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Run the operations the input encodes, then tear everything down. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    in = data;
    left = size;
    model_rand = input_draw;
    model_fail = fail_abort;
    model_start();
    while (left)
        model_op();
    model_finish();
    return 0;
}
