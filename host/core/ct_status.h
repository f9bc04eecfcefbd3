/* ct_status.h — error codes and the thread-local error message of the library.
 *
 * Library code never exits: every fallible function returns a ct_status and, on failure,
 * records a message with ct_error_set() naming the file, line, element or key at fault.
 * CT_CHECK(call) propagates a failure to the caller unchanged.
 */
#ifndef CT_STATUS_H
#define CT_STATUS_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum ct_status {
    CT_OK = 0,
    CT_ERR_IO,          /* file missing, unreadable or unwritable */
    CT_ERR_PARSE,       /* malformed file contents */
    CT_ERR_CONFIG,      /* unknown key, missing key, value out of range */
    CT_ERR_MESH,        /* invalid mesh (inverted tet, bad index, ...) */
    CT_ERR_NUMERIC,     /* NaN, blow-up, unstable time step, no convergence */
    CT_ERR_BACKEND,     /* backend unavailable or failed */
    CT_ERR_NOMEM,       /* allocation failed */
    CT_ERR_INTERNAL,    /* invariant broken: a bug */
    CT_ERR_INTERRUPTED  /* stopped on request (SIGINT, SIGTERM: host/sim/ct_run.h) */
} ct_status;

/* Records a printf-style message for the current thread; returns `code` for convenience:
 *   return ct_error_set(CT_ERR_CONFIG, "%s: key \"%s\": must be > 0", path, key); */
ct_status ct_error_set(ct_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* The last message recorded on this thread ("" if none). Owned by the library. */
const char *ct_error_message(void);

/* Short name of a status code ("config error", ...). Static storage. */
const char *ct_status_name(ct_status s);

#define CT_CHECK(call)                    \
    do {                                  \
        ct_status ct_check_s_ = (call);   \
        if (ct_check_s_ != CT_OK)         \
            return ct_check_s_;           \
    } while (0)

#ifdef __cplusplus
}
#endif

#endif /* CT_STATUS_H */
