/*
 * A device's DMA to the interrupt range and to the IOMMU's registers (docs/abi.md "assign"):
 * without interrupt remapping a DMA write to 0xFEEx_xxxx is not translated, it is an interrupt
 * message, so a driver could make its device raise any vector, an NMI or an INIT on any core.
 * The root gives a driver PD QEMU's edu device (started with dma_mask=0xffffffff so that it
 * reaches 32-bit bus addresses), its BAR and a MEM_D page holding message words; the driver
 * copies a word into the edu and the edu writes it to 0xFEE00000. The kernel turns interrupt
 * remapping on with an empty table and compatibility-format messages off, which blocks them on
 * hardware; QEMU 7.2 delivers compatibility-format messages anyway, so the kernel also survives
 * them: an exception vector (one with an error code too) that is in service at the LAPIC is an
 * interrupt and is acknowledged and ignored, as are a PIC vector, the spurious vector and an
 * NMI no panic sent; core 0 runs on and takes timer ticks after each. DMA to the IOMMU's
 * register page faults like any address the driver does not hold. Where the IOMMU cannot
 * block device interrupts, assign refuses the device (E_NOENT). Root task; TAP output.
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
#define POLL_TSC        (1UL << 32)     /* bound on a transfer's status polling, TSC ticks */

#define MSI_ADDR        0xFEE00000UL    /* message address: destination APIC id 0 (core 0) */
#define MSI_FIXED(v)    ((uint32_t)(v))             /* fixed delivery of vector v */
#define MSI_NMI         (4u << 8)                   /* delivery mode 100: NMI */
#define VEC_TLB         0xF3            /* the kernel's TLB shootdown vector (trap.h) */
#define INJECT_ROUNDS   3               /* messages of the TLB vector sent */
#define VTD_REGS        0xFED90000UL    /* QEMU's VT-d register page */

#define BAR_VA          0x30000000UL    /* the driver's view of BAR0 */
#define BUF_VA          0x01000000UL    /* its MEM_D page: the message words */

/* The message words the driver sends (the last one goes to the IOMMU's registers). */
static const uint32_t msg[] = { MSI_FIXED(VEC_TLB), MSI_FIXED(17), MSI_FIXED(19), MSI_FIXED(0x30),
                                MSI_FIXED(0xFF), MSI_FIXED(0xF0), MSI_FIXED(0x40), MSI_NMI,
                                0x5A5A5A5A };
static const char *const what[] = { "TLB vector", "#AC, an exception with an error code",
                                    "#XM, one a user can raise", "a legacy PIC vector",
                                    "the spurious vector", "the cross-call IPI vector",
                                    "the IOMMU fault vector", "an NMI", "" };
#define NWORDS (sizeof(msg) / sizeof(msg[0]))

struct job {
    mword src, dst, count;
};
static struct job job;                  /* shared with the driver (data segment) */

/* Driver: count bytes from src to dst through the edu's buffer (two transfers); exit 0 when
   both finished, 2 if the device never did. */
static void drv_copy(mword unused_arg)
{
    (void)unused_arg;
    volatile uint64_t *r = (volatile uint64_t *)BAR_VA;
    mword src[2] = { job.src, EDU_BUF }, dst[2] = { EDU_BUF, job.dst };
    for (int k = 0; k < 2; k++) {
        r[EDU_DMA_SRC / 8] = src[k];
        r[EDU_DMA_DST / 8] = dst[k];
        r[EDU_DMA_COUNT / 8] = job.count;
        r[EDU_DMA_CMD / 8] = (k ? EDU_CMD_TO_RAM : 0) | EDU_CMD_START;
        bool done = false;
        for (uint64_t end = utest_rdtsc() + POLL_TSC; !done && utest_rdtsc() < end;)
            done = !(r[EDU_DMA_CMD / 8] & EDU_CMD_START);
        if (!done)
            sys_exit(2);
    }
    sys_exit(0);
}

/* The driver copies count bytes at its src to bus address dst; true if it finished. */
static bool copy(mword drv, mword src, mword dst, mword count)
{
    struct ec_info ei;
    job = (struct job){ src, dst, count };
    return child_run(drv, info_page()->num_cpus > 1 ? 1 : 0, drv_copy, 0, &ei) == E_OK &&
           exited_with(&ei, 0);
}

/* Shootdown IPIs core 0 handled so far. */
static uint64_t tlb_ipis(void)
{
    struct core_counters cc;
    return sys_counters(0, &cc) == E_OK ? cc.ipis_received : 0;
}

/* The index of the edu in the device page, -1 if there is none. */
static int edu_index(const struct info_devices *dv)
{
    for (unsigned i = 0; i < dv->num_devs; i++)
        if (dv->dev[i].vendor == EDU_VENDOR && dv->dev[i].device == EDU_DEVICE)
            return (int)i;
    return -1;
}

int main(mword arg)
{
    if (!utest_init(arg) || !mem_init(info_page()))
        return utest_done("dma_msi");
    const struct info_devices *dv = (const struct info_devices *)INFO_DEV_ADDR;
    int e = edu_index(dv);
    if (e < 0 || !dv->iommu) {
        tap_check(true, "device interrupts # SKIP no edu device or no IOMMU");
        return utest_done("dma_msi");
    }
    mword dev = SEL_ROOT_DEV + (mword)e, drv;
    CHECK_ST(child_pd(&drv), E_OK);
    int st = sys_assign(dev, drv);
    if (st == E_NOENT) {
        tap_check(true, "assign refused (E_NOENT): the IOMMU cannot block the device's "
                        "interrupts");
        struct dev_faults f;
        CHECK_ST(sys_dev_faults(dev, &f), E_OK);
        return utest_done("dma_msi");
    }
    CHECK_ST(st, E_OK);
    mword bar = info_page()->phys_window + dv->dev[e].bar[0].base, buf;
    CHECK_ST(sys_delegate(SEL_ROOT_PD, drv, SPACE_MEM, bar, BAR_VA, EDU_BAR_PAGES, MEM_R | MEM_W),
             E_OK);
    CHECK_ST(child_give(drv, BUF_VA, 1, MEM_R | MEM_W | MEM_D, &buf), E_OK);
    volatile uint32_t *words = (volatile uint32_t *)buf;
    for (unsigned i = 0; i < NWORDS; i++)
        words[i] = msg[i];
    struct dev_faults f;
    sys_dev_faults(dev, &f);                        /* forget older faults */

    uint64_t before = tlb_ipis();
    bool ran = true;
    for (int i = 0; i < INJECT_ROUNDS; i++)
        ran = ran && copy(drv, BUF_VA, MSI_ADDR, 4);
    uint64_t got = tlb_ipis() - before;
    tap_check(ran, "%d DMA writes of the TLB shootdown vector to 0x%lx: core 0 took %lu of them "
              "(0 where compatibility-format messages are blocked; QEMU passes them)",
              INJECT_ROUNDS, MSI_ADDR, got);
    uint64_t stray = utest_counters(0).stray_irqs;
    for (unsigned i = 1; i < NWORDS - 1; i++) {
        ran = copy(drv, BUF_VA + 4 * i, MSI_ADDR, 4);
        for (int k = 0; k < 100; k++)
            sys_yield();
        uint64_t t = utest_ticks(0);
        bool ticks = false;
        for (uint64_t end = utest_rdtsc() + POLL_TSC; !ticks && utest_rdtsc() < end;)
            ticks = utest_ticks(0) > t + 2;
        tap_check(ran && ticks, "a DMA write of message 0x%x (%s) to 0x%lx: core 0 runs on and "
                  "takes timer ticks", msg[i], what[i], MSI_ADDR);
    }
    tap_check(true, "core 0 ignored %lu exception vectors and NMIs sent as messages",
              utest_counters(0).stray_irqs - stray);
    ran = copy(drv, BUF_VA + 4 * (NWORDS - 1), VTD_REGS, 4);
    st = sys_dev_faults(dev, &f);
    tap_check(ran && st == E_OK && f.count >= 1 && f.addr == VTD_REGS && f.write,
              "DMA to the IOMMU's register page 0x%lx faults (reported at 0x%lx)", VTD_REGS,
              f.addr);
    CHECK_ST(sys_assign(dev, SEL_NULL), E_OK);
    return utest_done("dma_msi");
}
