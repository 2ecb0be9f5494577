#!/usr/bin/env bash
# bench-overlap.sh — communication overlapped with computation across two emulated nodes
# (experiments/cluster.sh), against the two run one after the other, at two or more link rates.
#
# Usage: experiments/bench-overlap.sh [--rates LIST] [--models LIST] [--iters N] [--rounds K]
#   --rates LIST   link rates, tc's units (default 1gbit,10gbit)
#   --models LIST  model names under models/ (default vgg16,resnet50)
#   --iters N      timed iterations per run after one warm-up (default 3)
#   --rounds K     each variant run K times, the variants taking turns (default 2)
# Each cell (batch 32, 2 nodes x 1 rank: data parallel = 2 replicas, pipeline = 2 stages, 1f1b,
# 8 microbatches) runs with PC_PROGRESS=
#   thread  the default: gradient buckets reduced during the backward by a communication thread,
#           which also drives the messages while a layer computes
#   layers  a call into MPI between layers; the gradients reduced after the backward
#   off     messages move only while a rank waits: computation and communication in turn
# and prints each variant's median iteration (over its rounds' medians) and thread's ratio to
# the others, measured in the same run.
set -uo pipefail
cd "$(dirname "$0")/.."
rates=1gbit,10gbit models=vgg16,resnet50 iters=3 rounds=2
while [ $# -gt 0 ]; do
  case $1 in
    --rates) rates=${2:-}; shift 2 ;;
    --models) models=${2:-}; shift 2 ;;
    --iters) iters=${2:-}; shift 2 ;;
    --rounds) rounds=${2:-}; shift 2 ;;
    *) echo "bench-overlap.sh: unknown option '$1'" >&2; sed -n 's/^# \{0,1\}//; 5,9p' "$0" >&2; exit 2 ;;
  esac
done
for v in "$iters" "$rounds"; do
  case $v in ''|*[!0-9]*|0) echo "bench-overlap.sh: --iters and --rounds take a count >= 1" >&2; exit 2 ;; esac
done
IFS=, read -ra R <<<"$rates"
IFS=, read -ra MODELS <<<"$models"
[ ${#R[@]} -gt 0 ] && [ ${#MODELS[@]} -gt 0 ] || { echo "bench-overlap.sh: --rates and --models need one item or more" >&2; exit 2; }
for r in "${R[@]}"; do experiments/cluster.sh --rate "$r" --check || exit 2; done
for m in "${MODELS[@]}"; do
  [ -f "models/$m.model" ] || { echo "bench-overlap.sh: no model 'models/$m.model'" >&2; exit 2; }
done
experiments/setup.sh build >&2 || exit 1
source experiments/env.sh
x=$PWD/build/exec/pipecast-exec
tmp=$(mktemp -d) && trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{v[NR] = $1} END {print NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
printf "%-9s %-13s %-7s %9s %9s %9s %14s %12s\n" model layout rate thread_s layers_s off_s \
  thread/layers thread/off
for r in "${R[@]}"; do for m in "${MODELS[@]}"; do
  for layout in "data 2" "pipeline 2"; do
    set -- $layout
    case $1 in
      data) args=(--replicas 2 --stages 1 -m 1) ;;
      pipeline) args=(--replicas 1 --stages 2 -m 8 --schedule 1f1b) ;;
    esac
    for k in $(seq "$rounds"); do for mode in thread layers off; do
      experiments/cluster.sh --nodes 2 --rate "$r" -- env PC_PROGRESS=$mode "$x" train \
        "models/$m.model" "${args[@]}" --batch 32 --iters $((iters + 1)) --warmup 1 \
        --timeout 120 --times "$tmp/t.csv" >"$tmp/log" 2>&1
      st=$?
      if [ $st != 0 ]; then cat "$tmp/log" >&2; exit $st; fi
      awk -F, 'NR > 1 && $3 == 0 {print $2}' "$tmp/t.csv" | median >>"$tmp/$mode"
    done; done
    for mode in thread layers off; do eval "$mode=\$(median <\"\$tmp/\$mode\")"; rm "$tmp/$mode"; done
    awk -v m="$m" -v l="$1 parallel" -v r="$r" -v t="$thread" -v a="$layers" -v o="$off" \
      'BEGIN {printf "%-9s %-13s %-7s %9.3f %9.3f %9.3f %14.3f %12.3f\n", m, l, r, t, a, o, t / a, t / o}'
  done
done; done
