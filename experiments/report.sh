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
  echo "\`$res/\`, on $(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)); each study's"
  echo "heading names the machine it measured on."
  echo
  echo "## How these were made"
  echo
  echo "Each study is one command, \`experiments/study.sh MODEL [--quick] [options]\` (its options are"
  echo "in each table's heading). It calibrates the link (\`mpirun -n 2 pipecast-exec calibrate\`) and"
  echo "runs each cell of the grid — schedule (gpipe, 1f1b) x stages (1, 2, 4, ... up to the cores of"
  echo "the machine it measured on, as each table's heading says; no oversubscription) x microbatches"
  echo "M, and for the CNNs K replicas at each process count K > 1 — for one iteration in its own"
  echo "processes (\`pipecast-exec train\`: the per-stage memory). Then in 3 rounds (2 for the quick"
  echo "mlp32 grid, or as many as its heading says) it profiles the whole model on every core"
  echo "(\`mpirun -n CORES pipecast-exec profile\`) and measures the cells of one process, then those"
  echo "of two, four, ..., side by side in one job each (\`pipecast-exec grid\`): every cell warmed up,"
  echo "then visited in turn, a visit one timed iteration followed by one profile repetition of the"
  echo "cell's own layers in its own runtime; the last round also profiles partitions of the stage"
  echo "counts beyond the machine (4, 8, 16) stage by stage. A cell's measured time is the median of"
  echo "its timed iterations over all its visits;"
  echo "its prediction is \`pipecast-sim run\` on the same partition (auto:time) with the median of"
  echo "all the profile samples taken under its conditions (pooled: predicted s, error). The error of"
  echo "a cell is (predicted - measured) / measured; MAPE is the mean of its absolute value. The"
  echo "headline pairs each visit with the profile sample its own processes took right after it: a"
  echo "visit's error is its iteration against the prediction from that sample, a cell's (paired) the"
  echo "median of its visits' errors; it leaves out the machine's wander between visits, which the"
  echo "pooled profile carries into the cells measured while the machine was slow or fast. The"
  echo "predicted lines for 2 to 16 stages come from \`pipecast-sim sweep\` with each stage count's"
  echo "partition profiles. The worst cell is explained op by op by \`pipecast-sim compare\`: of its"
  echo "traced visits (the last of each round), the one whose own error is nearest the cell's,"
  echo "against the prediction from the sample taken right after it."
  echo "Speedup is T(1 stage, same M) / T(P, M) (top row of each figure; a measured point's error"
  echo "bar spans the two cells' iterations: the one-stage cell's first quartile over the pipeline's"
  echo "third, and the third over the first)"
  echo "and T(1 stage, M = 1) / T(P, M) (bottom row); dashed: the ideal P M / (M + P - 1)."
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
