# Space_obj and Space_pio (kernel/space_{kpd,obj,pio}.c) on fake physical memory with the real mapping database.
HOST_TESTS += spaces
spaces_SRCS := tests/host/test_spaces.c tests/host/fake_mem.c kernel/space_kpd.c kernel/space_obj.c \
               kernel/space_pio.c kernel/mdb.c kernel/ptab.c kernel/ptab_hpt.c
