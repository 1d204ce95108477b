# The shared printf formatter (lib/format.c: kernel printk and user printf), tested on the host.
HOST_TESTS += format
format_SRCS := tests/host/test_format.c lib/format.c
