# Kernel object allocator (kernel/kmalloc.c): classes, reuse, whole pages, out of memory.
HOST_TESTS += kmalloc
kmalloc_SRCS := tests/host/test_kmalloc.c kernel/kmalloc.c
