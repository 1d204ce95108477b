# Code shared by kernel and user space (lib/): the printf formatter.
KERNEL_SRCS += lib/format.c
