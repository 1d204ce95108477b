# User space: the library (build/user/libtessera.a), the root task
# (build/root.elf, from user/root/*.c) and user-level test programs
# (user/tests/<name>.c -> build/user/tests/<name>.elf, one program each).
#
# Freestanding, static, non-PIC, code model small, x87/SSE/AVX allowed (the kernel keeps them per
# EC, docs/abi.md "Register state"), linked by user/user.ld at
# 0x400000 with W^X page-aligned segments. Builds with gcc and clang (CC=...).

USER_CFLAGS := -std=gnu17 -Wall -Wextra -Werror -O2 -g -ffreestanding -fno-builtin \
               -fno-pic -fno-pie -mcmodel=small -mno-red-zone \
               -fno-stack-protector -fno-asynchronous-unwind-tables -fno-unwind-tables \
               -Iinclude -Iuser/include
USER_LDFLAGS := -nostdlib -static -Wl,-T,user/user.ld -Wl,-z,max-page-size=4096 \
                -Wl,--build-id=none -Wl,--fatal-warnings

# crt0 is linked as an object, not taken from the archive: nothing refers to _start.
USER_CRT0      := $(BUILD)/user/lib/crt0.S.o
USER_LIB_SRCS  := $(wildcard user/lib/*.c)
USER_LIB_OBJS  := $(patsubst user/%,$(BUILD)/user/%.o,$(USER_LIB_SRCS)) $(BUILD)/user/shared/format.c.o \
                  $(BUILD)/user/shared/words.c.o
USER_ROOT_OBJS := $(patsubst user/%,$(BUILD)/user/%.o,$(wildcard user/root/*.c))
USER_TEST_ELFS := $(patsubst user/tests/%.c,$(BUILD)/user/tests/%.elf,$(wildcard user/tests/*.c))
USER_HDRS      := $(wildcard include/*.h user/include/*.h)

# Rebuild everything when CC changes, so gcc and clang objects never mix.
USER_STAMP := $(BUILD)/user/config.stamp
$(shell mkdir -p $(BUILD)/user && echo '$(CC)' | cmp -s - $(USER_STAMP) || echo '$(CC)' > $(USER_STAMP))

all: $(BUILD)/root.elf $(USER_TEST_ELFS)

.PHONY: user
user: $(BUILD)/root.elf $(USER_TEST_ELFS)

$(BUILD)/user/%.c.o: user/%.c $(USER_HDRS) $(USER_STAMP)
	@mkdir -p $(@D)
	$(CC) $(USER_CFLAGS) -c -o $@ $<

# Sources shared with the kernel (lib/): the formatter, command-line words.
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

.PRECIOUS: $(BUILD)/user/%.c.o     # keep test objects make would delete as intermediate

$(BUILD)/user/tests/%.elf: $(BUILD)/user/tests/%.c.o $(USER_CRT0) $(BUILD)/user/libtessera.a user/user.ld
	$(CC) $(USER_CFLAGS) $(USER_LDFLAGS) -o $@ $(USER_CRT0) $< $(BUILD)/user/libtessera.a
