/* ct_clock.h — wall-clock time for progress lines, ETAs and the seconds reports state: one monotonic clock,
 * in seconds (double), so that every part of cardiotwin measures time the same way. */
#ifndef CT_CLOCK_H
#define CT_CLOCK_H

#include <time.h>

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin: use differences only). */
static inline double ct_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
