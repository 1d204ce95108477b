# Space_obj (capabilities) and Space_pio (I/O bitmap) in the per-PD kernel directory.
KERNEL_SRCS += kernel/space_kpd.c kernel/space_obj.c kernel/space_pio.c kernel/space_kernel.c
