/*
 * libFuzzer target for the ELF loader (kernel/elf.c): arbitrary bytes must never
 * crash elf_validate(), and every segment of an accepted image must satisfy
 * the loader's promises (inside the file, inside [LO, HI), not W+X, no shared
 * pages, entry in an executable segment). A broken promise traps.
 *
 * ELF_SEED_OUT=<file> writes a valid seed image to <file> and exits.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "abi.h"
#include "elf.h"
#include "panic.h"

#define LO 0x1000UL
#define HI 0x800000000000UL

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

/* Kernel invariant failures abort the fuzzer run. */
void panic(const char *fmt, ...)
{
    fprintf(stderr, "PANIC: %s\n", fmt);
    abort();
}

/* Check one accepted segment against the image and the range. */
static void check_segment(const struct elf_image *img, const struct elf_segment *s)
{
    CHECK(s->memsz > 0 && s->filesz <= s->memsz);
    CHECK(s->vaddr >= LO && s->vaddr <= HI && s->memsz <= HI - s->vaddr);
    CHECK(s->bytes >= img->data && s->filesz <= img->size);
    CHECK((size_t)(s->bytes - img->data) <= img->size - s->filesz);
    CHECK(s->rights != 0 && (s->rights & ~MEM_RWX) == 0);
    CHECK((s->rights & (MEM_W | MEM_X)) != (MEM_W | MEM_X));
    uint8_t sum = 0;
    for (uint64_t i = 0; i < s->filesz; i++)    /* ASan catches bytes outside the input */
        sum += s->bytes[i];
    __asm__ __volatile__("" :: "r"(sum));       /* keep the reads */
}

/* The promises of an accepted image as a whole. */
static void check_image(const struct elf_image *img)
{
    struct elf_segment seg[ELF_MAX_LOAD], extra;
    bool entry_ok = false;

    CHECK(img->nload >= 1 && img->nload <= ELF_MAX_LOAD);
    for (unsigned i = 0; i < img->nload; i++) {
        CHECK(elf_segment(img, i, &seg[i]));
        check_segment(img, &seg[i]);
        uint64_t lo = ALIGN_DOWN(seg[i].vaddr, ELF_PAGE);
        uint64_t hi = ALIGN_UP(seg[i].vaddr + seg[i].memsz, ELF_PAGE);
        for (unsigned j = 0; j < i; j++)
            CHECK(hi <= ALIGN_DOWN(seg[j].vaddr, ELF_PAGE) ||
                  lo >= ALIGN_UP(seg[j].vaddr + seg[j].memsz, ELF_PAGE));
        if ((seg[i].rights & MEM_X) && img->entry >= seg[i].vaddr &&
            img->entry - seg[i].vaddr < seg[i].memsz)
            entry_ok = true;
    }
    CHECK(entry_ok);
    CHECK(!elf_segment(img, img->nload, &extra));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct elf_image img;
    if (elf_validate(&img, data, size, LO, HI) == ELF_OK)
        check_image(&img);
    else
        CHECK(img.nload == 0);
    return 0;
}

/* Write a valid two-segment image (text, data+bss) to path. */
static void write_seed(const char *path)
{
    static uint8_t buf[0x3000];
    struct elf64_ehdr eh = {
        .e_type = ET_EXEC, .e_machine = EM_X86_64, .e_version = EV_CURRENT,
        .e_entry = 0x400000, .e_phoff = sizeof(eh), .e_ehsize = sizeof(eh),
        .e_phentsize = sizeof(struct elf64_phdr), .e_phnum = 2,
    };
    memcpy(eh.e_ident, ELF_MAGIC, ELF_MAGIC_LEN);
    eh.e_ident[EI_CLASS] = ELFCLASS64;
    eh.e_ident[EI_DATA] = ELFDATA2LSB;
    eh.e_ident[EI_VERSION] = EV_CURRENT;
    struct elf64_phdr ph[2] = {
        { PT_LOAD, ELF_PF_R | ELF_PF_X, 0x1000, 0x400000, 0x400000, 0x10, 0x10, ELF_PAGE },
        { PT_LOAD, ELF_PF_R | ELF_PF_W, 0x2000, 0x401000, 0x401000, 0x10, 0x2000, ELF_PAGE },
    };
    memcpy(buf, &eh, sizeof(eh));
    memcpy(buf + sizeof(eh), ph, sizeof(ph));
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, sizeof(buf), 1, f) != 1 || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
    exit(0);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *seed = getenv("ELF_SEED_OUT");
    if (seed != NULL)
        write_seed(seed);
    return 0;
}
