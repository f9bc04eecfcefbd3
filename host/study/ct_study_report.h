/* ct_study_report.h — the data of a study's risk report, for ct_study.c (not a public interface): a site's
 * result file (OUT/<phase>/site-NN.json), the sections of OUT/report.json, OUT/surface.json, the summary
 * printed on stdout, and tools/ct_report.py, which draws OUT/report.html from them (ct_study.h lists the
 * files). cJSON objects returned are owned by the caller (cJSON_Delete); sections are added to `report`,
 * which owns them.
 */
#ifndef CT_STUDY_REPORT_H
#define CT_STUDY_REPORT_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "sim/ct_sim.h"
#include "ct_study.h"

/* ---- files ---- */

/* Writes obj as indented JSON to path (atomically). */
ct_status ct_study_write_json_file(const char *path, const cJSON *obj);
/* The JSON in path, or NULL when it cannot be read or parsed (no message). Owned by the caller. */
cJSON *ct_study_read_json(const char *path);

/* DIR/site-NN.json: where site s (0-based) of a phase stores its result. */
ct_status ct_study_site_result_path(const char *dir, int s, char *path, size_t len);
/* A site's result file: its key (what must match for it to be reused), the site, and the outcome: st and
 * ct_error_message() when st != CT_OK, else r (inducibility, coupling intervals, ERPs of the extra_stimuli
 * tried, cycle length, phase singularities). Owned by the caller. */
cJSON *ct_study_site_json(const ct_induce_site *s, const char *key, ct_status st, const ct_induce_result *r,
                          int extra_stimuli);
/* The site result files of a phase, in site order, their keys removed; a missing one becomes a failed entry
 * naming the site (sites[s]). Owned by the caller. */
cJSON *ct_study_collect_sites(const char *dir, const ct_induce_site *sites, int n_sites);
int ct_study_site_inducible(const cJSON *site);
/* 1 when a site's result is not "ok": its trial failed (error, crash, never stored); it is not "not inducible". */
int ct_study_site_failed(const cJSON *site);
/* The inducible entries of an array of site results. */
int ct_study_count_inducible(const cJSON *sites);

/* ---- the surface ---- */

/* The surface that OUT/surface.json draws and that a site's VT activation map lists values at
 * ("lat_surface_ms"): the mesh's boundary triangles (ct_mesh_boundary_tris) and their nodes, numbered in the
 * order of their first appearance there. Made once per study (ct_study_run) and borrowed by everything that
 * lists values per surface node, so that every such list means the same nodes in the same order. */
typedef struct ct_study_surface {
    size_t n_mesh_nodes; /* the mesh it was made from (a check against another instance of the same mesh) */
    size_t n_nodes;      /* surface nodes */
    int32_t *node;       /* owned: n_nodes mesh node indices, surface node j is mesh node node[j] */
    size_t n_tris;
    int32_t *tris;       /* owned: 3 * n_tris surface node numbers (0 .. n_nodes-1), outward (ct_phase.h) */
} ct_study_surface;

/* Makes *out from mesh m (freed with ct_study_surface_free; *out is all empty on error). Errors: those of
 * ct_mesh_boundary_tris (CT_ERR_MESH, CT_ERR_NOMEM), out of memory. */
ct_status ct_study_surface_make(const ct_mesh *m, ct_study_surface *out);
/* Frees what s owns and empties it; s NULL or empty: nothing. */
void ct_study_surface_free(ct_study_surface *s);

/* OUT/surface.json: the surface (made from sim's mesh) with the baseline run's activation and APD90 (first
 * beat). CT_ERR_INTERNAL when surf was made from another mesh (its node count differs). */
ct_status ct_study_write_surface(const char *out_dir, const ct_sim *sim, const ct_study_surface *surf,
                                 const ct_run_result *r);

/* ---- report.json's sections ---- */

/* b (the report's "baseline"): status "ok" and the numbers of the baseline run's run_dir/metrics.json. */
ct_status ct_study_report_baseline(cJSON *b, const char *run_dir);
/* "patient": the input, its description, the mesh's size and volumes by tissue, the model. The elements of
 * `lesions` (scar in sim's mesh) are counted in lesion_volume_mm3, not in the scar's. */
void ct_study_report_patient(cJSON *report, const char *input, const ct_config *cfg, const ct_sim *sim,
                             const ct_lesion *lesions, int n_lesions);
/* "protocol": the programmed stimulation, model, backend and time step. */
void ct_study_report_protocol(cJSON *report, const ct_induce_protocol *p, const ct_config *cfg, const char *backend);
/* "notes": what the model assumes and how re-entry and ERP are declared. */
void ct_study_report_notes(cJSON *report, const ct_config *cfg, const ct_induce_protocol *p);
/* "ablation": the lesions of o (their effect on sim, the ablated model) and each site before and after. */
void ct_study_report_ablation(cJSON *report, const ct_study_options *o, const ct_config *cfg, const ct_sim *sim,
                              const ct_induce_site *sites, int n_sites, const cJSON *before, const cJSON *after);
/* "summary", also printed on stdout site by site (from the report's "sites" and "ablation"): the counts, the
 * inducing sites (name, position, AHA segment from sim's mesh where it has segments, cycle length) and the
 * failed trials (site, phase, reason). Returns the number of failed trials. */
int ct_study_report_summary(cJSON *report, const ct_sim *sim, const ct_induce_site *sites, int n_sites,
                            int n_lesions, int n_before, int n_after);
/* OUT/report.json, then OUT/report.html by tools/ct_report.py (python3 with matplotlib). */
ct_status ct_study_report_write(const char *out_dir, const cJSON *report);

#endif /* CT_STUDY_REPORT_H */
