/* Child PDs for the root task: see user/include/child.h. */
#include "child.h"
#include "elf.h"

static mword mem_next, mem_end;     /* bump allocator over one window range */
static mword sel_next = SEL_ROOT_FREE;
static mword stack_next = CHILD_STACK_VA;

/* Use the largest INFO_MEM_FREE range of the information page; false if there is none. */
bool mem_init(const struct info_page *ip)
{
    uint64_t best = 0;
    for (uint32_t i = 0; i < ip->num_mem && i < INFO_MAX_MEM; i++)
        if (ip->mem[i].type == INFO_MEM_FREE && ip->mem[i].size > best) {
            best = ip->mem[i].size;
            mem_next = ip->phys_window + ip->mem[i].phys;
            mem_end = mem_next + ip->mem[i].size;
        }
    return best != 0;
}

/* Take `pages` zeroed pages from the window; their root address, or 0 if none are left. */
mword mem_alloc(mword pages)
{
    mword va = mem_next;
    if (pages == 0 || pages > (mem_end - mem_next) / PAGE_SIZE_USER)
        return 0;
    mem_next += pages * PAGE_SIZE_USER;
    memset((void *)va, 0, pages * PAGE_SIZE_USER);
    return va;
}

/* Take `pages` pages aligned to `align` bytes (a power of two) without zeroing them (1 GiB is
   slow to clear under TCG); the skipped pages stay unused. Root address, or 0 if none fit. */
mword mem_take(mword pages, mword align)
{
    mword va = ALIGN_UP(mem_next, align);
    if (pages == 0 || va < mem_next || va > mem_end || pages > (mem_end - va) / PAGE_SIZE_USER)
        return 0;
    mem_next = va + pages * PAGE_SIZE_USER;
    return va;
}

/* Physical address behind a window address. */
mword mem_phys(mword window_va)
{
    return window_va - ROOT_PHYS_WINDOW;
}

/* Next selector of the root's object space nobody has used. */
mword sel_alloc(void)
{
    return sel_next++;
}

/* The PT_LOAD segments of the root's ELF (module 0) as pages and rights, at most max of them
 * into s; their number (0 if there is no ELF file). */
unsigned child_segments(struct child_seg *s, unsigned max)
{
    const struct info_page *ip = info_page();
    if (ip->num_mods == 0)
        return 0;           /* no ELF file to read the segments from */
    const uint8_t *file = (const uint8_t *)(ip->phys_window + ip->mods[0].phys);
    const struct elf64_ehdr *eh = (const struct elf64_ehdr *)file;
    unsigned n = 0;
    for (unsigned i = 0; i < eh->e_phnum && n < max; i++) {
        const struct elf64_phdr *ph =
            (const struct elf64_phdr *)(file + eh->e_phoff + (mword)i * eh->e_phentsize);
        if (ph->p_type != PT_LOAD)
            continue;
        mword va = ALIGN_DOWN(ph->p_vaddr, PAGE_SIZE_USER);
        mword end = ALIGN_UP(ph->p_vaddr + ph->p_memsz, PAGE_SIZE_USER);
        s[n++] = (struct child_seg){ va, (end - va) / PAGE_SIZE_USER,
                                     MEM_R | (ph->p_flags & ELF_PF_W ? MEM_W : 0) |
                                         (ph->p_flags & ELF_PF_X ? MEM_X : 0) };
    }
    return n;
}

/* Delegate the n segments s from src (which holds them at their addresses) to dst at the same
 * addresses; the first failing status, or E_OK. */
int child_give_segments(mword src, mword dst, const struct child_seg *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        int st = sys_delegate(src, dst, SPACE_MEM, s[i].va, s[i].va, s[i].pages, s[i].rights);
        if (st != E_OK)
            return st;
    }
    return E_OK;
}

/* Delegate every PT_LOAD segment of the root's ELF (module 0) to pd at its own address. */
static int give_program(mword pd)
{
    struct child_seg s[ELF_MAX_LOAD];
    unsigned n = child_segments(s, ELF_MAX_LOAD);
    return n ? child_give_segments(SEL_ROOT_PD, pd, s, n) : E_NOENT;
}

/* Create a PD with its capability at sel of the root (free) that holds the root's program; the
 * status of the calls. */
int child_pd_at(mword sel)
{
    int st = sys_create_pd(sel, SEL_ROOT_PD, PD_QUOTA_SHARED);
    return st == E_OK ? give_program(sel) : st;
}

/* Create a PD (capability at a new selector, *pd_sel) that holds the root's program; the status
 * of the calls. */
int child_pd(mword *pd_sel)
{
    return child_pd_quota(pd_sel, PD_QUOTA_SHARED);
}

/* child_pd with quota frames of kernel memory taken from the root's (create_pd's quota). */
int child_pd_quota(mword *pd_sel, mword quota)
{
    mword sel = sel_alloc();
    int st = sys_create_pd(sel, SEL_ROOT_PD, quota);
    if (st == E_OK)
        st = give_program(sel);
    *pd_sel = sel;
    return st;
}

/* Give pd `pages` fresh pages at va with rights; *window_va (if not NULL) is the root's view. */
int child_give(mword pd, mword va, mword pages, unsigned rights, mword *window_va)
{
    mword w = mem_alloc(pages);
    if (w == 0)
        return E_NOMEM;
    if (window_va != NULL)
        *window_va = w;
    return sys_delegate(SEL_ROOT_PD, pd, SPACE_MEM, w, va, pages, rights);
}

/* Start fn(arg) in pd on cpu with a fresh stack; its EC capability at a new selector *ec_sel. */
int child_ec(mword pd, mword cpu, child_fn fn, mword arg, mword *ec_sel)
{
    mword stack = stack_next;
    stack_next += (CHILD_STACK_PAGES + 1) * PAGE_SIZE_USER;     /* one guard page between */
    int st = child_give(pd, stack, CHILD_STACK_PAGES, MEM_R | MEM_W, NULL);
    mword sel = sel_alloc();
    if (st == E_OK)
        st = sys_create_ec(sel, pd, cpu, (mword)fn,
                           ec_stack_ptr((void *)(stack + CHILD_STACK_PAGES * PAGE_SIZE_USER)), arg);
    *ec_sel = sel;
    return st;
}

/* Block until ec has stopped (ec_status with EC_WAIT); its state in *ei, the call's status. */
int ec_wait(mword ec, struct ec_info *ei)
{
    memset(ei, 0, sizeof(*ei));
    return sys_ec_status(ec, EC_WAIT, ei);
}

/* Run fn(arg) in pd on cpu to its end (start an EC, wait for it); its final state in *ei, the
 * status of the calls. */
int child_run(mword pd, mword cpu, child_fn fn, mword arg, struct ec_info *ei)
{
    mword ec;
    int st = child_ec(pd, cpu, fn, arg, &ec);
    if (st != E_OK) {
        memset(ei, 0, sizeof(*ei));
        return st;
    }
    return ec_wait(ec, ei);
}

/* Name of a fault's access type: "read", "write", "execute", or "?". */
const char *fault_access_name(unsigned access)
{
    return access == FAULT_W ? "write" : access == FAULT_X ? "execute" :
           access == FAULT_R ? "read" : "?";
}
