# The user library's printf formatter (user/lib/format.c), tested on the host.
HOST_TESTS += format
format_SRCS := tests/host/test_format.c user/lib/format.c
