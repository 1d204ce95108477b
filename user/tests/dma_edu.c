/*
 * DMA confined by the IOMMU (docs/abi.md "assign", "MEM_D"): the root gives a driver PD QEMU's
 * edu device, its MMIO BAR (as memory) and pages with MEM_D. The driver's edu DMA reaches those
 * pages; DMA to an address it does not hold, to a page it holds without MEM_D, to a page whose
 * MEM_D the root revoked, and after the device was unassigned faults, the fault is reported by
 * dev_faults, and the target memory (checked by the root) is unchanged. A revoke that races a
 * DMA loop on another core: once it returns, no DMA reaches the page. Hostile calls: a second
 * assignment, capabilities of the wrong type, MEM_D without an IOMMU. The cost of a one-page
 * delegate and revoke with and without MEM_D is printed. Run as the root task; TAP output.
 */
#include "utest.h"

#define EDU_VENDOR      0x1234
#define EDU_DEVICE      0x11E8
#define EDU_BAR_PAGES   256             /* BAR0: 1 MiB */
#define EDU_DMA_SRC     0x80            /* u64 registers of BAR0 (QEMU hw/misc/edu.c) */
#define EDU_DMA_DST     0x88
#define EDU_DMA_COUNT   0x90
#define EDU_DMA_CMD     0x98
#define EDU_CMD_START   1u              /* bit 0: start; clear again when done */
#define EDU_CMD_TO_RAM  2u              /* bit 1: direction, 1 = device buffer to bus address */
#define EDU_BUF         0x40000UL       /* the device's buffer in its own address space */
#define NBYTES            64              /* bytes per transfer */
#define POLL_MAX        (1UL << 24)     /* bound on the root's polling rounds */
#define POLL_TSC        (1UL << 32)     /* bound on a transfer's status polling, in TSC ticks
                                           (a transfer takes 100 ms of QEMU's virtual clock;
                                           under icount a tick is an instruction, 1 ns) */

#define BAR_VA          0x30000000UL    /* the driver's view of BAR0 */
#define BUF_VA          0x01000000UL    /* its MEM_D pages (edu addresses DMA below 256 MiB) */
#define BUF_PAGES       3
#define NOD_VA          0x01100000UL    /* a page it holds without MEM_D */
#define HOLE_VA         0x01200000UL    /* an address it does not hold */
#define BENCH_VA        0x02000000UL    /* the benchmark's page in the driver */
#define LARGE_VA        0x08000000UL    /* a 2 MiB MEM_D delegation */
#define LARGE_PAGES     512
#define LARGE_MID       300             /* the page of it revoked alone */
#define KERNEL_VA       0xFFFF800000000000UL    /* a kernel address */
#define BENCH_ROUNDS    64
#define RACE_ROUNDS     200             /* bound on the racing driver's transfers */
#define MANY_FAULTS     12              /* faults between two looks (more than 8, fewer than the
                                           kernel's log of 16) */
#define EXHAUST_QUOTA   48              /* frames of the exhaustion test's PD */
#define EXHAUST_VA      0x04000000UL    /* its MEM_D pages, EXHAUST_STEP apart */
#define EXHAUST_STEP    0x200000UL

struct job {
    mword src, dst, cmd;
    volatile int done;                  /* transfers finished (race loop) */
    volatile int stop;                  /* race loop: stop */
};
static struct job job;                  /* shared with the driver (data segment) */

/* Driver: run one transfer as job says; exit 0 when done, 2 if the device never finished. */
static bool edu_xfer(mword src, mword dst, mword cmd)
{
    volatile uint64_t *r = (volatile uint64_t *)BAR_VA;
    r[EDU_DMA_SRC / 8] = src;
    r[EDU_DMA_DST / 8] = dst;
    r[EDU_DMA_COUNT / 8] = NBYTES;
    r[EDU_DMA_CMD / 8] = cmd | EDU_CMD_START;
    for (uint64_t end = utest_rdtsc() + POLL_TSC; utest_rdtsc() < end;)
        if (!(r[EDU_DMA_CMD / 8] & EDU_CMD_START))
            return true;
    return false;
}

/* Driver EC: one transfer. */
static void drv_one(mword unused_arg)
{
    (void)unused_arg;
    sys_exit(edu_xfer(job.src, job.dst, job.cmd) ? 0 : 2);
}

/* Driver EC: transfers to job.dst until told to stop (at most RACE_ROUNDS). */
static void drv_loop(mword unused_arg)
{
    (void)unused_arg;
    for (int i = 0; i < RACE_ROUNDS && !READ_ONCE(job.stop); i++) {
        if (!edu_xfer(EDU_BUF, job.dst, EDU_CMD_TO_RAM))
            sys_exit(2);
        WRITE_ONCE(job.done, job.done + 1);
    }
    sys_exit(0);
}

/* Run one transfer in the driver (core cpu); true if it finished. */
static bool dma(mword drv, mword src, mword dst, bool to_ram)
{
    struct ec_info ei;
    job.src = src;
    job.dst = dst;
    job.cmd = to_ram ? EDU_CMD_TO_RAM : 0;
    return child_run(drv, info_page()->num_cpus > 1 ? 1 : 0, drv_one, 0, &ei) == E_OK &&
           exited_with(&ei, 0);
}

/* Did exactly the faults the device reported since the last look end with a write at addr? */
static bool faulted_at(mword dev, mword addr)
{
    struct dev_faults f;
    return sys_dev_faults(dev, &f) == E_OK && f.count >= 1 && f.addr == addr && f.write;
}

/* No fault reported since the last look? */
static bool no_fault(mword dev)
{
    struct dev_faults f;
    return sys_dev_faults(dev, &f) == E_OK && f.count == 0;
}

/* Are the NBYTES bytes at p all v? */
static bool all(const volatile uint8_t *p, uint8_t v)
{
    for (unsigned i = 0; i < NBYTES; i++)
        if (p[i] != v)
            return false;
    return true;
}

/* The index of the edu in the device page, -1 if there is none. */
static int edu_index(const struct info_devices *dv)
{
    for (unsigned i = 0; i < dv->num_devs; i++)
        if (dv->dev[i].vendor == EDU_VENDOR && dv->dev[i].device == EDU_DEVICE)
            return (int)i;
    return -1;
}

/* Without an IOMMU: assignment and MEM_D are refused, nothing changes. */
static void no_iommu(mword dev, mword drv)
{
    CHECK_ST(sys_assign(dev, drv), E_NOENT);
    mword w = mem_alloc(1);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, drv, SPACE_MEM, w, BUF_VA, 1, MEM_R | MEM_W | MEM_D),
             E_NOENT);
    struct lookup_info li;
    CHECK_ST(sys_lookup(drv, SPACE_MEM, BUF_VA, &li), E_NOENT);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, drv, SPACE_MEM, w, BUF_VA, 1, MEM_R | MEM_W), E_OK);
}

/* Hostile assign calls; the device is assigned to drv afterwards. */
static void assign_attacks(mword dev, mword drv, mword other)
{
    CHECK_ST(sys_assign(SEL_ROOT_PD, drv), E_CAP);          /* not a device */
    CHECK_ST(sys_assign(dev, dev), E_CAP);                  /* not a PD */
    CHECK_ST(sys_assign(dev + INFO_MAX_DEVS, drv), E_CAP);  /* nothing there */
    CHECK_ST(sys_assign(dev, SEL_NULL), E_NOENT);           /* not assigned */
    struct dev_faults f;
    CHECK_ST(sys_dev_faults(SEL_ROOT_PD, &f), E_CAP);
    CHECK_ST(sys_dev_faults(dev, (struct dev_faults *)USER_LIMIT), E_RANGE);
    CHECK_ST(sys_dev_faults(dev, (struct dev_faults *)KERNEL_VA), E_RANGE);
    CHECK_ST(sys_assign(dev, drv), E_OK);
    CHECK_ST(sys_assign(dev, drv), E_BUSY);                 /* twice */
    CHECK_ST(sys_assign(dev, other), E_BUSY);               /* to another PD */
    mword span = 1UL << (12 + 9 * ((const struct info_devices *)INFO_DEV_ADDR)->dpt_levels);
    if (span < USER_LIMIT)                                  /* beyond what the dpt translates */
        CHECK_ST(sys_delegate(SEL_ROOT_PD, drv, SPACE_MEM, mem_alloc(1), span, 1, MEM_R | MEM_D),
                 E_RANGE);
    else
        tap_check(true, "MEM_D beyond the dpt # SKIP the dpt spans user space");
}

/* Hostile MEM_D delegations: of a BAR (the root holds it without MEM_D), by a PD that holds its
   page without MEM_D, to a kernel address, of a count that runs past user space; each refused,
   nothing mapped. */
static void mem_d_attacks(mword drv, mword other, mword bar)
{
    struct lookup_info li;
    CHECK_ST(sys_delegate(SEL_ROOT_PD, other, SPACE_MEM, bar, BAR_VA, 1, MEM_R | MEM_W | MEM_D),
             E_PERM);
    CHECK_ST(sys_lookup(other, SPACE_MEM, BAR_VA, &li), E_NOENT);
    CHECK_ST(sys_delegate(drv, other, SPACE_MEM, NOD_VA, NOD_VA, 1, MEM_R | MEM_D), E_PERM);
    CHECK_ST(sys_lookup(other, SPACE_MEM, NOD_VA, &li), E_NOENT);
    mword w = mem_alloc(1);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, other, SPACE_MEM, w, KERNEL_VA, 1, MEM_R | MEM_D),
             E_RANGE);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, other, SPACE_MEM, w, BUF_VA, 1UL << 40, MEM_R | MEM_D),
             E_RANGE);
    CHECK_ST(sys_lookup(other, SPACE_MEM, BUF_VA, &li), E_NOENT);
}

/* The root runs one transfer itself through its own view of BAR0 (bar, uncached). */
static bool root_xfer(mword bar, mword src, mword dst, mword cmd)
{
    volatile uint64_t *r = (volatile uint64_t *)bar;
    r[EDU_DMA_SRC / 8] = src;
    r[EDU_DMA_DST / 8] = dst;
    r[EDU_DMA_COUNT / 8] = NBYTES;
    r[EDU_DMA_CMD / 8] = cmd | EDU_CMD_START;
    for (uint64_t end = utest_rdtsc() + POLL_TSC; utest_rdtsc() < end;)
        if (!(r[EDU_DMA_CMD / 8] & EDU_CMD_START))
            return true;
    return false;
}

/* The device assigned to a PD that is then destroyed: its DMA stops with it. The root drives
   the device itself. */
static void destroy_stops_dma(mword dev, mword bar)
{
    mword pd, w;
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(sys_assign(dev, pd), E_OK);
    CHECK_ST(child_give(pd, BUF_VA, 1, MEM_R | MEM_W | MEM_D, &w), E_OK);
    volatile uint8_t *page = (volatile uint8_t *)w;
    tap_check(root_xfer(bar, EDU_BUF, BUF_VA, EDU_CMD_TO_RAM) && !all(page, 0) && no_fault(dev),
              "DMA of the device assigned to a new PD reaches its MEM_D page");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
    for (unsigned i = 0; i < NBYTES; i++)
        page[i] = 0;
    tap_check(root_xfer(bar, EDU_BUF, BUF_VA, EDU_CMD_TO_RAM) && faulted_at(dev, BUF_VA) &&
                  all(page, 0),
              "after the PD was destroyed the device's DMA faults; the page is unchanged");
    CHECK_ST(sys_assign(dev, SEL_NULL), E_NOENT);       /* the destruction unassigned it */
}

static struct {
    mword dev, pd;
    volatile int stop, rounds, last;
} ar;                                   /* the assign loop racing a destruction */

/* Root EC on core 1: assign the device to ar.pd and unassign it again until that PD is gone
   (E_CAP) or told to stop; the last assign's status in ar.last. */
static void assign_loop(mword unused_arg)
{
    (void)unused_arg;
    while (!READ_ONCE(ar.stop)) {
        int st = sys_assign(ar.dev, ar.pd);
        if (st == E_OK)
            sys_assign(ar.dev, SEL_NULL);
        WRITE_ONCE(ar.last, st);
        WRITE_ONCE(ar.rounds, ar.rounds + 1);
        if (st == E_CAP)
            break;
    }
    sys_exit(0);
}

/* Assignments to a PD on core 1 race its destruction on core 0: once the destruction returned,
   the device is assigned to nobody and its DMA faults. */
static void assign_races_destroy(mword dev, mword bar)
{
    if (!utest_need_cores(2, "assign races the destruction of its PD"))
        return;
    mword pd, w, ec;
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(child_give(pd, BUF_VA, 1, MEM_R | MEM_W | MEM_D, &w), E_OK);
    ar.dev = dev;
    ar.pd = pd;
    ar.stop = ar.rounds = ar.last = 0;
    CHECK_ST(child_ec(SEL_ROOT_PD, 1, assign_loop, 0, &ec), E_OK);
    for (mword i = 0; i < POLL_MAX && READ_ONCE(ar.rounds) < 20; i++)
        sys_yield_pause();
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
    struct ec_info ei;
    for (mword i = 0; i < POLL_MAX && READ_ONCE(ar.last) != E_CAP; i++)
        sys_yield_pause();
    WRITE_ONCE(ar.stop, 1);
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    volatile uint8_t *page = (volatile uint8_t *)w;
    for (unsigned i = 0; i < NBYTES; i++)
        page[i] = 0;
    sys_dev_faults(dev, &(struct dev_faults){ 0 });
    tap_check(ar.last == E_CAP && sys_assign(dev, SEL_NULL) == E_NOENT &&
                  root_xfer(bar, EDU_BUF, BUF_VA, EDU_CMD_TO_RAM) && faulted_at(dev, BUF_VA) &&
                  all(page, 0),
              "%d assignments raced the PD's destruction: then E_CAP, the device assigned to "
              "nobody, its DMA faults", ar.rounds);
}

/* The root gives a PD a copy of the device capability and assigns the device to it; revoking
   that copy (the root keeps its own) stops the device's DMA. */
static void revoke_dev_cap_stops_dma(mword dev, mword bar)
{
    mword pd, w, sel = sel_alloc();
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd, SPACE_OBJ, dev, sel, 1, DEV_R_ALL), E_OK);
    CHECK_ST(sys_assign(dev, pd), E_OK);
    CHECK_ST(child_give(pd, BUF_VA, 1, MEM_R | MEM_W | MEM_D, &w), E_OK);
    volatile uint8_t *page = (volatile uint8_t *)w;
    tap_check(root_xfer(bar, EDU_BUF, BUF_VA, EDU_CMD_TO_RAM) && !all(page, 0) && no_fault(dev),
              "DMA of the device assigned to a PD holding a copy of its capability arrives");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, dev, 1, DEV_R_ALL, 0), E_OK);
    for (unsigned i = 0; i < NBYTES; i++)
        page[i] = 0;
    tap_check(root_xfer(bar, EDU_BUF, BUF_VA, EDU_CMD_TO_RAM) && faulted_at(dev, BUF_VA) &&
                  all(page, 0),
              "after that copy is revoked the device's DMA faults; the page is unchanged");
    CHECK_ST(sys_assign(dev, SEL_NULL), E_NOENT);       /* the revoke unassigned it */
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* A 2 MiB MEM_D delegation (a large page in hpt, 512 leaves in dpt): revoking one page in its
   middle stops DMA there and leaves its neighbour reachable; revoking the rest stops that. */
static void large_revoke(mword dev, mword bar)
{
    mword pd, w = mem_take(LARGE_PAGES, LARGE_PAGES * 0x1000);
    CHECK_ST(child_pd(&pd), E_OK);
    CHECK_ST(sys_assign(dev, pd), E_OK);
    volatile uint8_t *mid = (volatile uint8_t *)(w + LARGE_MID * 0x1000), *next = mid + 0x1000;
    for (unsigned i = 0; i < NBYTES; i++)
        mid[i] = next[i] = 0;
    CHECK_ST(sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, w, LARGE_VA, LARGE_PAGES,
                          MEM_R | MEM_W | MEM_D), E_OK);
    mword va = LARGE_VA + LARGE_MID * 0x1000;
    tap_check(w && root_xfer(bar, EDU_BUF, va, EDU_CMD_TO_RAM) && !all(mid, 0) && no_fault(dev),
              "DMA into the middle of a 2 MiB MEM_D delegation arrives");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, (mword)mid, 1, MEM_R, 0), E_OK);
    for (unsigned i = 0; i < NBYTES; i++)
        mid[i] = 0;
    tap_check(root_xfer(bar, EDU_BUF, va, EDU_CMD_TO_RAM) && faulted_at(dev, va) && all(mid, 0),
              "after one page of it is revoked, DMA there faults; the page is unchanged");
    tap_check(root_xfer(bar, EDU_BUF, va + 0x1000, EDU_CMD_TO_RAM) && !all(next, 0) &&
                  no_fault(dev),
              "and its neighbour is still reachable");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, w, LARGE_PAGES, MEM_R, 0), E_OK);
    for (unsigned i = 0; i < NBYTES; i++)
        next[i] = 0;
    tap_check(root_xfer(bar, EDU_BUF, va + 0x1000, EDU_CMD_TO_RAM) &&
                  faulted_at(dev, va + 0x1000) && all(next, 0),
              "after the whole delegation is revoked, DMA to the neighbour faults too");
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_OBJ, pd, 1, OBJ_R_ALL, REVOKE_SELF), E_OK);
}

/* The root assigns the device to itself: its window (far beyond what a dpt spans) is revoked
   as before, and a page it delegates to itself with MEM_D is DMA-reachable. */
static void root_owner(mword dev, mword bar)
{
    CHECK_ST(sys_assign(dev, SEL_ROOT_PD), E_OK);
    mword w = mem_alloc(1), gone = mem_alloc(1);
    CHECK_ST(sys_delegate(SEL_ROOT_PD, SEL_ROOT_PD, SPACE_MEM, w, BENCH_VA, 1,
                          MEM_R | MEM_W | MEM_D), E_OK);
    tap_check(root_xfer(bar, EDU_BUF, BENCH_VA, EDU_CMD_TO_RAM) &&
                  !all((volatile uint8_t *)BENCH_VA, 0) && no_fault(dev),
              "the root's own MEM_D page is reachable by the device assigned to the root");
    struct lookup_info li;
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, gone, 1, MEM_R, REVOKE_SELF), E_OK);
    CHECK_ST(sys_lookup(SEL_ROOT_PD, SPACE_MEM, gone, &li), E_NOENT);
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, w, 1, MEM_R, 0), E_OK);
    tap_check(root_xfer(bar, EDU_BUF, BENCH_VA, EDU_CMD_TO_RAM) && faulted_at(dev, BENCH_VA),
              "after the revoke the device's DMA there faults");
    CHECK_ST(sys_assign(dev, SEL_NULL), E_OK);
}

/* MEM_D pages 2 MiB apart (each a new table in hpt and dpt) into a PD with a small quota until
   E_NOMEM: the refused delegation changed nothing. */
static void exhaust(void)
{
    mword pd;
    struct pd_info a, b;
    struct lookup_info li;
    CHECK_ST(child_pd_quota(&pd, EXHAUST_QUOTA), E_OK);
    mword w = mem_alloc(1), va = EXHAUST_VA;
    int st = E_OK;
    for (unsigned i = 0; i < EXHAUST_QUOTA && st == E_OK; i++, va += EXHAUST_STEP) {
        sys_pd_info(pd, &a);
        st = sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, w, va, 1, MEM_R | MEM_W | MEM_D);
    }
    va -= EXHAUST_STEP;
    sys_pd_info(pd, &b);
    tap_check(st == E_NOMEM && a.frames == b.frames && a.used == b.used &&
                  sys_lookup(pd, SPACE_MEM, va, &li) == E_NOENT,
              "MEM_D delegations until the quota is out: E_NOMEM (got %d), nothing changed", st);
}

/* The median of the n values of v (sorted in place). */
static uint64_t median(uint64_t *v, unsigned n)
{
    for (unsigned i = 1; i < n; i++)
        for (unsigned k = i; k > 0 && v[k - 1] > v[k]; k--) {
            uint64_t t = v[k];
            v[k] = v[k - 1];
            v[k - 1] = t;
        }
    return v[n / 2];
}

/* Delegate one page into pd with rights and revoke it, BENCH_ROUNDS times: the median TSC of
   each call in *del and *rev (instructions under icount). */
static void bench(mword pd, unsigned rights, uint64_t *del, uint64_t *rev)
{
    static uint64_t d[BENCH_ROUNDS], r[BENCH_ROUNDS];
    mword w = mem_alloc(1);
    for (unsigned i = 0; i < BENCH_ROUNDS; i++) {
        uint64_t t0 = utest_rdtsc();
        sys_call6(SYS_DELEGATE, SEL_ROOT_PD, pd, XFER(SPACE_MEM, rights), w, BENCH_VA, 1, NULL);
        uint64_t t1 = utest_rdtsc();
        sys_revoke(SEL_ROOT_PD, SPACE_MEM, w, 1, MEM_R, 0);
        uint64_t t2 = utest_rdtsc();
        d[i] = t1 - t0;
        r[i] = t2 - t1;
    }
    *del = median(d, BENCH_ROUNDS);
    *rev = median(r, BENCH_ROUNDS);
}

/* The revoke of MEM_D races the driver's DMA loop on core 1: when it returns, no DMA lands. */
static void race(mword dev, mword drv, volatile uint8_t *page, mword va)
{
    if (!utest_need_cores(2, "a revoke races DMA on another core"))
        return;
    mword ec;
    job.dst = va;
    job.stop = 0;
    job.done = 0;
    CHECK_ST(child_ec(drv, 1, drv_loop, 0, &ec), E_OK);
    for (mword i = 0; i < POLL_MAX && READ_ONCE(job.done) < 2; i++)
        sys_yield_pause();
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, (mword)page, 1, MEM_D, 0), E_OK);
    for (unsigned i = 0; i < NBYTES; i++)
        page[i] = 0;
    int seen = READ_ONCE(job.done);
    for (mword i = 0; i < POLL_MAX && READ_ONCE(job.done) < seen + 3; i++)
        sys_yield_pause();
    WRITE_ONCE(job.stop, 1);
    struct ec_info ei;
    CHECK_ST(ec_wait(ec, &ei), E_OK);
    tap_check(exited_with(&ei, 0) && job.done >= seen + 3 && all(page, 0),
              "after the revoke of MEM_D returned, %d more transfers of the loop left the page "
              "unchanged", job.done - seen);
    tap_check(faulted_at(dev, va), "and they were reported as faults at %lx", va);
}

/* The driver's transfers with the device assigned, after the revoke and after unassign. */
static void transfers(mword dev, mword drv, volatile uint8_t *buf, volatile uint8_t *nod)
{
    for (unsigned i = 0; i < NBYTES; i++)
        buf[i] = (uint8_t)(0x5A ^ i);
    tap_check(no_fault(dev), "no fault is reported before the first transfer");
    tap_check(dma(drv, BUF_VA, EDU_BUF, false) && dma(drv, EDU_BUF, BUF_VA + 0x1000, true),
              "the driver's transfers RAM -> edu -> RAM finish");
    bool same = true;
    for (unsigned i = 0; i < NBYTES; i++)
        same = same && buf[0x1000 + i] == (uint8_t)(0x5A ^ i);
    tap_check(same && no_fault(dev), "the data arrived in the driver's MEM_D page, no fault");
    tap_check(dma(drv, EDU_BUF, HOLE_VA, true) && faulted_at(dev, HOLE_VA),
              "DMA to an address the driver does not hold faults, reported at %lx", HOLE_VA);
    tap_check(dma(drv, EDU_BUF, NOD_VA, true) && faulted_at(dev, NOD_VA) && all(nod, 0),
              "DMA to a page held without MEM_D faults; the root sees the page unchanged");
    for (unsigned i = 0; i < NBYTES; i++)
        buf[0x2000 + i] = 0;
    CHECK_ST(sys_revoke(SEL_ROOT_PD, SPACE_MEM, (mword)buf + 0x2000, 1, MEM_D, 0), E_OK);
    struct lookup_info li;
    tap_check(sys_lookup(drv, SPACE_MEM, BUF_VA + 0x2000, &li) == E_OK && (li.rights & MEM_W),
              "after the revoke of MEM_D the driver still holds the page read-write");
    tap_check(dma(drv, EDU_BUF, BUF_VA + 0x2000, true) && faulted_at(dev, BUF_VA + 0x2000) &&
                  all(buf + 0x2000, 0),
              "DMA into it faults; the page is unchanged");
    unsigned n = 0;
    for (unsigned i = 0; i < MANY_FAULTS; i++)
        n += dma(drv, EDU_BUF, HOLE_VA + i * 0x1000, true);
    struct dev_faults f;
    tap_check(n == MANY_FAULTS && sys_dev_faults(dev, &f) == E_OK && f.count == MANY_FAULTS &&
                  f.addr == HOLE_VA + (MANY_FAULTS - 1) * 0x1000,
              "%u faulting transfers before one look: all %u counted, the last one's address",
              MANY_FAULTS, MANY_FAULTS);
    race(dev, drv, buf + 0x1000, BUF_VA + 0x1000);
    CHECK_ST(sys_assign(dev, SEL_NULL), E_OK);
    CHECK_ST(sys_assign(dev, SEL_NULL), E_NOENT);
    for (unsigned i = 0; i < NBYTES; i++)
        buf[i] = 0;
    tap_check(dma(drv, EDU_BUF, BUF_VA, true) && faulted_at(dev, BUF_VA) && all(buf, 0),
              "after unassign the device's DMA faults and the page is unchanged");
}

int main(mword arg)
{
    if (!utest_init(arg) || !mem_init(info_page()))
        return utest_done("dma_edu");
    const struct info_devices *dv = (const struct info_devices *)INFO_DEV_ADDR;
    struct lookup_info li;
    tap_check(dv->num_devs == 0 || (sys_lookup(SEL_ROOT_PD, SPACE_OBJ, SEL_ROOT_DEV, &li) == E_OK &&
                                    li.type == CAP_DEV && li.rights == DEV_R_ALL),
              "the root holds a device capability at SEL_ROOT_DEV");
    int e = edu_index(dv);
    mword drv, other;
    CHECK_ST(child_pd(&drv), E_OK);
    CHECK_ST(child_pd(&other), E_OK);
    if (e < 0) {
        tap_check(true, "edu DMA # SKIP no edu device");
        return utest_done("dma_edu");
    }
    mword dev = SEL_ROOT_DEV + (mword)e;
    if (!dv->iommu) {
        no_iommu(dev, drv);
        return utest_done("dma_edu");
    }
    assign_attacks(dev, drv, other);
    mword bar = info_page()->phys_window + dv->dev[e].bar[0].base;
    CHECK_ST(sys_delegate(SEL_ROOT_PD, drv, SPACE_MEM, bar, BAR_VA, EDU_BAR_PAGES, MEM_R | MEM_W),
             E_OK);
    mword buf, nod;
    CHECK_ST(child_give(drv, BUF_VA, BUF_PAGES, MEM_R | MEM_W | MEM_D, &buf), E_OK);
    CHECK_ST(child_give(drv, NOD_VA, 1, MEM_R | MEM_W, &nod), E_OK);
    mem_d_attacks(drv, other, bar);
    transfers(dev, drv, (volatile uint8_t *)buf, (volatile uint8_t *)nod);
    destroy_stops_dma(dev, bar);
    revoke_dev_cap_stops_dma(dev, bar);
    large_revoke(dev, bar);
    assign_races_destroy(dev, bar);
    root_owner(dev, bar);
    exhaust();
    uint64_t dd, rd, dn, rn;
    bench(other, MEM_R | MEM_W | MEM_D, &dd, &rd);
    mword plain;                        /* a PD without a dpt */
    CHECK_ST(child_pd(&plain), E_OK);
    bench(plain, MEM_R | MEM_W, &dn, &rn);
    tap_check(dd && rd && dn && rn,
              "one page, median TSC: delegate %lu with MEM_D, %lu without; revoke %lu with, "
              "%lu without", dd, dn, rd, rn);
    return utest_done("dma_edu");
}
