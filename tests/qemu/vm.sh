#!/usr/bin/env bash
# vCPUs (issue 13): user/tests/vm_guest as the root task, the VMM of a 64-bit guest. With
# -cpu max QEMU's TCG emulates AMD SVM with nested paging: the guest runs on another core with
# its own page tables, its port I/O, cpuid, vmmcall, nested faults and hlt exit to the VMM, a
# revoke of its memory on another core makes its next access fault, refused guest states are
# reported, its PD is destroyed while it runs (2 and 4 cores). Without SVM's nested paging
# (qemu64 has SVM without NPT; Nehalem has neither SVM nor, under TCG, VMX) and with the boot
# word "novirt", create_vcpu and MEM_G answer E_NOENT. One TAP line per check; run from the
# repository root after `make`; serial logs in build/test-logs/qemu/vm-*.log.
set -u
. tests/qemu/lib.bash
KERNEL=build/kernel.elf
PROG=build/user/tests/vm_guest.elf
LOGS=build/test-logs/qemu
TIMEOUT=${QEMU_TIMEOUT:-180}
mkdir -p "$LOGS"

# vm <cfg> <cores> <cpu> <boot words>: boot the VMM program, print its results.
vm() {
    local cfg=$1 n=$2 cpu=$3 words=$4
    local log="$LOGS/$cfg.log"
    qemu_boot "$log" "$TIMEOUT" -cpu "$cpu" -smp "$n" -m 256M -kernel "$KERNEL" -initrd "$PROG" \
        -append "selftest${words:+ $words}"
    user_checks "$cfg" "$log" $? "${TIMEOUT}s"
}

# has <cfg> <extended regex> <what>: the boot log of cfg has a line matching the regex.
has() {
    tr -d '\r' <"$LOGS/$1.log" | grep -aqE "$2"; tap $? "$1: $3"
}

[ -f "$KERNEL" ] && [ -f "$PROG" ] || { echo "not ok - vm: $KERNEL or $PROG missing (run make)"; exit 1; }

for n in 2 4; do
    vm vm-svm-smp$n $n max ""
    has vm-svm-smp$n "^tessera: SVM revision [0-9]+, nested paging, [0-9]+ ASIDs" "SVM with NPT found"
    has vm-svm-smp$n "^ok [0-9]+ - hlt: VM_EXIT_HLT" "the guest ran to its hlt"
    has vm-svm-smp$n "^ok [0-9]+ - after the revoke of MEM_G the guest's next read" \
        "a revoke on another core makes the guest's next access fault"
done
for c in "vm-qemu64 qemu64 -" "vm-nehalem Nehalem -" "vm-novirt max novirt"; do
    read -r cfg cpu words <<<"$c"
    [ "$words" = - ] && words=""
    vm $cfg 2 $cpu "$words"
    has $cfg "^tessera: no SVM with nested paging, no VMX with EPT: no vCPUs" "said at boot"
    has $cfg "^ok [0-9]+ - no virtualization: create_vcpu and MEM_G answer E_NOENT" \
        "create_vcpu and MEM_G refused"
done
exit 0
