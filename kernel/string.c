/* The freestanding C string functions the compilers may call. */
#include "types.h"
#include "kstring.h"

/* Fill n bytes at d with c; returns d. */
void *memset(void *d, int c, size_t n)
{
    void *p = d;
    uint64_t v = (uint8_t)c * 0x0101010101010101ULL;
    size_t words = n / 8, bytes = n % 8;
    /* String instructions (a C loop could be turned back into a call to memset), 8 bytes a
       step, then the rest: each step retires as one instruction under -icount. */
    __asm__ __volatile__("rep stosq" : "+D"(p), "+c"(words) : "a"(v) : "memory");
    __asm__ __volatile__("rep stosb" : "+D"(p), "+c"(bytes) : "a"(v) : "memory");
    return d;
}

/* Copy n bytes from s to d (must not overlap); returns d. */
void *memcpy(void *restrict d, const void *restrict s, size_t n)
{
    void *dp = d;
    size_t words = n / 8, bytes = n % 8;
    __asm__ __volatile__("rep movsq" : "+D"(dp), "+S"(s), "+c"(words) :: "memory");
    __asm__ __volatile__("rep movsb" : "+D"(dp), "+S"(s), "+c"(bytes) :: "memory");
    return d;
}

/* Copy n bytes from s to d, overlap allowed; returns d. */
void *memmove(void *d, const void *s, size_t n)
{
    unsigned char *dp = d;
    const unsigned char *sp = s;
    if (dp < sp || dp >= sp + n)
        return memcpy(d, s, n);
    /* Overlapping with d above s: copy backwards. */
    dp += n - 1;
    sp += n - 1;
    __asm__ __volatile__("std; rep movsb; cld" : "+D"(dp), "+S"(sp), "+c"(n) :: "memory");
    return d;
}

/* Compare n bytes; <0, 0, >0 like the C library. */
int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

/* Length of the NUL-terminated string s. */
size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

/* Compare strings; <0, 0, >0 like the C library. */
int strcmp(const char *a, const char *b)
{
    while (*a && *a == *b)
        a++, b++;
    return (unsigned char)*a - (unsigned char)*b;
}
