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
  echo "Each study is one command, \`experiments/study.sh MODEL [--quick]\`. It calibrates the link"
  echo "(\`mpirun -n 2 pipecast-exec calibrate\`), profiles every layer at the grid's microbatch sizes"
  echo "twice (\`mpirun -n 2 pipecast-exec profile\`: both cores busy; and one process: one core busy),"
  echo "then measures every cell of the grid — schedule (gpipe, 1f1b) x stages (1, 2: the cores of"
  echo "this machine, no oversubscription) x microbatches M — with \`pipecast-exec train\` (median of"
  echo "the timed iterations after warm-up; the grid is run twice, interleaved, and each cell keeps"
  echo "its faster try because the machine is shared), and predicts the same cell with"
  echo "\`pipecast-sim run\` on the same partition (auto:time) with the profile taken under the same"
  echo "load. The predicted lines for 2 to 16 stages come from \`pipecast-sim sweep\`. The error of a"
  echo "cell is (predicted - measured) / measured; MAPE is the mean of its absolute value. The worst"
  echo "cell is explained op by op by \`pipecast-sim compare\` of the two traces (the measured trace is"
  echo "the last iteration). Speedup is T(1 stage, same M) / T(P, M) (top row of each figure) and"
  echo "T(1 stage, M = 1) / T(P, M) (bottom row); dashed: the ideal P M / (M + P - 1)."
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
