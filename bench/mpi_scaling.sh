#!/usr/bin/env bash
# mpi_scaling.sh — strong and weak scaling of `cardiotwin run` split across MPI ranks (one GPU per rank where
# GPUs exist) on N-version-like slabs: TP06 epicardial, dx 0.5 mm, dt 0.05 ms, explicit diffusion with the
# consistent mass (a CG solve per step), a stimulus at the x = 0 end.
#
#   strong: one slab of STRONG_SIZE mm, run on each rank count;
#   weak:   WEAK_SIZE mm per rank, the slab stretched along x with the rank count (nodes ~ ranks);
#   memory: (not in the default MODES) the N-version slab at MEMORY_DX (20 x 7 x 3 mm; dx 0.1: 442,401 nodes),
#           TP06, Crank-Nicolson with the consistent mass, 10 steps of 0.05 ms, ECG every 0.25 ms, a
#           checkpoint at the end: the peak resident memory of every rank (GNU time's %M), bytes per node of
#           the whole mesh, the largest rank against the first rank count's, and the set-up time per phase
#           (read, partition, assemble, problem, total; the slowest rank's) from metrics.json.
#
# For each run it prints the node-steps/s cardiotwin reports (nodes x steps / time-loop wall time of rank 0),
# per rank, and the parallel efficiency against the first rank count. Settings (environment, defaults in []):
#   CARDIOTWIN   the binary [build/cardiotwin]
#   RANKS        rank counts ["1 2"]
#   MODES        "strong weak" [both]
#   BACKEND      cpu | opencl | cuda | auto [cpu]
#   STRONG_SIZE  "x y z" mm of the strong-scaling slab ["40 14 6": 30537 nodes]
#   WEAK_SIZE    "x y z" mm per rank, x multiplied by the rank count ["20 7 6": 7995 nodes per rank]
#   END_MS       simulated time per run [10: 200 steps]
#   LAUNCH       launcher up to the rank count ["mpirun -np"; Slurm: "srun --gpus-per-task=1 -n"]
#   LAUNCH_FLAGS more launcher options after the rank count [""; e.g. "--bind-to core" or a --hostfile]
#   THREADS      OMP_NUM_THREADS per rank [1]; with more, unbind the ranks (Open MPI binds each of <= 2 ranks to
#                one core): LAUNCH_FLAGS="--bind-to none" 
#   REPEAT       runs per case, the best is kept [1]
#   MEMORY_DX    dx (mm) of the memory slab [0.1]
# Examples:
#   bench/mpi_scaling.sh
#   MODES=memory RANKS="1 2 4" LAUNCH_FLAGS=--oversubscribe CARDIOTWIN=build-h4/cardiotwin bench/mpi_scaling.sh
#   RANKS="1 2 4 8" BACKEND=cuda LAUNCH_FLAGS="--hostfile hosts --map-by ppr:4:node" bench/mpi_scaling.sh
#   RANKS="1 4 16" BACKEND=cuda LAUNCH="srun --gpus-per-task=1 -n" bench/mpi_scaling.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CARDIOTWIN=${CARDIOTWIN:-build/cardiotwin}
RANKS=${RANKS:-"1 2"}
MODES=${MODES:-"strong weak"}
BACKEND=${BACKEND:-cpu}
STRONG_SIZE=${STRONG_SIZE:-"40 14 6"}
WEAK_SIZE=${WEAK_SIZE:-"20 7 6"}
END_MS=${END_MS:-10}
LAUNCH=${LAUNCH:-"mpirun -np"}
LAUNCH_FLAGS=${LAUNCH_FLAGS:-}
THREADS=${THREADS:-1}
REPEAT=${REPEAT:-1}
MEMORY_DX=${MEMORY_DX:-0.1}

[ -x "$CARDIOTWIN" ] || { echo "mpi_scaling: $CARDIOTWIN is not built" >&2; exit 1; }
work=$(mktemp -d /tmp/ct_mpi_scaling_XXXXXX)
trap 'rm -rf "$work"' EXIT
export OMP_NUM_THREADS=$THREADS
if [ "$(id -u)" -eq 0 ]; then # Open MPI refuses root unless told
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# config PATH X Y Z: the slab configuration
config() {
  cat > "$1" <<EOF
{
  "description": "mpi_scaling: N-version-like slab $2 x $3 x $4 mm",
  "mesh": {"type": "box", "size_mm": [$2, $3, $4], "dx_mm": 0.5, "fibre_direction": [1, 0, 0]},
  "model": {"name": "tp06", "cell_type": "epi"},
  "conductivity": {"sigma_il_S_per_m": 0.17, "sigma_it_S_per_m": 0.019,
                   "sigma_el_S_per_m": 0.62, "sigma_et_S_per_m": 0.24},
  "chi_per_mm": 140, "Cm_uF_per_mm2": 0.01, "dt_ms": 0.05, "end_time_ms": $END_MS,
  "diffusion": {"method": "explicit", "mass": "consistent"},
  "stimuli": [{"name": "S1", "box_min_mm": [0, 0, 0], "box_max_mm": [1.5, 1.5, 1.5],
               "amplitude_uA_per_uF": 35.714, "start_ms": 0, "duration_ms": 2}]
}
EOF
}

# run MODE RANKS X Y Z: prints one table row; sets $rate
base_rate=""
run() {
  local mode=$1 np=$2 x=$3 y=$4 z=$5 best=0 line
  config "$work/$mode-$np.json" "$x" "$y" "$z"
  for _ in $(seq "$REPEAT"); do
    # shellcheck disable=SC2086 # LAUNCH and LAUNCH_FLAGS are word lists
    line=$($LAUNCH "$np" $LAUNCH_FLAGS "$CARDIOTWIN" run "$work/$mode-$np.json" --out "$work/out-$mode-$np" \
             --backend "$BACKEND" --quiet | grep ' node-steps/s')
    # "200 steps in 1.23 s on cpu: 4.5e+06 node-steps/s; results in ..."
    local r
    r=$(echo "$line" | sed -E 's/.*: ([0-9.e+-]+) node-steps\/s.*/\1/')
    best=$(awk -v a="$best" -v b="$r" 'BEGIN { print (b > a) ? b : a }')
  done
  local nodes
  nodes=$(awk -v x="$x" -v y="$y" -v z="$z" 'BEGIN { printf "%d", (x/0.5+1)*(y/0.5+1)*(z/0.5+1) }')
  [ -n "$base_rate" ] || base_rate=$best
  awk -v m="$mode" -v np="$np" -v n="$nodes" -v r="$best" -v b="$base_rate" -v base_np="$base_np" 'BEGIN {
    eff = m == "strong" ? r / (b * np / base_np) : (r / np) / (b / base_np);
    printf "%-6s %5d %9d %14.3e %14.3e %9.0f%%\n", m, np, n, r, r / np, 100 * eff }'
}

# memory NP: one row per rank count: every rank's peak resident memory (MB, rank 0 first) and the set-up phases
memory_config() {
  cat > "$1" <<EOF
{
  "description": "mpi_scaling memory: N-version slab 20 x 7 x 3 mm at dx $MEMORY_DX mm",
  "mesh": {"type": "box", "size_mm": [20, 7, 3], "dx_mm": $MEMORY_DX, "fibre_direction": [1, 0, 0]},
  "model": {"name": "tp06", "cell_type": "epi"},
  "conductivity": {"sigma_il_S_per_m": 0.17, "sigma_it_S_per_m": 0.019,
                   "sigma_el_S_per_m": 0.62, "sigma_et_S_per_m": 0.24},
  "chi_per_mm": 140, "Cm_uF_per_mm2": 0.01, "dt_ms": 0.05, "end_time_ms": 0.5,
  "diffusion": {"method": "crank_nicolson", "mass": "consistent", "cg_tolerance": 1e-8},
  "ecg": {"interval_ms": 0.25},
  "stimuli": [{"name": "S1", "box_min_mm": [0, 0, 0], "box_max_mm": [1.5, 1.5, 1.5],
               "amplitude_uA_per_uF": 35.714, "start_ms": 0, "duration_ms": 2}]
}
EOF
}
memory_base=""
memory() {
  local np=$1 out="$work/out-memory-$np"
  memory_config "$work/memory.json"
  rm -rf "$out" "$work/rss-$np".*
  # each rank records its own peak (GNU time's maximum resident set, kB) under the launcher's rank number
  # shellcheck disable=SC2016,SC2086 # the rank variable is expanded by each rank's shell
  $LAUNCH "$np" $LAUNCH_FLAGS sh -c 'r=${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-${SLURM_PROCID:-0}}};
    exec /usr/bin/time -f %M -o "$0.$r" "$@"' "$work/rss-$np" "$CARDIOTWIN" run "$work/memory.json" --out "$out" \
    --backend "$BACKEND" --checkpoint-every 0.5 --quiet > /dev/null
  local nodes row="" max=0 r kb setup
  nodes=$(awk -v d="$MEMORY_DX" 'BEGIN { printf "%d", (20/d+1)*(7/d+1)*(3/d+1) }')
  for r in $(seq 0 $((np - 1))); do
    kb=$(tail -1 "$work/rss-$np.$r")
    row="$row $((kb / 1024))"
    [ "$kb" -gt "$max" ] && max=$kb
  done
  [ -n "$memory_base" ] || memory_base=$max
  setup=$(python3 -c 'import json, sys; s = json.load(open(sys.argv[1]))["setup"]["slowest_rank"]
print("%.2f %.2f %.2f %.2f %.2f" % (s["read_s"], s["partition_s"], s["assemble_s"], s["problem_s"], s["total_s"]))' \
          "$out/metrics.json")
  awk -v np="$np" -v n="$nodes" -v row="$row" -v max="$max" -v base="$memory_base" -v setup="$setup" 'BEGIN {
    printf "memory %5d %9d  peak MB per rank:%s  largest %.0f MB = %.0f B/node = %.2fx;", np, n, row, max / 1024,
           max * 1024 / n, max / base
    printf "  set-up s (read partition assemble problem total): %s\n", setup }'
}

echo "cardiotwin MPI scaling: backend $BACKEND, $THREADS thread(s) per rank, $END_MS ms at dt 0.05 ms, launcher: $LAUNCH N $LAUNCH_FLAGS"
printf "%-6s %5s %9s %14s %14s %10s\n" mode ranks nodes node-steps/s per-rank efficiency
read -r sx sy sz <<< "$STRONG_SIZE"
read -r wx wy wz <<< "$WEAK_SIZE"
for mode in $MODES; do
  base_rate=""
  base_np=$(echo "$RANKS" | awk '{print $1}')
  for np in $RANKS; do
    case $mode in
      strong) run strong "$np" "$sx" "$sy" "$sz" ;;
      weak) run weak "$np" "$(awk -v a="$wx" -v p="$np" 'BEGIN { print a * p }')" "$wy" "$wz" ;;
      memory) memory "$np" ;;
      *) echo "mpi_scaling: unknown mode $mode" >&2; exit 2 ;;
    esac
  done
done
