# Mapping database (kernel/mdb.c): unit tests and the randomized model test.
HOST_TESTS += mdb mdb_random
mdb_SRCS := tests/host/test_mdb.c tests/host/test_mdb_fake.c kernel/mdb.c
mdb_random_SRCS := tests/host/test_mdb_random.c tests/host/test_mdb_fake.c kernel/mdb.c

# kernel/mdb.c must build freestanding for the kernel with both compilers.
MDB_KFLAGS := -std=gnu17 -ffreestanding -fno-pic -mcmodel=kernel -mno-red-zone \
              -mgeneral-regs-only -fno-stack-protector -nostdlib -O2 -Wall -Wextra -Werror \
              -Iinclude -Iarch/x86_64/include
.PHONY: mdb-kcheck
mdb-kcheck:
	@mkdir -p $(BUILD)/kcheck
	gcc $(MDB_KFLAGS) -c kernel/mdb.c -o $(BUILD)/kcheck/mdb.gcc.o
	clang $(MDB_KFLAGS) -c kernel/mdb.c -o $(BUILD)/kcheck/mdb.clang.o
