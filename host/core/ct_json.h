/* ct_json.h — strict reading of JSON objects with cJSON: every key known, every number in range,
 * every error naming the file and the key path ("nversion.json: stimuli[0].duration_ms: ..."). */
#ifndef CT_JSON_H
#define CT_JSON_H

#include <cjson/cJSON.h>

#include "ct_status.h"

/* Reads a whole file into a NUL-terminated buffer the caller frees. */
ct_status ct_json_read_file(const char *path, char **text);

/* Parses text; on a syntax error names the line and column. Caller owns *root (cJSON_Delete). */
ct_status ct_json_parse(const char *text, const char *source, cJSON **root);

/* Fails naming the first key of `obj` not in the NULL-terminated list `allowed`. */
ct_status ct_json_known_keys(const cJSON *obj, const char *const *allowed, const char *source,
                             const char *where);

/* Element i of array `arr`, named "<array_name>[i]" in `where` (where_len bytes, for the caller's later
 * messages): fails unless it is an object whose keys are all in `allowed`. *out borrows cJSON's storage. */
ct_status ct_json_array_item(const cJSON *arr, int i, const char *array_name, const char *const *allowed,
                             const char *source, char *where, size_t where_len, const cJSON **out);

/* Looks up obj[key] as an object; `required` 0 leaves *out NULL when absent. */
ct_status ct_json_object(const cJSON *obj, const char *key, int required, const char *source,
                         const char *where, const cJSON **out);

/* A number in [lo, hi]; absent and not required leaves *out unchanged (its default). */
ct_status ct_json_number(const cJSON *obj, const char *key, int required, double lo, double hi,
                         const char *source, const char *where, double *out);

/* An integer in [lo, hi]. */
ct_status ct_json_int(const cJSON *obj, const char *key, int required, long lo, long hi,
                      const char *source, const char *where, long *out);

/* A string; *out borrows cJSON's storage. */
ct_status ct_json_string(const cJSON *obj, const char *key, int required, const char *source,
                         const char *where, const char **out);

/* An array of exactly n numbers, each finite. */
ct_status ct_json_vec(const cJSON *obj, const char *key, int required, int n, const char *source,
                      const char *where, double *out);

#endif /* CT_JSON_H */
