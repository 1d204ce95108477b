# Issue 5: the PCID allocator is part of the kernel (kernel/tlb.c and space_mem.c use it).
KERNEL_SRCS += kernel/pcid.c
