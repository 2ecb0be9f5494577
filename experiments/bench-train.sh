#!/usr/bin/env bash
# bench-train.sh — training-step time of mlp32 (width 1024, batch 256), vgg16 and resnet50
# (3x32x32, batch 32), single thread, pipecast beside PyTorch in the same run (when
# /usr/bin/python3 has torch and torchvision; else that column says "absent"), then the layers'
# throughput against bare cblas_sgemm at the same GEMM shapes (bench-kernels).
# Medians of ITERS steps after one warm-up. Usage: experiments/bench-train.sh [ITERS]
set -euo pipefail
cd "$(dirname "$0")/.."
iters=${1:-5}
experiments/setup.sh build >/dev/null
source experiments/env.sh
source experiments/perf-env.sh
x=build/exec/pipecast-exec
has_torch=0
/usr/bin/python3 -c "import torch, torchvision" 2>/dev/null && has_torch=1
median() { sort -g | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }

echo "# bench-train: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-default} OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS, medians of $iters steps"
printf "%-10s %6s %14s %14s %10s\n" model batch pipecast_s pytorch_s ratio
for spec in "mlp32 256" "vgg16 32" "resnet50 32"; do
  set -- $spec
  model=$1 batch=$2
  pc=$("$x" train "models/$model.model" --batch "$batch" --iters $((iters + 1)) --warmup 1 \
         --print-every 1000000 | sed -n 's/.*median \([0-9.]*\) s.*/\1/p')
  if [ "$has_torch" = 1 ]; then
    pt=$(/usr/bin/python3 experiments/torch_train.py "$model" "$iters" | awk '{print $2}' | median)
    ratio=$(awk -v a="$pc" -v b="$pt" 'BEGIN {printf "%.2f", a / b}')
  else
    pt=absent ratio=-
  fi
  printf "%-10s %6d %14s %14s %10s\n" "$model" "$batch" "$pc" "$pt" "$ratio"
done
echo
echo "# the layers against bare cblas_sgemm at the same shapes"
build/experiments/bench-kernels 3
