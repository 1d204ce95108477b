/*
 * A delegation under kernel-memory exhaustion is all or nothing, never a panic
 * (memory first, then the same attack on the object and I/O spaces). A source range of FRAG
 * pages in child A is fragmented into
 * one mapping-database node per page (the root hands the pages over one by one
 * in reverse physical order, so no two neighbours merge); delegating all of it
 * from A to B needs FRAG new nodes (kernel pool frames) on top of B's page
 * tables. The root empties the kernel pool, then frees two table frames at a
 * time (revoking spare single pages, each alone in its own GiB) and retries the
 * delegation after each (the old kernel panicked in its map hook at the first
 * attempt that passed its frame check). A delegate call takes at most 16 source pieces
 * and says how far it got (rdx), so the range takes many calls: every failing call answers
 * E_NOMEM with nothing changed (B holds nothing beyond what the earlier calls delegated,
 * pd_info of A and B unchanged), and then B maps every page of the range to the right frame.
 * Run as the root task; TAP output.
 */
#include "utest.h"

/* Source pages, one node each: FRAG / 32 node pages (128-byte nodes) is more than the
   delegation's old reserve margin (16 frames), but less than its whole check (23), so
   the first attempt that passes the check can take its nodes and then lack tables. */
#define FRAG        704u
#define SIZE_1G     (1UL << 30)
#define VA_A        0x40000000000UL     /* A's fragmented range */
#define VA_B        0x48000000000UL     /* B's destination, its own GiB */
#define SPARE_VA    0x50000000000UL     /* spare PD: one page per GiB */
#define SPARES      200u                /* spare pages: two table frames each */
#define MAX_OBJS    (1UL << 20)         /* bound of the draining loops */
#define PORT0       0x4000u             /* A's fragmented ports */
#define PORTS       1024u

/* Idle EC entry for the draining ECs: never runs. */
static void never(mword arg)
{
    (void)arg;
    sys_exit(0);
}

/* Hand the root's pages w.. to A one page at a time, the last frame first. */
static bool fragment(mword a, mword w)
{
    for (mword i = 0; i < FRAG; i++)
        if (sys_delegate(SEL_ROOT_PD, a, SPACE_MEM, w + (FRAG - 1 - i) * PAGE_SIZE_USER,
                         VA_A + i * PAGE_SIZE_USER, 1, MEM_R | MEM_W) != E_OK)
            return false;
    return true;
}

static mword pd_first, pd_count;        /* the draining PDs' capabilities (one node each) */

/* Create PDs, then ECs in drain, until the kernel answers E_NOMEM to both. */
static void empty_pool(mword drain)
{
    mword n = 0;
    pd_first = sel_alloc();
    if (sys_create_pd(pd_first, SEL_ROOT_PD, PD_QUOTA_SHARED) == E_OK)
        n++;
    while (n < MAX_OBJS && sys_create_pd(sel_alloc(), SEL_ROOT_PD, PD_QUOTA_SHARED) == E_OK)
        n++;
    pd_count = n;
    while (n < MAX_OBJS && sys_create_ec(sel_alloc(), drain, 0, (mword)never, 0, 0) == E_OK)
        n++;
    printf("# deleg_exhaust: %lu objects created to empty the pool\n", n);
}

/* Failed delegate calls under exhaustion: statuses other than E_NOMEM, calls that changed
   something. */
struct attempts {
    unsigned nomem, other, changed;
};

/*
 * Delegate src [sb, +n) to dst [db, +n) of kind (unit: bytes per item in the bases) one
 * kernel call at a time, freeing a spare page (two table frames) after each failing call,
 * spare pages *spare_i.. of spare: each failing call must answer E_NOMEM and change nothing
 * (dst holds nothing from the first item not yet delegated on, pd_info of src and dst the
 * same). Returns E_OK once all of it is delegated, else the last status.
 */
static int deleg_exhausted(mword src, mword dst, unsigned kind, mword sb, mword db, mword n,
                           unsigned rights, mword unit, mword spare, mword *spare_i,
                           struct attempts *at)
{
    mword off = 0;
    int st = E_NOMEM;
    while (off < n && *spare_i < SPARES) {
        struct pd_info is, id, js, jd;
        struct lookup_info li;
        CHECK_ST(sys_pd_info(src, &is), E_OK);
        CHECK_ST(sys_pd_info(dst, &id), E_OK);
        mword done = 0;
        st = (int)sys_call6(SYS_DELEGATE, src, dst, XFER(kind, rights), sb + off * unit,
                            db + off * unit, n - off, &done);
        if (st == E_OK) {
            off += done;
            continue;
        }
        at->nomem += st == E_NOMEM;
        at->other += st != E_NOMEM;
        at->changed += sys_lookup(dst, kind, db + off * unit, &li) != E_NOENT ||
                       sys_lookup(dst, kind, db + (n - 1) * unit, &li) != E_NOENT ||
                       sys_pd_info(src, &js) != E_OK || sys_pd_info(dst, &jd) != E_OK ||
                       memcmp(&is, &js, sizeof(is)) || memcmp(&id, &jd, sizeof(id));
        sys_revoke(spare, SPACE_MEM, SPARE_VA + *spare_i * SIZE_1G, 1, MEM_RWX, REVOKE_SELF);
        ++*spare_i;
    }
    return off == n ? E_OK : st;
}

/* Whether B's page i maps the frame of A's page i (the root's page FRAG-1-i), for every i. */
static bool b_complete(mword a, mword b)
{
    for (mword i = 0; i < FRAG; i++) {
        struct lookup_info la, lb;
        if (sys_lookup(a, SPACE_MEM, VA_A + i * PAGE_SIZE_USER, &la) != E_OK ||
            sys_lookup(b, SPACE_MEM, VA_B + i * PAGE_SIZE_USER, &lb) != E_OK ||
            la.phys + (VA_A + i * PAGE_SIZE_USER - la.base) !=
                lb.phys + (VA_B + i * PAGE_SIZE_USER - lb.base))
            return false;
    }
    return true;
}

int main(mword arg)
{
    mword a, b, spare, drain;
    if (!utest_init(arg))
        return utest_done("deleg_exhaust");
    mword w = mem_alloc(FRAG), s = mem_alloc(SPARES);
    tap_check(w && s, "%u source pages and %u spare pages in the window", FRAG, SPARES);
    CHECK_ST(child_pd(&a), E_OK);
    CHECK_ST(child_pd(&b), E_OK);
    CHECK_ST(child_pd(&spare), E_OK);
    tap_check(fragment(a, w), "A holds %u pages in reverse physical order (one node each)", FRAG);
    bool ok = true;
    for (mword i = 0; ok && i < SPARES; i++)
        ok = sys_delegate(SEL_ROOT_PD, spare, SPACE_MEM, s + i * PAGE_SIZE_USER,
                          SPARE_VA + i * SIZE_1G, 1, MEM_R) == E_OK;
    tap_check(ok, "the spare PD holds %u pages, each alone in its GiB", SPARES);
    /* Ports: A gets the even ones from the root and the odd ones through C (other parents:
       no two neighbours merge), so A's PORTS ports are one node each. */
    mword pc;
    CHECK_ST(child_pd(&pc), E_OK);
    ok = true;
    for (mword p = PORT0; ok && p < PORT0 + PORTS; p++)
        ok = (p % 2 == 0 || sys_delegate(SEL_ROOT_PD, pc, SPACE_PIO, p, p, 1, PIO_A) == E_OK) &&
             sys_delegate(p % 2 ? pc : SEL_ROOT_PD, a, SPACE_PIO, p, p, 1, PIO_A) == E_OK;
    tap_check(ok, "A holds %u ports, one node each", PORTS);
    drain = sel_alloc();
    CHECK_ST(sys_create_pd(drain, SEL_ROOT_PD, PD_QUOTA_SHARED), E_OK);
    CHECK_ST(sys_create_ec(sel_alloc(), drain, 0, (mword)never, 0, 0), E_OK);
    empty_pool(drain);
    struct attempts at = { 0, 0, 0 };
    mword freed = 0;
    int st = deleg_exhausted(a, b, SPACE_MEM, VA_A, VA_B, FRAG, MEM_R, PAGE_SIZE_USER, spare,
                             &freed, &at);
    printf("# deleg_exhaust: %u E_NOMEM answers, then %d after %lu spare pages freed\n", at.nomem,
           st, freed);
    tap_check(at.other == 0, "every failed attempt answered E_NOMEM (%u other statuses)", at.other);
    tap_check(at.changed == 0,
              "every failed attempt changed nothing (B holds nothing beyond the earlier calls, "
              "pd_info of A and B the same; %u differ)",
              at.changed);
    tap_check(at.nomem > 0, "the first attempts failed for lack of memory (%u)", at.nomem);
    tap_check(st == E_OK, "with memory back the delegation succeeds (%d)", st);
    tap_check(st == E_OK && b_complete(a, b), "B maps all %u pages to A's frames", FRAG);

    /* The same attack on the object space: the draining PDs' capabilities are one node each. */
    mword dst = SEL_ROOT_FREE, n = pd_count - 1;    /* the last selector was the failing one */
    struct lookup_info li;
    at = (struct attempts){ 0, 0, 0 };
    st = deleg_exhausted(SEL_ROOT_PD, b, SPACE_OBJ, pd_first, dst, n, PD_R_DELEGATE, 1, spare,
                         &freed, &at);
    printf("# deleg_exhaust: objects: %u E_NOMEM answers, then %d\n", at.nomem, st);
    tap_check(at.other == 0 && at.changed == 0,
              "delegating %lu capabilities under exhaustion: only E_NOMEM with "
              "nothing changed, or success (%u other statuses, %u changed)",
              n, at.other, at.changed);
    tap_check(st != E_OK || (sys_lookup(b, SPACE_OBJ, dst + n - 1, &li) == E_OK &&
                             li.type == CAP_PD && li.rights == PD_R_DELEGATE),
              "a successful object delegation put every capability in place");

    /* And on the I/O space. */
    at = (struct attempts){ 0, 0, 0 };
    st = deleg_exhausted(a, b, SPACE_PIO, PORT0, PORT0, PORTS, PIO_A, 1, spare, &freed, &at);
    printf("# deleg_exhaust: ports: %u E_NOMEM answers, then %d\n", at.nomem, st);
    tap_check(at.other == 0 && at.changed == 0,
              "delegating %u fragmented ports under exhaustion: only E_NOMEM with "
              "nothing changed, or success (%u other statuses, %u changed)",
              PORTS, at.other, at.changed);
    tap_check(st != E_OK || (sys_lookup(b, SPACE_PIO, PORT0, &li) == E_OK &&
                             sys_lookup(b, SPACE_PIO, PORT0 + PORTS - 1, &li) == E_OK),
              "a successful port delegation allowed every port");
    CHECK_ST(sys_yield(), E_OK);
    return utest_done("deleg_exhaust");
}
