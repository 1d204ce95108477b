#!/usr/bin/env bash
# CPU-model, machine, firmware and build-option matrix (issue 8). Every run boots one user test
# program as the root task with "selftest" on the command line, so each run checks the kernel's
# self-checks and cores, then the program's TAP lines and exit (tests/qemu/lib.bash).
#
# Configurations (2 cores unless named) and the programs each runs:
#   cpu-qemu64            -cpu qemu64 (no SMEP/SMAP/PCID, like Intel before Broadwell and AMD
#                         before Zen), -machine pc, -kernel: every program
#   cpu-Nehalem, cpu-Westmere, cpu-Skylake-Client, cpu-EPYC, cpu-max
#                         -machine pc, -kernel: the subset
#   q35                   -cpu max -machine q35, -kernel: the subset
#   iso-bios              the GRUB ISO of `make iso` (BIOS and UEFI in one), SeaBIOS, pc: the subset
#   iso-uefi              the same ISO on OVMF (UEFI GRUB), q35: the subset; pc: core_sched
#                         (GRUB EFI puts the root module in low memory: the trampoline must avoid it)
#   ncpu1                 a kernel built with NUM_CPU=1 on -smp 2 (1 core online, 1 parked): the subset
#   ncpu1-clang           the same built with CC=clang: core_sched
#   icount                -cpu max -icount shift=0 -accel tcg,thread=single: every program (a wait
#                         loop without pause livelocks there; scripts/wait-loops.awk finds the
#                         common forms statically, one TAP line); one vCPU runs at a time, so
#                         pd_lock's hand-off (kernel/fairlock.c) is what lets the other core in
#                         between a revoke's steps (revoke_restart, lock_fair)
# The subset (MATRIX_SUBSET) covers the user-copy paths (abi_errors), scheduling on two cores
# (core_sched), page protections (mem_isolation) and shootdown IPIs (tlb_ipi). Every program on
# -cpu max at 1, 2 and 4 cores is user.sh's job; CC=clang and NUM_CPU=4 with more cores than that
# are boot.sh's and user.sh's; pd_soak runs here with its default size (64 PDs and a tree of
# 1,000; under icount 210,000 instructions per PD on 2 cores), soak.sh runs it large. About 5
# minutes with 2 runs at a time on a 2-core machine.
#
# Prints TAP lines "ok - <config>/<prog>: <check>"; the kernel's self-check lines once per
# configuration. Run from the repository root after `make`; logs in build/test-logs/matrix/.
#   MATRIX_ONLY="cpu-qemu64 icount"  only these configurations
#   MATRIX_SUBSET="a b"              the subset (default below)
#   MATRIX_JOBS=n                    QEMU runs at once (default 2)
set -u
. tests/qemu/lib.bash
LOGS=build/test-logs/matrix
TIMEOUT=${QEMU_TIMEOUT:-240}
JOBS=${MATRIX_JOBS:-2}
SUBSET=${MATRIX_SUBSET:-"abi_errors core_sched mem_isolation tlb_ipi"}
mkdir -p "$LOGS"

[ -f build/kernel.elf ] || { echo "not ok - matrix: build/kernel.elf missing (run make)"; exit 0; }
ALL=$(user_programs build)

# Statically: every wait loop pauses (scripts/wait-loops.awk); the icount runs check it dynamically.
loops=$(find kernel arch user lib include -name '*.[ch]' | sort | xargs awk -f scripts/wait-loops.awk)
tap $([ -z "$loops" ]; echo $?) "matrix: no wait loop without pause (scripts/wait-loops.awk)"
[ -n "$loops" ] && sed 's/^/# /' <<<"$loops"

# wanted <config>: is the configuration selected by MATRIX_ONLY?
wanted() {
    [ -z "${MATRIX_ONLY:-}" ] || [[ " $MATRIX_ONLY " == *" $1 "* ]]
}

# The runs, in report order: "<config> <prog> <cores online> <kernel|iso> <bios|uefi> <kernel> <qemu args...>".
runs=()
# add <config> <programs> <cores online> <kernel|iso> <bios|uefi> <kernel> <qemu args...>
add() {
    local cfg=$1 progs=$2 prog; shift 2
    wanted "$cfg" || return 0
    for prog in $progs; do
        runs+=("$cfg $prog $*")
    done
}

for cpu in qemu64 Nehalem Westmere Skylake-Client EPYC max; do
    progs=$SUBSET; [ "$cpu" = qemu64 ] && progs=$ALL
    add "cpu-$cpu" "$progs" 2 kernel bios build/kernel.elf -cpu "$cpu" -machine pc -smp 2
done
add q35 "$SUBSET" 2 kernel bios build/kernel.elf -cpu max -machine q35 -smp 2
add iso-bios "$SUBSET" 2 iso bios - -cpu max -machine pc -smp 2
add iso-uefi "$SUBSET" 2 iso uefi - -cpu max -machine q35 -smp 2
add iso-uefi-pc core_sched 2 iso uefi - -cpu max -machine pc -smp 2
# build_add <config> <programs> <build dir> <make options...>: build a kernel with the options and
# run the programs on it (2 cores, 1 online).
build_add() {
    local cfg=$1 progs=$2 dir=$3; shift 3
    wanted "$cfg" || return 0
    if make --no-print-directory -s BUILD="$dir" "$@" "$dir/kernel.elf" >"$LOGS/$cfg-build.log" 2>&1; then
        add "$cfg" "$progs" 1 kernel bios "$dir/kernel.elf" -cpu max -smp 2
    else
        tap 1 "$cfg: build with $* (see $LOGS/$cfg-build.log)"
    fi
}
build_add ncpu1 "$SUBSET" build/test-ncpu1 NUM_CPU=1
build_add ncpu1-clang core_sched build/test-ncpu1-clang NUM_CPU=1 CC=clang
add icount "$ALL" 2 kernel bios build/kernel.elf -cpu max -smp 2 -icount shift=0 -accel tcg,thread=single

# The ISOs, one per program that boots from one, built one after the other (make runs once at a time).
isos=$(for r in "${runs[@]}"; do set -- $r; [ "$4" = iso ] && echo "$2"; done | sort -u)
for prog in $isos; do
    make_iso "$LOGS/$prog.iso" "build/user/tests/$prog.elf" "$LOGS/$prog.iso-build.log" ||
        tap 1 "matrix: make iso ISO_ROOT=build/user/tests/$prog.elf (see $LOGS/$prog.iso-build.log)"
done

# boot <i>: run number i; QEMU's status in $LOGS/<config>-<prog>.rc, seconds in .time.
boot() {
    # shellcheck disable=SC2086
    set -- ${runs[$1]}
    local d="$LOGS/$1-$2" prog=$2 media=$4 fw=$5 kernel=$6 start=$SECONDS
    shift 6
    local args=(-m "$(mem_for "$prog")" "$@")
    if [ "$fw" = uefi ]; then
        # shellcheck disable=SC2207
        args+=($(uefi_args "$d.vars"))
    fi
    if [ "$media" = iso ]; then
        args+=(-cdrom "$LOGS/$prog.iso")
    else
        args+=(-kernel "$kernel" -initrd "build/user/tests/$prog.elf" -append selftest)
    fi
    qemu_boot "$d.log" "$TIMEOUT" "${args[@]}"
    echo $? >"$d.rc"
    echo $((SECONDS - start)) >"$d.time"
    rm -f "$d.vars"
}

# trampoline_check <cfg> <log>: the AP trampoline's page overlaps no boot module.
trampoline_check() {
    local t bad
    t=$(sed -nE 's/^tessera: AP trampoline at 0x([0-9a-f]+).*/\1/p' "$2" | tr -d '\r')
    if [ -z "$t" ]; then
        tap 1 "$1: the kernel reports where the AP trampoline is"
        return
    fi
    bad=$(tr -d '\r' <"$2" | sed -nE 's/^tessera: module ".*" at \[([0-9a-f]+), ([0-9a-f]+)\)$/\1 \2/p' |
          while read -r s e; do
              (( 16#$t < 16#$e && 16#$s < 16#$t + 4096 )) && echo "[$s, $e)"
          done)
    tap $([ -z "$bad" ]; echo $?) "$1: the AP trampoline page 0x$t overlaps no boot module ${bad:+(overlaps $bad)}"
}

# report <i> <first of its config?>: the TAP lines of run number i.
report() {
    # shellcheck disable=SC2086
    set -- ${runs[$1]} "$2"
    local first=${!#} cfg=$1 prog=$2 cores=$3 media=$4 fw=$5 d="$LOGS/$1-$2"
    local rc; rc=$(cat "$d.rc" 2>/dev/null || echo "not run")
    kernel_checks "$cfg/$prog" "$d.log" "$cores" "$first"
    if [ "$first" = 1 ] && [ "$cores" -gt 1 ]; then
        trampoline_check "$cfg" "$d.log"
    fi
    if [ "$media" = iso ]; then
        grep -aq "^tessera: multiboot2" "$d.log"; tap $? "$cfg/$prog: booted from the ISO through multiboot2"
    fi
    if [ "$first" = 1 ] && [ "$fw" = uefi ]; then
        # GRUB EFI on OVMF loads the root below 1 MiB (issue 8, hole 15): the case this covers.
        local m; m=$(tr -d '\r' <"$d.log" | sed -nE 's/^tessera: module "root" at \[([0-9a-f]+),.*/\1/p')
        tap $([ -n "$m" ] && (( 16#$m < 0x100000 )); echo $?) \
            "$cfg: GRUB EFI placed the root module in low memory (at 0x${m:-?})"
    fi
    if [[ "$cfg" == ncpu1* ]] && [ "$first" = 1 ]; then
        grep -aq "^tessera: 1 cores beyond NUM_CPU=1 are left parked" "$d.log"
        tap $? "$cfg: the core beyond NUM_CPU=1 is reported as parked"
    fi
    user_checks "$cfg/$prog" "$d.log" "$rc" "${TIMEOUT}s (took $(cat "$d.time" 2>/dev/null)s)"
}

# JOBS runs at a time, then the reports in order.
running=0
for i in "${!runs[@]}"; do
    set -- ${runs[$i]}
    rm -f "$LOGS/$1-$2.rc" "$LOGS/$1-$2.time"
    boot "$i" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait
prev=
for i in "${!runs[@]}"; do
    set -- ${runs[$i]}
    first=0; [ "$1" != "$prev" ] && first=1
    report "$i" "$first"
    prev=$1
done
for prog in $isos; do rm -rf "$LOGS/$prog.iso" "$LOGS/$prog.iso.d"; done
exit 0
