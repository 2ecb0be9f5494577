#!/usr/bin/env bash
# main.sh — the main job: set up (experiments/setup.sh), then the short form of the MLP-32 study
# (experiments/study.sh mlp32 --quick, about three minutes here): profile and calibrate, measure
# gpipe and 1f1b on 1 and 2 stages at a few microbatch counts, predict 1 to 16 stages, and end by
# printing the validation table (predicted against measured iteration time and memory, MAPE,
# worst cell and that cell op by op) and the path of the figure. Results in results/mlp32-quick/;
# the full studies, the report and what the numbers mean: docs/validation.md.
set -euo pipefail
cd "$(dirname "$0")/.."
experiments/setup.sh build
experiments/study.sh mlp32 --quick --out results/mlp32-quick
