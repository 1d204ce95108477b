# Coverage test build (KCOV=1, clang only): every kernel/ and arch/ C object is compiled with
# -fsanitize-coverage=trace-pc-guard except kernel/kcov.c (the hook itself); SYS_KCOV exists only
# here. Use a separate build directory: make BUILD=build/kcov CC=clang KCOV=1
# (make fuzz-kernel KCOV=1 does that). build/kcov/kernel/kernel.map locates each object's guards.
# (mk/kernel.mk, included after this file, appends KCOV_CFLAGS and KCOV_LDFLAGS.)
KCOV ?= 0

# make fuzz-kernel KCOV=1 builds the coverage kernel in build/kcov itself (tests/qemu/fuzz.sh);
# the default build directory stays a normal build.
ifeq ($(MAKECMDGOALS),fuzz-kernel)
FUZZ_KCOV := $(KCOV)
override KCOV := 0
endif

ifeq ($(KCOV),1)
KERNEL_SRCS  += kernel/kcov.c
KCOV_CFLAGS  := -DKCOV -fsanitize-coverage=trace-pc-guard
KCOV_LDFLAGS  = -Map=$(KOBJ)/kernel.map
$(BUILD)/kernel/kernel/kcov.o: KCOV_CFLAGS := -DKCOV
endif
