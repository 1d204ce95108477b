/* Protection domains: creation, capability lookups (lecture: "Protection Domain"). */
#include "pd.h"
#include "cpu.h"
#include "cpu_local.h"
#include "frame.h"
#include "kmalloc.h"
#include "kmem.h"
#include "kstring.h"
#include "tlb.h"

struct spinlock pd_lock = SPINLOCK_INIT;
struct mdb kernel_mdb;

/* Take pd_lock, answering shootdown requests while waiting (interrupts are off). */
void pd_lock_take(void)
{
    while (!spin_trylock(&pd_lock)) {
        tlb_poll();
        cpu_pause();
    }
}

/* Initialise the mapping database (boot, once). */
void pd_boot_init(void)
{
    mdb_init(&kernel_mdb, kmalloc, kfree);
}

/* Give back a partly built PD: whatever of its parts exist. */
static void pd_free(struct pd *pd, bool obj, bool mem, bool pio)
{
    if (pio)
        space_pio_destroy(&pd->pio);
    if (obj)
        space_obj_destroy(&pd->obj);
    if (mem)
        space_mem_destroy(&pd->mem);
    if (pd->kpd)
        kframe_free(pd->kpd);
    kframes_free(pd, PD_FRAMES);
}

/* A new PD with three empty spaces, child of parent; NULL if out of memory. */
struct pd *pd_create(struct pd *parent)
{
    struct pd *pd = kframes_alloc(PD_FRAMES);
    if (!pd)
        return NULL;
    pd->parent = parent;
    pd->kpd = kframe_alloc();
    if (!pd->kpd) {
        pd_free(pd, false, false, false);
        return NULL;
    }
    if (space_mem_init(&pd->mem, pd->kpd) != E_OK) {
        pd_free(pd, false, false, false);
        return NULL;
    }
    if (space_obj_init(&pd->obj, pd->kpd) != E_OK) {
        pd_free(pd, false, true, false);
        return NULL;
    }
    if (space_pio_init(&pd->pio, pd->kpd) != E_OK) {
        pd_free(pd, true, true, false);
        return NULL;
    }
    return pd;
}

/* Space_pio replaced its shared page by a real one: flush the PD on the cores running it. */
void space_pio_shootdown(struct space_pio *s)
{
    tlb_flush_pd(container_of(s, struct pd, pio));
}

/* Free a PD that never held anything (creation failed after pd_create). */
void pd_destroy_empty(struct pd *pd)
{
    pd_free(pd, true, true, true);
}

/* The PD running on this core (NULL in the idle loop before any PD ran). */
struct pd *pd_current(void)
{
    return this_cpu()->pd;
}

/* Look up sel in pd's object space: E_CAP, E_PERM or E_OK with *obj. */
int pd_cap(struct pd *pd, mword sel, enum cap_type t, unsigned rights, void **obj)
{
    struct capability c;
    if (sel == SEL_NULL || sel >= SEL_COUNT)
        return E_CAP;
    /* The caller's own table is read at PD_CAPS (lecture: Space_obj::page_fault on a hole). */
    bool found = pd == pd_current() ? space_obj_lookup_current(&pd->obj, sel, &c)
                                    : space_obj_lookup(&pd->obj, sel, &c);
    if (!found || cap_is_null(c) || cap_type(c) != t)
        return E_CAP;
    if ((c.rights & rights) != rights)
        return E_PERM;
    *obj = cap_object(c);
    return E_OK;
}

/* Check destination selector sel of pd: E_ARG, E_FULL, E_BUSY or E_OK. */
int pd_dst_sel(struct pd *pd, mword sel)
{
    return space_obj_check_free(&pd->obj, sel);
}
