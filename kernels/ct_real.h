/* ct_real.h — the floating-point type and qualifiers shared by every backend.
 *
 * Included by plain C (CPU backend), by nvcc (CUDA) and by OpenCL C (embedded source).
 * Build with -DCT_REAL_FLOAT for single precision; double is the default.
 *   CT_FN      qualifier of a single-source model function (__device__ under nvcc; always inlined in a C file
 *              that defines CT_FN_ALWAYS_INLINE first, as the CPU backend does for its SIMD reaction loop)
 *   CT_GLOBAL  address-space qualifier of a pointer into device state (__global in OpenCL C)
 *   CT_EXP/CT_LOG/CT_SQRT/CT_POW/CT_FABS  math functions of the chosen precision
 */
#ifndef CT_REAL_H
#define CT_REAL_H

#if defined(__OPENCL_VERSION__)
/* OpenCL C: math builtins are overloaded on the argument type. */
#  ifdef CT_REAL_FLOAT
typedef float ct_real;
#  else
#    pragma OPENCL EXTENSION cl_khr_fp64 : enable
typedef double ct_real;
#  endif
#  define CT_FN static inline
#  define CT_GLOBAL __global
#  define CT_EXP(x) exp(x)
#  define CT_LOG(x) log(x)
#  define CT_SQRT(x) sqrt(x)
#  define CT_POW(x, y) pow(x, y)
#  define CT_FABS(x) fabs(x)
typedef ulong ct_size;
#else
#  include <math.h>
#  include <stddef.h>
#  if defined(__CUDACC__)
#    define CT_FN static __host__ __device__ inline
#  elif defined(CT_FN_ALWAYS_INLINE) && defined(__GNUC__)
#    define CT_FN static inline __attribute__((always_inline)) /* a file that wants them in its loops */
#  else
#    define CT_FN static inline
#  endif
#  define CT_GLOBAL
typedef size_t ct_size;
#  ifdef CT_REAL_FLOAT
typedef float ct_real;
#    define CT_EXP(x) expf(x)
#    define CT_LOG(x) logf(x)
#    define CT_SQRT(x) sqrtf(x)
#    define CT_POW(x, y) powf(x, y)
#    define CT_FABS(x) fabsf(x)
#  else
typedef double ct_real;
#    define CT_EXP(x) exp(x)
#    define CT_LOG(x) log(x)
#    define CT_SQRT(x) sqrt(x)
#    define CT_POW(x, y) pow(x, y)
#    define CT_FABS(x) fabs(x)
#  endif
#endif

/* Literal of the chosen precision: CT_R(1.5) is 1.5f in float builds. */
#ifdef CT_REAL_FLOAT
#  define CT_R(x) ((ct_real)(x##f))
#else
#  define CT_R(x) ((ct_real)(x))
#endif

#endif /* CT_REAL_H */
