#!/usr/bin/env bash
# Kernel entry without SMAP (issue 8): every stac/clac of the kernel image is a recorded patch
# site (arch/x86_64/include/smap.h), and the kernel boots, passes its self-checks and survives
# the entry attacks (user/tests/entry_attack.c) on CPU models without SMAP and SMEP.
# Run from the repository root after `make`. About 20 s.
#   ENTRY_CPUS="qemu64 Nehalem"   CPU models for the boot (default: those two)
set -u
ELF=build/kernel/kernel64.elf

tap() {   # tap <ok?> <name>
    if [ "$1" -eq 0 ]; then echo "ok - $2"; else echo "not ok - $2"; fi
}

[ -f "$ELF" ] || { echo "not ok - entry: $ELF missing (run make)"; exit 0; }

# Addresses (hex, no 0x) of the stac/clac instructions objdump finds in the text.
insns=$(objdump -d "$ELF" | awk '$NF == "stac" || $NF == "clac" { sub(":", "", $1); print $1 }' | sort)
# The sites recorded between __smap_sites_start and __smap_sites_end (little-endian quads).
sym() { objdump -t "$ELF" | awk -v s="$1" '$NF == s { print $1 }'; }
start=$(sym __smap_sites_start) end=$(sym __smap_sites_end)
sites=$(objdump -s -j .rodata --start-address="0x$start" --stop-address="0x$end" "$ELF" |
        awk '/^ [0-9a-f]+ / { for (i = 2; i <= 5; i++) if (length($i) == 8 && $i ~ /^[0-9a-f]+$/) w = w $i }
             END { for (i = 1; i + 15 <= length(w); i += 16) {
                       q = ""; for (b = 14; b >= 0; b -= 2) q = q substr(w, i + b, 2); print q } }' | sort)
n=$(grep -c . <<<"$insns")
tap "$([ "$n" -gt 0 ] && [ "$insns" = "$sites" ]; echo $?)" \
    "entry: each of the $n stac/clac instructions of the kernel text is a recorded patch site"

for cpu in ${ENTRY_CPUS:-qemu64 Nehalem}; do
    USER_CPU=$cpu USER_TESTS=entry_attack USER_SMP=2 USER_CLANG=0 bash tests/qemu/user.sh |
        sed "s|^\(not \)\{0,1\}ok - entry_attack/|&$cpu-|"
done
exit 0
