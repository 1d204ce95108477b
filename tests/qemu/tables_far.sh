#!/usr/bin/env bash
# Page tables outside the linear map (docs/ARCHITECTURE.md, "Temporal mappings"): the kernel
# built with PTAB_QUARANTINE=1 in build/test-quarantine boots with "selftest tables-far" (a
# 16 MiB linear pool; every PD's page tables come from the far pool above it and are reached
# through the per-core temporal window) and runs the programs that stress page tables on 2
# cores: lazy sync, shootdowns, revocations, collapse, isolation, the frame books, destruction,
# pt_cost, and a VM's nested tables (vm_guest: the guest's hardware walks them from the far pool).
# A table frame reached through a stale window slot, freed before its shootdown, or reached by
# a live root after its free fails the run. TAP lines prefixed "tables-far:".
# Run from the repository root; logs in build/test-logs/tables-far/.
set -u
. tests/qemu/lib.bash
QB=build/test-quarantine
LOGS=build/test-logs/tables-far
PROGS="lazy_sync tlb_ipi tlb_latency tlb_manypd tlb_reuse tlb_stale revoke_tree revoke_large
       revoke_busy deleg_collapse mem_isolation pd_account oom_revoke destroy_loop destroy_race
       pt_cost vm_guest"
mkdir -p "$LOGS"
if ! make --no-print-directory -s BUILD=$QB PTAB_QUARANTINE=1 all >"$LOGS/build.log" 2>&1; then
    echo "not ok - tables-far: build with PTAB_QUARANTINE=1"
    exit 0
fi
echo "ok - tables-far: build with PTAB_QUARANTINE=1"
USER_BUILD=$QB USER_LOGS=$LOGS USER_TESTS="$(echo $PROGS)" USER_SMP=2 USER_CLANG=0 \
    USER_APPEND=tables-far bash tests/qemu/user.sh | sed -E 's/^(not )?ok - /&tables-far: /'
# The boot really took the tables from the far pool.
grep -aq "^tessera: tables-far: linear pool to 1200000, far pool" "$LOGS/pt_cost-smp2.log"
tap $? "tables-far: the kernel reports the small linear pool and the far pool"
exit 0
