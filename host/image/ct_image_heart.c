/* ct_image_heart.c — label image -> labelled tet mesh of the myocardium (see ct_image_heart.h). */
#define _POSIX_C_SOURCE 200809L
#include "ct_image_heart.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ct_vec3.h"
#include "../io/ct_vtk.h"
#include "../personalise/ct_geometry.h"
#include "core/ct_clock.h"

static const char *const class_names[CT_IMG_N_CLASSES] = {"background", "lv_myocardium", "rv_myocardium",
                                                          "lv_blood",   "rv_blood",      "scar",
                                                          "border_zone"};

const char *ct_image_class_name(int cls)
{
    return cls >= 0 && cls < CT_IMG_N_CLASSES ? class_names[cls] : "?";
}

ct_image_heart_options ct_image_heart_options_default(void)
{
    return (ct_image_heart_options){.h_mm = 1.5, .smooth_iterations = 20, .passband = 0.05,
                                    .lge_params = ct_lge_params_default(CT_LGE_NONE)};
}

static int is_myocardium(int cls)
{
    return cls == CT_IMG_LV_MYOCARDIUM || cls == CT_IMG_RV_MYOCARDIUM || cls == CT_IMG_SCAR ||
           cls == CT_IMG_BORDER_ZONE;
}

/* ---- step 1: classes ---- */

static ct_status classify_voxels(const ct_image *img, const ct_image_labels *map, const char *src, uint8_t *cls,
                                 ct_image_heart_report *rep)
{
    size_t n = ct_image_n_voxels(img);
    size_t count[CT_IMG_N_CLASSES][CT_IMAGE_MAX_VALUES];
    memset(count, 0, sizeof count);
    rep->n_values = 0;
    int overflow = 0;
    float last = NAN;
    int last_slot = -1;
    for (size_t i = 0; i < n; i++) {
        float v = img->value[i];
        /* the list of values seen, for the messages */
        int slot = last_slot;
        if (!(v == last)) {
            slot = -1;
            for (int k = 0; k < rep->n_values; k++)
                if (rep->values[k] == v) {
                    slot = k;
                    break;
                }
            if (slot < 0) {
                if (rep->n_values < 64) {
                    slot = rep->n_values++;
                    rep->values[slot] = v;
                    rep->counts[slot] = 0;
                } else {
                    overflow = 1;
                }
            }
            last = v;
            last_slot = slot;
        }
        if (slot >= 0)
            rep->counts[slot]++;
        uint8_t c = CT_IMG_BACKGROUND;
        for (int k = 1; k < CT_IMG_N_CLASSES && c == CT_IMG_BACKGROUND; k++)
            for (int j = 0; j < map->n[k]; j++)
                if (map->value[k][j] == v) {
                    c = (uint8_t)k;
                    count[k][j]++;
                    break;
                }
        cls[i] = c;
    }
    (void)overflow;
    char seen[1024];
    size_t len = 0;
    seen[0] = '\0';
    for (int k = 0; k < rep->n_values && len + 40 < sizeof seen; k++)
        len += (size_t)snprintf(seen + len, sizeof seen - len, "%s%g (%zu voxels)", k ? ", " : "", rep->values[k],
                                rep->counts[k]);
    if (rep->n_values >= 64 && len + 8 < sizeof seen)
        snprintf(seen + len, sizeof seen - len, ", ...");
    for (int k = 1; k < CT_IMG_N_CLASSES; k++)
        for (int j = 0; j < map->n[k]; j++)
            if (count[k][j] == 0)
                return ct_error_set(CT_ERR_CONFIG, "%s: label %g (%s) does not occur in the image, whose labels are: %s",
                                    src, map->value[k][j], class_names[k], seen);
    double vv = ct_image_voxel_volume_mm3(img);
    size_t per_class[CT_IMG_N_CLASSES] = {0};
    for (size_t i = 0; i < n; i++)
        per_class[cls[i]]++;
    for (int k = 0; k < CT_IMG_N_CLASSES; k++)
        rep->class_volume_mm3[k] = (double)per_class[k] * vv;
    size_t myo = per_class[CT_IMG_LV_MYOCARDIUM] + per_class[CT_IMG_RV_MYOCARDIUM] + per_class[CT_IMG_SCAR] +
                 per_class[CT_IMG_BORDER_ZONE];
    if (myo == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: no voxel of the myocardium (labels mapped to lv_myocardium, "
                            "rv_myocardium, scar or border_zone); the image's labels are: %s", src, seen);
    double myo_mL = (double)myo * vv / 1e3;
    if (myo_mL < 1 || myo_mL > 3000)
        return ct_error_set(CT_ERR_CONFIG, "%s: the myocardium's voxels hold %.4g mL, implausible for a heart (1 to 3000 "
                            "mL): are the image's units right? (geometry.units overrides the header's)", src, myo_mL);
    if (per_class[CT_IMG_LV_BLOOD] == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: no voxel of the LV blood pool (labels.lv_blood): the LV endocardium "
                            "cannot be found; the image's labels are: %s", src, seen);
    return CT_OK;
}

/* Sizes of the 6-connected pieces of class c, largest two. */
static ct_status two_largest_pieces(const ct_image *img, const uint8_t *cls, uint8_t c, size_t big[2])
{
    size_t n = ct_image_n_voxels(img);
    const int nx = img->dims[0], ny = img->dims[1], nz = img->dims[2];
    uint8_t *seen = calloc(n, 1);
    size_t *stack = malloc(n * sizeof *stack + 1);
    if (!seen || !stack) {
        free(seen);
        free(stack);
        return ct_error_set(CT_ERR_NOMEM, "out of memory for %zu voxels", n);
    }
    big[0] = big[1] = 0;
    for (size_t s = 0; s < n; s++) {
        if (cls[s] != c || seen[s])
            continue;
        size_t top = 0, size = 0;
        stack[top++] = s;
        seen[s] = 1;
        while (top) {
            size_t v = stack[--top];
            size++;
            int i = (int)(v % (size_t)nx), j = (int)((v / (size_t)nx) % (size_t)ny), k = (int)(v / ((size_t)nx * ny));
            const int d[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
            for (int q = 0; q < 6; q++) {
                int a = i + d[q][0], b = j + d[q][1], e = k + d[q][2];
                if (a < 0 || b < 0 || e < 0 || a >= nx || b >= ny || e >= nz)
                    continue;
                size_t w = (size_t)a + (size_t)nx * ((size_t)b + (size_t)ny * (size_t)e);
                if (cls[w] == c && !seen[w]) {
                    seen[w] = 1;
                    stack[top++] = w;
                }
            }
        }
        if (size > big[0]) {
            big[1] = big[0];
            big[0] = size;
        } else if (size > big[1]) {
            big[1] = size;
        }
    }
    free(seen);
    free(stack);
    return CT_OK;
}

/* ---- steps 4 and 5: surface labels and the base ---- */

static float class_at(const ct_image *img, const uint8_t *cls, const double p[3])
{
    double ijk[3];
    ct_image_mm_to_ijk(img, p, ijk);
    size_t idx = 0, stride = 1;
    for (int d = 0; d < 3; d++) {
        double r = floor(ijk[d] + 0.5);
        if (!(r >= 0 && r < img->dims[d]))
            return -1; /* outside the image */
        idx += (size_t)r * stride;
        stride *= (size_t)img->dims[d];
    }
    return cls[idx];
}

static double max_spacing(const ct_image *img)
{
    double m = 0;
    for (int c = 0; c < 3; c++) {
        double s = 0;
        for (int r = 0; r < 3; r++)
            s += img->ijk_to_mm[r][c] * img->ijk_to_mm[r][c];
        m = fmax(m, sqrt(s));
    }
    return m;
}

static void tri_frame(const ct_mesh *m, size_t t, double c[3], double nrm[3])
{
    const double *x0 = m->xyz_mm + 3 * (size_t)m->tris[3 * t], *x1 = m->xyz_mm + 3 * (size_t)m->tris[3 * t + 1],
                 *x2 = m->xyz_mm + 3 * (size_t)m->tris[3 * t + 2];
    double u[3], v[3];
    for (int k = 0; k < 3; k++) {
        c[k] = (x0[k] + x1[k] + x2[k]) / 3.0;
        u[k] = x1[k] - x0[k];
        v[k] = x2[k] - x0[k];
    }
    ct_cross3(u, v, nrm);
    double l = sqrt(ct_dot3(nrm, nrm));
    for (int k = 0; k < 3; k++)
        nrm[k] /= l > 0 ? l : 1;
}

/* Fits the valve plane to the faces between blood and background voxels. */
static ct_status fit_base(const ct_image *img, const uint8_t *cls, const double myo_centroid[3], const char *src,
                          double point[3], double normal[3])
{
    const int nx = img->dims[0], ny = img->dims[1], nz = img->dims[2];
    size_t cap = 1024, np = 0;
    double *pts = malloc(3 * cap * sizeof *pts);
    if (!pts)
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    for (int k = 0; k < nz; k++)
        for (int j = 0; j < ny; j++)
            for (int i = 0; i < nx; i++) {
                size_t v = (size_t)i + (size_t)nx * ((size_t)j + (size_t)ny * (size_t)k);
                if (cls[v] != CT_IMG_LV_BLOOD && cls[v] != CT_IMG_RV_BLOOD)
                    continue;
                const int d[6][3] = {{1, 0, 0}, {-1, 0, 0}, {0, 1, 0}, {0, -1, 0}, {0, 0, 1}, {0, 0, -1}};
                for (int q = 0; q < 6; q++) {
                    int a = i + d[q][0], b = j + d[q][1], e = k + d[q][2];
                    int bg = a < 0 || b < 0 || e < 0 || a >= nx || b >= ny || e >= nz ||
                             cls[(size_t)a + (size_t)nx * ((size_t)b + (size_t)ny * (size_t)e)] == CT_IMG_BACKGROUND;
                    if (!bg)
                        continue;
                    if (np == cap) {
                        double *g = realloc(pts, 6 * cap * sizeof *pts);
                        if (!g) {
                            free(pts);
                            return ct_error_set(CT_ERR_NOMEM, "out of memory");
                        }
                        pts = g;
                        cap *= 2;
                    }
                    double f[3] = {i + 0.5 * d[q][0], j + 0.5 * d[q][1], k + 0.5 * d[q][2]};
                    for (int r = 0; r < 3; r++)
                        pts[3 * np + r] = img->ijk_to_mm[r][0] * f[0] + img->ijk_to_mm[r][1] * f[1] +
                                          img->ijk_to_mm[r][2] * f[2] + img->ijk_to_mm[r][3];
                    np++;
                }
            }
    double h = max_spacing(img);
    int *use = malloc(np * sizeof *use + 1);
    if (!use) {
        free(pts);
        return ct_error_set(CT_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < np; i++)
        use[i] = 1;
    size_t n_used = np;
    for (int pass = 0; pass < 3; pass++) {
        if (n_used < 10) {
            free(pts);
            free(use);
            return ct_error_set(CT_ERR_CONFIG, "%s: cannot find the base: the blood pools touch the background at %zu "
                                "voxel faces only (are the cavities closed at the valves?); give geometry.base "
                                "{\"point_mm\": [x, y, z], \"normal\": [nx, ny, nz]} (normal from apex to base)",
                                src, n_used);
        }
        double c[3] = {0, 0, 0}, cov[3][3] = {{0}};
        for (size_t i = 0; i < np; i++)
            if (use[i])
                for (int r = 0; r < 3; r++)
                    c[r] += pts[3 * i + r] / (double)n_used;
        for (size_t i = 0; i < np; i++)
            if (use[i])
                for (int r = 0; r < 3; r++)
                    for (int s = 0; s < 3; s++)
                        cov[r][s] += (pts[3 * i + r] - c[r]) * (pts[3 * i + s] - c[s]);
        /* smallest eigenvector: inverse iteration on cov + tiny shift */
        double nvec[3] = {0.577, 0.577, 0.577};
        double a[3][3];
        memcpy(a, cov, sizeof a);
        double tr = cov[0][0] + cov[1][1] + cov[2][2];
        for (int r = 0; r < 3; r++)
            a[r][r] += 1e-9 * tr + 1e-12;
        for (int it = 0; it < 60; it++) {
            /* solve a y = nvec by Cramer */
            double det = a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1]) -
                         a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0]) +
                         a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0]);
            double y[3];
            for (int col = 0; col < 3; col++) {
                double b[3][3];
                memcpy(b, a, sizeof b);
                for (int r = 0; r < 3; r++)
                    b[r][col] = nvec[r];
                y[col] = (b[0][0] * (b[1][1] * b[2][2] - b[1][2] * b[2][1]) -
                          b[0][1] * (b[1][0] * b[2][2] - b[1][2] * b[2][0]) +
                          b[0][2] * (b[1][0] * b[2][1] - b[1][1] * b[2][0])) / det;
            }
            double l = sqrt(ct_dot3(y, y));
            for (int r = 0; r < 3; r++)
                nvec[r] = y[r] / l;
        }
        memcpy(point, c, sizeof c);
        memcpy(normal, nvec, sizeof nvec);
        n_used = 0;
        for (size_t i = 0; i < np; i++) {
            double d[3] = {pts[3 * i] - c[0], pts[3 * i + 1] - c[1], pts[3 * i + 2] - c[2]};
            use[i] = fabs(ct_dot3(d, nvec)) <= 3.0 * h;
            n_used += (size_t)use[i];
        }
    }
    free(pts);
    free(use);
    double d[3] = {point[0] - myo_centroid[0], point[1] - myo_centroid[1], point[2] - myo_centroid[2]};
    if (ct_dot3(d, normal) < 0)
        for (int r = 0; r < 3; r++)
            normal[r] = -normal[r];
    return CT_OK;
}

/* Labels the boundary triangles from the classes outside them, then the base. */
static ct_status label_surface(ct_mesh *m, const ct_image *img, const uint8_t *cls, const ct_image_heart_options *opt,
                               const char *src, ct_image_heart_report *rep)
{
    double h = max_spacing(img);
    size_t unresolved = 0;
    for (size_t t = 0; t < m->n_tris; t++) {
        double c[3], nrm[3];
        tri_frame(m, t, c, nrm);
        int32_t label = CT_SURF_NONE;
        for (int s = 1; s <= 4 && label == CT_SURF_NONE; s++) {
            double p[3];
            for (int k = 0; k < 3; k++)
                p[k] = c[k] + 0.5 * s * h * nrm[k];
            float k = class_at(img, cls, p);
            if (k < 0 || k == CT_IMG_BACKGROUND)
                label = CT_SURF_EPI;
            else if (k == CT_IMG_LV_BLOOD)
                label = CT_SURF_ENDO_LV;
            else if (k == CT_IMG_RV_BLOOD)
                label = CT_SURF_ENDO_RV;
        }
        m->tri_label[t] = label;
        unresolved += label == CT_SURF_NONE;
    }
    /* unresolved triangles: the most common label among the triangles sharing a node, repeated */
    rep->n_unresolved_tris = unresolved;
    if (unresolved) {
        size_t nn = m->n_nodes;
        int32_t *votes = calloc(4 * nn, sizeof *votes);
        if (!votes)
            return ct_error_set(CT_ERR_NOMEM, "out of memory");
        for (int round = 0; round < 50 && unresolved; round++) {
            memset(votes, 0, 4 * nn * sizeof *votes);
            for (size_t t = 0; t < m->n_tris; t++)
                if (m->tri_label[t] != CT_SURF_NONE)
                    for (int a = 0; a < 3; a++)
                        votes[4 * (size_t)m->tris[3 * t + a] + m->tri_label[t]]++;
            unresolved = 0;
            for (size_t t = 0; t < m->n_tris; t++) {
                if (m->tri_label[t] != CT_SURF_NONE)
                    continue;
                int best = CT_SURF_NONE, bv = 0;
                for (int l = 1; l <= 3; l++) {
                    int v = 0;
                    for (int a = 0; a < 3; a++)
                        v += votes[4 * (size_t)m->tris[3 * t + a] + l];
                    if (v > bv) {
                        bv = v;
                        best = l;
                    }
                }
                m->tri_label[t] = best;
                unresolved += best == CT_SURF_NONE;
            }
        }
        free(votes);
        for (size_t t = 0; t < m->n_tris; t++)
            if (m->tri_label[t] == CT_SURF_NONE)
                m->tri_label[t] = CT_SURF_EPI;
    }
    /* the base */
    if (opt->has_base) {
        memcpy(rep->base_point_mm, opt->base_point_mm, sizeof rep->base_point_mm);
        double l = sqrt(ct_dot3(opt->base_normal, opt->base_normal));
        for (int k = 0; k < 3; k++)
            rep->base_normal[k] = opt->base_normal[k] / l;
        rep->base_found = 0;
    } else {
        double cen[3] = {0, 0, 0}, vol = 0;
        for (size_t e = 0; e < m->n_tets; e++) {
            double ce[3], v = ct_mesh_tet_volume(m, e);
            ct_mesh_tet_centroid(m, e, ce);
            for (int k = 0; k < 3; k++)
                cen[k] += v * ce[k];
            vol += v;
        }
        for (int k = 0; k < 3; k++)
            cen[k] /= vol;
        CT_CHECK(fit_base(img, cls, cen, src, rep->base_point_mm, rep->base_normal));
        rep->base_found = 1;
    }
    double tol = fmax(2.0 * h, opt->h_mm);
    size_t n_base = 0, n_lv = 0, n_epi = 0;
    for (size_t t = 0; t < m->n_tris; t++) {
        double c[3], nrm[3];
        tri_frame(m, t, c, nrm);
        double d[3] = {c[0] - rep->base_point_mm[0], c[1] - rep->base_point_mm[1], c[2] - rep->base_point_mm[2]};
        if (m->tri_label[t] == CT_SURF_EPI && ct_dot3(d, rep->base_normal) > -tol && ct_dot3(nrm, rep->base_normal) > 0.5)
            m->tri_label[t] = CT_SURF_BASE;
        n_base += m->tri_label[t] == CT_SURF_BASE;
        n_lv += m->tri_label[t] == CT_SURF_ENDO_LV;
        n_epi += m->tri_label[t] == CT_SURF_EPI;
    }
    if (n_base == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: no boundary triangle lies on the base plane (point %.1f %.1f %.1f mm, "
                            "normal %.2f %.2f %.2f): check geometry.base", src, rep->base_point_mm[0],
                            rep->base_point_mm[1], rep->base_point_mm[2], rep->base_normal[0], rep->base_normal[1],
                            rep->base_normal[2]);
    if (n_lv == 0 || n_epi == 0)
        return ct_error_set(CT_ERR_CONFIG, "%s: the meshed myocardium has %zu LV endocardial and %zu epicardial "
                            "triangles: the LV blood pool must lie inside the myocardium", src, n_lv, n_epi);
    return CT_OK;
}

/* ---- step 6: tissue ---- */

static ct_status label_tissue(ct_mesh *m, const ct_image *img, const uint8_t *cls, const ct_image_heart_options *opt,
                              const ct_lge_result *lge)
{
    int32_t *tissue = calloc(m->n_tets + 1, sizeof *tissue);
    if (!tissue)
        return ct_error_set(CT_ERR_NOMEM, "out of memory for %zu tissue labels", m->n_tets);
    size_t n_sick = 0;
    for (size_t e = 0; e < m->n_tets; e++) {
        double c[3];
        ct_mesh_tet_centroid(m, e, c);
        int vote[3] = {0, 0, 0}, first = -1;
        for (int s = 0; s < 5; s++) {
            double p[3];
            for (int k = 0; k < 3; k++)
                p[k] = s == 0 ? c[k] : 0.5 * (c[k] + m->xyz_mm[3 * (size_t)m->tets[4 * e + s - 1] + k]);
            float k = class_at(img, cls, p);
            if (k < 0 || !is_myocardium((int)k))
                continue;
            int t;
            if (opt->lge) {
                float x = ct_image_sample(opt->lge, p, NAN);
                if (isnan(x))
                    continue;
                t = ct_lge_classify(lge, x);
            } else {
                t = k == CT_IMG_SCAR ? CT_TISSUE_SCAR : k == CT_IMG_BORDER_ZONE ? CT_TISSUE_BORDER_ZONE : CT_TISSUE_HEALTHY;
            }
            vote[t]++;
            if (s == 0)
                first = t;
        }
        int best = 0;
        for (int t = 1; t < 3; t++)
            if (vote[t] > vote[best] || (vote[t] == vote[best] && vote[t] > 0 && first != best))
                best = t;
        if (first >= 0 && vote[first] == vote[best])
            best = first;
        tissue[e] = best;
        n_sick += best != 0;
    }
    free(m->tissue);
    m->tissue = NULL;
    if (n_sick)
        m->tissue = tissue;
    else
        free(tissue);
    return CT_OK;
}

static ct_status lge_thresholds(const ct_image *img, const uint8_t *cls, const ct_image_heart_options *opt,
                                const char *src, ct_image_heart_report *rep)
{
    const ct_image *lge = opt->lge;
    size_t n = ct_image_n_voxels(lge), k = 0;
    float *v = malloc(n * sizeof *v + 1);
    uint8_t *on = malloc(n + 1);
    if (!v || !on) {
        free(v);
        free(on);
        return ct_error_set(CT_ERR_NOMEM, "out of memory for the LGE image");
    }
    for (int c = 0; c < lge->dims[2]; c++)
        for (int b = 0; b < lge->dims[1]; b++)
            for (int a = 0; a < lge->dims[0]; a++) {
                size_t i = (size_t)a + (size_t)lge->dims[0] * ((size_t)b + (size_t)lge->dims[1] * (size_t)c);
                double p[3];
                for (int r = 0; r < 3; r++)
                    p[r] = lge->ijk_to_mm[r][0] * a + lge->ijk_to_mm[r][1] * b + lge->ijk_to_mm[r][2] * c +
                           lge->ijk_to_mm[r][3];
                float q = class_at(img, cls, p);
                on[i] = q >= 0 && is_myocardium((int)q);
                if (on[i])
                    v[k++] = lge->value[i];
            }
    ct_status st = ct_lge_thresholds(v, k, &opt->lge_params, src, &rep->lge);
    if (st == CT_OK) {
        double vv = ct_image_voxel_volume_mm3(lge);
        rep->lge_core_mm3 = rep->lge_grey_mm3 = 0;
        for (size_t i = 0; i < n; i++) {
            if (!on[i])
                continue;
            int t = ct_lge_classify(&rep->lge, lge->value[i]);
            rep->lge_core_mm3 += t == 2 ? vv : 0;
            rep->lge_grey_mm3 += t == 1 ? vv : 0;
        }
    }
    free(v);
    free(on);
    return st;
}

ct_status ct_image_heart(const ct_image *img, const ct_image_labels *map, const ct_image_heart_options *opt,
                         const char *src, ct_mesh **out, ct_image_heart_report *rep)
{
    *out = NULL;
    memset(rep, 0, sizeof *rep);
    size_t n = ct_image_n_voxels(img);
    uint8_t *cls = malloc(n + 1), *mask = NULL;
    ct_trisurf surf = {0};
    ct_mesh *m = NULL;
    ct_status st;
    if (!cls)
        return ct_error_set(CT_ERR_NOMEM, "%s: out of memory for %zu voxels", src, n);
    if ((st = classify_voxels(img, map, src, cls, rep)) != CT_OK)
        goto done;
    size_t big[2] = {0, 0};
    if ((st = two_largest_pieces(img, cls, CT_IMG_LV_BLOOD, big)) != CT_OK)
        goto done;
    if (big[1] > big[0] / 10 && big[1] > 100) {
        st = ct_error_set(CT_ERR_CONFIG, "%s: the LV blood label forms two separate cavities (%zu and %zu voxels): is the "
                          "RV blood pool labelled as LV? Give the RV's label as labels.rv_blood", src, big[0], big[1]);
        goto done;
    }
    if (opt->lge && (st = lge_thresholds(img, cls, opt, src, rep)) != CT_OK)
        goto done;
    mask = malloc(n + 1);
    if (!mask) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", src);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        mask[i] = (uint8_t)is_myocardium(cls[i]);
    double t0 = ct_now_s();
    if ((st = ct_vtk_mask_surface(mask, img->dims, img->ijk_to_mm, opt->smooth_iterations, opt->passband, opt->h_mm,
                                  src, &surf)) != CT_OK)
        goto done;
    rep->n_surface_tris = surf.n_tris;
    double t1 = ct_now_s();
    rep->seconds_surface = t1 - t0;
    if ((st = ct_geometry_from_surface(&surf, opt->h_mm, src, &m)) != CT_OK)
        goto done;
    rep->seconds_mesh = ct_now_s() - t1;
    if ((st = label_surface(m, img, cls, opt, src, rep)) != CT_OK)
        goto done;
    st = label_tissue(m, img, cls, opt, &rep->lge);
done:
    free(cls);
    free(mask);
    ct_trisurf_free(&surf);
    if (st != CT_OK)
        ct_mesh_destroy(m);
    else
        *out = m;
    return st;
}
