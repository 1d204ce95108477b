# Host unit tests of pure kernel logic (cmocka, ASan/UBSan; rules in mk/host.rules): one line
# HOST_TESTS += <name> and <name>_SRCS (tests/host/test_<name>.c and the code it tests) each.

# ACPI parsing (kernel/acpi.c) on tables built to the spec layout in fake physical memory.
HOST_TESTS += acpi
acpi_SRCS := tests/host/test_acpi.c kernel/acpi.c

# Boot memory (kernel/bootmem.c): the AP trampoline's page avoids modules, loader data and non-RAM.
HOST_TESTS += bootmem
bootmem_SRCS := tests/host/test_bootmem.c kernel/bootmem.c

# Cpuset (include/cpuset.h): default NUM_CPU and a size that is not a multiple of 64.
HOST_TESTS += cpuset cpuset130
cpuset_SRCS := tests/host/test_cpuset.c
cpuset_CFLAGS := -pthread
cpuset130_SRCS := tests/host/test_cpuset.c
cpuset130_CFLAGS := -pthread -DNUM_CPU=130

# pd_lock's hand-off lock (kernel/fairlock.c) on host threads, some waiters abandoning; cores
# in one hint word (default NUM_CPU) and in three.
HOST_TESTS += fairlock fairlock130
fairlock_SRCS := tests/host/test_fairlock.c kernel/fairlock.c
fairlock_CFLAGS := -pthread
fairlock130_SRCS := tests/host/test_fairlock.c kernel/fairlock.c
fairlock130_CFLAGS := -pthread -DNUM_CPU=130

# ELF loader (kernel/elf.c); its fuzzer is in tests/fuzz/fuzz.mk.
HOST_TESTS += elf
elf_SRCS := tests/host/test_elf.c kernel/elf.c

# The shared printf formatter (lib/format.c: kernel printk and user printf).
HOST_TESTS += format
format_SRCS := tests/host/test_format.c lib/format.c

# Frame allocator (kernel/frame.c): free/used accounting, reservations, user memory, alignment.
HOST_TESTS += frame
frame_SRCS := tests/host/test_frame.c kernel/frame.c

# Kernel object allocator (kernel/kmalloc.c): classes, reuse, whole pages, out of memory,
# empty slabs given back, each object's heap.
HOST_TESTS += kmalloc
kmalloc_SRCS := tests/host/test_kmalloc.c kernel/kmalloc.c

# Kernel-memory quotas (kernel/quota.c): limits, giving and returning, sharing, racing charges.
HOST_TESTS += quota
quota_SRCS := tests/host/test_quota.c kernel/quota.c
quota_CFLAGS := -pthread

# Intrusive AVL tree (lib/avl.c): random inserts and removals against a reference set, the
# invariants checked after each.
HOST_TESTS += avl
avl_SRCS := tests/host/test_avl.c lib/avl.c

# Mapping database (kernel/mdb.c): unit tests and the randomized model test.
HOST_TESTS += mdb mdb_random
mdb_SRCS := tests/host/test_mdb.c tests/host/test_mdb_fake.c kernel/mdb.c lib/avl.c
mdb_random_SRCS := tests/host/test_mdb_random.c tests/host/test_mdb_model.c tests/host/test_mdb_fake.c \
                   kernel/mdb.c lib/avl.c

# Bounded revoke steps and delegate calls (issue 8, holes 8/9): the review's attacks, each step's
# work asserted.
HOST_TESTS += mdb_bound
mdb_bound_SRCS := tests/host/test_mdb_bound.c kernel/mdb.c lib/avl.c

# PCID allocator (kernel/pcid.c): allocation, recycling with flush, exhaustion.
HOST_TESTS += pcid
pcid_SRCS := tests/host/test_pcid.c kernel/pcid.c

# Kernel string formatting (kernel/printk.c): snprintk and printk through a fake console.
HOST_TESTS += printk
printk_SRCS := tests/host/test_printk.c kernel/printk.c lib/format.c

# The generic page-table engine and its formats (kernel/ptab*.c) on fake physical memory.
PTAB_SRCS := $(wildcard kernel/ptab*.c) tests/host/fake_mem.c
HOST_TESTS += ptab_formats ptab_ops ptab_atomic ptab_random
ptab_formats_SRCS := tests/host/test_ptab_formats.c $(PTAB_SRCS)
ptab_ops_SRCS     := tests/host/test_ptab_ops.c $(PTAB_SRCS)
ptab_atomic_SRCS  := tests/host/test_ptab_atomic.c $(PTAB_SRCS)
ptab_random_SRCS  := tests/host/test_ptab_random.c tests/host/ptab_model.c $(PTAB_SRCS)

# The test harness tests itself: a host test that must pass.
HOST_TESTS += selfcheck
selfcheck_SRCS := tests/host/test_selfcheck.c

# Space_obj and Space_pio (kernel/space_{kdir,obj,pio}.c) on fake physical memory with the real
# mapping database.
HOST_TESTS += spaces
spaces_SRCS := tests/host/test_spaces.c tests/host/fake_mem.c kernel/kdir.c kernel/space_obj.c \
               kernel/space_pio.c kernel/mdb.c lib/avl.c kernel/ptab.c kernel/ptab_hpt.c

# System-call argument checks (kernel/sysarg.c) against docs/abi.md.
HOST_TESTS += sysarg
sysarg_SRCS := tests/host/test_sysarg.c kernel/sysarg.c

# User programs (build/root.elf, build/user/tests/ulib_check.elf) run on the host
# under a ptrace fake kernel: crt0, syscall stubs, library. make test builds them first.
HOST_TESTS += uemu
uemu_SRCS := tests/host/test_uemu.c kernel/elf.c
