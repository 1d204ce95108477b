# Bounded libFuzzer runs of the pure kernel logic under ASan/UBSan (clang), for FUZZ_TIME
# seconds each (default 60): make fuzz, or one of
#   make fuzz-ptab  page-table operations decoded from the input, checked against the model,
#                   with out-of-memory injection
#   make fuzz-mdb   mapping-database operations checked against the reference model after each
#                   one, with out-of-memory injection
#   make fuzz-elf   arbitrary bytes into elf_validate/elf_segment; seeds: a valid image the
#                   fuzzer writes itself (ELF_SEED_OUT) and build/root.elf when it exists
# Coverage feedback comes only from the kernel sources; harness, models and fakes are plain
# ASan/UBSan code. Corpora under build/fuzz/<name>-corpus.

FUZZ_CC ?= clang
FUZZ_CFLAGS = $(HOST_CFLAGS)

# fuzzer <name> <kernel sources> <other sources> <libs> <libFuzzer options>: build/fuzz/fuzz_<name>
# and the phony target fuzz-<name> that runs it on its corpus.
define fuzzer
FUZZ_TARGETS += fuzz-$(1)
.PHONY: fuzz-$(1)
$$(BUILD)/fuzz/fuzz_$(1): $(2) $(3) $$(wildcard include/*.h tests/host/*.h)
	@mkdir -p $$(@D)/$(1)-obj
	@rm -f $$(@D)/$(1)-obj/*.o
	for f in $(2); do $$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $$$$f \
	    -o $$(@D)/$(1)-obj/$$$$(basename $$$$f .c).o || exit 1; done
	for f in $(3); do $$(FUZZ_CC) $$(FUZZ_CFLAGS) -c $$$$f \
	    -o $$(@D)/$(1)-obj/$$$$(basename $$$$f .c).o || exit 1; done
	$$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -o $$@ $$(@D)/$(1)-obj/*.o $(4)
fuzz-$(1): $$(BUILD)/fuzz/fuzz_$(1) $$(FUZZ_SEED_$(1))
	@mkdir -p $$(BUILD)/fuzz/$(1)-corpus
	$$(BUILD)/fuzz/fuzz_$(1) -max_total_time=$$(FUZZ_TIME) $(5) $$(BUILD)/fuzz/$(1)-corpus
endef

# The ELF fuzzer's seeds, written before its run.
FUZZ_SEED_elf := fuzz-elf-seeds
.PHONY: fuzz-elf-seeds
fuzz-elf-seeds: $(BUILD)/fuzz/fuzz_elf
	@mkdir -p $(BUILD)/fuzz/elf-corpus
	@ELF_SEED_OUT=$(BUILD)/fuzz/elf-corpus/seed.elf $(BUILD)/fuzz/fuzz_elf
	@[ ! -f $(BUILD)/root.elf ] || cp $(BUILD)/root.elf $(BUILD)/fuzz/elf-corpus/

$(eval $(call fuzzer,elf,kernel/elf.c,tests/fuzz/fuzz_elf.c,,-max_len=8192))
$(eval $(call fuzzer,mdb,kernel/mdb.c lib/avl.c,tests/fuzz/fuzz_mdb.c tests/host/test_mdb_model.c \
    tests/host/test_mdb_fake.c tests/host/support.c,-lcmocka,-max_len=4096))
$(eval $(call fuzzer,ptab,$(wildcard kernel/ptab*.c),tests/fuzz/fuzz_ptab.c tests/host/ptab_model.c \
    tests/host/fake_mem.c,,-max_len=1024 -rss_limit_mb=4096))
