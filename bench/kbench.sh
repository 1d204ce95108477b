#!/usr/bin/env bash
# In-QEMU kernel benchmark (make bench, or make bench-kernel): boots user/tests/kbench.c as the
# root task under -icount shift=0 -accel tcg,thread=single (the guest TSC counts the guest
# instructions retired on all vCPUs) on -machine q35 -cpu max at -smp 2, 4 and 8, twice each,
# and checks that both runs print the same figures (determinism). Writes
# bench/results/kernel-icount.{txt,csv,png}. Run from the repository root after `make`.
#   KBENCH_SMP="2 4 8"   core counts            KBENCH_OUT=bench/results/kernel-icount  outputs
set -u
. tests/qemu/lib.bash
SMPS=${KBENCH_SMP:-"2 4 8"}
OUT=${KBENCH_OUT:-bench/results/kernel-icount}
LOGS=build/bench-logs
mkdir -p "$LOGS" "$(dirname "$OUT")"
[ -f build/user/tests/kbench.elf ] || { echo "kbench: build/user/tests/kbench.elf missing (make)"; exit 1; }

# figures <log>: the "row value" pairs the program printed.
figures() {
    tr -d '\r' <"$1" | sed -n 's/^# kbench: \([a-z0-9_]*\) \([0-9]*\)$/\1 \2/p'
}

status=0
for n in $SMPS; do
    for run in 1 2; do
        log="$LOGS/kbench-smp$n-run$run.log"
        qemu_boot "$log" 600 -machine q35 -cpu max -smp "$n" -m 512M \
            -icount shift=0 -accel tcg,thread=single \
            -kernel build/kernel.elf -initrd build/user/tests/kbench.elf -append selftest
        rc=$?
        if [ "$rc" -ne 1 ] || ! grep -aq "^kbench: 0 failed" "$log"; then
            echo "kbench: smp $n run $run failed (QEMU status $rc, see $log)"; status=1
        fi
        figures "$log" >"$LOGS/kbench-smp$n-run$run.txt"
    done
    if cmp -s "$LOGS/kbench-smp$n-run1.txt" "$LOGS/kbench-smp$n-run2.txt"; then
        echo "kbench: smp $n: both runs gave the same $(wc -l <"$LOGS/kbench-smp$n-run1.txt") figures"
    else
        echo "kbench: smp $n: the two runs differ:"; diff "$LOGS/kbench-smp$n-run1.txt" \
            "$LOGS/kbench-smp$n-run2.txt" | sed 's/^/  /'
        status=1
    fi
done
# shellcheck disable=SC2086
/usr/bin/python3 bench/kbench_report.py "$OUT" $(for n in $SMPS; do echo "$n:$LOGS/kbench-smp$n-run1.txt"; done) ||
    status=1
exit $status
