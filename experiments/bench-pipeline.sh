#!/usr/bin/env bash
# bench-pipeline.sh — pipeline efficiency of pipecast-exec on this machine: mlp32 (width 1024,
# batch 256) with P stages (default 2, one rank per core) and M = 8 and 16 microbatches, gpipe and
# 1f1b. Prints, from medians of ITERS iterations after one warm-up, all in the same run:
#   speedup      = T(1 stage, same M) / T(P stages, M)   against the ideal P*M/(M+P-1)
#   speedup_1mb  = T(1 stage, M=1) / T(P stages, M)       the figure users quote
# and PyTorch's hand-written GPipe (gloo) on the same model beside it when torch is installed.
# The machine is shared: every configuration runs REPS times, interleaved with the others, and
# keeps its best median (the run least disturbed).
# Usage: experiments/bench-pipeline.sh [ITERS] [P] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-8}
P=${2:-2}
reps=${3:-3}
source experiments/bench-env.sh
has_torch=0
/usr/bin/python3 -c "import torch" 2>/dev/null && has_torch=1
torch_run() { /usr/bin/python3 experiments/torch_gpipe.py "$@" "$iters" | awk '{print $2}' | median; }

echo "# bench-pipeline: mlp32 width 1024, batch 256, $P stages, best of $reps medians of $iters" \
     "iterations, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-default}"
configs=("1 --microbatches 1")
for M in 8 16; do
  configs+=("1 --microbatches $M")
  for sched in gpipe 1f1b; do configs+=("$P --microbatches $M --schedule $sched"); done
done
declare -A best
for ((r = 0; r < reps; r++)); do
  for c in "${configs[@]}"; do
    # shellcheck disable=SC2086
    t=$(mlp32_median $c)
    if [ -z "${best[$c]:-}" ] || awk -v a="$t" -v b="${best[$c]}" 'BEGIN {exit !(a < b)}'; then best[$c]=$t; fi
  done
done
t1_1=${best["1 --microbatches 1"]}
echo "one stage, one microbatch: $t1_1 s"
printf "%-8s %4s %10s %10s %9s %7s %9s %12s\n" schedule M T1_s TP_s speedup ideal "of_ideal" speedup_1mb
for M in 8 16; do
  t1=${best["1 --microbatches $M"]}
  for sched in gpipe 1f1b; do
    tp=${best["$P --microbatches $M --schedule $sched"]}
    # the ideal P*M/(M+P-1), as the simulator reports it
    ideal=$("$sim" run models/mlp32.model --stages "$P" --batch 256 --microbatches "$M" -f csv |
      awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "ideal_speedup") k = i } NR == 2 { print $k }')
    awk -v s="$sched" -v M="$M" -v ideal="$ideal" -v t1="$t1" -v tp="$tp" -v t11="$t1_1" 'BEGIN {
      sp = t1 / tp
      printf "%-8s %4d %10.4f %10.4f %9.3f %7.3f %8.1f%% %12.3f\n", s, M, t1, tp, sp, ideal, 100 * sp / ideal, t11 / tp }'
  done
done
if [ "$has_torch" = 1 ]; then
  echo
  echo "# PyTorch, hand-written GPipe over gloo, same model and batch"
  pt1=$(torch_run 1 1)
  printf "%-10s %4s %10s %12s\n" stages M step_s speedup_1mb
  printf "%-10d %4d %10.4f %12.3f\n" 1 1 "$pt1" 1
  for M in 8 16; do
    ptp=$(torch_run "$P" "$M")
    awk -v P="$P" -v M="$M" -v t="$ptp" -v t1="$pt1" 'BEGIN { printf "%-10d %4d %10.4f %12.3f\n", P, M, t, t1 / t }'
  done
else
  echo "# PyTorch: absent (install python3-torch for its column)"
fi
