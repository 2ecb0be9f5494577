#!/usr/bin/env bash
# bad-inputs.sh — the catalogue of bad input: runs every kind of mistake a user can make against
# the built programs and writes, for each, the exit status and what the user sees, as the table
# docs/bad-input.md. Re-run it after changing a message: the table stays true.
# Usage: experiments/bad-inputs.sh [OUT.md]
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-docs/bad-input.md}
[ -x build/sim/pipecast-sim ] && [ -x build/exec/pipecast-exec ] || experiments/setup.sh build >/dev/null 2>&1 || { echo "bad-inputs: build failed" >&2; exit 1; }
source experiments/env.sh
sim=build/sim/pipecast-sim
x=build/exec/pipecast-exec
m=models
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT

# Inputs to be wrong with.
printf 'input 3x8x8\nflatten\nconv out=4 k=3\n' >"$t/conv-after-flatten.model"
printf 'input 4\nconv3d x out=1\n' >"$t/unknown-kind.model"
printf 'input 4\nfc out=widht\n' >"$t/unknown-param.model"
printf 'param width 1024\ninput 4\n' >"$t/malformed-param.model"
printf 'input 4\nb(1)\nblock b(x) { fc out=x }\n' >"$t/block-before.model"
printf 'block b(x) { fc out=x }\ninput 4\nb(1, 2)\n' >"$t/block-args.model"
printf 'input 4\nseq s {\n  fc out=2\n' >"$t/unterminated.model"
: >"$t/empty.model"
printf 'input 4\nfc out=2\n\0junk' >"$t/binary.model"
printf 'input 4\nfc a out=2\nfc a out=2\n' >"$t/duplicate.model"
printf 'input 4\nsoftmax_xent\nfc out=2\n' >"$t/loss-not-last.model"
"$x" train "$m/tiny-mlp.model" --iters 1 --warmup 0 --save "$t/w.pcw" >/dev/null 2>&1
head -c 300 "$t/w.pcw" >"$t/truncated.pcw"
printf 'layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\nfc1\tfc\t1\t1e-5\t2e-5\t0\n' >"$t/missing-layer.tsv"
printf 'link\tbytes\tlatency_s\tseconds_per_byte\n' >"$t/net-empty.tsv"
printf 'layer\tkind\tmb\trank\trep\tfwd_s\tbwd_s\topt_s\nfc1\tfc\t1\t0\t0\t1e-5\t2e-5\t0\n' >"$t/samples.tsv"
printf '# model tiny-mlp\n# param width=64\nlayer\tkind\tmb\trank\trep\tfwd_s\tbwd_s\topt_s\nfc1\tfc\t1\t0\t0\t1e-5\t2e-5\t0\n' >"$t/samples-64.tsv"
mkdir -p "$t/ck" && printf 'pipecast-checkpoint 1\niteration x\n' >"$t/ck/checkpoint"
mkdir -p "$t/cifar" && head -c 5000 /dev/zero >"$t/cifar/data_batch_1.bin"
printf 'a gpipe 4 1\n' >"$t/cells-short.txt"
printf 'one gpipe 1 1 -\ntwo gpipe 2 1 2,6\n' >"$t/cells-ranks.txt"
printf 'a zb-h1 4 1 costs=1:2:1 -\n' >"$t/cells-option.txt"
mkdir -p "$t/grid"
cp models/tiny-mlp.model "$t/mm.model"
"$sim" run "$m/tiny-mlp.model" --batch 8 --microbatches 2 --trace "$t/m2.json" >/dev/null 2>&1
mkfifo "$t/fifo"
printf 'input 8\nembed e vocab=9 dim=4\nfc h out=10 tied=1\nsoftmax_xent\n' >"$t/tied-size.model"
# token files in llm.c's format: one with a token past a vocabulary of 96, one too short
python3 -c 'import struct, sys
for name, n, bad in (("tokens-vocab.bin", 200, 150), ("tokens-short.bin", 8, -1)):
    with open(sys.argv[1] + "/" + name, "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, n, *[0] * 253))
        f.write(struct.pack(f"<{n}H", *[(150 if k == bad else k % 96) for k in range(n)]))' "$t"
gpt="--set n_layer=1,n_head=2,n_embd=16,seq=16,vocab=96"
mkdir -p "$t/figs/sweep.png"
printf 'input 4\nfc out=2 \377\n' >"$t/byte.model"
head -c $((17 << 20)) /dev/zero | tr '\0' '#' >"$t/huge.model"
"$x" train "$m/tiny-mlp.model" --iters 1 --checkpoint "$t/ck-a" >/dev/null 2>&1
"$x" train "$m/tiny-mlp.model" --iters 1 --seed 2 --checkpoint "$t/ck-b" >/dev/null 2>&1
cp -r "$t/ck-a" "$t/ck-mixed" && cp "$t"/ck-b/iter-*/stage-0.pcw "$t"/ck-mixed/iter-*/stage-0.pcw

rows=()
# entry WHAT -- COMMAND...: one row of the table.
entry() {
  local what=$1
  shift 2
  "$@" >"$t/stdout" 2>"$t/stderr" </dev/null
  local st=$?
  local said
  said=$(grep -m1 -E '^(pipecast-(sim|exec)|compare-stats|validate|study.sh|usage:)' "$t/stderr" | sed "s|$t/|/tmp/|g; s/|/\\\\|/g")
  local cmd
  cmd=$(printf '%s ' "$@" | sed "s|$t/|/tmp/|g; s|build/[a-z]*/||g; s/|/\\\\|/g; s/ $//")
  rows+=("| $what | \`$cmd\` | $st | $said |")
}

entry "unknown layer kind" -- "$sim" describe "$t/unknown-kind.model"
entry "unknown parameter" -- "$sim" describe "$t/unknown-param.model"
entry "malformed parameter" -- "$sim" describe "$t/malformed-param.model"
entry "shape that does not fit (conv after flatten)" -- "$sim" describe "$t/conv-after-flatten.model"
entry "block used before it is defined" -- "$sim" describe "$t/block-before.model"
entry "block with the wrong number of arguments" -- "$sim" describe "$t/block-args.model"
entry "unterminated block" -- "$sim" describe "$t/unterminated.model"
entry "empty file" -- "$sim" describe "$t/empty.model"
entry "binary file" -- "$sim" describe "$t/binary.model"
entry "duplicate layer name" -- "$sim" describe "$t/duplicate.model"
entry "loss that is not the last layer" -- "$sim" describe "$t/loss-not-last.model"
entry "missing model file" -- "$sim" describe "$t/nope.model"
entry "--set of an unknown parameter" -- "$sim" describe "$m/mlp32.model" --set widht=3
entry "--set with a malformed value" -- "$sim" describe "$m/mlp32.model" --set width=wide
entry "--set giving one parameter twice" -- "$sim" describe "$m/mlp32.model" --set width=64 --set width=32
entry "--by without --stages" -- "$sim" describe "$m/tiny-mlp.model" --by params
entry "partition naming an unknown layer" -- "$sim" describe "$m/resnet50.model" -p "conv1..layer9 | layer2.."
entry "overlapping ranges" -- "$sim" describe "$m/mlp32.model" -p "fc1..fc10 | fc5..loss"
entry "out-of-order ranges" -- "$sim" describe "$m/mlp32.model" -p "fc9..loss | fc1..relu8"
entry "more stages than layers" -- "$sim" describe "$m/mlp32.model" --stages 65
entry "counts that do not add up" -- "$sim" describe "$m/mlp32.model" -p 16,16,16
entry "unknown flag" -- "$sim" describe "$m/mlp32.model" --frobnicate
entry "unknown schedule" -- "$sim" run "$m/mlp32.model" --batch 8 --schedule pipedream
entry "microbatches not dividing the batch (simulator)" -- "$sim" run "$m/mlp32.model" --batch 10 --microbatches 4
entry "profile missing a layer" -- "$sim" run "$m/tiny-mlp.model" --batch 8 --profile "$t/missing-layer.tsv"
entry "a profile among samples files to pool" -- "$sim" run "$m/tiny-mlp.model" --batch 8 --profile "$t/samples.tsv" --profile "$t/missing-layer.tsv"
entry "a profile taken with other parameters" -- "$sim" run "$m/tiny-mlp.model" --batch 8 --profile "$t/samples-64.tsv"
entry "--extrapolate without a profile" -- "$sim" run "$m/tiny-mlp.model" --batch 8 --extrapolate
entry "an unknown statistic for pooled samples" -- "$sim" run "$m/tiny-mlp.model" --batch 8 --profile "$t/samples.tsv" --profile-stat mode
entry "balancing by time where no layer times are read" -- "$x" train "$m/tiny-mlp.model" --stages 2 --by time
entry "replaying a trace of another configuration" -- "$sim" run "$m/tiny-mlp.model" --batch 8 --microbatches 4 --durations "$t/m2.json"
entry "net file with no rows" -- "$sim" run "$m/mlp32.model" --batch 8 --net "$t/net-empty.tsv"
entry "rank count not matching the stages" -- mpirun -n 2 "$x" train "$m/tiny-mlp.model" -p 2,2,2,2
entry "microbatches not dividing the batch (executor)" -- "$x" train "$m/tiny-mlp.model" --batch 32 --microbatches 5
entry "more microbatches than samples" -- "$x" train "$m/tiny-mlp.model" --batch 4 --microbatches 8
entry "unwritable output path" -- "$x" train "$m/tiny-mlp.model" --save /nonexistent/w.pcw
entry "unwritable summary path" -- "$x" train "$m/tiny-mlp.model" --summary /nonexistent/s.json
entry "weights file of another model" -- "$x" train "$m/tiny-cnn.model" --load "$t/w.pcw"
entry "truncated weights file" -- "$x" train "$m/tiny-mlp.model" --load "$t/truncated.pcw"
entry "corrupt checkpoint" -- "$x" train "$m/tiny-mlp.model" --resume "$t/ck"
entry "missing data directory" -- "$x" train "$m/vgg16.model" --data cifar10:"$t/none"
entry "truncated CIFAR-10 file" -- "$x" train "$m/vgg16.model" --data cifar10:"$t/cifar"
entry "head tied to an embedding of another size" -- "$sim" describe "$t/tied-size.model"
entry "token outside the model's vocabulary" -- "$x" train "$m/gpt2.model" $gpt --data tokens:"$t/tokens-vocab.bin"
entry "token file shorter than a window" -- "$x" train "$m/gpt2.model" $gpt --data tokens:"$t/tokens-short.bin"
entry "token file for a model of images" -- "$x" train "$m/tiny-mlp.model" --data tokens:"$t/tokens-vocab.bin"
entry "image data for a model of tokens" -- "$x" train "$m/gpt2.model" $gpt --data cifar10:"$t/cifar"
entry "images of the wrong size for the model" -- "$x" train "$m/tiny-cnn.model" --data mnist:"$t/cifar"
entry "model too big for the machine" -- mpirun -n 2 "$x" train "$m/vgg16.model" --set input=3x512x512 --batch 512
entry "grid: a cell line without its partition" -- "$x" grid "$m/tiny-mlp.model" --cells "$t/cells-short.txt" --out "$t/grid"
entry "grid: a cell option it does not know" -- "$x" grid "$m/tiny-mlp.model" --cells "$t/cells-option.txt" --out "$t/grid"
entry "grid: a cell needing other ranks than the job's" -- "$x" grid "$m/tiny-mlp.model" --cells "$t/cells-ranks.txt" --out "$t/grid"
entry "grid: output folder in a missing folder" -- "$x" grid "$m/tiny-mlp.model" --cells "$t/cells-ranks.txt" --out "$t/none/grid"
entry "grid: an optimizer option out of range" -- "$x" grid "$m/tiny-mlp.model" --cells "$t/cells-ranks.txt" --out "$t/grid" --lr 0
entry "two outputs onto one file" -- "$x" train "$m/tiny-mlp.model" --times "$t/same.out" --summary "$t/same.out"
entry "an output onto the model file" -- "$x" train "$t/mm.model" --save "$t/mm.model"
entry "--load with --resume" -- "$x" train "$m/tiny-mlp.model" --load "$t/w.pcw" --resume "$t/ck"
entry "profile: microbatch too large for the machine" -- "$x" profile "$m/mlp32.model" --microbatch-sizes 8,1048576
entry "profile: samples file in a missing folder" -- "$x" profile "$m/tiny-mlp.model" --samples "$t/none/s.tsv"
entry "profile: more ranks than the partition has stages, not a multiple" -- mpirun -n 3 "$x" profile "$m/tiny-mlp.model" -p "fc1..relu2 | fc3.."
entry "study: a microbatch count that does not divide the batch" -- experiments/study.sh mlp32 --microbatches 1,3 --out "$t/study"
entry "study: more processes than the predicted lines go to" -- experiments/study.sh mlp32 --procs 32 --out "$t/study"
entry "study: continuing a study that was never started" -- experiments/study.sh mlp32 --continue --out "$t/none"
entry "study: a memory budget that is not a number" -- env PC_MEMORY_MIB=lots experiments/study.sh mlp32 --out "$t/study"
entry "an unknown value of PC_PROGRESS" -- env PC_PROGRESS=often mpirun -n 2 "$x" train "$m/tiny-mlp.model"
mkdir -p "$t/study-bad/runs"
printf 'batch\n8\n' >"$t/study-bad/runs/gpipe-P1-D1-M1.pred.csv"
printf '1,0.25\n2,fast\n' >"$t/study-bad/runs/gpipe-P1-D1-M1.iters"
entry "a study folder whose timed iterations are corrupt" -- experiments/compare-stats.py "$t/study-bad"
printf '1,0.25\n' >"$t/study-bad/runs/gpipe-P1-D1-M1.iters"
printf '# pipecast profile v1\n# model tiny-mlp\nlayer\tkind\tmb\tfwd_s\tbwd_s\topt_s\nfc1\tfc\t8\t1e-3\t1e-3\t1e-4\n' \
  >"$t/study-bad/profile-1r.r1.gpipe-P1-D1-M1.samples.tsv"
entry "a simulator that is not there" -- experiments/compare-stats.py "$t/study-bad" --sim "$t/none/pipecast-sim"
entry "a checkpoint folder holding another run's checkpoint" -- "$x" train "$m/tiny-mlp.model" --seed 2 --checkpoint "$t/ck-a"
entry "a stage file of another checkpoint" -- "$x" train "$m/tiny-mlp.model" --iters 2 --resume "$t/ck-mixed"
entry "resuming with another seed" -- "$x" train "$m/tiny-mlp.model" --iters 2 --seed 3 --resume "$t/ck-a"
entry "an empty output name" -- "$x" train "$m/tiny-mlp.model" --save ''
entry "an output onto a FIFO" -- "$x" train "$m/tiny-mlp.model" --times "$t/fifo"
entry "an output onto a folder" -- "$x" train "$m/tiny-mlp.model" --trace "$t/grid"
entry "an output onto a full device" -- "$x" train "$m/tiny-mlp.model" --iters 1 --save /dev/full
entry "a trace onto a full device" -- "$sim" run "$m/tiny-mlp.model" --batch 8 --trace /dev/full
entry "plan: a link that is not RATE,LATENCY" -- "$sim" plan "$m/tiny-mlp.model" --ranks 2 --batch 8 --link inter=fast
entry "plan: no layout fits the memory per rank" -- "$sim" plan "$m/tiny-mlp.model" --ranks 2 --batch 8 --memory-per-rank 1000
entry "study: a model file that is not there" -- experiments/study.sh "$t/none.model" --out "$t/study"
entry "a figure that cannot be written, before the sweep" -- "$sim" sweep "$m/tiny-mlp.model" --batch 8 -o "$t/figs"
entry "a device as a model file" -- "$sim" describe /dev/zero
entry "a device as a profile" -- "$sim" run "$m/tiny-mlp.model" --batch 8 --profile /dev/zero
entry "a FIFO as weights" -- "$x" train "$m/tiny-mlp.model" --load "$t/fifo"
entry "a FIFO with no writer as a model file" -- "$sim" describe "$t/fifo"
entry "a model file over the size bound" -- "$sim" describe "$t/huge.model"
entry "a stray byte in a model file" -- "$sim" describe "$t/byte.model"
entry "more ops than a job may have (simulator)" -- "$sim" run "$m/tiny-mlp.model" --batch 268435456 -m 268435456
entry "more ops than a job may have (executor)" -- "$x" train "$m/tiny-mlp.model" --batch 2147483647 -m 2147483647
entry "op lists larger than the memory (ulimit -v 8000000)" -- bash -c 'ulimit -v 8000000 && exec "$0" run "$1" --batch 1048576 -m 1048576 --stages 64' "$sim" "$m/mlp32.model"
entry "zero stages" -- "$sim" describe "$m/mlp32.model" --stages 0
entry "a learning rate that is not a number" -- "$x" train "$m/tiny-mlp.model" --lr nan
entry "--checkpoint-every without --checkpoint" -- "$x" train "$m/tiny-mlp.model" --checkpoint-every 2
entry "an optimizer that does not exist" -- "$x" train "$m/tiny-mlp.model" --optimizer adam
entry "SGD's momentum given to AdamW" -- "$x" train "$m/tiny-mlp.model" --optimizer adamw --momentum 0.5
entry "a warm-up longer than the run" -- "$x" train "$m/tiny-mlp.model" --iters 5 --warmup-iters 6
entry "an evaluation smaller than a microbatch" -- "$x" train "$m/tiny-mlp.model" --eval-every 1 --eval-samples 3
entry "zero-bubble op costs for 1f1b" -- "$sim" run "$m/mlp32.model" --batch 256 -m 4 --stages 2 --schedule 1f1b --zb-costs 1:2:1
entry "unknown command" -- "$x" trian "$m/mlp32.model"

{
  echo "# Bad input: what the user sees"
  echo
  echo "Every mistake below was made against the built programs by \`experiments/bad-inputs.sh\`,"
  echo "which wrote this table (exit status 2 means a usage or input error; files under /tmp are the"
  echo "script's own). Each has a test in tests/ as well. Runtime faults (a killed or hung rank, a"
  echo "kill during a checkpoint, NaN during training) are in tests/test-faults.sh; outputs onto a full"
  echo "disk and a kill while replacing a checkpoint in tests/test-files.sh. Exit status 1 is a write"
  echo "that failed, not the input's fault."
  echo
  echo "| input | command | exit | what the user sees |"
  echo "|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} >"$out"
echo "bad-inputs: ${#rows[@]} cases written to $out"
