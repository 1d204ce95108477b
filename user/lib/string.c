/*
 * Memory and string helpers. memcpy/memset use the string instructions so
 * the compiler cannot turn their loops back into calls to themselves.
 */
#include "ulib.h"

/* Copy n bytes; the ranges must not overlap. */
void *memcpy(void *dst, const void *src, size_t n)
{
    void *d = dst;
    __asm__ __volatile__("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
    return dst;
}

/* Copy n bytes; the ranges may overlap. */
void *memmove(void *dst, const void *src, size_t n)
{
    if ((uintptr_t)dst <= (uintptr_t)src || (uintptr_t)dst >= (uintptr_t)src + n)
        return memcpy(dst, src, n);
    /* Overlap with dst above src: copy backwards (direction flag set for the copy only). */
    void *d = (char *)dst + n - 1;
    const void *s = (const char *)src + n - 1;
    __asm__ __volatile__("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    return dst;
}

/* Fill n bytes with c. */
void *memset(void *dst, int c, size_t n)
{
    void *d = dst;
    __asm__ __volatile__("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
    return dst;
}

/* Compare n bytes: <0, 0, >0 as a is below, equal to, above b. */
int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] - y[i];
    return 0;
}

/* Length of s. */
size_t strlen(const char *s)
{
    return strnlen(s, SIZE_MAX);
}

/* Length of s, at most max. */
size_t strnlen(const char *s, size_t max)
{
    size_t n = 0;
    while (n < max && s[n] != '\0')
        n++;
    return n;
}

/* Compare at most n characters of two strings. */
int strncmp(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char x = (unsigned char)a[i], y = (unsigned char)b[i];
        if (x != y || x == '\0')
            return x - y;
    }
    return 0;
}

/* Compare two strings. */
int strcmp(const char *a, const char *b)
{
    return strncmp(a, b, SIZE_MAX);
}
