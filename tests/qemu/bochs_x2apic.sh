#!/usr/bin/env bash
# Firmware that leaves the LAPIC in x2APIC mode (IA32_APIC_BASE.EXTD set when the kernel starts),
# with "nox2apic" on the command line: the kernel must keep x2APIC mode (x2APIC -> xAPIC is an
# illegal transition) and run as usual. Bochs, because QEMU 7.2's TCG has no x2APIC; neither
# emulator's firmware leaves x2APIC on, so the boot word "x2apic-preset" sets EXTD at entry as
# such firmware would. One program (tlb_ipi: IPIs and shootdowns) on 2 cores through
# bochs_pcid.sh, TAP names "bochs-x2apic/...", then the kernel's report of the mode. About 45 s.
# (APIC ids above 254, which xAPIC mode must park, cannot be made on either emulator: QEMU 7.2
# refuses them without KVM, Bochs numbers its cores from 0; tests/host/test_acpi.c covers the
# parking.)
set -u
export BOCHS_LABEL=bochs-x2apic BOCHS_TESTS=tlb_ipi BOCHS_SMP=2
export BOCHS_CMDLINE="selftest x2apic-preset nox2apic"
bash "$(dirname "$0")/bochs_pcid.sh"
log=build/test-logs/$BOCHS_LABEL/tlb_ipi-smp2.serial.txt
text=$([ -f "$log" ] && tr -d '\r' <"$log")
. "$(dirname "$0")/lib.bash"
tap "$(grep -aq '^tessera: nox2apic ignored: the firmware left the LAPIC in x2APIC mode' \
       <<<"$text"; echo $?)" "$BOCHS_LABEL: nox2apic is ignored"
tap "$(grep -aq '^tessera: LAPIC in x2APIC mode' <<<"$text"; echo $?)" \
    "$BOCHS_LABEL: the LAPIC stays in x2APIC mode"
exit 0
