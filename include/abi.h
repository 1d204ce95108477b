/*
 * The user/kernel ABI constants shared by the kernel, user programs and host
 * tests: error codes, capability types, rights and space kinds.
 * The calling convention and every system call are documented in docs/abi.md.
 */
#pragma once

/* Status codes returned by every system call in rax. 0 means success. */
enum status {
    E_OK     = 0,   /* success */
    E_CAP    = 1,   /* selector names no capability, or one of the wrong type */
    E_PERM   = 2,   /* capability lacks a right the call needs */
    E_RANGE  = 3,   /* address or range outside what the caller may name (kernel half, overflow) */
    E_ALIGN  = 4,   /* address or size not aligned as the call requires */
    E_NOMEM  = 5,   /* kernel memory exhausted; nothing was changed */
    E_FULL   = 6,   /* capability table (object space) has no room at that selector */
    E_CPU    = 7,   /* core does not exist or is not online */
    E_BUSY   = 8,   /* destination already occupied by something else */
    E_ARG    = 9,   /* any other invalid argument (unknown kind, zero size, bad flags) */
    E_NOSYS  = 10,  /* no such system call */
    E_ABORT  = 11,  /* operation aborted (object being destroyed) */
    E_NOENT  = 12,  /* nothing mapped / nothing to report at that address */
};

/* Capability types held in an object space. Slot value 0 is the null capability. */
enum cap_type {
    CAP_NULL = 0,   /* empty slot: the shared zero page reads as this */
    CAP_PD   = 1,   /* protection domain */
    CAP_EC   = 2,   /* execution context */
    CAP_DEV  = 3,   /* PCI function (device): its DMA goes where its PD's dpt says */
};

/* Rights on a PD capability. */
#define PD_R_CREATE   (1u << 0)  /* may create PDs/ECs with this PD as parent */
#define PD_R_DELEGATE (1u << 1)  /* may delegate from and into this PD's spaces */
#define PD_R_ALL      (PD_R_CREATE | PD_R_DELEGATE)

/* Rights on an EC capability. */
#define EC_R_CTRL     (1u << 0)  /* may read its fault record, wait for it, resume it */
#define EC_R_ALL      (EC_R_CTRL)

/* Rights on a device capability. */
#define DEV_R_ASSIGN  (1u << 0)  /* may assign the device to a PD, unassign it, read its faults */
#define DEV_R_ALL     (DEV_R_ASSIGN)

/* Rights on memory (per page) as delegated between PDs. */
#define MEM_R   (1u << 0)   /* read */
#define MEM_W   (1u << 1)   /* write */
#define MEM_X   (1u << 2)   /* execute (user) */
#define MEM_D   (1u << 3)   /* DMA: also mapped in the PD's dpt, for the devices assigned to it */
#define MEM_G   (1u << 4)   /* guest: also mapped in the PD's nested table (npt / ept), for its
                               vCPUs, guest-physical = the page's address in the PD */
#define MEM_RWX (MEM_R | MEM_W | MEM_X)
#define MEM_ALL (MEM_RWX | MEM_D | MEM_G)

/* Rights on I/O ports: present or not. */
#define PIO_A   (1u << 0)   /* access */

/* The three spaces of a PD (lecture: "Protection Domain"). */
enum space_kind {
    SPACE_OBJ = 0,  /* object capabilities, unit: selector */
    SPACE_MEM = 1,  /* memory, unit: 4 KiB page */
    SPACE_PIO = 2,  /* I/O ports, unit: port */
};
