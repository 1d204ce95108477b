/*
 * ELF64 executables: the file structures the loader reads, and the pure
 * validator/iterator in kernel/elf.c (no hardware, host-tested and fuzzed).
 *
 * The kernel loads the root task (build/root.elf, a multiboot module) with it:
 * elf_validate() checks the whole image once, then elf_segment() hands out
 * each PT_LOAD segment with rights MEM_R/MEM_W/MEM_X (include/abi.h).
 */
#pragma once
#include "types.h"

/* ELF identification (e_ident[]) */
#define EI_MAG0        0        /* 0x7f 'E' 'L' 'F' */
#define EI_CLASS       4        /* file class */
#define EI_DATA        5        /* data encoding */
#define EI_VERSION     6        /* ELF version */
#define EI_NIDENT      16       /* size of e_ident[] */
#define ELF_MAGIC      "\177ELF"
#define ELF_MAGIC_LEN  4
#define ELFCLASS64     2        /* 64-bit objects */
#define ELFDATA2LSB    1        /* little endian */
#define EV_CURRENT     1        /* the only ELF version */

/* e_type, e_machine */
#define ET_EXEC        2        /* executable at fixed addresses */
#define EM_X86_64      62       /* AMD x86-64 */

/* p_type, p_flags */
#define PT_NULL        0        /* unused entry */
#define PT_LOAD        1        /* loadable segment */
#define ELF_PF_X       (1u << 0) /* execute */
#define ELF_PF_W       (1u << 1) /* write */
#define ELF_PF_R       (1u << 2) /* read */

#define ELF_PAGE       4096u    /* loader granule: segments are mapped in 4 KiB pages */
#define ELF_MAX_LOAD   16u      /* most PT_LOAD segments an image may have */

/* File header. */
struct elf64_ehdr {
    uint8_t  e_ident[EI_NIDENT];
    uint16_t e_type;
    uint16_t e_machine;
    uint32_t e_version;
    uint64_t e_entry;       /* virtual address of the first instruction */
    uint64_t e_phoff;       /* file offset of the program header table */
    uint64_t e_shoff;
    uint32_t e_flags;
    uint16_t e_ehsize;
    uint16_t e_phentsize;   /* size of one program header */
    uint16_t e_phnum;       /* number of program headers */
    uint16_t e_shentsize;
    uint16_t e_shnum;
    uint16_t e_shstrndx;
};

/* Program header: one segment. */
struct elf64_phdr {
    uint32_t p_type;
    uint32_t p_flags;
    uint64_t p_offset;      /* file offset of the segment's bytes */
    uint64_t p_vaddr;       /* virtual address of the segment */
    uint64_t p_paddr;
    uint64_t p_filesz;      /* bytes in the file */
    uint64_t p_memsz;       /* bytes in memory; the rest after p_filesz is zero */
    uint64_t p_align;
};

/* Why elf_validate() rejected an image. */
enum elf_status {
    ELF_OK = 0,
    ELF_E_SHORT,        /* image smaller than the file header */
    ELF_E_MAGIC,        /* e_ident does not start with 0x7f "ELF" */
    ELF_E_CLASS,        /* not a 64-bit file */
    ELF_E_DATA,         /* not little endian */
    ELF_E_VERSION,      /* ELF version not 1 */
    ELF_E_MACHINE,      /* not x86-64 */
    ELF_E_TYPE,         /* not ET_EXEC */
    ELF_E_PHDR,         /* program header table malformed or not inside the image */
    ELF_E_NOLOAD,       /* no PT_LOAD segment */
    ELF_E_TOO_MANY,     /* more than ELF_MAX_LOAD PT_LOAD segments */
    ELF_E_SEG_FILE,     /* a segment's file bytes lie (partly) outside the image */
    ELF_E_SEG_SIZE,     /* p_memsz < p_filesz, or p_memsz == 0 */
    ELF_E_SEG_RANGE,    /* segment wraps around or leaves [lo, hi) */
    ELF_E_SEG_ALIGN,    /* p_vaddr and p_offset differ modulo ELF_PAGE */
    ELF_E_SEG_WX,       /* segment both writable and executable */
    ELF_E_SEG_RIGHTS,   /* segment grants no access at all (p_flags has none of R, W, X) */
    ELF_E_SEG_OVERLAP,  /* two segments share a page */
    ELF_E_ENTRY,        /* entry point not inside an executable segment */
};

/* A validated image; filled by elf_validate(). */
struct elf_image {
    const uint8_t *data;    /* the file bytes */
    size_t size;            /* file size */
    uint64_t entry;         /* entry point, inside an executable segment */
    unsigned nload;         /* number of PT_LOAD segments */
};

/* One PT_LOAD segment ready to map: [vaddr, vaddr+memsz) gets bytes[0..filesz) then zeros. */
struct elf_segment {
    uint64_t vaddr;         /* first byte in memory (not necessarily page aligned) */
    uint64_t memsz;         /* bytes in memory, > 0 */
    const uint8_t *bytes;   /* file bytes, inside the image */
    uint64_t filesz;        /* <= memsz */
    unsigned rights;        /* MEM_R | MEM_W | MEM_X from p_flags; never W and X together */
};

/* Check that data[0..size) is a loadable ELF64 x86-64 executable whose segments lie in [lo, hi). */
enum elf_status elf_validate(struct elf_image *img, const void *data, size_t size,
                             uint64_t lo, uint64_t hi);

bool elf_segment(const struct elf_image *img, unsigned idx, struct elf_segment *seg);
const char *elf_status_name(enum elf_status st);
