#!/usr/bin/env python3
"""test_report_malformed.py — tools/ct_report.py refuses bad input: each case must exit 1 with one line
on stderr that names the file and the key or line, and must write nothing. Usage errors exit 2.

    python3 tests/test_report_malformed.py [SOURCE_DIR]

Needs only Python 3: ct_report.py checks every input before it imports numpy or matplotlib, so this
test runs (and never skips) on a machine without them.
"""

import copy
import json
import os
import shutil
import subprocess
import sys
import tempfile

SOURCE_DIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SCRIPT = os.path.join(SOURCE_DIR, "tools", "ct_report.py")
failures = []

GOOD_REPORT = {
    "format": "cardiotwin-report-1",
    "title": "Malformed-input test",
    "patient": {"source": "patients/demo.json", "description": "test", "n_nodes": 4, "n_tets": 1,
                "volume_mm3": 10.0, "healthy_volume_mm3": 8.0, "border_zone_volume_mm3": 1.0, "scar_volume_mm3": 1.0},
    "baseline": {"status": "ok", "qrs_ms": 72, "qt_ms": 385, "ecg_csv": "ecg.csv"},
    "protocol": {"s1_count": 6, "s1_bcl_ms": 600, "extra_stimuli": 2, "ci_start_ms": 350, "ci_step_ms": 20,
                 "ci_min_ms": 180, "observe_ms": 1000},
    "sites": [{"name": "AHA 1", "position_mm": [1, 2, 3], "status": "ok", "inducible": True, "induced_by": "S2",
               "coupling_ms": [300], "erp_ms": {"S2": 280}, "cycle_length_ms": 210.5,
               "phase_singularities": [{"position_mm": [1, 2, 3], "charge": 1}]},
              {"name": "AHA 2", "position_mm": [4, 5, 6], "status": "failed", "message": "blew up"}],
    "ablation": {"lesions": [{"shape": "sphere", "center_mm": [0, 0, 0], "radius_mm": 3, "volume_mm3": 20,
                              "transmural": True}],
                 "sites": [{"name": "AHA 1", "inducible_before": True, "inducible_after": False}]},
    "notes": ["a note"],
}
GOOD_SURFACE = {"xyz_mm": [0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1], "tris": [0, 2, 1, 0, 1, 3, 0, 3, 2, 1, 2, 3],
                "fields": {"activation_ms": [0, 1, 2, None], "apd90_ms": [300, 301, 302, None]}}
GOOD_CSV = "time_ms,I,II,V1\n0,0.0,0.1,0.2\n1,0.1,0.2,0.3\n2,0.0,0.1,0.2\n"


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        failures.append(what)
    return condition


def run(*args):
    return subprocess.run([sys.executable, SCRIPT] + list(args), capture_output=True, text=True, timeout=120)


def expect_error(case, args, must_name, folder, code=1):
    """The command exits with code, prints one line naming everything in must_name, writes nothing."""
    before = sorted(os.listdir(folder))
    result = run(*args)
    message = result.stderr.strip()
    lines = message.splitlines()
    check(result.returncode == code, "%s: exit %d (got %d)" % (case, code, result.returncode))
    check(len(lines) == 1, "%s: one line on stderr (got %d: %r)" % (case, len(lines), message[:300]))
    missing = [text for text in must_name if text not in message]
    check(not missing, "%s: the message names %s: %s" % (case, must_name, message))
    check(sorted(os.listdir(folder)) == before, "%s: nothing written" % case)


def write(path, text):
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def report_case(scratch, case, mutate=None, raw_report=None, surface=None, csv=None, must_name=()):
    folder = os.path.join(scratch, case.replace(" ", "_"))
    os.makedirs(folder)
    if raw_report is not None:
        write(os.path.join(folder, "report.json"), raw_report)
    elif mutate is not False:
        report = copy.deepcopy(GOOD_REPORT)
        if mutate:
            mutate(report)
        write(os.path.join(folder, "report.json"), json.dumps(report, indent=1))
    write(os.path.join(folder, "surface.json"), surface if surface is not None else json.dumps(GOOD_SURFACE))
    write(os.path.join(folder, "ecg.csv"), csv if csv is not None else GOOD_CSV)
    expect_error("report: " + case, ["report", folder], list(must_name), folder)


def ecg_case(scratch, case, csv_text, must_name):
    folder = os.path.join(scratch, "ecg_" + case.replace(" ", "_"))
    os.makedirs(folder)
    csv_path = os.path.join(folder, "ecg.csv")
    if csv_text is not None:
        write(csv_path, csv_text)
    expect_error("ecg: " + case, ["ecg", csv_path, os.path.join(folder, "ecg.png")],
                 [name.replace("CSV", csv_path) for name in must_name], folder)


def main():
    scratch = tempfile.mkdtemp(prefix="ct_test_report_malformed_")
    try:
        # report.json
        report_case(scratch, "no report.json", mutate=False, must_name=["report.json", "not found"])
        report_case(scratch, "missing patient key", mutate=lambda r: r["patient"].pop("n_nodes"),
                    must_name=["report.json", "missing required key", '"patient.n_nodes"'])
        report_case(scratch, "missing title", mutate=lambda r: r.pop("title"),
                    must_name=["report.json", "missing required key", '"title"'])
        report_case(scratch, "wrong format", mutate=lambda r: r.update(format="cardiotwin-report-0"),
                    must_name=['"format"', "cardiotwin-report-1"])
        report_case(scratch, "NaN metric", raw_report=json.dumps(GOOD_REPORT).replace('"qrs_ms": 72', '"qrs_ms": NaN'),
                    must_name=["report.json", '"baseline.qrs_ms"', "finite"])
        report_case(scratch, "null volume", mutate=lambda r: r["patient"].update(scar_volume_mm3=None),
                    must_name=['"patient.scar_volume_mm3"', "number"])
        report_case(scratch, "null coordinate", mutate=lambda r: r["sites"][0]["position_mm"].__setitem__(1, None),
                    must_name=['"sites[0].position_mm[1]"'])
        report_case(scratch, "site without inducible", mutate=lambda r: r["sites"][0].pop("inducible"),
                    must_name=["missing required key", '"sites[0].inducible"'])
        report_case(scratch, "inducible not boolean", mutate=lambda r: r["sites"][0].update(inducible="yes"),
                    must_name=['"sites[0].inducible"', "true or false"])
        report_case(scratch, "lesion without centre", mutate=lambda r: r["ablation"]["lesions"][0].pop("center_mm"),
                    must_name=["missing required key", '"ablation.lesions[0].center_mm"'])
        report_case(scratch, "ablation site without outcome",
                    mutate=lambda r: r["ablation"]["sites"][0].pop("inducible_after"),
                    must_name=["missing required key", '"ablation.sites[0].inducible_after"'])
        report_case(scratch, "note not a string", mutate=lambda r: r["notes"].append(3), must_name=['"notes[1]"'])
        report_case(scratch, "malformed JSON", raw_report='{\n  "format": "cardiotwin-report-1",\n  "title": \n}\n',
                    must_name=["report.json:4:", "malformed JSON"])
        report_case(scratch, "duplicate key",
                    raw_report=json.dumps(GOOD_REPORT).replace('"title":', '"title": "x", "title":'),
                    must_name=["report.json", 'duplicate key "title"'])
        # surface.json
        bad_tris = dict(GOOD_SURFACE, tris=[0, 2, 1, 0, 1, 9])
        report_case(scratch, "triangle node out of range", surface=json.dumps(bad_tris),
                    must_name=["surface.json", '"tris[5]"'])
        short_field = copy.deepcopy(GOOD_SURFACE)
        short_field["fields"]["apd90_ms"].pop()
        report_case(scratch, "field too short", surface=json.dumps(short_field),
                    must_name=["surface.json", '"fields.apd90_ms"', "one value per node"])
        report_case(scratch, "surface without xyz", surface=json.dumps({"tris": [], "fields": {}}),
                    must_name=["surface.json", '"xyz_mm"'])
        # the ECG named by report.json
        report_case(scratch, "bad ECG line", csv=GOOD_CSV.replace("1,0.1,0.2,0.3", "1,0.1,abc,0.3"),
                    must_name=["ecg.csv:3:", '"II"', "abc"])

        # ecg subcommand
        ecg_case(scratch, "bad line", GOOD_CSV + "3,0.1,oops,0.2\n", ["CSV:5:", '"II"', '"oops"'])
        ecg_case(scratch, "empty file", "", ["CSV:1:", "empty"])
        ecg_case(scratch, "header only", "time_ms,I,II\n", ["CSV:2:", "two rows"])
        ecg_case(scratch, "wrong first column", "t,I\n0,1\n1,2\n", ["CSV:1:", "time_ms"])
        ecg_case(scratch, "no leads", "time_ms\n0\n1\n", ["CSV:1:", "no lead"])
        ecg_case(scratch, "duplicate lead", "time_ms,I,I\n0,1,1\n1,2,2\n", ["CSV:1:", '"I"', "twice"])
        ecg_case(scratch, "missing field", "time_ms,I,II\n0,1,1\n1,2\n", ["CSV:3:", "2 fields", "has 3"])
        ecg_case(scratch, "time going back", "time_ms,I\n0,1\n2,1\n1,1\n", ["CSV:4:", "does not increase"])
        ecg_case(scratch, "infinite value", "time_ms,I\n0,1\n1,inf\n", ["CSV:3:", "finite"])
        ecg_case(scratch, "blank line inside", "time_ms,I\n0,1\n\n1,1\n", ["CSV:3:", "blank line"])
        ecg_case(scratch, "missing file", None, ["CSV", "not found"])

        # usage
        usage = os.path.join(scratch, "usage")
        os.makedirs(usage)
        expect_error("no command", [], ["ct_report"], usage, code=2)
        expect_error("unknown command", ["plot"], ["ct_report"], usage, code=2)
        expect_error("ecg without PNG", ["ecg", "x.csv"], ["ct_report"], usage, code=2)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
