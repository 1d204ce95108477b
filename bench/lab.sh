#!/usr/bin/env bash
# The lab (make lab, docs/lab.md): builds every variant of bench/lab/variants.txt into
# build/lab/<name> (its make variables, mk/lab.conf), boots user/tests/kbench.c on each at every
# core count of LAB_SMP, in QEMU under -icount shift=0 -accel tcg,thread=single (the guest TSC
# counts instructions) on the variant's CPU model, or in Bochs (tests/qemu/bochs_pcid.sh: PCID),
# and writes one table (variant x metric) and plots: bench/results/lab/lab.{txt,csv,png}.
# Run from the repository root.
#   LAB_VARIANTS="a b"  only these variants (default: all)   LAB_SMP="2 4"  core counts
#   LAB_JOBS=n          QEMU runs at once (default 2)         LAB_OUT=prefix (bench/results/lab/lab)
set -u
. tests/qemu/lib.bash
SMPS=${LAB_SMP:-"2 4"}
JOBS=${LAB_JOBS:-2}
OUT=${LAB_OUT:-bench/results/lab/lab}
mkdir -p build/lab "$(dirname "$OUT")"

# variants: the lines of bench/lab/variants.txt (comments dropped), LAB_VARIANTS only if set.
variants() {
    grep -v '^[[:space:]]*\(#\|$\)' bench/lab/variants.txt | while read -r name rest; do
        if [ -z "${LAB_VARIANTS:-}" ] || [[ " $LAB_VARIANTS " == *" $name "* ]]; then
            echo "$name $rest"
        fi
    done
}

# makevars <field>: the make variables of a variants.txt field, blank-separated.
makevars() {
    [ "$1" = - ] || tr , ' ' <<<"$1"
}

# figures <log>: the "row value" pairs kbench printed.
figures() {
    tr -d '\r' <"$1" | sed -n 's/^# kbench: \([a-z0-9_]*\) \([0-9]*\)$/\1 \2/p'
}

status=0
mapfile -t lines < <(variants)
# 1. Build each variant (one make at a time; make runs -j2 itself).
for l in "${lines[@]}"; do
    read -r name _ mk _ <<<"$l"
    d=build/lab/$name
    # shellcheck disable=SC2046
    if ! make --no-print-directory -s -j2 BUILD="$d" $(makevars "$mk") "$d/kernel.elf" \
            "$d/user/tests/kbench.elf" >"$d.build.log" 2>&1; then
        echo "lab: $name: the build failed (see $d.build.log)"; status=1
    fi
done

# 2. The QEMU runs, JOBS at a time; the Bochs variants one after the other (2 Bochs at a time).
# qemu_run <name> <cpu> <cores>: kbench on the variant's kernel; figures in build/lab/<name>/.
qemu_run() {
    local d=build/lab/$1
    qemu_boot "$d/kbench-smp$3.log" 900 -machine q35 -cpu "$2" -smp "$3" -m 512M \
        -icount shift=0 -accel tcg,thread=single \
        -kernel "$d/kernel.elf" -initrd "$d/user/tests/kbench.elf" -append selftest
    echo $? >"$d/kbench-smp$3.rc"
}
running=0
for l in "${lines[@]}"; do
    read -r name _ mk machine _ <<<"$l"
    [[ "$machine" == qemu:* ]] || continue
    for n in $SMPS; do
        qemu_run "$name" "${machine#qemu:}" "$n" &
        running=$((running + 1))
        if [ "$running" -ge "$JOBS" ]; then wait -n; running=$((running - 1)); fi
    done
done
wait
for l in "${lines[@]}"; do
    read -r name _ mk machine _ <<<"$l"
    [ "$machine" = bochs ] || continue
    BOCHS_TESTS=kbench BOCHS_SMP="$SMPS" BOCHS_LABEL="lab-$name" BOCHS_BUILD="build/lab/$name" \
        BOCHS_MAKE="$(makevars "$mk")" BOCHS_TIMEOUT=900 bash tests/qemu/bochs_pcid.sh \
        >"build/lab/$name.bochs.tap" 2>&1
    for n in $SMPS; do
        cp "build/test-logs/lab-$name/kbench-smp$n.serial.txt" "build/lab/$name/kbench-smp$n.log" \
            2>/dev/null
        grep -aq '^root task exited with code 0' "build/lab/$name/kbench-smp$n.log" 2>/dev/null
        echo $(( $? == 0 ? 1 : 3 )) >"build/lab/$name/kbench-smp$n.rc"
    done
done

# 3. Check each run, then the report.
args=()
for l in "${lines[@]}"; do
    read -r name switch mk machine _ <<<"$l"
    for n in $SMPS; do
        f=build/lab/$name/kbench-smp$n
        rc=$(cat "$f.rc" 2>/dev/null || echo "not run")
        if [ "$rc" != 1 ] || ! grep -aq "^kbench: 0 failed" "$f.log" 2>/dev/null; then
            echo "lab: $name smp $n failed (status $rc, see $f.log)"; status=1
        fi
        figures "$f.log" >"$f.txt" 2>/dev/null
        args+=("$name|$switch|$mk|$machine|$n|$f.txt")
    done
done
/usr/bin/python3 bench/lab_report.py "$OUT" "${args[@]}" || status=1
exit $status
