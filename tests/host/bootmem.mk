# Boot memory (kernel/bootmem.c): the AP trampoline's page avoids modules, loader data and non-RAM.
HOST_TESTS += bootmem
bootmem_SRCS := tests/host/test_bootmem.c kernel/bootmem.c
