#!/usr/bin/env bash
# run.sh — set up, build and run pipecast's tests (meson test), then print the line
# `N passed, N failed` (", N skipped" when some were), counting every TAP subtest.
# Exits non-zero when a test fails.
#
# Usage: tests/run.sh [--sanitize] [SUITE...]
#   default         every suite but slow, in build/
#   --sanitize      the same under AddressSanitizer and UndefinedBehaviorSanitizer, in
#                   build-asan/ (without the crosscheck suite, which runs PyTorch, and the
#                   valgrind one, which checks the plain build)
set -uo pipefail
cd "$(dirname "$0")/.."
build=build
sanitize=0
if [ "${1:-}" = "--sanitize" ]; then
  sanitize=1
  build=build-asan
  shift
fi
experiments/setup.sh build || exit 1
source experiments/env.sh
# The crosscheck suite compares every layer kind with PyTorch (Debian's python3-torch); without
# it those tests skip, so install it when that suite runs (a failed install is not a failed test)
source experiments/packages.sh
if [ "$sanitize" = 0 ] && { (($# == 0)) || [[ " $* " == *" crosscheck "* ]]; }; then
  pc_need_packages tests python3-torch python3-torchvision ||
    echo "tests: PyTorch could not be installed: the crosscheck tests will skip" >&2
fi
# The valgrind suite (part of mpi) runs the plain build under memcheck
if [ "$sanitize" = 0 ] && { (($# == 0)) || [[ " $* " == *" valgrind "* || " $* " == *" mpi "* ]]; }; then
  pc_need_packages tests valgrind ||
    echo "tests: valgrind could not be installed: the valgrind tests will skip" >&2
fi
# The cluster suite (part of mpi) builds emulated nodes with iproute2 (ip, tc); the faults and
# cluster suites find ranks with procps (pgrep, pkill)
if { (($# == 0)) || [[ " $* " == *" mpi "* ]]; }; then
  pc_need_packages tests iproute2 procps ||
    echo "tests: iproute2 or procps could not be installed: the cluster tests will skip" >&2
fi
args=()
if (($#)); then for s in "$@"; do args+=(--suite "$s"); done
else args+=(--no-suite slow); fi
if [ "$sanitize" = 1 ]; then
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false >&2 || exit 1
  fi
  meson compile -C "$build" >&2 || exit 1
  (($#)) || args+=(--no-suite crosscheck --no-suite valgrind)
  # full unwinding, so that the suppressions see the Open MPI frames under an allocation
  export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:detect_odr_violation=0:fast_unwind_on_malloc=0
  export LSAN_OPTIONS=suppressions=$PWD/tests/lsan.supp:print_suppressions=0
  export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
  args+=(--timeout-multiplier 4) # instrumented code runs a few times slower
fi
meson test -C "$build" --print-errorlogs "${args[@]}" </dev/null
status=$?
# meson writes one JSON object per test program; count the TAP results inside each (a program
# that crashed or timed out counts as one more failure).
log=$build/meson-logs/testlog.json
if [ -f "$log" ]; then
  python3 - "$log" <<'PY'
import json, re, sys
passed = failed = skipped = 0
for line in open(sys.argv[1]):
    if not line.strip():
        continue
    t = json.loads(line)
    result = t.get("result", "ERROR")
    ok = nok = skip = 0
    for out in (t.get("stdout") or "").splitlines():
        if re.match(r"ok\b", out):
            if re.search(r"#\s*skip", out, re.I): skip += 1
            else: ok += 1
        elif re.match(r"not ok\b", out):
            if re.search(r"#\s*todo", out, re.I): ok += 1
            else: nok += 1
    if ok + nok + skip == 0:  # not TAP, or nothing ran
        ok = result in ("OK", "EXPECTEDFAIL")
        skip = result == "SKIP"
        nok = not ok and not skip
    elif result not in ("OK", "EXPECTEDFAIL", "SKIP") and nok == 0:
        nok = 1  # the program failed after its last TAP line
    passed += ok; failed += nok; skipped += skip
print(f"{passed} passed, {failed} failed" + (f", {skipped} skipped" if skipped else ""))
PY
else
  echo "0 passed, 1 failed"
  status=1
fi
exit $status
