#!/usr/bin/env bash
# Boot tests (issue 2): the kernel comes up on 1..64 cores, with 128 MiB and
# 4 GiB, from GRUB's ISO, with more cores than NUM_CPU, passes its self-checks,
# and reports a deliberate kernel page fault. Prints one TAP line per check: "ok - <config>: <check>".
# Run from the repository root after `make`; serial logs in build/test-logs/qemu/.
set -u
. tests/qemu/lib.bash
KERNEL=build/kernel.elf
LOGS=build/test-logs/qemu
TIMEOUT=${QEMU_TIMEOUT:-240}
mkdir -p "$LOGS"

# qemu <log> <qemu args...>: boot on -cpu max bounded by TIMEOUT; returns QEMU's status.
qemu() {
    local log=$1; shift
    qemu_boot "$log" "$TIMEOUT" -cpu max "$@"
}

# selftest <config> <cores> <qemu args...>: boot with "selftest", check cores and every self-check.
selftest() {
    local cfg=$1 n=$2; shift 2
    local log="$LOGS/$cfg.log"
    qemu "$log" "$@"
    local rc=$?
    tap $([ "$rc" -eq 1 ]; echo $?) "$cfg: QEMU exits with the pass status (got $rc)"
    grep -aq "^tessera: $n cores online" "$log"; tap $? "$cfg: boots to '$n cores online'"
    local lines; lines=$(grep -ac "^core [0-9]*: id [0-9]* (core-local), APIC id" "$log")
    tap $([ "$lines" -eq "$n" ]; echo $?) "$cfg: one line per core ($lines of $n)"
    local bad; bad=$(grep -aE "^core ([0-9]+): id ([0-9]+) " "$log" | awk '$2+0 != $4+0' | wc -l)
    tap $([ "$bad" -eq 0 ]; echo $?) "$cfg: each core's line shows its id read through CPU_LOCAL"
    # The kernel's own TAP lines, counted once per configuration.
    if grep -aqE "^[0-9]+ passed, [0-9]+ failed" "$log"; then
        grep -aE "^(not )?ok [0-9]+ - " "$log" | tr -d '\r' | sed -E "s/^(not )?ok [0-9]+ - /\1ok - $cfg: /"
    else
        tap 1 "$cfg: self-check summary printed"
        tail -n 20 "$log" | sed 's/^/# /'
    fi
}

[ -f "$KERNEL" ] || { echo "not ok - boot: $KERNEL missing (run make)"; exit 1; }

selftest smp1  1  -smp 1  -m 512M -kernel "$KERNEL" -append selftest
selftest smp2  2  -smp 2  -m 512M -kernel "$KERNEL" -append selftest
selftest smp4  4  -smp 4  -m 512M -kernel "$KERNEL" -append selftest
selftest smp8  8  -smp 8  -m 512M -kernel "$KERNEL" -append selftest
selftest smp64 64 -smp 64 -m 512M -kernel "$KERNEL" -append selftest
selftest m128M 2  -smp 2  -m 128M -kernel "$KERNEL" -append selftest
selftest m4G   4  -smp 4  -m 4G   -kernel "$KERNEL" -append selftest

# GRUB rescue ISO (multiboot2) with "selftest" on the command line.
ISO=build/test-logs/qemu/tessera-selftest.iso
if make --no-print-directory -s iso ISO="$ISO" ISO_CMDLINE=selftest >"$LOGS/iso-build.log" 2>&1; then
    selftest iso 2 -smp 2 -m 256M -cdrom "$ISO"
    grep -aq "^tessera: multiboot2" "$LOGS/iso.log"; tap $? "iso: booted through multiboot2"
else
    tap 1 "iso: make iso"
fi

# More cores than NUM_CPU: a kernel built for 4 cores on 6 reports 2 and leaves them parked.
NK=build/test-ncpu4/kernel.elf
if make --no-print-directory -s BUILD=build/test-ncpu4 NUM_CPU=4 "$NK" >"$LOGS/ncpu4-build.log" 2>&1; then
    selftest ncpu4-smp6 4 -smp 6 -m 256M -kernel "$NK" -append selftest
    grep -aq "^tessera: 2 cores beyond NUM_CPU=4 are left parked" "$LOGS/ncpu4-smp6.log"
    tap $? "ncpu4-smp6: the 2 cores beyond NUM_CPU are reported as parked"
else
    tap 1 "ncpu4-smp6: build with NUM_CPU=4"
fi

# A kernel for more than 64 cores (core sets of two words): 66 cores boot; shootdowns work.
NK=build/test-ncpu128/kernel.elf
if make --no-print-directory -s BUILD=build/test-ncpu128 NUM_CPU=128 "$NK" >"$LOGS/ncpu128-build.log" 2>&1; then
    selftest ncpu128-smp66 66 -smp 66 -m 512M -kernel "$NK" -append selftest
    log="$LOGS/ncpu128-tlb.log"
    qemu "$log" -smp 4 -m 512M -kernel "$NK" -initrd build/user/tests/tlb_latency.elf -append selftest
    rc=$?
    tap $([ "$rc" -eq 1 ]; echo $?) "ncpu128-tlb: tlb_latency on 4 cores passes (QEMU status $rc)"
else
    tap 1 "ncpu128-smp66: build with NUM_CPU=128"
fi

# The clang-built kernel boots and passes the same checks.
CK=build/test-clang/kernel.elf
if make --no-print-directory -s BUILD=build/test-clang CC=clang "$CK" >"$LOGS/clang-build.log" 2>&1; then
    selftest clang-smp4 4 -smp 4 -m 512M -kernel "$CK" -append selftest
else
    tap 1 "clang-smp4: build with CC=clang"
fi

# A deliberate kernel page fault: CR2 printed, failure status.
log="$LOGS/fault.log"
qemu "$log" -smp 2 -m 256M -kernel "$KERNEL" -append fault-test
rc=$?
tap $([ "$rc" -eq 3 ]; echo $?) "fault: QEMU exits with the failure status (got $rc)"
grep -aq "EXCEPTION 14 (#PF page fault)" "$log"; tap $? "fault: the page fault is reported with its vector"
grep -aq "CR2=ffffffffbfffc000" "$log"; tap $? "fault: CR2 holds the stack guard page address"
grep -aqE "RIP=ffffffff8[0-9a-f]{7} " "$log"; tap $? "fault: RIP and registers are printed"
grep -aq "^PANIC: kernel exception 14" "$log"; tap $? "fault: the kernel panics"

# An overflow of an IST stack (the NMI's): its guard page makes it a double fault, reported on
# the #DF stack, instead of pushes running on into neighbouring frames.
log="$LOGS/fault-ist.log"
qemu "$log" -smp 2 -m 256M -kernel "$KERNEL" -append fault-test-ist
rc=$?
tap $([ "$rc" -eq 3 ]; echo $?) "fault-ist: QEMU exits with the failure status (got $rc)"
grep -aq "EXCEPTION 8 (#DF double fault)" "$log"; tap $? "fault-ist: the overflow is a double fault"
grep -aq "CR2=ffffffffbfff6ff8 .*RSP=ffffffffbfff7000 " "$log"
tap $? "fault-ist: it faulted on the guard page right below the NMI stack (CR2, RSP)"
grep -aq "^PANIC: kernel exception 8" "$log"; tap $? "fault-ist: the kernel panics"
exit 0
