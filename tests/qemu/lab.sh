#!/usr/bin/env bash
# The lab's variants in CI (issue 11, docs/lab.md): builds every variant of bench/lab/variants.txt
# into build/lab/<name> (its make variables, mk/lab.conf) and boots each of its test programs as
# the root task with "selftest" on -smp 2 (the variant's QEMU CPU model; -cpu max for the Bochs
# variants): the kernel's self-checks, the program's TAP lines and exit (tests/qemu/lib.bash), and
# that the kernel reports the variant's switches at boot ("tessera: lab A=b"). make lab measures
# the same builds. About 3 minutes with 2 runs at a time on a 2-core machine.
#   LAB_VARIANTS="a b"  only these variants     LAB_JOBS=n  QEMU runs at once (default 2)
set -u
. tests/qemu/lib.bash
LOGS=build/test-logs/lab
TIMEOUT=${QEMU_TIMEOUT:-240}
JOBS=${LAB_JOBS:-2}
mkdir -p "$LOGS" build/lab

runs=()     # "<variant> <prog> <cpu>"
while read -r name switch mk machine tests; do
    [ -z "${LAB_VARIANTS:-}" ] || [[ " $LAB_VARIANTS " == *" $name "* ]] || continue
    d=build/lab/$name
    vars=(); [ "$mk" = - ] || IFS=, read -ra vars <<<"$mk"
    progs=(); [ "$tests" = - ] || IFS=, read -ra progs <<<"$tests"
    targets=("$d/kernel.elf")
    for p in "${progs[@]}"; do targets+=("$d/user/tests/$p.elf"); done
    if make --no-print-directory -s -j2 BUILD="$d" "${vars[@]}" "${targets[@]}" \
            >"$LOGS/$name-build.log" 2>&1; then
        tap 0 "lab/$name: builds (switch $switch: ${mk/#-/no switch changed})"
    else
        tap 1 "lab/$name: builds with ${vars[*]} (see $LOGS/$name-build.log)"; continue
    fi
    cpu=max; [[ "$machine" == qemu:* ]] && cpu=${machine#qemu:}
    for p in "${progs[@]}"; do runs+=("$name $p $cpu ${mk//,/ }"); done
done < <(grep -v '^[[:space:]]*\(#\|$\)' bench/lab/variants.txt)

# boot <i>: run number i; QEMU's status in $LOGS/<variant>-<prog>.rc.
boot() {
    # shellcheck disable=SC2086
    set -- ${runs[$1]}
    local d=build/lab/$1
    qemu_boot "$LOGS/$1-$2.log" "$TIMEOUT" -cpu "$3" -smp 2 -m "$(mem_for "$2")" \
        -kernel "$d/kernel.elf" -initrd "$d/user/tests/$2.elf" -append selftest
    echo $? >"$LOGS/$1-$2.rc"
}

running=0
for i in "${!runs[@]}"; do
    boot "$i" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
done
wait
prev=
for i in "${!runs[@]}"; do
    # shellcheck disable=SC2086
    set -- ${runs[$i]}
    name=$1 prog=$2 log="$LOGS/$1-$2.log"
    shift 3
    first=0; [ "$name" != "$prev" ] && first=1
    prev=$name
    kernel_checks "lab/$name/$prog" "$log" 2 0
    if [ "$first" = 1 ]; then
        want="tessera: lab $*"
        grep -aq "^$want" "$log"; tap $? "lab/$name: the kernel reports '$want'"
    fi
    user_checks "lab/$name/$prog" "$log" "$(cat "$LOGS/$name-$prog.rc" 2>/dev/null || echo 124)" \
        "${TIMEOUT}s"
done
exit 0
