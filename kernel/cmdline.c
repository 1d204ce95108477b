/* Kernel command line words. */
#include "bootinfo.h"
#include "words.h"

/* Does the kernel command line contain the word w (space separated)? */
bool cmdline_has(const char *w)
{
    return word_find(boot_info.cmdline, w, 0) != NULL;
}
