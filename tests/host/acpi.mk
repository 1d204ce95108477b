# ACPI parsing (kernel/acpi.c) on tables built to the spec layout in fake physical memory.
HOST_TESTS += acpi
acpi_SRCS := tests/host/test_acpi.c kernel/acpi.c
