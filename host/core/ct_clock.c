/* ct_clock.c — the one monotonic clock (ct_clock.h). Its own file so that the POSIX clock is declared here,
 * whatever feature macros the callers compile with (strict C11 hides CLOCK_MONOTONIC). */
#define _POSIX_C_SOURCE 200809L
#include <time.h>

#include "ct_clock.h"

double ct_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}
