# Boot memory (loader data, the AP trampoline's page): pure logic in the kernel and a host test.
KERNEL_SRCS += kernel/bootmem.c
