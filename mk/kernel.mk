# The kernel: build/kernel.elf (multiboot, 32-bit ELF for qemu -kernel) from
# build/kernel/kernel64.elf (linked at KERNEL_BASE).
#
#   make [NUM_CPU=n] [CC=clang] [PTAB_QUARANTINE=1] [KCOV=1] [INSPECT=1] [lab switches]
#   make ptab-kcheck | mdb-kcheck    the pure logic alone, freestanding, with gcc and clang
#
# Sources: every C and assembly file of arch/x86_64/, kernel/ and lib/ (kernel/kcov.c only with
# KCOV=1, kernel/inspect.c only with INSPECT=1). Objects go to build/kernel/; they are rebuilt when CC or an option changes
# (build/kernel/config.stamp), so gcc and clang objects never mix. Addresses and defaults come
# from arch/x86_64/include/layout.h (header_value), not from copies here.

# header_value <header> <macro> [format]: the macro's value as the assembler sees it (no UL
# suffix), evaluated by bash and printed with the printf format (default 0x%x).
HASH := \#
header_value = $(shell printf '$(HASH)include "$(1)"\nHEADER_VALUE $(2)\n' | \
    $(CC) -E -P -x assembler-with-cpp -Iinclude -Iarch/x86_64/include - | \
    sed -n 's/^HEADER_VALUE //p' | xargs -I{} bash -c 'printf "$(or $(3),0x%x)" $$(( {} ))')

ifeq ($(origin NUM_CPU),undefined)
NUM_CPU := $(call header_value,layout.h,NUM_CPU,%d)
endif

# ---- options -------------------------------------------------------------------------------
# PTAB_QUARANTINE=1: the page-table use-after-free detector (include/quarantine.h), a test build.
# KCOV=1 (clang only): every kernel object but kernel/kcov.c (the hook itself) is compiled with
# -fsanitize-coverage=trace-pc-guard and SYS_KCOV exists. Use a separate build directory:
# make BUILD=build/kcov CC=clang KCOV=1 (make fuzz-kernel KCOV=1 does that);
# build/kcov/kernel/kernel.map locates each object's guards.
# INSPECT=1: SYS_INSPECT prints a PD's page tables to the serial console (make inspect,
# tests/qemu/inspect.sh); a test build, in its own build directory (build/inspect).
PTAB_QUARANTINE ?= 0
KCOV            ?= 0
INSPECT         ?= 0

# make fuzz-kernel KCOV=1 builds the coverage kernel in build/kcov itself (tests/qemu/fuzz.sh);
# the default build directory stays a normal build.
ifeq ($(MAKECMDGOALS),fuzz-kernel)
FUZZ_KCOV := $(KCOV)
override KCOV := 0
endif

# The lab switches (TLB_TARGETS=..., PCID=0, ...; mk/lab.conf, docs/lab.md): LAB_CFLAGS.
include mk/lab.conf

# ---- the one flag set (kernel objects, ptab-kcheck, mdb-kcheck) -----------------------------
KERNEL_CFLAGS := -std=gnu17 -ffreestanding -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone \
                 -mgeneral-regs-only -fno-stack-protector -nostdlib -fno-omit-frame-pointer \
                 -fno-asynchronous-unwind-tables -Wall -Wextra -Werror -O2 -g \
                 -DNUM_CPU=$(NUM_CPU) -Iinclude -Iarch/x86_64/include $(LAB_CFLAGS)
ifeq ($(PTAB_QUARANTINE),1)
KERNEL_CFLAGS += -DPTAB_QUARANTINE
endif
ifeq ($(INSPECT),1)
KERNEL_CFLAGS += -DINSPECT
endif

KERNEL_SRCS := $(sort $(wildcard arch/x86_64/*.S arch/x86_64/*.c kernel/*.c lib/*.c))
ifneq ($(KCOV),1)
KERNEL_SRCS := $(filter-out kernel/kcov.c,$(KERNEL_SRCS))
endif
ifneq ($(INSPECT),1)
KERNEL_SRCS := $(filter-out kernel/inspect.c,$(KERNEL_SRCS))
endif

KOBJ := $(BUILD)/kernel
# Recursive and sorted: a source added by another fragment (KERNEL_SRCS += ...) links once.
KERNEL_OBJS = $(patsubst %,$(KOBJ)/%.o,$(basename $(sort $(KERNEL_SRCS))))
KERNEL_STAMP := $(KOBJ)/config.stamp

ifeq ($(KCOV),1)
KCOV_CFLAGS  := -DKCOV -fsanitize-coverage=trace-pc-guard
KCOV_LDFLAGS := -Map=$(KOBJ)/kernel.map
$(KOBJ)/kernel/kcov.o: KCOV_CFLAGS := -DKCOV
endif

KERNEL_LD      ?= ld
KERNEL_LDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack -T $(KOBJ)/kernel.ld

# Record the compiler and options; touch the stamp only when they change.
KERNEL_CONFIG := $(CC) $(NUM_CPU) $(KCOV) $(PTAB_QUARANTINE) $(INSPECT) $(LAB_CONFIG)
$(shell mkdir -p $(KOBJ) && echo '$(KERNEL_CONFIG)' | cmp -s - $(KERNEL_STAMP) || \
        echo '$(KERNEL_CONFIG)' > $(KERNEL_STAMP))

all: $(BUILD)/kernel.elf

$(KOBJ)/%.o: %.c $(KERNEL_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KERNEL_CFLAGS) $(KCOV_CFLAGS) -MMD -MP -c -o $@ $<

$(KOBJ)/%.o: %.S $(KERNEL_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KERNEL_CFLAGS) $(KCOV_CFLAGS) -MMD -MP -c -o $@ $<

# The linker script takes KERNEL_BASE and KERNEL_LOAD from layout.h through the preprocessor.
$(KOBJ)/kernel.ld: arch/x86_64/kernel.ld arch/x86_64/include/layout.h arch/x86_64/include/asm_const.h \
                 $(KERNEL_STAMP)
	$(CC) -E -P -x assembler-with-cpp -Iarch/x86_64/include -o $@ $<

.SECONDEXPANSION:
$(KOBJ)/kernel64.elf: $$(KERNEL_OBJS) $(KOBJ)/kernel.ld
	$(KERNEL_LD) $(KERNEL_LDFLAGS) $(KCOV_LDFLAGS) -o $@ $(KERNEL_OBJS)

# 32-bit copy for the loaders: virtual = physical addresses (GRUB's multiboot2
# wants the physical entry inside a segment's p_vaddr range; QEMU loads by p_paddr).
KERNEL_VOFFSET = $(call header_value,layout.h,KERNEL_VOFFSET)
$(BUILD)/kernel.elf: $(KOBJ)/kernel64.elf
	objcopy -O elf32-i386 --change-section-vma '*-$(KERNEL_VOFFSET)' $< $@

# kcheck <name> <sources>: compile the sources alone with gcc and clang and the kernel's flags.
define kcheck
.PHONY: $(1)-kcheck
$(1)-kcheck:
	@mkdir -p $$(BUILD)/kcheck
	@for cc in gcc clang; do for f in $(2); do \
	    $$$$cc $$(KERNEL_CFLAGS) -c $$$$f -o $$(BUILD)/kcheck/$$$$cc-$$$$(basename $$$$f .c).o || exit 1; \
	done; echo "$(1)-kcheck: $(2) build freestanding with $$$$cc"; done
endef
$(eval $(call kcheck,ptab,$(wildcard kernel/ptab*.c)))
$(eval $(call kcheck,mdb,kernel/mdb.c lib/avl.c))

# Header dependencies (-MMD) are included by the top-level Makefile after all fragments.
