/* ct_json.c — strict JSON field access on top of cJSON. */
#include "ct_json.h"

#include "ct_files.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ct_status ct_json_read_file(const char *path, char **text)
{
    size_t len;
    CT_CHECK(ct_read_file(path, text, &len));
    if (strlen(*text) != len) {
        free(*text);
        *text = NULL;
        return ct_error_set(CT_ERR_PARSE, "%s: contains a NUL byte; not a JSON text file", path);
    }
    return CT_OK;
}

ct_status ct_json_parse(const char *text, const char *source, cJSON **root)
{
    const char *end = NULL;
    *root = cJSON_ParseWithOpts(text, &end, 1);
    if (!*root) {
        const char *at = end ? end : cJSON_GetErrorPtr();
        int line = 1, col = 1;
        for (const char *p = text; at && p < at && *p; p++) {
            if (*p == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return ct_error_set(CT_ERR_PARSE, "%s:%d:%d: malformed JSON", source, line, col);
    }
    if (!cJSON_IsObject(*root)) {
        cJSON_Delete(*root);
        *root = NULL;
        return ct_error_set(CT_ERR_PARSE, "%s: the top level must be a JSON object", source);
    }
    return CT_OK;
}

static const char *join(char *buf, size_t len, const char *where, const char *key)
{
    if (where && *where)
        snprintf(buf, len, "%s.%s", where, key);
    else
        snprintf(buf, len, "%s", key);
    return buf;
}

ct_status ct_json_known_keys(const cJSON *obj, const char *const *allowed, const char *source,
                             const char *where)
{
    for (const cJSON *it = obj ? obj->child : NULL; it; it = it->next) {
        for (const cJSON *prev = obj->child; prev != it; prev = prev->next)
            if (strcmp(prev->string, it->string) == 0) {
                char path[256];
                return ct_error_set(CT_ERR_CONFIG, "%s: duplicate key \"%s\"", source,
                                    join(path, sizeof path, where, it->string));
            }
        int found = 0;
        for (const char *const *a = allowed; *a; a++)
            if (strcmp(*a, it->string) == 0)
                found = 1;
        if (!found) {
            char path[256];
            char list[512] = "";
            for (const char *const *a = allowed; *a; a++) {
                strncat(list, *a, sizeof list - strlen(list) - 3);
                if (a[1])
                    strncat(list, ", ", sizeof list - strlen(list) - 1);
            }
            return ct_error_set(CT_ERR_CONFIG, "%s: unknown key \"%s\" (allowed here: %s)", source,
                                join(path, sizeof path, where, it->string), list);
        }
    }
    return CT_OK;
}

ct_status ct_json_array_item(const cJSON *arr, int i, const char *array_name, const char *const *allowed,
                             const char *source, char *where, size_t where_len, const cJSON **out)
{
    *out = cJSON_GetArrayItem(arr, i);
    snprintf(where, where_len, "%s[%d]", array_name, i);
    if (!cJSON_IsObject(*out))
        return ct_error_set(CT_ERR_CONFIG, "%s: %s must be an object", source, where);
    return ct_json_known_keys(*out, allowed, source, where);
}

static ct_status missing(const char *source, const char *where, const char *key)
{
    char path[256];
    return ct_error_set(CT_ERR_CONFIG, "%s: missing required key \"%s\"", source,
                        join(path, sizeof path, where, key));
}

ct_status ct_json_object(const cJSON *obj, const char *key, int required, const char *source,
                         const char *where, const cJSON **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    *out = NULL;
    if (!it)
        return required ? missing(source, where, key) : CT_OK;
    if (!cJSON_IsObject(it)) {
        char path[256];
        return ct_error_set(CT_ERR_CONFIG, "%s: \"%s\" must be an object", source,
                            join(path, sizeof path, where, key));
    }
    *out = it;
    return CT_OK;
}

ct_status ct_json_number(const cJSON *obj, const char *key, int required, double lo, double hi,
                         const char *source, const char *where, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    char path[256];
    if (!it)
        return required ? missing(source, where, key) : CT_OK;
    if (!cJSON_IsNumber(it))
        return ct_error_set(CT_ERR_CONFIG, "%s: \"%s\" must be a number", source,
                            join(path, sizeof path, where, key));
    double v = it->valuedouble;
    if (!isfinite(v) || v < lo || v > hi)
        return ct_error_set(CT_ERR_CONFIG, "%s: \"%s\" = %g is out of range [%g, %g]", source,
                            join(path, sizeof path, where, key), v, lo, hi);
    *out = v;
    return CT_OK;
}

ct_status ct_json_int(const cJSON *obj, const char *key, int required, long lo, long hi,
                      const char *source, const char *where, long *out)
{
    double v = (double)*out;
    CT_CHECK(ct_json_number(obj, key, required, (double)lo, (double)hi, source, where, &v));
    if (v != floor(v)) {
        char path[256];
        return ct_error_set(CT_ERR_CONFIG, "%s: \"%s\" = %g must be a whole number", source,
                            join(path, sizeof path, where, key), v);
    }
    *out = (long)v;
    return CT_OK;
}

ct_status ct_json_string(const cJSON *obj, const char *key, int required, const char *source,
                         const char *where, const char **out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!it)
        return required ? missing(source, where, key) : CT_OK;
    if (!cJSON_IsString(it)) {
        char path[256];
        return ct_error_set(CT_ERR_CONFIG, "%s: \"%s\" must be a string", source,
                            join(path, sizeof path, where, key));
    }
    *out = it->valuestring;
    return CT_OK;
}

ct_status ct_json_vec(const cJSON *obj, const char *key, int required, int n, const char *source,
                      const char *where, double *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(obj, key);
    char path[256];
    if (!it)
        return required ? missing(source, where, key) : CT_OK;
    if (!cJSON_IsArray(it) || cJSON_GetArraySize(it) != n)
        return ct_error_set(CT_ERR_CONFIG, "%s: \"%s\" must be an array of %d numbers", source,
                            join(path, sizeof path, where, key), n);
    for (int k = 0; k < n; k++) {
        const cJSON *e = cJSON_GetArrayItem(it, k);
        if (!cJSON_IsNumber(e) || !isfinite(e->valuedouble))
            return ct_error_set(CT_ERR_CONFIG, "%s: \"%s\"[%d] must be a finite number", source,
                                join(path, sizeof path, where, key), k);
        out[k] = e->valuedouble;
    }
    return CT_OK;
}
