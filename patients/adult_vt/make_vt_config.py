#!/usr/bin/env python3
"""make_vt_config.py — the adult scar-VT demo's run configuration, derived from the personalised adult heart.

Usage: python3 patients/adult_vt/make_vt_config.py DIR [--out FILE]
  DIR: the output of `cardiotwin personalise patients/adult.json --out DIR` (reads DIR/model.json,
  whose mesh DIR/heart.vtu carries the tissue labels from the LGE image: scar core, border zone and the
  surviving border-zone channel through the scar). Writes FILE (default DIR/model_vt.json) next to it.

Why a derived configuration and not a patient file: personalisation supports only models with cell types
(TP06), and on this mesh TP06's border zone is refractory for 442 ms (pre-screen calibration, h 2.5 mm,
dt 0.05 ms), longer than one turn round the channel (about 350 to 400 ms), and a TP06 site protocol costs
tens of minutes on two cores. The demo therefore keeps the patient's geometry, fibres and tissue labels
and swaps the membrane model for Mitchell-Schaeffer (2003), parameters in VT_MODEL below; see
patients/README.md for the reasons, the values and the outcome.
Units: ms, mm, S/m, m/s.
"""
import json
import os
import sys

# Mitchell-Schaeffer: healthy tau_close 100 ms (APD90 about 190 ms at 600 ms, a short human-like
# APD so that the wavelength, CV x refractory period, fits a circuit of about 150 mm round the channel);
# border zone: slower recovery (tau_close 160 ms: refractory period 322 vs 228 ms on a cable) and slower
# conduction (sigma x 0.5: CV 0.37 vs 0.57 m/s; TP06's grey-zone remodelling gives 0.32 vs 0.58 m/s on this
# mesh). Chosen with the pre-screen among tau_close 120..180 ms and sigma x 0.3..1.0: the variant whose
# inducing S2 window (30 ms wide) lies above the monodomain's capture threshold; see patients/README.md.
VT_MODEL = {"name": "mitchell_schaeffer", "parameters": {"tau_close_ms": 100}}
VT_BORDER_ZONE = {"sigma_scale": 0.5, "parameters": {"tau_close_ms": 160}}
# `cardiotwin tune-cv --model mitchell_schaeffer --dx-mm 2.48 --dt-ms 0.05`: 0.5535 S/m -> 0.585 m/s,
# 0.2022 S/m -> 0.316 m/s on a strand at the mesh's 2.48 mm mean edge (TP06's 0.58 / 0.32 m/s targets).
VT_CONDUCTIVITY = {"sigma_l_S_per_m": 0.5535, "sigma_t_S_per_m": 0.2022}


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__, file=sys.stderr)
        return 2
    src_dir = argv[1]
    out = os.path.join(src_dir, "model_vt.json")
    if len(argv) == 4 and argv[2] == "--out":
        out = argv[3]
    elif len(argv) != 2:
        print("usage: make_vt_config.py DIR [--out FILE]", file=sys.stderr)
        return 2
    src = os.path.join(src_dir, "model.json")
    try:
        with open(src) as f:
            cfg = json.load(f)
    except (OSError, ValueError) as e:
        print(f"make_vt_config.py: {src}: {e}", file=sys.stderr)
        return 1
    if cfg.get("mesh", {}).get("type") != "file":
        print(f"make_vt_config.py: {src}: mesh.type is not \"file\" (not a personalised model)", file=sys.stderr)
        return 1
    mesh = cfg["mesh"]["path"]
    if not os.path.isabs(mesh):  # keep the mesh reachable from where the new file goes
        mesh = os.path.relpath(os.path.join(os.path.dirname(os.path.abspath(src)), mesh),
                               os.path.dirname(os.path.abspath(out)))
    cfg["mesh"]["path"] = mesh
    cfg["description"] = ("Adult scar-VT demo (patients/adult_vt/): the personalised adult heart of "
                          "patients/adult.json (geometry, fibres, LGE scar core, border zone and channel) with "
                          "Mitchell-Schaeffer membranes (healthy tau_close 100 ms; border zone tau_close 160 ms, "
                          "conductivity x 0.5), explicit diffusion, dt 0.05 ms")
    cfg["model"] = VT_MODEL
    cfg["conductivity"] = VT_CONDUCTIVITY
    cfg["tissue"] = {"border_zone": VT_BORDER_ZONE, "scar": {"sigma_scale": 0}}
    cfg["diffusion"] = {"method": "explicit", "mass": "lumped"}
    cfg["dt_ms"] = 0.05
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(cfg, f, indent=1)
        f.write("\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    print(f"make_vt_config.py: wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
