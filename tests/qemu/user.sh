#!/usr/bin/env bash
# User-level tests (issues 4 and 5): boot every build/user/tests/*.elf as the root
# task ("selftest" on the command line) on several core counts. Prints the
# program's TAP lines prefixed "<prog>/smpN:", one line for the exit status
# (QEMU 1 = the program exited 0, 3 = it failed) and one for the time limit.
# Run from the repository root after `make`; serial logs in build/test-logs/user/.
#   USER_TESTS="a b"  run only these programs      USER_SMP="2 4"  core counts (default 1 2 4;
#                     tlb_* and revoke_* programs: 2 4 8; pd_soak: none, soak.sh runs it)
#   USER_BUILD=dir    kernel and programs from another build directory (USER_LOGS=dir: its logs)
#   USER_TESTS_PENDING=1  also run the programs in $PENDING (they wait for a kernel change)
#   USER_CPU=model    QEMU CPU model (default max; e.g. qemu64 or Nehalem: no SMAP, no SMEP)
#   USER_APPEND="w"   more kernel command-line words after "selftest" (e.g. tables-far)
#   USER_CLANG=0      skip the clang pass (default 1: also build kernel and programs with clang in
#                     build/test-clang-user and run every program once on 2 cores)
set -u
. tests/qemu/lib.bash
BUILD_DIR=${USER_BUILD:-build}
KERNEL=$BUILD_DIR/kernel.elf
LOGS=${USER_LOGS:-build/test-logs/user}
TIMEOUT=${QEMU_TIMEOUT:-120}
SMPS=${USER_SMP:-"1 2 4"}
CPU=${USER_CPU:-max}
mkdir -p "$LOGS"

# Core counts a program runs with: ulib_check is for the host only (tests/host/test_uemu.c);
# inspect needs the INSPECT=1 kernel (tests/qemu/inspect.sh runs it, else it skips);
# the revocation and shootdown programs (issue 5) also run on 8 cores unless USER_SMP is given;
# pd_soak only where USER_SMP is given (soak.sh, the clang pass); vm_* likewise (tests/qemu/vm.sh).
smps_for() {
    case "$1" in
        ulib_check|inspect) echo "" ;;
        pd_soak) echo "${USER_SMP:-}" ;;
        vm_*) echo "${USER_SMP:-}" ;;
        tlb_*|revoke_*) echo "${USER_SMP:-2 4 8}" ;;
        *) echo "$SMPS" ;;
    esac
}

# Programs that wait for a kernel change (listed in the report): run only with USER_TESTS_PENDING=1
# or when named in USER_TESTS. None at the moment: list them space-separated with spaces around.
PENDING=" "

# run <prog> <smp>: boot the program, print its results.
run() {
    local prog=$1 n=$2 cfg="$1/smp$2"
    local log="$LOGS/$prog-smp$n.log"
    qemu_boot "$log" "$TIMEOUT" -cpu "$CPU" -smp "$n" -m "$(mem_for "$prog")" \
        -kernel "$KERNEL" -initrd "$BUILD_DIR/user/tests/$prog.elf" \
        -append "selftest${USER_APPEND:+ $USER_APPEND}"
    user_checks "$cfg" "$log" $? "${TIMEOUT}s"
    if [ "$prog" = console_write ]; then   # what only the serial log can show (docs/abi.md)
        tr '\0' '@' <"$log" | grep -aq '^# console bytes: A@B@C end'
        tap $? "$cfg: console_write wrote the bytes after each NUL, and the NULs"
        tr -d '\r' <"$log" | grep -aqE '^# x{4093}$'
        tap $? "$cfg: console_write wrote a full buffer of CONSOLE_MAX bytes whole"
    fi
}

# run_all: every selected program of $BUILD_DIR on each of its core counts.
run_all() {
    [ -f "$KERNEL" ] || { echo "not ok - user: $KERNEL missing (run make)"; return; }
    for elf in "$BUILD_DIR"/user/tests/*.elf; do
        prog=$(basename "$elf" .elf)
        if [ -n "${USER_TESTS:-}" ] && ! [[ " $USER_TESTS " == *" $prog "* ]]; then
            continue
        fi
        if [[ "$PENDING" == *" $prog "* ]] && [ "${USER_TESTS_PENDING:-0}" != 1 ] &&
           ! [[ " ${USER_TESTS:-} " == *" $prog "* ]]; then
            continue
        fi
        for n in $(smps_for "$prog"); do
            run "$prog" "$n"
        done
    done
}

run_all
if [ "${USER_CLANG:-1}" = 1 ]; then
    BUILD_DIR=build/test-clang-user KERNEL=build/test-clang-user/kernel.elf SMPS=2 USER_SMP=2
    if make --no-print-directory -s BUILD="$BUILD_DIR" CC=clang all >"$LOGS/clang-build.log" 2>&1; then
        LOGS=$LOGS/clang; mkdir -p "$LOGS"
        run_all | sed 's|/smp2: |/clang-smp2: |'
    else
        tap 1 "user: build kernel and programs with CC=clang"
    fi
fi
exit 0
