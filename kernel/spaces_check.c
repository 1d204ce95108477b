/*
 * Self-checks of Space_obj and Space_pio in the kernel (command-line word "selftest"): slots and
 * bitmaps through the shared pages, the current PD's kdir in a loaded root, the TSS's I/O bitmap,
 * a slot written on another core. The spaces' kernel environment is kernel/kdir_env.c.
 */
#include "space_obj.h"
#include "space_pio.h"
#include "kmalloc.h"
#include "arch.h"
#include "frame.h"
#include "pd.h"
#include "ptab.h"
#include "kstring.h"
#include "selftest.h"

/* The self-checks' database: nodes from a bump allocator in one pool frame. */
static struct mdb test_db;
static uint8_t *test_heap;
static size_t test_heap_used;

/* A 16-byte aligned node of size bytes from test_heap, whatever space s it is for; NULL when the
   frame is used up. */
static void *test_alloc(struct mdb_space *s, size_t size)
{
    (void)s;
    size = ALIGN_UP(size, 16);
    if (!test_heap || test_heap_used + size > PAGE_SIZE)
        return NULL;
    test_heap_used += size;
    return test_heap + test_heap_used - size;
}

/* Nothing: the bump allocator frees its whole frame at once. */
static void test_free(void *p)
{
    (void)p;
}

/* Start a self-check: the database and its heap; false if out of memory. */
static bool test_begin(void)
{
    paddr_t heap = kframe_alloc();
    test_heap = heap ? phys_to_virt(heap) : NULL;
    test_heap_used = 0;
    mdb_init(&test_db, test_alloc, test_free);
    return heap != 0;
}

/* End a self-check: free the heap. */
static void test_end(void)
{
    if (test_heap)
        kframe_free(virt_to_phys(test_heap));
    test_heap = NULL;
}

/* A self-check's PD: a kdir with both spaces. */
struct test_pd {
    paddr_t kdir;
    struct space_obj obj;
    struct space_pio pio;
};

static unsigned test_shootdowns;                /* shootdowns the test spaces asked for */

/* A test space is in no PD: count the shootdown instead of doing one. */
static void test_shootdown(struct space_pio *s)
{
    (void)s;
    test_shootdowns++;
}

/* Set up t on a fresh kdir; false if out of memory. */
static bool test_pd_init(struct test_pd *t)
{
    t->kdir = kframe_alloc();
    if (!t->kdir || space_obj_init(&t->obj, t->kdir) != E_OK ||
        space_pio_init(&t->pio, t->kdir) != E_OK)
        return false;
    t->pio.shootdown = test_shootdown;
    return true;
}

/* Tear t down through the database, then free its spaces and kdir. */
static void test_pd_destroy(struct test_pd *t)
{
    if (!t->kdir)
        return;
    while (mdb_teardown_step(&test_db, NULL, &t->obj.mdb, ~0ul) == MDB_MORE)
        ;
    while (mdb_teardown_step(&test_db, NULL, &t->pio.mdb, ~0ul) == MDB_MORE)
        ;
    space_obj_destroy(&t->obj);
    space_pio_destroy(&t->pio);
    kframe_free(t->kdir);
}

/* Free frames in the pool once the shared pages exist (the first space_*_init allocates them). */
static size_t pool_free_after_setup(void)
{
    struct test_pd t = { 0 };
    if (test_begin() && test_pd_init(&t))
        test_pd_destroy(&t);
    test_end();
    return kernel_pool.nfree;
}

/* Start a self-check of n PDs t[0..n) (zeroed): the database, then each PD; false if out of
   memory. */
static bool test_start(struct test_pd *t, unsigned n)
{
    bool ok = test_begin();
    for (unsigned i = 0; ok && i < n; i++)
        ok = test_pd_init(&t[i]);
    return ok;
}

/* End a self-check of the PDs t[0..n): tear them down (last first), free the heap; ok, or false
   (why) if the pool did not get back to before free frames. */
static bool test_finish(struct test_pd *t, unsigned n, size_t before, bool ok, char *why,
                        size_t why_len)
{
    while (n--)
        test_pd_destroy(&t[n]);
    test_end();
    if (ok && kernel_pool.nfree != before)
        return SELFTEST_FAIL("leaked %ld frames", (long)(before - kernel_pool.nfree));
    return ok;
}

static uint64_t dummy_objects[4] aligned(CAP_OBJ_ALIGN);

/* Checks of one object space (see the self-check below); true if all hold. */
static bool obj_checks(struct test_pd *t, char *why, size_t why_len)
{
    struct capability c, pd = cap_make(&dummy_objects[0], CAP_PD, PD_R_ALL);
    if (space_obj_lookup(&t->obj, 5, &c) || t->obj.r.pages != 0)
        return SELFTEST_FAIL("empty space: slot 5 not null or %zu pages", t->obj.r.pages);
    if (space_obj_insert(&test_db, &t->obj, 5, pd) != E_OK || t->obj.r.pages != 1 ||
        !space_obj_lookup(&t->obj, 5, &c) || c.obj != pd.obj || c.rights != PD_R_ALL)
        return SELFTEST_FAIL("insert at 5: %zu pages, type %u", t->obj.r.pages, cap_type(c));
    if (space_obj_lookup(&t->obj, 6, &c) || space_obj_lookup(&t->obj, SEL_COUNT - 1, &c))
        return SELFTEST_FAIL("a never written slot is not null");
    if (space_obj_insert(&test_db, &t->obj, 5, pd) != E_BUSY ||
        space_obj_insert(&test_db, &t->obj, 0, pd) != E_ARG ||
        space_obj_insert(&test_db, &t->obj, SEL_COUNT, pd) != E_FULL || t->obj.r.pages != 1)
        return SELFTEST_FAIL("bad inserts were not refused or changed the page count");
    space_obj_remove(&test_db, &t->obj, 5);
    if (space_obj_lookup(&t->obj, 5, &c))
        return SELFTEST_FAIL("removed slot is not null");
    return true;
}

SELFTEST(space_obj_reads_null_until_written_and_destroy_frees_every_frame)
{
    struct test_pd t = { 0 };
    size_t before = pool_free_after_setup();
    bool ok = test_start(&t, 1) ? obj_checks(&t, why, why_len) : SELFTEST_FAIL("out of memory");
    return test_finish(&t, 1, before, ok, why, why_len);
}

/* Checks of delegating one port from a to b (see the self-check below); true if all hold. */
static bool pio_checks(struct test_pd *a, struct test_pd *b, char *why, size_t why_len)
{
    struct mdb_delegation d;
    if (space_pio_grant(&test_db, &a->pio, 0, PIO_PORTS) != E_OK || a->pio.r.pages != 2 ||
        !space_pio_allowed(&a->pio, 0) || !space_pio_allowed(&a->pio, 0xFFFF))
        return SELFTEST_FAIL("root grant: %zu pages", a->pio.r.pages);
    if (space_pio_allowed(&b->pio, 0x3F8) || b->pio.r.pages != 0 ||
        space_pio_delegate_decode(&test_db, &d, &a->pio, 0x3F8, &b->pio, 0x3F8, 1, PIO_A) != E_OK)
        return SELFTEST_FAIL("delegating COM1 failed");
    space_pio_delegate_perform(&test_db, &d, &b->pio);
    if (!space_pio_allowed(&b->pio, 0x3F8) || space_pio_allowed(&b->pio, 0x3F9) ||
        space_pio_allowed(&b->pio, 0x3F7) || b->pio.r.pages != 1)
        return SELFTEST_FAIL("child bitmap wrong after delegation (%zu pages)", b->pio.r.pages);
    if (mdb_revoke(&test_db, NULL, &a->pio.mdb, 0x3F8, 1, PIO_A, false) != E_OK ||
        space_pio_allowed(&b->pio, 0x3F8))
        return SELFTEST_FAIL("revoked port still allowed");
    if (!space_pio_allowed(&a->pio, 0x3F8))
        return SELFTEST_FAIL("revoke without self removed the root's port");
    return true;
}

SELFTEST(space_pio_allows_exactly_the_delegated_ports_and_frees_every_frame)
{
    struct test_pd t[2] = { 0 };
    size_t before = pool_free_after_setup();
    bool ok = test_start(t, 2) ? pio_checks(&t[0], &t[1], why, why_len)
                               : SELFTEST_FAIL("out of memory");
    return test_finish(t, 2, before, ok, why, why_len);
}

/* Load a root for this core whose PDPT 511 is kdir (in *root) and make a stand-in PD with that
 * kdir current; what arch_root_restore takes back, 0 if E_NOMEM left *root without a root. */
static mword root_with_kdir(paddr_t kdir, struct ptab *root, struct pd *pd)
{
    if (ptab_init(root, &ptab_hpt, &kptab_env, HPT_LEVELS, 0) != E_OK)
        return 0;
    root->own_level = HPT_LEVELS - 1;
    if (kmem_root_init(root, cpu_id(), kdir) != E_OK) {
        kmem_root_fini(root);
        ptab_release(root);
        return 0;
    }
    pd->kdir = kdir;
    this_cpu()->pd = pd;
    return arch_root_swap(root->root);
}

/* A byte of the current PD's kdir read through its virtual address. */
static uint8_t kdir_byte(vaddr_t va)
{
    return *(volatile uint8_t *)va;
}

/* The fault paths with t current (no real #PF: the handlers are called, then the read). */
static bool fault_checks(struct test_pd *t, char *why, size_t why_len)
{
    struct capability c, pd = cap_make(&dummy_objects[1], CAP_PD, PD_R_CREATE);
    vaddr_t far = PD_CAPS + (SEL_COUNT - 1) * CAP_SLOT_SIZE, near = PD_CAPS + 300 * CAP_SLOT_SIZE;
    if (kdir_current() != t->kdir)
        return SELFTEST_FAIL("kdir_current %lx, expected %lx", kdir_current(), t->kdir);
    if (!space_obj_page_fault(far, 0) || kdir_byte(far) || space_obj_page_fault(far, PFERR_W))
        return SELFTEST_FAIL("unpopulated slot: zero page not mapped, or a write fault resolved");
    if (space_obj_insert(&test_db, &t->obj, 7, pd) != E_OK || !space_obj_page_fault(near, 0) ||
        kdir_byte(near))
        return SELFTEST_FAIL("slot 300 beside a written page does not read null");
    if (space_obj_insert(&test_db, &t->obj, 300, pd) != E_OK || !kdir_byte(near) ||
        !space_obj_lookup_current(&t->obj, 300, &c) || c.obj != pd.obj ||
        space_obj_lookup_current(&t->obj, 301, &c))
        return SELFTEST_FAIL("insert over the zero page is not visible through PD_CAPS at once");
    if (!space_pio_page_fault(PD_IOBMP + 0x10, 0) || kdir_byte(PD_IOBMP + 0x10) != 0xFF ||
        !space_pio_page_fault(PIO_BITMAP_END, 0) || kdir_byte(PIO_BITMAP_END) != 0xFF)
        return SELFTEST_FAIL("unpopulated bitmap or terminator does not read as all ones");
    if (space_pio_allow(&t->pio, 0x80, 1) != E_OK || kdir_byte(PD_IOBMP + 0x10) != 0xFE ||
        kdir_byte(PIO_BITMAP_END) != 0xFF)
        return SELFTEST_FAIL("allowing port 0x80 is not visible through PD_IOBMP at once");
    space_pio_deny(&t->pio, 0x80, 1);
    return true;
}

typedef bool (*current_checks)(struct test_pd *t, char *why, size_t why_len);

/* Run checks with a test PD current on this core; frames must all come back. */
static bool with_current_test_pd(current_checks checks, char *why, size_t why_len)
{
    static struct test_pd t;    /* other cores may use it: not on the core-local stack */
    static struct pd stand_in;  /* the current PD while t's kdir is loaded */
    struct pd *prev = this_cpu()->pd;
    struct ptab root = { 0 };
    t = (struct test_pd){ 0 };
    size_t before = pool_free_after_setup();
    bool ok = test_start(&t, 1);
    mword flags = irq_save(), old = ok ? root_with_kdir(t.kdir, &root, &stand_in) : 0;
    if (old) {
        ok = checks(&t, why, why_len);
        arch_root_restore(old);
        this_cpu()->pd = prev;
        kmem_root_fini(&root);
        ptab_release(&root);
    } else {
        ok = SELFTEST_FAIL("out of memory");
    }
    irq_restore(flags);
    return test_finish(&t, 1, before, ok, why, why_len);
}

SELFTEST(unpopulated_slots_and_bitmap_of_the_current_pd_read_through_shared_pages)
{
    return with_current_test_pd(fault_checks, why, why_len);
}

/* What another core does to the test PD while this core runs it. */
struct remote_op {
    struct test_pd *t;
    unsigned long sel, port;
    struct capability cap;
    int err;
};

/* On the other core: write a capability and allow a port (both replace shared pages). */
static void remote_write(void *arg)
{
    struct remote_op *op = arg;
    op->err = space_obj_insert(&test_db, &op->t->obj, op->sel, op->cap);
    if (op->err == E_OK)
        op->err = space_pio_allow(&op->t->pio, op->port, 1);
}

/* The first online core other than this one, or NUM_CPU. */
static unsigned other_core(void)
{
    for (unsigned c = 0; c < smp_cpus.count && c < NUM_CPU; c++)
        if (c != cpu_id() && cpu_remote(c)->online)
            return c;
    return NUM_CPU;
}

/* This core caches the shared pages, another core replaces them (see the self-check below). */
static bool cross_core_checks(struct test_pd *t, char *why, size_t why_len)
{
    struct capability c;
    /* Not on the stack: CPU_STACK is core-local, the other core would see its own. */
    static struct remote_op op;
    op = (struct remote_op){ t, 300, 0x8000, cap_make(&dummy_objects[2], CAP_PD, PD_R_ALL),
                             E_ABORT };
    vaddr_t slot = PD_CAPS + op.sel * CAP_SLOT_SIZE, bits = PD_IOBMP + op.port / 8;
    unsigned other = other_core(), shots = test_shootdowns;
    if (other == NUM_CPU)
        return true;    /* one core: nothing can be stale */
    if (!space_obj_page_fault(slot, 0) || kdir_byte(slot) || !space_pio_page_fault(bits, 0) ||
        kdir_byte(bits) != 0xFF)
        return SELFTEST_FAIL("shared pages not mapped on this core");
    if (!smp_call(other, remote_write, &op) || op.err != E_OK)
        return SELFTEST_FAIL("core %u: insert/allow failed (%d)", other, op.err);
    /* This core may still translate the slot to the zero page: the lookup confirms by walking. */
    if (!space_obj_lookup_current(&t->obj, op.sel, &c) || c.obj != op.cap.obj)
        return SELFTEST_FAIL("capability written on core %u not seen here (raw %lx)", other,
                             (unsigned long)*(volatile uint64_t *)slot);
    if (test_shootdowns != shots + 1)
        return SELFTEST_FAIL("replacing the all-ones page asked for %u shootdowns",
                             test_shootdowns - shots);
    return true;
}

SELFTEST(a_slot_written_on_another_core_is_found_and_a_replaced_bitmap_page_is_shot_down)
{
    return with_current_test_pd(cross_core_checks, why, why_len);
}
