#!/usr/bin/env python3
"""ct_report.py — renders cardiotwin's arrhythmia-risk report: 12-lead pseudo-ECG plots, surface maps
and one self-contained HTML page.

    ct_report.py ecg ECG_CSV PNG [--title T]   plot a pseudo-ECG CSV (time_ms, then one column per lead)
    ct_report.py report DIR                    DIR/report.json + DIR/surface.json (+ the ECG CSV that
                                               report.json names) -> DIR/ecg.png, DIR/activation.png,
                                               DIR/apd90.png, DIR/report.html

Inputs (written by the C program; every number carries its unit in its key name):
  report.json   "format": "cardiotwin-report-1"; "title", "patient" required; "baseline", "protocol",
                "sites", "ablation", "notes" optional (absent or null: the section says "not computed").
  surface.json  "xyz_mm" (flat x,y,z per node), "tris" (flat node triples), "fields" ("activation_ms",
                "apd90_ms": one value per node, null where undefined). Optional "long_axis" (apex -> base)
                and "anterior_dir" orient the views; by default z is the long axis and +y anterior, as in
                the idealised meshes. Optional "aha_segments" (true for a heart mesh with AHA segments).
                A heart is drawn in anterior and posterior views (base up); a slab or sheet (no AHA
                segments or axes, one extent under a quarter of the largest) as a plan view with its true
                aspect ratio and a mm scale bar; ablate's lesions are drawn on both kinds of map.
                Without surface.json the maps say "not computed".

Every input is read and checked before anything is written, so bad input never touches an earlier
report. Each output is written to a temporary name in its folder and renamed into place.
Exit status: 0 done, 1 bad or missing input (one line on stderr naming the file and the key or line),
2 bad command-line usage.

Needs Python 3 with numpy and matplotlib (Debian 12: python3-numpy, python3-matplotlib). They are
imported only when plotting starts, so input checking works without them.
"""

import argparse
import base64
import datetime
import html
import json
import math
import os
import struct
import sys
import tempfile

PROG = "ct_report"
REPORT_FORMAT = "cardiotwin-report-1"
LIMB_LEADS = ["I", "II", "III", "aVR", "aVL", "aVF"]
PRECORDIAL_LEADS = ["V1", "V2", "V3", "V4", "V5", "V6"]
NOT_COMPUTED = "not computed"
NAN_GREY = (0.62, 0.62, 0.62, 1.0)
EARLY_MEETS_LATE = (0.0, 0.0, 0.0, 1.0)  # a VT cycle map's triangles across which LAT wraps round the cycle
EARLY_MEETS_LATE_FRACTION = 0.5  # ... by more than this fraction of the cycle length
EARLY_MEETS_LATE_LABEL = "early meets late (LAT jump > half the cycle)"


class InputError(Exception):
    """Bad or missing input; the message names the file and the key or line."""


# ----------------------------------------------------------------------------------------------
# Checked access to the JSON inputs
# ----------------------------------------------------------------------------------------------

def _reject_duplicate_keys(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError('duplicate key "%s"' % key)
        seen[key] = value
    return seen


def load_json_file(path):
    """Parses a JSON object file; syntax errors name the line and column."""
    try:
        with open(path, "r", encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise InputError("%s: file not found" % path)
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("%s: cannot read: %s" % (path, e))
    try:
        value = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
    except json.JSONDecodeError as e:
        raise InputError("%s:%d:%d: malformed JSON: %s" % (path, e.lineno, e.colno, e.msg))
    except ValueError as e:
        raise InputError("%s: %s" % (path, e))
    if not isinstance(value, dict):
        raise InputError("%s: the top level must be a JSON object" % path)
    return value


class Node:
    """A JSON value with the file it came from and its key path, for error messages."""

    def __init__(self, path, key, value):
        self.path = path
        self.key = key
        self.value = value

    def fail(self, what):
        raise InputError('%s: "%s" %s' % (self.path, self.key, what))

    def _child_key(self, name):
        if isinstance(name, int):
            return "%s[%d]" % (self.key, name)
        return "%s.%s" % (self.key, name) if self.key else name

    def is_null(self):
        return self.value is None

    def get(self, name, required=True):
        """Child by key; a missing key is an error when required, else a Node holding None."""
        obj = self.object()
        if name not in obj:
            if required:
                raise InputError('%s: missing required key "%s"' % (self.path, self._child_key(name)))
            return Node(self.path, self._child_key(name), None)
        return Node(self.path, self._child_key(name), obj[name])

    def object(self):
        if not isinstance(self.value, dict):
            self.fail("must be an object")
        return self.value

    def items(self):
        return [Node(self.path, self._child_key(i), v) for i, v in enumerate(self.list())]

    def list(self):
        if not isinstance(self.value, list):
            self.fail("must be an array")
        return self.value

    def string(self, nullable=False):
        if self.value is None and nullable:
            return None
        if not isinstance(self.value, str):
            self.fail("must be a string")
        return self.value

    def boolean(self, nullable=False):
        if self.value is None and nullable:
            return None
        if not isinstance(self.value, bool):
            self.fail("must be true or false")
        return self.value

    def number(self, nullable=False, minimum=None):
        """A finite number; null only where nullable (null stands for "not determined")."""
        v = self.value
        if v is None and nullable:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail("must be a number" + (" or null" if nullable else "") +
                      (", got null" if v is None else ""))
        if not math.isfinite(v):
            self.fail("must be a finite number, got %s" % v)
        if minimum is not None and v < minimum:
            self.fail("must be >= %s, got %s" % (minimum, v))
        return float(v)

    def integer(self, minimum=None):
        v = self.number(minimum=minimum)
        if v != int(v):
            self.fail("must be a whole number, got %s" % v)
        return int(v)

    def vec3(self):
        items = self.items()
        if len(items) != 3:
            self.fail("must be an array of 3 numbers (x, y, z in mm)")
        return [item.number() for item in items]


# ----------------------------------------------------------------------------------------------
# report.json
# ----------------------------------------------------------------------------------------------

BASELINE_METRICS = [  # key, label, unit
    ("total_activation_time_ms", "Total activation time", "ms"),
    ("qrs_ms", "QRS duration (pseudo-ECG)", "ms"),
    ("qt_ms", "QT interval (pseudo-ECG)", "ms"),
    ("apd90_mean_ms", "APD90 mean", "ms"),
    ("apd90_sd_ms", "APD90 standard deviation", "ms"),
    ("apd90_min_ms", "APD90 minimum", "ms"),
    ("apd90_max_ms", "APD90 maximum", "ms"),
    ("repolarisation_dispersion_ms", "Dispersion of repolarisation", "ms"),
    ("max_rt_gradient_ms_per_mm", "Steepest repolarisation-time gradient", "ms/mm"),
    ("volume_above_10_ms_per_mm_mm3", "Tissue volume with RT gradient above 10 ms/mm", "mm\u00b3"),
]

PROTOCOL_FIELDS = [  # key, label, unit, required
    ("s1_count", "S1 beats", "", True),
    ("s1_bcl_ms", "S1 basic cycle length", "ms", True),
    ("extra_stimuli", "Extra stimuli (S2, S3, ...)", "", True),
    ("ci_start_ms", "First coupling interval", "ms", True),
    ("ci_step_ms", "Coupling-interval decrement", "ms", True),
    ("ci_min_ms", "Shortest coupling interval", "ms", True),
    ("observe_ms", "Observation after the last extra stimulus", "ms", True),
    ("model", "Ionic model", "", False),
    ("backend", "Compute backend", "", False),
    ("dt_ms", "Time step", "ms", False),
]


def optional_section(root, name):
    """The section's Node, or None when absent or null ("not computed")."""
    node = root.get(name, required=False)
    return None if node.is_null() else node


def parse_report(path):
    """Reads and checks report.json; returns plain Python data (None for sections not computed)."""
    root = Node(path, "", load_json_file(path))
    fmt = root.get("format").string()
    if fmt != REPORT_FORMAT:
        root.get("format").fail('must be "%s", got "%s"' % (REPORT_FORMAT, fmt))
    report = {"title": root.get("title").string()}

    p = root.get("patient")
    p.object()
    report["patient"] = {
        "source": p.get("source", required=False).string(nullable=True),
        "description": p.get("description").string(),
        "n_nodes": p.get("n_nodes").integer(minimum=0),
        "n_tets": p.get("n_tets").integer(minimum=0),
        "volume_mm3": p.get("volume_mm3").number(minimum=0),
        "healthy_volume_mm3": p.get("healthy_volume_mm3").number(minimum=0),
        "border_zone_volume_mm3": p.get("border_zone_volume_mm3").number(minimum=0),
        "scar_volume_mm3": p.get("scar_volume_mm3").number(minimum=0),
        "lesion_volume_mm3": p.get("lesion_volume_mm3", required=False).number(nullable=True, minimum=0) or 0.0,
    }

    b = optional_section(root, "baseline")
    if b is None:
        report["baseline"] = None
    else:
        b.object()
        baseline = {"status": b.get("status").string(),
                    "message": b.get("message", required=False).string(nullable=True),
                    "ecg_csv": b.get("ecg_csv", required=False).string(nullable=True),
                    "metrics": []}
        for key, label, unit in BASELINE_METRICS:
            value = b.get(key, required=False).number(nullable=True)
            if value is not None:
                baseline["metrics"].append((label, value, unit))
        report["baseline"] = baseline

    pr = optional_section(root, "protocol")
    if pr is None:
        report["protocol"] = None
    else:
        rows = []
        known = set()
        for key, label, unit, required in PROTOCOL_FIELDS:
            known.add(key)
            node = pr.get(key, required=required)
            if node.is_null():
                continue
            value = node.string() if isinstance(node.value, str) else node.number()
            rows.append((label, value, unit))
        for key in pr.object():  # anything newer than this script: shown as it is
            if key not in known:
                node = pr.get(key)
                if isinstance(node.value, (str, int, float)) and not isinstance(node.value, bool):
                    value = node.string() if isinstance(node.value, str) else node.number()
                    rows.append((key, value, ""))
        report["protocol"] = rows

    s = optional_section(root, "sites")
    report["sites"] = None if s is None else [parse_site(node) for node in s.items()]

    a = optional_section(root, "ablation")
    report["ablation"] = None if a is None else parse_ablation(a)

    n = optional_section(root, "notes")
    report["notes"] = [] if n is None else [node.string() for node in n.items()]

    sm = optional_section(root, "summary")
    report["summary"] = None if sm is None else parse_summary(sm)

    pl = optional_section(root, "plan")  # `cardiotwin plan`: kept as it is, read by plan_findings
    report["plan"] = pl.value if pl is not None and isinstance(pl.value, dict) else None
    return report


def parse_summary(node):
    """The summary's named findings (older reports have only counts: empty lists then)."""
    node.object()
    inducing, failed = [], []
    ind = node.get("inducing_sites", required=False)
    for i in ([] if ind.is_null() else ind.items()):
        seg = i.get("aha_segment", required=False)
        after = i.get("inducible_after_ablation", required=False)
        inducing.append({"name": i.get("name").string(),
                         "aha_segment": None if seg.is_null() else seg.integer(minimum=1),
                         "induced_by": i.get("induced_by", required=False).string(nullable=True),
                         "cycle_length_ms": i.get("cycle_length_ms", required=False).number(nullable=True),
                         "after": None if after.is_null() else after.boolean()})
    fl = node.get("failed_sites", required=False)
    for f in ([] if fl.is_null() else fl.items()):
        failed.append({"name": f.get("name").string(), "phase": f.get("phase").string(),
                       "message": f.get("message").string()})
    return {"inducing": inducing, "failed": failed}


def parse_site(node):
    node.object()
    site = {"name": node.get("name").string(),
            "position_mm": node.get("position_mm").vec3(),
            "status": node.get("status").string()}
    if site["status"] != "ok":
        site["message"] = node.get("message", required=False).string(nullable=True)
        site["inducible"] = None
        return site
    site["inducible"] = node.get("inducible").boolean()
    site["induced_by"] = node.get("induced_by", required=False).string(nullable=True)
    c = node.get("coupling_ms", required=False)
    site["coupling_ms"] = [] if c.is_null() else [i.number(nullable=True) for i in c.items()]
    e = node.get("erp_ms", required=False)
    site["erp_ms"] = [] if e.is_null() else \
        [(name, e.get(name).number(nullable=True)) for name in e.object()]
    site["cycle_length_ms"] = node.get("cycle_length_ms", required=False).number(nullable=True)
    ps = node.get("phase_singularities", required=False)
    site["phase_singularities"] = None if ps.is_null() else \
        [{"position_mm": i.get("position_mm").vec3(),
          "charge": i.get("charge", required=False).number(nullable=True)} for i in ps.items()]
    site["simulated_ms"] = node.get("simulated_ms", required=False).number(nullable=True)
    site["wall_s"] = node.get("wall_s", required=False).number(nullable=True)
    return site


def parse_ablation(node):
    node.object()
    lesions = []
    for ln in node.get("lesions").items():
        shape = ln.get("shape").string()
        lesion = {"shape": shape,
                  "radius_mm": ln.get("radius_mm", required=shape != "box").number(nullable=True, minimum=0),
                  "volume_mm3": ln.get("volume_mm3").number(minimum=0),
                  "transmural": ln.get("transmural").boolean(nullable=True)}
        if shape == "sphere":
            lesion["center_mm"] = ln.get("center_mm").vec3()
        elif shape == "line":
            lesion["from_mm"] = ln.get("from_mm").vec3()
            lesion["to_mm"] = ln.get("to_mm").vec3()
        elif shape == "box":
            lesion["box_min_mm"] = ln.get("box_min_mm").vec3()
            lesion["box_max_mm"] = ln.get("box_max_mm").vec3()
        lesions.append(lesion)
    sites = []
    for sn in node.get("sites").items():
        after = sn.get("result_after", required=False)
        failed = None
        if not after.is_null() and after.get("status").string() != "ok":
            failed = after.get("message", required=False).string(nullable=True) or "no message"
        sites.append({"name": sn.get("name").string(),
                      "before": sn.get("inducible_before").boolean(nullable=True),
                      "after": sn.get("inducible_after").boolean(nullable=True),
                      "after_failed": failed})
    return {"lesions": lesions, "sites": sites}


# ----------------------------------------------------------------------------------------------
# surface.json
# ----------------------------------------------------------------------------------------------

SURFACE_FIELDS = ["activation_ms", "apd90_ms"]


def parse_surface(path):
    """Reads and checks surface.json; returns flat lists (NaN where a field is null)."""
    root = Node(path, "", load_json_file(path))
    xyz = root.get("xyz_mm").list()
    if len(xyz) == 0 or len(xyz) % 3 != 0:
        root.get("xyz_mm").fail("must hold x, y, z for each node (a non-empty multiple of 3 numbers)")
    for i, v in enumerate(xyz):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            Node(path, "xyz_mm[%d]" % i, v).number()
    n_nodes = len(xyz) // 3
    tris = root.get("tris").list()
    if len(tris) == 0 or len(tris) % 3 != 0:
        root.get("tris").fail("must hold three node numbers per triangle (a non-empty multiple of 3)")
    for i, v in enumerate(tris):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0 or v >= n_nodes:
            Node(path, "tris[%d]" % i, v).fail(
                "must be a node number in [0, %d), got %s" % (n_nodes, json.dumps(v)))
    fields_node = root.get("fields")
    fields_node.object()
    fields = {}
    for name in SURFACE_FIELDS:
        f = fields_node.get(name, required=False)
        if f.is_null():
            continue
        values = f.list()
        if len(values) != n_nodes:
            f.fail("must have one value per node (%d), got %d" % (n_nodes, len(values)))
        out = []
        for i, v in enumerate(values):
            if v is None:
                out.append(float("nan"))
            else:
                out.append(Node(path, "fields.%s[%d]" % (name, i), v).number(nullable=True))
        fields[name] = out
    long_axis = root.get("long_axis", required=False)
    anterior = root.get("anterior_dir", required=False)
    aha = root.get("aha_segments", required=False)
    return {"xyz_mm": xyz, "tris": tris, "fields": fields,
            "aha_segments": False if aha.is_null() else aha.boolean(),
            "long_axis": None if long_axis.is_null() else long_axis.vec3(),
            "anterior_dir": None if anterior.is_null() else anterior.vec3()}


# ----------------------------------------------------------------------------------------------
# ECG CSV
# ----------------------------------------------------------------------------------------------

def parse_ecg_csv(path):
    """Reads a pseudo-ECG CSV: a header "time_ms,LEAD,..." then rows of numbers, time increasing.
    Returns (lead names, times, one list per lead). Errors name the file and line."""
    try:
        with open(path, "r", encoding="utf-8-sig", newline="") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        raise InputError("%s: file not found" % path)
    except (OSError, UnicodeDecodeError) as e:
        raise InputError("%s: cannot read: %s" % (path, e))
    while lines and not lines[-1].strip():  # trailing blank lines are harmless
        lines.pop()
    if not lines:
        raise InputError("%s:1: empty file; expected a header \"time_ms,I,II,...\"" % path)
    header = [h.strip() for h in lines[0].split(",")]
    if header[0] != "time_ms":
        raise InputError("%s:1: the first column must be \"time_ms\", got \"%s\"" % (path, header[0]))
    leads = header[1:]
    if not leads:
        raise InputError("%s:1: no lead columns after \"time_ms\"" % path)
    for i, name in enumerate(leads):
        if not name:
            raise InputError("%s:1: column %d has an empty name" % (path, i + 2))
        if name in leads[:i]:
            raise InputError("%s:1: lead \"%s\" appears twice" % (path, name))
    times = []
    values = [[] for _ in leads]
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            raise InputError("%s:%d: blank line among the samples" % (path, number))
        cells = line.split(",")
        if len(cells) != len(header):
            raise InputError("%s:%d: %d fields, the header has %d" % (path, number, len(cells), len(header)))
        row = []
        for name, cell in zip(header, cells):
            try:
                v = float(cell)
            except ValueError:
                raise InputError("%s:%d: column \"%s\": \"%s\" is not a number" % (path, number, name, cell.strip()))
            if not math.isfinite(v):
                raise InputError("%s:%d: column \"%s\": %s is not a finite number" % (path, number, name, cell.strip()))
            row.append(v)
        if times and row[0] <= times[-1]:
            raise InputError("%s:%d: time_ms %s does not increase (previous line: %s)"
                             % (path, number, cells[0].strip(), _fmt(times[-1])))
        times.append(row[0])
        for j, v in enumerate(row[1:]):
            values[j].append(v)
    if len(times) < 2:
        raise InputError("%s:%d: needs at least two rows of samples after the header" % (path, len(lines) + 1))
    return leads, times, values


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------

def write_atomically(path, write):
    """Calls write(binary file) on a temporary file next to path, then renames it into place."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise InputError("%s: cannot write: the folder %s does not exist" % (path, folder))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def import_plotting():
    """numpy and matplotlib (Agg), imported only when something is to be drawn."""
    try:
        import numpy
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot
    except ImportError as e:
        raise InputError("needs numpy and matplotlib for %s (%s); Debian: apt-get install "
                         "python3-numpy python3-matplotlib" % (sys.executable, e))
    return numpy, matplotlib


def save_figure(fig, path, dpi):
    def write(f):
        fig.savefig(f, format="png", dpi=dpi, facecolor="white")
    write_atomically(path, write)


# ----------------------------------------------------------------------------------------------
# ECG plot
# ----------------------------------------------------------------------------------------------

def ecg_layout(leads):
    """Panels as a list of columns, each a list of lead names (None: an empty panel). The standard
    12 leads go in two columns, limb leads left and precordial leads right; other sets in file order."""
    if all(name in LIMB_LEADS + PRECORDIAL_LEADS for name in leads):
        left = [n for n in LIMB_LEADS if n in leads]
        right = [n for n in PRECORDIAL_LEADS if n in leads]
        if left and right:
            rows = max(len(left), len(right))
            return [left + [None] * (rows - len(left)), right + [None] * (rows - len(right))]
        leads = left or right
    n = len(leads)
    ncols = 1 if n <= 4 else 2 if n <= 12 else 3
    nrows = -(-n // ncols)
    padded = list(leads) + [None] * (nrows * ncols - n)
    return [padded[c * nrows:(c + 1) * nrows] for c in range(ncols)]


def plot_ecg(csv_data, png_path, title):
    np, _ = import_plotting()
    import matplotlib.pyplot as plt
    from matplotlib.ticker import AutoMinorLocator

    leads, times, values = csv_data
    t = np.asarray(times)
    columns = ecg_layout(leads)
    ncols, nrows = len(columns), len(columns[0])
    fig_w = 5.6 * ncols + 0.8
    fig_h = 1.45 * nrows + 1.4
    fig, axes = plt.subplots(nrows, ncols, figsize=(fig_w, fig_h), sharex=True, squeeze=False)
    for c, column in enumerate(columns):
        # One vertical scale per column: limb and precordial leads of a pseudo-ECG can differ by an
        # order of magnitude, and a common scale would flatten the smaller group.
        column_values = np.concatenate([np.asarray(values[leads.index(n)]) for n in column if n is not None])
        lo, hi = float(column_values.min()), float(column_values.max())
        pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
        for r, name in enumerate(column):
            ax = axes[r][c]
            if name is None:
                ax.set_visible(False)
                continue
            v = np.asarray(values[leads.index(name)])
            ax.plot(t, v, color="black", linewidth=0.9)
            ax.set_xlim(t[0], t[-1])
            ax.set_ylim(lo - pad, hi + pad)
            ax.xaxis.set_minor_locator(AutoMinorLocator(5))
            ax.yaxis.set_minor_locator(AutoMinorLocator(5))
            ax.grid(True, which="major", color="#f2a7a7", linewidth=0.7)
            ax.grid(True, which="minor", color="#fbe1e1", linewidth=0.4)
            ax.set_axisbelow(True)
            ax.tick_params(labelsize=8)
            ax.text(0.008, 0.93, name, transform=ax.transAxes, fontsize=11, fontweight="bold",
                    va="top", ha="left", bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=1.5))
            bottom = r == len(column) - 1 or column[r + 1] is None
            if bottom:
                ax.set_xlabel("time (ms)", fontsize=9)
                ax.tick_params(labelbottom=True)
    fig.supylabel("mV (pseudo-ECG)", fontsize=10)
    fig.suptitle(title, fontsize=12)
    fig.text(0.99, 0.005, "same vertical scale within each column; arbitrary amplitude (pseudo-ECG)",
             fontsize=7.5, color="#555555", ha="right", va="bottom")
    fig.tight_layout(rect=(0.01, 0.02, 1, 1))
    save_figure(fig, png_path, dpi=100)
    plt.close(fig)


# ----------------------------------------------------------------------------------------------
# Surface maps
# ----------------------------------------------------------------------------------------------

VIEWS = [("Anterior view", 90.0), ("Posterior view", -90.0)]  # name, azimuth (deg) in the heart frame
VIEW_ELEVATION_DEG = 12.0


def heart_frame(np, surface):
    """Rows: right, anterior, long axis (apex -> base), so that the views stand the heart base-up."""
    long_axis = np.asarray(surface["long_axis"] or [0.0, 0.0, 1.0], dtype=float)
    anterior = np.asarray(surface["anterior_dir"] or [0.0, 1.0, 0.0], dtype=float)
    e3 = long_axis / (np.linalg.norm(long_axis) or 1.0)
    e2 = anterior - anterior.dot(e3) * e3
    if np.linalg.norm(e2) < 1e-9:  # anterior given along the long axis: pick any perpendicular
        e2 = np.cross(e3, [1.0, 0.0, 0.0] if abs(e3[0]) < 0.9 else [0.0, 1.0, 0.0])
    e2 = e2 / np.linalg.norm(e2)
    e1 = np.cross(e2, e3)
    return np.vstack([e1, e2, e3])


def view_vectors(np, azim_deg):
    """Unit vector towards the camera, and two screen axes, in the heart frame (as mplot3d sees it)."""
    a, e = math.radians(azim_deg), math.radians(VIEW_ELEVATION_DEG)
    eye = np.array([math.cos(e) * math.cos(a), math.cos(e) * math.sin(a), math.sin(e)])
    right = np.array([-math.sin(a), math.cos(a), 0.0])
    up = np.cross(eye, right)
    return eye, right, up


def early_meets_late(np, corner, wrap_ms):
    """Triangles (corner values, n x 3) whose LAT range exceeds EARLY_MEETS_LATE_FRACTION of the cycle (wrap_ms):
    where a re-entry's head meets its own tail (or a line of block), the corners' mean is a colour no node
    has, so such triangles are drawn black instead. None or non-positive wrap_ms: no triangle."""
    if not wrap_ms or wrap_ms <= 0:
        return np.zeros(corner.shape[0], dtype=bool)
    with np.errstate(invalid="ignore"):  # a NaN corner (not activated) gives a NaN spread: not flagged
        spread = corner.max(axis=1) - corner.min(axis=1)
        return np.isfinite(spread) & (spread > EARLY_MEETS_LATE_FRACTION * wrap_ms)


def annotate_3d(ax, text, xyz, xytext_xyz=None, **kwargs):
    """ax.annotate for an Axes3D: the point (and, given, the text's anchor) are 3D data points, projected
    at draw time with the axes' own projection, so the arrow follows the view."""
    from matplotlib.text import Annotation
    from mpl_toolkits.mplot3d import proj3d

    class Annotation3D(Annotation):
        def draw(self, renderer):
            x, y, _ = proj3d.proj_transform(*xyz, self.axes.M)
            self.xy = (x, y)
            if xytext_xyz is not None:
                tx, ty, _ = proj3d.proj_transform(*xytext_xyz, self.axes.M)
                self.set_position((tx, ty))
            super().draw(renderer)

    ann = Annotation3D(text, xy=(0.0, 0.0), xytext=kwargs.pop("xytext", (0.0, 0.0)), **kwargs)
    ax.add_artist(ann)
    return ann


def depth_beneath_surface(np, points, tri_xyz, eye, diag):
    """For each point, how far (mm) the ray from it towards the camera travels before it leaves the
    surface for the last time: 0 for a point on the visible surface (Moller-Trumbore against every
    triangle; crossings closer than a hair are the point's own triangles and are skipped)."""
    v0 = tri_xyz[:, 0]
    e1 = tri_xyz[:, 1] - v0
    e2 = tri_xyz[:, 2] - v0
    h = np.cross(eye, e2)
    det = (e1 * h).sum(axis=1)
    usable = np.abs(det) > 1e-12
    inv = np.where(usable, 1.0 / np.where(usable, det, 1.0), 0.0)
    depths = []
    for p in points:
        s = p - v0
        u = (s * h).sum(axis=1) * inv
        q = np.cross(s, e1)
        v = q.dot(eye) * inv
        t = (q * e2).sum(axis=1) * inv
        eps = 1e-9
        hit = usable & (u >= -eps) & (v >= -eps) & (u + v <= 1 + eps) & (t > 1e-3 * diag)
        depths.append(float(t[hit].max()) if hit.any() else 0.0)
    return depths


def plot_surface_map(surface, field, png_path, title, unit_label, cmap_name, markers, nan_label, lesions=(),
                     isthmi=(), wrap_ms=None):
    """Two views of the surface coloured by a node field (flat per triangle: the mean of its corners,
    grey where a corner is undefined) and a colour bar. Each marker is drawn in the view that sees it
    through the least tissue, and in the other too when that is no deeper than a wall; markers
    beneath the surface (mid-wall, endocardial) are drawn hollow at their projection. Lesions are drawn as
    their outline (line: its axis; sphere: its centre; box: its edges) in black, in the views a marker would be
    drawn in; so are the isthmi of `cardiotwin plan`'s circuits (as plot_plan_map takes them):
    the narrowest gap dashed, an arrow from the entrance to the exit, and a labelled pointer at the gap's
    centre. With wrap_ms (a VT cycle map's cycle length), a triangle whose corners differ by more than half of
    it is black (early meets late), not the mean colour. The views are called anterior/posterior (base up)
    only for a heart (AHA segments or given axes)."""
    np, matplotlib = import_plotting()
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch
    from matplotlib import patheffects
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    frame = heart_frame(np, surface)
    xyz = np.asarray(surface["xyz_mm"], dtype=float).reshape(-1, 3).dot(frame.T)
    tris = np.asarray(surface["tris"], dtype=np.int64).reshape(-1, 3)
    values = np.asarray(field, dtype=float)
    corner = values[tris]
    undefined = np.isnan(corner).any(axis=1)
    face_value = np.where(undefined, 0.0, np.nan_to_num(corner).mean(axis=1))
    wrapped = early_meets_late(np, corner, wrap_ms)
    finite = values[np.isfinite(values)]
    if finite.size:
        vmin, vmax = float(finite.min()), float(finite.max())
    else:
        vmin, vmax = 0.0, 1.0
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 1.0, vmax + 1.0
    cmap = matplotlib.colormaps[cmap_name]
    norm = matplotlib.colors.Normalize(vmin=vmin, vmax=vmax)
    base_rgba = cmap(norm(face_value))
    base_rgba[undefined] = NAN_GREY
    base_rgba[wrapped] = EARLY_MEETS_LATE

    tri_xyz = xyz[tris]
    normals = np.cross(tri_xyz[:, 1] - tri_xyz[:, 0], tri_xyz[:, 2] - tri_xyz[:, 0])
    lengths = np.linalg.norm(normals, axis=1)
    normals = normals / np.where(lengths > 0, lengths, 1.0)[:, None]
    lo, hi = xyz.min(axis=0), xyz.max(axis=0)
    extent = np.maximum(hi - lo, 1e-6)
    diag = float(np.linalg.norm(extent))
    on_surface_mm = max(0.02 * diag, 0.5)
    through_wall_mm = 0.2 * diag

    points = [np.asarray(pos, dtype=float).dot(frame.T) for _, _, pos in markers]
    views = [(name, azim) + view_vectors(np, azim) for name, azim in VIEWS]
    depths = [depth_beneath_surface(np, points, tri_xyz, eye, diag) for _, _, eye, _, _ in views]
    styles_used = set()
    lesion_paths = []  # (points in the heart frame, their depth beneath the surface in each view)
    for ln in lesions:
        if ln["shape"] == "line":
            seg = np.array([ln["from_mm"], ln["to_mm"]], dtype=float)
        elif ln["shape"] == "sphere":
            seg = np.array([ln["center_mm"]], dtype=float)
        else:
            lo_b, hi_b = ln["box_min_mm"], ln["box_max_mm"]
            seg = np.array([[(lo_b, hi_b)[i][0], (lo_b, hi_b)[j][1], (lo_b, hi_b)[k][2]]
                            for i, j, k in [(0, 0, 0), (1, 0, 0), (1, 1, 0), (0, 1, 0), (0, 0, 0), (0, 0, 1),
                                            (1, 0, 1), (1, 1, 1), (0, 1, 1), (0, 0, 1)]], dtype=float)
        seg = seg.dot(frame.T)
        lesion_paths.append((seg, [depth_beneath_surface(np, seg, tri_xyz, eye, diag) for _, _, eye, _, _ in views]))
    isthmus_points = []  # (from, to, entrance, exit, centre) in the heart frame, their depths in each view
    for frm, to, ent, ext, _ in isthmi:
        pts = np.array([frm, to, ent, ext, [(p + q) / 2.0 for p, q in zip(frm, to)]], dtype=float).dot(frame.T)
        isthmus_points.append((pts, [depth_beneath_surface(np, pts, tri_xyz, eye, diag)
                                     for _, _, eye, _, _ in views]))

    fig = plt.figure(figsize=(12.0, 6.0))
    fig.suptitle(title, fontsize=13, y=0.975)
    for v, (view_name, azim, eye, right, up) in enumerate(views):
        ax = fig.add_axes([0.01 + 0.43 * v, 0.1, 0.43, 0.76], projection="3d")
        heart = surface.get("aha_segments") or surface.get("long_axis") or surface.get("anterior_dir")
        fig.text(0.225 + 0.43 * v, 0.875, view_name + " (base up)" if heart else
                 "view from %sy (z up)" % ("+" if azim > 0 else "\u2212"), fontsize=11, ha="center")
        # Two-sided Lambert shading, kept mild so the colour still reads as the value.
        light = eye * 0.8 + up * 0.6
        light /= np.linalg.norm(light)
        shade = 0.72 + 0.28 * np.abs(normals.dot(light))
        rgba = base_rgba.copy()
        rgba[:, :3] *= shade[:, None]
        coll = Poly3DCollection(tri_xyz, facecolors=rgba, edgecolors=rgba, linewidths=0.15)
        ax.add_collection3d(coll)
        ax.set_xlim(lo[0], hi[0])
        ax.set_ylim(lo[1], hi[1])
        ax.set_zlim(lo[2], hi[2])
        try:
            ax.set_box_aspect(tuple(extent), zoom=1.25)
        except TypeError:  # matplotlib < 3.6
            ax.set_box_aspect(tuple(extent))
        ax.set_proj_type("ortho")
        ax.view_init(elev=VIEW_ELEVATION_DEG, azim=azim)
        ax.set_axis_off()
        ax.computed_zorder = False  # markers drawn above the surface; which ones is decided here
        def seen_here(path_depths):  # as a marker: the view that sees it through the least tissue, and any
            mean = [float(np.mean(d)) for d in path_depths]  # other that sees it through no more than a wall
            return mean[v] <= through_wall_mm or min(range(len(views)), key=lambda w: mean[w]) == v

        for seg, seg_depths in lesion_paths:
            if not seen_here(seg_depths):
                continue
            q = seg + eye * (np.asarray(seg_depths[v])[:, None] + 0.01 * diag)
            ax.plot(q[:, 0], q[:, 1], q[:, 2], color="black", lw=3.0, marker="s", markersize=5, zorder=7)
            styles_used.add(("lesion", False))
        for pts, pts_depths in isthmus_points:  # likewise; lifted onto the visible surface
            if not seen_here(pts_depths):
                continue
            q = pts + eye * (np.asarray(pts_depths[v])[:, None] + 0.015 * diag)
            ax.plot(q[:2, 0], q[:2, 1], q[:2, 2], color="black", lw=2.5, ls="--", zorder=8,  # haloed: seen
                    path_effects=[patheffects.withStroke(linewidth=5.0, foreground="white")])  # over a lesion
            annotate_3d(ax, "", q[3], q[2], zorder=8,
                        arrowprops=dict(arrowstyle="-|>", color="black", lw=2.0, mutation_scale=18))
            label_at = q[4] + up * 0.14 * diag + right * 0.1 * diag
            annotate_3d(ax, "isthmus", q[4], label_at, fontsize=9, fontweight="bold", ha="center", va="bottom",
                        zorder=9, bbox=dict(facecolor="white", edgecolor="black", lw=0.8, alpha=0.9, pad=1.5),
                        arrowprops=dict(arrowstyle="->", color="black", lw=1.3, shrinkA=0, shrinkB=2))
            styles_used.add(("isthmus", False))
        for m, ((kind, label, _), p) in enumerate(zip(markers, points)):
            depth = depths[v][m]
            best = min(range(len(views)), key=lambda w: depths[w][m])
            if depth > through_wall_mm and v != best:
                continue
            beneath = depth > on_surface_mm
            styles_used.add((kind, beneath))
            q = p + eye * (depth + 0.01 * diag)  # onto the visible surface, a hair towards the camera
            if kind == "site":
                ax.scatter([q[0]], [q[1]], [q[2]], marker="o", s=46, c="#bbbbbb" if beneath else "white",
                           edgecolors="black", linewidths=1.3, depthshade=False, zorder=5)
                if label:
                    t = q + up * 0.025 * diag + right * 0.012 * diag
                    ax.text(t[0], t[1], t[2], label, fontsize=7, zorder=6, color="black",
                            bbox=dict(facecolor="white", edgecolor="none", alpha=0.65, pad=0.6))
            else:
                ax.scatter([q[0]], [q[1]], [q[2]], marker="X", s=70, c="#f5b3f5" if beneath else "magenta",
                           edgecolors="black", linewidths=0.8, depthshade=False, zorder=5)

    if finite.size:
        cax = fig.add_axes([0.885, 0.2, 0.018, 0.58])
        bar = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax)
        bar.set_label(unit_label, fontsize=10)
        bar.ax.tick_params(labelsize=9)
    else:
        fig.text(0.9, 0.5, "no node has a value", fontsize=10, ha="center", va="center", rotation=90)

    handles = []
    legend = {("site", False): ("o", "white", 7, "pacing site"),
              ("site", True): ("o", "#bbbbbb", 7, "pacing site beneath the surface"),
              ("ps", False): ("X", "magenta", 8, "phase singularity (re-entry)"),
              ("ps", True): ("X", "#f5b3f5", 8, "phase singularity beneath the surface")}
    if ("lesion", False) in styles_used:
        handles.append(Line2D([], [], color="black", lw=3, marker="s", markersize=5,
                              label="ablation lesion (axis or centre)"))
    if ("isthmus", False) in styles_used:
        handles.append(Line2D([], [], color="black", lw=2.5, ls="--",
                              label="isthmus (narrowest gap); arrow: entrance to exit, %s" % isthmi[0][4]))
    for key in [("site", False), ("site", True), ("ps", False), ("ps", True)]:
        if key in styles_used:
            marker, colour, size, text = legend[key]
            handles.append(Line2D([], [], linestyle="none", marker=marker, markersize=size,
                                  markerfacecolor=colour, markeredgecolor="black", label=text))
    if undefined.any():
        handles.append(Patch(facecolor=NAN_GREY, edgecolor="none", label=nan_label))
    if wrapped.any():
        handles.append(Patch(facecolor=EARLY_MEETS_LATE, edgecolor="none", label=EARLY_MEETS_LATE_LABEL))
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 3), fontsize=9, frameon=False,
                   bbox_to_anchor=(0.45, 0.0))
    save_figure(fig, png_path, dpi=100)
    plt.close(fig)
    return {"min": vmin if finite.size else None, "max": vmax if finite.size else None,
            "defined_fraction": float(finite.size) / max(values.size, 1)}


def is_plan_geometry(np, surface):
    """A slab or sheet (no AHA segments, no heart axes, one extent under a quarter of the largest): drawn as a
    plan view. Returns (in-plane axis, in-plane axis, normal axis) or None for a heart."""
    if surface.get("aha_segments") or surface.get("long_axis") or surface.get("anterior_dir"):
        return None
    xyz = np.asarray(surface["xyz_mm"], dtype=float).reshape(-1, 3)
    extent = xyz.max(axis=0) - xyz.min(axis=0)
    normal = int(np.argmin(extent))
    if extent[normal] > 0.25 * extent.max():
        return None
    a, b = [k for k in range(3) if k != normal]
    return a, b, normal


def nice_length(span):
    """A round scale-bar length (1, 2, 5 x 10^k mm) of about a fifth of span."""
    target = max(span / 5.0, 1e-6)
    power = 10.0 ** math.floor(math.log10(target))
    for m in (5.0, 2.0, 1.0):
        if m * power <= target:
            return m * power
    return power


def lesion_outline(np, lesion, a, b):
    """The lesion's outline in the plan plane (axes a, b), as a closed polygon (n x 2)."""
    if lesion["shape"] == "sphere":
        c, r = lesion["center_mm"], lesion["radius_mm"]
        t = np.linspace(0, 2 * math.pi, 73)
        return np.column_stack([c[a] + r * np.cos(t), c[b] + r * np.sin(t)])
    if lesion["shape"] == "line":  # a capsule: two half circles joined
        p = np.array([lesion["from_mm"][a], lesion["from_mm"][b]])
        q = np.array([lesion["to_mm"][a], lesion["to_mm"][b]])
        r = lesion["radius_mm"]
        d = q - p
        ang = math.atan2(d[1], d[0]) if np.linalg.norm(d) > 1e-12 else 0.0
        t1 = np.linspace(ang + math.pi / 2, ang + 3 * math.pi / 2, 37)
        t2 = np.linspace(ang - math.pi / 2, ang + math.pi / 2, 37)
        return np.vstack([np.column_stack([p[0] + r * np.cos(t1), p[1] + r * np.sin(t1)]),
                          np.column_stack([q[0] + r * np.cos(t2), q[1] + r * np.sin(t2)])])
    lo, hi = lesion["box_min_mm"], lesion["box_max_mm"]
    return np.array([[lo[a], lo[b]], [hi[a], lo[b]], [hi[a], hi[b]], [lo[a], hi[b]]])


def plot_plan_map(surface, field, png_path, title, unit_label, cmap_name, markers, nan_label, lesions, axes,
                  isthmi=(), wrap_ms=None):
    """A slab or sheet seen from above (its upper face), true aspect ratio, a mm scale bar, a colour bar with
    the unit, the pacing sites, phase singularities, the ablation lesions (hatched outlines) and the isthmi
    of `cardiotwin plan`'s circuits (isthmi: (from_mm, to_mm, entrance_mm, exit_mm, direction) each). With
    wrap_ms, triangles across which the value jumps by over half of it are black (early meets late)."""
    np, matplotlib = import_plotting()
    import matplotlib.pyplot as plt
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch, Polygon

    a, b, n = axes
    names = "xyz"
    xyz = np.asarray(surface["xyz_mm"], dtype=float).reshape(-1, 3)
    tris = np.asarray(surface["tris"], dtype=np.int64).reshape(-1, 3)
    lo, hi = xyz.min(axis=0), xyz.max(axis=0)
    top = xyz[:, n] >= hi[n] - 0.25 * (hi[n] - lo[n]) - 1e-9
    upper = tris[top[tris].all(axis=1)]
    if len(upper) == 0:
        upper = tris
    values = np.asarray(field, dtype=float)
    corner = values[upper]
    undefined = np.isnan(corner).any(axis=1)
    face_value = np.where(undefined, 0.0, np.nan_to_num(corner).mean(axis=1))
    wrapped = early_meets_late(np, corner, wrap_ms)
    finite = values[np.isfinite(values)]
    vmin, vmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
    if vmax - vmin < 1e-9:
        vmin, vmax = vmin - 1.0, vmax + 1.0
    cmap = matplotlib.colormaps[cmap_name]
    norm = matplotlib.colors.Normalize(vmin=vmin, vmax=vmax)
    rgba = cmap(norm(face_value))
    rgba[undefined] = NAN_GREY
    rgba[wrapped] = EARLY_MEETS_LATE

    width, height = hi[a] - lo[a], hi[b] - lo[b]
    fig_w = 9.0
    fig_h = min(max(fig_w * 0.78 * height / max(width, 1e-9) + 1.4, 3.5), 11.0)
    fig = plt.figure(figsize=(fig_w, fig_h))
    fig.suptitle(title, fontsize=13)
    ax = fig.add_axes([0.04, 0.12, 0.74, 0.78])
    polys = xyz[upper][:, :, [a, b]]
    ax.add_collection(PolyCollection(polys, facecolors=rgba, edgecolors=rgba, linewidths=0.6, antialiased=False))
    pad = 0.04 * max(width, height)
    ax.set_xlim(lo[a] - pad, hi[a] + pad)
    ax.set_ylim(lo[b] - 2.5 * pad, hi[b] + pad)
    ax.set_aspect("equal")  # true aspect ratio: a mm is a mm both ways
    ax.set_axis_off()
    ax.set_title("plan view from +%s (%s to the right, %s up)" % (names[n], names[a], names[b]), fontsize=10)

    # scale bar, below the tissue
    bar = nice_length(width)
    y0 = lo[b] - 1.6 * pad
    ax.plot([lo[a], lo[a] + bar], [y0, y0], color="black", lw=3, solid_capstyle="butt")
    ax.text(lo[a] + bar / 2, y0 - 0.35 * pad, "%s mm" % _fmt(bar), ha="center", va="top", fontsize=9)

    handles = []
    for i, ln in enumerate(lesions):
        outline = lesion_outline(np, ln, a, b)
        ax.add_patch(Polygon(outline, closed=True, facecolor=(1, 1, 1, 0.5), hatch="////", edgecolor="black", lw=1.6,
                             zorder=4))
        c = outline.mean(axis=0)
        ax.text(c[0], c[1], "L%d" % (i + 1), fontsize=8, ha="center", va="center", zorder=6,
                bbox=dict(facecolor="white", edgecolor="none", alpha=0.8, pad=0.5))
    if lesions:
        handles.append(Patch(facecolor=(1, 1, 1, 0.5), edgecolor="black", hatch="////",
                             label="ablation lesion (L1, ...)"))
    for frm, to, ent, ext, direction in isthmi:
        ax.plot([frm[a], to[a]], [frm[b], to[b]], color="black", lw=2.5, ls="--", zorder=7)
        ax.annotate("", xy=(ext[a], ext[b]), xytext=(ent[a], ent[b]), zorder=7,
                    arrowprops=dict(arrowstyle="-|>", color="black", lw=2.0, mutation_scale=18))
    if isthmi:
        handles.append(Line2D([], [], color="black", lw=2.5, ls="--",
                              label="isthmus (narrowest gap); arrow: entrance to exit, %s" % isthmi[0][4]))
    kinds = set()
    for kind, label, pos in markers:
        kinds.add(kind)
        if kind == "site":
            ax.scatter([pos[a]], [pos[b]], marker="o", s=55, c="white", edgecolors="black", linewidths=1.3, zorder=5)
            if label:
                ax.annotate(label, (pos[a], pos[b]), xytext=(6, 6), textcoords="offset points", fontsize=8,
                            zorder=6, bbox=dict(facecolor="white", edgecolor="none", alpha=0.75, pad=0.6))
        else:
            ax.scatter([pos[a]], [pos[b]], marker="X", s=80, c="magenta", edgecolors="black", linewidths=0.8,
                       zorder=5)
    if "site" in kinds:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=7, markerfacecolor="white",
                              markeredgecolor="black", label="pacing site"))
    if "ps" in kinds:
        handles.append(Line2D([], [], linestyle="none", marker="X", markersize=8, markerfacecolor="magenta",
                              markeredgecolor="black", label="phase singularity (end of re-entry)"))
    if undefined.any():
        handles.append(Patch(facecolor=NAN_GREY, edgecolor="none", label=nan_label))
    if wrapped.any():
        handles.append(Patch(facecolor=EARLY_MEETS_LATE, edgecolor="none", label=EARLY_MEETS_LATE_LABEL))

    if finite.size:
        cax = fig.add_axes([0.84, 0.2, 0.025, 0.62])
        cb = fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), cax=cax)
        cb.set_label(unit_label, fontsize=10)
        cb.ax.tick_params(labelsize=9)
    else:
        fig.text(0.86, 0.5, "no node has a value", fontsize=10, ha="center", va="center", rotation=90)
    if handles:
        fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 2), fontsize=9, frameon=False,
                   bbox_to_anchor=(0.42, 0.0))
    save_figure(fig, png_path, dpi=100)
    plt.close(fig)
    return {"min": vmin if finite.size else None, "max": vmax if finite.size else None,
            "defined_fraction": float(finite.size) / max(values.size, 1)}


# ----------------------------------------------------------------------------------------------
# HTML
# ----------------------------------------------------------------------------------------------

CSS = """
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1d1d1f; background: #fff;
       margin: 0; line-height: 1.45; font-size: 15px; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 4px; border-bottom: 2px solid #c9d3e0; color: #173b6c; }
h3 { font-size: 16px; margin: 20px 0 8px; }
.sub { color: #5a6270; font-size: 13px; margin: 0 0 18px; }
table { border-collapse: collapse; margin: 6px 0 14px; font-size: 14px; }
th, td { border: 1px solid #cfd6df; padding: 5px 10px; text-align: left; vertical-align: top; }
th { background: #eef2f7; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.name { white-space: nowrap; }
tr.failed td { background: #fff4e5; }
.yes { color: #b00020; font-weight: 700; }
.no { color: #1b7a3a; font-weight: 600; }
.nc { color: #6b7280; font-style: italic; }
.verdict { font-size: 17px; font-weight: 700; padding: 10px 14px; border-left: 5px solid #173b6c;
           background: #eef2f7; margin: 12px 0; }
.verdict.bad { border-left-color: #b00020; background: #fdecee; }
.verdict.good { border-left-color: #1b7a3a; background: #eaf6ee; }
.warn { color: #8a4b00; }
figure { margin: 10px 0 18px; }
figure img { max-width: 100%; height: auto; border: 1px solid #e3e7ec; }
figcaption { font-size: 13px; color: #4a5160; margin-top: 4px; }
.limitations { margin-top: 34px; padding: 10px 14px; background: #f7f7f9; border: 1px solid #e3e7ec; font-size: 14px; }
@media print { main { max-width: none; padding: 0; } h2 { break-after: avoid; } figure, table { break-inside: avoid; } }
"""

IMAGES_LOADED_SCRIPT = """
(function () {
  function check() {
    var imgs = document.images, ready = 0;
    for (var i = 0; i < imgs.length; i++)
      if (imgs[i].complete && imgs[i].naturalWidth > 0) ready++;
    if (ready === imgs.length) document.body.dataset.imagesLoaded = String(ready);
  }
  for (var i = 0; i < document.images.length; i++) document.images[i].addEventListener("load", check);
  window.addEventListener("load", check);
  check();
})();
"""


def _fmt(value, digits=1):
    """A number as a cardiologist reads it: whole numbers without decimals."""
    if value is None:
        return "\u2014"
    if isinstance(value, str):
        return value
    if abs(value - round(value)) < 1e-9 and abs(value) < 1e15:
        return "%d" % round(value) if round(value) != 0 else "0"
    text = "%.*f" % (digits, value) if abs(value) >= 1 else "%.2g" % value  # small: two significant digits
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text == "-0" else text


def esc(text):
    return html.escape(str(text), quote=True)


def nc(reason=""):
    return '<p class="nc">%s%s</p>' % (NOT_COMPUTED, esc(" (" + reason + ")") if reason else "")


def fmt_position(p):
    return "(%s, %s, %s)" % tuple(_fmt(v) for v in p)


def png_size(data):
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", data[16:24])


def image_html(path, alt, caption):
    with open(path, "rb") as f:
        data = f.read()
    size = png_size(data) or (0, 0)
    return ('<figure><img src="data:image/png;base64,%s" alt="%s" width="%d" height="%d">'
            '<figcaption>%s</figcaption></figure>'
            % (base64.b64encode(data).decode("ascii"), esc(alt), size[0], size[1], caption))


def yes_no(value, yes="yes", no="no"):
    if value is None:
        return '<span class="nc">%s</span>' % NOT_COMPUTED
    return '<span class="yes">%s</span>' % yes if value else '<span class="no">%s</span>' % no


def transmural_cell(value):
    if value is None:
        return '<span class="nc">%s</span>' % NOT_COMPUTED
    return '<span class="no">yes</span>' if value else '<span class="yes">no (gap risk)</span>'


def table(header, rows, classes=None):
    out = ["<table>"]
    if header:
        out += ["<thead><tr>"] + ["<th>%s</th>" % esc(h) for h in header] + ["</tr></thead>"]
    out.append("<tbody>")
    for i, row in enumerate(rows):
        cls = ' class="%s"' % classes[i] if classes and classes[i] else ""
        out.append("<tr%s>%s</tr>" % (cls, "".join(row)))
    out.append("</tbody></table>")
    return "".join(out)


def td(content, num=False, raw=False, colspan=1, name=False):
    attrs = (' class="num"' if num else ' class="name"' if name else "") + \
        (' colspan="%d"' % colspan if colspan > 1 else "")
    return "<td%s>%s</td>" % (attrs, content if raw else esc(content))


def volume_cell(mm3, total):
    share = " (%.1f %%)" % (100.0 * mm3 / total) if total > 0 else ""
    return td("%s mm\u00b3 = %.2f mL%s" % (_fmt(mm3, 0), mm3 / 1000.0, share), num=True)


def site_label(name, aha_segment):
    """A site as the report names it: its name, and its AHA segment where the model has segments."""
    if aha_segment and ("AHA %d" % aha_segment) not in name:
        return "%s (AHA segment %d)" % (name, aha_segment)
    return name


def inducible_summary(sites, summary=None):
    """"Re-entry inducible from k of n sites: A, B." with the sites named (AHA segment where known)."""
    done = [s for s in sites if s["status"] == "ok"]
    failed = len(sites) - len(done)
    inducing = [s for s in done if s["inducible"]]
    aha = {i["name"]: i["aha_segment"] for i in (summary or {}).get("inducing", [])}
    text = "Re-entry inducible from %d of %d sites" % (len(inducing), len(done))
    if inducing:
        text += ": " + ", ".join(site_label(s["name"], aha.get(s["name"])) for s in inducing)
    if failed:
        text += " (%d more site%s failed and %s not counted: %s)" % (
            failed, "s" if failed > 1 else "", "were" if failed > 1 else "was",
            ", ".join(s["name"] for s in sites if s["status"] != "ok"))
    return text + "."


def vt_findings(sites, summary=None):
    """One line per inducing site: how it was induced and the VT cycle length."""
    aha = {i["name"]: i["aha_segment"] for i in (summary or {}).get("inducing", [])}
    lines = []
    for s in sites:
        if s["status"] != "ok" or not s["inducible"]:
            continue
        coupling = ", ".join("S%d %s ms" % (i + 2, _fmt(c)) for i, c in enumerate(s["coupling_ms"]))
        cl = s["cycle_length_ms"]
        lines.append("From %s: re-entry induced by %s (coupling %s); VT cycle length %s." % (
            site_label(s["name"], aha.get(s["name"])), s["induced_by"] or "\u2014", coupling or "\u2014",
            "%s ms" % _fmt(cl, 0) if cl is not None else "not measurable"))
    return lines


def _mm(v):
    return "(%s) mm" % ", ".join(_fmt(x, 1) for x in v) if isinstance(v, list) else "\u2014"


def plan_findings(plan):
    """`cardiotwin plan`: each circuit found (cycle length, direction, isthmus, entrance and exit), the lesions
    proposed (spec, volume, transmural) and the outcome, one line each."""
    lines = []
    for rnd in plan.get("rounds", []):
        for c in rnd.get("circuits", []):
            site = c.get("site", "?")
            if not c.get("found"):
                lines.append("Round %s, %s: no circuit characterised (%s)." % (rnd.get("round"), site,
                                                                                 c.get("reason", "")))
                continue
            i, o = c.get("isthmus", {}), c.get("encircled_obstacle", {})
            aha = i.get("aha_segment")
            lines.append(
                "Round %s, circuit from %s: cycle length %s ms, %s round non-conducting region %s of %s "
                "(centre %s); isthmus %s mm wide from %s to %s (%s)%s, entrance %s, exit %s." % (
                    rnd.get("round"), site, _fmt(c.get("cycle_length_ms"), 0), c.get("direction"), o.get("index"),
                    o.get("of"), _mm(o.get("center_mm")), _fmt(i.get("width_mm"), 1), _mm(i.get("from_mm")),
                    _mm(i.get("to_mm")), i.get("to", ""), ", AHA %s" % aha if aha else "", _mm(i.get("entrance_mm")),
                    _mm(i.get("exit_mm"))))
    for ln in plan.get("proposed_lesions", []):
        tm = ln.get("transmural")
        lines.append("Proposed lesion %s: %s, %s mL%s." % (
            ln.get("name"), ln.get("spec"), _fmt(ln.get("volume_mL"), 3),
            "" if tm is None else ", transmural" if tm else ", NOT transmural"))
    lines.append("Plan outcome: %s." % plan.get("outcome", ""))
    return lines


def ablation_verdict(ablation):
    before = [s["before"] for s in ablation["sites"] if s["before"] is not None]
    after = [s["after"] for s in ablation["sites"] if s["after"] is not None and not s.get("after_failed")]
    text = "Re-entry inducible from %d of %d sites before ablation, %d after" % (
        sum(before), len(before), sum(after))
    if len(after) != len(before):
        text += " (of %d sites tested after)" % len(after)
    still = [s["name"] for s in ablation["sites"] if s["after"] and not s.get("after_failed")]
    if still:
        text += "; still inducible from " + ", ".join(still)
    failed = [s["name"] for s in ablation["sites"] if s.get("after_failed")]
    if failed:
        text += "; failed after ablation (not counted): " + ", ".join(failed)
    return text + ".", (sum(after) == 0 and len(after) > 0 and not failed), (sum(after) > 0)


def section_patient(report):
    p = report["patient"]
    total = p["volume_mm3"]
    rows = [[td("Description"), td(p["description"])]]
    if p["source"]:
        rows.append([td("Patient file"), td(p["source"])])
    rows += [[td("Mesh"), td("%s nodes, %s tetrahedra" % (format(p["n_nodes"], ","), format(p["n_tets"], ",")))],
             [td("Myocardial volume"), volume_cell(total, 0)],
             [td("Healthy tissue"), volume_cell(p["healthy_volume_mm3"], total)],
             [td("Border zone"), volume_cell(p["border_zone_volume_mm3"], total)],
             [td("Scar"), volume_cell(p["scar_volume_mm3"], total)]]
    if p["lesion_volume_mm3"] > 0:
        rows.append([td("Ablation lesions (not in the scar's volume)"), volume_cell(p["lesion_volume_mm3"], total)])
    return "<h2>Patient</h2>" + table(None, rows)


def section_baseline(report):
    b = report["baseline"]
    out = ["<h2>Baseline beat</h2>"]
    if b is None:
        return out[0] + nc()
    if b["status"] != "ok":
        out.append('<p class="warn">Baseline simulation status: <b>%s</b>%s</p>'
                   % (esc(b["status"]), esc(": " + b["message"]) if b["message"] else ""))
    if b["metrics"]:
        rows = [[td(label), td("%s %s" % (_fmt(value), unit), num=True)] for label, value, unit in b["metrics"]]
        out.append(table(["Metric", "Value"], rows))
    else:
        out.append(nc("no metrics in report.json"))
    return "".join(out)


def section_maps(maps):
    out = ["<h2>Activation and repolarisation maps</h2>"]
    for key, heading in (("activation", "Activation time"), ("apd90", "APD90")):
        out.append("<h3>%s</h3>" % heading)
        m = maps.get(key)
        if m is None or "png" not in m:
            out.append(nc(m["reason"] if m else ""))
            continue
        stats = m["stats"]
        if stats["min"] is None:
            values = "No surface node has a value"
        else:
            values = "Range %s\u2013%s ms, defined on %.0f %% of surface nodes" % (
                _fmt(stats["min"]), _fmt(stats["max"]), 100 * stats["defined_fraction"])
        lesion_text = (" Hatched (plan view) or black (surface views): the ablation lesions, drawn on the "
                       "baseline map (the baseline beat itself is without them)." if m.get("lesions") else "")
        if m.get("isthmi"):
            lesion_text += (" Dashed: the isthmus of each circuit the ablation plan found (its narrowest gap), arrow "
                            "from its entrance to its exit.")
        if m.get("plan"):
            caption = ("%s of the baseline beat, plan view of the tissue's upper face with its true aspect ratio "
                       "(scale bar in mm). %s; grey: %s.%s" % (heading, values, m["nan_label"], lesion_text))
        else:
            caption = ("%s of the baseline beat on the outer surface of the mesh, two opposite views. %s; grey: %s. "
                       "Markers beneath the surface (mid-wall or endocardial sites) are drawn shaded at their "
                       "projection on the visible surface.%s" % (heading, values, m["nan_label"], lesion_text))
        out.append(image_html(m["png"], heading + " map", esc(caption)))
    return "".join(out)


def section_ecg(ecg):
    out = "<h2>Pseudo-ECG (baseline beat)</h2>"
    if ecg.get("png") is None:
        return out + nc(ecg.get("reason", ""))
    return out + image_html(ecg["png"], "12-lead pseudo-ECG", esc(
        "Pseudo-ECG of the simulated baseline beat (%s); the leads in a column share one vertical scale. Amplitudes "
        "are in arbitrary units: intervals (QRS, QT) are meaningful, absolute voltages are not." % ecg["source"]))


def section_protocol(report):
    rows = report["protocol"]
    out = "<h2>Stimulation protocol</h2>"
    if rows is None:
        return out + nc()
    return out + table(["Parameter", "Value"], [[td(label), td(("%s %s" % (_fmt(v, 3), unit)).strip(), num=True)]
                                                  for label, v, unit in rows])


def section_sites(report):
    sites = report["sites"]
    out = ["<h2>Inducibility by pacing site</h2>"]
    if sites is None:
        return out[0] + nc()
    if not sites:
        return out[0] + '<p class="nc">no pacing sites were tested</p>'
    out.append('<p class="verdict %s">%s</p>' % (
        "bad" if any(s["status"] == "ok" and s["inducible"] for s in sites) else
        "" if any(s["status"] != "ok" for s in sites) else "good",
        esc(inducible_summary(sites, report.get("summary")))))
    header = ["Site", "Position (mm)", "Inducible", "Induced by", "Coupling intervals (ms)",
              "Effective refractory period (ms)", "Re-entry cycle length (ms)", "Phase singularities", "Simulated"]
    rows, classes = [], []
    for s in sites:
        row = [td(s["name"], name=True), td(fmt_position(s["position_mm"]), num=True)]
        if s["status"] != "ok":
            row.append(td('<b>%s</b> (not counted; a rerun runs it again)%s' % (
                esc(s["status"]), esc(": " + s["message"]) if s.get("message") else " (no message)"),
                raw=True, colspan=len(header) - 2))
            rows.append(row)
            classes.append("failed")
            continue
        coupling = ", ".join("S%d %s" % (i + 2, _fmt(c)) for i, c in enumerate(s["coupling_ms"])) or "\u2014"
        erp = ", ".join("%s %s" % (name, _fmt(v) if v is not None else "not determined")
                        for name, v in s["erp_ms"]) or "\u2014"
        ps = s["phase_singularities"]
        if ps is None:
            ps_text = "\u2014"
        else:
            charges = [p["charge"] for p in ps if p["charge"] is not None]
            ps_text = "%d" % len(ps)
            if charges:
                ps_text += " (%d +, %d \u2212)" % (sum(1 for c in charges if c > 0), sum(1 for c in charges if c < 0))
        sim = []
        if s["simulated_ms"] is not None:
            sim.append("%s s model time" % _fmt(s["simulated_ms"] / 1000.0))
        if s["wall_s"] is not None:
            sim.append("%s s wall" % _fmt(s["wall_s"], 0))
        row += [td(yes_no(s["inducible"]), raw=True), td(s["induced_by"] or "\u2014"), td(coupling, num=True),
                td(erp, num=True), td(_fmt(s["cycle_length_ms"]), num=True), td(ps_text, num=True),
                td(", ".join(sim) or "\u2014")]
        rows.append(row)
        classes.append("")
    out.append(table(header, rows, classes))
    out.append('<p class="sub">Coupling intervals are listed in stimulus order (S2, S3, ...). '
               '\u2014: not applicable or not determined.</p>')
    return "".join(out)


def section_ablation(report):
    a = report["ablation"]
    out = ["<h2>Virtual ablation</h2>"]
    if a is None:
        return out[0] + nc()
    verdict, good, bad = ablation_verdict(a)
    out.append('<p class="verdict %s">%s</p>' % ("good" if good else "bad" if bad else "", esc(verdict)))
    if a["lesions"]:
        rows = []
        for i, ln in enumerate(a["lesions"]):
            if ln["shape"] == "sphere":
                where = "centre %s" % fmt_position(ln["center_mm"])
            elif ln["shape"] == "line":
                where = "%s \u2192 %s" % (fmt_position(ln["from_mm"]), fmt_position(ln["to_mm"]))
            else:
                where = "%s \u2013 %s" % (fmt_position(ln["box_min_mm"]), fmt_position(ln["box_max_mm"]))
            rows.append([td("L%d" % (i + 1), num=True), td(ln["shape"]), td(where), td(_fmt(ln["radius_mm"]), num=True),
                         td("%s mm\u00b3 = %.3f mL" % (_fmt(ln["volume_mm3"]), ln["volume_mm3"] / 1000.0), num=True),
                         td(transmural_cell(ln["transmural"]), raw=True)])
        out.append("<h3>Lesions</h3>" + table(["#", "Shape", "Geometry (mm)", "Radius (mm)", "Volume",
                                               "Transmural"], rows))
        partial = ["L%d" % (i + 1) for i, ln in enumerate(a["lesions"]) if ln["transmural"] is False]
        if partial:
            which = ("Lesions %s are" if len(partial) > 1 else "Lesion %s is") % ", ".join(partial)
            out.append('<p class="warn">%s not transmural: conduction may persist through the surviving '
                       'wall.</p>' % which)
    else:
        out.append('<p class="nc">no lesions</p>')
    failed_before = {s["name"] for s in report["sites"] or [] if s["status"] != "ok"}
    rows = [[td(s["name"], name=True),
             td("<b>failed</b>", raw=True) if s["name"] in failed_before else td(yes_no(s["before"]), raw=True),
             td('<b>failed</b> (not counted): %s' % esc(s["after_failed"]), raw=True) if s.get("after_failed")
             else td(yes_no(s["after"]), raw=True)] for s in a["sites"]]
    out.append("<h3>Inducibility before and after ablation</h3>" +
               table(["Site", "Inducible before", "Inducible after"], rows))
    return "".join(out)


def section_limitations(report):
    notes = report["notes"]
    text = "; ".join(n.strip().rstrip(".") for n in notes) + "." if notes else "none recorded."
    return '<p class="limitations"><b>Limitations:</b> %s</p>' % esc(text)


def section_summary(report):
    """The findings a reader looks for first, repeated from the sections below."""
    lines = []
    b = report["baseline"]
    if b is not None:
        lines.append("Baseline simulation: %s." % b["status"])
    summary = report.get("summary")
    if report["sites"]:
        lines.append(inducible_summary(report["sites"], summary))
        lines += vt_findings(report["sites"], summary)
    a = report["ablation"]
    if a is not None:
        p = report["patient"]
        lesions = "; ".join("L%d %s, %.3g mL%s" % (
            i + 1, ln["shape"], ln["volume_mm3"] / 1000.0,
            "" if ln["transmural"] is None else ", transmural" if ln["transmural"] else ", NOT transmural")
            for i, ln in enumerate(a["lesions"]))
        if lesions:
            lines.append("Ablation: %s (lesions %.3g mL in all, apart from the scar's %.3g mL)." % (
                lesions, p["lesion_volume_mm3"] / 1000.0, p["scar_volume_mm3"] / 1000.0))
        lines.append(ablation_verdict(a)[0])
    if report.get("plan"):
        lines += plan_findings(report["plan"])
    raw = report.get("raw") or {}
    if isinstance(raw.get("prescreen"), dict):
        lines.append(prescreen_line(raw["prescreen"]))
    for heading, name, site in collect_vts(raw):
        lines.append(vt_line(heading, site["vt"]))
    grouped = {}  # one line per site and reason, naming the phases it failed in
    for f in (summary or {}).get("failed", []):
        grouped.setdefault((f["name"], f["message"]), []).append(
            "after ablation" if f["phase"] == "ablated" else "induction")
    for (name, message), phases in grouped.items():
        lines.append("FAILED: site %s (%s): %s. A rerun into the same folder runs it again." % (
            name, " and ".join(phases), message))
    if not lines:
        return ""
    return '<h2>Key findings</h2><ul>%s</ul>' % "".join("<li>%s</li>" % esc(l) for l in lines)



# ----------------------------------------------------------------------------------------------
# `cardiotwin plan`: the pre-screen, each induced VT (Vm traces, cycle lengths, PS trajectory), the ERPs
# (read from report.json as it is: sections newer than the checked ones above, absent in older reports)
# ----------------------------------------------------------------------------------------------

def _dict(v):
    return v if isinstance(v, dict) else {}


def _list(v):
    return v if isinstance(v, list) else []


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def collect_vts(raw):
    """Every induced VT with recorded traces: (heading, site name, site result), before ablation and at a
    site's last re-test after it."""
    vts = []
    before = {}
    for s in _list(raw.get("sites")):
        if isinstance(s, dict):
            before[s.get("name")] = s
            if isinstance(s.get("vt"), dict):
                vts.append(("%s, before ablation" % s.get("name"), s.get("name"), s))
    for e in _list(_dict(raw.get("ablation")).get("sites")):
        a = _dict(e).get("result_after")
        if isinstance(a, dict) and isinstance(a.get("vt"), dict) and a is not before.get(e.get("name")) \
                and a != before.get(e.get("name")):
            vts.append(("%s, at its last re-test after ablation" % e.get("name"), e.get("name"), a))
    return vts


def vt_line(name, vt):
    cl = vt.get("cl_mean_ms")
    text = "VT from %s: %s" % (name, vt.get("classification", "not classified"))
    if _num(cl) is not None:
        text += ", cycle length %s \u00b1 %s ms over %d cycles at the %s" % (
            _fmt(cl, 0), _fmt(vt.get("cl_sd_ms"), 1), len(_list(vt.get("cl_ms"))), vt.get("cl_at", "exit site"))
    return text + "."


def prescreen_line(pre):
    ranked = _list(pre.get("ranked"))
    run = [r.get("name") for r in ranked if r.get("run")]
    out = _list(pre.get("screened_out"))
    text = "Pre-screen: %d sites ranked in %s s; the full protocol ran from the top %s (%s)" % (
        len(ranked), _fmt(_num(pre.get("wall_s")), 1), pre.get("top_k"), ", ".join(map(str, run)) or "none")
    if out:
        text += "; screened out: " + ", ".join("%s (score %s)" % (o.get("name"), _fmt(_num(o.get("score")), 0))
                                              for o in out)
    return text + "."


def section_prescreen(raw):
    pre = raw.get("prescreen")
    if not isinstance(pre, dict):
        return ""
    out = ["<h2>Pre-screen of the pacing sites</h2>",
           '<p>%s</p>' % esc(prescreen_line(pre)),
           '<p class="sub">The pre-screen (an eikonal model with refractoriness on the mesh\'s edges, calibrated '
           'on cable runs of the same model; <code>%s</code>) ranks every site; only the top %s ran the monodomain '
           'protocol. The sites screened out were not simulated: their risk rests on the pre-screen alone.</p>'
           % (esc(pre.get("file", "prescreen.json")), esc(pre.get("top_k")))]
    rows, classes = [], []
    for r in _list(pre.get("ranked")):
        coupling = ", ".join("S%d %s" % (i + 2, _fmt(c)) for i, c in enumerate(_list(r.get("coupling_ms"))))
        rows.append([td(str(r.get("rank")), num=True), td(str(r.get("name")), name=True),
                     td(fmt_position(r.get("position_mm")) if isinstance(r.get("position_mm"), list) else "\u2014",
                        num=True),
                     td(_fmt(_num(r.get("score")), 0), num=True),
                     td(yes_no(r.get("predicted_inducible")), raw=True), td(coupling or "\u2014", num=True),
                     td("run in full" if r.get("run") else "screened out")])
        classes.append("" if r.get("run") else "failed")
    out.append(table(["Rank", "Site", "Position (mm)", "Score", "Predicted inducible", "Predicted coupling (ms)",
                      "Full protocol"], rows, classes))
    nf = _list(pre.get("not_prescreened"))
    if nf:
        out.append('<p class="warn">Not pre-screened (run in full): %s</p>' % esc(
            "; ".join("%s: %s" % (n.get("name"), n.get("reason")) for n in nf)))
    return "".join(out)


def _erp_text(site):
    """A site result's S2.. ERPs with the coupling intervals that bracket them."""
    erp, br = _dict(site.get("erp_ms")), _dict(site.get("erp_bracket_ms"))
    parts = []
    for name, v in erp.items():
        b = _list(br.get(name))
        fail, cap = (b + [None, None])[:2]
        if _num(v) is None:
            text = "%s not determined (captured down to the shortest interval tried%s)" % (
                name, ", or re-entry came first" if site.get("inducible") else "")
        else:
            text = "%s %s ms" % (name, _fmt(v))
            if _num(fail) is not None and _num(cap) is not None:
                text += " (failed at %s, captured at %s)" % (_fmt(fail), _fmt(cap))
            elif _num(fail) is not None:
                text += " (failed at the first interval tried)"
        parts.append(text)
    return "; ".join(parts) or "\u2014"


def section_erp(raw):
    sites = [s for s in _list(raw.get("sites")) if isinstance(s, dict) and s.get("status") == "ok"]
    if not sites or not any(isinstance(s.get("erp_bracket_ms"), dict) for s in sites):
        return ""
    after = {}
    for e in _list(_dict(raw.get("ablation")).get("sites")):
        after[_dict(e).get("name")] = _dict(e).get("result_after")
    rows = []
    for s in sites:
        a = after.get(s.get("name"))
        if raw.get("ablation") is None:
            a_text = "no ablation"
        elif not isinstance(a, dict) or a == s:
            a_text = "not re-tested"
        elif a.get("status") != "ok":
            a_text = "failed"
        else:
            a_text = _erp_text(a)
        rows.append([td(str(s.get("name")), name=True), td(_erp_text(s)), td(a_text)])
    return ("<h2>Effective refractory period before and after ablation</h2>"
            '<p class="sub">ERP: the longest coupling interval of the extra-stimulus that failed to capture, bisected '
            "between the protocol's first failing interval and the last capturing one (shown in brackets). "
            "After ablation: at the site's last re-test.</p>" +
            table(["Site", "ERP before ablation", "ERP after ablation"], rows))


def plot_vt(png_path, title, site, surface, axes, isthmus):
    """One induced VT: left the Vm traces (pacing and exit sites) with the stimuli marked, right the phase
    singularities over the observation (coloured by time) on the tissue, with the pacing and exit sites."""
    np, matplotlib = import_plotting()
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    vt = site["vt"]
    tr = _dict(vt.get("traces"))
    fig = plt.figure(figsize=(12, 4.6))
    fig.suptitle(title, fontsize=12)
    ax = fig.add_axes([0.06, 0.14, 0.5, 0.72])
    t0, dt = _num(tr.get("t0_ms")) or 0.0, _num(tr.get("sample_ms")) or 1.0
    colours = ["#173b6c", "#b00020", "#1b7a3a", "#8a4b00"]
    for i, pt in enumerate(_list(tr.get("points"))):
        vm = np.asarray([np.nan if v is None else v for v in _list(pt.get("vm_mV"))], dtype=float)
        t = t0 + dt * np.arange(vm.size)
        ax.plot(t, vm, color=colours[i % 4], lw=1.3, label="%s (node at %s mm)" % (
            pt.get("label"), ", ".join(_fmt(x, 1) for x in _list(pt.get("node_mm")))))
    ymax = ax.get_ylim()[1]
    for st in _list(tr.get("stimuli")):
        ax.axvline(st.get("t_ms"), color="grey", ls="--", lw=0.9)
        ax.text(st.get("t_ms"), ymax, " " + str(st.get("name")), fontsize=9, va="top", ha="left", color="#333")
    ax.set_xlabel("time (ms)")
    ax.set_ylabel("Vm (mV)")
    ax.legend(loc="lower right", fontsize=8, framealpha=0.85)
    ax.grid(alpha=0.25)

    ax2 = fig.add_axes([0.62, 0.14, 0.28, 0.72])
    a, b = (axes[0], axes[1]) if axes else (0, 1)
    names = "xyz"
    if surface is not None:
        xyz = np.asarray(surface["xyz_mm"], dtype=float).reshape(-1, 3)
        step = max(1, xyz.shape[0] // 6000)
        ax2.scatter(xyz[::step, a], xyz[::step, b], s=1, c="#d5d9df", linewidths=0, zorder=1)
    last = max([_num(s.get("t_ms")) or 0 for s in _list(tr.get("stimuli"))] or [0])
    pts, times = [], []
    for f in _list(vt.get("ps_trajectory")):
        for p in _list(f.get("positions_mm")):
            pts.append(p)
            times.append((_num(f.get("t_ms")) or 0) - last)
    if pts:
        P = np.asarray(pts, dtype=float)
        sc = ax2.scatter(P[:, a], P[:, b], c=times, cmap="viridis", s=14, zorder=3, edgecolors="none")
        cax = fig.add_axes([0.93, 0.18, 0.012, 0.6])
        cb = fig.colorbar(sc, cax=cax)
        cb.set_label("PS time after the last stimulus (ms)", fontsize=8)
        cb.ax.tick_params(labelsize=8)
    else:
        ax2.text(0.5, 0.03, "no phase singularity on the surface", transform=ax2.transAxes, ha="center",
                 fontsize=8, color="#555")
    handles = []
    if isthmus:
        ax2.plot([isthmus["from_mm"][a], isthmus["to_mm"][a]], [isthmus["from_mm"][b], isthmus["to_mm"][b]],
                 color="black", lw=2, ls="--", zorder=4)
        handles.append(Line2D([], [], color="black", lw=2, ls="--", label="isthmus"))
    for i, pt in enumerate(_list(tr.get("points"))):
        pos = _list(pt.get("node_mm"))
        if len(pos) == 3:
            ax2.scatter([pos[a]], [pos[b]], marker="o" if i == 0 else "^", s=70, c=colours[i % 4],
                        edgecolors="white", linewidths=1.2, zorder=5)
            handles.append(Line2D([], [], linestyle="none", marker="o" if i == 0 else "^", markersize=8,
                                  markerfacecolor=colours[i % 4], markeredgecolor="white", label=pt.get("label")))
    if pts:
        handles.append(Line2D([], [], linestyle="none", marker="o", markersize=5, markerfacecolor="#2a788e",
                              markeredgecolor="none", label="phase singularity"))
    if surface is None:  # no tissue drawn (no baseline run): at least 10 mm of context round the markers
        marks = [p for p in pts] + [_list(pt.get("node_mm")) for pt in _list(tr.get("points"))]
        marks = np.asarray([m for m in marks if len(m) == 3], dtype=float)
        if marks.size:
            ca, cb_ = marks[:, a].mean(), marks[:, b].mean()
            half = max(5.0, 0.6 * max(np.ptp(marks[:, a]), np.ptp(marks[:, b])))
            ax2.set_xlim(ca - half, ca + half)
            ax2.set_ylim(cb_ - half, cb_ + half)
    ax2.set_aspect("equal")
    ax2.set_xlabel("%s (mm)" % names[a])
    ax2.set_ylabel("%s (mm)" % names[b])
    ax2.set_title("PS trajectory over the observation" + ("" if axes else " (projected on x-y)"), fontsize=10)
    if handles:
        ax2.legend(handles=handles, loc="upper right", fontsize=7, framealpha=0.85)
    save_figure(fig, png_path, dpi=90)
    plt.close(fig)


def circuit_lesion(circuit):
    """The circuit's proposed lesion ("lesion": {"spec": "line:ax,ay,az,bx,by,bz,r"}, mm) as lesion_outline draws
    it, or None."""
    spec = _dict(_dict(circuit).get("lesion")).get("spec")
    if not isinstance(spec, str) or not spec.startswith("line:"):
        return None
    try:
        v = [float(x) for x in spec[5:].split(",")]
    except ValueError:
        return None
    if len(v) != 7 or not all(math.isfinite(x) for x in v) or v[6] <= 0:
        return None
    return {"shape": "line", "from_mm": v[0:3], "to_mm": v[3:6], "radius_mm": v[6]}


def plot_vt_lat(png_path, title, site, surface, axes):
    """The local activation time (ms, 0 = earliest) of the VT's own last cycle on the surface (the site's
    "vt"."lat_surface_ms", in surface.json's node order), drawn as the baseline activation map is (plan view for
    a sheet, two views for a heart), grey where a node was not activated in that cycle, black across a
    triangle where LAT jumps by over half the cycle ("lat_window_ms", else "cl_mean_ms": early meets late);
    the circuit's isthmus (entrance to exit) and proposed lesion where the site's "circuit" has them.
    Returns the map's stats, or None when the site holds no map that fits this surface."""
    vt = _dict(site.get("vt"))
    lat = _list(vt.get("lat_surface_ms"))
    n_nodes = len(surface["xyz_mm"]) // 3
    if len(lat) != n_nodes:
        return None
    values = [float(v) if _num(v) is not None else float("nan") for v in lat]
    c = _dict(site.get("circuit"))
    isthmi, lesions = [], []
    i = _dict(c.get("isthmus"))
    if c.get("found") and all(isinstance(i.get(k), list) and len(i[k]) == 3 for k in
                              ("from_mm", "to_mm", "entrance_mm", "exit_mm")):
        isthmi.append((i["from_mm"], i["to_mm"], i["entrance_mm"], i["exit_mm"], c.get("direction", "")))
    lesion = circuit_lesion(c) if c.get("found") else None
    if lesion:
        lesions.append(lesion)
    markers = [("site", site.get("name", ""), site["position_mm"])] if isinstance(site.get("position_mm"), list) \
        and len(site["position_mm"]) == 3 else []
    unit = "LAT in the VT cycle (ms, 0 = earliest)"
    nan_label = "not activated in the VT cycle"
    cycle = _num(vt.get("lat_window_ms")) or _num(vt.get("cl_mean_ms"))
    if axes:
        return plot_plan_map(surface, values, png_path, title, unit, "turbo_r", markers, nan_label, lesions, axes,
                             isthmi, wrap_ms=cycle)
    return plot_surface_map(surface, values, png_path, title, unit, "turbo_r", markers, nan_label, lesions,
                            isthmi, wrap_ms=cycle)


def section_vts(vt_figs):
    if not vt_figs:
        return ""
    out = ["<h2>Induced VTs: Vm traces, cycle length and morphology</h2>",
           '<p class="sub">Each induced VT replayed from the last S1: Vm at the pacing site and at the circuit\'s exit '
           "site (electrogram-like; the exit site when a circuit was found), with S1, S2, S3 marked; the cycle "
           "length of each cycle at the exit site (the initiation left out: the extra-stimulus's own beat and the "
           "first re-entrant turn, when enough cycles remain); "
           "monomorphic when every cycle length lies within 5 % of their mean and the phase singularities' mean "
           "position per cycle (from one activation of the exit site to the next) moves less than 5 mm. Right: the phase singularities found every few ms over the "
           "observation, coloured by time (a wave round an obstacle shows its singularity circling the obstacle's "
           "rim).</p>"]
    for heading, vt, png, lat_png in vt_figs:
        cl = _list(vt.get("cl_ms"))
        out.append("<h3>%s</h3>" % esc(heading))
        lines = ["<b>%s</b>" % esc(vt.get("classification", "not classified"))]
        if _num(vt.get("cl_mean_ms")) is not None:
            lines.append("cycle length %s \u00b1 %s ms (mean \u00b1 sd, %d cycles at the %s; largest deviation %s %%)" % (
                _fmt(vt.get("cl_mean_ms"), 1), _fmt(vt.get("cl_sd_ms"), 1), len(cl), esc(vt.get("cl_at", "")),
                _fmt(vt.get("cl_max_deviation_percent"), 1)))
        if cl:
            lines.append("cycles: %s ms" % ", ".join(_fmt(c, 0) for c in cl))
        init = _list(vt.get("initiation_cl_ms"))
        if init:
            lines.append("initiation (left out): %s ms" % ", ".join(_fmt(c, 0) for c in init))
        if _num(vt.get("ps_drift_mm")) is not None:
            lines.append("PS per-cycle drift %s mm" % _fmt(vt.get("ps_drift_mm"), 1))
        out.append("<p>%s. <span class=\"sub\">%s</span></p>" % ("; ".join(lines), esc(vt.get("why", ""))))
        if png:
            out.append(image_html(png, heading, esc("Vm (mV) against time (ms) at the traced nodes, stimuli "
                                                    "dashed; PS trajectory on the tissue (mm).")))
        span = _num(vt.get("lat_span_ms"))
        cyc = _num(vt.get("lat_window_ms")) or _num(vt.get("cl_mean_ms"))
        if lat_png:
            out.append(image_html(lat_png, heading + ": activation map of the VT cycle", esc(
                "Local activation time of the VT's own last cycle (ms from the earliest activation in the last "
                "cycle-length window of the observation; as an electro-anatomical map shows it, early meets "
                "late); grey: not activated in that cycle or non-conducting; black: triangles across which LAT "
                "jumps by over half the cycle, where the wave's head meets its own tail (or a line of block), drawn "
                "black rather than in a mean colour no node has. LAT span %s ms%s; a span near the "
                "cycle length: a macro-re-entry. Dashed: the isthmus (labelled in the surface views), arrow from "
                "its entrance to its exit; hatched (plan view) or black bar (surface views): the proposed lesion. "
                "Full map: %s." % (
                    _fmt(span, 1), " of a %s ms cycle (%s %%)" % (_fmt(cyc, 0), _fmt(100.0 * span / cyc, 0))
                    if span is not None and cyc else "", vt.get("lat_file", "not stored")))))
        elif vt.get("lat_why"):
            out.append('<p class="sub">No activation map of the VT cycle: %s.</p>' % esc(vt.get("lat_why")))
    return "".join(out)


def render_html(report, maps, ecg, plan_html=None):
    title = report["title"]
    generated = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    body = [
        "<h1>%s</h1>" % esc(title),
        '<p class="sub">Arrhythmia-risk report from a cardiotwin simulation, generated %s. Model-based '
        "estimate for research use; not a diagnosis.</p>" % esc(generated),
        section_summary(report), section_patient(report), section_baseline(report), section_maps(maps),
        section_ecg(ecg),
        (plan_html or {}).get("prescreen", ""),
        section_sites(report), (plan_html or {}).get("vts", ""), (plan_html or {}).get("erp", ""),
        section_protocol(report), section_ablation(report), section_limitations(report),
    ]
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            "<title>%s</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n%s\n</main>\n<script>%s</script>\n"
            "</body>\n</html>\n" % (esc(title), CSS, "\n".join(body), IMAGES_LOADED_SCRIPT))


# ----------------------------------------------------------------------------------------------
# Commands
# ----------------------------------------------------------------------------------------------

def np_module():
    return import_plotting()[0]


def command_ecg(args):
    data = parse_ecg_csv(args.csv)
    plot_ecg(data, args.png, args.title or os.path.basename(args.csv))


def remove_stale(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def command_report(args):
    folder = args.dir
    if not os.path.isdir(folder):
        raise InputError("%s: not a folder" % folder)
    report_path = os.path.join(folder, "report.json")
    surface_path = os.path.join(folder, "surface.json")

    # 1. Read and check everything.
    report = parse_report(report_path)
    surface = parse_surface(surface_path) if os.path.exists(surface_path) else None
    ecg = {"reason": "no ECG in report.json"}
    csv_data = None
    baseline = report["baseline"]
    if baseline is not None and baseline["ecg_csv"]:
        csv_path = os.path.join(folder, baseline["ecg_csv"])
        ecg["source"] = baseline["ecg_csv"]
        if os.path.exists(csv_path):
            csv_data = parse_ecg_csv(csv_path)
        else:
            ecg["reason"] = "%s not found" % baseline["ecg_csv"]
            print("%s: warning: %s: baseline.ecg_csv \"%s\" not found; the ECG section says not computed"
                  % (PROG, report_path, baseline["ecg_csv"]), file=sys.stderr)
    elif baseline is None:
        ecg["reason"] = ""

    # 2. Draw. Files a section does not produce are removed, so the folder never mixes two reports.
    if csv_data is not None or surface is not None:
        import_plotting()  # fails before anything is touched where matplotlib is missing
    markers = []
    for s in report["sites"] or []:
        markers.append(("site", s["name"], s["position_mm"]))
    for s in report["sites"] or []:
        for p in (s.get("phase_singularities") or []):
            markers.append(("ps", "", p["position_mm"]))

    ecg_png = os.path.join(folder, "ecg.png")
    if csv_data is not None:
        n_leads = len(csv_data[0])
        plot_ecg(csv_data, ecg_png, "Baseline 12-lead pseudo-ECG" if n_leads == 12 else
                 "Baseline pseudo-ECG, %d lead%s" % (n_leads, "s" if n_leads > 1 else ""))
        ecg["png"] = ecg_png
    else:
        remove_stale(ecg_png)

    maps = {}
    specs = [("activation", "activation_ms", "Activation time, baseline beat", "activation time (ms)", "turbo_r",
              "never activated"),
             ("apd90", "apd90_ms", "APD90, baseline beat", "APD90 (ms)", "viridis", "no APD90")]
    for key, field, title, unit, cmap, nan_label in specs:
        png = os.path.join(folder, key + ".png")
        if surface is None or field not in surface["fields"]:
            maps[key] = {"reason": "no surface.json" if surface is None else "no %s in surface.json" % field}
            remove_stale(png)
            continue
        lesions = report["ablation"]["lesions"] if report["ablation"] else []
        plan = is_plan_geometry(np_module(), surface)
        isthmi = []
        for rnd in (report.get("plan") or {}).get("rounds", []):
            for c in rnd.get("circuits", []):
                i = c.get("isthmus") or {}
                if c.get("found") and all(isinstance(i.get(k), list) and len(i[k]) == 3 for k in
                                          ("from_mm", "to_mm", "entrance_mm", "exit_mm")):
                    isthmi.append((i["from_mm"], i["to_mm"], i["entrance_mm"], i["exit_mm"],
                                   c.get("direction", "")))
        if plan:
            stats = plot_plan_map(surface, surface["fields"][field], png, title, unit, cmap, markers, nan_label,
                                  lesions, plan, isthmi)
        else:
            stats = plot_surface_map(surface, surface["fields"][field], png, title, unit, cmap, markers, nan_label,
                                     lesions, isthmi)
        maps[key] = {"png": png, "stats": stats, "nan_label": nan_label, "plan": plan is not None,
                     "lesions": len(lesions), "isthmi": len(isthmi)}

    # 3. `cardiotwin plan`: the pre-screen, the induced VTs (one figure each), the ERPs.
    raw = load_json_file(report_path)
    raw = raw if isinstance(raw, dict) else {}
    report["raw"] = raw
    vt_figs = []
    vts = collect_vts(raw)
    for name in os.listdir(folder):  # figures of an earlier report
        if name.startswith("vt-") and name.endswith(".png"):
            remove_stale(os.path.join(folder, name))
    if vts:
        np = np_module()
        axes = is_plan_geometry(np, surface) if surface is not None else None
        for k, (heading, name, site) in enumerate(vts):
            c = _dict(site.get("circuit"))
            isthmus = _dict(c.get("isthmus")) if c.get("found") else {}
            if not (isinstance(isthmus.get("from_mm"), list) and isinstance(isthmus.get("to_mm"), list)):
                isthmus = None
            png = None
            if isinstance(_dict(site["vt"]).get("traces"), dict):
                png = os.path.join(folder, "vt-%d.png" % (k + 1))
                plot_vt(png, "VT %d: %s" % (k + 1, heading), site, surface, axes, isthmus)
            lat_png = None
            if surface is not None and _list(_dict(site["vt"]).get("lat_surface_ms")):
                lat_png = os.path.join(folder, "vt-%d-lat.png" % (k + 1))
                if plot_vt_lat(lat_png, "VT %d: %s, activation map of the VT cycle" % (k + 1, heading), site,
                               surface, axes) is None:
                    lat_png = None
            vt_figs.append(("VT %d: %s" % (k + 1, heading), site["vt"], png, lat_png))
    plan_html = {"prescreen": section_prescreen(raw), "vts": section_vts(vt_figs), "erp": section_erp(raw)}

    page = render_html(report, maps, ecg, plan_html).encode("utf-8")
    write_atomically(os.path.join(folder, "report.html"), lambda f: f.write(page))


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as cardiotwin does for usage errors
        print("%s: %s (see %s --help)" % (PROG, message, self.prog), file=sys.stderr)
        sys.exit(2)


def main(argv):
    parser = Parser(prog="ct_report.py", description="cardiotwin arrhythmia-risk report renderer")
    sub = parser.add_subparsers(dest="command", parser_class=Parser)
    p_ecg = sub.add_parser("ecg", help="plot a pseudo-ECG CSV to a PNG")
    p_ecg.add_argument("csv", metavar="ECG_CSV")
    p_ecg.add_argument("png", metavar="PNG")
    p_ecg.add_argument("--title", default=None)
    p_rep = sub.add_parser("report", help="render DIR/report.json (+ surface.json, ECG) to DIR/report.html")
    p_rep.add_argument("dir", metavar="DIR")
    args = parser.parse_args(argv)
    if args.command is None:
        parser.error("expected a command: ecg or report")
    try:
        (command_ecg if args.command == "ecg" else command_report)(args)
    except InputError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    except OSError as e:
        print("%s: %s" % (PROG, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
