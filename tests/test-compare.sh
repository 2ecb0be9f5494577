#!/bin/sh
# test-compare.sh — `pipecast-sim compare MEASURED.json PREDICTED.json` on real traces the test
# makes (tiny-mlp trained by pipecast-exec, one process, and two stages under mpirun when it is
# installed; predicted by pipecast-sim run), on a hand-written pair with known numbers, and its
# input errors (exit status 2 and a message naming the problem). TAP on stdout.
# Needs PC_SIM, PC_EXEC and PC_MODELS_DIR.
set -u
sim=${PC_SIM:?PC_SIM is not set}
x=${PC_EXEC:?PC_EXEC is not set}
models=${PC_MODELS_DIR:?PC_MODELS_DIR is not set}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"

# check DESCRIPTION AWK-PROGRAM: the awk program run on the last stdout must exit 0.
check() {
  if awk -F, "$2" "$tmp/out"; then ok "$1"; else echo "# awk: $2"; not_ok "$1"; fi
}

mlp="$models/tiny-mlp.model"
args="--batch 8 --microbatches 2 --schedule gpipe"

# --- one process: measured against predicted ----------------------------------------------
"$x" train "$mlp" -p 8 $args --iters 2 --warmup 1 --trace "$tmp/m1.json" >"$tmp/out" 2>"$tmp/err" </dev/null ||
  { not_ok "pipecast-exec train --trace (one process)"; }
"$sim" run "$mlp" -p 8 $args --trace "$tmp/p1.json" >"$tmp/out" 2>"$tmp/err" ||
  { not_ok "pipecast-sim run --trace (one stage)"; }
expect 0 "" "compare: one stage, table" -- "$sim" compare "$tmp/m1.json" "$tmp/p1.json"
if grep -q '^ *0  FWD *2 ' "$tmp/out" && grep -q '^ *0  BWD *2 ' "$tmp/out" &&
   grep -q '^ *0  OPT *1 ' "$tmp/out" && grep -q 'largest absolute error' "$tmp/out"; then
  ok "table: stage 0 has FWD x2, BWD x2, OPT x1 and the largest errors"
else not_ok "table: stage 0 has FWD x2, BWD x2, OPT x1 and the largest errors"; fi
expect 0 "" "compare --format csv" -- "$sim" compare --format csv "$tmp/m1.json" "$tmp/p1.json"
check "csv: header, 3 rows per kind, positive means, ratio = measured / predicted" '
  NR == 1 { ok = $0 == "stage,op,count,measured_mean_s,predicted_mean_s,ratio,measured_total_s,predicted_total_s"; next }
  NF == 0 { exit }
  { rows++; if (!($4 > 0 && $5 > 0)) ok = 0; r = $4 / $5; if (r / $6 > 1.001 || r / $6 < 0.999) ok = 0 }
  END { exit !(ok && rows == 3) }'
expect 0 "" "a trace against itself" -- "$sim" compare -f csv "$tmp/m1.json" "$tmp/m1.json"
check "a trace against itself: every ratio 1, every error 0" '
  /^stage,index/ { part = 2; next } NR == 1 || NF == 0 { next }
  part != 2 && $6 != 1 { exit 1 } part == 2 && $7 != 0 { exit 1 }'

# --- known numbers -------------------------------------------------------------------------
ev() { printf '{"name":"%s","cat":"compute","ph":"X","pid":%d,"tid":%d,"ts":%s,"dur":%s,"args":{"op":%d,"mb":%d}}' "$@"; }
{
  printf '{"traceEvents":[\n{"name":"process_name","ph":"M","pid":0,"tid":0,"args":{"name":"m"}},\n'
  ev FWD 0 0 0 10 0 0; printf ',\n'; ev FWD 0 0 10 30 1 1; printf ',\n'
  ev BWD 0 0 40 100 2 1; printf ',\n'; ev BWD 0 0 140 100 3 0; printf ',\n'; ev OPT 0 0 240 60 4 -1
  printf '\n],"displayTimeUnit":"ms"}\n'
} >"$tmp/known-m.json"
{
  printf '{"displayTimeUnit":"ms","traceEvents":[ '
  # the same ops in another order, with other spacing
  ev OPT 0 0 200 50 4 -1; printf ' , '; ev BWD 0 0 100 50 3 0; printf ','; ev BWD 0 0 50 50 2 1
  printf ','; ev FWD 0 0 0 10 0 0; printf ','; ev FWD 0 0 10 10 1 1
  printf ']}'
} >"$tmp/known-p.json"
expect 0 "" "compare: hand-written pair" -- "$sim" compare -f csv -n 2 "$tmp/known-m.json" "$tmp/known-p.json"
check "known numbers: FWD 20 us vs 10 us (ratio 2), BWD 100 vs 50, OPT 60 vs 50; top op BWD" '
  $2 == "FWD" && !($3 == 2 && $4 == 2e-05 && $5 == 1e-05 && $6 == 2) { exit 1 }
  $2 == "BWD" && !($3 == 2 && $4 == 1e-04 && $5 == 5e-05 && $6 == 2) { exit 1 }
  $2 == "OPT" && !($3 == 1 && $6 == 1.2) { exit 1 }
  /^stage,index/ { part = 2; next }
  part == 2 && NF == 7 { top++; if (top == 1 && !($3 == "BWD" && $2 == 2 && $7 == -5e-05)) exit 1 }
  END { exit top != 2 }'
expect 0 "" "table mode: iteration times" -- "$sim" compare "$tmp/known-m.json" "$tmp/known-p.json"
if grep -q 'iteration 0.000300 s' "$tmp/out" && grep -q 'iteration 0.000250 s, -16.7%' "$tmp/out"; then
  ok "table: iteration = latest end (300 us measured, 250 us predicted, -16.7%)"
else not_ok "table: iteration = latest end (300 us measured, 250 us predicted, -16.7%)"; fi

# --- two stages under mpirun ---------------------------------------------------------------
if command -v mpirun >/dev/null 2>&1; then
  if mpirun -n 2 "$x" train "$mlp" -p "fc1..relu2 | fc3.." $args --iters 2 --warmup 1 --timeout 60 \
       --trace "$tmp/m2.json" >"$tmp/out" 2>"$tmp/err" </dev/null &&
     "$sim" run "$mlp" -p "fc1..relu2 | fc3.." $args --trace "$tmp/p2.json" >"$tmp/out" 2>"$tmp/err"; then
    expect 0 "" "compare: two stages" -- "$sim" compare -f csv "$tmp/m2.json" "$tmp/p2.json"
    check "two stages: SEND and RECV rows on both stages" '
      $2 == "SEND" { s[$1]++ } $2 == "RECV" { r[$1]++ } NF == 0 { exit }
      END { exit !(s[0] && s[1] && r[0] && r[1]) }'
    expect 2 "traces of different schedules" "one stage against two: error" -- \
      "$sim" compare "$tmp/m1.json" "$tmp/p2.json"
  else
    not_ok "two-stage traces (mpirun -n 2 pipecast-exec train, pipecast-sim run)"
  fi
else
  skip "compare: two stages" "mpirun not installed"
fi

"$sim" run "$mlp" -p 8 --batch 8 --microbatches 4 --schedule gpipe --trace "$tmp/p4.json" >/dev/null 2>&1
printf '{"traceEvents":[{"name":"FWD","ph":"X","pid":0,\n' >"$tmp/cut.json"

# --- run --durations: a trace replayed in the engine ----------------------------------------
# replay_check TOLERANCE: the last `run --durations -f csv` printed a replayed iteration_s ($8)
# within TOLERANCE (relative) of the trace's own, trace_iteration_s ($17)
replay_check() {
  awk -F, -v tol="$1" 'NR == 1 { ok = $8 == "iteration_s" && $17 == "trace_iteration_s" }
    NR == 2 { r = $8 / $17; ok = ok && $17 > 0 && r > 1 - tol && r < 1 + tol; exit }
    END { exit !ok }' "$tmp/out"
}
{
  printf '{"traceEvents":[\n'
  ev FWD 0 0 0 10 0 0; printf ',\n'; ev FWD 0 0 10 30 1 1; printf ',\n'
  ev BWD 0 0 40 100 2 0; printf ',\n'; ev BWD 0 0 140 100 3 1; printf ',\n'; ev OPT 0 0 240 60 4 -1
  printf '\n]}\n'
} >"$tmp/known-r.json"
expect 0 "" "run --durations: the hand-written trace" -- \
  "$sim" run "$mlp" -p 8 --batch 8 --microbatches 2 --schedule gpipe --durations "$tmp/known-r.json" -f csv
if awk -F, 'NR == 2 { exit !($8 == 0.0003 && $17 == 0.0003) }' "$tmp/out"; then
  ok "run --durations: one stage replays 10 + 30 + 100 + 100 + 60 us = its 300 us"
else sed 's/^/# /' "$tmp/out"; not_ok "run --durations: one stage replays 10 + 30 + 100 + 100 + 60 us = its 300 us"; fi
expect 0 "" "run --durations: a predicted trace" -- \
  "$sim" run "$mlp" -p 8 $args --durations "$tmp/p1.json" -f csv
if replay_check 1e-5; then ok "a predicted one-stage trace replays to its own time"
else sed 's/^/# /' "$tmp/out"; not_ok "a predicted one-stage trace replays to its own time"; fi
# A measured trace replayed with its own durations: deterministic whatever the machine's speed.
# One stage runs its ops back to back, so the replayed iteration is the sum of the trace's own op
# durations (the gaps between them, which a measured trace has, are not ops), and the replayed
# trace holds the same ops in the same order with the same durations. How near the replay comes
# to the measured iteration itself is a timing claim: studies print it (validate.py's replay).
expect 0 "" "run --durations: a measured trace" -- \
  "$sim" run "$mlp" -p 8 $args --durations "$tmp/m1.json" -f csv --trace "$tmp/r1.json"
sum=$(awk -F'"dur":' '/"cat":"compute"/ { split($2, d, ","); s += d[1] } END { printf "%.9g", s * 1e-6 }' "$tmp/m1.json")
if awk -F, -v sum="$sum" 'NR == 2 { r = $8 / sum; exit !(sum > 0 && r > 1 - 1e-4 && r < 1 + 1e-4) }' "$tmp/out"
then ok "a measured one-process trace replays to the sum of its own op durations ($sum s)"
else sed 's/^/# /' "$tmp/out"; not_ok "a measured one-process trace replays to the sum of its own op durations ($sum s)"; fi
expect 0 "" "the replayed trace against the measured one" -- \
  "$sim" compare -f csv "$tmp/m1.json" "$tmp/r1.json"
check "the replay keeps every op, its order and its duration: every ratio 1, every error 0" '
  /^stage,index/ { part = 2; next } NR == 1 || NF == 0 { next }
  part != 2 { rows++; if ($6 != 1) exit 1 } part == 2 { ops++; if ($7 != 0) exit 1 }
  END { exit !(rows == 3 && ops > 0) }'
"$sim" run "$mlp" -p 8 $args --durations "$tmp/m1.json" >"$tmp/out" 2>&1
if grep -q "compute durations: replayed from $tmp/m1.json (its iteration" "$tmp/out"; then
  ok "run --durations, table: names the trace and its time"
else sed 's/^/# /' "$tmp/out"; not_ok "run --durations, table: names the trace and its time"; fi
if [ -f "$tmp/p2.json" ]; then
  expect 0 "" "run --durations: a predicted two-stage trace" -- \
    "$sim" run "$mlp" -p "fc1..relu2 | fc3.." $args --durations "$tmp/p2.json" -f csv
  if replay_check 1e-5; then ok "a predicted two-stage trace replays to its own time (messages modelled alike)"
  else sed 's/^/# /' "$tmp/out"; not_ok "a predicted two-stage trace replays to its own time (messages modelled alike)"; fi
  # a measured OPT holds the tied weight's exchange and the clipping's meeting, waits included:
  # the replay does not model them again (GPT-2's embedding and head on two stages)
  gpt="$models/gpt2.model --set n_layer=2,n_head=2,n_embd=32,seq=16,vocab=64 --stages 2 --batch 8 -m 4 --schedule 1f1b"
  for clip in 0 1; do
    # shellcheck disable=SC2086
    "$sim" run $gpt --clip-grad-norm $clip --trace "$tmp/tied.json" >/dev/null 2>&1
    # shellcheck disable=SC2086
    "$sim" run $gpt --clip-grad-norm $clip --durations "$tmp/tied.json" -f csv >"$tmp/out" 2>&1
    if replay_check 1e-5; then ok "a predicted trace with a tied weight across the stages (clipping $clip) replays to its own time"
    else sed 's/^/# /' "$tmp/out"; not_ok "a predicted trace with a tied weight across the stages (clipping $clip) replays to its own time"; fi
  done
  expect 2 "p2.json: not a trace of this schedule: 2 stages, the schedule 1" \
    "run --durations: a trace of two stages for one: error" -- \
    "$sim" run "$mlp" -p 8 $args --durations "$tmp/p2.json"
fi
expect 2 "p4.json: not a trace of this schedule: stage 0 has" "run --durations: another microbatch count: error" -- \
  "$sim" run "$mlp" -p 8 $args --durations "$tmp/p4.json"
sed 's/"name":"BWD","cat":"compute","ph":"X","pid":0,"tid":0,"ts":40/"name":"FWD","cat":"compute","ph":"X","pid":0,"tid":0,"ts":40/' \
  "$tmp/known-r.json" >"$tmp/kind.json"
expect 2 "kind.json: not a trace of this schedule: stage 0, op 2 is FWD mb 0 in the trace, BWD mb 0 in the schedule" \
  "run --durations: another op kind: error naming the op" -- \
  "$sim" run "$mlp" -p 8 --batch 8 --microbatches 2 --durations "$tmp/kind.json"
expect 2 "nope.json" "run --durations: a missing file: error naming it" -- \
  "$sim" run "$mlp" -p 8 $args --durations "$tmp/nope.json"
expect 2 "cut.json:2:1: not a Chrome trace" "run --durations: a truncated trace: error" -- \
  "$sim" run "$mlp" -p 8 $args --durations "$tmp/cut.json"

# --- input errors ----------------------------------------------------------------------------
"$sim" run "$mlp" -p 8 --batch 8 --microbatches 4 --schedule gpipe --trace "$tmp/p4.json" >/dev/null 2>&1
expect 2 "traces of different schedules: stage 0 has" "other microbatch count: error" -- \
  "$sim" compare "$tmp/m1.json" "$tmp/p4.json"
expect 2 "nope.json" "missing file: error naming it" -- "$sim" compare "$tmp/nope.json" "$tmp/p1.json"
printf '{"traceEvents":[{"name":"FWD","ph":"X","pid":0,\n' >"$tmp/cut.json"
expect 2 "cut.json:2:1: not a Chrome trace" "truncated JSON: error with line and column" -- \
  "$sim" compare "$tmp/m1.json" "$tmp/cut.json"
printf 'FWD 0 10\n' >"$tmp/text.json"
expect 2 "text.json:1:1: not a Chrome trace" "not JSON: error" -- "$sim" compare "$tmp/text.json" "$tmp/p1.json"
printf '{"traceEvents":[{"name":"FWD","ph":"X","pid":0,"ts":0,"dur":1}]}' >"$tmp/noop.json"
expect 2 "without pid, ts, dur or args.op" "an op without args.op: error" -- \
  "$sim" compare "$tmp/noop.json" "$tmp/p1.json"
printf '{"traceEvents":[]}\n' >"$tmp/empty.json"
printf '{"traceEvents":{"name":"FWD"}}' >"$tmp/obj.json"
expect 2 "obj.json:1:16: not a Chrome trace: traceEvents is not an array" "traceEvents not an array: error" -- \
  "$sim" compare "$tmp/obj.json" "$tmp/p1.json"
printf '{"traceEvents":[{"ph":"M"} {"ph":"M"}]}' >"$tmp/comma.json"
expect 2 "expected ',' or ']' in traceEvents" "events without a comma: error" -- \
  "$sim" compare "$tmp/comma.json" "$tmp/p1.json"
printf '{"traceEvents":[{"ph":"M","args":{"a":[1,{"b":[]}] "c":2}}]}' >"$tmp/args.json"
expect 2 "args.json:1:52: not a Chrome trace: expected ',' or '}'" "a member without a comma inside args: error at it" -- \
  "$sim" compare "$tmp/args.json" "$tmp/p1.json"
printf '{"traceEvents":[]} x' >"$tmp/after.json"
expect 2 "text after the JSON object" "text after the object: error" -- \
  "$sim" compare "$tmp/after.json" "$tmp/p1.json"
# members the comparison does not use, nested arrays and objects among them, are skipped
sed 's/"traceEvents":\[/"other":{"x":[1,[2,{"y":null}],true,"s"]},"traceEvents":[/; s/"args":{/"args":{"extra":{"k":[false]},/' \
  "$tmp/m1.json" >"$tmp/extra.json"
if grep -q '"other":{"x"' "$tmp/extra.json" && grep -q '"args":{"extra"' "$tmp/extra.json" &&
   "$sim" compare "$tmp/extra.json" "$tmp/m1.json" >"$tmp/extra.out" 2>&1 &&
   grep -q "iteration .* s, +0.0%)" "$tmp/extra.out"; then ok "unused members skipped: the same trace compares equal"
else sed 's/^/# /' "$tmp/extra.out"; not_ok "unused members skipped: the same trace compares equal"; fi
printf '{"traceEvents":[{"name":"FWD","ph":"X","pid":1e300,"ts":0,"dur":1,"args":{"op":0}}]}' >"$tmp/bigpid.json"
expect 2 "bigpid.json:1:17: not a Chrome trace: an op event whose pid, args.op or args.mb is not a whole number" \
  "a pid out of range: error at its event" -- "$sim" compare "$tmp/bigpid.json" "$tmp/p1.json"
printf '{"traceEvents":[{"name":"FWD","ph":"X","pid":0,"ts":0,"dur":-1,"args":{"op":0}}]}' >"$tmp/negdur.json"
expect 2 "negdur.json:1:17: not a Chrome trace: an op event with a negative dur" \
  "a negative duration: error at its event" -- "$sim" compare "$tmp/negdur.json" "$tmp/p1.json"
expect 2 "no op events" "no ops: error" -- "$sim" compare "$tmp/empty.json" "$tmp/p1.json"
expect 2 "expected MEASURED.json PREDICTED.json" "one argument: usage error" -- "$sim" compare "$tmp/m1.json"
expect 2 "--format 'xml'" "bad --format: error" -- "$sim" compare -f xml "$tmp/m1.json" "$tmp/p1.json"

tap_end
