#!/usr/bin/env bash
# PD soak (issue 9): user/tests/pd_soak as the root task, its rounds and tree from the kernel
# command line (soak.rounds, soak.tree, soak.min_reuses; see the program's header).
#   QEMU: SOAK_ROUNDS PDs (default 20000) created and destroyed on each of SOAK_SMP cores
#         (default "1 2 4 8"), each with a reader on every core, then a tree of 1,000 PDs
#         destroyed through its top PD (tests/qemu/user.sh, logs in build/test-logs/soak/).
#   Bochs: SOAK_BOCHS_ROUNDS PDs (default 4200, more than the 4,096 PCIDs) on 2 cores, and the
#         tree (tests/qemu/bochs_pcid.sh, label soak-bochs); the program must count at least
#         rounds + 1 - 4094 PCID reuses (ids 1..4095 without the root's: 4094 fresh ones).
#         SOAK_BOCHS=0 skips it.
# `make soak` runs it with SOAK_ROUNDS=100000. About 2.5 minutes with the defaults on a 2-core
# machine (QEMU about 100 s, Bochs about 50 s). TAP lines prefixed "soak: ".
set -u
ROUNDS=${SOAK_ROUNDS:-20000}
BOCHS_ROUNDS=${SOAK_BOCHS_ROUNDS:-4200}
if [ ! -f build/user/tests/pd_soak.elf ]; then
    echo "not ok - soak: build/user/tests/pd_soak.elf missing (run make)"; exit 0
fi
# A round takes 1.5 ms at 8 cores on an idle 2-core host, 4 ms when the host runs 10 vCPUs more:
# 10 ms per round and 2 minutes for the boot before a run counts as hung.
for n in ${SOAK_SMP:-1 2 4 8}; do
    start=$SECONDS
    QEMU_TIMEOUT=$((120 + ROUNDS / 100)) USER_TESTS=pd_soak USER_SMP=$n USER_CLANG=0 \
        USER_APPEND="soak.rounds=$ROUNDS" USER_LOGS=build/test-logs/soak \
        bash tests/qemu/user.sh | sed -E 's/^(not )?ok - /&soak: /'
    echo "# smp$n: $((SECONDS - start)) s of wall time (boot and self-checks included)"
    tr -d '\r' <build/test-logs/soak/pd_soak-smp$n.log | grep -a '^# \(soak\|tree\)' |
        sed "s|^# |# smp$n: |"
done
if [ "${SOAK_BOCHS:-1}" = 1 ]; then
    start=$SECONDS
    min=$((BOCHS_ROUNDS + 1 > 4094 ? BOCHS_ROUNDS + 1 - 4094 : 0))
    BOCHS_TESTS=pd_soak BOCHS_SMP=2 BOCHS_LABEL=soak-bochs \
        BOCHS_TIMEOUT=$((240 + BOCHS_ROUNDS / 20)) \
        BOCHS_CMDLINE="selftest soak.rounds=$BOCHS_ROUNDS soak.min_reuses=$min" \
        bash tests/qemu/bochs_pcid.sh | grep -v '^ok - soak-bochs: [a-z_]*$' |
        sed -E 's/^(not )?ok - /&soak: /'
    echo "# bochs-smp2: $((SECONDS - start)) s of wall time (ISO, boot and self-checks included)"
    tr -d '\r' <build/test-logs/soak-bochs/pd_soak-smp2.serial.txt 2>/dev/null |
        grep -a '^# \(soak\|tree\)' | sed 's|^# |# bochs-smp2: |'
fi
exit 0
