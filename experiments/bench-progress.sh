#!/usr/bin/env bash
# bench-progress.sh — what the executor's calls into MPI between layers (exec/progress.c) buy
# and cost: mlp32 (width 1024, batch 256) on P stages (default 2, one rank per core), gpipe and
# 1f1b at M = 4 and 16, with PC_PROGRESS=layers (what the default, thread, does for a pipeline
# on one node) and PC_PROGRESS=off, under two Open MPI shared-memory transports: single copy
# (CMA, the default where the kernel allows it: the receiver copies a large message by itself)
# and none (copy-in/copy-out fragments, which move only inside MPI calls, as on kernels without
# CMA and over TCP between nodes). Prints the
# one-stage times and, per configuration, the median iteration of each mode and their ratio
# off / layers (> 1: the calls help), all from the same run: every configuration runs REPS times,
# the two modes interleaved, each run ITERS timed iterations after one warm-up, and a mode's time
# is the median of its runs' medians. Other MPI libraries ignore the Open MPI variable: both
# transport rows then measure the library's own.
# Usage: experiments/bench-progress.sh [ITERS] [P] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-4}
P=${2:-2}
reps=${3:-3}
source experiments/bench-env.sh
# run RANKS COPY MODE ARGS...: the median seconds of one run's timed iterations
run() {
  local ranks=$1 copy=$2 mode=$3
  shift 3
  PC_PROGRESS=$mode OMPI_MCA_btl_vader_single_copy_mechanism=$copy mlp32_median "$ranks" "$@"
}
echo "# bench-progress: mlp32 width 1024, batch 256, $P stages, median of $reps runs of $iters" \
     "iterations, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-default}"
declare -A runs
for ((r = 0; r < reps; r++)); do
  for M in 4 16; do
    runs["one $M"]+="$(run 1 cma layers --microbatches $M) "
    for sched in gpipe 1f1b; do
      for copy in cma none; do
        for mode in off layers; do
          runs["$copy $sched $M $mode"]+="$(run "$P" $copy $mode --microbatches $M --schedule $sched -s "$P") "
        done
      done
    done
  done
done
med() { echo "${runs[$1]}" | tr ' ' '\n' | grep . | median; }
printf "%-6s %-6s %4s %10s %10s %10s %12s\n" copy sched M one_stage_s off_s layers_s off/layers
for M in 4 16; do
  t1=$(med "one $M")
  for sched in gpipe 1f1b; do
    for copy in cma none; do
      awk -v c="$copy" -v s="$sched" -v M="$M" -v t1="$t1" -v off="$(med "$copy $sched $M off")" \
          -v on="$(med "$copy $sched $M layers")" \
          'BEGIN { printf "%-6s %-6s %4d %10.4f %10.4f %10.4f %12.3f\n", c, s, M, t1, off, on, off / on }'
    done
  done
done
