#!/bin/sh
# test-train.sh — the one-process trainer learns: on the synthetic task a narrow mlp32 (width 256,
# all 32 layers) and a small CNN reach at least 90% training accuracy (mean over the last 100
# iterations) within a few hundred iterations. TAP on stdout. Needs PC_EXEC and PC_MODELS_DIR.
set -u
x=${PC_EXEC:?PC_EXEC is not set}
models=${PC_MODELS_DIR:?PC_MODELS_DIR is not set}
export OPENBLAS_NUM_THREADS=1
n=0
fails=0
# learns NAME MIN_ACCURACY ARGS...
learns() {
  name=$1 min=$2
  shift 2
  out=$("$x" train "$@" --print-every 100 </dev/null 2>&1)
  acc=$(printf '%s\n' "$out" | awk '/^iter /{a=$6} END {print a}')
  n=$((n + 1))
  if [ -n "$acc" ] && awk -v a="$acc" -v m="$min" 'BEGIN {exit !(a >= m)}'; then
    echo "ok $n - $name reaches accuracy $acc (>= $min)"
  else
    fails=$((fails + 1))
    echo "not ok $n - $name reaches accuracy ${acc:-?} (want >= $min)"
    printf '%s\n' "$out" | sed 's/^/# /' | tail -8
  fi
}
learns "mlp32 width 256, 500 iterations" 0.90 "$models/mlp32.model" --set width=256,input=64 \
  --batch 32 --iters 500 --lr 0.003
learns "small CNN (tiny-cnn 3x16x16, 10 classes), 400 iterations" 0.90 "$models/tiny-cnn.model" \
  --set input=3x16x16,classes=10 --batch 32 --iters 400 --lr 0.02
echo "1..$n"
[ "$fails" -eq 0 ]
