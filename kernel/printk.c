/* printk and snprintk over the shared formatter (lib/format.c). */
#include "format.h"
#include "printk.h"
#include "spinlock.h"

/* Console output: one character to the serial port, CR before LF. */
static void put_console(void *ctx, char c)
{
    (void)ctx;
    if (c == '\n')
        console_putc('\r');
    console_putc(c);
}

static struct spinlock console_lock = SPINLOCK_INIT;
static volatile bool panicking;

/* Print without the console lock from here on (panic and exception paths). */
void console_force(void)
{
    panicking = true;
}

/* printk with the arguments in ap. */
void vprintk(const char *fmt, va_list ap)
{
    /* A panicking core must get its message out even if the lock is held. */
    bool locked = !panicking;
    /* Interrupts off while holding the lock: a handler that prints must not deadlock. */
    unsigned long irq = console_irq_save();
    if (locked)
        spin_lock(&console_lock);
    vformat_emit(put_console, NULL, fmt, ap);
    if (locked)
        spin_unlock(&console_lock);
    console_irq_restore(irq);
}

/* Write the n bytes at s as they are (NUL included, CR before LF) with interrupts off, under the
 * console lock unless panicking. */
void console_write(const char *s, size_t n)
{
    bool locked = !panicking;
    unsigned long irq = console_irq_save();
    if (locked)
        spin_lock(&console_lock);
    for (size_t i = 0; i < n; i++)
        put_console(NULL, s[i]);
    if (locked)
        spin_unlock(&console_lock);
    console_irq_restore(irq);
}

/* Format like printf (%d %i %u %x %X %p %s %c %%, flags 0 and -, width, l ll z) to the console. */
void printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

/* snprintk with the arguments in ap. */
int vsnprintk(char *buf, size_t n, const char *fmt, va_list ap)
{
    return vformat(buf, n, fmt, ap);
}

/* Format into buf (always NUL-terminated if n > 0); returns the untruncated length. */
int snprintk(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintk(buf, n, fmt, ap);
    va_end(ap);
    return r;
}
