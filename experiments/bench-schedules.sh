#!/usr/bin/env bash
# bench-schedules.sh — every schedule, measured and predicted side by side on this machine (or
# on two emulated nodes):
# gpipe, 1f1b, interleaved 1F1B (2 and 4 chunks per rank), zb-h1 and zb-v on 2 ranks at several
# microbatch counts. Before any cell runs: one calibration, and one profile per layout
# (each partition's stages timed on the ranks that hold them, `profile --partition`, a rank's
# chunks held at once and timed in turn, `--chunks`, in a V for zb-v; for the zero-bubble
# schedules the backward's input and weight halves timed apart, `--split`, and their order
# planned for those FWD:BWD:BWD_W costs, `--zb-costs`); every
# cell is predicted from those files alone, then measured (median iteration after a warm-up;
# its bubble from its trace: the part of the iteration a rank is not computing, mean over
# ranks). Prints the errors, the measured gain of each schedule over 1f1b against the predicted
# one, and draws the bubble against M per schedule. The cells run in rounds, the layouts in
# turn forwards, then backwards, so that a machine whose speed drifts during the study weighs
# alike on every layout (and on the gains between them). The machine's pace: the first cell
# (gpipe at the first M) runs again before the calibration, before each layout's cells and
# after the last; each layout is reported with how much slower or faster that job ran around
# its cells than before the profiles (a check on the machine, not part of the prediction).
#
# Usage: experiments/bench-schedules.sh [--model NAME] [--set K=V,...] [--batch B] [--micro LIST]
#                                       [--iters N] [--rounds R] [--out DIR] [--rate RATE]
#                                       [--reuse DIR]
#   --model NAME   a model under models/ (default mlp32)
#   --set K=V,...  the model's parameters (say n_layer=4,seq=128 for gpt2)
#   --batch B      samples per iteration (default 256)
#   --micro LIST   microbatch counts, even, increasing (default 4,8,16,32)
#   --iters N      timed iterations per cell and round, after one warm-up (default 5)
#   --rounds R     rounds of the cells (default 2); a cell's time is the median of all its
#                  rounds' iterations
#   --out DIR      results (default results/schedules-<date>)
#   --rate RATE    the 2 ranks on 2 emulated nodes (experiments/cluster.sh), each node's link at
#                  RATE (tc's units, 1gbit); default: both on this machine, shared memory
#   --reuse DIR    measure nothing: predict DIR's cells again from its profiles and calibration
#                  (taken before its cells) with this build, and report (the other options as
#                  DIR was made with)
# Writes DIR/cells.csv and DIR/bubble.png.
set -uo pipefail
cd "$(dirname "$0")/.."
model=mlp32 batch=256 micro=4,8,16,32 iters=5 rounds=2 out=results/schedules-$(date +%Y%m%d-%H%M%S) rate=
sets=() reuse=
while [ $# -gt 0 ]; do
  case $1 in
    --model) model=${2:-}; shift 2 ;;
    --set) sets=(--set "${2:-}"); shift 2 ;;
    --batch) batch=${2:-}; shift 2 ;;
    --micro) micro=${2:-}; shift 2 ;;
    --iters) iters=${2:-}; shift 2 ;;
    --rounds) rounds=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    --rate) rate=${2:-}; shift 2 ;;
    --reuse) reuse=${2:-}; out=$reuse; shift 2 ;;
    *) echo "bench-schedules.sh: unknown option '$1'" >&2; sed -n 's/^# \{0,1\}//; 20,36p' "$0" >&2; exit 2 ;;
  esac
done
[ -f "models/$model.model" ] || { echo "bench-schedules.sh: no model 'models/$model.model'" >&2; exit 2; }
[ -n "$reuse" ] || [ -z "$rate" ] || experiments/cluster.sh --rate "$rate" --check || exit 2
[ -z "$reuse" ] || [ -f "$reuse/net.tsv" ] || { echo "bench-schedules.sh: --reuse '$reuse': no net.tsv there" >&2; exit 2; }
case $iters in ''|*[!0-9]*|0) echo "bench-schedules.sh: --iters '$iters': expected a count >= 1" >&2; exit 2 ;; esac
case $rounds in ''|*[!0-9]*|0) echo "bench-schedules.sh: --rounds '$rounds': expected a count >= 1" >&2; exit 2 ;; esac
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
  awk -v mb=$((batch / $3)) '!/^#/ && $3 == mb {f += $4; b += $7; w += $8}
    function r(x) { x /= m; return x > 0.001 ? x : 0.001 }
    END {m = f > b ? f : b; m = m > w ? m : w; printf "--zb-costs %.3f:%.3f:%.3f\n", r(f), r(b), r(w)}' \
    "$out/$1-$2.profile.tsv"
}

pace() { # pace N: the machine's pace, the first cell's job again
  launch train "models/$model.model" "${sets[@]}" $(flags gpipe 1) -p "$(cat "$out/gpipe-1.spec")" \
    --batch "$batch" -m "${MS[0]}" --iters 4 --warmup 1 --times "$out/pace-$1.times.csv" \
    >"$out/pace-$1.log" 2>&1 || { cat "$out/pace-$1.log" >&2; exit 1; }
}

# 1. Before any cell: the calibration and a profile per layout.
if [ -z "$reuse" ]; then
  for l in "${LAYOUTS[@]}"; do
    read -r k c <<<"$l"
    spec=$("$sim" run "models/$model.model" "${sets[@]}" $(flags $k $c) --batch "$batch" -m "${MS[0]}" --format csv |
           sed -n 2p | awk -F, '{print $NF}')
    [ -n "$spec" ] || { echo "bench-schedules.sh: no partition for $k x $c" >&2; exit 1; }
    echo "$spec" >"$out/$k-$c.spec"
  done
  echo "pace" >&2
  pace 0
  : >"$out/pace-order.txt"
  echo "calibrate" >&2
  launch calibrate --reps 10 -o "$out/net.tsv" >"$out/net.log" 2>&1 || { cat "$out/net.log" >&2; exit 1; }
  for l in "${LAYOUTS[@]}"; do
    read -r k c <<<"$l"
    spec=$(cat "$out/$k-$c.spec")
    echo "profile $k x $c" >&2
    launch profile "models/$model.model" "${sets[@]}" -p "$spec" --microbatch-sizes "$sizes" --reps 5 \
      $(chunked $k $c) -o "$out/$k-$c.profile.tsv" >"$out/$k-$c.profile.log" 2>&1 ||
      { cat "$out/$k-$c.profile.log" >&2; exit 1; }
  done
fi

# 2. Predictions from those files only; 3. the cells, measured.
for l in "${LAYOUTS[@]}"; do
  read -r k c <<<"$l"
  spec=$(cat "$out/$k-$c.spec")
  for m in "${MS[@]}"; do
    "$sim" run "models/$model.model" "${sets[@]}" $(flags $k $c) $(order $k $c $m) $nodes -p "$spec" --batch "$batch" \
      -m "$m" --profile "$out/$k-$c.profile.tsv" --net "$out/net.tsv" --format csv \
      >"$out/$k-$c-m$m.predicted.csv" || exit 1
  done
done
# rounds: the layouts (and their M) forwards, then backwards; the first round keeps the trace
n=0
for r in $(seq "$rounds"); do
  [ -z "$reuse" ] || break
  order_l=("${LAYOUTS[@]}") order_m=("${MS[@]}")
  if [ $((r % 2)) = 0 ]; then
    order_l=() order_m=()
    for ((i = ${#LAYOUTS[@]} - 1; i >= 0; i--)); do order_l+=("${LAYOUTS[i]}"); done
    for ((i = ${#MS[@]} - 1; i >= 0; i--)); do order_m+=("${MS[i]}"); done
  fi
  for l in "${order_l[@]}"; do
    read -r k c <<<"$l"
    spec=$(cat "$out/$k-$c.spec")
    n=$((n + 1))
    echo "pace" >&2
    pace $n
    echo "$n $k $c" >>"$out/pace-order.txt"
    for m in "${order_m[@]}"; do
      echo "measure $k x $c, M = $m (round $r)" >&2
      cell=$out/$k-$c-m$m
      if [ "$r" = 1 ]; then run=$cell trace=(--trace "$cell.json"); rm -f "$cell".times-r*.csv
      else run=$cell-r$r trace=(); fi
      times=$cell.times${run#"$cell"}.csv
      launch train "models/$model.model" "${sets[@]}" $(flags $k $c) $(order $k $c $m) -p "$spec" \
        --batch "$batch" -m "$m" --iters $((iters + 1)) --warmup 1 --times "$times" "${trace[@]}" \
        >"$run.log" 2>&1 || { cat "$run.log" >&2; exit 1; }
    done
  done
done
if [ -z "$reuse" ]; then echo "pace" >&2; pace $((n + 1)); fi

python3 - "$out" "$micro" "${LAYOUTS[@]}" <<'PY' || exit 1
import csv, glob, json, statistics, sys
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
# the machine's pace around each layout's cells: the first cell's job before and after each
# round of them, against that job before the profiles (absent in folders made before it was)
pace_of = {}
try:
    try:
        order = [line.split() for line in open(f"{out}/pace-order.txt")]
    except OSError:  # one round, the layouts in turn
        order = [[str(n + 1)] + l.split() for n, l in enumerate(layouts)]
    paces = [median_iter(f"{out}/pace-{i}.times.csv") for i in range(len(order) + 2)]
    for n, k, c in order:
        n = int(n)
        pace_of.setdefault(f"{k} {c}", []).append((paces[n] + paces[n + 1]) / 2 / paces[0])
except (OSError, statistics.StatisticsError):
    pace_of = {}
rows = []
for l in layouts:
    k, c = l.split()
    pace = statistics.mean(pace_of[l]) if l in pace_of else float("nan")
    for m in micro:
        cell = f"{out}/{k}-{c}-m{m}"
        p = first_row(cell + ".predicted.csv")
        meas = median_iter(*sorted(glob.glob(cell + ".times*.csv")))
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
if pace_of:
    print("the machine's pace (the first cell's job around each layout's cells against it before the "
          "profiles): " + ", ".join(f"{l.split()[0]}" + (f" x {l.split()[1]}" if l.split()[1] != "1" else "")
                                    + f" {100 * (statistics.mean(pace_of[l]) - 1):+.1f}%"
                                    for l in layouts if l in pace_of))
    adj = [(r["predicted_s"] * r["pace"] - r["measured_s"]) / r["measured_s"] for r in rows]
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
