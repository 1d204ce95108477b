# ABI component: pure kernel logic built into the kernel (mk/kernel.mk collects
# KERNEL_SRCS): the ELF loader and the system-call argument checks.
KERNEL_SRCS += kernel/elf.c kernel/sysarg.c
