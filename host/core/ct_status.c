/* ct_status.c — thread-local error message storage. */
#include "ct_status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char ct_error_buf[2048];

ct_status ct_error_set(ct_status code, const char *fmt, ...)
{
    /* Format into a scratch buffer first: callers may pass ct_error_message() itself as an argument. */
    char tmp[sizeof ct_error_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    memcpy(ct_error_buf, tmp, sizeof tmp);
    return code;
}

const char *ct_error_message(void) { return ct_error_buf; }

const char *ct_status_name(ct_status s)
{
    switch (s) {
    case CT_OK: return "ok";
    case CT_ERR_IO: return "I/O error";
    case CT_ERR_PARSE: return "parse error";
    case CT_ERR_CONFIG: return "configuration error";
    case CT_ERR_MESH: return "mesh error";
    case CT_ERR_NUMERIC: return "numerical error";
    case CT_ERR_BACKEND: return "backend error";
    case CT_ERR_NOMEM: return "out of memory";
    case CT_ERR_INTERNAL: return "internal error";
    case CT_ERR_INTERRUPTED: return "interrupted";
    }
    return "unknown error";
}
