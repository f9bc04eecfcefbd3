/* ct_geometry.c — idealised LV and BiV geometries: OCC ellipsoids (sphere + dilate), booleans, a
 * base cut, Gmsh tet meshing, then compact renumbering, positive orientation and labelled boundary
 * triangles extracted from the tets themselves. */
#include "ct_geometry.h"

#include <gmshc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

ct_lv_params ct_lv_params_default(void)
{
    return (ct_lv_params){.endo_short_mm = 7.0, .endo_long_mm = 17.0, .epi_short_mm = 10.0,
                          .epi_long_mm = 20.0, .base_z_mm = 5.0};
}

ct_biv_params ct_biv_params_small(void)
{
    return (ct_biv_params){.lv = ct_lv_params_default(), .rv_centre_x_mm = 10.0, .rv_centre_z_mm = 0.0,
                           .rv_epi_x_mm = 13.0, .rv_epi_y_mm = 17.0, .rv_epi_z_mm = 16.0,
                           .rv_wall_mm = 3.0};
}

/* The normal adult heart; the same numbers as ct_phantom_params_default (image/ct_phantom.c), so that the
 * idealised route and the image demo describe one heart. Sources, Lang et al. 2015 (ASE/EACVI chamber
 * quantification, J Am Soc Echocardiogr 28:1-39), normal ranges as mean +- SD (2-SD range):
 *   lv_edd_mm 48     LV internal diameter in diastole: men 50.2 +- 4.1 (42.0-58.4), women 45.0 +- 3.6
 *                    (37.8-52.2): between the two means;
 *   septum_mm 10,    septal and posterior wall thickness: 6-10 mm men, 6-9 women: the upper end of normal;
 *   free_wall_mm 10
 *   apex_wall_mm 8   not tabulated there: the apex thinner than the mid-ventricular wall;
 *   lv_length_mm 86  not tabulated there either: chosen with the above so that the LV cavity (~104 mL) and
 *                    wall (~125 mL, ~131 g) fall inside Lang's normal LVEDV (62-150 mL men, 46-106 women)
 *                    and LV mass (88-224 g men, 67-162 women);
 *   rv_edd_mm 20     RV mid-cavity diameter 27 +- 4 (19-35) (basal 33 +- 4, 25-41): the reference RV is a
 *                    crescent wide antero-posteriorly (epi y semi-axis 44) and near the lower limit of the
 *                    septal-lateral width; its cavity is ~104 mL;
 *   rv_length_mm 74  RV longitudinal dimension 71 +- 6 (59-83);
 *   rv_wall_mm 4     RV free-wall thickness 3 +- 1 (1-5). */
ct_heart_dimensions ct_heart_dimensions_default(void)
{
    return (ct_heart_dimensions){.lv_edd_mm = 48.0, .lv_length_mm = 86.0, .septum_mm = 10.0,
                                 .free_wall_mm = 10.0, .apex_wall_mm = 8.0, .rv_edd_mm = 20.0,
                                 .rv_length_mm = 74.0, .rv_wall_mm = 4.0};
}

ct_status ct_biv_params_from_dimensions(const ct_heart_dimensions *d, ct_biv_params *out)
{
    const struct {
        const char *key;
        double v, lo, hi;
    } dims[] = {{"lv_edd_mm", d->lv_edd_mm, 30, 90},      {"lv_length_mm", d->lv_length_mm, 50, 130},
                {"septum_mm", d->septum_mm, 4, 30},       {"free_wall_mm", d->free_wall_mm, 4, 30},
                {"apex_wall_mm", d->apex_wall_mm, 2, 20}, {"rv_edd_mm", d->rv_edd_mm, 5, 60},
                {"rv_length_mm", d->rv_length_mm, 40, 120}, {"rv_wall_mm", d->rv_wall_mm, 1, 15}};
    for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++)
        if (!(dims[i].v >= dims[i].lo && dims[i].v <= dims[i].hi))
            return ct_error_set(CT_ERR_CONFIG, "dimensions.%s = %g mm is outside the plausible human range "
                                "[%g, %g] mm", dims[i].key, dims[i].v, dims[i].lo, dims[i].hi);
    if (fabs(d->septum_mm - d->free_wall_mm) > 2.0)
        return ct_error_set(CT_ERR_CONFIG, "dimensions.septum_mm = %g mm and dimensions.free_wall_mm = %g mm "
                            "differ by more than 2 mm: the idealised biventricular geometry has one LV wall "
                            "thickness (the septum is the LV wall), the mean of the two; use an image-based "
                            "geometry (geometry.type \"image\") for an asymmetric wall", d->septum_mm,
                            d->free_wall_mm);
    ct_biv_params b;
    double wall = 0.5 * (d->septum_mm + d->free_wall_mm);
    b.lv.endo_short_mm = 0.5 * d->lv_edd_mm;
    b.lv.epi_short_mm = b.lv.endo_short_mm + wall;
    /* products before quotients: the default dimensions give the reference heart's numbers exactly */
    b.lv.endo_long_mm = (d->lv_length_mm - d->apex_wall_mm) * 10.0 / 13.0;
    b.lv.epi_long_mm = b.lv.endo_long_mm + d->apex_wall_mm;
    b.lv.base_z_mm = b.lv.endo_long_mm * 3.0 / 10.0;
    if (!(b.lv.endo_long_mm >= b.lv.endo_short_mm))
        return ct_error_set(CT_ERR_CONFIG, "dimensions.lv_length_mm = %g mm is too short for dimensions.lv_edd_mm "
                            "= %g mm: the LV cavity would be wider than long (long semi-axis %g < short %g mm); "
                            "need lv_length_mm >= %g mm with apex_wall_mm = %g", d->lv_length_mm, d->lv_edd_mm,
                            b.lv.endo_long_mm, b.lv.endo_short_mm, 1.3 * b.lv.endo_short_mm + d->apex_wall_mm,
                            d->apex_wall_mm);
    if (!(d->rv_length_mm + d->rv_wall_mm <= d->lv_length_mm))
        return ct_error_set(CT_ERR_CONFIG, "dimensions.rv_length_mm = %g mm: the RV (rv_length_mm + rv_wall_mm = "
                            "%g mm below the base) must end above the LV apex (lv_length_mm = %g mm)",
                            d->rv_length_mm, d->rv_length_mm + d->rv_wall_mm, d->lv_length_mm);
    if (!(d->rv_length_mm > 2.0 * b.lv.base_z_mm))
        return ct_error_set(CT_ERR_CONFIG, "dimensions.rv_length_mm = %g mm is too short: the RV cavity, centred "
                            "at the LV equator, must reach the base plane %g mm above it (rv_length_mm > %g mm "
                            "with this lv_length_mm and apex_wall_mm)", d->rv_length_mm, b.lv.base_z_mm,
                            2.0 * b.lv.base_z_mm);
    double r = b.lv.epi_short_mm;
    b.rv_centre_x_mm = r * 26.0 / 34.0;
    b.rv_centre_z_mm = 0.0;
    b.rv_epi_x_mm = r + d->rv_edd_mm + d->rv_wall_mm - b.rv_centre_x_mm;
    b.rv_epi_y_mm = r * 44.0 / 34.0;
    b.rv_epi_z_mm = d->rv_length_mm - b.lv.base_z_mm + d->rv_wall_mm;
    b.rv_wall_mm = d->rv_wall_mm;
    *out = b;
    return CT_OK;
}

ct_biv_params ct_biv_params_default(void)
{
    ct_heart_dimensions d = ct_heart_dimensions_default();
    ct_biv_params b = ct_biv_params_small();
    ct_status st = ct_biv_params_from_dimensions(&d, &b);
    (void)st; /* the defaults are valid (tests/test_dimensions.c) */
    return b;
}

double ct_geometry_truncated_ellipsoid_volume(double a_mm, double c_mm, double z_top_mm)
{
    double z = fmax(-c_mm, fmin(c_mm, z_top_mm));
    double prim_top = z - z * z * z / (3.0 * c_mm * c_mm);
    double prim_bot = -c_mm + c_mm / 3.0;
    return M_PI * a_mm * a_mm * (prim_top - prim_bot);
}

/* ---- implicit ellipsoids used both to build the CAD model and to label its surfaces ---- */

typedef struct ellipsoid {
    double c[3]; /* centre (mm) */
    double r[3]; /* semi-axes along x, y, z (mm) */
} ellipsoid;

/* f = sum ((x-c)/r)^2 - 1: negative inside. */
static double ell_f(const ellipsoid *e, const double p[3])
{
    double f = -1.0;
    for (int k = 0; k < 3; k++) {
        double u = (p[k] - e->c[k]) / e->r[k];
        f += u * u;
    }
    return f;
}

/* First-order distance (mm) of p from the surface f = 0: |f| / |grad f|. */
static double ell_dist(const ellipsoid *e, const double p[3])
{
    double g2 = 0.0;
    for (int k = 0; k < 3; k++) {
        double g = 2.0 * (p[k] - e->c[k]) / (e->r[k] * e->r[k]);
        g2 += g * g;
    }
    return fabs(ell_f(e, p)) / fmax(sqrt(g2), 1e-300);
}

/* ---- Gmsh error mapping ---- */

static ct_status gmsh_fail(const char *what, int ierr)
{
    char *msg = NULL;
    int e2 = 0;
    gmshLoggerGetLastError(&msg, &e2);
    ct_status s = ct_error_set(CT_ERR_MESH, "gmsh: %s failed (ierr %d): %s", what, ierr,
                               (e2 == 0 && msg && msg[0]) ? msg : "no message from gmsh");
    if (msg)
        gmshFree(msg);
    return s;
}

/* Runs a Gmsh call that takes `&ierr`; on failure records the message and jumps to `done`. */
#define GMSH_TRY(what, ...)                  \
    do {                                     \
        int ierr = 0;                        \
        __VA_ARGS__;                         \
        if (ierr) {                          \
            st = gmsh_fail((what), ierr);    \
            goto done;                       \
        }                                    \
    } while (0)

/* An OCC ellipsoid volume: unit sphere at the centre dilated by the semi-axes. Returns its tag. */
static int occ_ellipsoid(const ellipsoid *e, int *ierr)
{
    int tag = gmshModelOccAddSphere(e->c[0], e->c[1], e->c[2], 1.0, -1, -M_PI / 2, M_PI / 2, 2 * M_PI, ierr);
    if (*ierr)
        return -1;
    int dt[2] = {3, tag};
    gmshModelOccDilate(dt, 2, e->c[0], e->c[1], e->c[2], e->r[0], e->r[1], e->r[2], ierr);
    return tag;
}

enum boolean_op { OP_CUT, OP_FUSE };

/* obj OP tool, both removed; the result must be exactly one volume, whose tag is returned. */
static int occ_boolean(enum boolean_op op, int obj, int tool, int *ierr, int *n_volumes)
{
    int o[2] = {3, obj}, t[2] = {3, tool};
    int *out = NULL, **map = NULL;
    size_t out_n = 0, *map_n = NULL, map_nn = 0;
    if (op == OP_CUT)
        gmshModelOccCut(o, 2, t, 2, &out, &out_n, &map, &map_n, &map_nn, -1, 1, 1, ierr);
    else
        gmshModelOccFuse(o, 2, t, 2, &out, &out_n, &map, &map_n, &map_nn, -1, 1, 1, ierr);
    int tag = -1;
    *n_volumes = 0;
    for (size_t i = 0; i + 1 < out_n; i += 2)
        if (out[i] == 3) {
            tag = out[i + 1];
            (*n_volumes)++;
        }
    for (size_t i = 0; i < map_nn; i++)
        gmshFree(map[i]);
    gmshFree(map);
    gmshFree(map_n);
    gmshFree(out);
    return tag;
}

/* A box holding everything above the base plane. */
static int occ_base_box(double base_z, double extent, int *ierr)
{
    return gmshModelOccAddBox(-extent, -extent, base_z, 2 * extent, 2 * extent, extent, -1, ierr);
}

/* ---- surface classification ---- */

typedef struct surface_model {
    double base_z_mm;
    double h_mm; /* element size: the chordal error of the surface triangles is a fraction of it */
    ellipsoid lv_endo, lv_epi;
    int has_rv;
    ellipsoid rv_endo, rv_epi;
} surface_model;

static int32_t classify(const surface_model *m, const double x[3][3], double tol_mm)
{
    int on_base = 1;
    for (int a = 0; a < 3; a++)
        on_base &= fabs(x[a][2] - m->base_z_mm) < tol_mm;
    if (on_base)
        return CT_SURF_BASE;
    double c[3];
    for (int k = 0; k < 3; k++)
        c[k] = (x[0][k] + x[1][k] + x[2][k]) / 3.0;
    double d_lv_endo = ell_dist(&m->lv_endo, c), d_lv_epi = ell_dist(&m->lv_epi, c);
    double best = d_lv_endo;
    int32_t label = CT_SURF_ENDO_LV;
    if (d_lv_epi < best) {
        best = d_lv_epi;
        /* The LV epicardium inside the RV cavity is the septal RV endocardium. */
        label = (m->has_rv && ell_f(&m->rv_endo, c) < 0.0) ? CT_SURF_ENDO_RV : CT_SURF_EPI;
    }
    /* The RV ellipsoids bound the tissue only outside the LV epicardium (inside it they cut through
     * the LV cavity, where the RV endocardial ellipsoid passes near the LV endocardium). */
    int outside_lv = ell_f(&m->lv_epi, c) >= 0.0 || d_lv_epi < 0.25 * m->h_mm;
    if (m->has_rv && outside_lv) {
        double d_rv_endo = ell_dist(&m->rv_endo, c), d_rv_epi = ell_dist(&m->rv_epi, c);
        if (d_rv_endo < best) {
            best = d_rv_endo;
            label = CT_SURF_ENDO_RV;
        }
        if (d_rv_epi < best)
            label = CT_SURF_EPI;
    }
    return label;
}

/* ---- tet mesh post-processing ---- */

typedef struct face_key {
    int32_t v[3]; /* sorted */
    int32_t tet;
    int32_t opp; /* local index of the opposite vertex */
} face_key;

static int cmp_face(const void *pa, const void *pb)
{
    const face_key *a = pa, *b = pb;
    for (int k = 0; k < 3; k++)
        if (a->v[k] != b->v[k])
            return a->v[k] < b->v[k] ? -1 : 1;
    return 0;
}

static void sort3(int32_t v[3])
{
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (v[j] < v[i]) {
                int32_t s = v[i];
                v[i] = v[j];
                v[j] = s;
            }
}

/* Boundary faces (used by one tet only), oriented outwards, labelled by the model (CT_SURF_NONE without
 * one: the caller labels them). */
static ct_status extract_boundary(ct_mesh *mesh, const surface_model *model, double tol_mm)
{
    size_t nf = 4 * mesh->n_tets;
    face_key *f = malloc(nf * sizeof *f + 1);
    if (!f)
        return ct_error_set(CT_ERR_NOMEM, "geometry: out of memory for %zu faces", nf);
    for (size_t e = 0; e < mesh->n_tets; e++)
        for (int opp = 0; opp < 4; opp++) {
            face_key *k = f + 4 * e + opp;
            int w = 0;
            for (int a = 0; a < 4; a++)
                if (a != opp)
                    k->v[w++] = mesh->tets[4 * e + a];
            sort3(k->v);
            k->tet = (int32_t)e;
            k->opp = opp;
        }
    qsort(f, nf, sizeof *f, cmp_face);
    size_t n_boundary = 0;
    for (size_t i = 0; i < nf;) {
        size_t j = i + 1;
        while (j < nf && cmp_face(f + i, f + j) == 0)
            j++;
        if (j - i > 2) {
            free(f);
            return ct_error_set(CT_ERR_MESH, "geometry: a face is shared by %zu tets (non-manifold mesh)",
                                j - i);
        }
        if (j - i == 1)
            f[n_boundary++] = f[i];
        i = j;
    }
    mesh->n_tris = n_boundary;
    mesh->tris = malloc(3 * n_boundary * sizeof *mesh->tris + 1);
    mesh->tri_label = malloc(n_boundary * sizeof *mesh->tri_label + 1);
    if (!mesh->tris || !mesh->tri_label) {
        free(f);
        return ct_error_set(CT_ERR_NOMEM, "geometry: out of memory for %zu boundary triangles", n_boundary);
    }
    for (size_t i = 0; i < n_boundary; i++) {
        int32_t *t = mesh->tris + 3 * i;
        memcpy(t, f[i].v, sizeof f[i].v);
        double x[3][3], d1[3], d2[3], n[3], out[3];
        for (int a = 0; a < 3; a++)
            memcpy(x[a], mesh->xyz_mm + 3 * (size_t)t[a], sizeof x[a]);
        const double *xo = mesh->xyz_mm + 3 * (size_t)mesh->tets[4 * (size_t)f[i].tet + f[i].opp];
        for (int k = 0; k < 3; k++) {
            d1[k] = x[1][k] - x[0][k];
            d2[k] = x[2][k] - x[0][k];
            out[k] = x[0][k] - xo[k];
        }
        n[0] = d1[1] * d2[2] - d1[2] * d2[1];
        n[1] = d1[2] * d2[0] - d1[0] * d2[2];
        n[2] = d1[0] * d2[1] - d1[1] * d2[0];
        if (n[0] * out[0] + n[1] * out[1] + n[2] * out[2] < 0.0) {
            int32_t s = t[1];
            t[1] = t[2];
            t[2] = s;
            for (int k = 0; k < 3; k++) {
                double u = x[1][k];
                x[1][k] = x[2][k];
                x[2][k] = u;
            }
        }
        mesh->tri_label[i] = model ? classify(model, x, tol_mm) : CT_SURF_NONE;
    }
    free(f);
    return CT_OK;
}

/* Copies Gmsh's nodes and 4-node tets into a new ct_mesh: only nodes used by tets, numbered
 * compactly in Gmsh's node order; every tet positively oriented. */
static ct_status mesh_from_gmsh(const size_t *node_tags, size_t n_node_tags, const double *coord,
                                const size_t *tet_nodes, size_t n_tets, ct_mesh **out)
{
    *out = NULL;
    if (n_tets == 0)
        return ct_error_set(CT_ERR_MESH, "geometry: gmsh produced no tetrahedra");
    size_t max_tag = 0;
    for (size_t i = 0; i < n_node_tags; i++)
        if (node_tags[i] > max_tag)
            max_tag = node_tags[i];
    long *slot = malloc((max_tag + 1) * sizeof *slot); /* gmsh tag -> position in node_tags */
    long *index = malloc((max_tag + 1) * sizeof *index); /* gmsh tag -> compact index */
    if (!slot || !index) {
        free(slot);
        free(index);
        return ct_error_set(CT_ERR_NOMEM, "geometry: out of memory for %zu node tags", max_tag + 1);
    }
    for (size_t i = 0; i <= max_tag; i++)
        slot[i] = index[i] = -1;
    for (size_t i = 0; i < n_node_tags; i++)
        slot[node_tags[i]] = (long)i;
    for (size_t i = 0; i < 4 * n_tets; i++)
        if (tet_nodes[i] > max_tag || slot[tet_nodes[i]] < 0) {
            free(slot);
            free(index);
            return ct_error_set(CT_ERR_MESH, "geometry: tet refers to unknown gmsh node %zu", tet_nodes[i]);
        }
    /* Mark used nodes, then number them in gmsh order. */
    for (size_t i = 0; i < 4 * n_tets; i++)
        index[tet_nodes[i]] = 0;
    size_t n_nodes = 0;
    for (size_t i = 0; i < n_node_tags; i++)
        if (index[node_tags[i]] == 0)
            index[node_tags[i]] = -2 - (long)(n_nodes++); /* provisional, decoded below */
    ct_mesh *m = NULL;
    ct_status st = ct_mesh_create(n_nodes, n_tets, &m);
    if (st != CT_OK) {
        free(slot);
        free(index);
        return st;
    }
    for (size_t i = 0; i < n_node_tags; i++) {
        long code = index[node_tags[i]];
        if (code <= -2) {
            size_t v = (size_t)(-2 - code);
            memcpy(m->xyz_mm + 3 * v, coord + 3 * i, 3 * sizeof *coord);
        }
    }
    for (size_t e = 0; e < n_tets; e++) {
        for (int a = 0; a < 4; a++)
            m->tets[4 * e + a] = (int32_t)(-2 - index[tet_nodes[4 * e + a]]);
        if (ct_mesh_tet_volume(m, e) < 0.0) {
            int32_t s = m->tets[4 * e + 1];
            m->tets[4 * e + 1] = m->tets[4 * e + 2];
            m->tets[4 * e + 2] = s;
        }
    }
    free(slot);
    free(index);
    *out = m;
    return CT_OK;
}

/* ---- the common driver ---- */

static ct_status build_and_mesh(const surface_model *model, double h_mm, const char *name, ct_mesh **out)
{
    *out = NULL;
    if (!(h_mm > 0.0) || !isfinite(h_mm))
        return ct_error_set(CT_ERR_CONFIG, "geometry %s: element size h_mm = %g must be > 0", name, h_mm);
    surface_model labelled = *model;
    labelled.h_mm = h_mm;
    ct_status st = CT_OK;
    size_t *node_tags = NULL, *elem_tags = NULL, *tet_nodes = NULL;
    double *coord = NULL, *param = NULL;
    size_t n_node_tags = 0, n_coord = 0, n_param = 0, n_elem = 0, n_tet_nodes = 0;
    int initialised = 0, nvol = 0;
    double extent = 0.0;
    for (int k = 0; k < 3; k++) {
        extent = fmax(extent, fabs(model->lv_epi.c[k]) + model->lv_epi.r[k]);
        if (model->has_rv)
            extent = fmax(extent, fabs(model->rv_epi.c[k]) + model->rv_epi.r[k]);
    }
    extent = 2.0 * extent + 10.0;

    GMSH_TRY("initialise", gmshInitialize(0, NULL, 0, &ierr));
    initialised = 1;
    GMSH_TRY("set General.Terminal", gmshOptionSetNumber("General.Terminal", 0, &ierr));
    GMSH_TRY("add model", gmshModelAdd(name, &ierr));

    int body = -1;
    GMSH_TRY("LV epicardium", body = occ_ellipsoid(&model->lv_epi, &ierr));
    if (model->has_rv) {
        int rv_epi = -1;
        GMSH_TRY("RV epicardium", rv_epi = occ_ellipsoid(&model->rv_epi, &ierr));
        GMSH_TRY("fuse LV and RV epicardia", body = occ_boolean(OP_FUSE, body, rv_epi, &ierr, &nvol));
        if (nvol != 1) {
            st = ct_error_set(CT_ERR_MESH, "geometry %s: epicardial union gave %d volumes, not 1", name, nvol);
            goto done;
        }
    }
    int lv_cavity = -1;
    GMSH_TRY("LV endocardium", lv_cavity = occ_ellipsoid(&model->lv_endo, &ierr));
    GMSH_TRY("cut LV cavity", body = occ_boolean(OP_CUT, body, lv_cavity, &ierr, &nvol));
    if (model->has_rv) {
        int rv_cavity = -1, lv_epi_tool = -1;
        GMSH_TRY("RV endocardium", rv_cavity = occ_ellipsoid(&model->rv_endo, &ierr));
        GMSH_TRY("LV epicardium (tool)", lv_epi_tool = occ_ellipsoid(&model->lv_epi, &ierr));
        GMSH_TRY("RV cavity minus LV", rv_cavity = occ_boolean(OP_CUT, rv_cavity, lv_epi_tool, &ierr, &nvol));
        if (nvol != 1) {
            st = ct_error_set(CT_ERR_MESH, "geometry %s: RV cavity minus LV gave %d volumes, not 1", name, nvol);
            goto done;
        }
        GMSH_TRY("cut RV cavity", body = occ_boolean(OP_CUT, body, rv_cavity, &ierr, &nvol));
    }
    int box = -1;
    GMSH_TRY("base box", box = occ_base_box(model->base_z_mm, extent, &ierr));
    GMSH_TRY("cut base", body = occ_boolean(OP_CUT, body, box, &ierr, &nvol));
    if (nvol != 1) {
        st = ct_error_set(CT_ERR_MESH, "geometry %s: the model has %d volumes after the base cut, not 1",
                          name, nvol);
        goto done;
    }
    GMSH_TRY("synchronize", gmshModelOccSynchronize(&ierr));
    GMSH_TRY("set Mesh.MeshSizeMax", gmshOptionSetNumber("Mesh.MeshSizeMax", h_mm, &ierr));
    GMSH_TRY("set Mesh.MeshSizeMin", gmshOptionSetNumber("Mesh.MeshSizeMin", 0.25 * h_mm, &ierr));
    GMSH_TRY("set Mesh.MeshSizeFromCurvature", gmshOptionSetNumber("Mesh.MeshSizeFromCurvature", 0, &ierr));
    GMSH_TRY("set Mesh.Optimize", gmshOptionSetNumber("Mesh.Optimize", 1, &ierr));
    GMSH_TRY("generate 3D mesh", gmshModelMeshGenerate(3, &ierr));
    GMSH_TRY("get nodes", gmshModelMeshGetNodes(&node_tags, &n_node_tags, &coord, &n_coord, &param, &n_param,
                                                -1, -1, 0, 0, &ierr));
    GMSH_TRY("get tetrahedra", gmshModelMeshGetElementsByType(4, &elem_tags, &n_elem, &tet_nodes, &n_tet_nodes,
                                                              -1, 0, 1, &ierr));
    if (n_coord != 3 * n_node_tags || n_tet_nodes != 4 * n_elem) {
        st = ct_error_set(CT_ERR_MESH, "geometry %s: inconsistent gmsh output (%zu nodes, %zu coordinates, "
                          "%zu tets, %zu tet nodes)", name, n_node_tags, n_coord, n_elem, n_tet_nodes);
        goto done;
    }
    st = mesh_from_gmsh(node_tags, n_node_tags, coord, tet_nodes, n_elem, out);
    if (st != CT_OK)
        goto done;
    st = extract_boundary(*out, &labelled, 1e-6 * extent);
    if (st == CT_OK)
        st = ct_mesh_validate(*out, name);
    if (st != CT_OK) {
        ct_mesh_destroy(*out);
        *out = NULL;
    }
done:
    gmshFree(node_tags);
    gmshFree(coord);
    gmshFree(param);
    gmshFree(elem_tags);
    gmshFree(tet_nodes);
    if (initialised) {
        int ierr = 0;
        gmshFinalize(&ierr);
    }
    return st;
}

static ct_status check_lv(const ct_lv_params *p, const char *name)
{
    if (!(p->endo_short_mm > 0 && p->endo_long_mm > 0 && p->epi_short_mm > p->endo_short_mm &&
          p->epi_long_mm > p->endo_long_mm))
        return ct_error_set(CT_ERR_CONFIG, "geometry %s: need 0 < endocardial semi-axes < epicardial ones "
                            "(endo %g x %g, epi %g x %g mm)", name, p->endo_short_mm, p->endo_long_mm,
                            p->epi_short_mm, p->epi_long_mm);
    if (!(p->base_z_mm > -p->endo_long_mm && p->base_z_mm < p->endo_long_mm))
        return ct_error_set(CT_ERR_CONFIG, "geometry %s: base_z_mm = %g must cut the cavity (|z| < %g)", name,
                            p->base_z_mm, p->endo_long_mm);
    return CT_OK;
}

static surface_model lv_model(const ct_lv_params *p)
{
    surface_model m = {.base_z_mm = p->base_z_mm};
    m.lv_endo = (ellipsoid){{0, 0, 0}, {p->endo_short_mm, p->endo_short_mm, p->endo_long_mm}};
    m.lv_epi = (ellipsoid){{0, 0, 0}, {p->epi_short_mm, p->epi_short_mm, p->epi_long_mm}};
    return m;
}

ct_status ct_geometry_lv(const ct_lv_params *p, double h_mm, ct_mesh **out)
{
    *out = NULL;
    ct_lv_params def = ct_lv_params_default();
    if (!p)
        p = &def;
    CT_CHECK(check_lv(p, "lv"));
    surface_model m = lv_model(p);
    return build_and_mesh(&m, h_mm, "lv", out);
}

ct_status ct_geometry_biv(const ct_biv_params *p, double h_mm, ct_mesh **out)
{
    *out = NULL;
    ct_biv_params def = ct_biv_params_default();
    if (!p)
        p = &def;
    CT_CHECK(check_lv(&p->lv, "biv"));
    double w = p->rv_wall_mm;
    if (!(w > 0 && p->rv_epi_x_mm > w && p->rv_epi_y_mm > w && p->rv_epi_z_mm > w))
        return ct_error_set(CT_ERR_CONFIG, "geometry biv: RV wall %g mm must be > 0 and below every RV "
                            "semi-axis (%g, %g, %g mm)", w, p->rv_epi_x_mm, p->rv_epi_y_mm, p->rv_epi_z_mm);
    if (!(p->rv_centre_x_mm + p->rv_epi_x_mm - w > p->lv.epi_short_mm))
        return ct_error_set(CT_ERR_CONFIG, "geometry biv: the RV cavity (reaching x = %g mm) must extend "
                            "beyond the LV epicardium (x = %g mm)", p->rv_centre_x_mm + p->rv_epi_x_mm - w,
                            p->lv.epi_short_mm);
    surface_model m = lv_model(&p->lv);
    m.has_rv = 1;
    m.rv_epi = (ellipsoid){{p->rv_centre_x_mm, 0, p->rv_centre_z_mm},
                           {p->rv_epi_x_mm, p->rv_epi_y_mm, p->rv_epi_z_mm}};
    m.rv_endo = (ellipsoid){{p->rv_centre_x_mm, 0, p->rv_centre_z_mm},
                            {p->rv_epi_x_mm - w, p->rv_epi_y_mm - w, p->rv_epi_z_mm - w}};
    return build_and_mesh(&m, h_mm, "biv", out);
}

/* ---- a closed triangulated surface to tets ---- */

/* remesh 1: Gmsh classifies, reparametrises and remeshes the surface at h_mm; 0: the surface's own triangles
 * bound a discrete volume that Gmsh fills (the fallback when a patch cannot be reparametrised). */
static ct_status from_surface(const ct_trisurf *surf, double h_mm, double remesh_angle_deg, const char *name,
                              ct_mesh **out);

ct_status ct_geometry_from_surface(const ct_trisurf *surf, double h_mm, const char *name, ct_mesh **out)
{
    /* Gmsh 4.8's reparametrisation refuses some patches of smoothed contours ("Wrong topology of boundary
     * mesh for parametrization"), depending on how the creases split the surface: other crease angles split
     * it otherwise; last, the surface is filled as it is */
    static const double angles[] = {40.0, 60.0, 25.0, 80.0};
    char first[512] = "";
    ct_status st = CT_OK;
    for (int k = 0; k < 4; k++) {
        st = from_surface(surf, h_mm, angles[k], name, out);
        if (st == CT_OK || st != CT_ERR_MESH || strstr(ct_error_message(), "gmsh:") == NULL)
            return st;
        if (k == 0)
            snprintf(first, sizeof first, "%s", ct_error_message());
    }
    st = from_surface(surf, h_mm, 0, name, out);
    if (st != CT_OK)
        return ct_error_set(st, "%s; filling the surface as it is failed too: %s", first, ct_error_message());
    return CT_OK;
}

ct_status ct_geometry_fill_surface(const ct_trisurf *surf, double h_mm, const char *name, ct_mesh **out)
{
    return from_surface(surf, h_mm, 0.0, name, out);
}

static ct_status from_surface(const ct_trisurf *surf, double h_mm, double remesh_angle_deg, const char *name,
                              ct_mesh **out)
{
    const int remesh = remesh_angle_deg > 0;
    *out = NULL;
    if (!(h_mm > 0.0) || !isfinite(h_mm))
        return ct_error_set(CT_ERR_CONFIG, "%s: element size h_mm = %g must be > 0", name, h_mm);
    if (surf->n_tris < 4 || surf->n_points < 4)
        return ct_error_set(CT_ERR_MESH, "%s: the surface has %zu triangles: nothing to mesh", name, surf->n_tris);
    ct_status st = CT_OK;
    size_t *tags = malloc(surf->n_points * sizeof *tags + 1), *etags = malloc(surf->n_tris * sizeof *etags + 1);
    size_t *enodes = malloc(3 * surf->n_tris * sizeof *enodes + 1);
    size_t *node_tags = NULL, *elem_tags = NULL, *tet_nodes = NULL;
    double *coord = NULL, *param = NULL;
    int *dimtags = NULL, *surfs = NULL;
    size_t n_node_tags = 0, n_coord = 0, n_param = 0, n_elem = 0, n_tet_nodes = 0, n_dimtags = 0;
    int initialised = 0;
    if (!tags || !etags || !enodes) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory for the surface", name);
        goto done;
    }
    for (size_t i = 0; i < surf->n_points; i++)
        tags[i] = i + 1;
    for (size_t t = 0; t < surf->n_tris; t++) {
        etags[t] = t + 1;
        for (int a = 0; a < 3; a++)
            enodes[3 * t + a] = (size_t)surf->tris[3 * t + a] + 1;
    }
    GMSH_TRY("initialise", gmshInitialize(0, NULL, 0, &ierr));
    initialised = 1;
    GMSH_TRY("set General.Terminal", gmshOptionSetNumber("General.Terminal", 0, &ierr));
    GMSH_TRY("add model", gmshModelAdd(name, &ierr));
    int s = -1;
    GMSH_TRY("add the surface", s = gmshModelAddDiscreteEntity(2, -1, NULL, 0, &ierr));
    GMSH_TRY("add the surface nodes", gmshModelMeshAddNodes(2, s, tags, surf->n_points, (double *)surf->xyz_mm,
                                                            3 * surf->n_points, NULL, 0, &ierr));
    GMSH_TRY("add the surface triangles", gmshModelMeshAddElementsByType(s, 2, etags, surf->n_tris, enodes,
                                                                         3 * surf->n_tris, &ierr));
    if (remesh) {
        /* patches split at creases, each one reparametrised, so that Gmsh remeshes them at h_mm */
        GMSH_TRY("classify the surface",
                 gmshModelMeshClassifySurfaces(remesh_angle_deg * M_PI / 180.0, 1, 1, M_PI, 1, &ierr));
        GMSH_TRY("create the geometry", gmshModelMeshCreateGeometry(NULL, 0, &ierr));
    } else {
        /* one patch, not reparametrised: its triangles stay as they are */
        GMSH_TRY("classify the surface", gmshModelMeshClassifySurfaces(M_PI, 1, 0, M_PI, 1, &ierr));
    }
    GMSH_TRY("list the surfaces", gmshModelGetEntities(&dimtags, &n_dimtags, 2, &ierr));
    surfs = malloc(n_dimtags * sizeof *surfs + 1);
    if (!surfs) {
        st = ct_error_set(CT_ERR_NOMEM, "%s: out of memory", name);
        goto done;
    }
    for (size_t i = 0; i + 1 < n_dimtags; i += 2)
        surfs[i / 2] = dimtags[i + 1];
    int loop = -1;
    GMSH_TRY("close the surface", loop = gmshModelGeoAddSurfaceLoop(surfs, n_dimtags / 2, -1, &ierr));
    GMSH_TRY("add the volume", gmshModelGeoAddVolume(&loop, 1, -1, &ierr));
    GMSH_TRY("synchronize", gmshModelGeoSynchronize(&ierr));
    GMSH_TRY("set Mesh.MeshSizeMax", gmshOptionSetNumber("Mesh.MeshSizeMax", h_mm, &ierr));
    GMSH_TRY("set Mesh.MeshSizeMin", gmshOptionSetNumber("Mesh.MeshSizeMin", 0.5 * h_mm, &ierr));
    GMSH_TRY("set Mesh.MeshSizeFromCurvature", gmshOptionSetNumber("Mesh.MeshSizeFromCurvature", 0, &ierr));
    GMSH_TRY("set Mesh.MeshSizeExtendFromBoundary", gmshOptionSetNumber("Mesh.MeshSizeExtendFromBoundary", 1, &ierr));
    GMSH_TRY("set Mesh.Algorithm", gmshOptionSetNumber("Mesh.Algorithm", 6, &ierr));
    GMSH_TRY("set Mesh.Algorithm3D", gmshOptionSetNumber("Mesh.Algorithm3D", 1, &ierr));
    GMSH_TRY("set Mesh.Optimize", gmshOptionSetNumber("Mesh.Optimize", 1, &ierr));
    GMSH_TRY("generate 3D mesh", gmshModelMeshGenerate(3, &ierr));
    GMSH_TRY("get nodes", gmshModelMeshGetNodes(&node_tags, &n_node_tags, &coord, &n_coord, &param, &n_param, -1, -1,
                                                0, 0, &ierr));
    GMSH_TRY("get tetrahedra", gmshModelMeshGetElementsByType(4, &elem_tags, &n_elem, &tet_nodes, &n_tet_nodes, -1,
                                                              0, 1, &ierr));
    if (n_coord != 3 * n_node_tags || n_tet_nodes != 4 * n_elem) {
        st = ct_error_set(CT_ERR_MESH, "%s: inconsistent gmsh output", name);
        goto done;
    }
    if ((st = mesh_from_gmsh(node_tags, n_node_tags, coord, tet_nodes, n_elem, out)) != CT_OK) {
        st = ct_error_set(st, "%s: %s", name, ct_error_message());
        goto done;
    }
    st = extract_boundary(*out, NULL, 0.0);
    if (st == CT_OK)
        st = ct_mesh_validate(*out, name);
    if (st != CT_OK) {
        ct_mesh_destroy(*out);
        *out = NULL;
    }
done:
    if (st != CT_OK && initialised && strncmp(ct_error_message(), "gmsh:", 5) == 0)
        st = ct_error_set(st, "%s: meshing the surface (%zu triangles) at h %g mm: %s", name, surf->n_tris, h_mm,
                          ct_error_message());
    free(tags);
    free(etags);
    free(enodes);
    free(surfs);
    gmshFree(dimtags);
    gmshFree(node_tags);
    gmshFree(coord);
    gmshFree(param);
    gmshFree(elem_tags);
    gmshFree(tet_nodes);
    if (initialised) {
        int ierr = 0;
        gmshFinalize(&ierr);
    }
    return st;
}
