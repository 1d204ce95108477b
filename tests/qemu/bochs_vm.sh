#!/usr/bin/env bash
# vCPUs on Intel VMX with EPT (issue 13) in Bochs 2.7: QEMU 7.2's TCG has no VMX, Bochs's
# corei7_skylake_x has VMX with EPT, VPIDs, unrestricted guest and the preemption timer
# (docs/ARCHITECTURE.md, "Virtualization on Bochs"). Boots user/tests/vm_guest (the same program
# QEMU runs on SVM in tests/qemu/vm.sh: it patches vmmcall into vmcall on VMX) on 2 cores through
# bochs_pcid.sh, TAP names "bochs-vm/...", then the kernel's own VMX lines: the backend found
# VMX and EPT, and its self-check guest (arch/x86_64/vmx_check.c) ran through every exit.
# About 45 s.
set -u
export BOCHS_LABEL=bochs-vm BOCHS_TESTS=${BOCHS_VM_TESTS:-vm_guest} BOCHS_SMP=${BOCHS_SMP:-2}
bash "$(dirname "$0")/bochs_pcid.sh"
. "$(dirname "$0")/lib.bash"
for prog in $BOCHS_TESTS; do
    for n in $BOCHS_SMP; do
        log=build/test-logs/$BOCHS_LABEL/$prog-smp$n.serial.txt
        text=$([ -f "$log" ] && tr -d '\r' <"$log")
        tap "$(grep -aq '^tessera: VMX revision [0-9]*, EPT 4-level write-back' <<<"$text"; echo $?)" \
            "$BOCHS_LABEL/$prog/smp$n: the kernel runs vCPUs on VMX with EPT"
        tap "$(grep -aq '^# vmx: guest ran: CPUID, EPT violation' <<<"$text"; echo $?)" \
            "$BOCHS_LABEL/$prog/smp$n: the self-check guest took every VMX exit"
    done
done
exit 0
