# Issue 4 kernel core: PDs, ECs, scheduler, syscalls, Space_mem, fault handler, root task.
KERNEL_SRCS += kernel/kmalloc.c kernel/kalloc.c kernel/pd.c kernel/ec.c kernel/sched.c \
               kernel/syscall.c kernel/space_mem.c kernel/tlb.c kernel/root.c kernel/uaccess.c kernel/space_mem_check.c \
               kernel/space_mem_count_check.c \
               kernel/quarantine.c \
               arch/x86_64/fault.c arch/x86_64/user.c
