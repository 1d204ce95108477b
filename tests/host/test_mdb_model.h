/* Reference model of the mapping database and a random operation driver. */
#pragma once
#include "abi.h"
#include "types.h"

extern uint64_t (*model_rand)(void);        /* source of random numbers (driver) */
extern void (*model_fail)(const char *what); /* called on any disagreement */
extern long model_op_no;                    /* operations since model_start */
/* Coverage: delegation outcomes by status, effects, injected OOMs, largest space. */
extern long model_seen[E_NOENT + 1], model_upgrades, model_creates, model_nomems, model_max_nodes,
    model_prefixes;
extern long model_interleaved;              /* operations run between two revoke steps */

void model_start(void);
void model_op(void);
void model_finish(void);
