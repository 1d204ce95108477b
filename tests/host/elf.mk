# ELF loader (kernel/elf.c): host unit tests, and a bounded libFuzzer run.
HOST_TESTS += elf
elf_SRCS := tests/host/test_elf.c kernel/elf.c

# make fuzz-elf: feed arbitrary bytes to elf_validate/elf_segment for FUZZ_TIME
# seconds (default 60) under ASan/UBSan. Seeds: a valid image written by the fuzzer itself
# (ELF_SEED_OUT) and build/root.elf when it exists.
FUZZ_TARGETS += fuzz-elf
FUZZ_CC      ?= clang
.PHONY: fuzz-elf
$(BUILD)/fuzz/fuzz_elf: tests/fuzz/fuzz_elf.c kernel/elf.c include/elf.h include/abi.h include/types.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -std=gnu17 -Wall -Wextra -Werror -g -O1 -Iinclude -DTESSERA_HOST \
	    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all -o $@ \
	    tests/fuzz/fuzz_elf.c kernel/elf.c
fuzz-elf: $(BUILD)/fuzz/fuzz_elf
	@mkdir -p $(BUILD)/fuzz/elf-corpus
	@ELF_SEED_OUT=$(BUILD)/fuzz/elf-corpus/seed.elf $(BUILD)/fuzz/fuzz_elf
	@[ ! -f $(BUILD)/root.elf ] || cp $(BUILD)/root.elf $(BUILD)/fuzz/elf-corpus/
	$(BUILD)/fuzz/fuzz_elf -max_total_time=$(FUZZ_TIME) -max_len=8192 \
	    $(BUILD)/fuzz/elf-corpus
