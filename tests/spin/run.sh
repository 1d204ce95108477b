#!/usr/bin/env bash
# Check the shootdown model tests/spin/tlb.pml with SPIN (exhaustive search for assertion
# violations and invalid end states) on 2 and 3 cores, then check that the mutations
# OLD_ORDER (hole 3's acknowledgement), NO_RECHECK (make_current without its second
# look at the mark), SKIP_TAKEN (the sender skips cores whose mark is clear again) and
# NO_LEAVING (the sender ignores pd_leaving) are caught. One TAP line per run with SPIN's verdict
# and state count. Then the same for the model of pd_lock, tests/spin/fairlock.pml (mutual
# exclusion, the bypass bound, no deadlock) and its mutations GRANT_STORE, FIXED_ORDER,
# NO_FREE_TAKE and NO_HANDOFF.
# Work files in build/spin/. About 30 s; pan's memory is capped at 1.5 GB.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
MODEL=$HERE/tlb.pml
WORK=build/spin
mkdir -p "$WORK"
command -v spin >/dev/null || { echo "not ok - spin: the spin program is installed (apt-get install spin)"; exit 0; }

# [PML=<model>] check <name> <expect: clean|caught> <spin defines...>: build pan for one
# configuration of the model (tlb.pml unless PML names another) and run it.
check() {
    local name=$1 expect=$2; shift 2
    local dir="$WORK/$name"
    rm -rf "$dir"; mkdir -p "$dir"
    if ! (cd "$dir" && spin -a "$@" "${PML:-$MODEL}" >spin.log 2>&1 &&
          gcc -O2 -DSAFETY -DMEMLIM=1500 -DCOLLAPSE -o pan pan.c >cc.log 2>&1); then
        echo "not ok - spin $name: model compiles"; return
    fi
    (cd "$dir" && timeout 120 ./pan -m10000000 >pan.log 2>&1)
    local errors states
    errors=$(sed -nE 's/.*errors: ([0-9]+).*/\1/p' "$dir/pan.log")
    states=$(sed -nE 's/^ *([0-9]+) states, stored.*/\1/p' "$dir/pan.log")
    local what; what=$(grep -m1 -E "^pan:1: " "$dir/pan.log" | sed 's/^pan:1: //')
    if [ -z "$errors" ]; then
        echo "not ok - spin $name: pan finished (see $dir/pan.log)"
    elif [ "$expect" = clean ]; then
        [ "$errors" -eq 0 ] && ok=ok || ok="not ok"
        echo "$ok - spin $name: no assertion violation, no invalid end state ($states states, $errors errors)"
    else
        [ "$errors" -gt 0 ] && ok=ok || ok="not ok"
        echo "$ok - spin $name: the mutation is caught (${what:-no counterexample}; $states states)"
    fi
}

check cores2 clean -DNCORES=2 -DROUNDS=2 -DSTEPS=4 -DSPINS=2
check cores3 clean -DNCORES=3 -DROUNDS=1 -DSTEPS=2 -DSPINS=1
check cores2-old-order caught -DOLD_ORDER -DNCORES=2 -DROUNDS=2 -DSTEPS=4 -DSPINS=2
check cores3-old-order caught -DOLD_ORDER -DNCORES=3 -DROUNDS=1 -DSTEPS=2 -DSPINS=1
check cores2-no-recheck caught -DNO_RECHECK -DNCORES=2 -DROUNDS=2 -DSTEPS=4 -DSPINS=2
check cores2-skip-taken caught -DSKIP_TAKEN -DNCORES=2 -DROUNDS=2 -DSTEPS=4 -DSPINS=2
check cores2-no-leaving caught -DNO_LEAVING -DNCORES=2 -DROUNDS=2 -DSTEPS=4 -DSPINS=2
LOCK=$HERE/fairlock.pml
PML=$LOCK check lock-cores2 clean -DNCORES=2 -DROUNDS=3 -DABANDONS=2
PML=$LOCK check lock-cores3 clean -DNCORES=3 -DROUNDS=1 -DABANDONS=1
PML=$LOCK check lock-cores3-no-abandon clean -DNCORES=3 -DROUNDS=2 -DABANDONS=0
PML=$LOCK check lock-cores2-grant-store caught -DGRANT_STORE -DNCORES=2
PML=$LOCK check lock-cores3-fixed-order caught -DFIXED_ORDER -DNCORES=3
PML=$LOCK check lock-cores2-no-free-take caught -DNO_FREE_TAKE -DNCORES=2
PML=$LOCK check lock-cores3-no-handoff caught -DNO_HANDOFF -DNCORES=3
exit 0
