#!/usr/bin/env bash
# plan-check.sh — does `pipecast-sim plan` pick the fastest layout? A profile and a calibration
# first; then plan's top five layouts of the job, measured side by side (`pipecast-exec grid`:
# every cell in memory, visited in turn), on this machine or on emulated nodes.
#
# Usage: experiments/plan-check.sh MODEL [--set K=V,...] [--ranks R] [--batch B] [--visits V]
#                                  [--rate RATE] [--out DIR]
#   MODEL        a name under models/ or a model file's path
#   --set K=V,.. the model's parameters (as train takes them)
#   --ranks R    ranks of the job (2)
#   --batch B    minibatch (32)
#   --visits V   visits to each cell, one timed iteration each (5)
#   --rate RATE  run on R emulated nodes, one rank each, joined by RATE links
#                (experiments/cluster.sh); default: this machine's ranks over shared memory
#   --out DIR    results (default results/plan-MODEL)
# Prints each of the five layouts' predicted and measured iteration (median over the visits,
# and the visits' range) and whether the pick is the fastest measured, or within the measured
# range of the fastest; DIR/plan.csv and DIR/check.csv hold the figures.
set -uo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { sed -n 's/^# \{0,1\}//; 6,15p' "$0" >&2; exit 2; }
case $1 in /*) model=$1 ;; */*|*.model) model=$caller/$1 ;; *) model=models/$1.model ;; esac
shift
ranks=2 batch=32 visits=5 rate= out= sets=()
while [ $# -gt 0 ]; do
  case $1 in
    --set) sets+=(--set "${2:-}"); shift 2 ;;
    --ranks) ranks=${2:-}; shift 2 ;;
    --batch) batch=${2:-}; shift 2 ;;
    --visits) visits=${2:-}; shift 2 ;;
    --rate) rate=${2:-}; shift 2 ;;
    --out) out=${2:-}; shift 2 ;;
    *) echo "plan-check.sh: unknown option '$1'" >&2; sed -n 's/^# \{0,1\}//; 6,15p' "$0" >&2; exit 2 ;;
  esac
done
[ -f "$model" ] || { echo "plan-check.sh: no model file '$model'" >&2; exit 2; }
[ -z "$rate" ] || experiments/cluster.sh --nodes "$ranks" --rate "$rate" --check || exit 2
for v in "$ranks" "$batch" "$visits"; do
  case $v in ''|*[!0-9]*|0) echo "plan-check.sh: --ranks, --batch and --visits take a count >= 1" >&2; exit 2 ;; esac
done
name=$(basename "$model" .model)
out=${out:-results/plan-$name}
mkdir -p "$out" && out=$(cd "$out" && pwd) || exit 1
experiments/setup.sh build >&2 || exit 1
source experiments/env.sh
x=$PWD/build/exec/pipecast-exec sim=$PWD/build/sim/pipecast-sim
on() { # on PROGRAM ARGS...: on the job's ranks, here or on the emulated nodes
  if [ -n "$rate" ]; then experiments/cluster.sh --nodes "$ranks" --rate "$rate" -- "$@"
  else mpirun -n "$ranks" "$@"; fi
}
micros=1,2,4,8,16
# every microbatch size a layout of the search can have: B / D / M
sizes=$(for d in $(seq "$ranks"); do
          [ $((ranks % d)) = 0 ] && [ $((batch % d)) = 0 ] || continue
          for m in ${micros//,/ }; do [ $((batch / d % m)) = 0 ] && echo $((batch / d / m)); done
        done | sort -n -u | paste -sd, -)

echo "plan-check: profile (sizes $sizes) and calibration on $ranks ranks${rate:+, links $rate}" >&2
on "$x" profile "$model" "${sets[@]}" --microbatch-sizes "$sizes" --reps 5 -o "$out/profile.tsv" \
  >"$out/profile.log" 2>&1 || { cat "$out/profile.log" >&2; exit 1; }
on "$x" calibrate --max-bytes 16777216 --reps 10 -o "$out/net.tsv" >"$out/net.log" 2>&1 ||
  { cat "$out/net.log" >&2; exit 1; }

"$sim" plan "$model" "${sets[@]}" --ranks "$ranks" --batch "$batch" --microbatches "$micros" \
  --profile "$out/profile.tsv" --net "$out/net.tsv" --top 5 --format csv >"$out/plan.csv" || exit 1
# the cells: NAME SCHEDULE M REPLICAS PARTITION
python3 - "$out/plan.csv" >"$out/cells.txt" <<'PY' || exit 1
import csv, sys
for r in csv.DictReader(open(sys.argv[1])):
    print("pick%s %s %s %s %s" % (r["rank"], r["schedule"], r["microbatches"], r["replicas"],
                                 r["partition"]))
PY
echo "plan-check: the top $(wc -l <"$out/cells.txt") layouts, $visits visits each" >&2
on "$x" grid "$model" "${sets[@]}" --cells "$out/cells.txt" --out "$out/grid" --batch "$batch" \
  --visits "$visits" >"$out/grid.log" 2>&1 || { cat "$out/grid.log" >&2; exit 1; }

python3 - "$out" <<'PY'
import csv, os, statistics, sys
sys.path.insert(0, "experiments")
from cellsim import write_whole
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "plan.csv"))))
res = []
for r in rows:
    with open(os.path.join(out, "grid", "pick%s.times.csv" % r["rank"])) as f:
        t = [float(x["seconds"]) for x in csv.DictReader(f) if x["warmup"] == "0"]
    res.append(dict(rank=int(r["rank"]), layout="%sx%s %s M=%s" % (r["replicas"], r["stages"],
               r["schedule"], r["microbatches"]), predicted=float(r["iteration_s"]),
               measured=statistics.median(t), lo=min(t), hi=max(t)))
best = min(res, key=lambda x: x["measured"])
pick = res[0]
print("%4s  %-22s %11s %11s %8s  %s" % ("rank", "layout", "predicted_s", "measured_s", "error",
                                        "visits' range"))
for x in res:
    print("%4d  %-22s %11.4f %11.4f %+7.1f%%  %.4f-%.4f" % (
        x["rank"], x["layout"], x["predicted"], x["measured"],
        100 * (x["predicted"] - x["measured"]) / x["measured"], x["lo"], x["hi"]))
if best is pick:
    print("the pick (rank 1) is the fastest measured")
elif pick["measured"] <= best["hi"]:
    print("the pick (rank 1) is within the measured range of the fastest (rank %d): %.4f s "
          "against %.4f-%.4f s" % (best["rank"], pick["measured"], best["lo"], best["hi"]))
else:
    print("the pick (rank 1) is slower than the fastest measured (rank %d): %.4f s against "
          "%.4f-%.4f s" % (best["rank"], pick["measured"], best["lo"], best["hi"]))
with write_whole(os.path.join(out, "check.csv"), newline="") as f:
    w = csv.DictWriter(f, list(res[0])); w.writeheader(); w.writerows(res)
PY
