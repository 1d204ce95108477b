# Host benchmark of the page-table engine: make bench (or bench-ptab) writes
# bench/results/ptab-host.{txt,csv,png} (times) and ptab-host-instr.{txt,csv} (callgrind counts).
BENCH_TARGETS += bench-ptab
.PHONY: bench-ptab
$(BUILD)/bench/ptab_bench: bench/ptab_bench.c kernel/ptab.c kernel/ptab_hpt.c include/ptab.h bench/ptab.mk
	@mkdir -p $(@D)
	$(HOSTCC) -std=gnu17 -O2 -Wall -Wextra -Werror -Iinclude -Iarch/x86_64/include -o $@ bench/ptab_bench.c kernel/ptab.c kernel/ptab_hpt.c
bench-ptab: $(BUILD)/bench/ptab_bench
	@mkdir -p bench/results
	$(BUILD)/bench/ptab_bench bench/results/ptab-host
	/usr/bin/python3 scripts/plot_ptab.py bench/results/ptab-host.csv bench/results/ptab-host.png
	/usr/bin/python3 bench/ptab_instr.py $(BUILD)/bench/ptab_bench bench/results/ptab-host
