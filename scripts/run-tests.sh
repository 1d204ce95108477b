#!/usr/bin/env bash
# Run test suites and print one summary line "N passed, N failed".
#
# Each argument is a suite: an executable that prints TAP-style result lines
# ("ok ..." / "not ok ..."). A suite that exits non-zero without reporting a
# failure, or reports nothing at all, counts as one failure.
# Logs go to build/test-logs/<suite>.log. Exit status: 0 iff nothing failed.
set -u
logdir=build/test-logs
mkdir -p "$logdir"
pass=0 fail=0
for suite in "$@"; do
    name=$(basename "$suite")
    log="$logdir/$name.log"
    start=$(date +%s)
    CMOCKA_MESSAGE_OUTPUT=TAP "$suite" >"$log" 2>&1
    rc=$?
    p=$(grep -c '^ok ' "$log")
    f=$(grep -c '^not ok ' "$log")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name: suite exited with status $rc" >>"$log"; f=1
    fi
    if [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
        echo "not ok - $name: suite reported no results" >>"$log"; f=1
    fi
    printf '%-28s %4d passed, %3d failed  (%ds)\n' "$name" "$p" "$f" $(( $(date +%s) - start ))
    grep '^not ok ' "$log" | sed 's/^/    /'
    [ "$f" -ne 0 ] && { echo "    --- last lines of $log ---"; tail -n 15 "$log" | sed 's/^/    /'; }
    pass=$((pass + p)); fail=$((fail + f))
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
