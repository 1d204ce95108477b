# System-call argument checks (kernel/sysarg.c) against docs/abi.md.
HOST_TESTS += sysarg
sysarg_SRCS := tests/host/test_sysarg.c kernel/sysarg.c
