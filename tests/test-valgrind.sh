#!/bin/sh
# test-valgrind.sh — the one-process trainer under valgrind's memcheck is clean: no invalid read
# or write, no use of uninitialised memory, no definite leak of pipecast's own (Open MPI's, in
# MPI_Init and its plugins, are suppressed by tests/valgrind.supp). Also a 2-rank pipelined run
# with each rank under valgrind (libpmix's writev false positive suppressed). Skipped without
# valgrind. TAP on stdout. Needs PC_EXEC and PC_MODELS_DIR.
set -u
x=${PC_EXEC:?PC_EXEC is not set}
models=${PC_MODELS_DIR:?PC_MODELS_DIR is not set}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
TAP_LOGS="$tmp/vg.0 $tmp/vg.1 $tmp/log"
. "$(dirname "$0")/tap.sh"
supp="$(dirname "$0")/valgrind.supp"
vg="valgrind --error-exitcode=9 --leak-check=full --errors-for-leak-kinds=definite --suppressions=$supp"

if ! command -v valgrind >/dev/null 2>&1; then
  skip "one-process trainer under valgrind" "valgrind is not installed"
  skip "2-rank pipeline under valgrind" "valgrind is not installed"
  tap_end
  exit 0
fi
# shellcheck disable=SC2086
if $vg --log-file="$tmp/vg.0" "$x" train "$models/tiny-cnn.model" --iters 2 --warmup 0 \
     --save "$tmp/w.pcw" >"$tmp/log" 2>&1 </dev/null &&
   grep -q "ERROR SUMMARY: 0 errors" "$tmp/vg.0"; then
  ok "one-process trainer (tiny-cnn, save) under valgrind: 0 errors"
else
  not_ok "one-process trainer (tiny-cnn, save) under valgrind: 0 errors"
fi
# shellcheck disable=SC2086
if mpirun -n 2 $vg --log-file="$tmp/vg.%q{OMPI_COMM_WORLD_RANK}" "$x" train "$models/tiny-resnet.model" \
     -p "..block1.conv1 | block1.bn1.." --batch 8 --microbatches 2 --iters 2 --warmup 0 \
     --save "$tmp/w2.pcw" >"$tmp/log" 2>&1 </dev/null; then :; fi
if grep -q "ERROR SUMMARY: 0 errors" "$tmp/vg.0" 2>/dev/null && grep -q "ERROR SUMMARY: 0 errors" "$tmp/vg.1" 2>/dev/null &&
   grep -q "^iter    2" "$tmp/log"; then
  ok "2-rank pipeline (tiny-resnet cut inside a block) under valgrind: 0 errors on each rank"
else
  not_ok "2-rank pipeline (tiny-resnet cut inside a block) under valgrind: 0 errors on each rank"
fi
tap_end
