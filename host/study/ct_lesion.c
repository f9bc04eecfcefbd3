/* ct_lesion.c — ablation lesions: parsing, point-in-lesion tests, marking elements. */
#include "ct_lesion.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ct_vec3.h"

const char *ct_lesion_shape_name(int shape)
{
    return shape == CT_LESION_SPHERE ? "sphere" : shape == CT_LESION_LINE ? "line" : "box";
}

ct_status ct_lesion_parse_spec(const char *spec, ct_lesion *out)
{
    memset(out, 0, sizeof *out);
    const char *colon = spec ? strchr(spec, ':') : NULL;
    if (!colon)
        return ct_error_set(CT_ERR_CONFIG,
                            "lesion \"%s\": expected sphere:x,y,z,r or line:x1,y1,z1,x2,y2,z2,r or "
                            "box:x1,y1,z1,x2,y2,z2 (mm)",
                            spec ? spec : "(null)");
    size_t kind_len = (size_t)(colon - spec);
    int want;
    if (kind_len == 6 && strncmp(spec, "sphere", 6) == 0)
        out->shape = CT_LESION_SPHERE, want = 4;
    else if (kind_len == 4 && strncmp(spec, "line", 4) == 0)
        out->shape = CT_LESION_LINE, want = 7;
    else if (kind_len == 3 && strncmp(spec, "box", 3) == 0)
        out->shape = CT_LESION_BOX, want = 6;
    else
        return ct_error_set(CT_ERR_CONFIG, "lesion \"%s\": unknown shape \"%.*s\" (sphere, line or box)", spec,
                            (int)kind_len, spec);
    double v[7];
    int got = 0;
    const char *p = colon + 1;
    while (*p) {
        if (got == want)
            return ct_error_set(CT_ERR_CONFIG, "lesion \"%s\": more than %d numbers", spec, want);
        char *end;
        v[got] = strtod(p, &end);
        if (end == p || !isfinite(v[got]) || (*end && *end != ','))
            return ct_error_set(CT_ERR_CONFIG, "lesion \"%s\": number %d is not a finite number", spec, got + 1);
        got++;
        p = *end ? end + 1 : end;
    }
    if (got != want)
        return ct_error_set(CT_ERR_CONFIG, "lesion \"%s\": %s needs %d numbers, got %d", spec,
                            ct_lesion_shape_name(out->shape), want, got);
    memcpy(out->a_mm, v, sizeof out->a_mm);
    if (out->shape == CT_LESION_SPHERE) {
        out->radius_mm = v[3];
    } else {
        memcpy(out->b_mm, v + 3, sizeof out->b_mm);
        if (out->shape == CT_LESION_LINE)
            out->radius_mm = v[6];
    }
    if (out->shape != CT_LESION_BOX && !(out->radius_mm > 0))
        return ct_error_set(CT_ERR_CONFIG, "lesion \"%s\": the radius must be positive (mm)", spec);
    if (out->shape == CT_LESION_BOX)
        for (int k = 0; k < 3; k++)
            if (out->b_mm[k] < out->a_mm[k])
                return ct_error_set(CT_ERR_CONFIG, "lesion \"%s\": box corner 2 must be above corner 1 in each axis",
                                    spec);
    snprintf(out->name, sizeof out->name, "%s", spec);
    return CT_OK;
}

int ct_lesion_contains(const ct_lesion *l, const double p[3])
{
    if (l->shape == CT_LESION_BOX) {
        for (int k = 0; k < 3; k++)
            if (p[k] < l->a_mm[k] || p[k] > l->b_mm[k])
                return 0;
        return 1;
    }
    double d[3], ab[3];
    for (int k = 0; k < 3; k++) {
        d[k] = p[k] - l->a_mm[k];
        ab[k] = l->b_mm[k] - l->a_mm[k];
    }
    if (l->shape == CT_LESION_LINE) {
        double len2 = ct_dot3(ab, ab);
        double s = len2 > 0 ? ct_dot3(d, ab) / len2 : 0.0;
        s = s < 0 ? 0 : s > 1 ? 1 : s;
        for (int k = 0; k < 3; k++)
            d[k] -= s * ab[k];
    }
    return ct_dot3(d, d) <= l->radius_mm * l->radius_mm;
}

ct_status ct_lesions_mark(const ct_mesh *m, const ct_lesion *lesions, int n_lesions, uint8_t *in_lesion,
                          ct_lesion_effect *effect)
{
    /* node flags: on an endocardial surface (bit 0), on the epicardium (bit 1) */
    uint8_t *surf = calloc(m->n_nodes + 1, 1);
    if (!surf)
        return ct_error_set(CT_ERR_NOMEM, "lesions: out of memory");
    int have_endo = 0, have_epi = 0;
    for (size_t t = 0; t < m->n_tris; t++) {
        int lab = m->tri_label[t];
        uint8_t bit = (lab == CT_SURF_ENDO_LV || lab == CT_SURF_ENDO_RV) ? 1 : lab == CT_SURF_EPI ? 2 : 0;
        have_endo |= bit == 1;
        have_epi |= bit == 2;
        for (int a = 0; a < 3; a++)
            surf[m->tris[3 * t + a]] |= bit;
    }
    ct_status st = CT_OK;
    for (int l = 0; l < n_lesions && st == CT_OK; l++) {
        ct_lesion_effect ef = {0, 0.0, have_endo && have_epi ? 0 : -1};
        uint8_t touched = 0;
        for (size_t e = 0; e < m->n_tets; e++) {
            const int32_t *t = m->tets + 4 * e;
            double c[3];
            ct_mesh_tet_centroid(m, e, c);
            if (!ct_lesion_contains(&lesions[l], c))
                continue;
            in_lesion[e] = 1;
            ef.n_elements++;
            ef.volume_mm3 += ct_mesh_tet_volume(m, e);
            for (int a = 0; a < 4; a++)
                touched |= surf[t[a]];
        }
        if (ef.transmural == 0)
            ef.transmural = touched == 3;
        if (ef.n_elements == 0)
            st = ct_error_set(CT_ERR_CONFIG,
                              "lesion %d (\"%s\"): contains no element of the mesh (is it outside the heart, or "
                              "smaller than an element?)",
                              l + 1, lesions[l].name);
        if (effect)
            effect[l] = ef;
    }
    free(surf);
    return st;
}
