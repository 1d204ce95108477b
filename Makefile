# Tessera: an x86-64 SMP microkernel built around the lecture "Address Spaces".
#
#   make            kernel (build/kernel.elf) and root task
#   make run        boot in QEMU (SMP=4 MEM=512M by default)
#   make test       host unit tests + QEMU tests; last line "N passed, N failed"
#   make bench      benchmarks; results under bench/results/
#   make fuzz       bounded libFuzzer runs of the pure kernel logic
#   make iso        GRUB rescue ISO (build/tessera.iso)
#   make CC=clang   build the kernel with clang instead of gcc
#
# Components add themselves through make fragments so that they do not edit
# each other's rules: mk/*.mk (kernel, user, qemu), tests/host/*.mk (host
# unit tests), bench/*.mk (benchmarks), tests/qemu/*.sh (QEMU test suites).

ifeq ($(origin CC),default)
CC := gcc
endif
HOSTCC   ?= gcc
BUILD    := build
SMP      ?= 4
MEM      ?= 512M
NUM_CPU  ?= 64

.PHONY: all run test bench fuzz iso clean setup host-tests
.DEFAULT_GOAL := all

HOST_TESTS    :=   # names of host test binaries (build/host/<name>)
QEMU_TESTS    :=   # QEMU suite scripts
BENCH_TARGETS :=   # phony targets that run one benchmark each
FUZZ_TARGETS  :=   # phony targets that run one bounded fuzzer each
# seconds each fuzzer runs in make fuzz
FUZZ_TIME     ?= 60

-include mk/*.mk
-include tests/host/*.mk
-include bench/*.mk
-include tests/fuzz/*.mk
include mk/host.rules      # evaluated after the fragments: rules for HOST_TESTS
-include $(KERNEL_OBJS:.o=.d)

QEMU_TESTS += $(sort $(wildcard tests/qemu/*.sh))

setup:
	@bash scripts/setup.sh

host-tests: $(addprefix $(BUILD)/host/,$(HOST_TESTS))

test: setup
	@$(MAKE) --no-print-directory all host-tests
	@bash scripts/run-tests.sh $(addprefix $(BUILD)/host/,$(HOST_TESTS)) $(QEMU_TESTS)

bench: setup $(BENCH_TARGETS)

fuzz: $(FUZZ_TARGETS)

clean:
	rm -rf $(BUILD)
