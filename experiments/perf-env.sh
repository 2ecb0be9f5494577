# perf-env.sh — environment for benchmarks and experiments; source it after env.sh.
# OpenBLAS picks its kernels by CPU model when it loads; a build older than the CPU falls back to
# its slowest (Prescott, SSE3) kernels. When OPENBLAS_CORETYPE is unset, choose the best family
# the CPU supports, so pipecast and PyTorch (which loads the same OpenBLAS through libblas.so.3)
# both run at the machine's speed. The tests keep OpenBLAS's own choice.
if [ -z "${OPENBLAS_CORETYPE:-}" ]; then
  if grep -qw avx512f /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=SkylakeX
  elif grep -qw avx2 /proc/cpuinfo 2>/dev/null; then export OPENBLAS_CORETYPE=Haswell
  fi
fi
