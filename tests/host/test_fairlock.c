/* pd_lock's hand-off lock (kernel/fairlock.c) on host threads: mutual exclusion, the bypass
   bound, and waiters that abandon their place at random. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <pthread.h>
#include <unistd.h>
#include <cmocka.h>
#include "fairlock.h"

#define THREADS 4           /* "cores": thread t runs as core CORE(t), spread over every word */
#define CORE(t) ((unsigned)(t) * (NUM_CPU - 1) / (THREADS - 1))
#define ROUNDS  5000        /* critical sections per thread */
#define CS_PAUSES 100       /* length of a critical section */

static struct fair_lock lock = FAIR_LOCK_INIT;
static volatile int inside;             /* threads in the critical section */
static int overlaps;                    /* entries that found another thread inside */
static volatile uint64_t counter;       /* incremented non-atomically under the lock */
static uint32_t worst[THREADS];         /* each thread's largest bypass */
static unsigned abandoned[THREADS];     /* waits each thread gave up */
static unsigned waits[THREADS];         /* times each thread found the lock held */
static bool abandon_some;               /* spin turns give up at random */
static pthread_barrier_t start;         /* the workers begin together */

/* One spin turn: let the other threads run (include/sched.h, not the C library's, is on the
   include path: no sched_yield); false one time in 8 if abandon_some. */
static bool turn(void *arg)
{
    unsigned *seed = arg;
    usleep(1);
    return !abandon_some || rand_r(seed) % 8 != 0;
}

/* Thread me: ROUNDS critical sections (waits that were abandoned are retried). */
static void *worker(void *arg)
{
    unsigned me = (unsigned)(uintptr_t)arg, seed = me + 1;
    pthread_barrier_wait(&start);
    for (unsigned r = 0; r < ROUNDS; r++) {
        uint32_t bypassed = 0;
        if (!fair_lock_try(&lock)) {
            waits[me]++;
            while (!fair_lock_wait(&lock, CORE(me), turn, &seed, &bypassed))
                abandoned[me]++;
        }
        if (bypassed > worst[me])
            worst[me] = bypassed;
        if (__atomic_add_fetch(&inside, 1, __ATOMIC_RELAXED) != 1)
            __atomic_add_fetch(&overlaps, 1, __ATOMIC_RELAXED);
        for (unsigned i = 0; i < CS_PAUSES; i++)
            __builtin_ia32_pause();
        counter = counter + 1;
        __atomic_sub_fetch(&inside, 1, __ATOMIC_RELAXED);
        fair_lock_release(&lock, CORE(me));
    }
    return NULL;
}

/* Run THREADS workers to the end; the lock is free after, every increment kept. */
static void run(void)
{
    pthread_t t[THREADS];
    counter = 0;
    overlaps = 0;
    pthread_barrier_init(&start, NULL, THREADS);
    for (unsigned i = 0; i < THREADS; i++) {
        worst[i] = 0;
        abandoned[i] = 0;
        waits[i] = 0;
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i), 0);
    }
    for (unsigned i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    assert_int_equal(overlaps, 0);
    assert_int_equal(counter, (uint64_t)THREADS * ROUNDS);
    assert_false(fair_lock_held(&lock));
    for (unsigned i = 0; i < NUM_CPU; i++)
        assert_int_equal(lock.slot[i], FL_IDLE);
}

/* Waiting threads are passed over by at most THREADS - 1 critical sections. */
static void every_waiter_is_let_in_within_one_turn_of_the_others(void **state)
{
    (void)state;
    abandon_some = false;
    run();
    unsigned total = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        total += waits[i];
        assert_true(worst[i] <= THREADS - 1);
    }
    assert_true(total > 0);
}

/* Abandoned waits neither lose the lock nor let two threads in. */
static void abandoning_waiters_lose_nothing(void **state)
{
    (void)state;
    abandon_some = true;
    run();
    unsigned total = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        total += abandoned[i];
        assert_true(worst[i] <= THREADS - 1);
    }
    assert_true(total > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_waiter_is_let_in_within_one_turn_of_the_others),
        cmocka_unit_test(abandoning_waiters_lose_nothing),
    };
    return cmocka_run_group_tests_name("fairlock", tests, NULL, NULL);
}
