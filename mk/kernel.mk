# The kernel: build/kernel.elf (multiboot, 32-bit ELF for qemu -kernel) from
# build/kernel/kernel64.elf (linked at KERNEL_BASE).
#
# Other components add sources with  KERNEL_SRCS += kernel/foo.c  in their own
# fragment. Objects go to build/kernel/; they are rebuilt when CC or NUM_CPU
# change (build/kernel/config.stamp), so gcc and clang objects never mix.

KERNEL_SRCS += arch/x86_64/boot.S arch/x86_64/trampoline.S arch/x86_64/entry.S \
               arch/x86_64/multiboot.c arch/x86_64/kmem.c arch/x86_64/gdt.c \
               arch/x86_64/trap.c arch/x86_64/serial.c arch/x86_64/lapic.c \
               arch/x86_64/smp.c arch/x86_64/selfchecks.c arch/x86_64/cpu.c arch/x86_64/smap.c \
               arch/x86_64/entry_checks.c \
               kernel/main.c kernel/panic.c kernel/printk.c kernel/string.c kernel/frame.c \
               kernel/acpi.c kernel/selftest.c kernel/cmdline.c

KERNEL_CFLAGS := -std=gnu17 -ffreestanding -fno-pic -fno-pie -mcmodel=kernel -mno-red-zone \
                 -mgeneral-regs-only -fno-stack-protector -nostdlib -fno-omit-frame-pointer \
                 -fno-asynchronous-unwind-tables -Wall -Wextra -Werror -O2 -g \
                 -DNUM_CPU=$(NUM_CPU) -Iinclude -Iarch/x86_64/include -MMD -MP
KERNEL_LD      ?= ld
KERNEL_LDFLAGS := -nostdlib -static -z max-page-size=0x1000 -z noexecstack -T arch/x86_64/kernel.ld

KOBJ := $(BUILD)/kernel
KERNEL_OBJS = $(patsubst %,$(KOBJ)/%.o,$(basename $(KERNEL_SRCS)))
KERNEL_STAMP := $(KOBJ)/config.stamp

# Record the compiler and options; touch the stamp only when they change.
$(shell mkdir -p $(KOBJ) && echo '$(CC) $(NUM_CPU) $(KCOV)' | cmp -s - $(KERNEL_STAMP) || echo '$(CC) $(NUM_CPU) $(KCOV)' > $(KERNEL_STAMP))

all: $(BUILD)/kernel.elf

$(KOBJ)/%.o: %.c $(KERNEL_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KERNEL_CFLAGS) $(KCOV_CFLAGS) -c -o $@ $<

$(KOBJ)/%.o: %.S $(KERNEL_STAMP)
	@mkdir -p $(@D)
	$(CC) $(KERNEL_CFLAGS) $(KCOV_CFLAGS) -c -o $@ $<

# Second expansion: fragments included after this one may still add KERNEL_SRCS.
.SECONDEXPANSION:
$(KOBJ)/kernel64.elf: $$(KERNEL_OBJS) arch/x86_64/kernel.ld
	$(KERNEL_LD) $(KERNEL_LDFLAGS) $(KCOV_LDFLAGS) -o $@ $(KERNEL_OBJS)

# 32-bit copy for the loaders: virtual = physical addresses (GRUB's multiboot2
# wants the physical entry inside a segment's p_vaddr range; QEMU loads by p_paddr).
KERNEL_VOFFSET := 0xffffffff80e00000
$(BUILD)/kernel.elf: $(KOBJ)/kernel64.elf mk/kernel.mk
	objcopy -O elf32-i386 --change-section-vma '*-$(KERNEL_VOFFSET)' $< $@

# Header dependencies (-MMD) are included by the top-level Makefile after all fragments.
