# User space: the library (build/user/libtessera.a), the root task
# (build/root.elf, from user/root/*.c), user-level test programs
# (user/tests/<name>.c -> build/user/tests/<name>.elf, one program each) and the kernel
# system-call fuzzer (user/fuzz/fuzz.c -> build/user/fuzz/fuzz.elf, a root task like the test
# programs, run by tests/qemu/fuzz.sh, not by tests/qemu/user.sh):
#
#   make fuzz-kernel [FUZZ_TIME=s] [SEED=n] [SMP=n] [KCOV=1] [FUZZ_ARGS="fuzz.huge_revoke=0"]
#       boot it for FUZZ_TIME seconds on SMP cores (default: 1, 2, 4 and 8 in turn), seed SEED;
#       KCOV=1: on the coverage build (build/kcov, clang), with the per-file edge report.
#
# Freestanding, static, non-PIC, code model small, x87/SSE/AVX allowed (the kernel keeps them per
# EC, docs/abi.md "Register state"), linked by user/user.ld at
# 0x400000 with W^X page-aligned segments. Builds with gcc and clang (CC=...).

USER_CFLAGS := -std=gnu17 -Wall -Wextra -Werror -O2 -g -ffreestanding -fno-builtin \
               -fno-pic -fno-pie -mcmodel=small -mno-red-zone \
               -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
               -Iinclude -Iuser/include $(LAB_CFLAGS)
USER_LDFLAGS := -nostdlib -static -Wl,-T,user/user.ld -Wl,-z,max-page-size=4096 \
                -Wl,--build-id=none -Wl,--fatal-warnings

# crt0 is linked as an object, not taken from the archive: nothing refers to _start.
USER_CRT0      := $(BUILD)/user/lib/crt0.S.o
USER_LIB_SRCS  := $(wildcard user/lib/*.c)
USER_LIB_OBJS  := $(patsubst user/%,$(BUILD)/user/%.o,$(USER_LIB_SRCS)) \
                  $(patsubst lib/%.c,$(BUILD)/user/shared/%.c.o,$(wildcard lib/*.c))
USER_ROOT_OBJS := $(patsubst user/%,$(BUILD)/user/%.o,$(wildcard user/root/*.c))
USER_TEST_ELFS := $(patsubst user/tests/%.c,$(BUILD)/user/tests/%.elf,$(wildcard user/tests/*.c))
USER_HDRS      := $(wildcard include/*.h user/include/*.h user/tests/*.h)

# Rebuild everything when CC or a lab switch changes, so gcc and clang objects never mix.
USER_STAMP := $(BUILD)/user/config.stamp
USER_CONFIG := $(CC) $(LAB_CONFIG)
$(shell mkdir -p $(BUILD)/user && echo '$(USER_CONFIG)' | cmp -s - $(USER_STAMP) || \
        echo '$(USER_CONFIG)' > $(USER_STAMP))

FUZZ_ELF := $(BUILD)/user/fuzz/fuzz.elf

all: $(BUILD)/root.elf $(USER_TEST_ELFS) $(FUZZ_ELF)

.PHONY: user
user: $(BUILD)/root.elf $(USER_TEST_ELFS)

$(BUILD)/user/%.c.o: user/%.c $(USER_HDRS) $(USER_STAMP)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -c -o $@ $<

# Sources shared with the kernel: every file of lib/.
$(BUILD)/user/shared/%.c.o: lib/%.c $(USER_HDRS) $(USER_STAMP)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -c -o $@ $<

$(BUILD)/user/%.S.o: user/%.S $(USER_HDRS) $(USER_STAMP)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -c -o $@ $<

$(BUILD)/user/libtessera.a: $(USER_LIB_OBJS)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/root.elf: $(USER_CRT0) $(USER_ROOT_OBJS) $(BUILD)/user/libtessera.a user/user.ld
	$(CC) $(USER_CFLAGS) $(USER_LDFLAGS) -o $@ $(USER_CRT0) $(USER_ROOT_OBJS) $(BUILD)/user/libtessera.a

$(BUILD)/user/fuzz/fuzz.c.o: $(wildcard user/fuzz/*.h)

.PRECIOUS: $(BUILD)/user/%.c.o     # keep test objects make would delete as intermediate

# One program from one source file: the test programs and the fuzzer.
$(BUILD)/user/%.elf: $(BUILD)/user/%.c.o $(USER_CRT0) $(BUILD)/user/libtessera.a user/user.ld
	$(CC) $(USER_CFLAGS) $(USER_LDFLAGS) -o $@ $(USER_CRT0) $< $(BUILD)/user/libtessera.a

.PHONY: fuzz-kernel
fuzz-kernel:
	@FUZZ_KERNEL=1 FUZZ_TIME=$(FUZZ_TIME) FUZZ_SEED=$(SEED) FUZZ_KCOV=$(FUZZ_KCOV) FUZZ_ARGS="$(FUZZ_ARGS)" \
	    FUZZ_SMP="$(if $(filter command line,$(origin SMP)),$(SMP),1 2 4 8)" bash tests/qemu/fuzz.sh
