# The test harness tests itself: a host test that must pass.
HOST_TESTS += selfcheck
selfcheck_SRCS := tests/host/test_selfcheck.c
