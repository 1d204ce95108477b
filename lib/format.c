/*
 * printf-style formatting, shared by the kernel (printk), the user library
 * (printf) and host tests (tests/host/test_format.c). Pure C, no system calls:
 * output goes to a buffer or, character by character, to a callback.
 *
 * Supported: %d %i %u %x %X %p %s %c %%; flags '-' (left align) and '0' (zero
 * pad); a width (digits or '*'); a precision for %s ('.' digits or '*');
 * length modifiers l, ll, z. Anything else is copied out verbatim.
 */
#include "format.h"

/* The output: a callback, or else a buffer whose bytes beyond size-1 are counted but dropped. */
struct out {
    format_emit_fn emit;    /* NULL: store into buf */
    void *ctx;
    char *buf;
    size_t size;
    size_t len;             /* characters produced so far */
};

/* One conversion specification. */
struct spec {
    bool left;          /* '-' */
    bool zero;          /* '0' */
    int width;          /* minimum field width */
    int prec;           /* %s: most characters to print; -1: no limit */
    int longs;          /* number of 'l' (z counts as one) */
    char conv;          /* the conversion character */
};

/* Append c: to the callback, or to the buffer if it fits. */
static void put(struct out *o, char c)
{
    if (o->emit)
        o->emit(o->ctx, c);
    else if (o->len + 1 < o->size)
        o->buf[o->len] = c;
    o->len++;
}

/* Append n copies of c. */
static void pad(struct out *o, char c, int n)
{
    while (n-- > 0)
        put(o, c);
}

/* Read a decimal number or '*' (an int argument) at *fmt. */
static int read_count(const char **fmt, va_list *ap)
{
    int n = 0;
    if (**fmt == '*') {
        (*fmt)++;
        return va_arg(*ap, int);
    }
    while (**fmt >= '0' && **fmt <= '9')
        n = n * 10 + (*(*fmt)++ - '0');
    return n;
}

/* Parse flags, width, precision and length after a '%'; leaves *fmt past the conversion. */
static void parse_spec(const char **fmt, va_list *ap, struct spec *sp)
{
    *sp = (struct spec){ .prec = -1 };
    for (;; (*fmt)++) {
        if (**fmt == '-')
            sp->left = true;
        else if (**fmt == '0')
            sp->zero = true;
        else
            break;
    }
    sp->width = read_count(fmt, ap);
    if (sp->width < 0) {                /* a negative '*' width means left aligned */
        sp->left = true;
        sp->width = -sp->width;
    }
    if (**fmt == '.') {
        (*fmt)++;
        sp->prec = read_count(fmt, ap);
    }
    for (; **fmt == 'l' || **fmt == 'z'; (*fmt)++)
        sp->longs++;
    sp->conv = **fmt;
    if (**fmt != '\0')
        (*fmt)++;
}

/* Append a field of body (n bytes) after prefix, padded to the spec's width. */
static void emit_field(struct out *o, const struct spec *sp, const char *prefix,
                       const char *body, int n)
{
    int plen = 0;
    while (prefix[plen] != '\0')
        plen++;
    int fill = sp->width - plen - n;
    if (!sp->left && !sp->zero)
        pad(o, ' ', fill);
    for (int i = 0; i < plen; i++)
        put(o, prefix[i]);
    if (!sp->left && sp->zero)
        pad(o, '0', fill);      /* zeros go between sign/0x and digits */
    for (int i = 0; i < n; i++)
        put(o, body[i]);
    if (sp->left)
        pad(o, ' ', fill);
}

/* Append the unsigned value v in base (10 or 16) with an optional prefix ("-", "0x"). */
static void emit_num(struct out *o, const struct spec *sp, const char *prefix,
                     uint64_t v, unsigned base)
{
    const char *digits = sp->conv == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
    char tmp[24];
    int n = sizeof(tmp);
    do {
        tmp[--n] = digits[v % base];
        v /= base;
    } while (v != 0);
    emit_field(o, sp, prefix, tmp + n, (int)sizeof(tmp) - n);
}

/* Fetch a signed argument of the spec's length. */
static int64_t arg_signed(const struct spec *sp, va_list *ap)
{
    return sp->longs == 0 ? va_arg(*ap, int) : (int64_t)va_arg(*ap, long);
}

/* Fetch an unsigned argument of the spec's length. */
static uint64_t arg_unsigned(const struct spec *sp, va_list *ap)
{
    return sp->longs == 0 ? va_arg(*ap, unsigned) : (uint64_t)va_arg(*ap, unsigned long);
}

/* Append one conversion. */
static void emit_conv(struct out *o, struct spec *sp, va_list *ap)
{
    switch (sp->conv) {
    case 'd': case 'i': {
        int64_t v = arg_signed(sp, ap);
        /* Negate in unsigned arithmetic: INT64_MIN has no positive counterpart. */
        emit_num(o, sp, v < 0 ? "-" : "", v < 0 ? -(uint64_t)v : (uint64_t)v, 10);
        break;
    }
    case 'u': emit_num(o, sp, "", arg_unsigned(sp, ap), 10); break;
    case 'x': case 'X': emit_num(o, sp, "", arg_unsigned(sp, ap), 16); break;
    case 'p': emit_num(o, sp, "0x", (uintptr_t)va_arg(*ap, void *), 16); break;
    case 'c': {
        char c = (char)va_arg(*ap, int);
        emit_field(o, sp, "", &c, 1);
        break;
    }
    case 's': {
        const char *s = va_arg(*ap, const char *);
        int n = 0;
        if (s == NULL)
            s = "(null)";
        /* The limit first: s may be unterminated. */
        while ((sp->prec < 0 || n < sp->prec) && s[n] != '\0')
            n++;
        emit_field(o, sp, "", s, n);
        break;
    }
    case '%': put(o, '%'); break;
    case '\0': put(o, '%'); break;     /* a lone '%' at the end */
    default: put(o, '%'); put(o, sp->conv); break;
    }
}

/* Format fmt with ap into o; returns the number of characters produced. */
static int format_out(struct out *o, const char *fmt, va_list ap)
{
    va_list args;
    va_copy(args, ap);
    while (*fmt != '\0') {
        if (*fmt != '%') {
            put(o, *fmt++);
            continue;
        }
        fmt++;
        struct spec sp;
        parse_spec(&fmt, &args, &sp);
        emit_conv(o, &sp, &args);
    }
    va_end(args);
    return (int)o->len;
}

/* Format into buf[0..size) (NUL terminated if size > 0); returns the untruncated length. */
int vformat(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = { .buf = buf, .size = size };
    format_out(&o, fmt, ap);
    if (size > 0)
        buf[MIN(o.len, size - 1)] = '\0';
    return (int)o.len;
}

/* Format, passing every character to emit(ctx, c); returns the number of characters. */
int vformat_emit(format_emit_fn emit, void *ctx, const char *fmt, va_list ap)
{
    struct out o = { .emit = emit, .ctx = ctx };
    return format_out(&o, fmt, ap);
}
