#!/usr/bin/env bash
# bench-train.sh — training-step time of mlp32 (width 1024, batch 256), vgg16 and resnet50
# (3x32x32, batch 32) and GPT-2 small (sequence 256, batch 4), single thread, pipecast beside PyTorch in the same run (when
# /usr/bin/python3 has torch and torchvision; else that column says "absent"), then the layers'
# throughput against bare cblas_sgemm at the same GEMM shapes (bench-kernels).
#
# Usage: experiments/bench-train.sh [ITERS [ROUNDS]]
# Each round runs every model in pipecast then in PyTorch (median of ITERS steps after one
# warm-up, default 5); ROUNDS rounds (default 3) interleave the two, so that a slow phase of this
# shared machine hits one try of each side, not all of one side. Per model the table gives each
# side's fastest round and their ratio, and every round's ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-5}
rounds=${2:-3}
source experiments/bench-env.sh
has_torch=0
/usr/bin/python3 -c "import torch, torchvision" 2>/dev/null && has_torch=1
min() { sort -g | head -1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }

echo "# bench-train: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-default} OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS, medians of $iters steps, best of $rounds interleaved rounds"
models=("mlp32 256" "vgg16 32" "resnet50 32" "gpt2 4 seq=256")
declare -A pc pt
for ((r = 1; r <= rounds; r++)); do
  for spec in "${models[@]}"; do
    set -- $spec
    pc[$1]+="$(summary_median "$x" train "models/$1.model" --batch "$2" ${3:+--set "$3"} \
                 --iters $((iters + 1)) --warmup 1 --print-every 1000000) "
    if [ "$has_torch" = 1 ]; then
      pt[$1]+="$(/usr/bin/python3 experiments/torch_train.py "$1" "$iters" | awk '{print $2}' | median) "
    fi
  done
done
printf "%-10s %6s %12s %12s %8s   %s\n" model batch pipecast_s pytorch_s ratio "per round (pipecast/pytorch)"
for spec in "${models[@]}"; do
  set -- $spec
  a=$(echo ${pc[$1]} | tr ' ' '\n' | min)
  if [ "$has_torch" = 1 ]; then
    b=$(echo ${pt[$1]} | tr ' ' '\n' | min)
    read -ra xs <<<"${pc[$1]}"
    read -ra ys <<<"${pt[$1]}"
    each=$(for ((k = 0; k < rounds; k++)); do ratio "${xs[k]}" "${ys[k]}"; echo -n " "; done)
    printf "%-10s %6d %12s %12s %8s   %s\n" "$1" "$2" "$a" "$b" "$(ratio "$a" "$b")" "$each"
  else
    printf "%-10s %6d %12s %12s %8s\n" "$1" "$2" "$a" absent -
  fi
done
echo
echo "# the layers against bare cblas_sgemm at the same shapes"
build/experiments/bench-kernels 3
