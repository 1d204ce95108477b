#!/usr/bin/env bash
# The kernel system-call fuzzer (user/fuzz/fuzz.c) as the root task, booted with "selftest" on
# 1, 2, 4 and 8 cores. TAP lines: the fuzzer's own (no finding, all-or-nothing checks, register
# checks, stale-read and trap probes, leak checks), and per run: finished in time (no hang), no kernel panic, root exited 0,
# QEMU's pass status. The fuzzer's summary (calls, calls/s, seed) is printed as a "#" line.
# Serial logs in build/test-logs/fuzz/.
#   make test:         a bounded pass, FUZZ_PASS_TIME seconds per core count (default 12)
#   make fuzz-kernel:  FUZZ_KERNEL=1 FUZZ_TIME=s FUZZ_SEED=n FUZZ_SMP="n ..." FUZZ_KCOV=1
#                      FUZZ_ARGS="fuzz.huge_revoke=0 ..." (more fuzzer words, see user/fuzz/fuzz.c)
#                      (KCOV: the coverage build in build/kcov, built here with clang, and the
#                      per-file edge report of scripts/kcov_report.py)
set -u
LOGS=build/test-logs/fuzz
mkdir -p "$LOGS"
if [ "${FUZZ_KERNEL:-0}" = 1 ]; then
    TIME=${FUZZ_TIME:-60}
    SMPS=${FUZZ_SMP:-"1 2 4 8"}
else
    TIME=${FUZZ_PASS_TIME:-12}
    EPOCH=1000          # more epochs (leak and stale-read checks) in a short pass
    SMPS=${FUZZ_SMP:-"1 2 4 8"}
fi
SEED=${FUZZ_SEED:-}
EPOCH=${EPOCH:-}
BUILD_DIR=build
if [ "${FUZZ_KCOV:-0}" = 1 ]; then
    BUILD_DIR=build/kcov
    if ! make --no-print-directory -s BUILD="$BUILD_DIR" CC=clang KCOV=1 all >"$LOGS/kcov-build.log" 2>&1; then
        echo "not ok - fuzz: build the KCOV kernel (see $LOGS/kcov-build.log)"
        exit 0
    fi
elif [ "${FUZZ_KERNEL:-0}" = 1 ]; then
    make --no-print-directory -s KCOV=0 all >"$LOGS/build.log" 2>&1 ||
        { echo "not ok - fuzz: build (see $LOGS/build.log)"; exit 0; }
fi
KERNEL=$BUILD_DIR/kernel.elf
ELF=$BUILD_DIR/user/fuzz/fuzz.elf
# The fuzzer stops itself after TIME seconds plus its last epoch; QEMU gets a margin for boot,
# set-up and slow epochs under TCG with more cores than host CPUs.
TIMEOUT=$((TIME * 2 + 120))

tap() {   # tap <ok?> <name>
    if [ "$1" -eq 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi
}

[ -f "$KERNEL" ] && [ -f "$ELF" ] || { echo "not ok - fuzz: $KERNEL or $ELF missing (run make)"; exit 0; }
for n in $SMPS; do
    sfx=$([ "${FUZZ_KCOV:-0}" = 1 ] && echo -kcov)
    cfg="fuzz/smp$n$sfx"
    log="$LOGS/smp$n$sfx.log"
    args="selftest fuzz.time=$TIME${SEED:+ fuzz.seed=$SEED}${EPOCH:+ fuzz.epoch=$EPOCH} ${FUZZ_ARGS:-}"
    start=$(date +%s)
    timeout "$TIMEOUT" qemu-system-x86_64 -cpu max -nographic -no-reboot -monitor none \
        -device isa-debug-exit,iobase=0x501,iosize=2 -serial "file:$log" -smp "$n" -m 256M \
        -kernel "$KERNEL" -initrd "$ELF" -append "$args" >/dev/null 2>&1
    rc=$?
    results=$(tr -d '\r' <"$log" | awk '/^# TAP from user mode$/ { u = 1 } u && /^(not )?ok [0-9]+ - /' |
              sed -E "s|^(not )?ok [0-9]+ - |\1ok - $cfg: |")
    [ -n "$results" ] && echo "$results"
    tap $([ -n "$results" ]; echo $?) "$cfg: the fuzzer ran and reported results"
    tap $([ "$rc" -ne 124 ]; echo $?) "$cfg: finishes within ${TIMEOUT}s (no hang)"
    tap $(! grep -aq "PANIC" "$log"; echo $?) "$cfg: no kernel panic"
    grep -aq "root task exited with code 0" "$log"
    tap $? "$cfg: the kernel reports 'root task exited with code 0'"
    tap $([ "$rc" -eq 1 ]; echo $?) "$cfg: QEMU exits with the pass status (got $rc)"
    wall=$(( $(date +%s) - start ))
    calls=$(tr -d '\r' <"$log" | grep -a '^fuzz: summary' | sed -nE 's/.* calls=([0-9]+) .*/\1/p')
    tr -d '\r' <"$log" | grep -a '^fuzz: summary' |
        sed "s|^|# $cfg: |; s|\$| (wall ${wall}s with boot: $(( ${calls:-0} / (wall > 0 ? wall : 1) )) calls per wall second)|"
    if [ "$rc" -ne 1 ]; then
        tr -d '\r' <"$log" | grep -a -A14 'FINDING\|PANIC' | head -n 40 | sed 's/^/# /'
        tr -d '\r' <"$log" | tail -n 8 | sed 's/^/# /'
    fi
    if [ "${FUZZ_KCOV:-0}" = 1 ]; then
        python3 scripts/kcov_report.py "$BUILD_DIR/kernel/kernel.map" "$log" >"$LOGS/kcov-smp$n.txt"
        grep 'kcov: total' "$LOGS/kcov-smp$n.txt" | sed "s|^|# $cfg: |"
    fi
done
exit 0
