/* ct_vec3.h — small 3-vector helpers (mm or unitless), header-only. */
#ifndef CT_VEC3_H
#define CT_VEC3_H

#include <math.h>

static inline double ct_dot3(const double a[3], const double b[3])
{
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

static inline void ct_cross3(const double a[3], const double b[3], double c[3])
{
    c[0] = a[1] * b[2] - a[2] * b[1];
    c[1] = a[2] * b[0] - a[0] * b[2];
    c[2] = a[0] * b[1] - a[1] * b[0];
}

#endif /* CT_VEC3_H */
