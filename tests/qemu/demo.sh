#!/usr/bin/env bash
# The demo of `make run` (issue 4): boots build/kernel.elf with build/root.elf
# as make run does (4 cores, 512 MiB), plus "selftest" so that QEMU exits
# when the root task does, and checks the key lines of its output. TAP lines.
# Run from the repository root after `make`; serial log in build/test-logs/user/demo.log.
set -u
LOGS=build/test-logs/user
TIMEOUT=${QEMU_TIMEOUT:-120}
log=$LOGS/demo.log
mkdir -p "$LOGS"

tap() {   # tap <ok?> <check>
    if [ "$1" -eq 0 ]; then echo "ok - demo: $2"; else echo "not ok - demo: $2"; fi
}
has() {   # has <fixed string>: the log contains a line with it
    grep -aqF -- "$1" "$log.txt"
}

for f in build/kernel.elf build/root.elf; do
    [ -f "$f" ] || { echo "not ok - demo: $f missing (run make)"; exit 1; }
done
timeout "$TIMEOUT" qemu-system-x86_64 -cpu max -nographic -no-reboot -monitor none \
    -device isa-debug-exit,iobase=0x501,iosize=2 -serial "file:$log" -smp 4 -m 512M \
    -kernel build/kernel.elf -initrd build/root.elf -append selftest >/dev/null 2>&1
rc=$?
tr -d '\r' <"$log" >"$log.txt"
tap $([ "$rc" -eq 1 ]; echo $?) "QEMU exits with the pass status (got $rc)"
has "root: hello from user mode"; tap $? "the root task runs in user mode"
has "root: step 1: two child PDs"; tap $? "the root creates two child PDs"
has "root: child A: starting an EC on core 1"; tap $? "child A starts on core 1"
has "root: child B: starting an EC on core 2"; tap $? "child B starts on core 2"
has "child A: filled 64 KiB"; tap $? "child A uses its delegated memory"
has "child A: this line went straight to the serial port (outb 0x3f8)"; tap $? "child A writes COM1 directly"
! has "child B: this line must never appear"; tap $? "child B writes nothing to COM1"
has "root: child A exited with code 0"; tap $? "child A exits normally"
grep -aqE "^root: child B stopped by vector 13 \(#GP\) at rip 0x4[0-9a-f]{5}, error 0x0$" "$log.txt"
tap $? "child B's #GP is reported with its vector, a RIP in the program and error code 0"
# The core a child ran on counted lazy syncs while it ran: "core 1: N lazy syncs (+k)" with k > 0.
syncs_a=$(awk '/while child A ran/{f=1;next} /^root:/{f=0} f && /core 1:/' "$log.txt" | sed -nE 's/.*\(\+([0-9]+)\).*/\1/p')
tap $([ "${syncs_a:-0}" -gt 0 ]; echo $?) "core 1 counted lazy syncs while child A ran (+${syncs_a:-?})"
syncs_b=$(awk '/while child B ran/{f=1;next} /^root:/{f=0} f && /core 2:/' "$log.txt" | sed -nE 's/.*\(\+([0-9]+)\).*/\1/p')
tap $([ "${syncs_b:-0}" -gt 0 ]; echo $?) "core 2 counted lazy syncs while child B ran (+${syncs_b:-?})"
has "child A  object space 0 page(s), I/O bitmap 1 page(s)"; tap $? "child A's I/O bitmap has one page (COM1), its object space none"
has "child B  object space 0 page(s), I/O bitmap 0 page(s)"; tap $? "child B's object space and I/O bitmap have no page"
has "root: done (0 demo steps failed)"; tap $? "the summary reports no failed step"
[ "$rc" -eq 1 ] || tail -n 20 "$log.txt" | sed 's/^/# /'
exit 0
