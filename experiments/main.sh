#!/usr/bin/env bash
# main.sh — the main job: set up, then describe the three models of the study and print a
# balanced partition of each (for 4 stages, by FLOPs), with its spec and the tensors that cross.
set -euo pipefail
cd "$(dirname "$0")/.."
experiments/setup.sh build
source experiments/env.sh
sim=build/sim/pipecast-sim
stages=${PC_STAGES:-4}
for model in mlp32 vgg16 resnet50; do
  echo "=== $model: $stages stages balanced by forward+backward FLOPs ==="
  # The per-layer table is long; show the model summary, the stages and the crossing tensors.
  "$sim" describe "models/$model.model" --stages "$stages" --by flops |
    sed -n '1p; /^per sample/,$p'
  echo
done
echo "=== resnet50 at ImageNet size (--set input=3x224x224,classes=1000) ==="
"$sim" describe models/resnet50.model --set input=3x224x224,classes=1000 | grep '^per sample'
echo "=== vgg16 at ImageNet size ==="
"$sim" describe models/vgg16.model --set input=3x224x224,classes=1000 | grep '^per sample'
