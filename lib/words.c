/* Command-line words (include/words.h). */
#include "words.h"

/* In line, the first word that is key (sep == 0) or starts with key then sep; returns the
   character after key in that word, NULL if no word matches. */
const char *word_find(const char *line, const char *key, char sep)
{
    const char *s = line;
    while (*s) {
        const char *a = key, *b = s;
        while (*a && *a == *b)
            a++, b++;
        if (!*a && (sep ? *b == sep : *b == ' ' || *b == '\0'))
            return b;
        while (*s && *s != ' ')
            s++;
        while (*s == ' ')
            s++;
    }
    return NULL;
}

/* The decimal number of the digits at s (up to the first non-digit; 0 if none). */
uint64_t word_num(const char *s)
{
    uint64_t v = 0;
    for (; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (uint64_t)(*s - '0');
    return v;
}
