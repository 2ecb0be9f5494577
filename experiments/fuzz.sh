#!/usr/bin/env bash
# fuzz.sh — run the libFuzzer targets of tests/fuzz against pipecast's readers (model language,
# partition specs, profile/net/GEMM tables, weights files, checkpoints, Chrome traces, token files). Installs
# clang and libFuzzer when missing (as root through apt-get, like setup.sh), configures
# build-fuzz with AddressSanitizer and UndefinedBehaviorSanitizer, then runs each target for
# SECONDS on a copy of its seed corpus (tests/fuzz/corpus/TARGET; new inputs go to
# build-fuzz/fuzz-corpus/TARGET), one target at a time, one job. A crash, a leak, undefined
# behaviour, a hang (-timeout=10) or memory over 2 GiB stops the script with a non-zero status
# naming the target and the file that reproduces it (build-fuzz/fuzz-artifacts/TARGET/). Make such a file a regression test:
# copy it to tests/fuzz/regressions/TARGET/ (tests/test-regressions.c feeds every file there).
# Usage: experiments/fuzz.sh [SECONDS] [TARGET...]   (default 600 s; every target)
# Targets: model partition profile net gemm weights checkpoint trace tokens
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
[ $# -gt 0 ] && shift
all=(model partition profile net gemm weights checkpoint trace tokens)
targets=("$@")
((${#targets[@]})) || targets=("${all[@]}")
build=build-fuzz

source experiments/packages.sh
pc_need_packages fuzz clang libclang-rt-14-dev gcc libc6-dev pkg-config meson ninja-build \
  libglib2.0-dev libopenblas-dev libopenmpi-dev openmpi-bin

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false >&2
fi
for t in "${targets[@]}"; do
  case " ${all[*]} " in *" $t "*) ;; *) echo "fuzz: unknown target '$t' (${all[*]})" >&2; exit 2;; esac
done
ninja -C "$build" $(printf 'tests/fuzz/fuzz-%s ' "${targets[@]}") >&2

export OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
for t in "${targets[@]}"; do
  corpus=$build/fuzz-corpus/$t artifacts=$build/fuzz-artifacts/$t
  mkdir -p "$corpus" "$artifacts"
  cp -n tests/fuzz/corpus/"$t"/* "$corpus"/ 2>/dev/null || true
  log=$build/fuzz-$t.log
  echo "fuzz: $t for ${seconds}s (log: $log)" >&2
  status=0
  "$build/tests/fuzz/fuzz-$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$corpus" \
    >"$log" 2>&1 || status=$?
  grep -E '^#[0-9]+[[:space:]]+(DONE|INITED)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' \
    "$log" >&2 || true
  if [ "$status" -ne 0 ]; then
    crash=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    grep -E 'ERROR|SUMMARY|runtime error|fuzz:' "$log" | head -5 >&2 || true
    echo "fuzz: target $t FAILED (status $status): reproduce with $build/tests/fuzz/fuzz-$t ${crash:-(see $log)}" >&2
    exit 1
  fi
done
echo "fuzz: ${targets[*]}: no failure in ${seconds}s each" >&2
