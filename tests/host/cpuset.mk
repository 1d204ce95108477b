# Cpuset (include/cpuset.h): default NUM_CPU and a size that is not a multiple of 64.
HOST_TESTS += cpuset cpuset130
cpuset_SRCS := tests/host/test_cpuset.c
cpuset_CFLAGS := -pthread
cpuset130_SRCS := tests/host/test_cpuset.c
cpuset130_CFLAGS := -pthread -DNUM_CPU=130
