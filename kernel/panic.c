/* panic(): print, stop all cores, leave with the failure status. */
#include "panic.h"
#include "printk.h"

/* Print a message, stop all cores and leave with the failure status. */
void panic(const char *fmt, ...)
{
    va_list ap;
    console_force();
    printk("\nPANIC: ");
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
    printk("\n");
    arch_panic_stop();
}
