#!/usr/bin/env bash
# image_routes.sh — one heart, several ways in: the phantom's label image at 1 mm (scanner-aligned), at
# 1.5 mm on a grid rotated 30/20/10 deg, and at 0.5 mm, each personalised (h 2 mm) and paced for one beat
# from the same AHA segment; prints the myocardial volume of each twin and how far their activation maps
# lie apart (each twin's activation time at the other's nodes, by linear interpolation in its tets).
#
#   bash bench/image_routes.sh [OUT_DIR] [END_MS]        (defaults out/image_routes, 150)
#
# Needs build/cardiotwin and Debian's python3-vtk9 (/usr/bin/python3). About 10 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-out/image_routes}
end_ms=${2:-150}
ct=build/cardiotwin
mkdir -p "$out"
routes=("1mm:1.0:0,0,0" "1.5mm_rot:1.5:30,20,10" "0.5mm:0.5:0,0,0")
for r in "${routes[@]}"; do
  IFS=: read -r name voxel rot <<< "$r"
  d=$out/$name
  mkdir -p "$d"
  $ct phantom --out "$d/image" --voxel-mm "$voxel" --rotate-deg "$rot" > /dev/null
  cat > "$d/patient.json" <<JSON
{"description": "image route $name",
 "geometry": {"type": "image", "path": "image/labels.nii.gz", "h_mm": 2.0,
              "labels": {"lv_myocardium": 1, "rv_myocardium": 2, "lv_blood": 3, "rv_blood": 4, "scar": 5, "border_zone": 6}},
 "conduction": {"sigma_l_S_per_m": 0.74, "sigma_t_S_per_m": 0.42},
 "pacing": [{"name": "LV inferior (AHA 10)", "aha_segment": 10, "radius_mm": 4.0}],
 "simulation": {"dt_ms": 0.05, "end_time_ms": $end_ms, "output_interval_ms": 50}}
JSON
  s=$(date +%s.%N)
  $ct personalise "$d/patient.json" --out "$d/model" --quiet
  p=$(date +%s.%N)
  $ct run "$d/model/model.json" --out "$d/sim" --quiet
  e=$(date +%s.%N)
  echo "$name: personalise $(echo "$p - $s" | bc) s, run $(echo "$e - $p" | bc) s"
done
/usr/bin/python3 - "$out" "${routes[@]}" <<'PY'
import sys, json
import vtk
from vtk.util.numpy_support import vtk_to_numpy
import numpy as np
out = sys.argv[1]
names = [r.split(':')[0] for r in sys.argv[2:]]
def load(name):
    r = vtk.vtkXMLUnstructuredGridReader(); r.SetFileName(f"{out}/{name}/sim/activation.vtu"); r.Update()
    return r.GetOutput()
grids = {n: load(n) for n in names}
for n in names:
    j = json.load(open(f"{out}/{n}/model/personalise.json"))
    print(f"{n}: {j['n_nodes']} nodes, myocardium {j['image']['myocardium_mesh_mL']:.2f} mL, "
          f"scar {j['volume_scar_mm3']/1e3:.2f} mL, border zone {j['volume_border_zone_mm3']/1e3:.2f} mL")
def at(grid, pts):
    """activation of `grid` at points, interpolated linearly in its tets; NaN outside or not activated"""
    loc = vtk.vtkCellLocator(); loc.SetDataSet(grid); loc.BuildLocator()
    act = vtk_to_numpy(grid.GetPointData().GetArray("activation_time_ms"))
    res = np.full(len(pts), np.nan)
    cell = vtk.vtkGenericCell(); pc = [0.0]*3; w = [0.0]*4
    for i, p in enumerate(pts):
        cid = loc.FindCell(p, 1e-6, cell, pc, w)
        if cid < 0: continue
        ids = [cell.GetPointId(k) for k in range(4)]
        v = act[ids]
        if (v < 0).any(): continue
        res[i] = float(np.dot(w, v))
    return res
ref = names[0]
pts = vtk_to_numpy(grids[ref].GetPoints().GetData())
a = vtk_to_numpy(grids[ref].GetPointData().GetArray("activation_time_ms"))
for n in names[1:]:
    b = at(grids[n], pts)
    ok = (a >= 0) & np.isfinite(b)
    d = np.abs(a[ok] - b)[...] if False else np.abs(a[ok] - b[ok])
    print(f"{n} vs {ref}: {ok.sum()} of {len(a)} nodes compared; |dt| mean {d.mean():.2f} ms, "
          f"median {np.median(d):.2f}, 95th percentile {np.percentile(d, 95):.2f}, max {d.max():.2f} ms; "
          f"last activation {a[a>=0].max():.1f} vs {vtk_to_numpy(grids[n].GetPointData().GetArray('activation_time_ms')).max():.1f} ms")
PY
