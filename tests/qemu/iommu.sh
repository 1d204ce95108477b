#!/usr/bin/env bash
# Device discovery and DMA remapping (issue 12): PCI bus 0 through ECAM (q35's MCFG) or the
# 0xCF8 ports (pc), a bridge's bus, the edu device and its BAR, the VT-d unit from the DMAR
# brought up, and the kernel's edu self-check: blocked before it is attached, DMA through the
# Dpt table arrives, DMA to a hole, to a read-only page, to an unmapped page and after the detach
# faults with the edu's source id. Without intel-iommu the kernel says so and refuses the
# assignment. The root task's device page (user/tests/devices) lists the functions and the IOMMU;
# user/tests/dma_edu drives the edu from a driver PD through assign and MEM_D (2 and 4 cores).
# Prints one TAP line per check; run from the repository root after `make`.
set -u
. tests/qemu/lib.bash
KERNEL=build/kernel.elf
LOGS=build/test-logs/qemu
TIMEOUT=${QEMU_TIMEOUT:-120}
mkdir -p "$LOGS"

# boot <cfg> <cores> <qemu args...>: boot with "selftest"; QEMU's status and the self-checks.
boot() {
    local cfg=$1 n=$2; shift 2
    local log="$LOGS/$cfg.log"
    qemu_boot "$log" "$TIMEOUT" -cpu max -smp "$n" -m 256M "$@" -kernel "$KERNEL" -append selftest
    local rc=$?
    tap $([ "$rc" -eq 1 ]; echo $?) "$cfg: QEMU exits with the pass status (got $rc)"
    kernel_checks "$cfg" "$log" "$n" 0
}

# has <cfg> <extended regex> <what>: the boot log of cfg has a line matching the regex.
has() {
    tr -d '\r' <"$LOGS/$1.log" | grep -aqE "$2"; tap $? "$1: $3"
}

# lacks <cfg> <extended regex> <what>: it has none.
lacks() {
    ! tr -d '\r' <"$LOGS/$1.log" | grep -aqE "$2"; tap $? "$1: $3"
}

# edu_bdf <cfg>: the bus:device.function the log gives the edu device.
edu_bdf() {
    grep -aoE "^pci [0-9a-f]{2}:[0-9a-f]{2}\.[0-7] 1234:11e8" "$LOGS/$1.log" | head -n 1 |
        cut -d' ' -f2
}

[ -f "$KERNEL" ] || { echo "not ok - iommu: $KERNEL missing (run make)"; exit 1; }

# "<cfg> <cores> <intel-iommu options> <tables>": QEMU's default unit (39-bit: 3 levels), and a
# 48-bit one (4 levels) in caching mode (not-present entries cached too) with snoop control.
# intel-iommu comes before the other devices (QEMU wants it first).
for c in "vtd-smp2 2 intel-iommu 3 39" "vtd-smp4 4 intel-iommu 3 39" \
    "vtd-aw48 2 intel-iommu,aw-bits=48,caching-mode=on,snoop-control=on 4 48"; do
    read -r cfg n dev levels bits <<<"$c"
    boot $cfg $n -machine q35 -device "$dev" -device edu
    has $cfg "^pci: ECAM at 0xb0000000 \(MCFG" "PCI configuration space through ECAM from the MCFG"
    has $cfg "^pci 00:00\.0 8086:29c0 class 0600 host bridge" "the q35 host bridge is found"
    has $cfg "^pci [0-9a-f:.]+ 1234:11e8 class 00ff edu" "the edu device is found"
    bdf=$(edu_bdf $cfg)
    has $cfg "^pci ${bdf:-none}   BAR0 mem 0x[0-9a-f]+ size 0x100000$" "edu BAR0 sized (1 MiB)"
    has $cfg "^iommu: VT-d unit at 0xfed90000, version 1\.0" "the DRHD unit from the DMAR"
    on="^iommu: translation on, every device blocked until assigned"
    has $cfg "$on; $levels-level tables \($bits-bit\)" \
        "translation on with the SAGAW's $levels-level tables"
    has $cfg "^iommu: DMA fault: device ${bdf:-none} write at 0x101000, reason 1 " \
        "edu DMA before the attach: fault (no root entry)"
    has $cfg "^iommu: DMA fault: device ${bdf:-none} write at 0x102000, reason 5 " \
        "edu DMA to a hole: write fault with its source id and address"
    has $cfg "^iommu: DMA fault: device ${bdf:-none} write at 0x100000, reason 5 " \
        "edu DMA to a read-only page: write fault"
    has $cfg "^iommu: DMA fault: device ${bdf:-none} write at 0x101000, reason 2 " \
        "edu DMA after the detach: fault (no context entry)"
    has $cfg "^iommu: edu DMA check passed" "the edu DMA self-check passed"
    lacks $cfg "^iommu: none" "does not say there is no IOMMU"
done

# The edu behind a PCIe root port (bus 1): found through the bridge, under the DMAR's bridge
# scope, its DMA confined and its faults reported with its own source id.
cfg=vtd-bridge
boot $cfg 2 -machine q35 -device intel-iommu -device pcie-root-port,id=rp1,chassis=1 \
    -device edu,bus=rp1
has $cfg "^pci 00:[0-9a-f]{2}\.[0-7]   bridge to buses 1-1$" "the root port's bus range"
has $cfg "^pci 01:00\.0 1234:11e8 class 00ff edu" "the edu device behind it (01:00.0)"
has $cfg "^iommu: DMA fault: device 01:00\.0 write at 0x102000, reason 5 " \
    "its DMA to a hole faults with its source id"
has $cfg "^iommu: edu DMA check passed" "the edu DMA self-check passed"

# user/tests/devices as the root task: the device page lists the functions and the IOMMU.
# devices <cfg> <what the page says of the IOMMU> <qemu args...>
devices() {
    local cfg=$1 says=$2; shift 2
    local log="$LOGS/$cfg.log"
    qemu_boot "$log" "$TIMEOUT" -cpu max -smp 2 -m 256M "$@" -kernel "$KERNEL" \
        -initrd build/user/tests/devices.elf -append selftest
    user_checks "$cfg" "$log" $? "${TIMEOUT}s"
    has "$cfg" "^ok [0-9]+ - the device page says: $says" "the device page says: $says"
    has "$cfg" "^ok [0-9]+ - the edu device at [0-9a-f:.]+ has its 1 MiB BAR0" "it lists the edu"
}
devices devices-vtd "IOMMU VT-d, 3-level tables" -machine q35 -device intel-iommu -device edu
devices devices-novtd "no IOMMU" -machine q35 -device edu

# user/tests/dma_edu as the root task: a driver PD gets the edu, its BAR and MEM_D pages; its DMA
# reaches them, and faults (reported, memory unchanged) everywhere else, after a revoke and after
# the device is unassigned or its PD destroyed. Without an IOMMU, assignment and MEM_D are refused.
# dma <cfg> <cores> <qemu args...>
dma() {
    local cfg=$1 n=$2; shift 2
    local log="$LOGS/$cfg.log"
    qemu_boot "$log" "$TIMEOUT" -cpu max -smp "$n" -m 256M "$@" -kernel "$KERNEL" \
        -initrd build/user/tests/dma_edu.elf -append selftest
    user_checks "$cfg" "$log" $? "${TIMEOUT}s"
}
dma dma-vtd-smp2 2 -machine q35 -device intel-iommu -device edu
has dma-vtd-smp2 "^ok [0-9]+ - the data arrived in the driver's MEM_D page" "the DMA arrived"
has dma-vtd-smp2 "^ok [0-9]+ - after the revoke of MEM_D returned" "a revoke racing DMA"
dma dma-vtd-smp4 4 -machine q35 -device intel-iommu -device edu
dma dma-vtd-aw48 2 -machine q35 -device intel-iommu,aw-bits=48,caching-mode=on -device edu
dma dma-novtd 2 -machine q35 -device edu
has dma-novtd "^ok [0-9]+ - sys_assign\(dev, drv\) -> 12" "no IOMMU: assign refused (E_NOENT)"

# user/tests/dma_msi: the edu (reaching 32-bit bus addresses) writes interrupt messages to
# 0xFEE00000 (exception vectors, PIC and spurious vectors, an NMI) and DMAs to the IOMMU's
# registers: interrupt remapping with an empty table and compatibility format off (QEMU still
# delivers compatibility-format messages); the kernel ignores every one and runs on. Without
# interrupt remapping (intremap=off) assign refuses the device.
msi() {
    local cfg=$1 n=$2; shift 2
    local log="$LOGS/$cfg.log"
    qemu_boot "$log" "$TIMEOUT" -cpu max -smp "$n" -m 256M "$@" -kernel "$KERNEL" \
        -initrd build/user/tests/dma_msi.elf -append selftest
    user_checks "$cfg" "$log" $? "${TIMEOUT}s"
}
for n in 2 4; do
    msi dma-msi-smp$n $n -machine q35 -device intel-iommu -device edu,dma_mask=0xffffffff
    has dma-msi-smp$n "^ok [0-9]+ - a DMA write of message 0x400 \(an NMI\)" "an NMI message survived"
    has dma-msi-smp$n "^ok [0-9]+ - DMA to the IOMMU's register page" "DMA to its registers faults"
    lacks dma-msi-smp$n "^(PANIC|EXCEPTION)" "no panic, no exception"
done
msi dma-msi-noir 2 -machine q35 -device intel-iommu,intremap=off -device edu,dma_mask=0xffffffff
has dma-msi-noir "^ok [0-9]+ - assign refused \(E_NOENT\)" "no interrupt remapping: assign refused"
has dma-msi-noir "^iommu: .*device interrupts not blocked" "no interrupt remapping: said at boot"

# The GRUB ISO on OVMF (UEFI): the firmware's DMA has ended; the unit comes up the same way.
ISO=$LOGS/tessera-iommu.iso
cfg=vtd-uefi
if make --no-print-directory -s iso ISO="$ISO" ISO_CMDLINE=selftest >"$LOGS/iommu-iso.log" 2>&1 &&
    fw=$(uefi_args "$LOGS/$cfg.vars"); then
    log="$LOGS/$cfg.log"
    # shellcheck disable=SC2086
    qemu_boot "$log" "$TIMEOUT" -cpu max -smp 2 -m 256M -machine q35 -device intel-iommu \
        -device edu $fw -cdrom "$ISO"
    rc=$?
    tap $([ "$rc" -eq 1 ]; echo $?) "$cfg: QEMU exits with the pass status (got $rc)"
    kernel_checks "$cfg" "$log" 2 0
    has $cfg "^iommu: translation on, every device blocked until assigned" "translation on"
    has $cfg "^iommu: edu DMA check passed" "the edu DMA self-check passed"
else
    tap 1 "$cfg: make iso and the OVMF variables"
fi

cfg=novtd-q35
boot $cfg 2 -machine q35 -device edu
has $cfg "^pci: ECAM at 0xb0000000" "ECAM from the MCFG"
has $cfg "^pci [0-9a-f:.]+ 1234:11e8 class 00ff edu" "the edu device is found"
has $cfg "^iommu: none \(DMA assignment refused\)" "no IOMMU: said at boot"
has $cfg "^iommu: edu DMA check: assignment refused without an IOMMU" "edu assignment refused"
lacks $cfg "^iommu: (VT-d unit|DMA fault)" "no unit, no fault reported"

cfg=novtd-pc
boot $cfg 1 -device edu
has $cfg "^pci: configuration ports 0xcf8/0xcfc \(no usable MCFG\)" "no MCFG: the 0xCF8 ports"
has $cfg "^pci 00:00\.0 8086:1237 class 0600 host bridge" "the i440FX host bridge is found"
has $cfg "^pci [0-9a-f:.]+ 1234:11e8 class 00ff edu" "the edu device is found through the ports"
has $cfg "^iommu: none \(DMA assignment refused\)" "no IOMMU: said at boot"
exit 0
