# bench-env.sh — what the benchmarks share; source it from the project root after reading the
# arguments (uses $iters). Builds into build/ (experiments/setup.sh), sets the environment of
# experiments/env.sh and perf-env.sh, and defines:
#   x                       the executor
#   median                  the median of the numbers on stdin
#   sim                     the simulator
#   mlp32_median RANKS ARGS...  `pipecast-exec train` of mlp32 (width 1024, batch 256) on RANKS
#                           ranks (one per core), ITERS timed iterations after one warm-up and
#                           ARGS: prints the run's median seconds per iteration (its --summary)
#   summary_median TRAIN-COMMAND...  the median seconds of any train command (its --summary)
experiments/setup.sh build >/dev/null 2>&1
source experiments/env.sh
source experiments/perf-env.sh
x=build/exec/pipecast-exec
sim=build/sim/pipecast-sim
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
mlp32_median() {
  local ranks=$1
  shift
  local launch=()
  [ "$ranks" -gt 1 ] && launch=(mpirun -n "$ranks" --bind-to core)
  summary_median "${launch[@]}" "$x" train models/mlp32.model --batch 256 --iters $((iters + 1)) \
    --warmup 1 --print-every 1000000 "$@"
}
# summary_median TRAIN-COMMAND...: runs it with --summary and prints its median seconds
summary_median() {
  local summary
  summary=$(mktemp)
  "$@" --summary "$summary" >/dev/null &&
    /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["median_s"])' "$summary"
  rm -f "$summary"
}
