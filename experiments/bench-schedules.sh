#!/usr/bin/env bash
# bench-schedules.sh — every schedule, measured and predicted side by side on this machine (or
# on two emulated nodes):
# gpipe, 1f1b, interleaved 1F1B (2 and 4 chunks per rank), zb-h1 and zb-v on 2 ranks at several
# microbatch counts. Before any cell runs: one calibration, and each layout's profile, in rounds
# (each partition's stages timed on the ranks that hold them, `profile --partition`, a rank's
# chunks held at once and timed in turn, `--chunks`, in a V for zb-v; for the zero-bubble
# schedules the backward's input and weight halves timed apart, `--split`, and their order
# planned for those FWD:BWD:BWD_W costs, `--zb-costs`); every
# cell is predicted from those files alone, then measured: the layouts at one M side by side in
# one job (`pipecast-exec grid`: each cell a run of its own, visited in turn, --visits times, so
# that every layout samples the same stretches of a machine whose speed drifts, and the gains
# between them are paired). A cell's time is its median iteration over the visits; its bubble
# comes from its trace (the part of the iteration a rank is not computing, mean over ranks).
# Prints the errors, the measured gain of each schedule over 1f1b against the predicted one,
# and draws the bubble against M per schedule. The machine's pace: the first cell (gpipe at the
# first M) runs as a job of its own before the calibration, before the cells and after them;
# the cells are reported with how much slower or faster that job ran around them than before
# the profiles (a check on the machine, not part of the prediction).
#
# Usage: experiments/bench-schedules.sh [--model NAME] [--set K=V,...] [--batch B] [--micro LIST]
#                                       [--profile-rounds R] [--visits V] [--iters N] [--out DIR]
#                                       [--rate RATE] [--reuse DIR] [--optimizer NAME] [--lr X]
#                                       [--clip-grad-norm X]
#   --model NAME   a model under models/ (default mlp32)
#   --set K=V,...  the model's parameters (say n_layer=4,seq=128 for gpt2)
#   --batch B      samples per iteration (default 256)
#   --micro LIST   microbatch counts, even, increasing (default 4,8,16,32)
#   --profile-rounds R  rounds of the profiles, 3 repetitions each (default 3)
#   --visits V     visits to every cell, the layouts at one M in turn (default 5)
#   --iters N      timed iterations per visit, after one warm-up per cell (default 2)
#   --out DIR      results (default results/schedules-<date>)
#   --rate RATE    the 2 ranks on 2 emulated nodes (experiments/cluster.sh), each node's link at
#                  RATE (tc's units, 1gbit); default: both on this machine, shared memory
#   --reuse DIR    measure nothing: predict DIR's cells again from its profiles and calibration
#                  (taken before its cells) with this build, and report (the other options as
#                  DIR was made with; a folder of this version's: profiles in rounds, grids)
#   --optimizer NAME, --lr X, --clip-grad-norm X  train every cell so (as `train` takes them;
#                  default SGD at 0.01, no clipping); the profiles time that step, the
#                  predictions step and clip so
# Writes DIR/cells.csv and DIR/bubble.png; DIR/m<M>/ holds each M's grid (times, traces).
set -uo pipefail
cd "$(dirname "$0")/.."
model=mlp32 batch=256 micro=4,8,16,32 iters=2 visits=5 profile_rounds=3 out=results/schedules-$(date +%Y%m%d-%H%M%S) rate=
sets=() reuse= to=() so=() po=() # to: train's and grid's options, so: the simulator's, po: profile's
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=${2:-}; shift 2 ;;
    --set) sets=(--set "${2:-}"); shift 2 ;;
    --batch) batch=${2:-}; shift 2 ;;
    --micro) micro=${2:-}; shift 2 ;;
    --iters) iters=${2:-}; shift 2 ;;
    --visits) visits=${2:-}; shift 2 ;;
    --profile-rounds) profile_rounds=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    --rate) rate=${2:-}; shift 2 ;;
    --reuse) reuse=${2:-}; out=$reuse; shift 2 ;;
    --optimizer)
      [[ ${2:-} =~ ^(sgd|adamw)$ ]] || { echo "bench-schedules.sh: --optimizer must be sgd or adamw, got '${2:-}'" >&2; exit 2; }
      to+=("$1" "$2") so+=("$1" "$2") po+=("$1" "$2"); shift 2 ;;
    --lr|--clip-grad-norm)
      [[ ${2:-} =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] ||
        { echo "bench-schedules.sh: $1 must be a number of at least 0, got '${2:-}'" >&2; exit 2; }
      to+=("$1" "$2"); [ "$1" = --lr ] || so+=("$1" "$2"); shift 2 ;;
    *) echo "bench-schedules.sh: unknown option '$1'" >&2; sed -n 's/^# \{0,1\}//; 21,41p' "$0" >&2; exit 2 ;;
  esac
done
[ -f "models/$model.model" ] || { echo "bench-schedules.sh: no model 'models/$model.model'" >&2; exit 2; }
[ -n "$reuse" ] || [ -z "$rate" ] || experiments/cluster.sh --rate "$rate" --check || exit 2
[ -z "$reuse" ] || [ -f "$reuse/net.tsv" ] || { echo "bench-schedules.sh: --reuse '$reuse': no net.tsv there" >&2; exit 2; }
case $iters in ''|*[!0-9]*|0) echo "bench-schedules.sh: --iters '$iters': expected a count >= 1" >&2; exit 2 ;; esac
case $profile_rounds in ''|*[!0-9]*|0) echo "bench-schedules.sh: --profile-rounds '$profile_rounds': expected a count >= 1" >&2; exit 2 ;; esac
case $visits in ''|*[!0-9]*|0) echo "bench-schedules.sh: --visits '$visits': expected a count >= 1" >&2; exit 2 ;; esac
case $batch in ''|*[!0-9]*|0) echo "bench-schedules.sh: --batch '$batch': expected a count >= 1" >&2; exit 2 ;; esac
IFS=, read -ra MS <<<"$micro"
sizes=
for m in "${MS[@]}"; do
  case $m in ''|*[!0-9]*|0) echo "bench-schedules.sh: --micro '$micro': expected counts >= 1" >&2; exit 2 ;; esac
  if [ $((m % 2)) != 0 ] || [ $((batch % m)) != 0 ]; then
    echo "bench-schedules.sh: --micro $m: it must be even (interleaved on 2 ranks) and divide --batch $batch" >&2
    exit 2
  fi
  sizes="$((batch / m))${sizes:+,$sizes}" # increasing, as profile takes them
done
experiments/setup.sh build >&2 || exit 1
source experiments/env.sh
mkdir -p "$out" || exit 1
x=build/exec/pipecast-exec sim=build/sim/pipecast-sim
launch() { # launch ARGS...: pipecast-exec on the 2 ranks, here or on 2 emulated nodes
  if [ -n "$rate" ]; then experiments/cluster.sh --nodes 2 --rate "$rate" -- "$x" "$@"
  else mpirun -n 2 "$x" "$@"; fi
}
nodes=${rate:+--ranks-per-node 1} # the simulator's placement: a rank per node
LAYOUTS=("gpipe 1" "1f1b 1" "interleaved 2" "interleaved 4" "zb-h1 1" "zb-v 2")
flags() { # flags SCHEDULE CHUNKS: the layout's flags, as train and run take them
  echo "--stages 2 --schedule $1$([ "$1" = interleaved ] && echo " --chunks $2")"
}
chunked() { # chunked SCHEDULE CHUNKS: profile's flags for the layout's chunks and its backward
  [ "$2" -gt 1 ] && echo "--chunks$([ "$1" = zb-v ] && echo " --vshape")"
  case "$1" in zb-*) echo "--split" ;; esac
}
order() { # order SCHEDULE CHUNKS M: a zero-bubble order planned for the profiled FWD:BWD:BWD_W
  case "$1" in zb-*) ;; *) return ;; esac
  local ran # the costs the cell ran with, where it ran (--reuse)
  ran=$(awk -v c="$1-$2" '$1 == c { for (i = 5; i <= NF; i++) if ($i ~ /^zb-costs=/) print substr($i, 10) }' \
        "$out/m$3/cells.txt" 2>/dev/null)
  [ -z "$ran" ] || { echo "--zb-costs $ran"; return; }
  python3 - $((batch / $3)) "$out/$1-$2".r*.samples.tsv <<'PY'
import statistics, sys
mb, rows = sys.argv[1], {}
for path in sys.argv[2:]:  # layer kind mb rank rep fwd_s bwd_s opt_s bwd_b_s bwd_w_s
    for x in (line.split() for line in open(path) if not line.startswith("#")):
        if x[0] != "layer" and x[2] == mb:
            rows.setdefault((x[0], x[3]), []).append([float(x[k]) for k in (5, 8, 9)])
# each layer's median, as the simulator pools the rounds
f, b, w = (sum(statistics.median(r[i] for r in v) for v in rows.values()) for i in range(3))
m = max(f, b, w)
if m > 0:
    print("--zb-costs " + ":".join("%.3f" % max(c / m, 0.001) for c in (f, b, w)))
PY
}
cell_line() { # cell_line SCHEDULE CHUNKS M: the layout's line in a grid's --cells
  local o
  o=$(order "$1" "$2" "$3")
  echo "$1-$2 $1 $3 1$([ "$1" = interleaved ] && echo " chunks=$2")${o:+ zb-costs=${o#--zb-costs }} $(cat "$out/$1-$2.spec")"
}

pace() { # pace N: the machine's pace, the first cell's job again
  launch train "models/$model.model" "${sets[@]}" "${to[@]}" $(flags gpipe 1) -p "$(cat "$out/gpipe-1.spec")" \
    --batch "$batch" -m "${MS[0]}" --iters 4 --warmup 1 --times "$out/pace-$1.times.csv" \
    >"$out/pace-$1.log" 2>&1 || { cat "$out/pace-$1.log" >&2; exit 1; }
}

# 1. Before any cell: the calibration and each layout's profile, taken in rounds (the layouts in
# turn, forwards, backwards, forwards, ...) and pooled (the median of all their repetitions), so
# that a slow spell of the machine during one layout's profile weighs as one round of it.
if [ -z "$reuse" ]; then
  for l in "${LAYOUTS[@]}"; do
    read -r k c <<<"$l"
    spec=$("$sim" run "models/$model.model" "${sets[@]}" "${so[@]}" $(flags $k $c) --batch "$batch" -m "${MS[0]}" --format csv |
           sed -n 2p | awk -F, '{print $NF}')
    [ -n "$spec" ] || { echo "bench-schedules.sh: no partition for $k x $c" >&2; exit 1; }
    echo "$spec" >"$out/$k-$c.spec"
  done
  echo "pace" >&2
  pace 0
  echo "calibrate" >&2
  launch calibrate --reps 10 -o "$out/net.tsv" >"$out/net.log" 2>&1 || { cat "$out/net.log" >&2; exit 1; }
  rm -f "$out"/*.samples.tsv
  for r in $(seq "$profile_rounds"); do
    order_l=("${LAYOUTS[@]}")
    if [ $((r % 2)) = 0 ]; then
      order_l=()
      for ((i = ${#LAYOUTS[@]} - 1; i >= 0; i--)); do order_l+=("${LAYOUTS[i]}"); done
    fi
    for l in "${order_l[@]}"; do
      read -r k c <<<"$l"
      spec=$(cat "$out/$k-$c.spec")
      echo "profile $k x $c (round $r)" >&2
      launch profile "models/$model.model" "${sets[@]}" "${po[@]}" -p "$spec" --microbatch-sizes "$sizes" --reps 3 \
        $(chunked $k $c) -o "$out/$k-$c.r$r.profile.tsv" --samples "$out/$k-$c.r$r.samples.tsv" \
        >"$out/$k-$c.r$r.profile.log" 2>&1 || { cat "$out/$k-$c.r$r.profile.log" >&2; exit 1; }
    done
  done
fi
profiles() { # profiles SCHEDULE CHUNKS: prof=(the simulator's flags for the layout's profile rounds)
  local f
  prof=()
  for f in "$out/$1-$2".r*.samples.tsv; do
    [ -f "$f" ] || { echo "bench-schedules.sh: $out: no profile samples for $1 x $2 (a folder made before the profiles were taken in rounds: measure it again)" >&2; return 2; }
    prof+=(--profile "$f")
  done
}

# 2. Predictions from those files only; 3. the cells, measured.
for l in "${LAYOUTS[@]}"; do
  read -r k c <<<"$l"
  spec=$(cat "$out/$k-$c.spec")
  profiles $k $c || exit 2
  for m in "${MS[@]}"; do
    "$sim" run "models/$model.model" "${sets[@]}" "${so[@]}" $(flags $k $c) $(order $k $c $m) $nodes -p "$spec" --batch "$batch" \
      -m "$m" "${prof[@]}" --net "$out/net.tsv" --format csv \
      >"$out/$k-$c-m$m.predicted.csv" || exit $?
  done
done
# the layouts at each M side by side, one grid job per M
if [ -z "$reuse" ]; then
  echo "pace" >&2
  pace 1
  for m in "${MS[@]}"; do
    echo "measure the ${#LAYOUTS[@]} layouts at M = $m side by side ($visits visits of $iters iterations)" >&2
    rm -rf "$out/m$m" && mkdir -p "$out/m$m" || exit 1
    for l in "${LAYOUTS[@]}"; do cell_line $l "$m"; done >"$out/m$m/cells.txt"
    launch grid "models/$model.model" "${sets[@]}" "${to[@]}" --cells "$out/m$m/cells.txt" --out "$out/m$m" \
      --batch "$batch" --visits "$visits" --iters "$iters" --warmup 1 >"$out/m$m/grid.log" 2>&1 ||
      { cat "$out/m$m/grid.log" >&2; exit 1; }
  done
  echo "pace" >&2
  pace 2
fi

python3 - "$out" "$micro" "${LAYOUTS[@]}" <<'PY' || exit $?
import csv, json, statistics, sys
sys.path.insert(0, "experiments")
from cellsim import write_whole
out, micro, layouts = sys.argv[1], [int(m) for m in sys.argv[2].split(",")], sys.argv[3:]
def first_row(path):
    with open(path) as f:
        return next(csv.DictReader(f))
def trace_bubble(path):
    ev = [e for e in json.load(open(path))["traceEvents"] if e.get("ph") == "X"]
    ranks = sorted({e["pid"] for e in ev})
    t0 = min(e["ts"] for e in ev)
    t1 = max(e["ts"] + e["dur"] for e in ev)
    busy = {r: sum(e["dur"] for e in ev if e["pid"] == r and e.get("cat") == "compute") for r in ranks}
    return statistics.mean(1 - busy[r] / (t1 - t0) for r in ranks)
def median_iter(*paths):
    t = []
    for path in paths:
        with open(path) as f:
            t += [float(x["seconds"]) for x in csv.DictReader(f) if x["warmup"] == "0"]
    return statistics.median(t)
# the machine's pace: the first cell's job right before the cells and after them, against that
# job before the profiles
try:
    paces = [median_iter(f"{out}/pace-{i}.times.csv") for i in range(3)]
    pace = (paces[1] + paces[2]) / 2 / paces[0]
except (OSError, statistics.StatisticsError):
    pace = float("nan")
rows = []
for l in layouts:
    k, c = l.split()
    for m in micro:
        p = first_row(f"{out}/{k}-{c}-m{m}.predicted.csv")
        cell = f"{out}/m{m}/{k}-{c}"
        try:
            meas = median_iter(cell + ".times.csv")
        except OSError:
            print(f"bench-schedules.sh: {cell}.times.csv: no measurement (a folder made before the "
                  "cells were measured side by side: measure it again)", file=sys.stderr)
            sys.exit(2)
        pred = float(p["iteration_s"])
        rows.append(dict(schedule=k, chunks=int(c), microbatches=m, predicted_s=pred, measured_s=meas,
                         error=(pred - meas) / meas, predicted_bubble=float(p["bubble"]),
                         measured_bubble=trace_bubble(cell + ".json"), pace=pace))
with write_whole(f"{out}/cells.csv", newline="") as f:
    w = csv.DictWriter(f, list(rows[0])); w.writeheader(); w.writerows(rows)
print(f"{'schedule':11} {'v':>2} {'M':>3} {'pred_s':>8} {'meas_s':>8} {'error':>7} {'bubble p/m':>12}")
for r in rows:
    print(f"{r['schedule']:11} {r['chunks']:2d} {r['microbatches']:3d} {r['predicted_s']:8.4f} "
          f"{r['measured_s']:8.4f} {100*r['error']:+6.1f}% {r['predicted_bubble']:5.3f}/{r['measured_bubble']:5.3f}")
errs = [abs(r["error"]) for r in rows]
worst = max(rows, key=lambda r: abs(r["error"]))
print(f"before-run prediction: MAPE {100*statistics.mean(errs):.1f}%, worst cell {100*worst['error']:+.1f}% "
      f"({worst['schedule']} x {worst['chunks']}, M = {worst['microbatches']})")
if pace == pace:
    print(f"the machine's pace (the first cell's job right before the cells and after them, against "
          f"it before the profiles): {100 * (paces[1] / paces[0] - 1):+.1f}% and "
          f"{100 * (paces[2] / paces[0] - 1):+.1f}%")
    adj = [(r["predicted_s"] * pace - r["measured_s"]) / r["measured_s"] for r in rows]
    print(f"beside it, the cells against the predictions scaled by that pace (measured during the "
          f"run, not a before-run figure): MAPE {100 * statistics.mean(abs(a) for a in adj):.1f}%, "
          f"worst {100 * max(adj, key=abs):+.1f}%")
base = {r["microbatches"]: r for r in rows if r["schedule"] == "1f1b"}
for r in rows:
    if r["schedule"] in ("gpipe", "1f1b"):
        continue
    b = base[r["microbatches"]]
    gm = b["measured_s"] / r["measured_s"] - 1
    gp = b["predicted_s"] / r["predicted_s"] - 1
    ratio = f"{gm / gp:.2f} of the predicted gain" if gp > 0 else "no gain predicted"
    name = r["schedule"] + (f" x {r['chunks']}" if r["schedule"] == "interleaved" else "")
    print(f"{name} over 1f1b at M = {r['microbatches']}: measured {100*gm:+.1f}%, "
          f"predicted {100*gp:+.1f}% ({ratio})")
PY
if command -v gnuplot >/dev/null; then
  gnuplot -e "data='$out/cells.csv'; outfile='$out/bubble.png'" experiments/plot-schedules.gp &&
    echo "figure: $out/bubble.png"
fi
