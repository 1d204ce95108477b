# Running the kernel in QEMU.
#
#   make run [SMP=n] [MEM=size] [CMDLINE="words"]   boot build/kernel.elf (COM1 on stdio; Ctrl-A X quits)
#   make debug                                        same, stopped at the first instruction with a
#                                                     gdb stub on :1234 (see README: gdb)
#   make gdb                                          attach gdb to `make debug` (other terminal),
#                                                     stop in bsp_main
#   make iso [ISO=path] [ISO_CMDLINE="words"] [ISO_ROOT=elf]
#                                                     GRUB rescue ISO build/tessera.iso (multiboot2)
#   make inspect                                      pictures of the page tables (INSPECT=1 test
#                                                     build): build/inspect/before.svg, after.svg
#
# build/root.elf is passed as a multiboot module when it exists.

QEMU       ?= qemu-system-x86_64
CMDLINE    ?=
# ISO_CMDLINE: kernel command line baked into the ISO's grub.cfg
ISO_CMDLINE ?=
ISO         ?= $(BUILD)/tessera.iso
# ISO_ROOT: the root task module in the ISO (default build/root.elf when it exists; empty: none)
ISO_ROOT    ?= $(wildcard $(BUILD)/root.elf)
QEMU_FLAGS := -cpu max -nographic -no-reboot -serial mon:stdio \
              -device isa-debug-exit,iobase=0x501,iosize=2 -smp $(SMP) -m $(MEM)
ROOT_MOD    = $(if $(wildcard $(BUILD)/root.elf),-initrd $(BUILD)/root.elf)

.PHONY: run debug gdb iso inspect

# tests/qemu/inspect.sh: its own INSPECT=1 build in build/inspect/build, then the pictures.
inspect:
	@bash tests/qemu/inspect.sh

run: all setup
	$(QEMU) $(QEMU_FLAGS) -kernel $(BUILD)/kernel.elf -append "$(CMDLINE)" $(ROOT_MOD)

debug: all setup
	$(QEMU) $(QEMU_FLAGS) -kernel $(BUILD)/kernel.elf -append "$(CMDLINE)" $(ROOT_MOD) -s -S

# The kernel starts in 32-bit mode: tell gdb it is x86-64 and use hardware breakpoints.
gdb:
	gdb -q $(BUILD)/kernel/kernel64.elf -ex 'set architecture i386:x86-64' \
	    -ex 'target remote :1234' -ex 'hbreak bsp_main' -ex 'continue'

iso: $(ISO)

# The ISO is rebuilt every time: its grub.cfg depends on ISO_CMDLINE.
.PHONY: $(ISO)
$(ISO): $(BUILD)/kernel.elf
	@rm -rf $@.d && mkdir -p $@.d/boot/grub
	cp $(BUILD)/kernel.elf $@.d/boot/kernel.elf
	$(if $(ISO_ROOT),cp $(ISO_ROOT) $@.d/boot/root.elf)
	printf 'set timeout=0\nset default=0\nserial --unit=0 --speed=115200\nterminal_output serial\nmenuentry "Tessera" {\n  multiboot2 /boot/kernel.elf %s\n%b  boot\n}\n' \
	    "$(ISO_CMDLINE)" "$(if $(ISO_ROOT),  module2 /boot/root.elf root\n)" > $@.d/boot/grub/grub.cfg
	grub-mkrescue -o $@ $@.d 2>/dev/null
