/* TAP lines for user-level test programs; the QEMU suite scripts count them. */
#include "ulib.h"

static int tap_count;   /* tests reported so far */
static int tap_failed;  /* of which failed */

/* Report one test: "ok N - name" if cond, else "not ok N - name". */
void tap_check(bool cond, const char *fmt, ...)
{
    char name[160];
    va_list ap;
    va_start(ap, fmt);
    vformat(name, sizeof(name), fmt, ap);
    va_end(ap);
    if (tap_count == 0)
        puts(TAP_USER_MARK);    /* the QEMU runner takes TAP lines after this one */
    tap_count++;
    if (!cond)
        tap_failed++;
    printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, name);
}

/* Number of "not ok" lines so far. */
int tap_failures(void)
{
    return tap_failed;
}
