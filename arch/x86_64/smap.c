/* SMAP patch sites (see smap.h): decide once at boot, check in the self-checks. */
#include "smap.h"
#include "cpu.h"
#include "kmem.h"
#include "kstring.h"
#include "panic.h"
#include "printk.h"

extern const vaddr_t __smap_sites_start[], __smap_sites_end[];

bool smap_on;

static const uint8_t insn_stac[SMAP_INSN_LEN] = { 0x0F, 0x01, 0xCB };
static const uint8_t insn_clac[SMAP_INSN_LEN] = { 0x0F, 0x01, 0xCA };
static const uint8_t insn_nop3[SMAP_INSN_LEN] = { 0x0F, 0x1F, 0x00 };     /* nopl (%rax) */

/* Whether this CPU has SMAP (CPUID leaf 7, EBX bit 20). */
bool smap_present(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    if (r[0] < 7)
        return false;
    cpuid(7, 0, r);
    return (r[1] & CPUID_7_EBX_SMAP) != 0;
}

/* Whether the bytes at p are stac or clac. */
static bool is_smap_insn(const uint8_t *p)
{
    return !memcmp(p, insn_stac, SMAP_INSN_LEN) || !memcmp(p, insn_clac, SMAP_INSN_LEN);
}

/* Boot core, boot root, before any other core starts: NOP every site if the CPU lacks SMAP.
 * The sites are written through the boot root's identity map of their physical page, so the
 * kernel's own mapping of its text stays read-only; each site must still hold stac or clac. */
void smap_patch(void)
{
    unsigned n = (unsigned)(__smap_sites_end - __smap_sites_start);
    bool keep = smap_present();
    smap_on = keep;
    for (const vaddr_t *s = __smap_sites_start; s < __smap_sites_end; s++) {
        if (!is_smap_insn((const uint8_t *)*s))
            panic("smap: site %lx holds no stac/clac", *s);
        if (!keep)
            memcpy(phys_ident(virt_to_phys((const void *)*s)), insn_nop3, SMAP_INSN_LEN);
    }
    uint32_t r[4];
    cpuid(0, 0, r);             /* serialise: no stale prefetch of a patched site */
    printk("tessera: SMAP %s: %u stac/clac sites %s\n", keep ? "present" : "absent", n,
           keep ? "kept" : "replaced by NOPs");
}

/* Number of patch sites; *bad = first site that does not hold the form this CPU needs (or 0). */
unsigned smap_sites_check(vaddr_t *bad)
{
    bool keep = smap_present();
    *bad = 0;
    for (const vaddr_t *s = __smap_sites_start; s < __smap_sites_end && !*bad; s++) {
        const uint8_t *p = (const uint8_t *)*s;
        if (keep ? !is_smap_insn(p) : memcmp(p, insn_nop3, SMAP_INSN_LEN) != 0)
            *bad = *s;
    }
    return (unsigned)(__smap_sites_end - __smap_sites_start);
}
