/* Kernel command line words. */
#include "bootinfo.h"

/* Does the kernel command line contain the word w (space separated)? */
bool cmdline_has(const char *w)
{
    const char *s = boot_info.cmdline;
    while (*s) {
        const char *a = w;
        const char *b = s;
        while (*a && *a == *b)
            a++, b++;
        if (!*a && (*b == ' ' || *b == '\0'))
            return true;
        /* Next word. */
        while (*s && *s != ' ')
            s++;
        while (*s == ' ')
            s++;
    }
    return false;
}
