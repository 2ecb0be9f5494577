#!/usr/bin/env bash
# study.sh — one study of the seed paper, measured on this machine and predicted beyond it, with
# the measured-against-predicted validation (docs/validation.md says what each output means).
#
#   experiments/study.sh MODEL [--quick] [--out DIR] [--set K=V,...] [--reuse]
#                        [--batch B] [--microbatches M,...] [--rounds R] [--iters N] [--procs N]
#                        [--prebuilt] [--continue] [--budget SECONDS] [--optimizer NAME]
#                        [--lr X] [--weight-decay X] [--clip-grad-norm X]
#   (MODEL: a name under models/ — mlp32, vgg16, resnet50 are the seed's studies — or the path
#   of any model file; a model other than mlp32 is also measured data parallel, and takes the
#   CNNs' grid (batch 32, microbatches 1 to 32) unless told otherwise; default DIR
#   results/NAME, NAME the file's name without .model; --set overrides model parameters, e.g. input=3x224x224; --reuse
#   skips steps 2 and 3 and predicts and validates again from the measurements already in DIR,
#   made with the same arguments: after a change to the simulator, say, or to draw on another
#   machine what one with more cores measured; --batch, --microbatches, --rounds and --iters
#   replace the grid's minibatch, microbatch counts, rounds and visits per cell and round, e.g. a
#   larger input at a smaller batch; --procs the most processes measured, default this machine's
#   cores up to 16, rounded down to a power of two; --prebuilt uses the programs already built
#   in $PC_BUILD as they are, on a machine without a compiler or GLib's headers; --continue goes
#   on with a study in DIR that stopped (a time limit, say) with the same arguments: what it
#   finished is kept, the rest measured, then all is predicted and validated; --budget stops the
#   measurements before a step (a profile, the memory runs, a layout's visits) that would end
#   past SECONDS from the start, judged by how long the same step last took (OUT/steps.tsv): what
#   was measured is kept, and the study exits 3 with a message; the same command with --continue,
#   and a budget of its own, goes on. A step never timed before is judged by the elapsed time
#   alone, and the prediction and validation after the measurements, seconds to a minute, are
#   not counted: leave room for them; --optimizer (sgd, the default, or adamw), --lr,
#   --weight-decay and --clip-grad-norm train every cell as `train` takes them, and the profiles
#   and predictions step and clip as they do (kept in DIR/train-options for --reuse and
#   --continue))
#
# Steps (progress on stderr, one line per step and per measured cell):
#   1. build pipecast-exec and pipecast-sim (in $PC_BUILD, default build/);
#   2. calibrate the link (mpirun -n 2 calibrate); measure the memory a process holds beyond the
#      runtime's plan on a tiny model (baseline-1.log, baseline-2.log);
#   3. the grid: schedule (gpipe, 1f1b) x stages (1, 2, 4, ... up to PROCS, the cores of this
#      machine: no oversubscription) x microbatches; CNNs also data parallelism (--replicas K,
#      one stage, at each process count K > 1). Each cell's memory in its own processes
#      (`pipecast-exec train`, one iteration; as many cells at once as the cores hold and the
#      memory budget, PC_MEMORY_MIB, default 80% of the memory available, holds). Before any
#      cell is timed, each layout's condition profiled as a user would profile the layout to run
#      (one process, each partition stage by stage, replicas), in 3 rounds of them taken in
#      turn, pooled (before-COND.rR.samples.tsv: a slow spell weighs as one round). Then
#      ROUNDS times (3; the quick mlp32 grid 2): profile the whole model with every core busy
#      (mpirun -n PROCS profile) at the grid's microbatch sizes; measure the cells of one process
#      side by side in one job, then those of two, and so on up to PROCS (`pipecast-exec grid`:
#      every cell warmed up, then visited in turn ITERS times, a visit one timed iteration and one
#      profile repetition of the cell's own layers in its own runtime, under exactly its
#      conditions: one process, its partition stage by stage, or K replicas). In the last round,
#      partitions of the stage counts 4, 8, 16 beyond PROCS for the predicted lines, each stage
#      timed alone (profile_beyond). A cell's time is its median iteration over
#      all its visits, each profile row the median of all the samples of its condition (the same
#      statistic on both sides, over samples interleaved through the same stretches of time);
#   4. predict every measured cell with `pipecast-sim run` on the same partition with the profile
#      taken under the same load (and its trace), and before the run from the before-* rounds;
#      replay each round's measured iteration
#      (`run --durations`: its compute ops' measured durations, the messages modelled);
#   5. the predicted grid: `pipecast-sim sweep` for 1..16 stages, each stage count from its
#      partitions' profiles (and replicas for CNNs, from the whole-model profile on every core);
#   6. experiments/validate.py: validation.csv/.md (time and memory, error of every cell, MAPE,
#      worst cell; each cell also predicted again visit by visit from the samples its processes
#      took right after the visit, the paired error that heads the summary; `pipecast-sim
#      compare` of the worst cell's traces), speedup.csv and the
#      figures (experiments/plot-speedup.gp, plot-dp.gp): speedup.png/.pdf, dp.png/.pdf.
# Partitions are auto:time (the simulator's time-balanced cut for the microbatch size), and the
# executor runs exactly that spec. --quick: a smaller grid for the main job (about three minutes).
set -euo pipefail
caller=$PWD
cd "$(dirname "$0")/.."
usage() {
  echo "usage: experiments/study.sh MODEL [--quick] [--out DIR] [--set K=V,...] [--reuse]" >&2
  echo "                            [--batch B] [--microbatches M,...] [--rounds R] [--iters N]" >&2
  echo "                            [--procs N] [--prebuilt] [--continue] [--budget SECONDS]" >&2
  echo "                            [--optimizer NAME] [--lr X] [--weight-decay X] [--clip-grad-norm X]" >&2
  exit 2
}
bad() { echo "study.sh: $*" >&2; exit 2; }
# posint NAME VALUE: VALUE is a whole number from 1 to 1000000, or the study stops (exit 2)
posint() { [[ $2 =~ ^[1-9][0-9]{0,6}$ ]] && [ "$2" -le 1000000 ] || bad "$1 must be a whole number from 1 to 1000000, got '$2'"; }
[ $# -ge 1 ] || usage
# MODEL: a name under models/, or a model file's path
case $1 in
  -*) usage ;;
  /*) model_path=$1 ;;
  */*|*.model) model_path=$caller/$1 ;;
  *) model_path=models/$1.model ;;
esac
[ -f "$model_path" ] || bad "no model file '$model_path' (MODEL is a name under models/ or a model file's path)"
model=$(basename "$model_path" .model)
[[ $model =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || bad "the model file's name '$model' must be letters, digits, '.', '_' or '-'"
shift
quick=0
out=
sets=
reuse=0
o_batch= o_ms= o_rounds= o_iters= o_procs= prebuilt=0 cont=0 budget=
topts=() # the training options: --optimizer NAME, --lr X, --weight-decay X, --clip-grad-norm X
while [ $# -gt 0 ]; do
  case $1 in
    --batch|--microbatches|--rounds|--iters|--procs|--budget)
      [ $# -ge 2 ] || usage
      case $1 in
        --batch) o_batch=$2 ;; --microbatches) o_ms=$2 ;; --rounds) o_rounds=$2 ;; --iters) o_iters=$2 ;;
        --procs) o_procs=$2 ;; --budget) posint --budget "$2"; budget=$2 ;;
      esac
      shift ;;
    --optimizer)
      [ $# -ge 2 ] || usage
      [[ $2 =~ ^(sgd|adamw)$ ]] || bad "--optimizer must be sgd or adamw, got '$2'"
      topts+=("$1" "$2"); shift ;;
    --lr|--weight-decay|--clip-grad-norm)
      [ $# -ge 2 ] || usage
      [[ $2 =~ ^([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$ ]] ||
        bad "$1 must be a number of at least 0, got '$2'"
      [ "$1" != --lr ] || awk -v v="$2" 'BEGIN { exit !(v > 0) }' || bad "--lr must be above 0, got '$2'"
      topts+=("$1" "$2"); shift ;;
    --quick) quick=1 ;;
    --prebuilt) prebuilt=1 ;;
    --continue) cont=1 ;;
    --out) [ $# -ge 2 ] || usage; out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    --set) [ $# -ge 2 ] || usage; sets=$2; shift ;;
    --set=*) sets=${1#--set=} ;;
    --reuse) reuse=1 ;;
    *) usage ;;
  esac
  shift
done
case $model in
  mlp32)
    if [ $quick = 1 ]; then batch=128 Ms="1 4 16 32" iters=3 warmup=1 rounds=2
    else batch=256 Ms="1 2 4 8 16 32 64" iters=5 warmup=1 rounds=3; fi
    dp=0 ;;
  *)
    if [ $quick = 1 ]; then batch=32 Ms="1 4 16" iters=3 warmup=1 rounds=3
    else batch=32 Ms="1 2 4 8 16 32" iters=3 warmup=1 rounds=3; fi
    dp=1 ;;
esac
if [ -n "$o_batch" ]; then posint --batch "$o_batch"; batch=$o_batch; fi
if [ -n "$o_rounds" ]; then posint --rounds "$o_rounds"; rounds=$o_rounds; fi
if [ -n "$o_iters" ]; then posint --iters "$o_iters"; iters=$o_iters; fi
if [ -n "$o_ms" ]; then
  Ms=
  for M in ${o_ms//,/ }; do
    posint --microbatches "$M"
    [ $((batch % M)) = 0 ] || bad "--microbatches: $M does not divide the batch ($batch)"
    Ms="$Ms $M"
  done
  [ -n "$Ms" ] || bad "--microbatches: no microbatch count in '$o_ms'"
fi
for M in $Ms; do
  [ $((batch % M)) = 0 ] || bad "--batch: $batch is not a multiple of the grid's microbatch count $M (set --microbatches)"
done
out=${out:-results/$model}
# PROCS: the most processes measured side by side, one per core (this machine's cores, 2 to 16,
# unless --procs; rounded down to a power of two); a study redone with --reuse keeps the PROCS it was measured with ($out/procs)
# cores: physical ones (hyperthreads share a core; a rank per core), else what nproc says
cores=$( (lscpu -p=core,socket 2>/dev/null || true) | awk '!/^#/' | sort -u | wc -l)
[ "$cores" -ge 1 ] && [ "$cores" -le "$(nproc)" ] || cores=$(nproc)
procs=$cores
[ "$procs" -ge 2 ] || procs=2
[ "$procs" -le 16 ] || procs=16
if [ -n "$o_procs" ]; then
  posint --procs "$o_procs"
  [ "$o_procs" -ge 2 ] && [ "$o_procs" -le 16 ] || bad "--procs must be from 2 to 16, got '$o_procs'"
  procs=$o_procs
fi
# the layouts are powers of two (1, 2, 4, ...): PROCS is the largest, so that the whole-model
# profile runs on as many busy cores as the largest layout measured
p2=2
while [ $((p2 * 2)) -le "$procs" ]; do p2=$((p2 * 2)); done
if [ "$p2" != "$procs" ]; then
  echo "study.sh: $procs processes: the layouts are powers of two, so up to $p2 (on $p2 of the cores)" >&2
  procs=$p2
fi
[ -z "${PC_MEMORY_MIB+x}" ] || [[ $PC_MEMORY_MIB =~ ^[1-9][0-9]{0,8}$ ]] ||
  bad "PC_MEMORY_MIB must be a whole number of MiB, got '$PC_MEMORY_MIB'"
[ $cont = 0 ] || [ "$reuse" = 0 ] || bad "--continue and --reuse exclude each other"
if [ $cont = 1 ] && { [ ! -f "$out/procs" ] || [ ! -f "$out/net.tsv" ]; }; then
  bad "--continue: no study in $out to continue (run it without --continue first)"
fi
if { [ "$reuse" = 1 ] || [ $cont = 1 ]; } && [ -f "$out/procs" ]; then
  procs=$(cat "$out/procs")
  [[ $procs =~ ^([2-9]|1[0-6])$ ]] || bad "$out/procs: a process count from 2 to 16 expected, got '$procs'"
elif [ "$reuse" = 1 ] && [ -f "$out/net.tsv" ]; then
  # a study made before the process layouts were recorded: 1 and 2 processes, its whole-model
  # and replica profiles named profile-2r (renamed to today's names)
  procs=2
  for f in "$out"/profile-2r.r*.samples.tsv; do
    [ -f "$f" ] || continue
    if [[ ${f##*/} =~ ^profile-2r\.r[0-9]+\.samples\.tsv$ ]]; then
      mv "$f" "$out/profile-all.${f##*/profile-2r.}"
    else mv "$f" "$out/profile-dp2.${f##*/profile-2r.}"; fi
  done
  echo 2 >"$out/procs"
fi
# the process layouts measured (1, 2, 4, ... up to PROCS: the stage counts, and the replica
# counts of the CNNs' data parallelism) and the stage counts predicted beyond them
layouts=$(k=1; while [ $k -le "$procs" ]; do echo $k; k=$((k * 2)); done | paste -sd' ' -)
maxk=${layouts##* }
beyond=$(for P in 4 8 16; do [ "$P" -le "$maxk" ] || echo $P; done | paste -sd' ' -)
grid="microbatches $(echo $Ms | tr ' ' ,); stages $(echo $layouts | tr ' ' ,); $rounds round(s) x $iters timed iteration(s)"
build=${PC_BUILD:-build}
mkdir -p "$out/runs"
# the model file kept with the results: what validate.py, compare-stats.py and --reuse predict
if ! cmp -s "$model_path" "$out/$model.model"; then
  if [ $reuse = 1 ] && [ -f "$out/$model.model" ]; then
    bad "$out/$model.model differs from $model_path: --reuse predicts the model that was measured"
  fi
  cp "$model_path" "$out/$model.model"
fi
model_path=$out/$model.model
# the training options: a fresh study records them (train-options); --reuse and --continue go on
# with those the cells were measured with
if { [ $reuse = 1 ] || [ $cont = 1 ]; } && [ -f "$out/train-options" ]; then
  was=$(cat "$out/train-options")
  [ ${#topts[@]} = 0 ] || [ "${topts[*]}" = "$was" ] ||
    bad "$out was measured with the training options '${was:-(none)}', not '${topts[*]}'"
  read -r -a topts <<<"$was"
elif [ $reuse = 0 ] && [ $cont = 0 ]; then
  echo "${topts[*]}" >"$out/train-options"
fi
# to: train's and grid's; po: profile's (the optimizer whose step it times); so: the simulator's
to=("${topts[@]}") po=() so=()
for ((i = 0; i < ${#topts[@]}; i += 2)); do
  case ${topts[i]} in
    --optimizer) po+=("${topts[@]:i:2}") so+=("${topts[@]:i:2}") ;;
    --clip-grad-norm) so+=("${topts[@]:i:2}") ;;
  esac
done
[ ${#topts[@]} = 0 ] || grid="$grid; trained with ${topts[*]}"
t_start=$(date +%s)
log() { printf "study %s [%3d s]: %s\n" "$model" $(($(date +%s) - t_start)) "$*" >&2; }
# csv_field BLOCK COLUMN: the column named COLUMN of every row of the BLOCK-th CSV block on stdin
# (pipecast-sim's --format csv: blocks apart by blank lines, each under a header of its own)
csv_field() {
  awk -F, -v want="$1" -v col="$2" 'NF == 0 { seen = 0; next }
    !seen { seen = 1; block++; k = 0; for (i = 1; i <= NF; i++) if ($i == col) k = i; next }
    block == want && k { print $k }'
}

if [ $prebuilt = 1 ]; then
  [ -x "$build/exec/pipecast-exec" ] && [ -x "$build/sim/pipecast-sim" ] ||
    bad "--prebuilt: no pipecast-exec and pipecast-sim under $build (set PC_BUILD)"
  log "using the programs built in $build"
elif [ -f "$build/build.ninja" ]; then
  log "building in $build"
  if ! ninja -C "$build" exec/pipecast-exec sim/pipecast-sim >"$out/build.log" 2>&1; then
    [ -x "$build/exec/pipecast-exec" ] && [ -x "$build/sim/pipecast-sim" ] ||
      { cat "$out/build.log" >&2; exit 1; }
    log "the build failed (see $out/build.log); using the programs already built"
  fi
else
  log "building in $build"
  experiments/setup.sh "$build" >&2
fi
source experiments/env.sh
source experiments/perf-env.sh
x=$build/exec/pipecast-exec
sim=$build/sim/pipecast-sim
mf=("$model_path")
if [ -n "$sets" ]; then mf+=(--set "$sets"); fi
# no pipeline predicted beyond the model's layer count (a stage holds one layer or more)
nlayers=$("$sim" describe "${mf[@]}" | sed -n '1s/.*, \([0-9]*\) layers.*/\1/p')
[ -n "$nlayers" ] || bad "cannot read the layer count of $model_path"
beyond=$(for P in $beyond; do [ "$P" -gt "$nlayers" ] || echo $P; done | paste -sd' ' -)
# "${mpi[@]}" K PROGRAM...: PROGRAM on K ranks, one per core (unbound where PROCS is more than
# the cores: oversubscribed, which Open MPI refuses to bind; only good for trying the script)
bind=core
if [ "$procs" -gt "$cores" ]; then
  bind=none
  [ "$reuse" = 1 ] ||
    log "warning: $procs processes on $cores cores: oversubscribed, the timings are not a machine's of $procs cores"
fi
mpi=(mpirun --bind-to $bind -n)
# launch_as K [FIRST]: the command that starts pipecast-exec on K ranks, one per core (with
# FIRST, on cores FIRST to FIRST + K - 1, so that jobs side by side do not share cores), in the
# array `launch`
launch=()
launch_as() {
  if [ "$1" = 1 ]; then launch=("$x")
  elif [ -n "${2:-}" ] && [ "$bind" = core ]; then
    launch=(mpirun --cpu-set "$2-$(($2 + $1 - 1))" --bind-to core -n "$1" "$x")
  else launch=("${mpi[@]}" "$1" "$x"); fi
}
# measured LOG: LOG is a train run's that finished (its timing line): a continued study keeps it
# measured NAME.log: the run ended with a timed iteration (its --summary, or in a study made
# before train wrote one, its log's timing line)
measured() {
  grep -qs '"median_s"' "${1%.log}.summary.json" || grep -q 'median [0-9.]* s' "$1" 2>/dev/null
}
py=/usr/bin/python3
[ -x $py ] || py=python3

# Microbatch sizes of the grid (and of the replicas' shares of the batch).
sizes=$(for M in $Ms; do
          echo $((batch / M))
          if [ $dp = 1 ]; then for D in $layouts; do [ "$D" = 1 ] || echo $((batch / D / M)); done; fi
        done | awk '$1 >= 1' | sort -n | uniq | paste -sd, -)

# busy CPU jiffies of the whole machine
busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
b0=$(busy_jiffies)
sleep 1
other=$(( ($(busy_jiffies) - b0) * 100 / $(getconf CLK_TCK) / $(nproc) ))
if [ "$reuse" = 1 ]; then
  [ -f "$out/net.tsv" ] && ls "$out"/runs/*.log >/dev/null 2>&1 ||
    { log "--reuse: no measurements in $out (run the study without --reuse first)"; exit 2; }
  log "reusing the measurements in $out (made with up to $procs processes)"
elif [ "$other" -gt 20 ]; then
  log "warning: other programs use $other% of the CPUs now; measurements will be noisy (the CPU"
  log "         share of other programs is recorded beside each visit)"
fi
if [ "$reuse" = 0 ] && [ $cont = 1 ]; then
  log "continuing the study in $out (made with up to $procs processes)"
elif [ "$reuse" = 0 ]; then
  log "calibrating the link (2 ranks)"
  "${mpi[@]}" 2 "$x" calibrate --out "$out/net.tsv" >/dev/null 2>&1
  echo "$procs" >"$out/procs"
  # where the measurements are made, for the tables (--reuse may draw them elsewhere)
  echo "$cores cores ($(nproc) logical CPUs), $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)" >"$out/machine"
fi
reps=5
[ $quick = 1 ] && reps=3
# Profiles. The machine's speed wanders over seconds to minutes (other virtual machines on the
# host), so the profile is taken in many short pieces interleaved with the cells: after every
# visit to a cell, by its own processes, its layers at its microbatch size (samples_of), and once
# a round the whole model on every core (profile: the partitions and the predicted grid beyond
# this machine need every size). Every repetition is kept (*.samples.tsv); a profile that the
# simulator reads is, per layer, size and column, the median of all the samples of one condition
# (pipecast-sim pools the samples files that --profile names; a condition's files are listed in
# profile-COND.list): the typical speed of the study, as a cell's time is its median iteration over
# all its visits.
#   profile-all.list     the whole model on each of PROCS busy ranks (partitions, sweep-all, the
#                        predicted data parallelism)
#   profile-1r.list      the whole model in one process, one core busy (one-stage cells)
#   profile-dp<K>.list   K replicas, each rank the whole model at its share of the batch
#   profile-part<K>.list partition K (parts.tsv) stage by stage, one rank per stage at once: a
#                        stage alone holds only its layers' weights, so at small microbatches its
#                        layers run faster than in the whole-model profile, where every rank
#                        cycles through all the weights (pipeline cells; <cell>.part names K)
#   profile-stages<P>.list the predicted line of P stages: for the measured stage counts, the
#                        profiles of every partition of P stages pooled; beyond them, a
#                        partition of P stages timed stage by stage, each stage alone
#                        (profile_beyond)
profile() {
  local r=$1
  [ $cont = 0 ] || [ ! -s "$out/profile-all.r$r.samples.tsv" ] || return 0
  worked=1
  log "profiling (round $r) at microbatch sizes $sizes: the whole model on $procs busy ranks"
  "${mpi[@]}" "$procs" "$x" profile "${mf[@]}" "${po[@]}" --microbatch-sizes "$sizes" --reps $reps \
    --samples "$out/profile-all.r$r.samples.tsv" --out "$out/profile-all.r$r.tsv" >/dev/null
  pool "$out/profile-all.list" "$out"/profile-all.r*.samples.tsv
}
# profile_before: before any cell is timed, each condition of the cells profiled as a user
# would profile the layout to be run: one-stage cells the whole model in one process, each
# partition (parts.tsv) stage by stage on its ranks, K replicas the whole model on K ranks; in
# BEFORE_ROUNDS rounds, the conditions in turn forwards, then backwards, ...
# (before-COND.rR.samples.tsv, listed in profile-before-COND.list); predict's before-the-run
# predictions pool them
BEFORE_ROUNDS=3
profile_before() {
  local k P spec D r i j conds=() part
  [ $cont = 0 ] || [ ! -s "$out/before-done" ] || return 0
  worked=1
  log "profiling before the cells: each layout's condition (one process, each partition, replicas), in $BEFORE_ROUNDS rounds"
  conds=("1r 1 -")
  while IFS=$'\t' read -r k P spec; do conds+=("part$k $P $spec"); done <"$out/parts.tsv"
  if [ $dp = 1 ]; then
    for D in $(echo $layouts | cut -s -d' ' -f2-); do conds+=("dp$D $D -"); done
  fi
  for r in $(seq $BEFORE_ROUNDS); do
    for ((i = 0; i < ${#conds[@]}; i++)); do
      j=$i
      [ $((r % 2)) = 1 ] || j=$((${#conds[@]} - 1 - i))
      read -r k P spec <<<"${conds[j]}"
      part=()
      [ "$spec" = - ] || part=(-p "$spec")
      "${mpi[@]}" "$P" "$x" profile "${mf[@]}" "${po[@]}" "${part[@]}" --microbatch-sizes "$sizes" --reps $reps \
        --out "$out/before-$k.r$r.tsv" --samples "$out/before-$k.r$r.samples.tsv" >/dev/null </dev/null
    done
  done
  for i in "${conds[@]}"; do
    k=${i%% *}
    pool "$out/profile-before-$k.list" "$out/before-$k".r*.samples.tsv
  done
  date >"$out/before-done"
}
# pool LIST SAMPLES...: LIST names those of the SAMPLES files that exist, one a line (none: no LIST)
pool() {
  local to=$1 f files=()
  shift
  for f in "$@"; do [ ! -f "$f" ] || files+=("$f"); done
  rm -f "$to"
  [ ${#files[@]} = 0 ] || printf '%s\n' "${files[@]}" >"$to"
}
# profile_args COND: pa=(--profile FILE ...) for the samples files of profile-COND.list, which
# pipecast-sim pools (the median of each row's samples)
profile_args() {
  local f
  pa=()
  while IFS= read -r f; do pa+=(--profile "$f"); done <"$out/profile-$1.list"
}
# spec SCHED P D M: a pipeline cell's auto:time partition, from the first round's profile-all; kept
# for every visit and for the prediction
spec() {
  local sched=$1 P=$2 D=$3 M=$4 name="$1-P$2-D$3-M$4"
  [ "$P" -gt 1 ] && [ ! -f "$out/runs/$name.spec" ] || return 0
  profile_args all
  "$sim" run "${mf[@]}" "${so[@]}" --schedule "$sched" --batch "$batch" --microbatches "$M" --stages "$P" \
    --by time "${pa[@]}" --net "$out/net.tsv" --format csv |
    csv_field 1 partition >"$out/runs/$name.spec"
}
# name_parts: number the distinct partitions of the pipeline cells (parts.tsv: K, stages, spec)
# and write each cell's K to <cell>.part
name_parts() {
  local f
  for f in "$out"/runs/*.spec; do
    printf '%s\t%s\n' "$(echo "$f" | sed 's/.*-P\([0-9]*\)-.*/\1/')" "$(cat "$f")"
  done | sort -u | awk -F'\t' -v OFS='\t' '{ print NR, $1, $2 }' >"$out/parts.tsv"
  for f in "$out"/runs/*.spec; do
    awk -F'\t' -v s="$(cat "$f")" '$3 == s { print $1 }' "$out/parts.tsv" >"${f%.spec}.part"
  done
}
# samples_of V SCHED P D M: where the profile of a cell's own layers taken at its visit V (numbered
# through the rounds) goes (grid --profile-reps: right after the visit's iteration, in the same
# processes and runtimes, so under exactly its conditions: one process, its partition stage by
# stage, or its replicas)
samples_of() {
  local r=$1 P=$3 D=$4 name="$2-P$3-D$4-M$5"
  if [ "$P" -gt 1 ]; then echo "$out/profile-part$(cat "$out/runs/$name.part").r$r.$name.samples.tsv"
  elif [ "$D" -gt 1 ]; then echo "$out/profile-dp$D.r$r.$name.samples.tsv"
  else echo "$out/profile-1r.r$r.$name.samples.tsv"; fi
}
# profile_beyond R: the predicted lines' pipelines beyond the measured stage counts, profiled in
# round R. For the measured stage counts the cells' partitions are profiled already
# (samples_of); for each of 4, 8 and 16 stages beyond PROCS, an auto:time partition (from
# profile-all, at the grid's middle microbatch count) is profiled at every size of the grid stage
# by stage on every core, each stage alone in a runtime of its own, as it would run on a machine
# like this one of its own (a stage holds a fraction of the weights, which at small microbatches
# is most of a fully connected layer's time)
profile_beyond() {
  local r=$1 P spec mid
  [ -n "$beyond" ] || return 0
  [ $cont = 0 ] || [ ! -s "$out/profile-stages${beyond##* }.r$r.samples.tsv" ] || return 0
  worked=1
  mid=$(echo $Ms | awk '{ print $((NF + 1) / 2) }')
  log "profiling (round $r) the partitions of $(echo $beyond | tr ' ' ,) stages, each stage alone"
  profile_args all
  for P in $beyond; do
    spec=$("$sim" run "${mf[@]}" "${so[@]}" --batch "$batch" --microbatches "$mid" --stages "$P" --by time \
             "${pa[@]}" --net "$out/net.tsv" --format csv | csv_field 1 partition)
    "${mpi[@]}" "$procs" "$x" profile "${mf[@]}" "${po[@]}" -p "$spec" --microbatch-sizes "$sizes" --reps $reps \
      --out /dev/null --samples "$out/profile-stages$P.r$r.samples.tsv" >/dev/null </dev/null
  done
}
# pool_profiles: the list of every profile the simulator reads, all the samples of its condition
pool_profiles() {
  local k P files
  for k in all 1r; do pool "$out/profile-$k.list" "$out"/profile-$k.r*.samples.tsv; done
  for k in $layouts; do
    [ "$k" = 1 ] || [ $dp = 0 ] || pool "$out/profile-dp$k.list" "$out"/profile-dp$k.r*.samples.tsv
  done
  for k in $(cut -f1 "$out/parts.tsv"); do
    pool "$out/profile-part$k.list" "$out"/profile-part$k.r*.samples.tsv
  done
  # the predicted lines: a measured stage count's from the profiles of all its partitions, those
  # beyond from profile_beyond's
  for P in $layouts; do
    [ "$P" -gt 1 ] || continue
    files=()
    for k in $(awk -F'\t' -v P="$P" '$2 == P { print $1 }' "$out/parts.tsv"); do
      files+=("$out"/profile-part$k.r*.samples.tsv)
    done
    pool "$out/profile-stages$P.list" "${files[@]}"
  done
  for k in $beyond; do pool "$out/profile-stages$k.list" "$out"/profile-stages$k.r*.samples.tsv; done
}
# the memory a process holds beyond the runtime's plan (code, MPI, OpenBLAS): a tiny model's
# process peak minus its accounted bytes, for each process count measured (MPI's shared-memory
# buffers grow with the ranks): one process of tiny-mlp, K stages of an MLP-32 8 wide
# (a continued study measures those it lacks)
if [ "$reuse" = 0 ]; then
  log "measuring the process baseline (tiny models, $(echo $layouts | tr ' ' ,) processes)"
  for k in $layouts; do
    [ $cont = 0 ] || ! measured "$out/baseline-$k.log" || continue
    launch_as "$k"
    if [ "$k" = 1 ]; then tiny=(models/tiny-mlp.model -p 8)
    else tiny=(models/mlp32.model --set width=8,input=8 --stages "$k"); fi
    "${launch[@]}" train "${tiny[@]}" --iters 1 --summary "$out/baseline-$k.summary.json" \
      >"$out/baseline-$k.log" 2>&1 </dev/null ||
      { cat "$out/baseline-$k.log" >&2; exit 1; }
  done
fi

# Files of one cell under $out/runs/NAME.* (NAME = SCHED-P<stages>-D<replicas>-M<microbatches>):
# .log (its own train process, one iteration: the per-stage memory), .iters (visit,seconds: every
# timed iteration; visits are numbered through the rounds), .tries (visit,seconds,other_cpu_pct),
# .rR.times.csv .rR.meas.json (round R's grid output: its iterations, the trace of its last one),
# .times.csv .meas.json (the last round's), .spec, .part, .pred.csv .pred.json (.pred-all.csv).
[ "$reuse" = 1 ] || [ $cont = 1 ] || rm -rf "$out"/runs/* "$out"/profile-*.tsv "$out"/parts.tsv "$out"/steps.tsv
i=0
# This machine is shared, and its speed wanders over seconds (other virtual machines on the
# host). The cells of one process layout are measured side by side in one job, `pipecast-exec
# grid`: each warmed up, then visited in turn ITERS times, a visit one timed iteration and one
# repetition of the profile of the cell's own layers in its own runtime (so under exactly its
# conditions: one process, its partition stage by stage, or its replicas). Every cell and every
# profile sample thus spans the same stretches of time. Each round runs the grid of one process,
# then that of two, four, ... (and profiles the whole model and the partitions beyond); a
# cell's time is its median iteration over all its visits, each profile row the median of all
# the samples of its condition: the same statistic on both sides. The CPU share that other
# programs used during each visit is recorded beside it.
median() {
  sort -g | awk '{ v[NR] = $1 }
    END { if (NR) printf "%.6f", NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# cell_args SCHED P D M: the cell's options for `pipecast-exec train` and `pipecast-sim run`, in
# the array `cell`: schedule, batch, microbatches, its partition (spec) and its replicas
cell=()
cell_args() {
  cell=(--schedule "$1" --batch "$batch" --microbatches "$4")
  if [ "$2" -gt 1 ]; then cell+=(-p "$(cat "$out/runs/$1-P$2-D$3-M$4.spec")"); fi
  if [ "$3" -gt 1 ]; then cell+=(--replicas "$3"); fi
}
# memory FIRST SCHED P D M: the cell alone in its own processes for one iteration, as `train` runs
# it: its per-stage peak memory (runs/NAME.log); a process in grid holds every cell of its layout.
# Started in the background on cores FIRST, FIRST + 1, ...: as many cells run at once as PROCS
# cores hold (memory_all). Bound like every other run: OpenBLAS sizes its buffers by the cores a
# process may use (unbound, a rank here held 3 MiB more)
memory() {
  local first=$1
  shift
  local P=$2 D=$3 name="$1-P$2-D$3-M$4"
  worked=1
  cell_args "$@"
  launch_as $((P * D)) "$first"
  "${launch[@]}" train "${mf[@]}" "${to[@]}" "${cell[@]}" --iters 1 --summary "$out/runs/$name.summary.json" \
    >"$out/runs/$name.log" 2>&1 </dev/null &
  mem_pids+=($!)
  mem_names+=("$name")
}
# memory runs still going when the study ends (a failed cell, a time limit) end with it
mem_pids=() mem_names=()
trap 'kill "${mem_pids[@]}" 2>/dev/null || true' EXIT
# planned_mib SCHED P D M: what the cell's processes will hold, MiB: the simulator's plan of
# every stage (times the replicas) and 64 MiB a process for code, MPI and OpenBLAS
planned_mib() {
  local P=$2 D=$3
  cell_args "$@"
  "$sim" run "${mf[@]}" "${so[@]}" "${cell[@]}" --format csv | csv_field 2 memory_bytes |
    awk -v D="$D" -v P="$P" '{ b += $1 } END { printf "%d", b * D / 1048576 + 64 * P * D }'
}
# memory_all: every cell's memory, the cells of K processes PROCS / K at a time (the peak memory
# of a process does not depend on what runs beside it), and no more at once than the memory
# budget holds (their planned_mib): PC_MEMORY_MIB, default 80% of the memory available now; a
# failed cell stops the study
memory_all() {
  local k n sched P D M need held mem_mib most=0 ncells=0
  mem_mib=${PC_MEMORY_MIB:-$(awk '/^MemAvailable:/ { printf "%d", $2 * 0.8 / 1024 }' /proc/meminfo)}
  log "measuring each cell's memory in its own processes (one iteration, up to $procs processes" \
    "and $mem_mib MiB at once)"
  for k in $layouts; do
    n=0 held=0
    mem_pids=() mem_names=()
    while read -r sched P D M; do
      # a continued study keeps the memory of the cells it measured
      [ $cont = 0 ] || ! measured "$out/runs/$sched-P$P-D$D-M$M.log" || continue
      need=$(planned_mib "$sched" "$P" "$D" "$M") ||
        { log "the simulator could not plan the memory of $sched-P$P-D$D-M$M"; exit 1; }
      [ "$need" -le "$mem_mib" ] ||
        log "warning: $sched-P$P-D$D-M$M is planned at $need MiB, more than the $mem_mib MiB budget: it runs alone"
      if [ "$n" -gt 0 ] && [ $((held + need)) -gt "$mem_mib" ]; then memory_wait; n=0 held=0; fi
      memory $((n * k)) "$sched" "$P" "$D" "$M"
      n=$((n + 1)) held=$((held + need)) ncells=$((ncells + 1))
      [ "$n" -le "$most" ] || most=$n
      if [ $(((n + 1) * k)) -gt "$procs" ]; then memory_wait; n=0 held=0; fi
    done < <(grid echo | awk -v k="$k" '$2 * $3 == k')
    memory_wait
  done
  log "measured the memory of $ncells cell(s), at most $most at once"
}
memory_wait() {
  local j
  for j in "${!mem_pids[@]}"; do
    wait "${mem_pids[$j]}" || { cat "$out/runs/${mem_names[$j]}.log" >&2; exit 1; }
  done
  mem_pids=() mem_names=()
}
# cell_line SCHED P D M: the cell as a line of grid's --cells, after its process count
cell_line() {
  local spec=-
  if [ "$2" -gt 1 ]; then spec=$(cat "$out/runs/$1-P$2-D$3-M$4.spec"); fi
  printf '%s\t%s-P%s-D%s-M%s\t%s\t%s\t%s\t%s\n' $(($2 * $3)) "$1" "$2" "$3" "$4" "$1" "$4" "$3" \
    "$spec"
}
# other_share TIMES VISITS: the CPU share (%) other programs used in the visits (a regex) of a
# grid's times file: their CPU seconds over the visits' wall seconds times the cores
# visit_seconds TIMES [VISIT]: the seconds of VISIT's iterations in a grid's NAME.times.csv (of
# every visit after the warm-up without VISIT), its columns read by name
visit_seconds() {
  awk -F, -v v="${2:-}" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    (v == "" ? $c["visit"] > 0 : $c["visit"] == v) { print $c["seconds"] }' "$1"
}
other_share() {
  awk -F, -v n="$(nproc)" -v re="^($2)\$" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["visit"] ~ re && !seen[$c["visit"]]++ { o += $c["visit_other_cpu_s"]; w += $c["visit_s"] }
    END { o = w > 0 ? 100 * o / (w * n) : 0; printf "%.0f", o < 0 ? 0 : o }' "$1"
}
# measure_layout R K: round R of the cells of K processes, side by side (pipecast-exec grid)
measure_layout() {
  local r=$1 k=$2 g=$out/runs/grid cells=$out/runs/cells-$2.txt name sched P D M v at t other n
  grid cell_line |
    awk -F'\t' -v k="$k" -v OFS='\t' '$1 == k { $1 = ""; sub(/^\t/, ""); print }' >"$cells"
  [ -s "$cells" ] || return 0
  n=$(wc -l <"$cells")
  if [ $cont = 1 ]; then # a continued study keeps the layouts it finished
    local have
    have=$(cut -f1 "$cells" | while read -r name; do [ ! -f "$out/runs/$name.r$r.times.csv" ] || echo; done | wc -l)
    if [ "$have" = "$n" ]; then i=$((i + n)); log "round $r: the cells of $k process(es) were measured"; return 0; fi
    # stopped while recording this round of the layout: forget what it recorded, measure again
    cut -f1 "$cells" | while read -r name; do
      for f in "$out/runs/$name.iters" "$out/runs/$name.tries"; do
        if [ -f "$f" ]; then
          awk -F, -v lo=$(((r - 1) * iters + 1)) -v hi=$((r * iters)) '$1 < lo || $1 > hi' "$f" >"$f.tmp"
          mv "$f.tmp" "$f"
        fi
      done
      rm -f "$out/runs/$name.r$r.times.csv" "$out/runs/$name.r$r.meas.json"
    done
  fi
  worked=1
  log "round $r: the $n cells of $k process(es) side by side, $iters visit(s) each"
  rm -rf "$g" && mkdir -p "$g"
  launch_as "$k"
  "${launch[@]}" grid "${mf[@]}" "${to[@]}" --cells "$cells" --out "$g" --batch "$batch" \
    --visits "$iters" --iters 1 --warmup "$warmup" --profile-reps 1 2>&1 </dev/null |
    tee "$out/runs/grid-$k.r$r.log" | while IFS= read -r line; do
      case $line in visit*) log "  $k process(es): $line" ;; esac
    done || { cat "$out/runs/grid-$k.r$r.log" >&2; exit 1; }
  while read -r name sched M D _; do
    P=$(echo "$name" | sed 's/.*-P\([0-9]*\)-.*/\1/')
    for v in $(seq 1 "$iters"); do
      at=$(((r - 1) * iters + v))
      visit_seconds "$g/$name.times.csv" "$v" | sed "s/^/$at,/" >>"$out/runs/$name.iters"
      t=$(visit_seconds "$g/$name.times.csv" "$v" | median)
      other=$(other_share "$g/$name.times.csv" "$v")
      echo "$at,$t,$other" >>"$out/runs/$name.tries"
      mv "$g/$name.v$v.samples.tsv" "$(samples_of "$at" "$sched" "$P" "$D" "$M")"
    done
    cp "$g/$name.times.csv" "$out/runs/$name.r$r.times.csv"
    cp "$g/$name.json" "$out/runs/$name.r$r.meas.json"
    cp "$g/$name.times.csv" "$out/runs/$name.times.csv"
    cp "$g/$name.json" "$out/runs/$name.meas.json"
    i=$((i + 1))
    t=$(visit_seconds "$g/$name.times.csv" | median)
    other=$(other_share "$g/$name.times.csv" "[1-9][0-9]*")
    log "[$i/$((ncells * rounds))] round $r: $sched, $P stage(s) x $D replica(s), $M microbatches:" \
      "$t s (other programs: $other% CPU)"
  done <"$cells"
  rm -rf "$g"
}

# predict SCHED P D M: the cell's prediction with the profile taken under the run's conditions
# (one busy core for one process; the cell's partition stage by stage for a pipeline; the whole
# model on each of the replicas' ranks), and its trace; one-process cells also with profile-all
predict() {
  local P=$2 D=$3 name="$1-P$2-D$3-M$4" cond=dp$3
  if [ $((P * D)) = 1 ]; then cond=1r; fi
  if [ "$P" -gt 1 ]; then cond=part$(cat "$out/runs/$name.part"); fi
  cell_args "$@"
  profile_args "$cond"
  "$sim" run "${mf[@]}" "${so[@]}" "${cell[@]}" "${pa[@]}" --net "$out/net.tsv" \
    --format csv --trace "$out/runs/$name.pred.json" >"$out/runs/$name.pred.csv"
  # each round's measured iteration replayed: its own compute durations, the modelled messages
  # (what the schedule and message model alone get wrong; validate.py's replay column)
  local f
  for f in "$out/runs/$name".r*.meas.json; do
    [ -f "$f" ] || continue
    "$sim" run "${mf[@]}" "${so[@]}" "${cell[@]}" "${pa[@]}" --net "$out/net.tsv" \
      --format csv --durations "$f" >"${f%.meas.json}.replay.csv"
  done
  if [ $((P * D)) = 1 ]; then
    profile_args all
    "$sim" run "${mf[@]}" "${so[@]}" "${cell[@]}" "${pa[@]}" --net "$out/net.tsv" \
      --format csv >"$out/runs/$name.pred-all.csv"
  fi  # before the run, as a user predicts: the profile of the cell's layout taken before any
  # cell was timed (profile_before's rounds pooled; a study made before them: its one before
  # profile, or without it the first round's whole-model profile) and the calibration, no
  # pairing (validate.py's before)
  local bf=()
  if [ -f "$out/profile-before-$cond.list" ]; then profile_args "before-$cond"; bf=("${pa[@]}"); fi
  [ ${#bf[@]} -gt 0 ] || [ ! -f "$out/before-$cond.tsv" ] || bf=(--profile "$out/before-$cond.tsv")
  [ ${#bf[@]} -gt 0 ] || [ ! -f "$out/profile-all.r1.tsv" ] || bf=(--profile "$out/profile-all.r1.tsv")
  if [ ${#bf[@]} -gt 0 ]; then
    "$sim" run "${mf[@]}" "${so[@]}" "${cell[@]}" "${bf[@]}" --net "$out/net.tsv" --format csv \
      >"$out/runs/$name.pred-before.csv" 2>/dev/null || rm -f "$out/runs/$name.pred-before.csv"
  fi
}

# grid FUNCTION ARGS...: FUNCTION ARGS SCHED P D M for every cell
grid() {
  local sched P M
  for sched in gpipe 1f1b; do
    for P in $layouts; do
      for M in $Ms; do "$@" $sched $P 1 "$M"; done
    done
  done
  if [ $dp = 1 ]; then
    # data parallelism at the same process counts: K replicas of a one-stage pipeline
    for D in $layouts; do
      [ "$D" -gt 1 ] || continue
      for M in $Ms; do if [ $((batch % (D * M))) = 0 ]; then "$@" gpipe 1 "$D" "$M"; fi; done
    done
  fi
}
ncells=$(grid echo | wc -l)

# step KEY COMMAND...: COMMAND, unless --budget would be spent before it ends, judged by how long
# step KEY took when it last did work, in this run or one it continues (OUT/steps.tsv; in the
# first round, a layout by how long the layout before it took); then the study stops, keeping
# what it measured. A step that finds its work done (--continue) sets no duration (worked=0)
declare -A took=()
last_layout=
if [ $cont = 1 ] && [ -f "$out/steps.tsv" ]; then
  while IFS=$'\t' read -r k v; do
    took[$k]=$v
    [[ $k != layout-* ]] || last_layout=$v
  done <"$out/steps.tsv"
fi
step() {
  local key=$1 t0 elapsed est
  shift
  t0=$(date +%s)
  elapsed=$((t0 - t_start))
  est=${took[$key]:-}
  [ -n "$est" ] || [[ $key != layout-* ]] || est=$last_layout
  if [ -n "$budget" ] && [ $((elapsed + ${est:-0})) -ge "$budget" ]; then
    log "stopped before $key (round $round) after $elapsed s: the budget of $budget s would be" \
      "spent${est:+ (estimated $est s)}"
    log "what was measured is kept in $out; the same command with --continue goes on"
    exit 3
  fi
  worked=0
  "$@"
  [ "$worked" = 1 ] || return 0
  took[$key]=$(($(date +%s) - t0))
  printf '%s\t%s\n' "$key" "${took[$key]}" >>"$out/steps.tsv"
  [[ $key != layout-* ]] || last_layout=${took[$key]}
}
[ "$reuse" = 0 ] || rounds=0
for ((round = 1; round <= rounds; round++)); do
  step profile profile $round
  if [ $round = 1 ]; then
    grid spec
    name_parts
    step memory memory_all
    step before profile_before
  fi
  for k in $layouts; do step "layout-$k" measure_layout $round "$k"; done
  # the predicted lines beyond this machine rest on a profile of their own, taken once
  if [ $round = "$rounds" ]; then step beyond profile_beyond $round; fi
done
pool_profiles
log "predicting the measured cells"
grid predict

# The predicted grid beyond this machine: 1..16 stages; baselines of one stage under one busy
# core (profile-1r); the pipelines under all cores busy, each stage count from its partitions'
# profiles (sweep-stages<P>; the figure's lines), and all from the whole-model profile
# (profile-all, sweep-all: what the partitions are cut from, and the data-parallel comparison)
mlist=$(echo $Ms | tr ' ' ,)
log "predicting 1, 2, 4, 8, 16 stages x M in $mlist"
profile_args all
"$sim" sweep "${mf[@]}" "${so[@]}" --batch "$batch" --stages 1,2,4,8,16 --microbatches "$mlist" --by time \
  "${pa[@]}" --net "$out/net.tsv" --out "$out/sweep-all" --no-plot >/dev/null
for P in $(echo $layouts | cut -d' ' -f2-) $beyond; do
  profile_args "stages$P"
  "$sim" sweep "${mf[@]}" "${so[@]}" --batch "$batch" --stages "$P" --microbatches "$mlist" --by time \
    "${pa[@]}" --net "$out/net.tsv" --out "$out/sweep-stages$P" --no-plot >/dev/null
done
profile_args 1r
"$sim" sweep "${mf[@]}" "${so[@]}" --batch "$batch" --stages 1 --microbatches "$mlist" --by time \
  "${pa[@]}" --net "$out/net.tsv" --out "$out/sweep-1r" --no-plot >/dev/null
if [ $dp = 1 ]; then
  for D in 2 4 8 16; do
    [ $((batch % D)) = 0 ] || continue # a replica needs at least one sample
    profile_args all
    "$sim" sweep "${mf[@]}" "${so[@]}" --batch "$batch" --stages 1 --replicas "$D" --microbatches "$mlist" \
      --by time "${pa[@]}" --net "$out/net.tsv" --extrapolate \
      --out "$out/sweep-dp$D" --no-plot >/dev/null
  done
fi

log "validating and drawing"
"$py" experiments/validate.py --model "$model${sets:+ $sets}" --out "$out" --sim "$sim" \
  --batch "$batch" --quick "$quick" --grid "$grid" --seconds $(($(date +%s) - t_start))
