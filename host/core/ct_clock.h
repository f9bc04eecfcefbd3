/* ct_clock.h — wall-clock time for progress lines, ETAs and the seconds reports state: one monotonic clock,
 * in seconds (double), so that every part of cardiotwin measures time the same way (ct_clock.c). */
#ifndef CT_CLOCK_H
#define CT_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin: use differences only). */
double ct_now_s(void);

#endif
