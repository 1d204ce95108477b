#!/usr/bin/env bash
# Page-table use-after-free detector (issue 8): the kernel built with PTAB_QUARANTINE=1
# (include/quarantine.h) in build/test-quarantine boots with "selftest" and runs the
# shootdown, revocation and destruction programs (tlb_*, revoke_*, destroy_*) on 2 cores, and tlb_manypd (hole 1:
# one revoke over 40 PDs) and tlb_stale also on 4 (QUARANTINE_SMP4="..."). A table frame
# freed or allocated before the shootdown that covers it, or a live root reaching a
# freed frame, panics that kernel; so does a destroyed PD's root freed while a core runs it
# (a freed root is poisoned: a core still walking it faults). TAP lines prefixed "quarantine:".
# Run from the repository root; logs in build/test-logs/quarantine/.
set -u
QB=build/test-quarantine
LOGS=build/test-logs/quarantine
mkdir -p "$LOGS"
if ! make --no-print-directory -s BUILD=$QB PTAB_QUARANTINE=1 all >"$LOGS/build.log" 2>&1; then
    echo "not ok - quarantine: build with PTAB_QUARANTINE=1"
    exit 0
fi
echo "ok - quarantine: build with PTAB_QUARANTINE=1"
progs=$(cd $QB/user/tests && ls tlb_*.elf revoke_*.elf destroy_*.elf | sed 's/\.elf$//' | tr '\n' ' ')
USER_BUILD=$QB USER_LOGS=$LOGS USER_TESTS="$progs" USER_SMP=2 USER_CLANG=0 \
    bash tests/qemu/user.sh | sed -E 's/^(not )?ok - /&quarantine: /'
USER_BUILD=$QB USER_LOGS=$LOGS USER_TESTS="${QUARANTINE_SMP4:-tlb_manypd tlb_stale}" USER_SMP=4 USER_CLANG=0 \
    bash tests/qemu/user.sh | sed -E 's/^(not )?ok - /&quarantine: /'
exit 0
