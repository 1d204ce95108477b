# Command-line words (lib/words.c: kernel cmdline_has, the fuzzer's name=N), tested on the host.
HOST_TESTS += words
words_SRCS := tests/host/test_words.c lib/words.c
