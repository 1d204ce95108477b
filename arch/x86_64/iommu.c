/* Intel VT-d DMA remapping: bring-up, root and context tables, invalidation, fault records
 * (iommu.h; register layout in vtd.h). Register-based invalidation of the context cache and the
 * IOTLB; the queue only once at boot, for the interrupt entry cache. Interrupt remapping with an
 * empty table blocks every device's interrupt messages. */
#include "iommu.h"
#include "abi.h"
#include "vtd.h"
#include "cpu.h"
#include "kmalloc.h"
#include "kmem.h"
#include "lapic.h"
#include "pci.h"
#include "printk.h"
#include "smp.h"
#include "spinlock.h"
#include "trap.h"
#include "cpu_local.h"

#define VTD_TIMEOUT_US  100000          /* a command or an invalidation completes in this */
#define MSI_DEST_MAX    0xFF            /* APIC ids a compatibility-format message reaches */
#define QI_STATUS_OFF   0x800           /* the wait descriptor's status word in the queue page */
#define QI_DONE         1u              /* the status data it writes */

struct vtd_unit {
    volatile uint8_t *regs;             /* register page in KERNEL_MMIO */
    const struct acpi_drhd *drhd;       /* its DMAR entry: base and device scopes */
    uint64_t cap, ecap;
    paddr_t root;                       /* root table: one entry per bus */
    paddr_t ctx[VTD_ENTRIES];           /* context table of each bus (0: none yet) */
    paddr_t irt;                        /* interrupt remapping table: every entry not present */
    bool on;                            /* translation enabled */
    bool irq_blocked;                   /* interrupt remapping on: device interrupts blocked */
};

static struct vtd_unit units[ACPI_DMAR_UNITS];
static unsigned nunits;
static unsigned dpt_levels, dpt_leaf_mask, dpt_caps, dpt_mgaw;
static struct spinlock lock = SPINLOCK_INIT;   /* tables, registers, the fault log */
static struct iommu_fault fault_log[IOMMU_FAULT_LOG];   /* recorded, not yet asked for */
static unsigned log_n, log_lost;                /* entries of it; faults that found it full */
static unsigned long fault_events;              /* fault event interrupts taken */

/* The 32-bit register at off of u. */
static uint32_t rd32(const struct vtd_unit *u, unsigned off)
{
    return *(volatile uint32_t *)(u->regs + off);
}

/* The 64-bit register at off of u. */
static uint64_t rd64(const struct vtd_unit *u, unsigned off)
{
    return *(volatile uint64_t *)(u->regs + off);
}

/* Write the 32-bit register at off of u. */
static void wr32(struct vtd_unit *u, unsigned off, uint32_t v)
{
    *(volatile uint32_t *)(u->regs + off) = v;
}

/* Write the 64-bit register at off of u. */
static void wr64(struct vtd_unit *u, unsigned off, uint64_t v)
{
    *(volatile uint64_t *)(u->regs + off) = v;
}

/* Write back the cache line holding va when the units' table walks do not snoop (ECAP.C
 * clear on any unit); the page-table engine's flush hook for Dpt tables. */
void iommu_cache_flush(void *ctx, const void *va)
{
    (void)ctx;
    if (dpt_caps & PTAB_CAP_CLFLUSH)
        __asm__ __volatile__("clflush (%0)" :: "r"(va) : "memory");
}

/* Wait until the bits mask of the 64-bit register at off of u read as want; false after
 * VTD_TIMEOUT_US. */
static bool wait64(struct vtd_unit *u, unsigned off, uint64_t mask, uint64_t want)
{
    uint64_t end = time_us() + VTD_TIMEOUT_US;
    while ((rd64(u, off) & mask) != want) {
        if (time_us() > end)
            return false;
        cpu_pause();
    }
    return true;
}

/* Issue the GCMD command cmd (keeping the persistent state) and wait for its GSTS bit to read
 * as set (on) or clear; false on timeout. */
static bool gcmd(struct vtd_unit *u, uint32_t cmd, bool on)
{
    uint32_t keep = rd32(u, VTD_GSTS) & VTD_GSTS_PERSIST & ~cmd;
    wr32(u, VTD_GCMD, keep | (on ? cmd : 0));
    uint64_t end = time_us() + VTD_TIMEOUT_US;
    while (!(rd32(u, VTD_GSTS) & cmd) == on) {
        if (time_us() > end)
            return false;
        cpu_pause();
    }
    return true;
}

/* Flush u's write buffer if it has one (CAP.RWBF): table writes it may hold reach memory before
 * an invalidation makes the unit read them; false on timeout. */
static bool flush_wbuf(struct vtd_unit *u)
{
    if (!(u->cap & VTD_CAP_RWBF))
        return true;
    uint32_t keep = rd32(u, VTD_GSTS) & VTD_GSTS_PERSIST;
    wr32(u, VTD_GCMD, keep | VTD_GCMD_WBF);
    uint64_t end = time_us() + VTD_TIMEOUT_US;
    while (rd32(u, VTD_GSTS) & VTD_GCMD_WBF) {
        if (time_us() > end)
            return false;
        cpu_pause();
    }
    return true;
}

/* Invalidate u's IOTLB: everything (did < 0) or domain did, draining the unit's pending
 * reads and writes; false on timeout or when the unit refused. */
static bool flush_iotlb(struct vtd_unit *u, int did)
{
    if (!flush_wbuf(u))
        return false;
    unsigned reg = VTD_ECAP_IRO(u->ecap) + VTD_IOTLB_REG;
    wr64(u, reg, VTD_IOTLB_IVT | VTD_IOTLB_DR | VTD_IOTLB_DW |
                 (did < 0 ? VTD_IOTLB_GLOBAL : VTD_IOTLB_DOMAIN | VTD_IOTLB_DID(did)));
    return wait64(u, reg, VTD_IOTLB_IVT, 0) && VTD_IOTLB_IAIG(rd64(u, reg)) != 0;
}

/* Invalidate u's context cache and then its IOTLB: everything (did < 0) or domain did;
 * false on timeout. */
static bool flush_all(struct vtd_unit *u, int did)
{
    if (!flush_wbuf(u))
        return false;
    wr64(u, VTD_CCMD, VTD_CCMD_ICC | (did < 0 ? VTD_CCMD_GLOBAL
                                              : VTD_CCMD_DOMAIN | VTD_CCMD_DID(did)));
    return wait64(u, VTD_CCMD, VTD_CCMD_ICC, 0) && flush_iotlb(u, did);
}

/* Name of the fault reason r. */
static const char *reason_name(unsigned r)
{
    switch (r) {
    case VTD_FR_ROOT_NP:     return "root entry not present";
    case VTD_FR_CTX_NP:      return "context entry not present (device not assigned)";
    case VTD_FR_CTX_INVALID: return "context entry invalid";
    case VTD_FR_ADDR_BEYOND: return "address beyond the address width";
    case VTD_FR_WRITE:       return "no write right";
    case VTD_FR_READ:        return "no read right";
    default:                 return "other";
    }
}

/* Read, print and clear u's pending fault records into the log (lock held). */
static void collect(struct vtd_unit *u)
{
    uint32_t fsts = rd32(u, VTD_FSTS);
    unsigned nfr = VTD_CAP_NFR(u->cap), fro = VTD_CAP_FRO(u->cap);
    for (unsigned k = 0, i = VTD_FSTS_FRI(fsts); k < nfr; k++, i = (i + 1) % nfr) {
        unsigned off = fro + i * VTD_FRCD_SIZE;
        uint64_t hi = rd64(u, off + 8);
        if (!(hi & VTD_FRCD_F))
            continue;
        struct iommu_fault f = { .sid = VTD_FRCD_SID(hi), .read = hi & VTD_FRCD_T,
                                 .reason = VTD_FRCD_FR(hi), .addr = rd64(u, off) & VTD_FRCD_FI };
        wr32(u, off + 12, (uint32_t)(VTD_FRCD_F >> 32));        /* write 1 to clear F */
        if (log_n == IOMMU_FAULT_LOG) {
            log_lost++;                         /* neither kept nor printed: a storm of faults */
            continue;                           /* costs no console time with interrupts off */
        }
        fault_log[log_n++] = f;
        printk("iommu: DMA fault: device %02x:%02x.%x %s at 0x%lx, reason %u (%s)\n",
               PCI_BUS(f.sid), PCI_DEV(f.sid), PCI_FN(f.sid), f.read ? "read" : "write", f.addr,
               f.reason, reason_name(f.reason));
    }
    if (fsts & VTD_FSTS_PFO) {
        printk("iommu: fault records overflowed: faults were lost\n");
        wr32(u, VTD_FSTS, VTD_FSTS_PFO);
    }
}

/* Move every unit's pending fault records into the log (lock held). */
static void collect_all(void)
{
    for (unsigned i = 0; i < nunits; i++)
        if (units[i].on)
            collect(&units[i]);
}

/* The DMA faults recorded since the last call (read from the units, printed as they are
 * read): the first max of them into out, all of them forgotten. Returns how many there were
 * (those beyond the log's IOMMU_FAULT_LOG included). */
unsigned iommu_faults(struct iommu_fault *out, unsigned max)
{
    mword f = irq_save();
    spin_lock(&lock);
    collect_all();
    unsigned n = log_n + log_lost;
    for (unsigned i = 0; i < log_n && i < max; i++)
        out[i] = fault_log[i];
    log_n = log_lost = 0;
    spin_unlock(&lock);
    irq_restore(f);
    return n;
}

/* The fault event interrupt (VEC_IOMMU_FAULT, interrupts off): the records into the log. */
void iommu_fault_irq(void)
{
    spin_lock(&lock);
    fault_events++;
    collect_all();
    spin_unlock(&lock);
}

/* Does scope s name the function bdf: an endpoint, or a bridge with bdf's bus behind it? Only
 * scopes of one path entry (on their start bus) are matched. A device behind a PCIe-to-PCI
 * bridge, whose DMA carries the bridge's requester id, is not handled. */
static bool scope_has(const struct acpi_dmar_scope *s, uint16_t bdf)
{
    if (s->depth != 1)
        return false;
    if (s->type == ACPI_SCOPE_ENDPOINT)
        return PCI_BDF(s->bus, s->dev, s->fn) == bdf;
    const struct pci_dev *b = pci_at(PCI_BDF(s->bus, s->dev, s->fn));
    return s->type == ACPI_SCOPE_BRIDGE && b && b->secondary &&
           PCI_BUS(bdf) >= b->secondary && PCI_BUS(bdf) <= b->subordinate;
}

/* The unit translating bdf's DMA (its scope, else the unit including all), NULL if none is on. */
static struct vtd_unit *unit_of(uint16_t bdf)
{
    struct vtd_unit *all = NULL;
    for (unsigned i = 0; i < nunits; i++) {
        for (unsigned k = 0; k < units[i].drhd->nscope; k++)
            if (scope_has(&units[i].drhd->scope[k], bdf))
                return units[i].on ? &units[i] : NULL;
        if (units[i].drhd->include_all && units[i].drhd->segment == 0)
            all = &units[i];
    }
    return all && all->on ? all : NULL;
}

/* Store the 16-byte entry (lo, hi) at e: hi first, so the entry becomes present (lo's P bit)
 * complete; lo 0 first when it is cleared. */
static void entry_set(volatile uint64_t *e, uint64_t lo, uint64_t hi)
{
    if (lo) {
        __atomic_store_n(&e[1], hi, __ATOMIC_RELEASE);
        __atomic_store_n(&e[0], lo, __ATOMIC_RELEASE);
    }
    else {
        __atomic_store_n(&e[0], 0, __ATOMIC_RELEASE);
        __atomic_store_n(&e[1], 0, __ATOMIC_RELEASE);
    }
    iommu_cache_flush(NULL, (const void *)e);
}

/* Make sure bdf's bus has a context table (so that iommu_attach takes no memory): E_NOENT
 * without a unit for bdf, E_NOMEM. The table stays (a kernel table, empty until attach). */
int iommu_prepare(uint16_t bdf)
{
    struct vtd_unit *u = unit_of(bdf);
    if (!u)
        return E_NOENT;
    mword f = irq_save();
    spin_lock(&lock);
    int err = E_OK;
    unsigned bus = PCI_BUS(bdf);
    if (!u->ctx[bus]) {
        paddr_t ctx = kframe_alloc();
        if (!ctx)
            err = E_NOMEM;
        else {
            for (size_t off = 0; off < PAGE_SIZE; off += 64)
                iommu_cache_flush(NULL, (char *)phys_to_virt(ctx) + off);
            u->ctx[bus] = ctx;
            volatile uint64_t *root = phys_to_virt(u->root);
            entry_set(root + 2 * bus, (ctx & VTD_ROOT_CTP) | VTD_ROOT_P, 0);
        }
    }
    spin_unlock(&lock);
    irq_restore(f);
    return err;
}

/* Domain ids every unit has (1 .. iommu_domains() - 1 are usable; 0 without a unit). */
unsigned iommu_domains(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < nunits; i++)
        if (units[i].on) {
            unsigned d = 1u << (4 + 2 * VTD_CAP_ND(units[i].cap));
            n = n ? MIN(n, d) : d;
        }
    return n;
}

/* Put bdf's DMA under the second-level table dpt_root (iommu_dpt_levels levels) as domain
 * did (1 .. the unit's domain count - 1): E_NOENT without a unit for it, E_ARG for a bad did,
 * E_NOMEM, E_BUSY if bdf is attached already (detach first: a present entry changed in two
 * stores could be walked half new) or the unit did not complete the invalidation. */
int iommu_attach(uint16_t bdf, paddr_t dpt_root, uint16_t did)
{
    struct vtd_unit *u = unit_of(bdf);
    if (!u)
        return E_NOENT;
    if (did == 0 || did >= 1u << (4 + 2 * VTD_CAP_ND(u->cap)))
        return E_ARG;
    int err = iommu_prepare(bdf);
    mword f = irq_save();
    spin_lock(&lock);
    unsigned bus = PCI_BUS(bdf);
    volatile uint64_t *ctx = err ? NULL : phys_to_virt(u->ctx[bus]);
    if (ctx && (ctx[2 * (bdf & 0xFF)] & VTD_CTX_P))
        err = E_BUSY;                           /* a present entry is never rewritten */
    else if (ctx) {
        entry_set(ctx + 2 * (bdf & 0xFF),
                  (dpt_root & VTD_CTX_SLPTPTR) | VTD_CTX_TT_UNTRANSLATED | VTD_CTX_P,
                  VTD_CTX_AW(dpt_levels) | VTD_CTX_DID(did));
        /* A not-present entry may be cached too (CAP.CM): invalidate everything. */
        if (!flush_all(u, -1))
            err = E_BUSY;
    }
    spin_unlock(&lock);
    irq_restore(f);
    return err;
}

/* Block bdf's DMA again (its context entry cleared, the caches invalidated before the return):
 * E_NOENT without a unit for it, E_BUSY if the unit did not complete the invalidation. */
int iommu_detach(uint16_t bdf)
{
    struct vtd_unit *u = unit_of(bdf);
    if (!u)
        return E_NOENT;
    mword f = irq_save();
    spin_lock(&lock);
    int err = E_OK;
    if (u->ctx[PCI_BUS(bdf)]) {
        volatile uint64_t *ctx = phys_to_virt(u->ctx[PCI_BUS(bdf)]);
        entry_set(ctx + 2 * (bdf & 0xFF), 0, 0);
        err = flush_all(u, -1) ? E_OK : E_BUSY;
    }
    spin_unlock(&lock);
    irq_restore(f);
    return err;
}

/* Invalidate domain did's IOTLB entries on every unit (after its second-level table lost a
 * translation or rights): when this returns, no DMA uses the old translation. */
void iommu_flush_domain(uint16_t did)
{
    mword f = irq_save();
    spin_lock(&lock);
    for (unsigned i = 0; i < nunits; i++)
        if (units[i].on && !flush_iotlb(&units[i], did))
            printk("iommu: unit at 0x%lx: IOTLB invalidation timed out\n", units[i].drhd->base);
    spin_unlock(&lock);
    irq_restore(f);
}

/* Fault event interrupts taken so far. */
unsigned long iommu_fault_events(void)
{
    return __atomic_load_n(&fault_events, __ATOMIC_RELAXED);
}

/* Is DMA remapping on (at least one unit translating)? */
bool iommu_present(void)
{
    for (unsigned i = 0; i < nunits; i++)
        if (units[i].on)
            return true;
    return false;
}

/* Levels of the second-level tables every unit walks (0 without a unit). */
unsigned iommu_dpt_levels(void)
{
    return dpt_levels;
}

/* Bytes of bus addresses every unit translates: what the tables span, less if a unit's
 * maximum guest address width (CAP.MGAW) is smaller (0 without a unit). */
uint64_t iommu_dpt_span(void)
{
    if (!dpt_levels)
        return 0;
    return MIN(PTAB_LEVEL_SIZE(dpt_levels), 1UL << dpt_mgaw);
}

/* Levels that may hold leaves in those tables (BIT(0) 4K, BIT(1) 2M, BIT(2) 1G). */
unsigned iommu_dpt_leaf_mask(void)
{
    return dpt_leaf_mask;
}

/* The page-table engine's Dpt caps for them (PTAB_CAP_DPT_SNP, PTAB_CAP_CLFLUSH). */
unsigned iommu_dpt_caps(void)
{
    return dpt_caps;
}

/* Does the unit translating bdf block its interrupt messages (interrupt remapping on with an
 * empty table)? Without that a DMA write to 0xFEEx_xxxx raises any vector, an NMI or an INIT. */
bool iommu_irq_blocked(uint16_t bdf)
{
    const struct vtd_unit *u = unit_of(bdf);
    return u && u->irq_blocked;
}

/* Write the two 16-byte descriptors d into the queue page q of u (queued invalidation on) and
 * wait until the second, a wait descriptor, wrote its status; false on timeout. */
static bool qi_run(struct vtd_unit *u, paddr_t q, const uint64_t d[4])
{
    volatile uint64_t *desc = phys_to_virt(q);
    volatile uint32_t *status = (volatile uint32_t *)((char *)phys_to_virt(q) + QI_STATUS_OFF);
    for (unsigned i = 0; i < 4; i++)
        desc[i] = d[i];
    *status = 0;
    iommu_cache_flush(NULL, (const void *)desc);
    iommu_cache_flush(NULL, (const void *)status);
    wr64(u, VTD_IQT, 2 * VTD_QI_DESC_SIZE);
    uint64_t end = time_us() + VTD_TIMEOUT_US;
    while (__atomic_load_n(status, __ATOMIC_ACQUIRE) != QI_DONE) {
        if (time_us() > end)
            return false;
        cpu_pause();
    }
    return rd64(u, VTD_IQH) == rd64(u, VTD_IQT);
}

/* Block every interrupt message of u's devices: an interrupt remapping table with no entry
 * present, its cache invalidated (through the queue, the one way there is; the queue is
 * turned off again for the register-based invalidations), compatibility-format messages
 * refused, remapping on. False (reason printed) without ECAP.IR and ECAP.QI, or on failure. */
static bool irq_block(struct vtd_unit *u)
{
    if (!(u->ecap & VTD_ECAP_IR) || !(u->ecap & VTD_ECAP_QI))
        return printk("iommu: unit at 0x%lx: no interrupt remapping\n", u->drhd->base), false;
    u->irt = kframe_alloc();
    paddr_t q = kframe_alloc();
    if (!u->irt || !q)
        return printk("iommu: no memory for the interrupt remapping table\n"), false;
    for (size_t off = 0; off < PAGE_SIZE; off += 64)
        iommu_cache_flush(NULL, (char *)phys_to_virt(u->irt) + off);
    wr64(u, VTD_IRTA, (u->irt & VTD_IRTA_ADDR) | VTD_IRTA_S(VTD_IRTE_PAGE_LOG2));
    if (!gcmd(u, VTD_GCMD_SIRTP, true))
        return printk("iommu: interrupt remapping table pointer not taken\n"), false;
    wr64(u, VTD_IQT, 0);
    wr64(u, VTD_IQA, q & VTD_IQA_ADDR);
    if (!gcmd(u, VTD_GCMD_QIE, true))
        return printk("iommu: invalidation queue did not turn on\n"), false;
    paddr_t st = q + QI_STATUS_OFF;
    const uint64_t d[4] = { VTD_QI_IEC, 0,
                            VTD_QI_WAIT | VTD_QI_WAIT_SW | VTD_QI_WAIT_DATA(QI_DONE),
                            st & VTD_QI_WAIT_ADDR };
    bool done = qi_run(u, q, d);
    if (!gcmd(u, VTD_GCMD_QIE, false) || !done)
        return printk("iommu: interrupt entry cache invalidation did not complete\n"), false;
    kframe_free(q);
    if (!gcmd(u, VTD_GCMD_CFI, false) || !gcmd(u, VTD_GCMD_IRE, true))
        return printk("iommu: interrupt remapping did not turn on\n"), false;
    return true;
}

/* Levels for the AGAWs in the mask sagaw (4 preferred: the host's; 0 if none is usable). */
static unsigned levels_of(unsigned sagaw)
{
    return sagaw & VTD_SAGAW_48 ? 4 : sagaw & VTD_SAGAW_39 ? 3 : sagaw & VTD_SAGAW_57 ? 5 : 0;
}

/* Bring up unit u: fault interrupts masked, old records cleared, an empty root table (every
 * device blocked), caches invalidated, translation on. False (reason printed) if it failed. */
static bool unit_start(struct vtd_unit *u)
{
    if (rd32(u, VTD_GSTS) & VTD_GCMD_TE)
        printk("iommu: unit at 0x%lx: translation was on: restarting it\n", u->drhd->base);
    wr32(u, VTD_FECTL, VTD_FECTL_IM);           /* no fault event until the vector is set */
    collect(u);                                 /* records left by the firmware: printed */
    u->root = kframe_alloc();
    if (!u->root)
        return printk("iommu: no memory for the root table\n"), false;
    for (size_t off = 0; off < PAGE_SIZE; off += 64)
        iommu_cache_flush(NULL, (char *)phys_to_virt(u->root) + off);
    wr64(u, VTD_RTADDR, u->root & VTD_RTADDR_ADDR);
    if (!gcmd(u, VTD_GCMD_SRTP, true))
        return printk("iommu: root table pointer not taken\n"), false;
    if (!flush_all(u, -1))
        return printk("iommu: invalidation did not complete\n"), false;
    u->irq_blocked = irq_block(u);
    if (!gcmd(u, VTD_GCMD_TE, true))
        return printk("iommu: translation did not turn on\n"), false;
    return true;
}

/* Find the DMAR units, bring each up and print what they are (boot, after pci_discover);
 * without one, say that device assignment is refused. */
void iommu_init(void)
{
    unsigned sagaw = 0x1F, sllps = 0xF, caps = PTAB_CAP_DPT_SNP, mgaw = 64;
    for (unsigned i = 0; i < smp_dmar.ndrhd; i++) {
        struct vtd_unit *u = &units[nunits];
        u->drhd = &smp_dmar.drhd[i];
        if (u->drhd->segment != 0 || !(u->regs = kmem_map_mmio(u->drhd->base, VTD_REGS_SIZE))) {
            printk("iommu: unit at 0x%lx (segment %u) not used\n", u->drhd->base,
                   u->drhd->segment);
            continue;
        }
        u->cap = rd64(u, VTD_CAP);
        u->ecap = rd64(u, VTD_ECAP);
        uint32_t ver = rd32(u, VTD_VER);
        printk("iommu: VT-d unit at 0x%lx, version %u.%u, cap 0x%lx ecap 0x%lx, %u scopes%s\n",
               u->drhd->base, (ver >> 4) & 0xF, ver & 0xF, u->cap, u->ecap, u->drhd->nscope,
               u->drhd->include_all ? ", all other devices" : "");
        sagaw &= VTD_CAP_SAGAW(u->cap);
        sllps &= VTD_CAP_SLLPS(u->cap);
        mgaw = MIN(mgaw, VTD_CAP_MGAW(u->cap));
        if (!(u->ecap & VTD_ECAP_SC))
            caps &= ~PTAB_CAP_DPT_SNP;
        if (!(u->ecap & VTD_ECAP_C))
            caps |= PTAB_CAP_CLFLUSH;
        nunits++;
    }
    for (unsigned i = 0; i < smp_dmar.nrmrr; i++)
        printk("iommu: reserved region [0x%lx, 0x%lx] for %u devices: not mapped (blocked)\n",
               smp_dmar.rmrr[i].base, smp_dmar.rmrr[i].limit, smp_dmar.rmrr[i].nscope);
    dpt_levels = levels_of(sagaw);
    dpt_leaf_mask = BIT(0) | (sllps & VTD_SLLPS_2M ? BIT(1) : 0) |
                    (sllps & VTD_SLLPS_1G ? BIT(2) : 0);
    dpt_caps = caps;
    dpt_mgaw = MIN(mgaw, 63u);
    for (unsigned i = 0; i < nunits && dpt_levels; i++)
        units[i].on = unit_start(&units[i]);
    log_n = log_lost = 0;
    uint32_t me = this_cpu()->apic_id;
    for (unsigned i = 0; i < nunits && me <= MSI_DEST_MAX; i++)
        if (units[i].on) {
            wr32(&units[i], VTD_FEDATA, VEC_IOMMU_FAULT);
            wr32(&units[i], VTD_FEADDR, VTD_MSI_ADDR | VTD_MSI_DEST(me));
            wr32(&units[i], VTD_FEUADDR, 0);
            wr32(&units[i], VTD_FECTL, 0);      /* unmasked: a fault raises the vector here */
        }
    if (!iommu_present()) {
        dpt_levels = 0;
        if (smp_dmar_status != ACPI_E_NOTABLE)
            printk("iommu: DMAR unusable (status %d, %u units)\n", smp_dmar_status, nunits);
        printk("iommu: none (DMA assignment refused)\n");
        return;
    }
    bool blocked = true;
    for (unsigned i = 0; i < nunits; i++)
        blocked = blocked && (!units[i].on || units[i].irq_blocked);
    printk("iommu: translation on, every device blocked until assigned; %u-level tables "
           "(%u-bit), leaves 4K%s%s%s%s; %s\n", dpt_levels,
           12 + 9 * dpt_levels, dpt_leaf_mask & BIT(1) ? " 2M" : "",
           dpt_leaf_mask & BIT(2) ? " 1G" : "",
           dpt_caps & PTAB_CAP_DPT_SNP ? ", snoop control" : "",
           dpt_caps & PTAB_CAP_CLFLUSH ? ", table writes flushed" : "",
           blocked ? "device interrupts blocked (interrupt remapping, empty table)"
                   : "device interrupts not blocked (no interrupt remapping): assignment refused");
    if (me <= MSI_DEST_MAX)
        printk("iommu: fault events to APIC id %u, vector 0x%x\n", me, VEC_IOMMU_FAULT);
    else
        printk("iommu: fault events masked (APIC id %u needs interrupt remapping): faults are "
               "read when asked for\n", me);
}
