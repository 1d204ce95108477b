/* ACPI table parsing: RSDP, RSDT/XSDT, the MADT's LAPIC / x2APIC entries, MCFG and DMAR. */
#include "acpi.h"

#define RSDP_SIG        "RSD PTR "
#define RSDP_V1_LEN     20      /* bytes covered by the first checksum */
#define RSDP_REV        15      /* offset: revision (0 = ACPI 1.0, 2+ has XSDT) */
#define RSDP_RSDT       16      /* offset: u32 RSDT address */
#define RSDP_LEN        20      /* offset: u32 length of the extended RSDP */
#define RSDP_XSDT       24      /* offset: u64 XSDT address */
#define RSDP_V2_LEN     36      /* minimum length of an extended RSDP */

#define SDT_HDR_LEN     36      /* signature, length, revision, checksum, OEM ... */
#define SDT_LENGTH      4       /* offset: u32 total length */
#define SDT_MAX_LEN     (1UL << 20)

#define MADT_LAPIC_ADDR 36      /* offset: u32 LAPIC address */
#define MADT_ENTRIES    44      /* offset of the first interrupt controller entry */
#define MADT_LAPIC      0       /* entry: processor local APIC */
#define MADT_LAPIC_OVR  5       /* entry: 64-bit LAPIC address override */
#define MADT_X2APIC     9       /* entry: processor local x2APIC */
#define LAPIC_ENABLED   (1u << 0)  /* flags: core is usable */

#define MCFG_ENTRIES    44      /* offset of the first configuration space entry */
#define MCFG_ENTRY_LEN  16      /* base(8), segment(2), start bus(1), end bus(1), reserved(4) */

#define DMAR_HAW        36      /* offset: u8 host address width - 1 */
#define DMAR_FLAGS      37      /* offset: u8 flags */
#define DMAR_STRUCTS    48      /* offset of the first remapping structure */
#define DMAR_DRHD       0       /* structure: DMA remapping hardware unit */
#define DMAR_RMRR       1       /* structure: reserved memory region */
#define DRHD_LEN        16      /* type(2), len(2), flags(1), size(1), segment(2), base(8) */
#define DRHD_ALL        (1u << 0)  /* DRHD flags: INCLUDE_PCI_ALL */
#define RMRR_LEN        24      /* type(2), len(2), reserved(2), segment(2), base(8), limit(8) */
#define SCOPE_LEN       6       /* type, len, reserved(2), enumeration id, start bus; path */

/* Little-endian field readers (tables are not aligned). */
static uint32_t rd8(const uint8_t *p)  { return p[0]; }
/* The 16-bit field at p. */
static uint32_t rd16(const uint8_t *p) { return p[0] | p[1] << 8; }
/* The 32-bit field at p. */
static uint32_t rd32(const uint8_t *p)
{
    return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t rd64(const uint8_t *p) { return rd32(p) | (uint64_t)rd32(p + 4) << 32; }

/* Do len bytes at p sum to 0 mod 256? */
static bool checksum_ok(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;
    for (size_t i = 0; i < len; i++)
        sum += p[i];
    return sum == 0;
}

/* Does p start with the n-byte signature sig? */
static bool sig_is(const uint8_t *p, const char *sig, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != (uint8_t)sig[i])
            return false;
    return true;
}

/* Is there a valid RSDP (signature, v1 checksum, v2 checksum if revision >= 2) at p? */
static bool rsdp_ok(const uint8_t *p, size_t avail)
{
    if (avail < RSDP_V1_LEN || !sig_is(p, RSDP_SIG, 8) || !checksum_ok(p, RSDP_V1_LEN))
        return false;
    if (rd8(p + RSDP_REV) < 2)
        return true;
    uint32_t len = rd32(p + RSDP_LEN);
    return len >= RSDP_V2_LEN && len <= avail && checksum_ok(p, len);
}

/* Offset of a valid RSDP in buf (16-byte steps), or -1. */
long acpi_find_rsdp(const void *buf, size_t len)
{
    const uint8_t *b = buf;
    for (size_t off = 0; off + RSDP_V1_LEN <= len; off += 16)
        if (rsdp_ok(b + off, len - off))
            return (long)off;
    return -1;
}

/* Map the whole table at pa after checking its header; NULL if unreachable or bad. */
static const uint8_t *map_table(paddr_t pa, acpi_map_fn map, void *ctx, uint32_t *len)
{
    const uint8_t *h = map(pa, SDT_HDR_LEN, ctx);
    if (!h)
        return NULL;
    *len = rd32(h + SDT_LENGTH);
    if (*len < SDT_HDR_LEN || *len > SDT_MAX_LEN)
        return NULL;
    const uint8_t *t = map(pa, *len, ctx);
    return t && checksum_ok(t, *len) ? t : NULL;
}

/* Record one enabled core, skipping duplicates and counting those beyond max. */
static void add_cpu(struct acpi_cpus *out, unsigned max, uint32_t apic_id)
{
    for (unsigned i = 0; i < out->count; i++)
        if (out->apic_id[i] == apic_id) {
            out->skipped++;
            return;
        }
    if (out->count < max)
        out->apic_id[out->count++] = apic_id;
    else
        out->excess++;
}

/* Handle one MADT entry e of length len. Returns false if it is malformed. */
static bool madt_entry(const uint8_t *e, uint32_t len, unsigned max, struct acpi_cpus *out)
{
    switch (rd8(e)) {
    case MADT_LAPIC:            /* type, len, ACPI id, APIC id, flags(4) */
        if (len < 8)
            return false;
        if (rd32(e + 4) & LAPIC_ENABLED)
            add_cpu(out, max, rd8(e + 3));
        else
            out->skipped++;
        return true;
    case MADT_X2APIC:           /* type, len, reserved(2), x2APIC id(4), flags(4), uid(4) */
        if (len < 16)
            return false;
        if (rd32(e + 8) & LAPIC_ENABLED)
            add_cpu(out, max, rd32(e + 4));
        else
            out->skipped++;
        return true;
    case MADT_LAPIC_OVR:        /* type, len, reserved(2), address(8) */
        if (len < 12)
            return false;
        out->lapic_base = rd64(e + 4);
        return true;
    default:
        return true;
    }
}

/* Parse the MADT at pa into out. */
static int parse_madt(paddr_t pa, acpi_map_fn map, void *ctx, unsigned max, struct acpi_cpus *out)
{
    uint32_t len;
    const uint8_t *t = map_table(pa, map, ctx, &len);

    if (!t || len < MADT_ENTRIES)
        return ACPI_E_MADT;
    out->lapic_base = rd32(t + MADT_LAPIC_ADDR);
    out->madt_pa = pa;
    for (uint32_t off = MADT_ENTRIES; off < len;) {
        uint32_t elen = off + 2 <= len ? rd8(t + off + 1) : 0;
        if (elen < 2 || off + elen > len || !madt_entry(t + off, elen, max, out))
            return ACPI_E_MADT;
        off += elen;
    }
    return ACPI_OK;
}

/* Index of the core with apic_id in c (the boot core: it must run); if it is not recorded but
 * cores beyond the limit were (c->excess), it takes the last slot (that core stays parked
 * instead). -1 if it is not listed. */
int acpi_keep_core(struct acpi_cpus *c, uint32_t apic_id)
{
    for (unsigned i = 0; i < c->count; i++)
        if (c->apic_id[i] == apic_id)
            return (int)i;
    if (!c->excess || !c->count)
        return -1;
    c->apic_id[c->count - 1] = apic_id;
    return (int)c->count - 1;
}

/* Parse the tables reached from the RSDP at rsdp_pa; record at most max cores. */
int acpi_parse(paddr_t rsdp_pa, acpi_map_fn map, void *ctx, unsigned max, struct acpi_cpus *out)
{
    const uint8_t *r = map(rsdp_pa, RSDP_V1_LEN, ctx);
    bool xsdt;
    uint32_t len;
    paddr_t root;

    *out = (struct acpi_cpus){ 0 };
    if (max > ACPI_MAX_CPUS)
        max = ACPI_MAX_CPUS;
    if (!r)
        return ACPI_E_RSDP;
    /* An extended RSDP is checked over its whole length. */
    len = RSDP_V1_LEN;
    xsdt = rd8(r + RSDP_REV) >= 2;
    if (xsdt) {
        if (!(r = map(rsdp_pa, RSDP_V2_LEN, ctx)))
            return ACPI_E_RSDP;
        len = rd32(r + RSDP_LEN);
        if (len < RSDP_V2_LEN || len > PAGE_SIZE || !(r = map(rsdp_pa, len, ctx)))
            return ACPI_E_RSDP;
    }
    if (!rsdp_ok(r, len))
        return ACPI_E_RSDP;
    xsdt = xsdt && rd64(r + RSDP_XSDT) != 0;
    root = xsdt ? rd64(r + RSDP_XSDT) : rd32(r + RSDP_RSDT);

    const uint8_t *t = map_table(root, map, ctx, &len);
    if (!t || !sig_is(t, xsdt ? "XSDT" : "RSDT", 4))
        return ACPI_E_ROOT;
    out->root_pa = root;
    out->root_xsdt = xsdt;
    paddr_t madt = acpi_find_table(root, xsdt, "APIC", map, ctx);
    return madt ? parse_madt(madt, map, ctx, max, out) : ACPI_E_NOMADT;
}

/* Physical address of the first table with the 4-byte signature sig listed in the root table
 * at root (an XSDT if xsdt, else an RSDT), 0 if there is none or the root table is bad. */
paddr_t acpi_find_table(paddr_t root, bool xsdt, const char *sig, acpi_map_fn map, void *ctx)
{
    uint32_t len;
    const uint8_t *t = map_table(root, map, ctx, &len);
    if (!t || !sig_is(t, xsdt ? "XSDT" : "RSDT", 4))
        return 0;
    /* Root table: header, then 8-byte (XSDT) or 4-byte (RSDT) table addresses. */
    unsigned step = xsdt ? 8 : 4;
    for (uint32_t off = SDT_HDR_LEN; off + step <= len; off += step) {
        paddr_t pa = xsdt ? rd64(t + off) : rd32(t + off);
        const uint8_t *h = map(pa, SDT_HDR_LEN, ctx);
        if (h && sig_is(h, sig, 4))
            return pa;
    }
    return 0;
}

/* Map the table sig of the root table; its length in *len. ACPI_E_NOTABLE if it is not listed,
 * ACPI_E_TABLE if it is unreadable or shorter than min. */
static int find_mapped(paddr_t root, bool xsdt, const char *sig, acpi_map_fn map, void *ctx,
                       uint32_t min, const uint8_t **t, uint32_t *len)
{
    paddr_t pa = acpi_find_table(root, xsdt, sig, map, ctx);
    if (!pa)
        return ACPI_E_NOTABLE;
    *t = map_table(pa, map, ctx, len);
    return *t && *len >= min ? ACPI_OK : ACPI_E_TABLE;
}

/* Parse the MCFG of the root table into out: the entry of segment 0. */
int acpi_parse_mcfg(paddr_t root, bool xsdt, acpi_map_fn map, void *ctx, struct acpi_mcfg *out)
{
    const uint8_t *t;
    uint32_t len;
    *out = (struct acpi_mcfg){ 0 };
    int r = find_mapped(root, xsdt, "MCFG", map, ctx, MCFG_ENTRIES, &t, &len);
    if (r != ACPI_OK)
        return r;
    for (uint32_t off = MCFG_ENTRIES; off + MCFG_ENTRY_LEN <= len; off += MCFG_ENTRY_LEN) {
        const uint8_t *e = t + off;
        if (rd16(e + 8))                    /* segment: only segment 0 is used */
            continue;
        out->base = rd64(e);
        out->bus_start = rd8(e + 10);
        out->bus_end = rd8(e + 11);
        return out->bus_end >= out->bus_start ? ACPI_OK : ACPI_E_TABLE;
    }
    return ACPI_E_NOTABLE;
}

/* Record the device scopes in [p, end) into scope[max], their count in *n, those beyond max
 * in *excess. False if one is malformed. */
static bool dmar_scopes(const uint8_t *p, const uint8_t *end, struct acpi_dmar_scope *scope,
                        unsigned max, unsigned *n, unsigned *excess)
{
    *n = 0;
    while (p < end) {
        uint32_t slen = end - p >= 2 ? rd8(p + 1) : 0;
        if (slen < SCOPE_LEN + 2 || (slen - SCOPE_LEN) % 2 || slen > (uint32_t)(end - p))
            return false;
        if (*n == max)
            ++*excess;
        else
            scope[(*n)++] = (struct acpi_dmar_scope){
                .type = (uint8_t)rd8(p), .enum_id = (uint8_t)rd8(p + 4),
                .bus = (uint8_t)rd8(p + 5), .dev = (uint8_t)rd8(p + SCOPE_LEN),
                .fn = (uint8_t)rd8(p + SCOPE_LEN + 1), .depth = (uint8_t)((slen - SCOPE_LEN) / 2) };
        p += slen;
    }
    return true;
}

/* Handle one DMAR remapping structure s of length len. False if it is malformed. */
static bool dmar_struct(const uint8_t *s, uint32_t len, struct acpi_dmar *out)
{
    switch (rd16(s)) {
    case DMAR_DRHD: {
        if (len < DRHD_LEN)
            return false;
        if (out->ndrhd == ACPI_DMAR_UNITS) {
            out->excess++;
            return true;
        }
        struct acpi_drhd *d = &out->drhd[out->ndrhd++];
        d->include_all = rd8(s + 4) & DRHD_ALL;
        d->segment = (uint16_t)rd16(s + 6);
        d->base = rd64(s + 8);
        return dmar_scopes(s + DRHD_LEN, s + len, d->scope, ACPI_DMAR_SCOPES, &d->nscope,
                           &out->scope_excess);
    }
    case DMAR_RMRR: {
        if (len < RMRR_LEN)
            return false;
        if (out->nrmrr == ACPI_DMAR_RMRRS) {
            out->excess++;
            return true;
        }
        struct acpi_rmrr *m = &out->rmrr[out->nrmrr++];
        m->segment = (uint16_t)rd16(s + 6);
        m->base = rd64(s + 8);
        m->limit = rd64(s + 16);
        return m->limit >= m->base &&
               dmar_scopes(s + RMRR_LEN, s + len, m->scope, ACPI_DMAR_SCOPES, &m->nscope,
                           &out->scope_excess);
    }
    default:                                /* ATSR, RHSA, ANDD, SATC: not used */
        return true;
    }
}

/* Parse the DMAR of the root table into out. */
int acpi_parse_dmar(paddr_t root, bool xsdt, acpi_map_fn map, void *ctx, struct acpi_dmar *out)
{
    const uint8_t *t;
    uint32_t len;
    *out = (struct acpi_dmar){ 0 };
    int r = find_mapped(root, xsdt, "DMAR", map, ctx, DMAR_STRUCTS, &t, &len);
    if (r != ACPI_OK)
        return r;
    out->haw = rd8(t + DMAR_HAW) + 1;
    out->flags = rd8(t + DMAR_FLAGS);
    for (uint32_t off = DMAR_STRUCTS; off < len;) {
        uint32_t slen = off + 4 <= len ? rd16(t + off + 2) : 0;
        if (slen < 4 || off + slen > len || !dmar_struct(t + off, slen, out))
            return ACPI_E_TABLE;
        off += slen;
    }
    return ACPI_OK;
}

/* Drop from c every core whose APIC id is above max_id but keep's (the running boot core),
 * keeping the others in order; they stay parked, counted in c->unreachable (xAPIC mode
 * addresses ids up to XAPIC_MAX_ID: an IPI meant for id 256 would reach id 0). */
void acpi_park_above(struct acpi_cpus *c, uint32_t max_id, uint32_t keep)
{
    unsigned n = 0;
    for (unsigned i = 0; i < c->count; i++) {
        if (c->apic_id[i] > max_id && c->apic_id[i] != keep)
            c->unreachable++;
        else
            c->apic_id[n++] = c->apic_id[i];
    }
    c->count = n;
}
