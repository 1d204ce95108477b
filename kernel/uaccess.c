/* Validated copies between kernel and user memory (include/uaccess.h). */
#include "uaccess.h"
#include "sysarg.h"
#include "tlb.h"

int uaccess_copy(void *dst, const void *src, size_t n);     /* entry.S */

/* Copy n bytes from user address src to dst: E_OK or E_RANGE. A flush a shootdown left due
   comes first (tlb_hazard), as in copy_to_user. */
int copy_from_user(void *dst, mword src, size_t n)
{
    tlb_hazard();
    if (sysarg_user_buf(src, n) != E_OK)
        return E_RANGE;
    return n ? uaccess_copy(dst, (const void *)src, n) : E_OK;
}

/* Copy n bytes from src to user address dst: E_OK or E_RANGE. */
int copy_to_user(mword dst, const void *src, size_t n)
{
    tlb_hazard();
    if (sysarg_user_buf(dst, n) != E_OK)
        return E_RANGE;
    return n ? uaccess_copy((void *)dst, src, n) : E_OK;
}
