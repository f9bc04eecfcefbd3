/* test_config.c — configuration parsing: every bad input gets an error naming the key. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sim/ct_config.h"
#include "models/ct_models.h"

/* A minimal valid configuration with one placeholder %s spliced in at the top level. */
static const char *base =
    "{ %s \"mesh\": {\"type\": \"box\", \"size_mm\": [2, 1, 1], \"dx_mm\": 0.5},\n"
    "  \"model\": {\"name\": \"tp06\", \"cell_type\": \"epi\"},\n"
    "  \"conductivity\": {\"sigma_l_S_per_m\": 0.13, \"sigma_t_S_per_m\": 0.02},\n"
    "  \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 10,\n"
    "  \"stimuli\": [{\"box_min_mm\": [0,0,0], \"box_max_mm\": [0.5,1,1], \"amplitude_uA_per_uF\": 50, \"duration_ms\": 1}],\n"
    "  \"probes\": [{\"name\": \"end\", \"position_mm\": [2, 0, 0]}] }";

static ct_status parse_with(const char *extra, ct_config *c)
{
    char text[4096];
    snprintf(text, sizeof text, base, extra);
    return ct_config_parse(text, "test.json", c);
}

Test(config, valid_config_parses_with_units)
{
    ct_config c;
    cr_assert_eq(parse_with("", &c), CT_OK, "%s", ct_error_message());
    cr_assert_float_eq(c.dt_ms, 0.05, 1e-15);
    cr_assert_eq(c.n_stimuli, 1);
    cr_assert_eq(c.n_probes, 1);
    cr_assert_str_eq(c.probes[0].name, "end");
    cr_assert_eq(c.consistent_mass, 0);
    ct_config_free(&c);
}

Test(config, bidomain_conductivities_reduce_by_harmonic_mean)
{
    ct_config c;
    const char *text =
        "{\"mesh\": {\"type\": \"box\", \"size_mm\": [2, 1, 1], \"dx_mm\": 0.5}, \"model\": {\"name\": \"tp06\"},"
        "\"conductivity\": {\"sigma_il_S_per_m\": 0.17, \"sigma_it_S_per_m\": 0.019, \"sigma_el_S_per_m\": 0.62,"
        "\"sigma_et_S_per_m\": 0.24}, \"chi_per_mm\": 140, \"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05,"
        "\"end_time_ms\": 10, \"stimuli\": []}";
    cr_assert_eq(ct_config_parse(text, "t.json", &c), CT_OK, "%s", ct_error_message());
    /* benchmark values: 0.13342 and 0.017606 S/m */
    cr_assert_float_eq(c.conductivity.sigma_l_S_per_m, 0.13342, 1e-5);
    cr_assert_float_eq(c.conductivity.sigma_t_S_per_m, 0.017606, 1e-6);
    ct_config_free(&c);
}

static void expect_error(const char *extra, ct_status code, const char *needle)
{
    ct_config c;
    ct_status st = parse_with(extra, &c);
    cr_assert_eq(st, code, "expected %d for [%s], got %d: %s", code, extra, st, ct_error_message());
    cr_assert(strstr(ct_error_message(), needle), "message \"%s\" does not mention \"%s\"", ct_error_message(),
              needle);
    cr_assert(strstr(ct_error_message(), "test.json"), "message does not name the file: %s", ct_error_message());
}

Test(config, unknown_top_level_key_is_named) { expect_error("\"dt\": 0.1,", CT_ERR_CONFIG, "\"dt\""); }

Test(config, duplicate_key_is_refused) { expect_error("\"dt_ms\": 0.01,", CT_ERR_CONFIG, "duplicate key \"dt_ms\""); }

Test(config, negative_dt_is_out_of_range)
{
    ct_config c;
    char text[4096];
    snprintf(text, sizeof text, base, "");
    char *p = strstr(text, "\"dt_ms\": 0.05");
    memcpy(p, "\"dt_ms\":-0.05", 13);
    cr_assert_eq(ct_config_parse(text, "test.json", &c), CT_ERR_CONFIG, "%s", ct_error_message());
    cr_assert(strstr(ct_error_message(), "\"dt_ms\" = -0.05 is out of range"), "%s", ct_error_message());
}

Test(config, malformed_json_names_line)
{
    ct_config c;
    ct_status st = ct_config_parse("{\n  \"mesh\": {\n  \"type\": \"box\",,\n}", "bad.json", &c);
    cr_assert_eq(st, CT_ERR_PARSE);
    cr_assert(strstr(ct_error_message(), "bad.json:3:"), "%s", ct_error_message());
}

Test(config, unknown_model_and_cell_type)
{
    ct_config c;
    char text[4096];
    snprintf(text, sizeof text, base, "");
    char *p = strstr(text, "\"tp06\"");
    memcpy(p, "\"tp07\"", 6);
    cr_assert_eq(ct_config_parse(text, "test.json", &c), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "model.name \"tp07\""), "%s", ct_error_message());
    snprintf(text, sizeof text, base, "");
    p = strstr(text, "\"epi\"");
    memcpy(p, "\"epx\"", 5);
    cr_assert_eq(ct_config_parse(text, "test.json", &c), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "cell_type"), "%s", ct_error_message());
}

Test(config, nested_unknown_key_and_type_errors)
{
    ct_config c;
    char text[4096];
    snprintf(text, sizeof text, base, "");
    char *p = strstr(text, "\"duration_ms\"");
    memcpy(p, "\"duration_xx\"", 13);
    cr_assert_eq(ct_config_parse(text, "test.json", &c), CT_ERR_CONFIG);
    cr_assert(strstr(ct_error_message(), "stimuli[0].duration_xx"), "%s", ct_error_message());
    expect_error("\"activation_threshold_mV\": \"zero\",", CT_ERR_CONFIG, "must be a number");
    expect_error("\"output\": {\"interval_ms\": 0.001},", CT_ERR_CONFIG, "shorter than dt_ms");
    expect_error("\"diffusion\": {\"method\": \"rk4\"},", CT_ERR_CONFIG, "diffusion.method");
    expect_error("\"diffusion\": {\"mass\": \"heavy\"},", CT_ERR_CONFIG, "diffusion.mass");
}

/* ecg.superior / ecg.anterior: the body frame of the 12-lead electrodes, checked here so that a bad one
 * names its key. */
Test(config, ecg_body_frame_is_read_normalised_and_checked)
{
    ct_config c;
    cr_assert_eq(parse_with("", &c), CT_OK, "%s", ct_error_message());
    cr_assert_eq(c.ecg_has_body_frame, 0, "no frame given: the ECG's default +z / +y");
    ct_config_free(&c);
    cr_assert_eq(parse_with("\"ecg\": {\"superior\": [0, 0, -2], \"anterior\": [3, 0, 0.1]},", &c), CT_OK, "%s",
                 ct_error_message());
    cr_assert_eq(c.ecg_has_body_frame, 1);
    cr_assert_float_eq(c.ecg_superior[2], -1.0, 1e-15);
    cr_assert_float_eq(c.ecg_anterior[0], 3.0 / sqrt(9.01), 1e-15);
    ct_config_free(&c);
    expect_error("\"ecg\": {\"superior\": [0, 0, 0], \"anterior\": [0, 1, 0]},", CT_ERR_CONFIG, "ecg.superior");
    expect_error("\"ecg\": {\"superior\": [0, 0, 1], \"anterior\": [0, 0, 0]},", CT_ERR_CONFIG, "ecg.anterior");
    expect_error("\"ecg\": {\"superior\": [0, 0, 1], \"anterior\": [0, 0, -5]},", CT_ERR_CONFIG, "ecg.anterior");
    expect_error("\"ecg\": {\"superior\": [0, 0, 1]},", CT_ERR_CONFIG, "ecg.anterior");
    expect_error("\"ecg\": {\"anterior\": [0, 1, 0]},", CT_ERR_CONFIG, "ecg.superior");
    expect_error("\"ecg\": {\"superior\": [0, 1e999, 1], \"anterior\": [0, 1, 0]},", CT_ERR_CONFIG, "ecg.superior");
    expect_error("\"ecg\": {\"superior\": [0, 1], \"anterior\": [0, 1, 0]},", CT_ERR_CONFIG, "ecg.superior");
    expect_error("\"ecg\": {\"superior\": [0, 0, 1], \"anterior\": \"up\"},", CT_ERR_CONFIG, "ecg.anterior");
    expect_error("\"ecg\": {\"left\": [1, 0, 0]},", CT_ERR_CONFIG, "ecg.left");
}

Test(config, missing_file_is_io_error)
{
    ct_config c;
    cr_assert_eq(ct_config_load("/nonexistent/cfg.json", &c), CT_ERR_IO);
    cr_assert(strstr(ct_error_message(), "/nonexistent/cfg.json"), "%s", ct_error_message());
}

Test(config, stimulus_timing)
{
    ct_stimulus s = {.start_ms = 10, .duration_ms = 2, .period_ms = 100, .count = 3};
    cr_assert(!ct_stimulus_active(&s, 9.99));
    cr_assert(ct_stimulus_active(&s, 10.0));
    cr_assert(ct_stimulus_active(&s, 11.95));
    cr_assert(!ct_stimulus_active(&s, 12.0));
    cr_assert(ct_stimulus_active(&s, 210.5));
    cr_assert(!ct_stimulus_active(&s, 310.5), "only 3 pulses");
    /* a 2 ms pulse at dt 0.05 covers exactly 40 steps */
    int steps = 0;
    for (int k = 0; k < 400; k++)
        steps += ct_stimulus_active(&s, 0.05 * k);
    cr_assert_eq(steps, 40);
}

/* The model object, read through the model descriptors (host/model/ct_model_desc.h): each model takes its own
 * keys (TP06: cell_type and conductance_scales; Mitchell-Schaeffer: parameters), with their ranges, and the
 * messages list what is known. */
static ct_status parse_model_text(const char *model, const char *tissue, ct_config *c)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"mesh\": {\"type\": \"box\", \"size_mm\": [2, 1, 1], \"dx_mm\": 0.5}, \"model\": %s, %s"
             "\"conductivity\": {\"sigma_l_S_per_m\": 0.13, \"sigma_t_S_per_m\": 0.02}, \"chi_per_mm\": 140,"
             "\"Cm_uF_per_mm2\": 0.01, \"dt_ms\": 0.05, \"end_time_ms\": 10, \"stimuli\": []}",
             model, tissue);
    return ct_config_parse(text, "m.json", c);
}

static void expect_model_error(const char *model, const char *tissue, const char *needle)
{
    ct_config c;
    cr_assert_eq(parse_model_text(model, tissue, &c), CT_ERR_CONFIG, "[%s %s] was accepted", model, tissue);
    cr_assert(strstr(ct_error_message(), needle), "message \"%s\" does not say \"%s\"", ct_error_message(), needle);
}

Test(config, model_keys_values_and_messages_come_from_the_descriptors)
{
    ct_config c;
    /* TP06: the cell type by alias, a conductance scale at its parameter index, the others 1 */
    cr_assert_eq(parse_model_text("{\"name\": \"tp06\", \"cell_type\": \"M\", \"conductance_scales\": {\"G_Kr\": 0.5}}",
                                  "", &c),
                 CT_OK, "%s", ct_error_message());
    cr_assert_eq(c.model, CT_MODEL_TP06);
    cr_assert_str_eq(c.cell_type, "mid");
    cr_assert_eq(c.model_params[CT_TP06_P_CELLTYPE], 1.0);
    cr_assert_eq(c.model_params[CT_TP06_P_GKR], 0.5);
    cr_assert_eq(c.model_params[CT_TP06_P_GNA], 1.0);
    cr_assert_eq(c.model_params[CT_TP06_P_GBCA], 1.0);
    cr_assert_eq(c.model_params[CT_TP06_P_GBCA + 1], 0.0);
    ct_config_free(&c);
    /* Mitchell-Schaeffer: a named parameter at its index, the others the published values; no cell type */
    cr_assert_eq(parse_model_text("{\"name\": \"mitchell_schaeffer\", \"parameters\": {\"tau_out_ms\": 7}}",
                                  "\"tissue\": {\"border_zone\": {\"parameters\": {\"tau_in_ms\": 0.5}}},", &c),
                 CT_OK, "%s", ct_error_message());
    cr_assert_eq(c.model, CT_MODEL_MITCHELL_SCHAEFFER);
    cr_assert_str_eq(c.cell_type, "");
    cr_assert_eq(c.model_params[CT_MS_P_TAU_OUT], 7.0);
    cr_assert_float_eq(c.model_params[CT_MS_P_TAU_IN], 0.3, 1e-7);
    cr_assert_eq(c.model_params[CT_MS_P_V_AMP], 100.0);
    cr_assert_eq(c.border_zone_params[CT_MS_P_TAU_IN], 0.5);
    cr_assert(isnan(c.border_zone_params[CT_MS_P_TAU_OUT]));
    ct_config_free(&c);

    expect_model_error("{\"name\": \"tp07\"}", "", "model.name \"tp07\" is not known (expected tp06 or mitchell_schaeffer)");
    expect_model_error("{\"name\": \"tp06\", \"cell_type\": \"apex\"}", "",
                       "\"apex\" is not known (expected endo, mid, epi or from_mesh)");
    expect_model_error("{\"name\": \"tp06\", \"parameters\": {}}", "",
                       "allowed here: name, cell_type, conductance_scales");
    expect_model_error("{\"name\": \"mitchell_schaeffer\", \"cell_type\": \"epi\"}", "", "allowed here: name, parameters");
    expect_model_error("{\"name\": \"tp06\", \"conductance_scales\": {\"G_Kr\": 101}}", "", "G_Kr");
    expect_model_error("{\"name\": \"tp06\", \"conductance_scales\": {\"G_Kx\": 1}}", "", "G_Kx");
    expect_model_error("{\"name\": \"mitchell_schaeffer\", \"parameters\": {\"v_gate\": 1.5}}", "", "v_gate");
    expect_model_error("{\"name\": \"mitchell_schaeffer\"}",
                       "\"tissue\": {\"border_zone\": {\"conductance_scales\": {\"G_Na\": 0.4}}},",
                       "tissue.border_zone.conductance_scales needs model tp06");
    expect_model_error("{\"name\": \"tp06\"}", "\"tissue\": {\"border_zone\": {\"parameters\": {\"tau_in_ms\": 0.4}}},",
                       "needs model mitchell_schaeffer (tp06 takes conductance_scales)");
}

/* "initial_vm_mV": absent leaves the model's initial Vm (has_initial_vm 0); given, it is kept; outside
 * +-vm_bound_mV (or not a number) it is an error naming the key. */
Test(config, initial_vm_key_is_read_and_checked)
{
    ct_config c;
    cr_assert_eq(parse_with("", &c), CT_OK, "%s", ct_error_message());
    cr_assert_eq(c.has_initial_vm, 0);
    ct_config_free(&c);
    cr_assert_eq(parse_with("\"initial_vm_mV\": -60.5,", &c), CT_OK, "%s", ct_error_message());
    cr_assert_eq(c.has_initial_vm, 1);
    cr_assert_float_eq(c.initial_vm_mV, -60.5, 1e-15);
    ct_config_free(&c);
    expect_error("\"initial_vm_mV\": 250,", CT_ERR_CONFIG, "initial_vm_mV");
    expect_error("\"initial_vm_mV\": -201,", CT_ERR_CONFIG, "initial_vm_mV");
    expect_error("\"initial_vm_mV\": \"rest\",", CT_ERR_CONFIG, "initial_vm_mV");
    cr_assert_eq(parse_with("\"vm_bound_mV\": 300, \"initial_vm_mV\": 250,", &c), CT_OK, "%s", ct_error_message());
    ct_config_free(&c);
}
