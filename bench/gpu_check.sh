#!/usr/bin/env bash
# gpu_check.sh — the GPU proof in one command (issue 13, part 5): on a machine with an NVIDIA GPU (H100/H200,
# sm_90) and nothing prepared, it builds cardiotwin and checks the CUDA backend end to end, writing one JSON and
# a one-page markdown summary. Every stage is time-boxed and the script goes on after a failure; the whole run is
# meant to fit 8 minutes including the build on a 16-core machine (a 15-minute GPU lease with room for a rerun).
#
# What it checks, stage by stage (each recorded as pass / fail / skip with its time and log):
#   env           the machine: nvidia-smi, nvcc, cmake, MPI, compute-sanitizer, cores
#   build_double  Release build in double, -DCMAKE_CUDA_ARCHITECTURES=90, only the targets used below
#   build_float   the same in single precision (-DCT_REAL_FLOAT=ON), in parallel with build_double
#   conformance_double / _float   tests/test_backends on the CUDA backend: every case of the conformance suite
#                 against the CPU (tolerances in test_backends.c's header), zero-node refusal, state round trips
#   cli_study     tests/test_cli unavailable_backend (must hold where CUDA works) and tests/test_study, whose
#                 --jobs 2 with the automatic backend picks CUDA here: the site workers are forked, so this
#                 fails if the parent held a CUDA context when it forked (issue 13, part 6)
#   memcheck      compute-sanitizer --tool memcheck on short runs: explicit (K SpMV) and Crank-Nicolson with
#                 consistent mass (CG, the A x0 / A p / M v products)
#   activation_dx0.5 / _dx0.2   the N-version slab (meshes/nversion_dx*_dt0.05.json): CUDA against the CPU,
#                 double, the nine probes' and the first / last activation times within 0.05 ms (the whole
#                 activation map as well where python3 has vtk); and the float build's P8 within 0.1 ms
#   bench_double / bench_float  ct_bench at 1e5, 1e6 and 4e6 nodes, TP06 and Mitchell-Schaeffer
#   mpi           mpirun -np 2 on the GPU (N-version dx 0.5), P8 against the serial CPU run (skipped without MPI)
#
# Usage:  bench/gpu_check.sh [--dry]
#   --dry    the same stages on a machine without a GPU: the opencl backend (else cpu) stands in for cuda, sizes
#            and runs are small (dx 0.2 stops at 10 ms), OMP_NUM_THREADS=1, memcheck runs without
#            compute-sanitizer, the build keeps its folder's CUDA setting; every line of the script runs. For
#            checking the script itself before a GPU lease.
# Environment:
#   OUT          output folder (default BUILD_ROOT-out); gpu_check.json, summary.md, bench_*.json, logs/, work/
#   BUILD_ROOT   build folders BUILD_ROOT-double and BUILD_ROOT-float (default build-gpucheck in the repository);
#                an existing one is reused (incremental build); BUILD_DOUBLE, BUILD_FLOAT name each folder instead
#   JOBS         build parallelism (default: the number of cores)
#   BUDGET_S     the whole run's time box in seconds (default 480); each stage gets the smaller of its own box
#                and what is left, and stages that find too little left are skipped
#   PYTHON       python3 for the comparisons and the report (default python3)
#   WORK         the runs' output folders (default OUT/work)
#   COMPACT=1    leave only gpu_check.json, summary.md, bench_*.json and logs.tar.gz in OUT (the device tool
#                returns at most 8 files from its $OUT: there use OUT=$OUT WORK=/tmp/gpu_check_work COMPACT=1)
#   CMAKE_PREFIX_PATH   where CMake finds dependencies that are not installed system-wide (VTK, Gmsh, cJSON,
#                Criterion): the build stage fails, naming the missing one, where a dependency is absent
set -u
HERE=$(cd "$(dirname "$0")/.." && pwd)
cd "$HERE"

DRY=0
for a in "$@"; do
  case "$a" in
    --dry) DRY=1 ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "usage: bench/gpu_check.sh [--dry]" >&2; exit 2 ;;
  esac
done

T0=$(date +%s)
BUILD_ROOT=${BUILD_ROOT:-$HERE/build-gpucheck}
OUT=${OUT:-$BUILD_ROOT-out}
NPROC=$(nproc 2>/dev/null || echo 4)
JOBS=${JOBS:-$NPROC}
BUDGET_S=${BUDGET_S:-480}
PY=${PYTHON:-python3}
WORK=${WORK:-$OUT/work}
rm -rf "$OUT/logs" "$WORK" "$OUT/logs.tar.gz" # this script's own: a rerun starts clean (builds are kept)
mkdir -p "$OUT/logs" "$WORK"
STAGES="$WORK/stages.tsv"
: >"$STAGES"
B_D=${BUILD_DOUBLE:-$BUILD_ROOT-double}
B_F=${BUILD_FLOAT:-$BUILD_ROOT-float}

if [ $DRY -eq 1 ]; then
  MODE=dry
  CUDA_ARGS=()        # the build folder's own setting (CUDA compiles where nvcc is, and is skipped at run time)
  SIZES=2000,6000
  BENCH_STEPS=20
  STOP_05=""          # dx 0.5: the whole 70 ms
  STOP_02="--stop-at 10"
  MEMCHECK_STOP=1
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
else
  MODE=gpu
  export PATH="$PATH:/usr/local/cuda/bin" # nvcc, compute-sanitizer where the CUDA image keeps them
  CUDA_ARGS=(-DCT_ENABLE_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90)
  [ -x /usr/local/cuda/bin/nvcc ] && CUDA_ARGS+=(-DCMAKE_CUDA_COMPILER=/usr/local/cuda/bin/nvcc)
  SIZES=100000,1000000,4000000
  BENCH_STEPS=200
  STOP_05=""
  STOP_02=""
  MEMCHECK_STOP=2
  export OMP_NUM_THREADS=${OMP_NUM_THREADS:-$NPROC}
fi

# ---- stage bookkeeping ------------------------------------------------------------------------------------

left() { echo $((BUDGET_S - ($(date +%s) - T0))); }

# record NAME STATUS SECONDS NOTE
record() {
  printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(printf '%s' "$4" | tr '\t\n' '  ' | cut -c1-400)" >>"$STAGES"
  [ "$4" = "@later" ] || # a stage whose verdict a check after it gives (unrecord, then record again)
    printf '[gpu_check %4ds] %-20s %-4s %5ss  %s\n' "$(($(date +%s) - T0))" "$1" "$2" "$3" "$4"
}

# box SECONDS: the time box of a stage, the smaller of SECONDS and what is left (less 15 s for the report)
box() { local l=$(($(left) - 15)); [ "$1" -lt "$l" ] && echo "$1" || echo "$l"; }

# stage NAME BOX_S NOTE_IF_OK -- command...: runs the command under timeout into logs/NAME.log and records it
stage() {
  local name=$1 want=$2 note=$3
  shift 4
  local t=$(box "$want") s=$(date +%s) rc
  if [ "$t" -lt 10 ]; then
    record "$name" skip 0 "no time left in the ${BUDGET_S} s budget"
    return 3
  fi
  timeout -k 5 "$t" "$@" >"$OUT/logs/$name.log" 2>&1
  rc=$?
  local d=$(($(date +%s) - s))
  if [ $rc -eq 0 ]; then
    record "$name" pass "$d" "$note"
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    record "$name" fail "$d" "timed out after ${t} s (logs/$name.log)"
  else
    record "$name" fail "$d" "exit $rc: $(why_failed "$OUT/logs/$name.log")"
  fi
  return $rc
}

have() { command -v "$1" >/dev/null 2>&1; }

# why_failed LOG: the most telling line of a failed stage's log (a compiler error, a missing dependency, a test)
why_failed() {
  grep -m1 -E 'error:|Could NOT find|Could not find|No CMAKE_CUDA_COMPILER|\[FAIL\]|differs|not available|refused' "$1" ||
    grep -m1 -i -E 'error|fail' "$1" || tail -n1 "$1"
}

# unrecord: removes the last record (a stage whose verdict comes from a check after it) and prints its seconds
unrecord() { tail -n1 "$STAGES" | cut -f3; sed -i '$d' "$STAGES"; }

# ---- env --------------------------------------------------------------------------------------------------

{
  echo "mode: $MODE"; echo "date: $(date -u +%FT%TZ)"; echo "host: $(hostname)"; echo "cores: $NPROC"
  echo "commit: $(git -C "$HERE" rev-parse --short HEAD 2>/dev/null) ($(git -C "$HERE" status --porcelain 2>/dev/null | wc -l) files changed)"
  have nvidia-smi && nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,clocks.max.mem --format=csv,noheader
  have nvcc && nvcc --version | tail -n2; [ -x /usr/local/cuda/bin/nvcc ] && /usr/local/cuda/bin/nvcc --version | tail -n1
  have cmake && cmake --version | head -n1
  have mpirun && mpirun --version 2>&1 | head -n1
  have compute-sanitizer && compute-sanitizer --version | tail -n1
  $PY --version 2>&1
} >"$OUT/logs/env.log" 2>&1
if [ $MODE = gpu ] && ! nvidia-smi -L >/dev/null 2>&1; then
  record env fail 0 "no NVIDIA GPU visible (nvidia-smi -L failed): run with --dry on a machine without one"
else
  record env pass 0 "$(grep -m1 -E 'H100|H200|NVIDIA' "$OUT/logs/env.log" || echo "mode $MODE, $NPROC cores")"
fi

# ---- build ------------------------------------------------------------------------------------------------

# only the targets used below; the two precisions build at once, each with half the cores, so that nvcc's one
# long file of each overlaps the C files of the other
TARGETS="cardiotwin ct_bench test_backends test_cli test_study"
HALF=$(( JOBS > 1 ? (JOBS + 1) / 2 : 1 ))
BUILD='src=$0 dir=$1; shift; cmake -S "$src" -B "$dir" -DCMAKE_BUILD_TYPE=Release "$@" &&
       cmake --build "$dir" --parallel '"$HALF --target $TARGETS"
stage build_double 300 "Release, double, ${CUDA_ARGS[*]}" -- bash -c "$BUILD" "$HERE" "$B_D" "${CUDA_ARGS[@]}" &
P_D=$!
stage build_float 300 "Release, float, ${CUDA_ARGS[*]}" -- \
  bash -c "$BUILD" "$HERE" "$B_F" "${CUDA_ARGS[@]}" -DCT_REAL_FLOAT=ON &
P_F=$!
wait $P_D; OK_D=$?
wait $P_F; OK_F=$?

# the backend under test: cuda on the GPU; in dry mode opencl where its probe passes, else cpu
DEV=cuda
if [ $MODE = dry ]; then
  DEV=cpu
  any=$B_D; [ $OK_D -eq 0 ] || any=$B_F
  if { [ $OK_D -eq 0 ] || [ $OK_F -eq 0 ]; } && "$any/cardiotwin" run "$HERE/meshes/nversion_dx0.5_dt0.05.json" --out "$WORK/probe" \
       --backend opencl --stop-at 0.05 --quiet >/dev/null 2>&1; then
    DEV=opencl
  fi
fi
echo "backend under test: $DEV" >>"$OUT/logs/env.log"

# ---- conformance ------------------------------------------------------------------------------------------

for prec in double float; do
  dir=$B_D; ok=$OK_D
  [ $prec = float ] && { dir=$B_F; ok=$OK_F; }
  if [ $ok -ne 0 ]; then
    record "conformance_$prec" skip 0 "no $prec build"
    continue
  fi
  stage "conformance_$prec" 150 "tests/test_backends, $DEV/* against the cpu ($prec)" -- \
    "$dir/tests/test_backends" --jobs 1 --verbose --filter "$DEV/*"
  # a suite whose every case skipped (no device) is not a pass
  if grep -q "Synthesis: Tested: 0 " "$OUT/logs/conformance_$prec.log"; then
    secs=$(unrecord)
    record "conformance_$prec" fail "$secs" "every case skipped: $(grep -m1 -i 'unavailable' "$OUT/logs/conformance_$prec.log")"
  fi
done

if [ $OK_D -eq 0 ]; then
  stage cli_study 240 "test_cli unavailable_backend; test_study (--jobs 2, automatic backend: forked site workers)" -- \
    bash -c "'$B_D/tests/test_cli' --jobs 1 --filter 'cli/unavailable_backend' && '$B_D/tests/test_study' --jobs 1"
else
  record cli_study skip 0 "no double build"
fi

# ---- memcheck ---------------------------------------------------------------------------------------------

# short variants of the N-version slab: explicit (lumped), Crank-Nicolson with the consistent mass
variant() { # variant IN OUT METHOD MASS
  $PY - "$@" <<'EOF'
import json, sys
src, dst, method, mass = sys.argv[1:5]
c = json.load(open(src))
c["diffusion"] = {"method": method, "mass": mass}
c.pop("output", None)
json.dump(c, open(dst, "w"), indent=1)
EOF
}
variant meshes/nversion_dx0.5_dt0.05.json "$WORK/mc_explicit.json" explicit lumped
variant meshes/nversion_dx0.5_dt0.05.json "$WORK/mc_cn.json" crank_nicolson consistent
if [ $OK_D -ne 0 ]; then
  record memcheck skip 0 "no double build"
else
  SAN=()
  note="compute-sanitizer memcheck: 0 errors on explicit and Crank-Nicolson/consistent runs"
  if [ $MODE = gpu ] && have compute-sanitizer; then
    SAN=(compute-sanitizer --tool memcheck --error-exitcode 99 --leak-check full)
  else
    note="dry: the same runs without compute-sanitizer (none here)"
  fi
  stage memcheck 120 "$note" -- bash -c "
    for c in mc_explicit mc_cn; do
      ${SAN[*]} '$B_D/cardiotwin' run '$WORK/'\$c.json --out '$WORK/'\$c --backend $DEV \
        --stop-at $MEMCHECK_STOP --quiet || exit \$?
    done"
fi

# ---- activation times: the device against the cpu on the N-version slab --------------------------------------

compare() { # compare REF_METRICS GOT_METRICS TOL_MS [REF_VTU GOT_VTU] -> prints the largest difference, exit 1 past TOL
  $PY - "$@" <<'EOF'
import json, sys
ref, got, tol = json.load(open(sys.argv[1])), json.load(open(sys.argv[2])), float(sys.argv[3])
worst, at = 0.0, "all equal"
for pr, pg in zip(ref["probes"], got["probes"]):
    a, b = pr.get("activation_time_ms"), pg.get("activation_time_ms")
    d = float("inf") if (a is None) != (b is None) else abs(a - b) if a is not None else 0.0
    if d > worst: worst, at = d, pr["name"]
for k in ("first_ms", "last_ms"):
    a, b = ref["activation"].get(k), got["activation"].get(k)
    if a is not None and b is not None and abs(a - b) > worst: worst, at = abs(a - b), k
line = "probes and first/last: max |diff| %.3g ms (%s)" % (worst, at)
if len(sys.argv) > 5:
    try:
        import numpy as np
        from vtk.util.numpy_support import vtk_to_numpy
        import vtk
        def act(path):
            r = vtk.vtkXMLUnstructuredGridReader(); r.SetFileName(path); r.Update()
            pd = r.GetOutput().GetPointData()
            name = [pd.GetArrayName(i) for i in range(pd.GetNumberOfArrays()) if "activ" in pd.GetArrayName(i).lower()][0]
            return vtk_to_numpy(pd.GetArray(name)).astype(float)
        x, y = act(sys.argv[4]), act(sys.argv[5])
        both = (x >= 0) & (y >= 0)
        d = float(np.max(np.abs(x[both] - y[both]))) if both.any() else 0.0
        mism = int(np.sum((x >= 0) != (y >= 0)))
        line += "; whole map (%d nodes): max |diff| %.3g ms, %d nodes activated on one side only" % (x.size, d, mism)
        worst = max(worst, d if mism == 0 else float("inf"))
    except ImportError:
        line += "; whole map not compared (no vtk module in %s)" % sys.executable
print(line)
sys.exit(0 if worst <= tol else 1)
EOF
}

for dx in 0.5 0.2; do
  name="activation_dx$dx"
  cfg="meshes/nversion_dx${dx}_dt0.05.json"
  stop=$STOP_05; [ $dx = 0.2 ] && stop=$STOP_02
  if [ $OK_D -ne 0 ]; then
    record "$name" skip 0 "no double build"
    continue
  fi
  w="$WORK/$name"
  stage "$name" 150 @later -- bash -c "
    '$B_D/cardiotwin' run $cfg --out '$w-cpu' --backend cpu $stop --quiet &&
    '$B_D/cardiotwin' run $cfg --out '$w-$DEV' --backend $DEV $stop --quiet &&
    { [ $OK_F -ne 0 ] || '$B_F/cardiotwin' run $cfg --out '$w-$DEV-float' --backend $DEV $stop --quiet; }"
  rc=$?
  if [ $rc -eq 3 ]; then continue; fi # skipped: no time
  secs=$(unrecord)
  if [ $rc -ne 0 ]; then
    record "$name" fail "$secs" "a run failed: $(why_failed "$OUT/logs/$name.log")"
    continue
  fi
  res=$(compare "$w-cpu/metrics.json" "$w-$DEV/metrics.json" 0.05 "$w-cpu/activation.vtu" "$w-$DEV/activation.vtu")
  ok=$?
  if [ $OK_F -eq 0 ]; then
    resf=$($PY -c "
import json, sys
r, g = [json.load(open(p)) for p in sys.argv[1:3]]
a, b = r['probes'][7]['activation_time_ms'], g['probes'][7]['activation_time_ms']
if a is None and b is None:
    print('float P8 not reached in either run (the run stopped first)'); sys.exit(0)
d = abs(a - b) if a is not None and b is not None else float('inf')
print('float P8 %.3f ms vs double cpu %.3f ms: |diff| %.3g ms (bound 0.1)' % (b or -1, a or -1, d)); sys.exit(d > 0.1)
" "$w-cpu/metrics.json" "$w-$DEV-float/metrics.json")
    okf=$?
  else
    resf="no float build"; okf=0
  fi
  echo "$res; $resf" >>"$OUT/logs/$name.log"
  if [ $ok -eq 0 ] && [ $okf -eq 0 ]; then st=pass; else st=fail; fi
  record "$name" $st "$secs" "$DEV vs cpu, double, ${stop:-whole run}: $res (bound 0.05 ms); $resf"
done

# ---- ct_bench ---------------------------------------------------------------------------------------------

for prec in double float; do
  dir=$B_D; ok=$OK_D
  [ $prec = float ] && { dir=$B_F; ok=$OK_F; }
  if [ $ok -ne 0 ]; then
    record "bench_$prec" skip 0 "no $prec build"
    continue
  fi
  stage "bench_$prec" 150 "ct_bench --backend $DEV --sizes $SIZES --steps $BENCH_STEPS (tp06, mitchell_schaeffer)" -- \
    "$dir/ct_bench" --backend "$DEV" --models tp06,mitchell_schaeffer --sizes "$SIZES" --steps "$BENCH_STEPS" \
    --json "$OUT/bench_$prec.json"
done

# ---- MPI --------------------------------------------------------------------------------------------------

if [ $OK_D -ne 0 ]; then
  record mpi skip 0 "no double build"
elif ! grep -q "^CT_HAVE_MPI:INTERNAL=ON\|CT_MPIEXEC:FILEPATH=/" "$B_D/CMakeCache.txt" 2>/dev/null || ! have mpirun; then
  record mpi skip 0 "this build has no MPI (MPI and METIS not found) or mpirun is missing"
else
  MPIFLAGS=(--oversubscribe)
  [ "$(id -u)" -eq 0 ] && MPIFLAGS+=(--allow-run-as-root)
  w="$WORK/mpi"
  stop=$STOP_05
  stage mpi 90 @later -- bash -c "
    OMP_NUM_THREADS=1 mpirun -np 2 ${MPIFLAGS[*]} '$B_D/cardiotwin' run meshes/nversion_dx0.5_dt0.05.json \
      --out '$w-$DEV' --backend $DEV $stop --quiet &&
    { [ -f '$WORK/activation_dx0.5-cpu/metrics.json' ] ||
      '$B_D/cardiotwin' run meshes/nversion_dx0.5_dt0.05.json --out '$WORK/activation_dx0.5-cpu' --backend cpu $stop --quiet; }"
  rc=$?
  if [ $rc -ne 3 ]; then
    secs=$(unrecord)
    if [ $rc -eq 0 ]; then
      res=$(compare "$WORK/activation_dx0.5-cpu/metrics.json" "$w-$DEV/metrics.json" 0.05)
      ok=$?
      [ $ok -eq 0 ] && st=pass || st=fail
      record mpi $st "$secs" "mpirun -np 2 --backend $DEV vs serial cpu (dx 0.5): $res"
    else
      record mpi fail "$secs" "mpirun failed: $(why_failed "$OUT/logs/mpi.log")"
    fi
  fi
fi

# ---- report -----------------------------------------------------------------------------------------------

TOTAL=$(($(date +%s) - T0))
$PY - "$OUT" "$MODE" "$DEV" "$TOTAL" "$BUDGET_S" "$STAGES" <<'EOF' || echo "gpu_check: the report could not be written (see $WORK/stages.tsv)" >&2
import json, os, sys
out, mode, dev, total, budget = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
stages = []
for line in open(sys.argv[6]):
    name, status, secs, note = (line.rstrip("\n").split("\t") + ["", "", "", ""])[:4]
    stages.append({"stage": name, "status": status, "seconds": float(secs or 0), "note": note,
                   "log": "logs/%s.log" % name})
bench = {}
for prec in ("double", "float"):
    p = os.path.join(out, "bench_%s.json" % prec)
    if os.path.exists(p):
        try:
            bench[prec] = json.load(open(p))
        except ValueError:
            pass
env = open(os.path.join(out, "logs", "env.log")).read().splitlines()
failed = [s["stage"] for s in stages if s["status"] == "fail"]
doc = {"format": "cardiotwin-gpu-check-1", "mode": mode, "backend_under_test": dev, "wall_s": total,
       "budget_s": budget, "passed": not failed, "failed_stages": failed, "environment": env, "stages": stages,
       "bench": bench}
tmp = os.path.join(out, "gpu_check.json.tmp")
json.dump(doc, open(tmp, "w"), indent=1)
os.replace(tmp, os.path.join(out, "gpu_check.json"))

def runs(b):
    for key in ("runs", "results", "cases"):
        if isinstance(b.get(key), list):
            return b[key]
    return []

md = ["# cardiotwin GPU check (%s mode, backend %s)" % (mode, dev), "",
      "%s; %d s of a %d s budget. %s" % ("; ".join(env[:2]), total, budget,
                                        "All stages passed or were skipped." if not failed else
                                        "FAILED: " + ", ".join(failed) + "."), "",
      "| stage | status | s | note |", "|---|---|---|---|"]
for s in stages:
    md.append("| %s | %s | %.0f | %s |" % (s["stage"], s["status"].upper() if s["status"] == "fail" else s["status"],
                                           s["seconds"], s["note"].replace("|", "\\|")))
for prec, b in bench.items():
    rs = runs(b)
    if not rs:
        continue
    md += ["", "ct_bench, %s:" % prec, "", "| backend | model | nodes | node-steps/s | GB/s | % peak |", "|---|---|---|---|---|---|"]
    for r in rs:
        def g(*names):
            for n in names:
                if r.get(n) is not None:
                    return r[n]
            return None
        nsps, gbs, frac = g("node_steps_per_s"), g("GB_per_s", "gb_per_s"), g("fraction_of_peak")
        md.append("| %s | %s | %s | %s | %s | %s |" % (
            g("backend"), g("model"), g("nodes", "n_nodes"), "%.3g" % nsps if nsps else "-",
            "%.3g" % gbs if gbs else "-", "%.3g %%" % (100 * frac) if frac else "-"))
md += ["", "Environment:", ""] + ["    " + e for e in env]
md += ["", "Logs: logs/<stage>.log; the data: gpu_check.json."]
open(os.path.join(out, "summary.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
EOF
tar czf "$OUT/logs.tar.gz" -C "$OUT" logs 2>/dev/null
if [ "${COMPACT:-0}" = 1 ]; then
  rm -rf "$OUT/logs" # kept in logs.tar.gz
fi
echo "gpu_check: $MODE mode, $TOTAL s; $OUT/gpu_check.json, $OUT/summary.md"
grep -q "	fail	" "$STAGES" && exit 1
exit 0
