#!/bin/sh
# test-mpi.sh — the executor's exactness under MPI: after N iterations the weights of a pipelined
# run (2 ranks, and 4 ranks oversubscribed; gpipe and 1f1b; cuts inside residual blocks; batch
# norm) are bit-identical to the one-process run with the same microbatching. Also: the job's
# errors (rank count, bad partition, microbatches) are printed once with exit status 2.
# TAP on stdout. Needs PC_EXEC and PC_MODELS_DIR.
set -u
x=${PC_EXEC:?PC_EXEC is not set}
models=${PC_MODELS_DIR:?PC_MODELS_DIR is not set}
sim=${PC_SIM:?PC_SIM is not set}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TAP_LOGS="$tmp/log"
. "$(dirname "$0")/tap.sh"

# same MODEL ARGS -- NAME RANKS PARTITION SCHEDULE: one-process reference vs a pipelined run.
same() {
  model=$1 args=$2 name=$3 ranks=$4 part=$5 sched=$6
  ref="$tmp/$name.ref.pcw"
  if [ ! -f "$ref" ]; then
    # shellcheck disable=SC2086
    "$x" train "$models/$model" $args --save "$ref" >"$tmp/log" 2>&1 </dev/null || { not_ok "$name: one-process run"; return; }
  fi
  out="$tmp/$name.$ranks.$sched.pcw"
  # shellcheck disable=SC2086
  if mpirun -n "$ranks" "$x" train "$models/$model" $args -p "$part" --schedule "$sched" --timeout 60 \
       --save "$out" >"$tmp/log" 2>&1 </dev/null && cmp -s "$ref" "$out"; then
    ok "$name: $ranks stages ($part), $sched: weights bit-identical to one process"
  else
    not_ok "$name: $ranks stages ($part), $sched: weights bit-identical to one process"
  fi
}

mlp="--batch 32 --microbatches 4 --iters 3 --lr 0.05"
same tiny-mlp.model "$mlp" mlp 2 "fc1..relu2 | fc3.." gpipe
same tiny-mlp.model "$mlp" mlp 2 "fc1..relu2 | fc3.." 1f1b
same tiny-mlp.model "$mlp" mlp 4 "2,2,2,2" gpipe
same tiny-mlp.model "$mlp" mlp 4 "1,3,3,1" 1f1b
res="--batch 16 --microbatches 4 --iters 3"
# cut inside block1: the skip tensor crosses; with 3+ stages it skips a stage
same tiny-resnet.model "$res" resnet 2 "..block1.conv1 | block1.bn1.." gpipe
same tiny-resnet.model "$res" resnet 2 "..block1.relu1 | block1.conv2.." 1f1b
same tiny-resnet.model "$res" resnet 4 "..block1.conv1 | block1.bn1..block1.bn2 | block1.downsample..block2.conv2 | block2.bn2.." gpipe
same tiny-resnet.model "$res" resnet 4 "..block1.conv1 | block1.bn1..block1.bn2 | block1.downsample..block2.conv2 | block2.bn2.." 1f1b
# a block's input consumed on two later stages (its first conv; its add): each consumer's
# gradient is summed whole, in the one-process order
same tiny-resnet.model "$res" resnet 3 "conv1..block1.relu | block2.conv1..block2.bn2 | block2.add..loss" gpipe
cnn="--batch 24 --microbatches 3 --iters 3"
same tiny-cnn.model "$cnn" cnn 2 "..relu1 | pool1.." gpipe
same tiny-cnn.model "$cnn" cnn 4 "2,3,4,3" 1f1b
# interleaved 1F1B: each rank holds chunks r, r + P, ... (2 ranks of 2 and 3 chunks; a CNN with
# batch norm; a residual net cut inside its blocks)
same tiny-mlp.model "$mlp" mlp 2 "2,2,2,2" interleaved
mpirun -n 2 "$x" train "$models/tiny-mlp.model" $mlp -p 1,1,1,1,2,2 --schedule interleaved --chunks 3 \
  --timeout 60 --save "$tmp/i3.pcw" >"$tmp/log" 2>&1 </dev/null
if cmp -s "$tmp/mlp.ref.pcw" "$tmp/i3.pcw"; then ok "mlp: 2 ranks of 3 chunks, interleaved: weights bit-identical to one process"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "mlp: 2 ranks of 3 chunks, interleaved: weights bit-identical to one process"; fi
same tiny-cnn.model "--batch 24 --microbatches 6 --iters 3" cnn6 2 "2,3,4,3" interleaved
same tiny-resnet.model "$res" resnet 2 "conv1..block1.relu1 | block1.conv2..block1.downsample.1 | block1.add..block2.bn1 | block2.relu1.." interleaved
same tiny-resnet.model "$res" resnet 4 "conv1 | bn1..block1.relu1 | block1.conv2 | block1.bn2..block1.relu | block2.conv1 | block2.bn1..block2.relu1 | block2.conv2 | block2.bn2..loss" interleaved
# zero bubble: each BWD the input gradients alone, each BWD_W later the weight gradients (ZB-H1;
# ZB-V with two chunks per rank in a V, the middle chunk pair on one rank passing to itself)
same tiny-mlp.model "$mlp" mlp 2 "fc1..relu2 | fc3.." zb-h1
same tiny-mlp.model "$mlp" mlp 4 "2,2,2,2" zb-h1
same tiny-resnet.model "$res" resnet 2 "..block1.conv1 | block1.bn1.." zb-h1
same tiny-cnn.model "$cnn" cnn 2 "..relu1 | pool1.." zb-h1
same tiny-mlp.model "$mlp" mlp 2 "2,2,2,2" zb-v
# layer norm (split like batch norm) and GELU in a pipeline, whole and split backward
printf 'input 3x6x6\nconv conv out=4 k=3 pad=1 bias=0\nlayernorm ln1\ngelu\nflatten\nfc fc1 out=16\nlayernorm ln2\ngelu\nfc fc2 out=4\nsoftmax_xent loss\n' >"$tmp/lng.model"
lng="--batch 16 --microbatches 4 --iters 3 --optimizer adamw --lr 0.01"
"$x" train "$tmp/lng.model" $lng --save "$tmp/lng1.pcw" >"$tmp/log" 2>&1
lng_ok=1
for sched in 1f1b zb-h1; do
  mpirun -n 2 "$x" train "$tmp/lng.model" $lng -p "..gelu1 | flatten1.." --schedule $sched \
    --save "$tmp/lng2.pcw" >>"$tmp/log" 2>&1 </dev/null
  cmp -s "$tmp/lng1.pcw" "$tmp/lng2.pcw" || lng_ok=0
done
if [ "$lng_ok" = 1 ]; then ok "layernorm and gelu on 2 stages (1f1b, zb-h1): weights bit-identical to one process"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "layernorm and gelu on 2 stages (1f1b, zb-h1): weights bit-identical to one process"; fi
# a GPT: the output head tied to the embedding, their gradients summed across ranks (first and
# last stage: 1f1b, zb-h1, interleaved), within a rank (zb-v holds both ends on rank 0), and
# with 2 replicas of each; AdamW with clipping, whose norm counts the tied weight once
gpt="--set n_layer=2,n_head=4,n_embd=32,seq=16,vocab=96 --batch 8 --microbatches 4 --iters 3 --optimizer adamw --lr 0.01 --clip-grad-norm 0.5"
same gpt2.model "$gpt" gpt 2 "..h.0 | h.1.." 1f1b
same gpt2.model "$gpt" gpt 2 "..h.0.attn_add | h.0.ln_2.." zb-h1
same gpt2.model "$gpt" gpt 4 "wte..h.0.attn | h.0.attn_add..h.0 | h.1.ln_1..h.1.attn | h.1.attn_add.." 1f1b
same gpt2.model "$gpt" gpt 2 "..h.0.attn | h.0.attn_add..h.0 | h.1.ln_1..h.1.attn | h.1.attn_add.." interleaved
same gpt2.model "$gpt" gpt 2 "..h.0.attn | h.0.attn_add..h.0 | h.1.ln_1..h.1.attn | h.1.attn_add.." zb-v
if mpirun -n 2 "$x" train "$models/gpt2.model" $gpt --microbatches 2 --replicas 2 \
     --save "$tmp/gptd1.pcw" >"$tmp/log" 2>&1 </dev/null &&
   mpirun -n 4 "$x" train "$models/gpt2.model" $gpt --microbatches 2 --replicas 2 \
     -p "..h.0 | h.1.." --save "$tmp/gptd2.pcw" >>"$tmp/log" 2>&1 </dev/null &&
   cmp -s "$tmp/gptd1.pcw" "$tmp/gptd2.pcw"; then
  ok "gpt: 2 replicas of 2 stages (head and embedding apart) end as 2 replicas of one"
else
  not_ok "gpt: 2 replicas of 2 stages (head and embedding apart) end as 2 replicas of one"
fi
# zero-bubble orders planned for other op costs (--zb-costs): another order, the same bits
mpirun -n 4 "$x" train "$models/tiny-mlp.model" $mlp -p 2,2,2,2 --schedule zb-h1 --zb-costs 1.5:2:1 \
  --timeout 60 --save "$tmp/zbc.pcw" >"$tmp/log" 2>&1 </dev/null
if cmp -s "$tmp/mlp.ref.pcw" "$tmp/zbc.pcw"; then ok "mlp: 4 stages, zb-h1 ordered for 1.5:2:1: weights bit-identical to one process"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "mlp: 4 stages, zb-h1 ordered for 1.5:2:1: weights bit-identical to one process"; fi
same tiny-resnet.model "$res" resnet 2 "conv1..block1.relu1 | block1.conv2..block1.downsample.1 | block1.add..block2.bn1 | block2.relu1.." zb-v
# with replicas: the same bits as the 4-stage pipeline of the same partition
mpirun -n 4 "$x" train "$models/tiny-mlp.model" --batch 32 --microbatches 2 --iters 3 --replicas 2 \
  -p 2,2,2,2 --schedule interleaved --timeout 60 --save "$tmp/d2i.pcw" >"$tmp/log" 2>&1 </dev/null
mpirun -n 8 "$x" train "$models/tiny-mlp.model" --batch 32 --microbatches 2 --iters 3 --replicas 2 \
  -p 2,2,2,2 --schedule gpipe --timeout 60 --save "$tmp/d2g.pcw" >>"$tmp/log" 2>&1 </dev/null
if cmp -s "$tmp/d2i.pcw" "$tmp/d2g.pcw"; then ok "interleaved x 2 replicas: weights as 4 stages x 2 replicas"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "interleaved x 2 replicas: weights as 4 stages x 2 replicas"; fi

# A different microbatching is a different computation: with batch norm it must differ.
"$x" train "$models/tiny-cnn.model" --batch 24 --microbatches 1 --iters 3 --save "$tmp/m1.pcw" >"$tmp/log" 2>&1
if ! cmp -s "$tmp/m1.pcw" "$tmp/cnn.ref.pcw"; then ok "batch norm: other microbatching, other weights"
else not_ok "batch norm: other microbatching, other weights"; fi

# Checkpoint and resume: 3 iterations, then 3 more from the checkpoint, equal 6 in one go.
"$x" train "$models/tiny-resnet.model" $res --iters 6 --save "$tmp/six.pcw" >"$tmp/log" 2>&1
mpirun -n 2 "$x" train "$models/tiny-resnet.model" $res -p "..block1.conv1 | block1.bn1.." --iters 3 \
  --checkpoint "$tmp/ck" >"$tmp/log" 2>&1 </dev/null &&
mpirun -n 2 "$x" train "$models/tiny-resnet.model" $res -p "..block1.conv1 | block1.bn1.." --iters 6 \
  --resume "$tmp/ck" --schedule 1f1b --save "$tmp/resumed.pcw" >>"$tmp/log" 2>&1 </dev/null
if cmp -s "$tmp/six.pcw" "$tmp/resumed.pcw" && grep -q "resumed from .* at iteration 3" "$tmp/log"; then
  ok "checkpoint after 3 iterations, resumed to 6: bit-identical to 6 in one go"
else
  not_ok "checkpoint after 3 iterations, resumed to 6: bit-identical to 6 in one go"
fi

# the simulator's memory plan follows the optimizer: AdamW's two moments, byte for byte the
# runtimes' own accounts
mpirun -n 2 "$x" train "$models/tiny-resnet.model" $res --iters 2 --optimizer adamw \
  -p "..block1.conv1 | block1.bn1.." --schedule 1f1b --summary "$tmp/adm.json" >"$tmp/log" 2>&1 </dev/null
"$sim" run "$models/tiny-resnet.model" --batch 16 -m 4 --optimizer adamw -p "..block1.conv1 | block1.bn1.." \
  --schedule 1f1b -f csv >"$tmp/adm.csv" 2>>"$tmp/log"
"$sim" run "$models/tiny-resnet.model" --batch 16 -m 4 -p "..block1.conv1 | block1.bn1.." \
  --schedule 1f1b -f csv >"$tmp/sgm.csv" 2>>"$tmp/log"
if /usr/bin/python3 - "$tmp/adm.json" "$tmp/adm.csv" "$tmp/sgm.csv" <<'PY' 2>>"$tmp/log"
import csv, io, json, sys
run = [m["accounted_bytes"] for m in json.load(open(sys.argv[1]))["memory"]]
def stages(path):
    return [int(r["memory_bytes"]) for r in csv.DictReader(io.StringIO(open(path).read().split("\n\n\n")[1]))]
adam, sgd = stages(sys.argv[2]), stages(sys.argv[3])
assert run == adam and all(a > b for a, b in zip(adam, sgd)), (run, adam, sgd)
PY
then ok "sim run --optimizer adamw: each stage's memory as the run accounts it"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "sim run --optimizer adamw: each stage's memory as the run accounts it"; fi

# AdamW with a warmed-up cosine schedule and clipping by the global gradient norm (each stage's
# sums of squares gathered in layer order): every partition and schedule, the one-process bits
adam="$res --optimizer adamw --lr 0.01 --lr-schedule cosine --warmup-iters 2 --clip-grad-norm 0.5"
same tiny-resnet.model "$adam" resadam 2 "..block1.conv1 | block1.bn1.." 1f1b
same tiny-resnet.model "$adam" resadam 4 "..block1.conv1 | block1.bn1..block1.bn2 | block1.downsample..block2.conv2 | block2.bn2.." zb-h1
same tiny-resnet.model "$adam" resadam 2 "conv1..block1.relu1 | block1.conv2..block1.downsample.1 | block1.add..block2.bn1 | block2.relu1.." interleaved
"$x" train "$models/tiny-resnet.model" $res --optimizer adamw --lr 0.01 --lr-schedule cosine \
  --warmup-iters 2 --save "$tmp/noclip.pcw" >"$tmp/log" 2>&1
if ! cmp -s "$tmp/noclip.pcw" "$tmp/resadam.ref.pcw"; then ok "clipping at 0.5 changes the weights (the norm exceeds it)"
else not_ok "clipping at 0.5 changes the weights (the norm exceeds it)"; fi
# with replicas (every sum a + b): 2 replicas of 2 stages end as 2 replicas of one
mpirun -n 2 "$x" train "$models/tiny-resnet.model" $adam --replicas 2 --stages 1 \
  --save "$tmp/ad1.pcw" >"$tmp/log" 2>&1 </dev/null
mpirun -n 4 "$x" train "$models/tiny-resnet.model" $adam --replicas 2 -p "..block1.conv1 | block1.bn1.." \
  --schedule 1f1b --save "$tmp/ad2.pcw" >>"$tmp/log" 2>&1 </dev/null
if [ -s "$tmp/ad1.pcw" ] && cmp -s "$tmp/ad1.pcw" "$tmp/ad2.pcw"; then ok "adamw, clipped, 2 replicas: 2 stages end as 1"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "adamw, clipped, 2 replicas: 2 stages end as 1"; fi
# its checkpoint holds both moments: 3 + 3 iterations resumed equal 6 in one go (a cosine schedule
# ends at --iters: the warm-up alone here)
adck="$res --optimizer adamw --lr 0.01 --warmup-iters 2 --clip-grad-norm 0.5"
"$x" train "$models/tiny-resnet.model" $adck --iters 6 --save "$tmp/adsix.pcw" >"$tmp/log" 2>&1
mpirun -n 2 "$x" train "$models/tiny-resnet.model" $adck -p "..block1.conv1 | block1.bn1.." --iters 3 \
  --checkpoint "$tmp/ckad" >"$tmp/log" 2>&1 </dev/null &&
mpirun -n 2 "$x" train "$models/tiny-resnet.model" $adck -p "..block1.conv1 | block1.bn1.." --iters 6 \
  --resume "$tmp/ckad" --save "$tmp/adres.pcw" >>"$tmp/log" 2>&1 </dev/null
if cmp -s "$tmp/adsix.pcw" "$tmp/adres.pcw" && grep -q "exp_avg_sq" "$tmp"/ckad/iter-*/stage-0.pcw; then
  ok "adamw: checkpoint after 3 iterations, resumed to 6: bit-identical to 6 in one go"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "adamw: checkpoint after 3 iterations, resumed to 6: bit-identical to 6 in one go"; fi

# --eval-every: the test split through the pipeline's forward-only lists, the same numbers on
# every partition and schedule (the loss stage sums in microbatch order), the weights untouched
ev="$res --eval-every 2 --eval-samples 602"
"$x" train "$models/tiny-resnet.model" $ev --save "$tmp/ev1.pcw" --times "$tmp/ev1.csv" >"$tmp/log" 2>&1
evals_ok=1
for cut in '2;..block1.conv1 | block1.bn1..;1f1b' \
           '4;..block1.conv1 | block1.bn1..block1.bn2 | block1.downsample..block2.conv2 | block2.bn2..;zb-h1' \
           '2;conv1..block1.relu1 | block1.conv2..block1.downsample.1 | block1.add..block2.bn1 | block2.relu1..;interleaved'; do
  nr=${cut%%;*} rest=${cut#*;}
  spec=${rest%;*} sched=${rest##*;}
  mpirun -n "$nr" "$x" train "$models/tiny-resnet.model" $ev -p "$spec" --schedule "$sched" \
    --times "$tmp/evp.csv" >>"$tmp/log" 2>&1 </dev/null
  [ "$(cut -d, -f5-6 "$tmp/evp.csv")" = "$(cut -d, -f5-6 "$tmp/ev1.csv")" ] || evals_ok=0
done
if [ "$evals_ok" = 1 ] && cmp -s "$tmp/ev1.pcw" "$tmp/resnet.ref.pcw" &&
   [ "$(grep -c '^eval ' "$tmp/log")" = 8 ] && grep -q '(600 test samples)' "$tmp/log" &&
   [ "$(awk -F, 'NR > 1 && $5 != ""' "$tmp/ev1.csv" | wc -l)" = 2 ]; then
  ok "eval every 2 and at the end: the same loss and accuracy on 1, 2 and 4 stages (1f1b, zb-h1, interleaved); weights as without"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "eval every 2 and at the end: the same loss and accuracy on 1, 2 and 4 stages (1f1b, zb-h1, interleaved); weights as without"; fi
mpirun -n 4 "$x" train "$models/tiny-resnet.model" $ev --replicas 2 -p "..block1.conv1 | block1.bn1.." \
  >"$tmp/log" 2>&1 </dev/null
if grep -q '^eval    3 .*(600 test samples)' "$tmp/log"; then ok "eval with 2 replicas: each its share of the split"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "eval with 2 replicas: each its share of the split"; fi

# Data parallelism: 2 replicas of one stage, and 2 replicas x 2 stages, train and agree on the loss
# printed (the loss sums over replicas: the same minibatch as one process).
"$x" train "$models/tiny-mlp.model" --batch 32 --microbatches 2 --iters 2 --warmup 0 >"$tmp/one.log" 2>&1
mpirun -n 2 "$x" train "$models/tiny-mlp.model" --batch 32 --replicas 2 --stages 1 --iters 2 --warmup 0 \
  >"$tmp/log" 2>&1 </dev/null
if grep -q "^iter    1  loss" "$tmp/log" &&
   [ "$(grep '^iter    1' "$tmp/log" | cut -c1-30)" = "$(grep '^iter    1' "$tmp/one.log" | cut -c1-30)" ]; then
  ok "data parallel, 2 replicas: the first iteration's loss equals the one-process run's"
else
  not_ok "data parallel, 2 replicas: the first iteration's loss equals the one-process run's"
fi
# Without batch norm, D replicas of 16 samples train the same minibatch as one process with D
# microbatches: the weights after 3 iterations agree to 1e-5 (the all-reduce sums in another
# order). Width 512 (8 M parameters) spans many pieces of the ring all-reduce; with 4 replicas
# the width is 128, where 3 iterations do not amplify the other summation order past 1e-5.
for run in "2 64" "2 512" "3 128" "4 128"; do
  set -- $run
  d=$1 w=$2
  set -- --set width=$w --batch $((16 * d)) --iters 3 --warmup 0 --lr 0.01
  "$x" train "$models/mlp32.model" "$@" --microbatches $d --save "$tmp/dp1.pcw" >"$tmp/log" 2>&1 </dev/null
  mpirun -n $d "$x" train "$models/mlp32.model" "$@" --replicas $d --stages 1 --timeout 60 \
    --save "$tmp/dp$d.pcw" >>"$tmp/log" 2>&1 </dev/null
  what="data parallel, $d replicas (mlp32 width $w): weights within 1e-5 of one process with $d microbatches"
  if python3 "$(dirname "$0")/weights-close.py" "$tmp/dp1.pcw" "$tmp/dp$d.pcw" 1e-5 >"$tmp/close" 2>&1; then
    ok "$what; $(cat "$tmp/close")"
  else
    sed 's/^/# /' "$tmp/close"; tail -5 "$tmp/log" | sed 's/^/# /'
    not_ok "$what"
  fi
done
# The gradients reduced bucket by bucket during the backward (the communication thread, the
# default) or all at once at the step (PC_PROGRESS=layers): with 2 replicas every sum is a + b
# either way, so the weights are the same bits. Width 1024: 5 buckets of 25 MiB or more.
for mode in thread layers; do
  env PC_PROGRESS=$mode mpirun -n 2 "$x" train "$models/mlp32.model" --set width=1024 --batch 16 \
    --replicas 2 --stages 1 --iters 2 --warmup 0 --timeout 60 --save "$tmp/dp-$mode.pcw" \
    >"$tmp/log-$mode" 2>&1 </dev/null
done
if [ -s "$tmp/dp-thread.pcw" ] && cmp -s "$tmp/dp-thread.pcw" "$tmp/dp-layers.pcw"; then
  ok "data parallel: gradients reduced by bucket during the backward, the same bits as at the step"
else
  tail -3 "$tmp/log-thread" "$tmp/log-layers" | sed 's/^/# /'
  not_ok "data parallel: gradients reduced by bucket during the backward, the same bits as at the step"
fi
mpirun -n 4 "$x" train "$models/tiny-mlp.model" --batch 32 --replicas 2 --microbatches 2 --iters 2 \
  --warmup 0 --timeout 60 >"$tmp/log" 2>&1 </dev/null
if grep -q "2 stages x 2 replicas" "$tmp/log" && grep -q "^iter    2" "$tmp/log"; then
  ok "pipeline x data parallel: 2 stages x 2 replicas on 4 ranks"
else
  not_ok "pipeline x data parallel: 2 stages x 2 replicas on 4 ranks"
fi

# Errors: exit status 2, the message once.
expect_input_error() {
  what=$1 frag=$2
  shift 2
  "$@" >"$tmp/log" 2>&1 </dev/null
  st=$?
  count=$(grep -cF -- "$frag" "$tmp/log")
  if [ "$st" -eq 2 ] && [ "$count" -eq 1 ]; then ok "$what"
  else echo "# exit $st, '$frag' seen $count times"; not_ok "$what"; fi
}
# --summary: the run as JSON, its median the one the log prints, a memory entry per stage.
if mpirun -n 2 "$x" train "$models/tiny-mlp.model" --iters 3 --microbatches 2 --schedule 1f1b \
     --summary "$tmp/summary.json" >"$tmp/log" 2>&1 </dev/null &&
   /usr/bin/python3 - "$tmp/summary.json" "$tmp/log" <<'PY'
import json, re, sys
s = json.load(open(sys.argv[1]))
log = open(sys.argv[2]).read()
med = float(re.search(r"median ([0-9.]+) s", log).group(1))
assert (s["model"], s["schedule"], s["stages"], s["replicas"]) == ("tiny-mlp", "1f1b", 2, 1), s
assert (s["batch"], s["microbatches"], s["microbatch_size"], s["timed"]) == (32, 2, 16, 2), s
assert s["partition"] in log and abs(s["median_s"] - med) < 5e-5, (s, med)
assert [m["stage"] for m in s["memory"]] == [0, 1], s
assert all(m["process_bytes"] > m["accounted_bytes"] > 0 for m in s["memory"]), s
PY
then ok "train --summary: the job, the median and each stage's memory as JSON"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "train --summary: the job, the median and each stage's memory as JSON"; fi
# One iteration asked for is one iteration run: the warm-up then defaults to none.
if mpirun -n 2 "$x" train "$models/tiny-mlp.model" --iters 1 >"$tmp/log" 2>&1 </dev/null &&
   grep -q "over 1 iterations (after 0 warm-up)" "$tmp/log"; then ok "train --iters 1: one timed iteration"
else sed 's/^/# /' "$tmp/log" | tail -3; not_ok "train --iters 1: one timed iteration"; fi
expect_input_error "rank count not matching the stages" "so the job needs 4 ranks, but it has 2" \
  mpirun -n 2 "$x" train "$models/tiny-mlp.model" -p 2,2,2,2
expect_input_error "partition error" "no layer or scope is called 'fc9'" \
  mpirun -n 2 "$x" train "$models/tiny-mlp.model" -p "fc1..fc2 | fc9.."
expect_input_error "microbatches not dividing the batch" "not divisible by --microbatches 5" \
  mpirun -n 2 "$x" train "$models/tiny-mlp.model" --batch 32 --microbatches 5
expect_input_error "unwritable --summary" "--summary /nonexistent/s.json: cannot write there" \
  mpirun -n 2 "$x" train "$models/tiny-mlp.model" --summary /nonexistent/s.json
expect_input_error "unwritable --save" "--save /nonexistent/w.pcw: cannot write there" \
  mpirun -n 2 "$x" train "$models/tiny-mlp.model" --save /nonexistent/w.pcw
expect_input_error "checkpoint folder that cannot be created" "--checkpoint /nonexistent/ck: cannot be created" \
  mpirun -n 2 "$x" train "$models/tiny-mlp.model" --checkpoint /nonexistent/ck
expect_input_error "weights of another model" "holds weights of the model 'tiny-mlp', not 'tiny-cnn'" \
  "$x" train "$models/tiny-cnn.model" --load "$tmp/mlp.ref.pcw"
expect_input_error "PC_PROGRESS neither thread, layers nor off" "PC_PROGRESS must be 'thread'" \
  env PC_PROGRESS=often mpirun -n 2 "$x" train "$models/tiny-mlp.model"
if env PC_PROGRESS=often "$x" train --help >"$tmp/help.out" 2>&1 && grep -q -- "--microbatches" "$tmp/help.out"; then
  ok "train --help prints its help whatever PC_PROGRESS holds"
else sed 's/^/# /' "$tmp/help.out"; not_ok "train --help prints its help whatever PC_PROGRESS holds"; fi

# Messages above the eager limit (16 KiB), moved by the transport that copies them in fragments
# only inside MPI calls (Open MPI's single copy off), or with no calls into MPI between layers
# (PC_PROGRESS=off): the same bits as one process either way.
big="--set width=256,input=256 --batch 32 --microbatches 2 --iters 2 --lr 0.05"
# shellcheck disable=SC2086
"$x" train "$models/mlp32.model" $big --save "$tmp/big.ref.pcw" >"$tmp/log" 2>&1 </dev/null
for v in OMPI_MCA_btl_vader_single_copy_mechanism=none PC_PROGRESS=off; do
  # shellcheck disable=SC2086
  if env "$v" mpirun -n 2 "$x" train "$models/mlp32.model" $big -p 32,32 --schedule gpipe \
       --timeout 60 --save "$tmp/big.2.pcw" >"$tmp/log" 2>&1 </dev/null &&
     cmp -s "$tmp/big.ref.pcw" "$tmp/big.2.pcw"; then
    ok "messages of 16 KiB with $v: weights bit-identical to one process"
  else
    not_ok "messages of 16 KiB with $v: weights bit-identical to one process"
  fi
  rm -f "$tmp/big.2.pcw"
done

# profile: one row per layer and size, every time positive; whole model on each rank, or each
# stage of a partition on its own rank (rows of both stages, the partition in the header)
# samples_ranks FILE: the "layer:rank" pairs of a samples file, sorted, on one line
samples_ranks() { awk -F'\t' '!/^#/ && $1 != "layer" { print $1 ":" $4 }' "$1" | sort -u | paste -sd' '; }
# rows FILE: "rows,all-positive" of a profile
rows() { awk -F'\t' '!/^#/ && $1 != "layer" { n++; if (!($4 > 0 && $5 > 0 && $6 >= 0)) bad++ }
                      END { printf "%d,%d", n, bad }' "$1"; }
if "$x" profile "$models/tiny-mlp.model" --microbatch-sizes 2,4 --reps 2 --out "$tmp/p1.tsv" \
     >"$tmp/log" 2>&1 </dev/null && [ "$(rows "$tmp/p1.tsv")" = "16,0" ]; then
  ok "profile: 8 layers x 2 sizes, every time positive"
else echo "# $(rows "$tmp/p1.tsv" 2>&1)"; not_ok "profile: 8 layers x 2 sizes, every time positive"; fi
if mpirun -n 2 "$x" profile "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --microbatch-sizes 4 \
     --reps 2 --out "$tmp/pp.tsv" >"$tmp/log" 2>&1 </dev/null && [ "$(rows "$tmp/pp.tsv")" = "8,0" ] &&
   grep -q '^# partition fc1..relu2 | fc3..loss' "$tmp/pp.tsv" &&
   "$sim" run "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --batch 8 --microbatches 2 \
     --profile "$tmp/pp.tsv" >"$tmp/log" 2>&1; then
  ok "profile --partition: each stage on its rank, rows of every layer, read by pipecast-sim"
else cat "$tmp/log" | sed 's/^/# /'; not_ok "profile --partition: each stage on its rank, rows of every layer, read by pipecast-sim"; fi
# checkpoints of chunks: a file per stage of the partition; resumed by the same layout, or by
# another that holds those stages (4 ranks of one), the 6 iterations of one process
il="$res --optimizer adamw --lr 0.01"
"$x" train "$models/tiny-resnet.model" $il --iters 6 --save "$tmp/il6.pcw" >"$tmp/log" 2>&1
mpirun -n 2 "$x" train "$models/tiny-resnet.model" $il -p 3,4,5,11 --schedule interleaved \
  --iters 3 --checkpoint "$tmp/ck-il" >>"$tmp/log" 2>&1 </dev/null &&
mpirun -n 2 "$x" train "$models/tiny-resnet.model" $il -p 3,4,5,11 --schedule interleaved \
  --iters 6 --resume "$tmp/ck-il" --save "$tmp/il-a.pcw" >>"$tmp/log" 2>&1 </dev/null &&
mpirun -n 4 "$x" train "$models/tiny-resnet.model" $il -p 3,4,5,11 --schedule 1f1b --iters 6 \
  --resume "$tmp/ck-il" --save "$tmp/il-b.pcw" >>"$tmp/log" 2>&1 </dev/null
if cmp -s "$tmp/il6.pcw" "$tmp/il-a.pcw" && cmp -s "$tmp/il6.pcw" "$tmp/il-b.pcw" &&
   [ "$(ls "$tmp"/ck-il/iter-3-*/ | tr '\n' ' ')" = "stage-0.pcw stage-1.pcw stage-2.pcw stage-3.pcw " ]; then
  ok "interleaved checkpoint (a file per chunk), resumed interleaved and as 4 ranks of 1f1b: the one-process bits"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "interleaved checkpoint (a file per chunk), resumed interleaved and as 4 ranks of 1f1b: the one-process bits"; fi
if mpirun -n 2 "$x" train "$models/tiny-mlp.model" --batch 8 -m 2 -p 2,2,2,2 --schedule interleaved \
     --iters 2 --profile-samples "$tmp/ps-il.tsv" >"$tmp/log" 2>&1 </dev/null &&
   [ "$(samples_ranks "$tmp/ps-il.tsv")" = "fc1:0 fc2:1 fc3:0 fc4:1 loss:1 relu1:0 relu2:1 relu3:0" ] &&
   "$sim" run "$models/tiny-mlp.model" -p 2,2,2,2 --schedule interleaved --batch 8 -m 2 \
     --profile "$tmp/ps-il.tsv" >>"$tmp/log" 2>&1; then
  ok "train --profile-samples with chunks: each chunk's layers from the rank that holds them"
else sed 's/^/# /' "$tmp/log" | tail -5; not_ok "train --profile-samples with chunks: each chunk's layers from the rank that holds them"; fi
expect_input_error "profile: more ranks than the partition has stages, not a multiple" \
  "has 2 stages: run it with at most one rank per stage (mpirun -n 2 or fewer) or with replicas of the pipeline (a multiple of 2 ranks), not 3" \
  mpirun -n 3 "$x" profile "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.."
# --chunks: a rank holds its stages r, r + ranks at once (an interleaved schedule's chunks)
if mpirun -n 2 "$x" profile "$models/tiny-mlp.model" -p "2,2,2,2" --chunks --microbatch-sizes 4 \
     --reps 2 --samples "$tmp/sc.tsv" --out "$tmp/pc.tsv" >"$tmp/log" 2>&1 </dev/null &&
   [ "$(rows "$tmp/pc.tsv")" = "8,0" ] && grep -q 'each rank held its stages at once' "$tmp/pc.tsv" &&
   [ "$(samples_ranks "$tmp/sc.tsv")" = \
     "fc1:0 fc2:1 fc3:0 fc4:1 loss:1 relu1:0 relu2:1 relu3:0" ]; then
  ok "profile --chunks: each rank's chunks held at once, every layer from the rank that holds it"
else cat "$tmp/log" "$tmp/sc.tsv" | sed 's/^/# /'; not_ok "profile --chunks: each rank's chunks held at once, every layer from the rank that holds it"; fi
# --split: the backward's halves beside it, W 0 exactly where a kind has no weights to split off
split_ok() { # profile: every fc row with B and W > 0, every other row W = 0; 8 layers x 1 size
  awk -F'\t' '/^#/ {next} !h {h = 1; ok = NF == 8 && $7 == "bwd_b_s" && $8 == "bwd_w_s"; next}
    {n++; ok = ok && $7 > 0 && ($2 == "fc" ? $8 > 0 : $8 == 0)} END {exit !(ok && n == 8)}' "$1"
}
if mpirun -n 2 "$x" profile "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --split \
     --microbatch-sizes 4 --reps 2 --samples "$tmp/ss.tsv" --out "$tmp/ps.tsv" >"$tmp/log" 2>&1 \
     </dev/null && split_ok "$tmp/ps.tsv" &&
   awk -F'\t' '!/^#/ && NF != 10 {bad = 1} END {exit bad}' "$tmp/ss.tsv" &&
   "$sim" run "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --batch 8 --microbatches 2 \
     --schedule zb-h1 --profile "$tmp/ss.tsv" >"$tmp/log" 2>&1; then
  ok "profile --split: input and weight gradients timed apart, read by pipecast-sim"
else cat "$tmp/log" "$tmp/ps.tsv" | sed 's/^/# /'; not_ok "profile --split: input and weight gradients timed apart, read by pipecast-sim"; fi
expect_input_error "train --zb-costs with a schedule it does not order" \
  "--zb-costs '1:2:1': schedule 1f1b: op costs order only the zero-bubble schedules (zb-h1, zb-v)" \
  mpirun -n 2 "$x" train "$models/tiny-mlp.model" --batch 8 -m 2 --schedule 1f1b --zb-costs 1:2:1
expect_input_error "train --zb-costs that are not three numbers" \
  "--zb-costs '1:2': expected FWD:BWD:BWD_W, three numbers like 1.5:2:1" \
  mpirun -n 2 "$x" train "$models/tiny-mlp.model" --batch 8 -m 2 --schedule zb-h1 --zb-costs 1:2
expect_input_error "profile --chunks without a partition of 2 or more stages per rank" \
  "--chunks needs a --partition of a multiple of the 2 ranks' stages, two or more each (it has 2)" \
  mpirun -n 2 "$x" profile "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --chunks
# a multiple of the stage count: rank r times stage r % stages, as train --replicas lays it out
if mpirun -n 4 "$x" profile "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --microbatch-sizes 4 \
     --reps 2 --samples "$tmp/s22.tsv" --out "$tmp/p22.tsv" >"$tmp/log" 2>&1 </dev/null &&
   [ "$(rows "$tmp/p22.tsv")" = "8,0" ] && grep -q 'rank r timed stage r % stages' "$tmp/p22.tsv" &&
   [ "$(samples_ranks "$tmp/s22.tsv")" = \
     "fc1:0 fc1:2 fc2:0 fc2:2 fc3:1 fc3:3 fc4:1 fc4:3 loss:1 loss:3 relu1:0 relu1:2 relu2:0 relu2:2 relu3:1 relu3:3" ]; then
  ok "profile --partition on replicas: stage r % stages timed by rank r, all at once"
else cat "$tmp/log" "$tmp/s22.tsv" | sed 's/^/# /'; not_ok "profile --partition on replicas: stage r % stages timed by rank r, all at once"; fi
# more stages than ranks: rank r times stages r, r + ranks, ... (tiny-mlp "2,2,2,2": stages 0
# and 2 on rank 0, 1 and 3 on rank 1), every layer's row, the same rows as one rank per stage
if mpirun -n 2 "$x" profile "$models/tiny-mlp.model" -p "2,2,2,2" --microbatch-sizes 4 \
     --reps 2 --samples "$tmp/s4.tsv" --out "$tmp/p4.tsv" >"$tmp/log" 2>&1 </dev/null &&
   [ "$(rows "$tmp/p4.tsv")" = "8,0" ] && grep -q 'rank r timed stages r, r + ranks' "$tmp/p4.tsv" &&
   [ "$(samples_ranks "$tmp/s4.tsv")" = \
     "fc1:0 fc2:1 fc3:0 fc4:1 loss:1 relu1:0 relu2:1 relu3:0" ]; then
  ok "profile --partition with more stages than ranks: stage s timed by rank s % ranks, every layer"
else cat "$tmp/log" "$tmp/s4.tsv" | sed 's/^/# /'; not_ok "profile --partition with more stages than ranks: stage s timed by rank s % ranks, every layer"; fi
if "$x" profile "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --microbatch-sizes 2,4 --reps 2 \
     --out "$tmp/p2on1.tsv" >"$tmp/log" 2>&1 </dev/null && [ "$(rows "$tmp/p2on1.tsv")" = "16,0" ]; then
  ok "profile --partition of 2 stages on one rank: both stages in turn, every layer and size"
else cat "$tmp/log" | sed 's/^/# /'; not_ok "profile --partition of 2 stages on one rank: both stages in turn, every layer and size"; fi
if "$x" profile "$models/tiny-mlp.model" --microbatch-sizes 2 --reps 3 --stat min --out "$tmp/pm.tsv" \
     >"$tmp/log" 2>&1 </dev/null && [ "$(rows "$tmp/pm.tsv")" = "8,0" ] &&
   grep -q '^# reps 3 (minimum over them, in 3 passes over the sizes)' "$tmp/pm.tsv"; then
  ok "profile --stat min: the minimum over repetitions, said in the header"
else not_ok "profile --stat min: the minimum over repetitions, said in the header"; fi
# --samples: every repetition, one row each (8 layers x 2 sizes x 3 reps; the partition's rows
# from the rank that timed them); pooled by pipecast-sim with their median, they predict what
# the profile's (median) rows predict, byte for byte
if "$x" profile "$models/tiny-mlp.model" --microbatch-sizes 2,4 --reps 3 --samples "$tmp/s1.tsv" \
     --out "$tmp/ps.tsv" >"$tmp/log" 2>&1 </dev/null &&
   [ "$(awk -F'\t' '!/^#/ && $1 != "layer"' "$tmp/s1.tsv" | wc -l)" = 48 ] &&
   "$sim" run "$models/tiny-mlp.model" --batch 8 -m 2 --profile "$tmp/ps.tsv" -f csv >"$tmp/ps.csv" &&
   "$sim" run "$models/tiny-mlp.model" --batch 8 -m 2 --profile "$tmp/s1.tsv" -f csv >"$tmp/s1.csv" &&
   [ -s "$tmp/ps.csv" ] && cmp -s "$tmp/ps.csv" "$tmp/s1.csv"; then
  ok "profile --samples: every repetition; pooled by pipecast-sim, the profile's median rows"
else cat "$tmp/log" | sed 's/^/# /'; not_ok "profile --samples: every repetition; pooled by pipecast-sim, the profile's median rows"; fi
if mpirun -n 2 "$x" profile "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --microbatch-sizes 4 \
     --reps 2 --samples "$tmp/s2.tsv" --out /dev/null >"$tmp/log" 2>&1 </dev/null &&
   [ "$(samples_ranks "$tmp/s2.tsv")" = \
     "fc1:0 fc2:0 fc3:1 fc4:1 loss:1 relu1:0 relu2:0 relu3:1" ]; then
  ok "profile --samples --partition: each layer's samples from the rank of its stage"
else cat "$tmp/log" "$tmp/s2.tsv" | sed 's/^/# /'; not_ok "profile --samples --partition: each layer's samples from the rank of its stage"; fi
# train --profile-samples: after its iterations the run's own processes time their stages'
# layers at its microbatch size, in profile --samples's format (8 layers x 3 reps in one process;
# each layer from the rank of its stage; both replicas time every layer), and the trained
# weights are the same as without it (the profile comes after --save)
if "$x" train "$models/tiny-mlp.model" --batch 8 -m 2 --iters 2 --save "$tmp/ps-a.pcw" \
     --profile-samples "$tmp/ts1.tsv" --profile-reps 3 >"$tmp/log" 2>&1 </dev/null &&
   "$x" train "$models/tiny-mlp.model" --batch 8 -m 2 --iters 2 --save "$tmp/ps-b.pcw" \
     >>"$tmp/log" 2>&1 </dev/null && cmp -s "$tmp/ps-a.pcw" "$tmp/ps-b.pcw" &&
   [ "$(awk -F'\t' '!/^#/ && $1 != "layer" && $3 == 4 && $6 > 0' "$tmp/ts1.tsv" | wc -l)" = 24 ] &&
   grep -q '^# reps 3 (every one of them, a row each; timed by pipecast-exec train' "$tmp/ts1.tsv"; then
  ok "train --profile-samples: every layer at the run's microbatch size, weights as without it"
else cat "$tmp/log" "$tmp/ts1.tsv" | sed 's/^/# /'; not_ok "train --profile-samples: every layer at the run's microbatch size, weights as without it"; fi
if mpirun -n 2 "$x" train "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --batch 8 -m 2 --iters 2 \
     --profile-samples "$tmp/ts2.tsv" --profile-reps 2 >"$tmp/log" 2>&1 </dev/null &&
   [ "$(samples_ranks "$tmp/ts2.tsv")" = "fc1:0 fc2:0 fc3:1 fc4:1 loss:1 relu1:0 relu2:0 relu3:1" ] &&
   "$sim" run "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --batch 8 --microbatches 2 \
     --profile "$tmp/ts2.tsv" >>"$tmp/log" 2>&1; then
  ok "train --profile-samples, 2 stages: each layer from its stage's rank; pooled, read by pipecast-sim"
else cat "$tmp/log" | sed 's/^/# /'; not_ok "train --profile-samples, 2 stages: each layer from its stage's rank; pooled, read by pipecast-sim"; fi
if mpirun -n 2 "$x" train "$models/tiny-mlp.model" --replicas 2 --batch 8 --iters 2 \
     --profile-samples "$tmp/ts3.tsv" --profile-reps 2 >"$tmp/log" 2>&1 </dev/null &&
   [ "$(awk -F'\t' '!/^#/ && $1 != "layer"' "$tmp/ts3.tsv" | wc -l)" = 32 ] &&
   [ "$(samples_ranks "$tmp/ts3.tsv" | wc -w)" = 16 ]; then
  ok "train --profile-samples, 2 replicas: both ranks time every layer"
else cat "$tmp/log" | sed 's/^/# /'; not_ok "train --profile-samples, 2 replicas: both ranks time every layer"; fi
expect_input_error "train: --profile-reps 0" "--profile-reps must be at least 1, got 0" \
  "$x" train "$models/tiny-mlp.model" --profile-samples "$tmp/x.tsv" --profile-reps 0
expect_input_error "train: --profile-samples in a missing folder (refused before the run)" \
  "--profile-samples $tmp/no/x.tsv: cannot write there" \
  "$x" train "$models/tiny-mlp.model" --profile-samples "$tmp/no/x.tsv"
printf 'layer\tmb\tseconds\nfc1\t4\t0.1\n' >"$tmp/bad-samples.tsv"
expect_input_error "pooling a file that is not samples" "--profile $tmp/bad-samples.tsv: several --profile files are pooled" \
  "$sim" run "$models/tiny-mlp.model" --batch 8 --profile "$tmp/ts2.tsv" --profile "$tmp/bad-samples.tsv"
expect_input_error "profile: --samples in a missing folder" "--samples $tmp/no/s.tsv: cannot write there (its folder does not exist)" \
  "$x" profile "$models/tiny-mlp.model" --microbatch-sizes 2 --samples "$tmp/no/s.tsv"
expect_input_error "profile: bad --stat" "--stat 'mean': expected median or min" \
  "$x" profile "$models/tiny-mlp.model" --stat mean
expect_input_error "profile: a microbatch too large for the machine (refused before allocating)" \
  "at microbatch 1048576 needs" "$x" profile "$models/mlp32.model" --microbatch-sizes 8,1048576
expect_input_error "profile: too many repetitions" "--reps must be 1 to 1000, got 1001" \
  "$x" profile "$models/tiny-mlp.model" --reps 1001
expect_input_error "profile: bad --microbatch-sizes" "expected increasing positive integers" \
  "$x" profile "$models/tiny-mlp.model" --microbatch-sizes 4,2

# grid: cells measured side by side in one job. A cell's iterations are train's: with no profile
# between visits its losses are train's bit for bit (one process, and 2 stages on 2 ranks);
# visit 0 is the warm-up, then visits x iters timed rows; with --profile-reps each visit writes
# its cell's samples (each layer from the rank of its stage; 2 replicas: both ranks every layer),
# and each cell's last iteration as a trace
losses() { awk -F, -v c="$2" 'NR > 1 { printf "%s ", $c }' "$1"; }
printf '# one process\na gpipe 1 1 -\nb\t1f1b  4 1 -   # two blanks, a tab\n' >"$tmp/cells1"
if "$x" grid "$models/tiny-mlp.model" --cells "$tmp/cells1" --out "$tmp/g1" --batch 16 --visits 3 \
     --iters 2 >"$tmp/log" 2>&1 </dev/null &&
   "$x" train "$models/tiny-mlp.model" --batch 16 --iters 7 --times "$tmp/ta.csv" >>"$tmp/log" 2>&1 &&
   "$x" train "$models/tiny-mlp.model" --batch 16 --iters 7 -m 4 --schedule 1f1b --times "$tmp/tb.csv" \
     >>"$tmp/log" 2>&1 &&
   [ "$(losses "$tmp/g1/a.times.csv" 5)" = "$(losses "$tmp/ta.csv" 4)" ] &&
   [ "$(losses "$tmp/g1/b.times.csv" 5)" = "$(losses "$tmp/tb.csv" 4)" ] &&
   [ "$(losses "$tmp/g1/a.times.csv" 5)" != "$(losses "$tmp/g1/b.times.csv" 5)" ] &&
   [ "$(losses "$tmp/g1/a.times.csv" 1)" = "0 1 1 2 2 3 3 " ]; then
  ok "grid, one process: each cell's losses are train's bit for bit; a warm-up, then 3 visits x 2"
else cat "$tmp/log" "$tmp/g1/a.times.csv" | sed 's/^/# /'; not_ok "grid, one process: each cell's losses are train's bit for bit; a warm-up, then 3 visits x 2"; fi
printf 'p2 gpipe 4 1 fc1..relu2 | fc3..\nd2 1f1b 2 2 -\n' >"$tmp/cells2"
mkdir -p "$tmp/g2" "$tmp/g3"
if mpirun -n 2 "$x" grid "$models/tiny-mlp.model" --cells "$tmp/cells2" --out "$tmp/g2" --batch 16 \
     --visits 2 --warmup 0 >"$tmp/log" 2>&1 </dev/null &&
   mpirun -n 2 "$x" train "$models/tiny-mlp.model" -p "fc1..relu2 | fc3.." --batch 16 -m 4 --iters 2 \
     --warmup 0 --times "$tmp/tp.csv" >>"$tmp/log" 2>&1 </dev/null &&
   [ "$(losses "$tmp/g2/p2.times.csv" 5)" = "$(losses "$tmp/tp.csv" 4)" ]; then
  ok "grid, 2 stages on 2 ranks (a partition with blanks): losses are train's bit for bit"
else cat "$tmp/log" | sed 's/^/# /'; not_ok "grid, 2 stages on 2 ranks (a partition with blanks): losses are train's bit for bit"; fi
if mpirun -n 2 "$x" grid "$models/tiny-mlp.model" --cells "$tmp/cells2" --out "$tmp/g3" --batch 16 \
     --visits 2 --profile-reps 2 >"$tmp/log" 2>&1 </dev/null &&
   [ "$(samples_ranks "$tmp/g3/p2.v2.samples.tsv")" = "fc1:0 fc2:0 fc3:1 fc4:1 loss:1 relu1:0 relu2:0 relu3:1" ] &&
   [ "$(samples_ranks "$tmp/g3/d2.v1.samples.tsv" | wc -w)" = 16 ] &&
   [ "$(awk -F'\t' '!/^#/ && $1 != "layer" && $3 == 4' "$tmp/g3/p2.v1.samples.tsv" | wc -l)" = 16 ] &&
   grep -q '^# reps 2 (every one of them, a row each; timed by pipecast-exec grid between' \
     "$tmp/g3/d2.v2.samples.tsv" && [ ! -e "$tmp/g3/p2.v3.samples.tsv" ] &&
   python3 -c 'import json, sys; [json.load(open(f)) for f in sys.argv[1:]]' "$tmp/g3/p2.json" \
     "$tmp/g3/d2.json" 2>>"$tmp/log" &&
   grep -Eq '^d2 +[0-9.]+ +2 ' "$tmp/log"; then
  ok "grid --profile-reps: each visit's samples (per stage's rank; both replicas), traces, summary"
else cat "$tmp/log" | sed 's/^/# /'; not_ok "grid --profile-reps: each visit's samples (per stage's rank; both replicas), traces, summary"; fi
# chunks per rank in a grid: an interleaved and a V cell, their losses train's, their samples
# each chunk's layers from the rank that holds it
printf 'il interleaved 4 1 2,2,2,2\nzv zb-v 4 1 2,2,2,2\n' >"$tmp/cells4"
mkdir -p "$tmp/g4"
if mpirun -n 2 "$x" grid "$models/tiny-mlp.model" --cells "$tmp/cells4" --out "$tmp/g4" --batch 16 \
     --visits 2 --warmup 0 --profile-reps 1 >"$tmp/log4" 2>&1 </dev/null &&
   mpirun -n 2 "$x" train "$models/tiny-mlp.model" -p 2,2,2,2 --schedule zb-v --batch 16 -m 4 \
     --iters 2 --warmup 0 --times "$tmp/tz.csv" >>"$tmp/log4" 2>&1 </dev/null &&
   [ "$(losses "$tmp/g4/zv.times.csv" 5)" = "$(losses "$tmp/tz.csv" 4)" ] &&
   [ "$(samples_ranks "$tmp/g4/il.v1.samples.tsv")" = "fc1:0 fc2:1 fc3:0 fc4:1 loss:1 relu1:0 relu2:1 relu3:0" ] &&
   [ "$(samples_ranks "$tmp/g4/zv.v1.samples.tsv")" = "fc1:0 fc2:1 fc3:1 fc4:0 loss:0 relu1:0 relu2:1 relu3:1" ]; then
  ok "grid with chunks per rank (interleaved, zb-v): train's losses; each chunk's samples from its rank"
else cat "$tmp/log4" | sed 's/^/# /' | tail -5; not_ok "grid with chunks per rank (interleaved, zb-v): train's losses; each chunk's samples from its rank"; fi
# a cell's options: chunks=V (an automatic partition into 2 x 2 chunks) and zb-costs=F:B:W,
# each cell's losses train's with the same flags
printf 'il interleaved 4 1 chunks=2 -\nzh zb-h1 4 1 zb-costs=1.5:2:1 2,6\n' >"$tmp/cells5"
if mpirun -n 2 "$x" grid "$models/tiny-mlp.model" --cells "$tmp/cells5" --out "$tmp/g5" --batch 16 \
     --visits 2 --warmup 0 >"$tmp/log5" 2>&1 </dev/null &&
   mpirun -n 2 "$x" train "$models/tiny-mlp.model" --schedule zb-h1 --zb-costs 1.5:2:1 -p 2,6 \
     --batch 16 -m 4 --iters 2 --warmup 0 --times "$tmp/tzh.csv" >>"$tmp/log5" 2>&1 </dev/null &&
   [ "$(losses "$tmp/g5/zh.times.csv" 5)" = "$(losses "$tmp/tzh.csv" 4)" ] &&
   [ "$(awk -F, '$1 == "il" { print gsub(/\|/, "|", $5) }' "$tmp/g5/summary.csv")" = 3 ]; then
  ok "grid cell options: chunks=2 cuts 4 chunks; zb-costs's cell has train's losses"
else cat "$tmp/log5" | sed 's/^/# /' | tail -5; not_ok "grid cell options: chunks=2 cuts 4 chunks; zb-costs's cell has train's losses"; fi
# summary.csv: a row per cell, its median the one the table on stdout prints
if /usr/bin/python3 - "$tmp/g3/summary.csv" "$tmp/log" <<'PY'
import csv, re, sys
rows = {r["cell"]: r for r in csv.DictReader(open(sys.argv[1]))}
log = open(sys.argv[2]).read()
assert set(rows) == {"p2", "d2"}, rows
for name, r in rows.items():
    m = re.search(r"^%s +([0-9.]+) +([0-9]+) " % name, log, re.M)
    assert m and abs(float(r["median_s"]) - float(m.group(1))) < 5e-5 and r["timed"] == m.group(2), (r, m)
assert rows["d2"]["replicas"] == "2" and " | " in rows["p2"]["partition"], rows
PY
then ok "grid summary.csv: each cell's median, timed iterations, partition"
else sed 's/^/# /' "$tmp/g3/summary.csv"; not_ok "grid summary.csv: each cell's median, timed iterations, partition"; fi
# bad_cells FILE CONTENT DESCRIPTION FRAGMENT [GRID OPTIONS]: grid refuses a cells file (exit 2)
bad_cells() {
  printf "$2" >"$tmp/$1"
  f=$tmp/$1 what=$3 frag=$4
  shift 4
  expect_input_error "grid: $what" "$frag" "$x" grid "$models/tiny-mlp.model" --cells "$f" \
    --out "$tmp/g1" "$@"
}
bad_cells c-fields 'a gpipe 1 1\n' "a cell line without its partition" \
  "c-fields:1: expected NAME SCHEDULE MICROBATCHES REPLICAS [chunks=V] [zb-costs=F:B:W] PARTITION, got 4 fields"
bad_cells c-twice 'a gpipe 1 1 -\n\na 1f1b 2 1 -\n' "a cell named twice" "c-twice:3: cell 'a' again (line 1)"
bad_cells c-num 'a gpipe x 1 -\n' "microbatches not a number" \
  "c-num:1: microbatches and replicas must be whole numbers"
bad_cells c-name 'a/b gpipe 1 1 -\n' "a name that is no file name" "c-name:1: name 'a/b' must be letters"
bad_cells c-ranks 'ok gpipe 1 1 -\ntwo gpipe 2 1 2,6\n' "a cell that needs other ranks, named with its line" \
  "cell two (--cells $tmp/c-ranks:2): the partition has 2 stages"
bad_cells c-div 'a gpipe 3 1 -\n' "a microbatch count that does not divide the batch" \
  "cell a (--cells $tmp/c-div:1): the minibatch of 16 samples is not divisible by --microbatches 3" \
  --batch 16
bad_cells c-sched 'a pipedream 1 1 -\n' "an unknown schedule" "cell a (--cells $tmp/c-sched:1): --schedule 'pipedream'"
bad_cells c-opt 'a gpipe 4 1 stages=2 -\n' "an unknown cell option" \
  "c-opt:1: option 'stages=2': expected chunks=V or zb-costs=F:B:W"
bad_cells c-opt2 'a interleaved 4 1 chunks=2 chunks=4 -\n' "an option twice" "c-opt2:1: option 'chunks=4'"
bad_cells c-opt3 'a zb-h1 4 1 chunks=2 zb-costs=1:1:1 chunks=2 -\n' "three options" \
  "c-opt3:1: more than two options"
bad_cells c-after 'a interleaved 4 1 - chunks=2\n' "an option after the partition" \
  "c-after:1: partition '- chunks=2': the options (chunks=V, zb-costs=F:B:W) go before the partition"
bad_cells c-chunks 'a interleaved 4 1 chunks=x -\n' "chunks not a number" "c-chunks:1: chunks='x'"
bad_cells c-zb 'a zb-h1 4 1 zb-costs=1:2 -\n' "zb-costs not three numbers, named with its cell" \
  "cell a (--cells $tmp/c-zb:1): --zb-costs '1:2'" --batch 16
bad_cells c-empty '# nothing\n' "a cells file with no cell" "c-empty: no cell in it"
bad_cells c-nul 'a gpipe 1 1 -\n\0b\n' "a binary cells file" "c-nul: not a text file (a NUL byte at offset 14)"
expect_input_error "grid: a missing cells file" "--cells: $tmp/none: cannot open: No such file" \
  "$x" grid "$models/tiny-mlp.model" --cells "$tmp/none" --out "$tmp/g1"
expect_input_error "grid: --out in a missing folder" "--out $tmp/none/g: not a writable folder" \
  "$x" grid "$models/tiny-mlp.model" --cells "$tmp/cells1" --out "$tmp/none/g"
expect_input_error "grid: --out a file" "--out $tmp/cells1: not a writable folder" \
  "$x" grid "$models/tiny-mlp.model" --cells "$tmp/cells1" --out "$tmp/cells1"
expect_input_error "grid: --visits 0" "need --visits >= 1" \
  "$x" grid "$models/tiny-mlp.model" --cells "$tmp/cells1" --out "$tmp/g1" --visits 0
expect_input_error "grid: more iterations than a run may have (no overflow)" \
  "--visits x --iters + --warmup <= 1000000" \
  "$x" grid "$models/tiny-mlp.model" --cells "$tmp/cells1" --out "$tmp/g1" --visits 2000000000 \
  --iters 2000000000
expect_input_error "grid: without --cells" "--cells and --out are needed" \
  "$x" grid "$models/tiny-mlp.model" --out "$tmp/g1"

# Between nodes, messages up to 4 MiB go without waiting for the receiver: the executor raises
# Open MPI's TCP eager limit before MPI starts, and starts no TCP progress thread (test-cluster.sh
# checks both across nodes); calibrate records the settings in effect, read back from MPI; the
# user's own limit wins. (A user's progress thread is not tried here: on one node Open MPI's can
# crash in MPI_Finalize.)
tcp() { # tcp [VAR=VALUE...]: the eager limit and progress thread a 2-rank calibrate records
  env "$@" mpirun -n 2 "$x" calibrate --max-bytes 64 --reps 2 --out "$tmp/tcp.tsv" >/dev/null 2>&1 </dev/null &&
    sed -n 's/^# tcp_\(eager_limit_bytes\|progress_thread\) //p' "$tmp/tcp.tsv" | tr '\n' ' '
}
mine=$(tcp) theirs=$(tcp OMPI_MCA_btl_tcp_eager_limit=131072)
if [ "$mine" = "4194304 0 " ] && [ "$theirs" = "131072 0 " ]; then
  ok "TCP: 4 MiB eager limit set before MPI starts, no progress thread, recorded by calibrate; the user's own limit wins"
else
  echo "# recorded: '$mine'; with the user's: '$theirs'"
  not_ok "TCP: 4 MiB eager limit set before MPI starts, no progress thread, recorded by calibrate; the user's own limit wins"
fi

tap_end
