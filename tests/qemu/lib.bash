# Shell library of the QEMU suites (sourced by boot.sh, user.sh, matrix.sh; not a suite: make test
# runs tests/qemu/*.sh only). TAP lines, one bounded QEMU boot, firmware arguments, and the checks of a boot.

OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd    # Debian ovmf: UEFI firmware (read-only flash)
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd    # its variable store template (each boot gets a copy)

tap() {   # tap <status> <name>: "ok - <name>" when status is 0, else "not ok - <name>"
    if [ "$1" -eq 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi
}

# qemu_boot <log> <seconds> <qemu args...>: boot QEMU with COM1 in <log> and the exit device,
# bounded by <seconds>; returns QEMU's status (1: pass written, 3: fail written, 124: timeout).
qemu_boot() {
    local log=$1 limit=$2; shift 2
    rm -f "$log"
    timeout "$limit" qemu-system-x86_64 -nographic -no-reboot -monitor none \
        -device isa-debug-exit,iobase=0x501,iosize=2 -serial "file:$log" "$@" >/dev/null 2>&1
}

# uefi_args <vars>: QEMU arguments for OVMF, with a fresh writable copy of its variables at <vars>.
uefi_args() {
    cp "$OVMF_VARS" "$1" || return 1
    echo "-drive if=pflash,format=raw,readonly=on,file=$OVMF_CODE -drive if=pflash,format=raw,file=$1"
}

# make_iso <iso> <root elf> <build log>: the GRUB ISO (BIOS and UEFI) with "selftest" and the
# program as the root task; status of make.
make_iso() {
    make --no-print-directory -s iso ISO="$1" ISO_CMDLINE=selftest ISO_ROOT="$2" >"$3" 2>&1
}

# mem_for <prog>: guest RAM for a user test program: revoke_large needs a free, 1 GiB-aligned
# GiB for its 1G delegation, revoke_long 8 GiB, revoke_busy 2 GiB, revoke_wide and revoke_cut
# 512 MiB.
mem_for() {
    case "$1" in
        revoke_large) echo 3G ;;
        revoke_long) echo 8G ;;
        revoke_busy) echo 2G ;;
        revoke_wide|revoke_cut) echo 512M ;;
        *) echo 256M ;;
    esac
}

# user_programs <build dir>: the user test programs that boot as the root task (ulib_check is
# for the host only: tests/host/test_uemu.c).
user_programs() {
    local e
    for e in "$1"/user/tests/*.elf; do
        [ -f "$e" ] && basename "$e" .elf
    done | grep -vx ulib_check
}

# kernel_checks <cfg> <log> <cores> <all?>: the kernel came up on <cores> cores and its
# self-checks passed (every self-check line too, prefixed "<cfg>: ", when all is 1).
kernel_checks() {
    local cfg=$1 log=$2 summary
    grep -aq "^tessera: $3 cores online" "$log"; tap $? "$cfg: boots to '$3 cores online'"
    summary=$(tr -d '\r' <"$log" | awk '/^# TAP from user mode$/ { exit } /^[0-9]+ passed, [0-9]+ failed$/')
    if [ "$4" = 1 ]; then
        tr -d '\r' <"$log" | awk '/^# TAP from user mode$/ { exit } /^(not )?ok [0-9]+ - /' |
            sed -E "s|^(not )?ok [0-9]+ - |\1ok - $cfg: |"
    fi
    tap "$([[ "$summary" == *" passed, 0 failed" ]]; echo $?)" \
        "$cfg: kernel self-checks pass (${summary:-no summary})"
}

# user_checks <cfg> <log> <rc> <limit>: the root program's TAP lines after the user library's
# marker (prefixed "<cfg>: "), that it reported any, finished in time, exited with 0, and QEMU's
# status <rc>; the log's tail when it failed.
user_checks() {
    local cfg=$1 log=$2 rc=$3 results
    results=$(tr -d '\r' <"$log" | awk '/^# TAP from user mode$/ { u = 1 } u && /^(not )?ok [0-9]+ - /' |
              sed -E "s|^(not )?ok [0-9]+ - |\1ok - $cfg: |")
    [ -n "$results" ] && echo "$results"
    tap $([ -n "$results" ]; echo $?) "$cfg: the program ran and reported results"
    tap $([ "$rc" -ne 124 ]; echo $?) "$cfg: finishes within $4"
    grep -aq "root task exited with code 0" "$log"
    tap $? "$cfg: the kernel reports 'root task exited with code 0'"
    tap $([ "$rc" -eq 1 ]; echo $?) "$cfg: QEMU exits with the pass status (got $rc)"
    if [ "$rc" -ne 1 ]; then
        tr -d '\r' <"$log" | tail -n 15 | sed 's/^/# /'
    fi
}
