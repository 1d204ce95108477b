# Mapping database (kernel/mdb.c): unit tests and the randomized model test.
HOST_TESTS += mdb mdb_random
mdb_SRCS := tests/host/test_mdb.c tests/host/test_mdb_fake.c kernel/mdb.c
mdb_random_SRCS := tests/host/test_mdb_random.c tests/host/test_mdb_model.c tests/host/test_mdb_fake.c kernel/mdb.c

# kernel/mdb.c must build freestanding for the kernel with both compilers.
MDB_KFLAGS := -std=gnu17 -ffreestanding -fno-pic -mcmodel=kernel -mno-red-zone \
              -mgeneral-regs-only -fno-stack-protector -nostdlib -O2 -Wall -Wextra -Werror \
              -Iinclude -Iarch/x86_64/include
.PHONY: mdb-kcheck
mdb-kcheck:
	@mkdir -p $(BUILD)/kcheck
	gcc $(MDB_KFLAGS) -c kernel/mdb.c -o $(BUILD)/kcheck/mdb.gcc.o
	clang $(MDB_KFLAGS) -c kernel/mdb.c -o $(BUILD)/kcheck/mdb.clang.o

# make fuzz-mdb: operations decoded from fuzzer input, checked against the reference model
# after each one (with out-of-memory injection). Bounded: FUZZ_TIME seconds (default 60).
FUZZ_TARGETS += fuzz-mdb
MDB_FUZZ_CFLAGS := -std=gnu17 -Wall -Wextra -Werror -g -O1 -Iinclude -Itests/host -DTESSERA_HOST \
                   -fsanitize=address,undefined -fno-sanitize-recover=all
MDB_FUZZ_PLAIN := tests/fuzz/fuzz_mdb.c tests/host/test_mdb_model.c tests/host/test_mdb_fake.c \
                  tests/host/support.c
.PHONY: fuzz-mdb
$(BUILD)/fuzz/fuzz_mdb: kernel/mdb.c $(MDB_FUZZ_PLAIN) include/mdb.h $(wildcard tests/host/test_mdb*.h)
	@mkdir -p $(@D)/mdb-obj
	@# Coverage feedback only from the database; model and fakes are plain ASan/UBSan code.
	clang $(MDB_FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c kernel/mdb.c -o $(@D)/mdb-obj/mdb.o
	for f in $(MDB_FUZZ_PLAIN); do \
	    clang $(MDB_FUZZ_CFLAGS) -c $$f -o $(@D)/mdb-obj/$$(basename $$f .c).o || exit 1; done
	clang -fsanitize=fuzzer,address,undefined -o $@ $(@D)/mdb-obj/*.o -lcmocka
fuzz-mdb: $(BUILD)/fuzz/fuzz_mdb
	@mkdir -p $(BUILD)/fuzz/mdb-corpus
	$(BUILD)/fuzz/fuzz_mdb -max_total_time=$(FUZZ_TIME) -max_len=4096 $(BUILD)/fuzz/mdb-corpus

# Bounded revoke steps and delegate calls (issue 8, holes 8/9): the review's attacks, each step's work asserted.
HOST_TESTS += mdb_bound
mdb_bound_SRCS := tests/host/test_mdb_bound.c kernel/mdb.c
