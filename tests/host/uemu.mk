# User programs (build/root.elf, build/user/tests/ulib_check.elf) run on the host
# under a ptrace fake kernel: crt0, syscall stubs, library. make test builds them first.
HOST_TESTS += uemu
uemu_SRCS := tests/host/test_uemu.c kernel/elf.c
