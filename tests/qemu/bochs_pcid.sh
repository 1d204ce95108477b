#!/usr/bin/env bash
# The PCID path (issue 5) in Bochs: QEMU TCG has no PCID, Bochs 2.7's corei7_skylake_x has.
# Boots a GRUB ISO ("selftest", one user test program as the root task) per program and core
# count, and prints TAP lines: the kernel reports PCID on, the kernel's self-checks (every line
# from the first run, prefixed "bochs:"; a summary line for the others), each program's results
# after the user library's marker (prefixed "bochs/<prog>/smpN:") and its exit.
# Bochs has no exit device: the verdict comes from the serial log; a run ends when the log
# shows the root task's exit, a panic or failed self-checks, and Bochs is stopped then.
# Run from the repository root after `make`; logs in build/test-logs/bochs/.
#   BOCHS_TESTS="a b"  programs (default: those whose paths PCID, INVPCID and x2APIC change:
#                      address-space switches, shootdowns, revokes, PCID recycling by destruction,
#                      entry and fault paths; see bochs_default; every program runs on several
#                      QEMU CPU models in user.sh and matrix.sh)
#   BOCHS_SMP="2 4"    core counts (default 2; tlb_ipi, tlb_stale, tlb_manypd, revoke_tree: 2 4)
#   BOCHS_JOBS=n       Bochs instances at once (default 2; each uses one host core)
#   BOCHS_TIMEOUT=s    limit per run (default 240)
#   BOCHS_CMDLINE="…"  kernel command line (default "selftest"; e.g. "selftest nox2apic": xAPIC)
#   BOCHS_LABEL=name   first word of the TAP names (default "bochs"); logs in build/test-logs/name/
#   BOCHS_BUILD=dir    the build directory of kernel and programs (default build; make lab: a
#                      variant's build/lab/<name>), BOCHS_MAKE="A=b C=d" its make variables
set -u
BUILD=${BOCHS_BUILD:-build}
# shellcheck disable=SC2206
MAKEVARS=(${BOCHS_MAKE:-})
LABEL=${BOCHS_LABEL:-bochs}
LOGS=build/test-logs/$LABEL
TIMEOUT=${BOCHS_TIMEOUT:-240}
JOBS=${BOCHS_JOBS:-2}
RC_TEMPLATE=tests/bochs/bochsrc.in
# A line that ends a run: the root task's exit, a panic, or failed self-checks (no root task then).
END_RE='^(root task exited with code|PANIC:|[0-9]+ passed, [1-9][0-9]* failed)'

tap() {   # tap <ok?> <name>
    if [ "$1" -eq 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi
}

if ! command -v bochs >/dev/null || [ ! -f /usr/share/bochs/BIOS-bochs-latest ] ||
   [ ! -f /usr/share/bochs/VGABIOS-lgpl-latest ]; then
    echo "not ok - bochs: bochs not installed (run scripts/setup.sh)"; exit 0
fi
[ -f "$BUILD/kernel.elf" ] || { echo "not ok - bochs: $BUILD/kernel.elf missing (run make)"; exit 0; }
mkdir -p "$LOGS"

# Core counts a program runs with: the shootdowns to many cores and the revocation tree also on 4.
smps_for() {
    case "$1" in
        tlb_ipi|tlb_stale|tlb_manypd|revoke_tree) echo "${BOCHS_SMP:-2 4}" ;;
        *) echo "${BOCHS_SMP:-2}" ;;
    esac
}

# bochs_default: the default programs (see BOCHS_TESTS above).
bochs_default() {
    local e
    for e in "$BUILD"/user/tests/*.elf; do basename "$e" .elf; done |
        grep -xE 'tlb_.*|destroy_.*|revoke_(tree|restart|wide|busy)|lazy_sync|mem_isolation|core_sched|abi_errors|entry_attack|fault_isolation|xregs'
}

# Guest RAM in MiB: revoke_large needs a free, 1 GiB-aligned GiB for its 1G delegation.
megs_for() {
    case "$1" in
        revoke_large) echo 3072 ;;
        *) echo 256 ;;
    esac
}

# serial <log>: the serial log without carriage returns (empty while it does not exist).
serial() {
    [ -f "$1" ] && tr -d '\r' <"$1"
}

# descendants <pid>: the process ids below <pid> (script runs Bochs in a session of its own).
descendants() {
    local c
    for c in $(pgrep -P "$1"); do
        descendants "$c"; echo "$c"
    done
}

# stop <pid>: end the run started as <pid> and everything it started, by process id.
stop() {
    local p pids
    pids="$(descendants "$1") $1"
    for p in $pids; do kill -TERM "$p" 2>/dev/null; done
    sleep 1
    for p in $pids; do kill -KILL "$p" 2>/dev/null; done
    wait "$1" 2>/dev/null
}

# mkiso <prog>: the GRUB ISO with "selftest" (or $BOCHS_CMDLINE) and <prog> as the root task;
# status of make.
mkiso() {
    make --no-print-directory -s BUILD="$BUILD" "${MAKEVARS[@]}" iso ISO="$LOGS/$1.iso" \
        ISO_CMDLINE="${BOCHS_CMDLINE:-selftest}" ISO_ROOT="$BUILD/user/tests/$1.elf" \
        >"$LOGS/$1.iso-build.log" 2>&1
}

# boot <prog> <cores>: run Bochs on <prog>'s ISO until the serial log ends a run or TIMEOUT
# passes; writes $LOGS/<prog>-smp<cores>.result ("done <seconds>", "timeout", ...).
boot() {
    local d=$LOGS/$1-smp$2 megs; megs=$(megs_for "$1")
    sed -e "s|@MEGS@|$megs|; s|@HOSTMEGS@|$((megs < 2048 ? megs : 2048))|; s|@CPUS@|$2|" \
        -e "s|@ISO@|$PWD/$LOGS/$1.iso|; s|@SERIAL@|$PWD/$d.serial.txt|; s|@LOG@|$PWD/$d.bochs.log|" \
        "$RC_TEMPLATE" >"$d.bochsrc"
    # The Debian binary starts in its debugger: continue.rc holds "c". The term display
    # needs a terminal: script gives it a pseudo-terminal.
    local start=$SECONDS
    TERM=xterm timeout -k 5 "$((TIMEOUT + 10))" script -qec \
        "bochs -q -f $d.bochsrc -rc tests/bochs/continue.rc" /dev/null </dev/null >"$d.term" 2>&1 &
    local pid=$!
    while [ $((SECONDS - start)) -lt "$TIMEOUT" ] && kill -0 "$pid" 2>/dev/null; do
        serial "$d.serial.txt" | grep -aqE "$END_RE" && { sleep 1; break; }
        sleep 2
    done
    if serial "$d.serial.txt" | grep -aqE "$END_RE"; then
        echo "done in $((SECONDS - start))s" >"$d.result"
    elif kill -0 "$pid" 2>/dev/null; then
        echo "timeout" >"$d.result"
    else
        echo "bochs exited early, see $d.bochs.log" >"$d.result"
    fi
    stop "$pid"
}

# report <prog> <cores> <first?>: the TAP lines of one run (every self-check line when first).
report() {
    local prog=$1 n=$2 cfg="$LABEL/$1/smp$2" d=$LOGS/$1-smp$2
    local result text summary
    result=$(cat "$d.result" 2>/dev/null || echo "not run")
    text=$(serial "$d.serial.txt")
    tap "$(grep -aq '^tessera: PCID on' <<<"$text"; echo $?)" "$cfg: kernel reports PCID on"
    tap "$(grep -aq "^tessera: $n cores online" <<<"$text"; echo $?)" "$cfg: boots to '$n cores online'"
    # The kernel's self-checks come before the user library's marker.
    summary=$(grep -aE '^[0-9]+ passed, [0-9]+ failed' <<<"$text")
    if [ "$3" = 1 ]; then
        awk '/^# TAP from user mode$/ { exit } /^(not )?ok [0-9]+ - /' <<<"$text" |
            sed -E "s/^(not )?ok [0-9]+ - /\\1ok - $LABEL: /"
    fi
    tap "$([[ "$summary" == *" passed, 0 failed" ]]; echo $?)" \
        "$cfg: kernel self-checks pass (${summary:-no summary})"
    # The program's results: TAP lines after the user library's marker.
    local results
    results=$(awk '/^# TAP from user mode$/ { u = 1 } u && /^(not )?ok [0-9]+ - /' <<<"$text" |
              sed -E "s|^(not )?ok [0-9]+ - |\1ok - $cfg: |")
    [ -n "$results" ] && echo "$results"
    tap "$([ -n "$results" ]; echo $?)" "$cfg: the program ran and reported results"
    grep -aq '^root task exited with code 0$' <<<"$text"
    local exited=$?
    tap "$exited" "$cfg: the kernel reports 'root task exited with code 0'"
    tap "$([[ "$result" == done* ]]; echo $?)" "$cfg: finishes within ${TIMEOUT}s ($result)"
    if [ "$exited" -ne 0 ]; then
        if [ -n "$text" ]; then tail -n 15 <<<"$text" | sed 's/^/# /'
        else echo "# empty serial log; Bochs's log: $d.bochs.log"; fi
    fi
}

# The programs; their ISOs are built one after the other (make must not run twice at once).
if [ -n "${BOCHS_TESTS:-}" ]; then
    names=$BOCHS_TESTS
else
    names=$(bochs_default)
fi
runs=()
for prog in $names; do
    if [ ! -f "$BUILD/user/tests/$prog.elf" ]; then
        tap 1 "$LABEL/$prog: $BUILD/user/tests/$prog.elf missing (run make)"
    elif ! mkiso "$prog"; then
        tap 1 "$LABEL/$prog: make iso ISO_ROOT=$BUILD/user/tests/$prog.elf"
    else
        for n in $(smps_for "$prog"); do
            rm -f "$LOGS/$prog-smp$n.serial.txt" "$LOGS/$prog-smp$n.result"
            runs+=("$prog $n")
        done
    fi
done

# JOBS runs at a time.
running=0
for r in "${runs[@]}"; do
    # shellcheck disable=SC2086
    boot $r &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait
for prog in $names; do rm -rf "$LOGS/$prog.iso" "$LOGS/$prog.iso.d"; done

first=1 pcid=0
for r in "${runs[@]}"; do
    # shellcheck disable=SC2086
    report $r "$first"
    first=0
    # shellcheck disable=SC2086
    set -- $r
    serial "$LOGS/$1-smp$2.serial.txt" | grep -aq '^tessera: PCID on' || pcid=1
done
[ ${#runs[@]} -gt 0 ] || pcid=1
tap "$pcid" "$LABEL: kernel reports PCID on"
exit 0
