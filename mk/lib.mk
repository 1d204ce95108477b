# Code shared by kernel and user space (lib/): the printf formatter, command-line words.
KERNEL_SRCS += lib/format.c lib/words.c
