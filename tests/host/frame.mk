# Frame allocator (kernel/frame.c): free/used accounting, reservations, user memory, alignment.
HOST_TESTS += frame
frame_SRCS := tests/host/test_frame.c kernel/frame.c
