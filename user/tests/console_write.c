/*
 * console_write writes exactly len bytes, NULs included, up to
 * CONSOLE_MAX in one call, and checks its arguments in the documented order. The
 * bytes themselves are checked by tests/qemu/user.sh in the serial log: a line with
 * NULs inside, and one full buffer of CONSOLE_MAX bytes. Run as the root task; TAP.
 */
#include "utest.h"

static char big[CONSOLE_MAX];

int main(mword arg)
{
    if (!utest_init(arg))
        return utest_done("console_write");
    static const char nul[] = "# console bytes: A\0B\0C end\n";
    CHECK_ST(sys_console_write(nul, sizeof(nul) - 1), E_OK);
    big[0] = '#';
    big[1] = ' ';
    for (mword i = 2; i < CONSOLE_MAX - 1; i++)
        big[i] = 'x';
    big[CONSOLE_MAX - 1] = '\n';
    CHECK_ST(sys_console_write(big, CONSOLE_MAX), E_OK);
    CHECK_ST(sys_console_write(big, 0), E_OK);
    CHECK_ST(sys_console_write(big, CONSOLE_MAX + 1), E_ARG);
    CHECK_ST(sys_console_write((const char *)USER_LIMIT - 8, 16), E_RANGE);
    CHECK_ST(sys_console_write((const char *)0x1000, 8), E_RANGE);     /* not mapped */
    return utest_done("console_write");
}
