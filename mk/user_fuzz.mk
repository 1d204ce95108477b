# The kernel system-call fuzzer (issue 8): user/fuzz/fuzz.c -> build/user/fuzz/fuzz.elf, a root
# task like the user test programs (but not run by tests/qemu/user.sh: tests/qemu/fuzz.sh runs it).
#
#   make fuzz-kernel [FUZZ_TIME=s] [SEED=n] [SMP=n] [KCOV=1] [FUZZ_ARGS="fuzz.huge_revoke=0"]
#       boot it for FUZZ_TIME seconds on SMP cores (default: 1, 2, 4 and 8 in turn), seed SEED;
#       KCOV=1: on the coverage build (build/kcov, clang), with the per-file edge report.
FUZZ_ELF := $(BUILD)/user/fuzz/fuzz.elf

all: $(FUZZ_ELF)

$(FUZZ_ELF): $(BUILD)/user/fuzz/fuzz.c.o $(USER_CRT0) $(BUILD)/user/libtessera.a user/user.ld
	$(CC) $(USER_CFLAGS) $(USER_LDFLAGS) -o $@ $(USER_CRT0) $< $(BUILD)/user/libtessera.a

.PHONY: fuzz-kernel
fuzz-kernel:
	@FUZZ_KERNEL=1 FUZZ_TIME=$(FUZZ_TIME) FUZZ_SEED=$(SEED) FUZZ_KCOV=$(FUZZ_KCOV) FUZZ_ARGS="$(FUZZ_ARGS)" \
	    FUZZ_SMP="$(if $(filter command line,$(origin SMP)),$(SMP),1 2 4 8)" bash tests/qemu/fuzz.sh
