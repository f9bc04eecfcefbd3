/* ct_patient.h — from a patient file (geometry + imaging-derived parameters) to a simulation-ready model.
 *
 * `cardiotwin personalise PATIENT.json --out DIR` reads the patient file, builds or reads the mesh,
 * computes ventricular coordinates, AHA segments, rule-based fibres, transmural cell types, the infarct
 * (scar core and border zone) and tuned conductivities, and writes:
 *   DIR/heart.vtu          the personalised mesh: point fields apicobasal, transmural, rotational_deg, rv,
 *                          cell_type (0 endo, 1 mid, 2 epi); cell fields fibre, sheet, tissue (0 healthy,
 *                          1 border zone, 2 scar), aha_segment (1-17, 0 outside the LV)
 *   DIR/model.json         the configuration `cardiotwin run` takes (probes at every AHA segment)
 *   DIR/sites.json         the default sites of `cardiotwin induce`: the endocardial node nearest the centroid
 *                          of each LV AHA segment ("AHA 1".."AHA 17") and the RV apex
 *   DIR/personalise.json   a summary: sizes, volumes by tissue and segment, tuned conductivities (and for
 *                          geometry.type "biventricular" its dimensions_mm and ellipsoids_mm)
 * The patient file's keys are listed in README.md ("Patient file"). Units as everywhere: mm, ms, mV, S/m.
 */
#ifndef CT_PATIENT_H
#define CT_PATIENT_H

#include "core/ct_status.h"

/* Runs the whole personalisation; on failure nothing in DIR is replaced (each file is written atomically,
 * and all three are written only after every step succeeded). */
ct_status ct_personalise(const char *patient_path, const char *out_dir, int quiet);

/* Reads and checks a patient file given as JSON text, without building anything: the errors
 * ct_personalise gives for the file's contents, each naming `source` and the key (fuzzing, tests). */
ct_status ct_patient_check(const char *json_text, const char *source);

#endif /* CT_PATIENT_H */
