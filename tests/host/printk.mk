# Kernel string formatting (kernel/printk.c): snprintk and printk through a fake console.
HOST_TESTS += printk
printk_SRCS := tests/host/test_printk.c kernel/printk.c lib/format.c
