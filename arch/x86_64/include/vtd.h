/*
 * Intel VT-d (Virtualization Technology for Directed I/O) hardware layout: the remapping
 * unit's registers, the root and context entries (legacy mode), and the fault records. Names
 * follow the VT-d specification, chapters 9 ("Translation Structure Formats") and 11
 * ("Register Descriptions"). Every bit layout the driver (arch/x86_64/iommu.c) uses is here.
 */
#pragma once
#include "types.h"

/* Register offsets from the unit's base (DRHD register base). */
#define VTD_VER             0x00        /* u32: version */
#define VTD_CAP             0x08        /* u64: capabilities */
#define VTD_ECAP            0x10        /* u64: extended capabilities */
#define VTD_GCMD            0x18        /* u32: global command */
#define VTD_GSTS            0x1C        /* u32: global status */
#define VTD_RTADDR          0x20        /* u64: root table address */
#define VTD_CCMD            0x28        /* u64: context command */
#define VTD_FSTS            0x34        /* u32: fault status */
#define VTD_FECTL           0x38        /* u32: fault event control */
#define VTD_FEDATA          0x3C        /* u32: fault event interrupt message data (vector) */
#define VTD_FEADDR          0x40        /* u32: its message address */
#define VTD_FEUADDR         0x44        /* u32: its upper address bits */
#define VTD_IQH             0x80        /* u64: invalidation queue head */
#define VTD_IQT             0x88        /* u64: invalidation queue tail */
#define VTD_IQA             0x90        /* u64: invalidation queue address */
#define VTD_IRTA            0xB8        /* u64: interrupt remapping table address */
#define VTD_REGS_SIZE       0x1000      /* register page (the IOTLB and fault registers too) */

/* CAP fields. */
#define VTD_CAP_ND(c)       ((unsigned)(c) & 7)                 /* domain ids: 2^(4 + 2 ND) */
#define VTD_CAP_RWBF        BIT(4)      /* write buffer must be flushed before invalidations */
#define VTD_CAP_CM          BIT(7)      /* caching mode: not-present entries may be cached */
#define VTD_CAP_SAGAW(c)    (((unsigned)((c) >> 8)) & 0x1F)     /* supported AGAWs */
#define VTD_SAGAW_39        BIT(1)      /* 39-bit, 3-level second-level tables */
#define VTD_SAGAW_48        BIT(2)      /* 48-bit, 4-level */
#define VTD_SAGAW_57        BIT(3)      /* 57-bit, 5-level */
#define VTD_CAP_MGAW(c)     ((((unsigned)((c) >> 16)) & 0x3F) + 1)  /* max guest address width */
#define VTD_CAP_FRO(c)      ((((unsigned)((c) >> 24)) & 0x3FF) * 16) /* fault records' offset */
#define VTD_CAP_SLLPS(c)    (((unsigned)((c) >> 34)) & 0xF)     /* second-level large pages */
#define VTD_SLLPS_2M        BIT(0)
#define VTD_SLLPS_1G        BIT(1)
#define VTD_CAP_NFR(c)      ((((unsigned)((c) >> 40)) & 0xFF) + 1)  /* fault records */

/* ECAP fields. */
#define VTD_ECAP_C          BIT(0)      /* page-walk coherency: walks snoop the CPU caches */
#define VTD_ECAP_QI         BIT(1)      /* queued invalidation */
#define VTD_ECAP_IR         BIT(3)      /* interrupt remapping */
#define VTD_ECAP_PT         BIT(6)      /* pass-through */
#define VTD_ECAP_SC         BIT(7)      /* snoop control: the SNP bit of leaves */
#define VTD_ECAP_IRO(e)     ((((unsigned)((e) >> 8)) & 0x3FF) * 16)   /* IOTLB registers */

/* GCMD commands and their GSTS status bits (same positions). */
#define VTD_GCMD_TE         BIT(31)     /* translation enable (GSTS.TES) */
#define VTD_GCMD_SRTP       BIT(30)     /* set root table pointer (GSTS.RTPS) */
#define VTD_GCMD_QIE        BIT(26)     /* queued invalidation enable */
#define VTD_GCMD_IRE        BIT(25)     /* interrupt remapping enable */
#define VTD_GCMD_WBF        BIT(27)     /* write buffer flush (GSTS.WBFS: pending while set) */
#define VTD_GCMD_SIRTP      BIT(24)     /* set interrupt remapping table pointer (GSTS.IRTPS) */
#define VTD_GCMD_CFI        BIT(23)     /* compatibility format interrupts */
/* GSTS bits that stay set: a GCMD write carries them, plus the one command it issues. */
#define VTD_GSTS_PERSIST    (VTD_GCMD_TE | VTD_GCMD_QIE | VTD_GCMD_IRE | VTD_GCMD_CFI)

/* RTADDR: the root table's frame; TTM 11:10 = 0: legacy root/context entries. */
#define VTD_RTADDR_ADDR     BITS(63, 12)

/* IRTA: the interrupt remapping table's frame, EIME 11 = 0 (xAPIC format), S 3:0: the table
   holds 2^(S + 1) 16-byte entries. */
#define VTD_IRTA_ADDR       BITS(63, 12)
#define VTD_IRTA_S(n)       ((uint64_t)(n) - 1)         /* for 2^n entries */
#define VTD_IRTE_PAGE_LOG2  8                           /* 256 entries fill a page */

/* Invalidation queue: IQA's frame and QS 2:0 = 0 (one page of 128-bit descriptors, DW 11 = 0);
   IQH and IQT hold a descriptor's byte offset in the queue. */
#define VTD_IQA_ADDR        BITS(63, 12)
#define VTD_QI_DESC_SIZE    16
/* Descriptors (low qword; the high qword of a wait descriptor is its status address). */
#define VTD_QI_IEC          0x4ULL      /* interrupt entry cache invalidation, G 4 = 0: global */
#define VTD_QI_WAIT         0x5ULL      /* invalidation wait */
#define VTD_QI_WAIT_SW      BIT(5)      /* wait: write the status data when done */
#define VTD_QI_WAIT_DATA(d) ((uint64_t)(uint32_t)(d) << 32)
#define VTD_QI_WAIT_ADDR    BITS(63, 2)

/* CCMD: context-cache invalidation. */
#define VTD_CCMD_ICC        BIT(63)     /* invalidate (cleared by hardware when done) */
#define VTD_CCMD_GLOBAL     (1ULL << 61)                /* CIRG 62:61 = 1: every entry */
#define VTD_CCMD_DOMAIN     (2ULL << 61)                /* CIRG = 2: one domain id */
#define VTD_CCMD_DID(d)     ((uint64_t)(d) & 0xFFFF)

/* IOTLB invalidation registers at ECAP.IRO: IVA (+0) and IOTLB (+8). */
#define VTD_IOTLB_REG       8
#define VTD_IOTLB_IVT       BIT(63)     /* invalidate (cleared by hardware when done) */
#define VTD_IOTLB_GLOBAL    (1ULL << 60)                /* IIRG 61:60 = 1: every entry */
#define VTD_IOTLB_DOMAIN    (2ULL << 60)                /* IIRG = 2: one domain id */
#define VTD_IOTLB_DR        BIT(49)     /* drain reads */
#define VTD_IOTLB_DW        BIT(48)     /* drain writes */
#define VTD_IOTLB_DID(d)    (((uint64_t)(d) & 0xFFFF) << 32)
#define VTD_IOTLB_IAIG(r)   (((unsigned)((r) >> 57)) & 3)       /* granularity done; 0: failed */

/* FSTS and FECTL. */
#define VTD_FSTS_PFO        BIT(0)      /* fault overflow (write 1 to clear) */
#define VTD_FSTS_PPF        BIT(1)      /* a fault record is pending */
#define VTD_FSTS_FRI(s)     (((unsigned)(s) >> 8) & 0xFF)       /* first pending record */
#define VTD_FECTL_IM        BIT(31)     /* fault event interrupt masked */
/* The fault event's message (compatibility format MSI): to the LAPIC with this APIC id. */
#define VTD_MSI_ADDR        0xFEE00000u
#define VTD_MSI_DEST(id)    ((uint32_t)(id) << 12)

/* A fault record: 16 bytes at CAP.FRO + i * 16; low qword FI (page address), high qword: */
#define VTD_FRCD_SIZE       16
#define VTD_FRCD_FI         BITS(63, 12)
#define VTD_FRCD_F          BIT(63)     /* high: record is valid (write 1 to clear) */
#define VTD_FRCD_T          BIT(62)     /* high: 1 = read request, 0 = write */
#define VTD_FRCD_FR(h)      (((unsigned)((h) >> 32)) & 0xFF)    /* high: fault reason */
#define VTD_FRCD_SID(h)     ((uint16_t)(h))                     /* high: source id (bdf) */

/* Fault reasons (VT-d appendix "Non-Recoverable Fault Reason Encodings"). */
#define VTD_FR_ROOT_NP      0x1         /* root entry not present */
#define VTD_FR_CTX_NP       0x2         /* context entry not present */
#define VTD_FR_CTX_INVALID  0x3         /* context entry programmed wrong */
#define VTD_FR_ADDR_BEYOND  0x4         /* address beyond the AGAW */
#define VTD_FR_WRITE        0x5         /* write without the W right */
#define VTD_FR_READ         0x6         /* read without the R right */

/* Root entry (16 bytes, one per bus): low qword present bit and context table frame. */
#define VTD_ROOT_P          BIT(0)
#define VTD_ROOT_CTP        BITS(63, 12)
/* Context entry (16 bytes, one per device/function): low qword ... */
#define VTD_CTX_P           BIT(0)
#define VTD_CTX_FPD         BIT(1)      /* fault processing disable */
#define VTD_CTX_TT_UNTRANSLATED (0ULL << 2)     /* TT 3:2 = 0: untranslated requests only */
#define VTD_CTX_SLPTPTR     BITS(63, 12)        /* second-level table root */
/* ... high qword: address width 2:0 (levels - 2) and domain id 23:8. */
#define VTD_CTX_AW(levels)  ((uint64_t)((levels) - 2))
#define VTD_CTX_DID(d)      (((uint64_t)(d) & 0xFFFF) << 8)
#define VTD_ENTRIES         256         /* root entries (buses), context entries (devfns) */
