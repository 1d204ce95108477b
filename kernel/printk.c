/* printk and snprintk: a small printf formatter over an output callback. */
#include "printk.h"
#include "spinlock.h"

struct sink {
    void (*put)(struct sink *s, char c);
    char *buf;          /* snprintk: destination */
    size_t size, len;   /* capacity and characters produced so far */
};

struct spec {
    bool zero, left;    /* flags '0' and '-' */
    unsigned width;
    unsigned lng;       /* number of 'l' (or z) */
};

/* Emit the unsigned value v in base b, honouring width and zero padding. */
static void put_num(struct sink *s, uint64_t v, unsigned b, bool neg, bool upper, const struct spec *sp)
{
    const char *digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    unsigned n = 0, len;

    do {
        tmp[n++] = digits[v % b];
        v /= b;
    } while (v);
    len = n + neg;
    if (neg && sp->zero)
        s->put(s, '-');
    for (; !sp->left && len < sp->width; len++)
        s->put(s, sp->zero ? '0' : ' ');
    if (neg && !sp->zero)
        s->put(s, '-');
    while (n)
        s->put(s, tmp[--n]);
    for (; sp->left && len < sp->width; len++)
        s->put(s, ' ');
}

/* Emit string str with width. */
static void put_str(struct sink *s, const char *str, const struct spec *sp)
{
    unsigned len = 0;
    if (!str)
        str = "(null)";
    while (str[len])
        len++;
    for (; !sp->left && len < sp->width; len++)
        s->put(s, ' ');
    while (*str)
        s->put(s, *str++);
    for (; sp->left && len < sp->width; len++)
        s->put(s, ' ');
}

/* Fetch a signed or unsigned integer argument of the size given by sp. */
#define ARG(ap, sp, t) ((sp)->lng ? va_arg(ap, t long) : (t long)va_arg(ap, t int))

/* Format fmt with ap into sink s. */
static void format(struct sink *s, const char *fmt, va_list ap)
{
    for (; *fmt; fmt++) {
        struct spec sp = { 0 };
        if (*fmt != '%') {
            s->put(s, *fmt);
            continue;
        }
        for (fmt++; *fmt == '0' || *fmt == '-'; fmt++)
            *(*fmt == '0' ? &sp.zero : &sp.left) = true;
        for (; *fmt >= '0' && *fmt <= '9'; fmt++)
            sp.width = sp.width * 10 + (*fmt - '0');
        for (; *fmt == 'l' || *fmt == 'z'; fmt++)
            sp.lng++;
        switch (*fmt) {
        case 'd': case 'i': {
            long v = ARG(ap, &sp, signed);
            put_num(s, v < 0 ? -(unsigned long)v : (unsigned long)v, 10, v < 0, false, &sp);
            break;
        }
        case 'u': put_num(s, ARG(ap, &sp, unsigned), 10, false, false, &sp); break;
        case 'x': put_num(s, ARG(ap, &sp, unsigned), 16, false, false, &sp); break;
        case 'X': put_num(s, ARG(ap, &sp, unsigned), 16, false, true, &sp); break;
        case 'p': put_num(s, (uintptr_t)va_arg(ap, void *), 16, false, false, &sp); break;
        case 's': put_str(s, va_arg(ap, const char *), &sp); break;
        case 'c': s->put(s, (char)va_arg(ap, int)); break;
        case '\0': return;
        default: s->put(s, *fmt); break;
        }
    }
}

/* Console sink: one character to the serial port, CR before LF. */
static void put_console(struct sink *s, char c)
{
    (void)s;
    if (c == '\n')
        console_putc('\r');
    console_putc(c);
}

/* Buffer sink: store while there is room, count everything. */
static void put_buf(struct sink *s, char c)
{
    if (s->len + 1 < s->size)
        s->buf[s->len] = c;
    s->len++;
}

static struct spinlock console_lock = SPINLOCK_INIT;
static volatile bool panicking;

/* From now on print without the console lock (panic and exception paths). */
void console_force(void)
{
    panicking = true;
}

void vprintk(const char *fmt, va_list ap)
{
    struct sink s = { put_console, NULL, 0, 0 };
    /* A panicking core must get its message out even if the lock is held. */
    bool locked = !panicking;
    /* Interrupts off while holding the lock: a handler that prints must not deadlock. */
    unsigned long irq = console_irq_save();
    if (locked)
        spin_lock(&console_lock);
    format(&s, fmt, ap);
    if (locked)
        spin_unlock(&console_lock);
    console_irq_restore(irq);
}

void printk(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vprintk(fmt, ap);
    va_end(ap);
}

int vsnprintk(char *buf, size_t n, const char *fmt, va_list ap)
{
    struct sink s = { put_buf, buf, n, 0 };
    format(&s, fmt, ap);
    if (n)
        buf[s.len < n ? s.len : n - 1] = '\0';
    return (int)s.len;
}

int snprintk(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintk(buf, n, fmt, ap);
    va_end(ap);
    return r;
}
