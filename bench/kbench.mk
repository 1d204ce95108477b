# In-QEMU kernel benchmark: make bench (or bench-kernel) boots user/tests/kbench.c under icount
# at -smp 2, 4, 8, twice each, and writes bench/results/kernel-icount.{txt,csv,png}.
BENCH_TARGETS += bench-kernel
.PHONY: bench-kernel
bench-kernel: all
	bash bench/kbench.sh
