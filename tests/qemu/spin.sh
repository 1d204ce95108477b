#!/usr/bin/env bash
# The shootdown protocol's SPIN model (tests/spin/tlb.pml, tests/spin/run.sh); no QEMU, but
# make test picks up the suites in tests/qemu/. TAP lines "spin <config>: ...".
exec bash "$(dirname "$0")/../spin/run.sh"
