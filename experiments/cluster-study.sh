#!/usr/bin/env bash
# cluster-study.sh — data against pipeline parallelism across two emulated nodes
# (experiments/cluster.sh), at several link rates: every cell predicted from one profile per model
# and layout and one calibration per rate, all taken before any cell runs, then measured, and
# each measured iteration replayed (its compute durations, modelled messages: the network
# model's own error).
#
# Usage: experiments/cluster-study.sh [--out DIR] [--rates LIST] [--models LIST] [--iters N]
#                                     [--hybrid]
#   --out DIR      results (default results/cluster-<date>)
#   --rates LIST   link rates, tc's units (default 500mbit,1gbit,3gbit,10gbit)
#   --models LIST  model names under models/ (default vgg16,resnet50)
#   --iters N      timed iterations per cell after one warm-up (default 4)
#   --hybrid       also 2 replicas x 2 stages on 2 nodes x 2 ranks, placed both ways
# Cells: batch 32 on 2 nodes x 1 rank; data parallel = 2 replicas of the whole model, pipeline =
# 2 stages, 1f1b, 8 microbatches. With --hybrid, modes dppp-slot (each node a replica: the
# all-reduce rings of both stages share the node's link) and dppp-node (each node a stage's two
# replicas: the pipeline's messages cross) of 2 replicas x 2 stages, 1f1b, 4 microbatches (the
# 4 ranks share this machine's cores: their profile is taken the same way). Writes DIR/cells.csv (model, mode, rate, predicted, measured,
# replayed, and the predicted communication share: the part of the predicted iteration that
# the same cell over shared memory would not take), DIR/crossover.csv (the rate where the predicted
# winner changes, and the measured winner at each rate), DIR/throughput.png; prints a summary.
# Exit status 4 when the emulated cluster is refused here (cluster.sh's reason is printed).
set -uo pipefail
cd "$(dirname "$0")/.."
out=results/cluster-$(date +%Y%m%d-%H%M%S) rates=500mbit,1gbit,3gbit,10gbit models=vgg16,resnet50
iters=4 modes="dp pp"
while [ $# -gt 0 ]; do
  case $1 in
    --out) out=${2:-}; shift 2 ;;
    --rates) rates=${2:-}; shift 2 ;;
    --models) models=${2:-}; shift 2 ;;
    --iters) iters=${2:-}; shift 2 ;;
    --hybrid) modes="dp pp dppp-slot dppp-node"; shift ;;
    *) echo "cluster-study.sh: unknown option '$1'" >&2; sed -n 's/^# \{0,1\}//; 8,14p' "$0" >&2; exit 2 ;;
  esac
done
case $iters in ''|*[!0-9]*|0) echo "cluster-study.sh: --iters '$iters': expected a count >= 1" >&2; exit 2 ;; esac
IFS=, read -ra R <<<"$rates"
IFS=, read -ra MODELS <<<"$models"
[ ${#R[@]} -gt 0 ] && [ ${#MODELS[@]} -gt 0 ] || { echo "cluster-study.sh: --rates and --models need one item or more" >&2; exit 2; }
for r in "${R[@]}"; do experiments/cluster.sh --rate "$r" --check || exit 2; done
for m in "${MODELS[@]}"; do
  [ -f "models/$m.model" ] || { echo "cluster-study.sh: no model 'models/$m.model'" >&2; exit 2; }
done
experiments/setup.sh build >&2 || exit 1
source experiments/env.sh
mkdir -p "$out" || exit 1
out=$(cd "$out" && pwd)
x=$PWD/build/exec/pipecast-exec sim=$PWD/build/sim/pipecast-sim
batch=32 micro=8
on() { # on RATE MODE ARGS...: pipecast-exec ARGS on the two nodes, placed for MODE
  local rate=$1 mode=$2; shift 2
  experiments/cluster.sh --nodes 2 --rate "$rate" $(place_args $mode) -- "$x" "$@"
}
cell_args() { # cell_args MODE: train's and run's layout flags
  case $1 in
    dp) echo "--replicas 2 --stages 1 -m 1" ;;
    pp) echo "--replicas 1 --stages 2 -m $micro --schedule 1f1b" ;;
    dppp-*) echo "--replicas 2 --stages 2 -m $((micro / 2)) --schedule 1f1b" ;;
  esac
}
place_args() { # place_args MODE: ranks per node and placement, as cluster.sh and run take them
  case $1 in
    dppp-*) echo "--ranks-per-node 2 --map-by ${1#dppp-}" ;;
    *) echo "--ranks-per-node 1" ;;
  esac
}

# 1. Before any cell: one profile per model and layout, taken on the two nodes as the cells run
#    (data parallel: both ranks time every layer at once; pipeline: each rank times its own
#    stage, so that layers that share the memory bus share it as in the run), and one
#    calibration per rate.
profile() { # profile MODEL MODE ARGS...
  local m=$1 mode=$2; shift 2
  echo "profile $m $mode" >&2
  on 1gbit $mode profile "models/$m.model" --reps 5 -o "$out/$m-$mode.profile.tsv" "$@" \
    >"$out/$m-$mode.profile.log" 2>&1
  local st=$?
  [ $st = 0 ] && return 0
  cat "$out/$m-$mode.profile.log" >&2
  [ $st = 4 ] && exit 4
  exit 1
}
for m in "${MODELS[@]}"; do
  profile "$m" dp --microbatch-sizes $((batch / 2))
  spec=$("$sim" run "models/$m.model" $(cell_args pp) --batch $batch --format csv |
         sed -n 2p | awk -F, '{print $NF}')
  profile "$m" pp --microbatch-sizes $((batch / micro)) --partition "$spec"
  if [[ $modes == *dppp* ]]; then # all 4 ranks time their stages at once, as in the cells
    spec=$("$sim" run "models/$m.model" $(cell_args dppp-slot) --batch $batch --format csv |
           sed -n 2p | awk -F, '{print $NF}')
    profile "$m" dppp-slot --microbatch-sizes $((batch / micro)) --partition "$spec"
    cp "$out/$m-dppp-slot.profile.tsv" "$out/$m-dppp-node.profile.tsv" || exit 1
  fi
done
for r in "${R[@]}"; do
  echo "calibrate $r" >&2
  on "$r" dp calibrate --max-bytes 16777216 --reps 10 -o "$out/net-$r.tsv" >"$out/net-$r.log" 2>&1 ||
    { cat "$out/net-$r.log" >&2; exit 1; }
done

# 2. Predictions, from those files only.
for m in "${MODELS[@]}"; do for r in "${R[@]}"; do for mode in $modes; do
  "$sim" run "models/$m.model" $(cell_args $mode) --batch $batch $(place_args $mode) \
    --profile "$out/$m-$mode.profile.tsv" --net "$out/net-$r.tsv" --format csv \
    >"$out/$m-$mode-$r.predicted.csv" || exit 1
done; done; done
for m in "${MODELS[@]}"; do for mode in $modes; do # the same cells over shared memory
  "$sim" run "models/$m.model" $(cell_args $mode) --batch $batch --profile "$out/$m-$mode.profile.tsv" \
    --format csv >"$out/$m-$mode.local.csv" || exit 1
done; done

# 3. The cells, measured; each one's last iteration replayed.
for r in "${R[@]}"; do for m in "${MODELS[@]}"; do for mode in $modes; do
  echo "measure $m $mode $r" >&2
  c=$out/$m-$mode-$r
  on "$r" $mode train "models/$m.model" $(cell_args $mode) --batch $batch --iters $((iters + 1)) \
    --warmup 1 --times "$c.times.csv" --trace "$c.json" >"$c.log" 2>&1 ||
    { cat "$c.log" >&2; exit 1; }
  "$sim" run "models/$m.model" $(cell_args $mode) --batch $batch $(place_args $mode) \
    --profile "$out/$m-$mode.profile.tsv" --net "$out/net-$r.tsv" --format csv \
    --durations "$c.json" >"$c.replay.csv" || exit 1
done; done; done

python3 - "$out" "$rates" "$models" "$modes" <<'PY'
import csv, math, statistics, sys
sys.path.insert(0, "experiments")
from cellsim import write_whole
out, rates, models, modes = sys.argv[1], sys.argv[2].split(","), sys.argv[3].split(","), sys.argv[4].split()
def rate_gbit(r):
    v = float(r[:-4]); return v / {"k": 1e6, "m": 1e3, "g": 1}[r[-4]]
def first_row(path):
    with open(path) as f:
        return next(csv.DictReader(f))
rows = []
for m in models:
    for r in rates:
        for mode in modes:
            c = f"{out}/{m}-{mode}-{r}"
            t = float(first_row(c + ".predicted.csv")["iteration_s"])
            local = float(first_row(f"{out}/{m}-{mode}.local.csv")["iteration_s"])
            comm = (t - local) / t
            with open(c + ".times.csv") as f:
                meas = statistics.median(float(x["seconds"]) for x in csv.DictReader(f)
                                         if x["warmup"] == "0")
            replay = float(first_row(c + ".replay.csv")["iteration_s"])
            traced = float(first_row(c + ".replay.csv")["trace_iteration_s"])
            rows.append(dict(model=m, mode=mode, rate=r, rate_gbit=rate_gbit(r), predicted_s=t,
                             measured_s=meas, error=(t - meas) / meas, replay_s=replay,
                             trace_s=traced, replay_error=(replay - traced) / traced,
                             comm_share=comm, predicted_throughput=32 / t,
                             measured_throughput=32 / meas))
keys = list(rows[0])
with write_whole(f"{out}/cells.csv", newline="") as f:
    w = csv.DictWriter(f, keys); w.writeheader(); w.writerows(rows)
print(f"{'model':9} {'mode':9} {'rate':8} {'pred_s':>7} {'meas_s':>7} {'error':>7} "
      f"{'replay':>7} {'comm':>5}")
for x in rows:
    print(f"{x['model']:9} {x['mode']:9} {x['rate']:8} {x['predicted_s']:7.3f} "
          f"{x['measured_s']:7.3f} {100*x['error']:+6.1f}% {100*x['replay_error']:+6.1f}% "
          f"{100*x['comm_share']:4.0f}%")
errs = [abs(x["error"]) for x in rows]
worst = max(rows, key=lambda x: abs(x["error"]))
rep = [abs(x["replay_error"]) for x in rows]
print(f"before-run prediction: MAPE {100*statistics.mean(errs):.1f}%, worst cell "
      f"{100*worst['error']:+.1f}% ({worst['model']} {worst['mode']} {worst['rate']}); "
      f"replay: MAPE {100*statistics.mean(rep):.1f}%, worst {100*max(rep):.1f}%")
hyb = [x for x in rows if x["mode"].startswith("dppp")]
if hyb:
    worst = max(hyb, key=lambda x: abs(x["error"]))
    print(f"2 replicas x 2 stages on 2 nodes x 2 ranks: MAPE "
          f"{100*statistics.mean(abs(x['error']) for x in hyb):.1f}%, worst cell "
          f"{100*worst['error']:+.1f}% ({worst['model']} {worst['mode']} {worst['rate']})")
    for m in models:
        for r in rates:
            d = {x["mode"]: x for x in hyb if x["model"] == m and x["rate"] == r}
            p = d["dppp-slot"]["predicted_s"] / d["dppp-node"]["predicted_s"]
            q = d["dppp-slot"]["measured_s"] / d["dppp-node"]["measured_s"]
            print(f"{m} at {r}: a stage's replicas on one node (--map-by node) "
                  f"{p:.2f}x as fast as a replica per node, predicted; {q:.2f}x measured")
cross, right, pairs = [], 0, 0
for m in models:
    prev = None
    for r in rates:
        d = {x["mode"]: x for x in rows if x["model"] == m and x["rate"] == r}
        pw = "dp" if d["dp"]["predicted_s"] < d["pp"]["predicted_s"] else "pp"
        mw = "dp" if d["dp"]["measured_s"] < d["pp"]["measured_s"] else "pp"
        right += pw == mw; pairs += 1
        ratio = math.log(d["pp"]["predicted_s"] / d["dp"]["predicted_s"])
        at = ""
        if prev and (prev[1] > 0) != (ratio > 0):
            lo, hi = math.log(prev[0]), math.log(d["dp"]["rate_gbit"])
            at = math.exp(lo + (hi - lo) * prev[1] / (prev[1] - ratio))
        prev = (d["dp"]["rate_gbit"], ratio)
        cross.append(dict(model=m, rate=r, predicted_winner=pw, measured_winner=mw,
                          predicted_crossover_gbit=at,
                          measured_pp_over_dp=d["dp"]["measured_s"] / d["pp"]["measured_s"]))
        print(f"{m} at {r}: predicted winner {pw}, measured {mw} (pipeline "
              f"{d['dp']['measured_s'] / d['pp']['measured_s']:.2f}x data parallel's throughput, "
              f"measured)" + (f"; predicted crossover at {at:.2f} Gbit/s" if at else ""))
print(f"winner right in {right} of {pairs} pairs")
with write_whole(f"{out}/crossover.csv", newline="") as f:
    w = csv.DictWriter(f, list(cross[0])); w.writeheader(); w.writerows(cross)
PY
[ $? = 0 ] || exit 1
if command -v gnuplot >/dev/null; then
  gnuplot -e "data='$out/cells.csv'; outfile='$out/throughput.png'" experiments/plot-cluster.gp &&
    echo "figure: $out/throughput.png"
fi
