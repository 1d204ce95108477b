/*
 * A capability as stored in a slot of a PD's object space (lecture: Space_obj).
 * One slot is CAP_SLOT_SIZE = 16 bytes:
 *
 *   word 0: kernel object pointer | enum cap_type   (objects are CAP_OBJ_ALIGN aligned,
 *                                                    so the type fits the low bits)
 *   word 1: rights (PD_R_* / EC_R_*)
 *
 * An all-zero slot is the null capability (CAP_NULL), which is what the shared
 * zero page reads as. Word 0 is written last on insert and first on removal, so a
 * reader that sees a non-zero word 0 sees a complete capability.
 */
#pragma once
#include "types.h"
#include "abi.h"
#include "syscall.h"

#define CAP_OBJ_ALIGN   8u                      /* kernel objects are at least 8-byte aligned */
#define CAP_TYPE_MASK   (CAP_OBJ_ALIGN - 1)     /* word 0 bits 2:0: enum cap_type */

struct capability {
    uint64_t obj;           /* object pointer | type; 0 = null */
    uint64_t rights;        /* PD_R_* / EC_R_* */
};
_Static_assert(sizeof(struct capability) == CAP_SLOT_SIZE, "a capability fills one slot");

/* The capability for obj of type t with rights. */
static inline struct capability cap_make(const void *obj, enum cap_type t, unsigned rights)
{
    return (struct capability){ (uint64_t)(uintptr_t)obj | (uint64_t)t, rights };
}

/* The type of c (CAP_NULL for the null capability). */
static inline enum cap_type cap_type(struct capability c)
{
    return (enum cap_type)(c.obj & CAP_TYPE_MASK);
}

/* The kernel object c refers to (NULL for the null capability). */
static inline void *cap_object(struct capability c)
{
    return (void *)(uintptr_t)(c.obj & ~(uint64_t)CAP_TYPE_MASK);
}

/* True if c is the null capability. */
static inline bool cap_is_null(struct capability c)
{
    return c.obj == 0;
}

/* The capability for mapping-database target value target with rights (see space_obj.c). */
static inline struct capability cap_from_target(uint64_t target, unsigned rights)
{
    return (struct capability){ target, rights };
}
