# PCID allocator (kernel/pcid.c): allocation, recycling with flush, exhaustion.
HOST_TESTS += pcid
pcid_SRCS := tests/host/test_pcid.c kernel/pcid.c
