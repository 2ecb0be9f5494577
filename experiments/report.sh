#!/usr/bin/env bash
# report.sh — results/report.md: the figures (PNG; the PDFs beside them are for papers) and the
# tables of every study that has been run (results/*/validation.md from experiments/validate.py),
# with how each was made. Run the studies first: experiments/study.sh mlp32|vgg16|resnet50.
# Usage: experiments/report.sh [RESULTS_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
res=${1:-results}
mkdir -p "$res"
out=$res/report.md
{
  echo "# pipecast: measured against predicted pipeline training"
  echo
  echo "Written by \`experiments/report.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC') from the studies under"
  echo "\`$res/\`; $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1))."
  echo
  echo "## How these were made"
  echo
  echo "Each study is one command, \`experiments/study.sh MODEL [--quick] [options]\` (its options are"
  echo "in each table's heading). It calibrates the link (\`mpirun -n 2 pipecast-exec calibrate\`),"
  echo "then in 3 rounds (or as many as its heading says) profiles the whole model on both cores"
  echo "(\`mpirun -n 2 pipecast-exec profile\`) and measures every cell of the grid — schedule (gpipe,"
  echo "1f1b) x stages (1, 2: the cores of this machine, no oversubscription) x microbatches M, and for"
  echo "the CNNs 2 replicas — with \`pipecast-exec train\`, whose processes then time the cell's own"
  echo "layers at its microbatch size (\`--profile-samples\`); each round also profiles partitions of"
  echo "4, 8 and 16 stages stage by stage. A cell's measured time is the median of its timed"
  echo "iterations over the rounds; its prediction is \`pipecast-sim run\` on the same partition"
  echo "(auto:time) with the median of all the profile samples taken under its conditions. The"
  echo "predicted lines for 2 to 16 stages come from \`pipecast-sim sweep\` with each stage count's"
  echo "partition profiles. The error of a"
  echo "cell is (predicted - measured) / measured; MAPE is the mean of its absolute value. The worst"
  echo "cell is explained op by op by \`pipecast-sim compare\` of the two traces (the measured trace is"
  echo "the last iteration of the try nearest the median). Speedup is T(1 stage, same M) / T(P, M) (top"
  echo "row of each figure) and T(1 stage, M = 1) / T(P, M) (bottom row); dashed: the ideal"
  echo "P M / (M + P - 1)."
  echo "Details and what remains off: \`docs/validation.md\`."
  for d in "$res"/*/; do
    d=${d%/}
    [ -f "$d/validation.md" ] || continue
    name=$(basename "$d")
    echo
    echo "## $name"
    echo
    [ -f "$d/speedup.png" ] && echo "![$name speedup]($name/speedup.png)" && echo &&
      echo "Figure: \`$d/speedup.png\` (PDF: \`$d/speedup.pdf\`); data \`$d/speedup.csv\`." && echo
    [ -f "$d/dp.png" ] && echo "![$name pipeline vs data parallel]($name/dp.png)" && echo &&
      echo "Figure: \`$d/dp.png\` (PDF: \`$d/dp.pdf\`); data \`$d/dp.csv\`." && echo
    sed 's/^### /### /' "$d/validation.md"
  done
} >"$out"
echo "report: $out"
