/* Formatted output to the debug console through console_write(). */
#include "ulib.h"

#define PRINTF_BUF 256     /* bytes formatted per console_write() */

/* Format into buf[0..size); returns the untruncated length. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap)
{
    return vformat(buf, size, fmt, ap);
}

/* Format into buf[0..size); returns the untruncated length. */
int snprintf(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

/* Print to the console; output beyond PRINTF_BUF-1 bytes is cut. Returns the length printed. */
int printf(const char *fmt, ...)
{
    char buf[PRINTF_BUF];
    va_list ap;
    va_start(ap, fmt);
    int n = vformat(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    n = MIN(n, PRINTF_BUF - 1);
    return sys_console_write(buf, (mword)n) == E_OK ? n : -1;
}

/* Print s and a newline. Returns a non-negative number, or -1 on failure. */
int puts(const char *s)
{
    if (sys_console_write(s, strlen(s)) != E_OK)
        return -1;
    return sys_console_write("\n", 1) == E_OK ? 0 : -1;
}
