# Host tests, fuzzing and freestanding check of the generic page-table engine (kernel/ptab*.c).
PTAB_SRCS := kernel/ptab.c kernel/ptab_hpt.c kernel/ptab_ept.c kernel/ptab_dpt.c tests/host/fake_mem.c

HOST_TESTS += ptab_formats ptab_ops ptab_atomic ptab_random
ptab_formats_SRCS := tests/host/test_ptab_formats.c $(PTAB_SRCS)
ptab_ops_SRCS     := tests/host/test_ptab_ops.c $(PTAB_SRCS)
ptab_atomic_SRCS  := tests/host/test_ptab_atomic.c $(PTAB_SRCS)
ptab_random_SRCS  := tests/host/test_ptab_random.c tests/host/ptab_model.c $(PTAB_SRCS)

# The engine must build freestanding for the kernel with both compilers (objects only).
PTAB_KFLAGS := -std=gnu17 -ffreestanding -fno-pic -mcmodel=kernel -mno-red-zone -mgeneral-regs-only \
               -fno-stack-protector -nostdlib -O2 -Wall -Wextra -Werror -Iinclude -Iarch/x86_64/include
.PHONY: ptab-kcheck
ptab-kcheck:
	@mkdir -p $(BUILD)/ptab-kcheck
	@for cc in gcc clang; do for f in kernel/ptab.c kernel/ptab_hpt.c kernel/ptab_ept.c kernel/ptab_dpt.c; do \
	    $$cc $(PTAB_KFLAGS) -c $$f -o $(BUILD)/ptab-kcheck/$$cc-$$(basename $$f .c).o || exit 1; \
	done; echo "ptab-kcheck: kernel/ptab*.c build freestanding with $$cc"; done

# make fuzz-ptab: random operations decoded from fuzzer input, checked against the model, with
# out-of-memory injection. Bounded: FUZZ_TIME seconds (default 60).
FUZZ_TARGETS += fuzz-ptab

PTAB_FUZZ_CFLAGS := -std=gnu17 -Wall -Wextra -Werror -g -O1 -Iinclude -Iarch/x86_64/include -Itests/host \
                    -DTESSERA_HOST \
                    -fsanitize=address,undefined -fno-sanitize-recover=all
.PHONY: fuzz-ptab
$(BUILD)/fuzz/fuzz_ptab: tests/fuzz/fuzz_ptab.c tests/host/ptab_model.c $(PTAB_SRCS) $(wildcard include/ptab*.h tests/host/*.h)
	@mkdir -p $(@D)/ptab-obj
	@# Coverage feedback only from the engine; the model and fake memory are plain ASan/UBSan code.
	for f in kernel/ptab.c kernel/ptab_hpt.c kernel/ptab_ept.c kernel/ptab_dpt.c; do \
	    clang $(PTAB_FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $$f -o $(@D)/ptab-obj/$$(basename $$f .c).o || exit 1; done
	for f in tests/fuzz/fuzz_ptab.c tests/host/ptab_model.c tests/host/fake_mem.c; do \
	    clang $(PTAB_FUZZ_CFLAGS) -c $$f -o $(@D)/ptab-obj/$$(basename $$f .c).o || exit 1; done
	clang -fsanitize=fuzzer,address,undefined -o $@ $(@D)/ptab-obj/*.o
fuzz-ptab: $(BUILD)/fuzz/fuzz_ptab
	@mkdir -p $(BUILD)/fuzz/ptab-corpus
	$(BUILD)/fuzz/fuzz_ptab -max_total_time=$(FUZZ_TIME) -max_len=1024 -rss_limit_mb=4096 \
	    $(BUILD)/fuzz/ptab-corpus
