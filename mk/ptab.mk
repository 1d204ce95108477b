# The generic page-table engine and its formats are part of the kernel.
KERNEL_SRCS += kernel/ptab.c kernel/ptab_hpt.c kernel/ptab_ept.c kernel/ptab_dpt.c
