/* fuzz_patient.c — libFuzzer target for patient files (ct_patient_check: the JSON parsing and checks of
 * `cardiotwin personalise`, without meshing or writing anything). */
#include <stdint.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "personalise/ct_patient.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = ct_fuzz_string(data, size);
    ct_status st = ct_patient_check(text, "fuzz_patient.json");
    ct_fuzz_check_status(st, "fuzz_patient.json", "ct_patient_check");
    free(text);
    return 0;
}
