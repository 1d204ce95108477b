/*
 * Command-line words, shared by the kernel (cmdline_has) and user programs (the
 * fuzzer's "name=N" words) (lib/words.c): a line of words separated by spaces.
 */
#pragma once
#include "types.h"

const char *word_find(const char *line, const char *key, char sep);
uint64_t word_num(const char *s);
