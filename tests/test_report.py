#!/usr/bin/env python3
"""test_report.py — end-to-end test of tools/ct_report.py: a synthetic report folder (a closed
ellipsoidal surface with activation and APD90 fields, a 12-lead ECG CSV, two pacing sites, an
ablation) is rendered; the PNGs must be real, non-blank images, report.html must be self-contained and
say what the inputs say, and headless Chromium must load every embedded image.

    python3 tests/test_report.py [SOURCE_DIR]

Exit status: 0 passed, 1 failed, 77 skipped (CTest SKIP_RETURN_CODE) when matplotlib/numpy or
Chromium is not installed. CI installs them (Debian: python3-matplotlib python3-numpy chromium), so
there the test runs in full. Without Chromium every other check still runs before the skip.
"""

import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
SOURCE_DIR = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                             os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SCRIPT = os.path.join(SOURCE_DIR, "tools", "ct_report.py")
failures = []


def check(condition, what):
    print(("ok    " if condition else "FAIL  ") + what)
    if not condition:
        failures.append(what)
    return condition


def failed_stderr(result):
    if result.returncode == 0:
        return ""
    return " (exit %d, stderr: %s)" % (result.returncode, result.stderr.strip()[-600:])


def run_report(*args):
    return subprocess.run([sys.executable, SCRIPT] + list(args), capture_output=True, text=True, timeout=300)


# ------------------------------------------------------------------------------------------------
# Synthetic inputs
# ------------------------------------------------------------------------------------------------

SITE_LATERAL = [-18.0, 0.0, -4.0]
SITE_ANTERIOR = [0.0, 18.0, -12.0]
SCAR_CENTRE = [9.0, 12.0, 0.0]


def ellipsoid(n_rings=28, n_around=40, a_mm=18.0, c_mm=32.0):
    """A closed triangulated ellipsoid (LV-sized, long axis z): two poles and n_rings rings."""
    xyz = [[0.0, 0.0, -c_mm]]
    for i in range(1, n_rings + 1):
        theta = math.pi * i / (n_rings + 1)
        for j in range(n_around):
            phi = 2 * math.pi * j / n_around
            xyz.append([a_mm * math.sin(theta) * math.cos(phi), a_mm * math.sin(theta) * math.sin(phi),
                        -c_mm * math.cos(theta)])
    xyz.append([0.0, 0.0, c_mm])
    tris = []
    ring = lambda i, j: 1 + (i - 1) * n_around + (j % n_around)
    for j in range(n_around):
        tris.append([0, ring(1, j + 1), ring(1, j)])
    for i in range(1, n_rings):
        for j in range(n_around):
            tris.append([ring(i, j), ring(i, j + 1), ring(i + 1, j + 1)])
            tris.append([ring(i, j), ring(i + 1, j + 1), ring(i + 1, j)])
    top = len(xyz) - 1
    for j in range(n_around):
        tris.append([top, ring(n_rings, j), ring(n_rings, j + 1)])
    return xyz, tris


def distance(p, q):
    return math.sqrt(sum((a - b) ** 2 for a, b in zip(p, q)))


def make_surface():
    xyz, tris = ellipsoid()
    activation, apd = [], []
    for p in xyz:
        if distance(p, SCAR_CENTRE) < 9.0:  # scar: never activated, no APD
            activation.append(None)
            apd.append(None)
        else:
            activation.append(round(distance(p, SITE_LATERAL) / 0.6, 3))
            apd.append(round(300.0 + 0.6 * p[2] - 0.3 * p[0], 3))
    return {"xyz_mm": [c for p in xyz for c in p], "tris": [i for t in tris for i in t],
            "fields": {"activation_ms": activation, "apd90_ms": apd}}


LEADS = ["I", "II", "III", "aVR", "aVL", "aVF", "V1", "V2", "V3", "V4", "V5", "V6"]


def make_ecg_csv():
    lines = ["time_ms," + ",".join(LEADS)]
    for step in range(0, 451):
        t = float(step)
        row = ["%.1f" % t]
        for k in range(len(LEADS)):
            w = math.cos(0.55 * k)
            qrs = w * 1.2 * (t - 45) / 12 * math.exp(-((t - 45) / 12) ** 2)
            qrs += 0.4 * math.sin(0.9 * k) * math.exp(-((t - 60) / 8) ** 2)
            twave = 0.35 * (0.6 + 0.4 * math.sin(0.3 * k)) * math.exp(-((t - 320) / 35) ** 2)
            row.append("%.5f" % (qrs + twave))
        lines.append(",".join(row))
    return "\n".join(lines) + "\n"


def make_report(ablation=True, ecg=True):
    report = {
        "format": "cardiotwin-report-1",
        "title": "Synthetic patient: arrhythmia-risk assessment",
        "patient": {"source": "patients/synthetic.json",
                    "description": "Idealised LV with an anterior scar (synthetic test case)",
                    "n_nodes": 3554, "n_tets": 12775, "volume_mm3": 98000.0, "healthy_volume_mm3": 88000.0,
                    "border_zone_volume_mm3": 4500.0, "scar_volume_mm3": 5500.0},
        "baseline": {"status": "ok", "total_activation_time_ms": 70.1, "qrs_ms": 72, "qt_ms": 385,
                     "apd90_mean_ms": 314, "apd90_sd_ms": 7.6, "apd90_min_ms": 290, "apd90_max_ms": 330,
                     "repolarisation_dispersion_ms": 60, "max_rt_gradient_ms_per_mm": 12.3,
                     "volume_above_10_ms_per_mm_mm3": 5.2, "ecg_csv": "baseline/ecg.csv" if ecg else None},
        "protocol": {"s1_count": 6, "s1_bcl_ms": 600, "extra_stimuli": 2, "ci_start_ms": 350, "ci_step_ms": 20,
                     "ci_min_ms": 180, "observe_ms": 1000, "model": "tp06", "backend": "cpu", "dt_ms": 0.05},
        "sites": [
            {"name": "LV lateral (AHA 11)", "position_mm": SITE_LATERAL, "status": "ok", "inducible": True,
             "induced_by": "S3", "coupling_ms": [300, 260], "erp_ms": {"S2": 280, "S3": 240},
             "cycle_length_ms": 210.5,
             "phase_singularities": [{"position_mm": [12.0, 14.0, -4.0], "charge": 1},
                                     {"position_mm": [4.0, 17.0, 5.0], "charge": -1}],
             "simulated_ms": 9000, "wall_s": 120.3},
            {"name": "Anterior apex (AHA 13)", "position_mm": SITE_ANTERIOR, "status": "ok", "inducible": False,
             "induced_by": None, "coupling_ms": [300, 180], "erp_ms": {"S2": 250, "S3": None},
             "cycle_length_ms": None, "phase_singularities": [], "simulated_ms": 8000, "wall_s": 101.0},
        ],
        "ablation": None,
        "notes": ["pseudo-ECG amplitudes are arbitrary", "synthetic fields, not a simulation"],
    }
    if ablation:
        report["ablation"] = {
            "lesions": [{"shape": "sphere", "center_mm": [9.0, 12.0, 0.0], "radius_mm": 3, "volume_mm3": 20.1,
                         "transmural": True},
                        {"shape": "line", "from_mm": [0.0, 18.0, 0.0], "to_mm": [0.0, 18.0, 10.0], "radius_mm": 2,
                         "volume_mm3": 30, "transmural": False}],
            "sites": [{"name": "LV lateral (AHA 11)", "inducible_before": True, "inducible_after": False},
                      {"name": "Anterior apex (AHA 13)", "inducible_before": False, "inducible_after": False}]}
    return report


def write_case(folder, report, surface=True, ecg=True):
    os.makedirs(os.path.join(folder, "baseline"), exist_ok=True)
    with open(os.path.join(folder, "report.json"), "w") as f:
        json.dump(report, f, indent=1)
    if surface:
        with open(os.path.join(folder, "surface.json"), "w") as f:
            json.dump(make_surface(), f)
    if ecg:
        with open(os.path.join(folder, "baseline", "ecg.csv"), "w") as f:
            f.write(make_ecg_csv())


# ------------------------------------------------------------------------------------------------
# Checks
# ------------------------------------------------------------------------------------------------

def png_dimensions(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def check_png(path, min_size, max_size, min_colours=1, min_coloured=0.0):
    """A valid PNG of a plausible size whose pixels are not (nearly) all one colour; with min_colours,
    at least that many distinct colours, and with min_coloured, at least that fraction of the image
    in saturated colour (a surface map, not just its colour bar and legend)."""
    import numpy
    import matplotlib.image
    name = os.path.basename(path)
    if not check(os.path.isfile(path), "%s exists" % name):
        return
    size = png_dimensions(path)
    if not check(size is not None, "%s has a PNG signature and IHDR" % name):
        return
    check(min_size[0] <= size[0] <= max_size[0] and min_size[1] <= size[1] <= max_size[1],
          "%s is %dx%d px, within %s..%s" % (name, size[0], size[1], min_size, max_size))
    pixels = matplotlib.image.imread(path)
    rgb = pixels[..., :3].astype(float)
    check(rgb.shape[:2] == (size[1], size[0]), "%s decodes to its stated size" % name)
    variance = float(rgb.var())
    not_white = float((rgb.min(axis=2) < 0.9).mean())
    check(variance > 2e-3 and not_white > 0.01,
          "%s is not blank (pixel variance %.4f, %.1f %% non-white)" % (name, variance, 100 * not_white))
    if min_colours > 1:
        quantised = numpy.unique((rgb.reshape(-1, 3) * 15).round().astype(int), axis=0)
        check(len(quantised) >= min_colours,
              "%s shows a colour scale (%d distinct colours >= %d)" % (name, len(quantised), min_colours))
    if min_coloured > 0:
        coloured = float(((rgb.max(axis=2) - rgb.min(axis=2)) > 0.15).mean())
        check(coloured >= min_coloured, "%s is %.1f %% coloured surface (>= %.0f %%)"
              % (name, 100 * coloured, 100 * min_coloured))


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    return None


def chromium(binary, profile, *args):
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
               "--no-first-run", "--user-data-dir=" + profile, "--virtual-time-budget=5000"] + list(args)
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def check_full_report(folder):
    start = time.time()
    result = run_report("report", folder)
    print("      ct_report.py report took %.1f s" % (time.time() - start))
    if not check(result.returncode == 0, "report exits 0" + failed_stderr(result)):
        return None
    check(result.stderr.strip() == "", "report prints nothing on stderr")
    check_png(os.path.join(folder, "ecg.png"), (600, 500), (4000, 4000))
    check_png(os.path.join(folder, "activation.png"), (600, 300), (4000, 4000), min_colours=40, min_coloured=0.1)
    check_png(os.path.join(folder, "apd90.png"), (600, 300), (4000, 4000), min_colours=40, min_coloured=0.1)
    leftovers = [n for n in os.listdir(folder) if n.endswith(".tmp")]
    check(not leftovers, "no temporary files left in the folder (%s)" % leftovers)

    with open(os.path.join(folder, "report.html"), encoding="utf-8") as f:
        page = f.read()
    check(page.lstrip().lower().startswith("<!doctype html>"), "report.html is an HTML document")
    check(not re.search(r"https?://", page, re.I), "report.html references no http(s):// resource")
    sources = re.findall(r'\b(?:src|href)\s*=\s*["\']([^"\']*)', page, re.I)
    check(all(s.startswith("data:") for s in sources), "every src/href is an embedded data URI (%d)" % len(sources))
    check(not re.search(r"<link\b|@import|url\(", page, re.I), "no stylesheet links, @import or url()")
    images = re.findall(r"<img\b", page, re.I)
    check(len(images) == 3, "report.html embeds 3 images (found %d)" % len(images))
    for text in ("LV lateral (AHA 11)", "Anterior apex (AHA 13)",
                 "Re-entry inducible from 1 of 2 sites before ablation, 0 after",
                 "Idealised LV with an anterior scar", "pseudo-ECG amplitudes are arbitrary",
                 "synthetic fields, not a simulation", "Limitations", "210.5", "S3 240", "S3 not determined",
                 "no (gap risk)", "12,775 tetrahedra", "Dispersion of repolarisation", "60 ms", "tp06"):
        check(text in page, "report.html contains %r" % text)
    check("not computed" not in page, "every section of the full report is computed")
    return page.count("<img")


def check_browser(folder, n_images, scratch):
    binary = find_chromium()
    if binary is None:
        return False
    url = "file://" + os.path.join(os.path.abspath(folder), "report.html")
    start = time.time()
    dom = chromium(binary, os.path.join(scratch, "profile-dom"), "--dump-dom", url)
    print("      chromium --dump-dom took %.1f s" % (time.time() - start))
    check(dom.returncode == 0, "chromium --dump-dom exits 0" + failed_stderr(dom))
    found = re.search(r'<body[^>]*\bdata-images-loaded="(\d+)"', dom.stdout)
    check(found is not None and int(found.group(1)) == n_images,
          "Chromium loaded every image: data-images-loaded=%s, expected %d"
          % (found.group(1) if found else "absent", n_images))
    shot = os.path.join(scratch, "screenshot.png")
    result = chromium(binary, os.path.join(scratch, "profile-shot"), "--hide-scrollbars",
                      "--window-size=1280,2400", "--screenshot=" + shot, url)
    check(result.returncode == 0, "chromium --screenshot exits 0" + failed_stderr(result))
    check_png(shot, (1000, 1000), (3000, 5000), min_colours=20)
    return True


def check_ecg_command(folder):
    """The ecg command plots whatever leads a CSV has: a subset of the 12, or other names."""
    os.makedirs(folder)
    for case, leads in (("subset", ["II", "V1", "V5"]), ("other_names", ["lead_a", "lead_b", "lead_c", "lead_d"])):
        csv = os.path.join(folder, case + ".csv")
        with open(csv, "w") as f:
            f.write("time_ms," + ",".join(leads) + "\n")
            for t in range(300):
                f.write("%d,%s\n" % (t, ",".join("%.4f" % (math.sin(t / 20.0 + k) * (k + 1))
                                                  for k in range(len(leads)))))
        png = os.path.join(folder, case + ".png")
        result = run_report("ecg", csv, png, "--title", "ECG " + case)
        if check(result.returncode == 0, "ecg %s exits 0" % case + failed_stderr(result)):
            check_png(png, (500, 300), (4000, 4000))


def check_partial_report(folder):
    """No ablation, no ECG, no surface.json: those sections say "not computed", stale images go."""
    write_case(folder, make_report(ablation=False, ecg=False), surface=False, ecg=False)
    for stale in ("ecg.png", "activation.png", "apd90.png"):
        with open(os.path.join(folder, stale), "wb") as f:
            f.write(b"stale")
    result = run_report("report", folder)
    if not check(result.returncode == 0, "partial report exits 0" + failed_stderr(result)):
        return
    with open(os.path.join(folder, "report.html"), encoding="utf-8") as f:
        page = f.read()
    check(page.count("not computed") >= 4, "ablation, ECG and both maps say \"not computed\" (%d)"
          % page.count("not computed"))
    check("<img" not in page, "the partial report embeds no image")
    check(not any(os.path.exists(os.path.join(folder, n)) for n in ("ecg.png", "activation.png", "apd90.png")),
          "images from an earlier report are removed")


def make_vt_report(cycle_ms, lat_window_ms):
    """The full report plus one induced VT on the ellipsoid (`cardiotwin plan`'s "vt" and "circuit"): a wave
    turning round the long axis, its LAT wrapping from late to early along the meridian that faces the +y
    view, an isthmus and its proposed lesion on the scar's border."""
    report = make_report(ablation=False)
    xyz, _ = ellipsoid()
    lat = [None if distance(p, SCAR_CENTRE) < 9.0 else
           round((math.atan2(-p[0], p[1]) % (2 * math.pi)) / (2 * math.pi) * 0.97 * cycle_ms, 2) for p in xyz]
    circuit = {"found": True, "cycle_length_ms": cycle_ms, "direction": "clockwise",
               "isthmus": {"width_mm": 4, "from_mm": [14.0, 10.0, 2.0], "to_mm": [16.5, 6.0, 2.0],
                           "entrance_mm": [10.0, 14.5, -6.0], "exit_mm": [16.0, 7.0, 8.0]},
               "lesion": {"spec": "line:13.000,11.500,2.000,17.500,4.500,2.000,1.5"}}
    site = report["sites"][0]
    site["circuit"] = circuit
    site["vt"] = {"classification": "monomorphic", "cl_ms": [cycle_ms] * 3, "cl_mean_ms": cycle_ms,
                  "lat_window_ms": lat_window_ms, "lat_span_ms": 0.97 * cycle_ms, "lat_surface_ms": lat,
                  "lat_file": "site-01-vt.vtu"}
    report["plan"] = {"rounds": [{"round": 0, "circuits": [circuit]}]}
    return report


def dark_pixels(path):
    import matplotlib.image
    rgb = matplotlib.image.imread(path)[..., :3]
    return int((rgb.max(axis=2) < 0.1).sum())


def check_vt_cycle_map(folder):
    """A VT's cycle map on a heart (two views): triangles across which LAT wraps by over half the cycle
    are black (early meets late), not a mean colour; the isthmus is drawn and the caption says so."""
    sys.path.insert(0, os.path.dirname(SCRIPT))
    sys.dont_write_bytecode = True  # no __pycache__ in the source tree
    import numpy
    import ct_report
    corner = numpy.array([[0.0, 10.0, 290.0], [0.0, 100.0, 140.0], [0.0, float("nan"), 290.0]])
    check(ct_report.early_meets_late(numpy, corner, 300.0).tolist() == [True, False, False],
          "early_meets_late: a 290 ms jump in a 300 ms cycle, not 140 ms nor a corner without a value")
    check(not ct_report.early_meets_late(numpy, corner, None).any(), "early_meets_late: none without a cycle")
    counts = {}
    for case, window in (("wrapping", 300.0), ("unwrapped", 3000.0)):
        sub = os.path.join(folder, case)
        write_case(sub, make_vt_report(300.0, window), ecg=False)
        result = run_report("report", sub)
        if not check(result.returncode == 0, "VT report (%s) exits 0" % case + failed_stderr(result)):
            return
        png = os.path.join(sub, "vt-1-lat.png")
        check_png(png, (600, 300), (4000, 4000), min_colours=40, min_coloured=0.1)
        counts[case] = dark_pixels(png)
        with open(os.path.join(sub, "report.html"), encoding="utf-8") as f:
            page = f.read()
        check("activation map of the VT cycle" in page and "black: triangles across which LAT jumps" in page
              and "Dashed: the isthmus" in page, "report.html (%s) captions the VT cycle map" % case)
    check(counts["wrapping"] > counts["unwrapped"] + 2000,
          "the early-meets-late meridian is black (%d dark pixels, %d where the cycle is 10 times longer)"
          % (counts["wrapping"], counts["unwrapped"]))


def check_bad_input_keeps_report(folder):
    """A bad report.json fails with the key named and leaves the earlier report.html as it was."""
    path = os.path.join(folder, "report.html")
    with open(path, "rb") as f:
        before = f.read()
    report = make_report()
    del report["patient"]["n_nodes"]
    with open(os.path.join(folder, "report.json"), "w") as f:
        json.dump(report, f)
    result = run_report("report", folder)
    check(result.returncode == 1, "a missing key exits 1 (got %d)" % result.returncode)
    check("patient.n_nodes" in result.stderr and len(result.stderr.strip().splitlines()) == 1,
          "the error is one line naming the key: %s" % result.stderr.strip())
    with open(path, "rb") as f:
        check(f.read() == before, "the earlier report.html is untouched")


def main():
    try:
        import numpy  # noqa: F401
        import matplotlib  # noqa: F401
    except ImportError as e:
        print("SKIP: %s has no numpy/matplotlib (%s); Debian: apt-get install python3-numpy python3-matplotlib"
              % (sys.executable, e))
        return SKIP
    start = time.time()
    scratch = tempfile.mkdtemp(prefix="ct_test_report_")
    try:
        full = os.path.join(scratch, "full")
        write_case(full, make_report())
        n_images = check_full_report(full)
        browser = False
        if n_images is not None:
            browser = check_browser(full, n_images, scratch)
        check_bad_input_keeps_report(full)
        check_partial_report(os.path.join(scratch, "partial"))
        check_vt_cycle_map(os.path.join(scratch, "vt"))
        check_ecg_command(os.path.join(scratch, "ecg"))
    finally:
        if os.environ.get("CT_KEEP_TEST_OUTPUT"):
            print("      output kept in %s" % scratch)
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print("      total %.1f s" % (time.time() - start))
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    if not browser:
        print("SKIP: Chromium not installed (Debian: apt-get install chromium); every other check passed")
        return SKIP
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
