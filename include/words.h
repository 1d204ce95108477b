/*
 * Command-line words, shared by the kernel (cmdline_has) and user programs (the
 * fuzzer's "name=N" words) (lib/words.c): a line of words separated by spaces.
 */
#pragma once
#include "types.h"

/* In line, the first word that is key (sep == 0) or starts with key then sep; returns the
   character after key in that word, NULL if no word matches. */
const char *word_find(const char *line, const char *key, char sep);

/* The decimal number of the digits at s (up to the first non-digit; 0 if none). */
uint64_t word_num(const char *s);
