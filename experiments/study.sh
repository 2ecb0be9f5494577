#!/usr/bin/env bash
# study.sh — one study of the seed paper, measured on this machine and predicted beyond it, with
# the measured-against-predicted validation (docs/validation.md says what each output means).
#
#   experiments/study.sh mlp32|vgg16|resnet50 [--quick] [--out DIR] [--set K=V,...] [--reuse]
#   (default DIR results/MODEL; --set overrides model parameters, e.g. input=3x224x224; --reuse
#   skips steps 2 and 3 and predicts and validates again from the measurements already in DIR,
#   made with the same arguments: after a change to the simulator, say)
#
# Steps (progress on stderr, one line per step and per measured cell):
#   1. build pipecast-exec and pipecast-sim (in $PC_BUILD, default build/);
#   2. calibrate the link (mpirun -n 2 calibrate); measure the memory a process holds beyond the
#      runtime's plan on a tiny model (baseline-1.log, baseline-2.log);
#   3. ROUNDS times (2): profile the model twice, with both cores busy
#      (mpirun -n 2 profile: the condition of every multi-rank run) and with one core busy (one
#      process: the condition of a one-stage run), at the microbatch sizes of the grid; then
#      measure the grid: schedule (gpipe, 1f1b) x stages (1, and 2 = this machine's cores) x
#      microbatches, each cell `pipecast-exec train` (the timed iterations' seconds, per-stage
#      memory, the last iteration's trace); CNNs also measure data parallelism (--replicas 2, one
#      stage). A cell's time is its fastest iteration over the rounds, each profile row the
#      minimum over rounds and repetitions;
#   4. predict every measured cell with `pipecast-sim run` on the same partition with the profile
#      taken under the same load (and its trace);
#   5. the predicted grid: `pipecast-sim sweep` for 1..16 stages (and replicas for CNNs);
#   6. experiments/validate.py: validation.csv/.md (time and memory, error of every cell, MAPE,
#      worst cell, `pipecast-sim compare` of the worst cell's traces), speedup.csv and the
#      figures (experiments/plot-speedup.gp, plot-dp.gp): speedup.png/.pdf, dp.png/.pdf.
# Partitions are auto:time (the simulator's time-balanced cut for the microbatch size), and the
# executor runs exactly that spec. --quick: a smaller grid for the main job (about a minute).
set -euo pipefail
cd "$(dirname "$0")/.."
usage() {
  echo "usage: experiments/study.sh mlp32|vgg16|resnet50 [--quick] [--out DIR] [--set K=V,...] [--reuse]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
model=$1
shift
quick=0
out=
sets=
reuse=0
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
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
    if [ $quick = 1 ]; then batch=128 Ms="1 4 16" iters=5 warmup=1 rounds=2
    else batch=256 Ms="1 2 4 8 16 32 64" iters=5 warmup=1 rounds=2; fi
    dp=0 ;;
  vgg16|resnet50)
    if [ $quick = 1 ]; then batch=32 Ms="1 4 16" iters=3 warmup=1 rounds=2
    else batch=32 Ms="1 2 4 8 16 32" iters=3 warmup=1 rounds=2; fi
    dp=1 ;;
  *) usage ;;
esac
out=${out:-results/$model}
build=${PC_BUILD:-build}
mkdir -p "$out/runs"
log() { echo "study $model: $*" >&2; }

log "building in $build"
if [ -f "$build/build.ninja" ]; then
  if ! ninja -C "$build" exec/pipecast-exec sim/pipecast-sim >"$out/build.log" 2>&1; then
    [ -x "$build/exec/pipecast-exec" ] && [ -x "$build/sim/pipecast-sim" ] ||
      { cat "$out/build.log" >&2; exit 1; }
    log "the build failed (see $out/build.log); using the programs already built"
  fi
else
  experiments/setup.sh "$build" >&2
fi
source experiments/env.sh
source experiments/perf-env.sh
x=$build/exec/pipecast-exec
sim=$build/sim/pipecast-sim
mf=(models/$model.model)
if [ -n "$sets" ]; then mf+=(--set "$sets"); fi
mpi=(mpirun -n 2 --bind-to core)

# Microbatch sizes of the grid (and of the replicas' half batches).
sizes=$(for M in $Ms; do echo $((batch / M)); if [ $dp = 1 ]; then echo $((batch / 2 / M)); fi; done |
        awk '$1 >= 1' | sort -n | uniq | paste -sd, -)

# busy CPU jiffies of the whole machine, and the CPU seconds of this shell's finished children
busy_jiffies() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
child_cpu() { awk 'NR == 2 {split($1, u, "m"); split($2, s, "m"); print u[1] * 60 + u[2] + s[1] * 60 + s[2]}'; }
t_start=$(date +%s)
b0=$(busy_jiffies)
sleep 1
other=$(( ($(busy_jiffies) - b0) * 100 / $(getconf CLK_TCK) / $(nproc) ))
if [ "$reuse" = 1 ]; then
  [ -f "$out/net.tsv" ] && ls "$out"/runs/*.log >/dev/null 2>&1 ||
    { log "--reuse: no measurements in $out (run the study without --reuse first)"; exit 2; }
  log "reusing the measurements in $out"
elif [ "$other" -gt 20 ]; then
  log "warning: other programs use $other% of the CPUs now; measurements will be noisy (the CPU"
  log "         share of other programs is recorded beside each try)"
fi
if [ "$reuse" = 0 ]; then
  log "calibrating the link (2 ranks)"
  "${mpi[@]}" "$x" calibrate --out "$out/net.tsv" >/dev/null 2>&1
fi
reps=5
[ $quick = 1 ] && reps=3
# profile R: both profiles again (round R), then each row of profile-2r.tsv / profile-1r.tsv is
# the minimum over the rounds so far, per layer, size and column, of each round's minimum over
# repetitions: the quiet floor of every layer, as a cell's time is its fastest iteration
profile() {
  local r=$1 k
  log "profiling (round $r) at microbatch sizes $sizes: 2 ranks busy, then 1"
  "${mpi[@]}" "$x" profile "${mf[@]}" --microbatch-sizes "$sizes" --reps $reps --stat min \
    --out "$out/profile-2r.r$r.tsv" >/dev/null
  "$x" profile "${mf[@]}" --microbatch-sizes "$sizes" --reps $reps --stat min \
    --out "$out/profile-1r.r$r.tsv" >/dev/null
  for k in 2r 1r; do floor_rows "$out/profile-$k.tsv" "$out"/profile-$k.r*.tsv; done
}
# floor_rows OUT ROUND-FILES...: every (layer, size) row with the minimum of each column over the
# files
floor_rows() {
  local dest=$1
  shift
  awk -F'\t' -v OFS='\t' '
    FNR == NR && (/^#/ || $1 == "layer") { print; next }
    /^#/ || $1 == "layer" || NF != 6 { next }
    { key = $1 SUBSEP $3
      if (!(key in f)) { order[++n] = key; kind[key] = $2; f[key] = $4; b[key] = $5; o[key] = $6 }
      else { if ($4 < f[key]) f[key] = $4; if ($5 < b[key]) b[key] = $5; if ($6 < o[key]) o[key] = $6 } }
    END { for (i = 1; i <= n; i++) { split(order[i], k, SUBSEP)
            print k[1], kind[order[i]], k[2], f[order[i]], b[order[i]], o[order[i]] } }' "$@" >"$dest"
}
# spec SCHED P D M: a pipeline cell's auto:time partition, from the first round's profile-2r; kept
# for every try and for the prediction
spec() {
  local sched=$1 P=$2 D=$3 M=$4 name="$1-P$2-D$3-M$4"
  [ "$P" -gt 1 ] && [ ! -f "$out/runs/$name.spec" ] || return 0
  "$sim" run "${mf[@]}" --schedule "$sched" --batch "$batch" --microbatches "$M" --stages "$P" \
    --by time --profile "$out/profile-2r.tsv" --net "$out/net.tsv" |
    sed -n 's/^partition: //p' >"$out/runs/$name.spec"
}
# profile_parts R: every distinct partition of the grid's pipeline cells timed stage by stage, one
# rank per stage at once, at its cells' microbatch sizes (profile-part<K>.r<R>.tsv, and
# profile-part<K>.tsv the floor over rounds; <cell>.part names K). A stage alone holds only
# its layers' weights, so at small microbatches its layers run faster than in the whole-model
# profile, where every rank cycles through all the weights; the pipeline cells are predicted from
# these.
profile_parts() {
  local r=$1 k P spec psizes f
  for f in "$out"/runs/*.spec; do
    f=${f##*/} f=${f%.spec}
    printf '%s\t%s\t%s\n' "$(echo "$f" | sed 's/.*-P\([0-9]*\)-.*/\1/')" "$(cat "$out/runs/$f.spec")" \
      "$((batch / ${f##*-M}))"
  done | sort -t$'\t' -k1,2 -k3n | awk -F'\t' '{ key = $1 "\t" $2
      if (!(key in s)) { order[++n] = key; s[key] = $3 } else if (index("," s[key] ",", "," $3 ",") == 0)
        s[key] = s[key] "," $3 }
    END { for (i = 1; i <= n; i++) print order[i] "\t" s[order[i]] }' >"$out/parts.tsv"
  k=0
  while IFS=$'\t' read -r P spec psizes; do
    k=$((k + 1))
    log "profiling partition $k ($spec) at microbatch sizes $psizes: one rank per stage"
    mpirun -n "$P" --bind-to core "$x" profile "${mf[@]}" -p "$spec" --microbatch-sizes "$psizes" \
      --reps $reps --stat min --out "$out/profile-part$k.r$r.tsv" >/dev/null </dev/null
    floor_rows "$out/profile-part$k.tsv" "$out"/profile-part$k.r*.tsv
    for f in "$out"/runs/*.spec; do
      if [ "$(cat "$f")" = "$spec" ]; then echo "$k" >"${f%.spec}.part"; fi
    done
  done <"$out/parts.tsv"
}
# the memory a process holds beyond the runtime's plan (code, MPI, OpenBLAS): a tiny model's
# process peak minus its accounted bytes, one process and two ranks
if [ "$reuse" = 0 ]; then
  log "measuring the process baseline (tiny-mlp)"
  "$x" train models/tiny-mlp.model -p 8 --iters 1 --warmup 0 >"$out/baseline-1.log" 2>&1 </dev/null
  "${mpi[@]}" "$x" train models/tiny-mlp.model -p 4,4 --iters 1 --warmup 0 \
    >"$out/baseline-2.log" 2>&1 </dev/null
fi

# Files of one cell under $out/runs/NAME.* (NAME = SCHED-P<stages>-D<replicas>-M<microbatches>):
# .iters (round,seconds: every timed iteration of every try), .log .times.csv .meas.json (the kept
# try, the fastest), .tries (round,fastest_s,other_cpu_pct), .spec, .pred.csv .pred.json
# (.pred-2r.csv).
[ "$reuse" = 1 ] || rm -f "$out"/runs/* "$out"/runs/.times? "$out"/profile-*.tsv "$out"/parts.tsv
ncells=0
for M in $Ms; do ncells=$((ncells + 2 * 2)); done
if [ $dp = 1 ]; then
  for M in $Ms; do if [ $((batch / 2 % M)) = 0 ]; then ncells=$((ncells + 1)); fi; done
fi
ncells=$((ncells * rounds))
i=0
# This machine is shared: every round profiles again and runs the whole grid again (interleaved,
# so that a burst of another program's work hits one try of a cell, not all); a cell's time is its
# fastest iteration and each profile row the minimum over all its repetitions: the same statistic
# on both sides, the machine's quiet floor. The CPU share that other programs used during each try
# is recorded beside it.
measure() {
  local r=$1 sched=$2 P=$3 D=$4 M=$5 name="$2-P$3-D$4-M$5" part=() launch=()
  i=$((i + 1))
  if [ $((P * D)) -gt 1 ]; then launch=("${mpi[@]}"); fi
  local common=(--schedule "$sched" --batch "$batch" --microbatches "$M")
  if [ "$P" -gt 1 ]; then part=(-p "$(cat "$out/runs/$name.spec")"); fi
  if [ "$D" -gt 1 ]; then common+=(--replicas "$D"); fi
  local t tk f b0 b1 c0 c1 w0 w1 other
  b0=$(busy_jiffies) w0=$(date +%s.%N)
  times >"$out/runs/.times0"
  "${launch[@]}" "$x" train "${mf[@]}" "${part[@]}" "${common[@]}" --iters $((iters + warmup)) \
    --warmup "$warmup" --print-every 1000000 --times "$out/runs/$name.try.times.csv" \
    --trace "$out/runs/$name.try.meas.json" >"$out/runs/$name.try.log" 2>&1 </dev/null ||
    { cat "$out/runs/$name.try.log" >&2; exit 1; }
  times >"$out/runs/.times1"
  b1=$(busy_jiffies) w1=$(date +%s.%N)
  c0=$(child_cpu <"$out/runs/.times0") c1=$(child_cpu <"$out/runs/.times1")
  # CPU share used by other programs while the cell ran (busy CPU time not ours / wall x cores)
  other=$(awk -v b="$((b1 - b0))" -v hz="$(getconf CLK_TCK)" -v c="$c0" -v d="$c1" -v w0="$w0" \
            -v w1="$w1" -v n="$(nproc)" 'BEGIN {o = (b / hz - (d - c)) / ((w1 - w0) * n);
            printf "%.0f", 100 * (o < 0 ? 0 : o)}')
  # a try's time is its fastest timed iteration (a quiet floor plus other programs' bursts, some
  # lasting several iterations: the minimum is the floor, as the profile's rows are); the cell
  # keeps its fastest try; every iteration goes to .iters
  awk -F, -v r="$r" 'NR > 1 && $3 == 0 { print r "," $2 }' "$out/runs/$name.try.times.csv" \
    >>"$out/runs/$name.iters"
  t=$(awk -F, -v r="$r" '$1 == r && (m == "" || $2 < m) { m = $2 } END { printf "%.6f", m }' \
        "$out/runs/$name.iters")
  tk=$(awk -F, -v r="$r" '$1 != r && (m == "" || $2 < m) { m = $2 } END { if (m != "") printf "%.6f", m }' \
         "$out/runs/$name.iters")
  echo "$r,$t,$other" >>"$out/runs/$name.tries"
  if [ -z "$tk" ] || awk -v a="$t" -v b="$tk" 'BEGIN { exit !(a < b) }'; then
    for f in times.csv meas.json log; do mv "$out/runs/$name.try.$f" "$out/runs/$name.$f"; done
  else
    rm -f "$out/runs/$name".try.*
  fi
  log "[$i/$ncells] round $r: $sched, $P stage(s) x $D replica(s), $M microbatches: $t s (other programs: $other% CPU)"
}

# predict SCHED P D M: the cell's prediction with the profile taken under the run's conditions
# (one busy core for one process; the cell's partition stage by stage for a pipeline; the whole
# model on every busy core for replicas), and its trace; one-process cells also with profile-2r
predict() {
  local sched=$1 P=$2 D=$3 M=$4 name="$1-P$2-D$3-M$4" part=() prof=$out/profile-2r.tsv
  if [ $((P * D)) = 1 ]; then prof=$out/profile-1r.tsv; fi
  if [ "$P" -gt 1 ]; then prof=$out/profile-part$(cat "$out/runs/$name.part").tsv; fi
  local common=(--schedule "$sched" --batch "$batch" --microbatches "$M")
  if [ "$P" -gt 1 ]; then part=(-p "$(cat "$out/runs/$name.spec")"); fi
  if [ "$D" -gt 1 ]; then common+=(--replicas "$D"); fi
  "$sim" run "${mf[@]}" "${part[@]}" "${common[@]}" --profile "$prof" --net "$out/net.tsv" \
    --format csv --trace "$out/runs/$name.pred.json" >"$out/runs/$name.pred.csv"
  if [ $((P * D)) = 1 ]; then
    "$sim" run "${mf[@]}" "${common[@]}" --profile "$out/profile-2r.tsv" --net "$out/net.tsv" \
      --format csv >"$out/runs/$name.pred-2r.csv"
  fi
}

# grid FUNCTION ARGS...: FUNCTION ARGS SCHED P D M for every cell
grid() {
  local sched P M
  for sched in gpipe 1f1b; do
    for P in 1 2; do
      for M in $Ms; do "$@" $sched $P 1 "$M"; done
    done
  done
  if [ $dp = 1 ]; then
    # data parallelism at the same process count: 2 replicas of a one-stage pipeline
    for M in $Ms; do if [ $((batch / 2 % M)) = 0 ]; then "$@" gpipe 1 2 "$M"; fi; done
  fi
}

[ "$reuse" = 0 ] || rounds=0
for ((round = 1; round <= rounds; round++)); do
  profile $round
  grid spec
  profile_parts $round
  grid measure $round
done
log "predicting the measured cells"
grid predict

# The predicted grid beyond this machine: 1..16 stages; baselines of one stage under one busy
# core (profile-1r), the pipelines under all cores busy (profile-2r).
mlist=$(echo $Ms | tr ' ' ,)
log "predicting 1, 2, 4, 8, 16 stages x M in $mlist"
"$sim" sweep "${mf[@]}" --batch "$batch" --stages 1,2,4,8,16 --microbatches "$mlist" --by time \
  --profile "$out/profile-2r.tsv" --net "$out/net.tsv" --out "$out/sweep-2r" --no-plot >/dev/null
"$sim" sweep "${mf[@]}" --batch "$batch" --stages 1 --microbatches "$mlist" --by time \
  --profile "$out/profile-1r.tsv" --net "$out/net.tsv" --out "$out/sweep-1r" --no-plot >/dev/null
if [ $dp = 1 ]; then
  for D in 2 4 8 16; do
    "$sim" sweep "${mf[@]}" --batch "$batch" --stages 1 --replicas "$D" --microbatches "$mlist" \
      --by time --profile "$out/profile-2r.tsv" --net "$out/net.tsv" --extrapolate \
      --out "$out/sweep-dp$D" --no-plot >/dev/null
  done
fi

log "validating and drawing"
/usr/bin/python3 experiments/validate.py --model "$model${sets:+ $sets}" --out "$out" --sim "$sim" \
  --batch "$batch" --quick "$quick" --seconds $(($(date +%s) - t_start))
