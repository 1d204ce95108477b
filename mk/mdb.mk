# The mapping database (delegation and revocation) is part of the kernel.
KERNEL_SRCS += kernel/mdb.c
