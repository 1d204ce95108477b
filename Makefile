# Tessera: an x86-64 SMP microkernel built around the lecture "Address Spaces".
#
#   make            kernel (build/kernel.elf) and root task
#   make run        boot in QEMU (SMP=4 MEM=512M by default)
#   make test       tree checks, host unit tests, QEMU tests; last line "N passed, N failed"
#   make bench      benchmarks; results under bench/results/
#   make soak       100,000 PDs created and destroyed on 1, 2, 4 and 8 cores, 4,200 in Bochs
#   make fuzz       bounded libFuzzer runs of the pure kernel logic
#   make iso        GRUB rescue ISO (build/tessera.iso)
#   make inspect    pictures of the page tables before and after a lazy sync (build/inspect/)
#   make lab        every lab variant (bench/lab/variants.txt) measured: bench/results/lab/
#   make CC=clang   build the kernel with clang instead of gcc
#   make NUM_CPU=n  kernel for at most n cores (default: layout.h); PTAB_QUARANTINE=1, KCOV=1,
#                   INSPECT=1: test builds (mk/kernel.mk); BUILD=dir: another build directory
#   make TLB_TARGETS=all ...  a lab variant: the switches of mk/lab.conf (docs/lab.md)
#
# The build, one fragment per part:
#   mk/kernel.mk       the kernel: every source of arch/x86_64/, kernel/, lib/; its one flag set
#   mk/user.mk         user library, root task, test programs, the system-call fuzzer
#   mk/qemu.mk         run, debug, gdb, iso
#   mk/host.rules      how a host test is built (evaluated after the fragments that name them)
#   tests/host/*.mk    host unit tests (HOST_TESTS += name; name_SRCS := ...)
#   tests/fuzz/*.mk    libFuzzer runs of the pure logic (FUZZ_TARGETS, make fuzz)
#   bench/*.mk         benchmarks (BENCH_TARGETS, make bench)
#   tests/qemu/*.sh    QEMU test suites (make test runs each)

ifeq ($(origin CC),default)
CC := gcc
endif
HOSTCC   ?= gcc
BUILD    := build
SMP      ?= 4
MEM      ?= 512M

.PHONY: all run test bench fuzz iso clean setup host-tests soak lab
.DEFAULT_GOAL := all

HOST_TESTS    :=   # names of host test binaries (build/host/<name>)
QEMU_TESTS    :=   # QEMU suite scripts
TREE_CHECKS   := scripts/layers.py scripts/contracts.py   # static checks of the tree (TAP suites)
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
	@bash scripts/run-tests.sh $(TREE_CHECKS) $(addprefix $(BUILD)/host/,$(HOST_TESTS)) $(QEMU_TESTS)

bench: setup $(BENCH_TARGETS)

fuzz: $(FUZZ_TARGETS)

# tests/qemu/soak.sh with the size of issue 9 (make test runs it with 20,000 rounds).
soak: setup all
	@mkdir -p $(BUILD)/test-logs
	@SOAK_ROUNDS=100000 bash tests/qemu/soak.sh | tee $(BUILD)/test-logs/soak.log | grep -v '^ok '

clean:
	rm -rf $(BUILD)
