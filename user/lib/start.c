/* The C half of program start-up (crt0.S): run main, then exit with its result. */
#include "ulib.h"

noreturn void start_c(mword arg);

/* Call main(arg) on the program's stack and exit with its return value. */
noreturn void start_c(mword arg)
{
    sys_exit(main(arg));
}
