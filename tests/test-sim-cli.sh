#!/bin/sh
# test-sim-cli.sh — pipecast-sim run and sweep from the command line: outputs on the tiny models
# and mlp32 with analytic costs and with a profile, determinism (byte-identical output and
# traces), figures (when gnuplot is on PATH), and exit status 2 with a message naming the problem
# for each kind of bad input. TAP on stdout. Needs PC_SIM and PC_MODELS_DIR.
set -u
sim=${PC_SIM:?PC_SIM is not set}
models=${PC_MODELS_DIR:?PC_MODELS_DIR is not set}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"

# A profile of tiny-mlp at microbatches 1 and 8 (every layer 10/20 us at 1, 40/80 us at 8).
{
  printf '# model tiny-mlp\n# overhead_s 1e-6\nlayer\tkind\tmb\tfwd_s\tbwd_s\topt_s\n'
  for l in fc1:fc relu1:relu fc2:fc relu2:relu fc3:fc relu3:relu fc4:fc loss:softmax_xent; do
    name=${l%%:*} kind=${l#*:}
    printf '%s\t%s\t1\t1e-5\t2e-5\t1e-6\n%s\t%s\t8\t4e-5\t8e-5\t1e-6\n' "$name" "$kind" "$name" "$kind"
  done
} >"$tmp/prof.tsv"
grep -v '^relu2' "$tmp/prof.tsv" >"$tmp/prof-missing.tsv"
sed 's/^fc3\tfc\t8\t4e-5/fc3\tfc\t8\t-4e-5/' "$tmp/prof.tsv" >"$tmp/prof-negative.tsv"
sed 's/^fc3\tfc\t8\t4e-5/fc3\tfc\t8\tnan/' "$tmp/prof.tsv" >"$tmp/prof-nan.tsv"
printf '# send_overhead_s 1e-6\nlink\tbytes\tlatency_s\tseconds_per_byte\nintra\t0\t1e-6\t2e-10\ninter\t0\t5e-6\t1e-9\n' >"$tmp/net.tsv"
printf '# calibrated\nlink\tbytes\tlatency_s\tseconds_per_byte\n' >"$tmp/net-empty.tsv"
printf 'link\tsize\tlatency_s\tseconds_per_byte\nintra\t0\t1e-6\t1e-9\n' >"$tmp/net-header.tsv"
printf 'm\tn\tk\tgflops\n8\t1024\t1024\t40\n256\t1024\t1024\t70\n' >"$tmp/gemm.tsv"

# --- run: outputs
expect 0 "" "run mlp32, 4 stages, 1f1b, analytic" -- "$sim" run "$models/mlp32.model" --stages 4 --schedule 1f1b --batch 256 --microbatches 8
stdout_has "iteration time" "run: iteration time"
stdout_has "samples/s" "run: throughput"
stdout_has "over 1 stage with 8 microbatches" "run: speedup over one stage, same microbatching"
stdout_has "over 1 stage with 1 microbatch" "run: speedup over one stage, one microbatch"
stdout_has "2.9091 = P*M/(M+P-1)" "run: ideal speedup 4*8/11"
stdout_has "memory_bytes" "run: per-stage table"
if [ "$(grep -cE '^ +[0-3] +1[5-7] ' "$tmp/out")" -eq 4 ]; then ok "run: one row per stage"; else not_ok "run: one row per stage"; fi
expect 0 "" "run tiny-mlp (split markers), gpipe, csv" -- "$sim" run "$models/tiny-mlp.model" --schedule gpipe --batch 8 --microbatches 4 --format csv
stdout_has "model,schedule,stages,replicas,microbatches,batch,microbatch_size,iteration_s" "run csv: summary header"
stdout_has "tiny-mlp,gpipe,2,1,4,8,2," "run csv: summary row"
stdout_has "stage,first,last,layers,fwd_s,bwd_s,opt_s,allreduce_s,busy_s,comm_s,idle_s,bubble,peak_inflight,memory_bytes" "run csv: stage header"
stdout_has "1,fc3,loss,4," "run csv: the second stage from the split marker"
expect 0 "" "run tiny-cnn, 3 stages by params" -- "$sim" run "$models/tiny-cnn.model" --stages 3 --by params --batch 16 --microbatches 4
expect 0 "" "run tiny-resnet cut inside a block" -- "$sim" run "$models/tiny-resnet.model" -p "conv1..block1.bn1 | block1.relu1..loss" --batch 8 --microbatches 2 --gemm "$tmp/gemm.tsv"
stdout_has "GEMM rates of" "run: --gemm named in the output"
expect 0 "" "run with a profile and a net file" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --microbatches 2 --profile "$tmp/prof.tsv" --net "$tmp/net.tsv"
stdout_has "costs: profile" "run: profile named in the output"
# The same costs as samples files (pipecast-exec profile --samples): each row three samples, half,
# once and three times its value, spread over two files; pooled by their median they are prof.tsv.
awk -F'\t' -v OFS='\t' -v a="$tmp/s1.tsv" -v b="$tmp/s2.tsv" '
  /^#/ { print > a; next }
  $1 == "layer" { h = "layer\tkind\tmb\trank\trep\tfwd_s\tbwd_s\topt_s"; print h > a; print h > b; next }
  { print $1, $2, $3, 0, 0, $4 / 2, $5 / 2, $6 / 2 > a; print $1, $2, $3, 0, 1, $4, $5, $6 > a
    print $1, $2, $3, 1, 0, $4 * 3, $5 * 3, $6 * 3 > b }' "$tmp/prof.tsv"
"$sim" run "$models/tiny-mlp.model" --batch 8 --microbatches 2 --profile "$tmp/prof.tsv" -f csv >"$tmp/from-profile.csv"
expect 0 "" "run --profile with two samples files" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --microbatches 2 --profile "$tmp/s1.tsv" --profile "$tmp/s2.tsv" -f csv
if cmp -s "$tmp/out" "$tmp/from-profile.csv"; then ok "samples pooled by their median predict as the profile of those medians"
else diff "$tmp/out" "$tmp/from-profile.csv" | sed 's/^/# /'; not_ok "samples pooled by their median predict as the profile of those medians"; fi
expect 0 "" "run --profile-stat min" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --microbatches 2 --profile "$tmp/s1.tsv" --profile "$tmp/s2.tsv" --profile-stat min
stdout_has "costs: profile: the min of the samples of $tmp/s1.tsv and more" "run: the pooled samples and their statistic named"
sed 's/^# model tiny-mlp$/# model tiny-mlp\n# param width=32\n# param input=16/' "$tmp/prof.tsv" >"$tmp/prof-params.tsv"
expect 0 "" "run: a profile of the model's own parameters" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --profile "$tmp/prof-params.tsv"
expect 2 "prof-params.tsv:3: profiled with input=16, but the model has input=8 (give the --set the profile was taken with)" \
  "run: a profile taken with other parameters is refused" -- \
  "$sim" run "$models/tiny-mlp.model" --set input=8 --batch 8 --profile "$tmp/prof-params.tsv"
expect 2 "--extrapolate goes with --profile" "run: --extrapolate without a profile" -- \
  "$sim" run "$models/tiny-mlp.model" --batch 8 --extrapolate
expect 2 "--by params balances an automatic partition: give --stages N (the model's split markers cut it otherwise)" \
  "run: --by where the split markers partition" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --by params
expect 2 "--by flops balances an automatic partition: give --stages N (one stage otherwise)" \
  "run: --by on one stage" -- "$sim" run "$models/mlp32.model" --batch 8 --by flops
expect 2 "--eval-samples 5 goes with --eval-every K" "run: --eval-samples without --eval-every" -- \
  "$sim" run "$models/tiny-mlp.model" --batch 8 --eval-samples 5
expect 2 "--profile-stat 'mode': expected median, mean or min" "run: an unknown --profile-stat" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --profile "$tmp/s1.tsv" --profile-stat mode
expect 2 "$tmp/nope.tsv: cannot open: No such file" "run: a missing samples file among several is named" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --profile "$tmp/s1.tsv" --profile "$tmp/nope.tsv"
expect 2 "only samples files" "run: a profile among samples files" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --profile "$tmp/s1.tsv" --profile "$tmp/prof.tsv"
expect 0 "" "run --format csv, 3 stages" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --stages 3 --format csv
csv_part=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "partition") k = i; next } NR == 2 && k { print $k }' "$tmp/out")
"$sim" run "$models/tiny-mlp.model" --batch 8 --stages 3 >"$tmp/table.out" 2>&1
if [ -n "$csv_part" ] && grep -qxF "partition: $csv_part" "$tmp/table.out"; then ok "run --format csv: the partition column is the table's partition ($csv_part)"
else echo "# csv: '$csv_part'"; not_ok "run --format csv: the partition column is the table's partition"; fi
expect 0 "" "run --by time" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --microbatches 2 --profile "$tmp/prof.tsv" --stages 3 --by time
expect 0 "" "run -p auto:time" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --microbatches 2 --profile "$tmp/prof.tsv" --stages 3 -p auto:time
expect 0 "" "run --extrapolate" -- "$sim" run "$models/tiny-mlp.model" --batch 32 --microbatches 2 --profile "$tmp/prof.tsv" --extrapolate
stdout_has "extrapolated linearly" "run: extrapolation is reported"
expect 0 "" "run with 1024 replicas" -- "$sim" run "$models/mlp32.model" --stages 8 --batch 65536 --microbatches 16 --replicas 1024 --ranks-per-node 16 --net "$tmp/net.tsv"
stdout_has "8 stages x 1024 replicas (8192 ranks)" "run: pipeline x data-parallel layout"
stdout_has "over 1 rank" "run: speedup over one rank"

# --- placement: --map-by slot puts a replica on each node (the rings cross, each node's port in
# turn for both stages), node a stage's replicas (the rings stay inside, the pipeline crosses)
placed() { "$sim" run "$models/mlp32.model" --stages 2 --replicas 2 --batch 64 --microbatches 4 \
             --ranks-per-node 2 --net "$tmp/net.tsv" --format csv "$@"; }
if placed --map-by slot >"$tmp/slot.csv" 2>&1 && placed --map-by node >"$tmp/node.csv" 2>&1 &&
   placed >"$tmp/default.csv" 2>&1 && cmp -s "$tmp/slot.csv" "$tmp/default.csv" &&
   python3 - "$tmp/slot.csv" "$tmp/node.csv" <<'PY'
import csv, io, sys
def blocks(path):
    a, b = open(path).read().split("\n\n\n")
    return next(csv.DictReader(io.StringIO(a))), list(csv.DictReader(io.StringIO(b)))
(s, ss), (n, ns) = blocks(sys.argv[1]), blocks(sys.argv[2])
ring = lambda st, i: float(st[i]["allreduce_total_s"])
# the rings over the slow inter link by slot, inside the node by node placement
assert ring(ss, 0) > 2 * ring(ns, 0) and ring(ss, 1) > 2 * ring(ns, 1), (ss, ns)
assert float(s["iteration_s"]) > float(n["iteration_s"]), (s, n)
# by slot, the two stages' rings share node 0's port: one adds more than its own ring's time
assert max(float(x["allreduce_s"]) - ring(ss, i) for i, x in enumerate(ss)) > 0, ss
PY
then ok "run --map-by: the rings cross nodes by slot and queue at the port, stay inside by node"
else sed 's/^/# /' "$tmp/slot.csv" "$tmp/node.csv"; not_ok "run --map-by: the rings cross nodes by slot and queue at the port, stay inside by node"; fi
expect 2 "--map-by 'core': expected slot or node" "run: a bad --map-by" -- "$sim" run "$models/mlp32.model" --batch 8 --map-by core
expect 2 "--map-by 'rr': expected slot or node" "sweep: a bad --map-by" -- "$sim" sweep "$models/mlp32.model" --batch 8 --map-by rr --no-plot --out "$tmp/sw"

# --- the newer schedules: every one predicted; on 4 stages of mlp32 at M = 8 the interleaved
# and zero-bubble schedules beat 1f1b, the V beats zb-h1, and zb-h1 holds on every rank the
# activations 1f1b holds on its first; their rules refused by name
for k in 1f1b interleaved zb-h1 zb-v; do
  "$sim" run "$models/mlp32.model" --stages 4 --batch 256 -m 8 --schedule $k --format csv \
    >"$tmp/k-$k.csv" 2>"$tmp/k-$k.err"
done
if python3 - "$tmp" <<'PY'
import csv, io, sys
def load(k):
    a, b = open(f"{sys.argv[1]}/k-{k}.csv").read().split("\n\n\n")
    return next(csv.DictReader(io.StringIO(a))), list(csv.DictReader(io.StringIO(b)))
r = {k: load(k) for k in ("1f1b", "interleaved", "zb-h1", "zb-v")}
t = {k: float(v[0]["iteration_s"]) for k, v in r.items()}
assert t["interleaved"] < t["1f1b"] and t["zb-h1"] < t["1f1b"] and t["zb-v"] < t["zb-h1"], t
held = lambda k: [int(x["peak_inflight"]) for x in r[k][1]]
assert held("1f1b") == [4, 3, 2, 1] and held("zb-h1") == [4, 4, 4, 4], (held("1f1b"), held("zb-h1"))
assert len(r["interleaved"][1]) == 4 and r["interleaved"][0]["partition"].count("|") == 7
PY
then ok "run: interleaved, zb-h1 and zb-v predicted, faster than 1f1b in that order; zb-h1 within 1F1B's first-rank activations"
else cat "$tmp"/k-*.err | sed 's/^/# /'; not_ok "run: interleaved, zb-h1 and zb-v predicted, faster than 1f1b in that order; zb-h1 within 1F1B's first-rank activations"; fi
expect 2 "needs a multiple of the stages" "run: interleaved with M not a multiple of the stages" -- \
  "$sim" run "$models/mlp32.model" --stages 4 --batch 256 -m 2 --schedule interleaved
expect 2 "the partition has 5 stages: 3 chunks per rank need a multiple of 3" "run: a spec that is not ranks x chunks" -- \
  "$sim" run "$models/mlp32.model" -p 12,12,12,12,16 --batch 256 -m 2 --schedule interleaved --chunks 3
expect 0 "" "run: interleaved, 3 chunks from a spec of 6 ranges" -- \
  "$sim" run "$models/mlp32.model" -p 10,10,10,10,10,14 --batch 256 -m 4 --schedule interleaved --chunks 3
stdout_has "2 stages of 3 chunks" "run: interleaved's ranks and chunks named"
stdout_has "fc1..relu5, fc11..relu15, fc21..relu25" "run: rank 0 holds chunks 0, 2 and 4"
expect 2 "zb-v: 3 chunks per rank; it has 2" "run: zb-v with 3 chunks" -- \
  "$sim" run "$models/mlp32.model" --stages 2 --batch 256 -m 4 --schedule zb-v --chunks 3
# --optimizer and --clip-grad-norm as train's: AdamW's state and step, clipping's pass and the
# stages' meeting before the step
for f in "" "--optimizer adamw" "--clip-grad-norm 1"; do
  # shellcheck disable=SC2086
  "$sim" run "$models/mlp32.model" --stages 4 --batch 256 -m 8 --schedule 1f1b $f -f csv |
    sed -n 2p | cut -d, -f8,15 >>"$tmp/opt.txt"
done
if awk -F, 'NR == 1 {t = $1; m = $2} NR == 2 {ok = $1 > t && $2 > m} NR == 3 {ok = ok && $1 > t && $2 == m}
            END {exit !ok}' "$tmp/opt.txt"; then
  ok "run --optimizer adamw: more memory, a longer step; --clip-grad-norm: a longer iteration"
else sed 's/^/# /' "$tmp/opt.txt"; not_ok "run --optimizer adamw: more memory, a longer step; --clip-grad-norm: a longer iteration"; fi
expect 2 "--optimizer 'lamb': expected sgd or adamw" "run: --optimizer unknown" -- \
  "$sim" run "$models/mlp32.model" --batch 256 --optimizer lamb
expect 2 "--clip-grad-norm must be a finite number above 0 (or 0: no clipping), got -2" \
  "plan: --clip-grad-norm negative" -- "$sim" plan "$models/mlp32.model" --ranks 2 --batch 256 \
  --clip-grad-norm -2
# --eval-every: train's evaluation, the forward-only lists: on one stage each microbatch's FWD in
# turn; on two, the stages overlap it
"$sim" run "$models/tiny-mlp.model" --stages 1 --batch 8 -m 2 --eval-every 5 --eval-samples 43 \
  -f csv >"$tmp/ev.csv" 2>&1
"$sim" run "$models/tiny-mlp.model" --stages 2 --batch 8 -m 2 --eval-every 5 --eval-samples 43 \
  -f csv >"$tmp/ev2.csv" 2>&1
if /usr/bin/python3 - "$tmp/ev.csv" "$tmp/ev2.csv" <<'PY'
import csv, io, sys
def blocks(path):
    a, b = open(path).read().split("\n\n\n")
    return next(csv.DictReader(io.StringIO(a))), list(csv.DictReader(io.StringIO(b)))
(one, st1), (two, st2) = blocks(sys.argv[1]), blocks(sys.argv[2])
e1, e2 = float(one["eval_s"]), float(two["eval_s"])
assert abs(e1 - 10 * float(st1[0]["fwd_s"])) <= 1e-12 * e1, (e1, st1[0]["fwd_s"])  # 43 // 4
fwd = [float(s["fwd_s"]) for s in st2]
assert 10 * max(fwd) <= e2 < 10 * sum(fwd), (e2, fwd)  # the stages overlap
PY
then ok "run --eval-every: an evaluation's seconds, ten forwards on one stage, overlapped on two"
else sed 's/^/# /' "$tmp/ev.csv"; not_ok "run --eval-every: an evaluation's seconds, ten forwards on one stage, overlapped on two"; fi
expect 0 "" "run --eval-every: the table says what it adds" -- "$sim" run "$models/tiny-mlp.model" \
  --batch 8 -m 2 --eval-every 4
stdout_has "(10000 test samples in 2500 microbatches of 4 per replica); every 4 iterations +" \
  "run --eval-every: the synthetic test split by default"
expect 2 "--eval-every: 3 test samples make no microbatch" "run --eval-samples below a microbatch" -- \
  "$sim" run "$models/tiny-mlp.model" --batch 8 -m 2 --eval-every 4 --eval-samples 3
# --zb-costs: a zero-bubble order planned for other op costs; refused for other schedules
"$sim" run "$models/mlp32.model" --stages 4 --batch 256 -m 16 --schedule zb-h1 -f csv >"$tmp/zu.csv" 2>&1
"$sim" run "$models/mlp32.model" --stages 4 --batch 256 -m 16 --schedule zb-h1 --zb-costs 1:3:0.3 \
  -f csv >"$tmp/zc.csv" 2>&1
zu=$(sed -n 2p "$tmp/zu.csv" | cut -d, -f8) zc=$(sed -n 2p "$tmp/zc.csv" | cut -d, -f8)
if awk -v u="$zu" -v c="$zc" 'BEGIN {exit !(u > 0 && c > 0 && u != c)}'; then
  ok "run --zb-costs: another order, another iteration time"
else sed 's/^/# /' "$tmp/zc.csv"; not_ok "run --zb-costs: another order, another iteration time"; fi
expect 2 "--zb-costs '1:3:0.3': schedule interleaved: op costs order only the zero-bubble schedules" \
  "run: --zb-costs with interleaved" -- "$sim" run "$models/mlp32.model" --stages 2 --batch 256 \
  -m 4 --schedule interleaved --zb-costs 1:3:0.3
expect 2 "--zb-costs '1:x:1': expected FWD:BWD:BWD_W" "sweep: --zb-costs not numbers" -- \
  "$sim" sweep "$models/mlp32.model" --batch 256 --zb-costs 1:x:1 --no-plot --out "$tmp/swz"
expect 0 "" "describe: which rank holds which chunk of a V" -- "$sim" describe "$models/mlp32.model" --stages 4 --schedule zb-v
stdout_has "rank 0: chunk 0 = stage 0 (fc1..fc4), chunk 1 = stage 7 (relu28..loss)" "describe: rank 0 holds the first and the last chunk"
"$sim" sweep "$models/tiny-mlp.model" --batch 16 --stages 1,2 --microbatches 2,4 --no-plot \
  --schedule gpipe,1f1b,interleaved,zb-h1,zb-v --out "$tmp/sw5" >"$tmp/out" 2>&1
if [ "$(tail -n +2 "$tmp/sw5/sweep.csv" | cut -d, -f2 | sort | uniq -c | awk '{print $2 ":" $1}' | tr '\n' ' ')" = \
     "1f1b:4 gpipe:4 interleaved:2 zb-h1:4 zb-v:4 " ]; then
  ok "sweep: the five schedules, interleaved only where M is a multiple of 2 or more stages"
else sed 's/^/# /' "$tmp/out"; not_ok "sweep: the five schedules, interleaved only where M is a multiple of 2 or more stages"; fi

# --- determinism
"$sim" run "$models/tiny-resnet.model" --stages 3 --batch 16 --microbatches 4 --trace "$tmp/t1.json" >"$tmp/r1" 2>&1
"$sim" run "$models/tiny-resnet.model" --stages 3 --batch 16 --microbatches 4 --trace "$tmp/t2.json" >"$tmp/r2" 2>&1
if cmp -s "$tmp/r1" "$tmp/r2"; then ok "run output is deterministic"; else not_ok "run output is deterministic"; fi
if [ -s "$tmp/t1.json" ] && cmp -s "$tmp/t1.json" "$tmp/t2.json"; then ok "traces are byte-identical"; else not_ok "traces are byte-identical"; fi
if grep -q '"name":"FWD"' "$tmp/t1.json" && grep -q '"name":"RECV"' "$tmp/t1.json" && grep -q '"name":"OPT"' "$tmp/t1.json"; then ok "trace has the executor's op names"; else not_ok "trace has the executor's op names"; fi
if command -v python3 >/dev/null 2>&1; then
  if python3 -m json.tool "$tmp/t1.json" >/dev/null 2>&1; then ok "trace is valid JSON"; else not_ok "trace is valid JSON"; fi
else skip "trace is valid JSON" "no python3"; fi

# --- sweep
expect 0 "" "sweep mlp32" -- "$sim" sweep "$models/mlp32.model" --batch 64 --stages 1,2,4 --microbatches 1,2,4,8,128 --out "$tmp/sw" --no-plot
if head -1 "$tmp/sw/sweep.csv" | grep -q '^model,schedule,stages,replicas,microbatches,batch,microbatch_size,iteration_s,throughput,speedup,speedup_vs_1mb,ideal_speedup,bubble,peak_memory_bytes'; then ok "sweep.csv header"; else not_ok "sweep.csv header"; fi
# 2 schedules x 3 stage counts x 4 valid microbatch counts (128 does not divide 64)
if [ "$(tail -n +2 "$tmp/sw/sweep.csv" | wc -l)" -eq 24 ]; then ok "sweep: one row per valid configuration"; else not_ok "sweep: one row per valid configuration"; fi
if grep -q '^mlp32,gpipe,1,1,4,64,16,[^,]*,[^,]*,1,' "$tmp/sw/sweep.csv"; then ok "sweep: one stage has speedup 1"; else not_ok "sweep: one stage has speedup 1"; fi
if grep -q '^mlp32,1f1b,4,1,8,64,8,.*,2.90909091,' "$tmp/sw/sweep.csv"; then ok "sweep: ideal 4*8/11"; else not_ok "sweep: ideal 4*8/11"; fi
"$sim" sweep "$models/mlp32.model" --batch 64 --stages 1,2,4 --microbatches 1,2,4,8 --out "$tmp/sw2" --no-plot >/dev/null 2>&1
if cmp -s "$tmp/sw2/sweep.csv" "$tmp/sw/sweep.csv"; then ok "sweep is deterministic"; else not_ok "sweep is deterministic"; fi
expect 0 "" "sweep --by time with a profile" -- "$sim" sweep "$models/tiny-mlp.model" --batch 8 --stages 1,2,3 --microbatches 1,2,4,8 --profile "$tmp/prof.tsv" --by time --out "$tmp/sw3" --no-plot

# --- figures
if command -v gnuplot >/dev/null 2>&1; then
  expect 0 "" "run --gantt png" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --microbatches 4 --gantt "$tmp/g.png"
  nonempty "$tmp/g.png" "gantt png written"
  expect 0 "" "run --gantt pdf" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --microbatches 4 --gantt "$tmp/g.pdf"
  nonempty "$tmp/g.pdf" "gantt pdf written"
  expect 0 "" "run --gantt svg" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --microbatches 4 --gantt "$tmp/g.svg"
  nonempty "$tmp/g.svg" "gantt svg written"
  expect 0 "" "sweep with figures" -- "$sim" sweep "$models/mlp32.model" --batch 64 --stages 1,2,4 --microbatches 1,2,4,8 --out "$tmp/sw4"
  nonempty "$tmp/sw4/sweep.png" "sweep.png written"
  nonempty "$tmp/sw4/sweep.pdf" "sweep.pdf written"
  expect 2 "gnuplot is not installed" "gantt without gnuplot on PATH" -- env PATH=/nonexistent "$sim" run "$models/tiny-mlp.model" --batch 8 --gantt "$tmp/x.png"
else
  for t in "gantt png" "gantt pdf" "gantt svg" "sweep figures" "gnuplot missing"; do skip "$t" "gnuplot not on PATH"; done
fi

# --- bad input: exit status 2 and a clear message
m32="$models/mlp32.model"
expect 2 "--batch must be positive, got 0" "run: batch 0" -- "$sim" run "$m32" --batch 0
expect 2 "--batch must be positive, got -4" "run: negative batch" -- "$sim" run "$m32" --batch -4
expect 2 "--batch B is required" "run: no batch" -- "$sim" run "$m32"
expect 2 "Cannot parse integer" "run: batch not a number" -- "$sim" run "$m32" --batch many
expect 2 "is not divisible by --microbatches 3" "run: M does not divide B" -- "$sim" run "$m32" --batch 8 --microbatches 3
expect 2 "--microbatches 16 is more than the 8 samples" "run: M > B" -- "$sim" run "$m32" --batch 8 --microbatches 16
expect 2 "--microbatches must be positive" "run: M = 0" -- "$sim" run "$m32" --batch 8 --microbatches 0
expect 2 "--schedule 'zb': expected gpipe, 1f1b, interleaved, zb-h1 or zb-v" "run: unknown schedule" -- "$sim" run "$m32" --batch 8 --schedule zb
expect 2 "--format 'xml'" "run: unknown format" -- "$sim" run "$m32" --batch 8 --format xml
expect 2 "--replicas must be positive" "run: replicas 0" -- "$sim" run "$m32" --batch 8 --replicas 0
expect 2 "not divisible by --replicas 3" "run: replicas do not divide B" -- "$sim" run "$m32" --batch 8 --replicas 3
expect 2 "--ranks-per-node must be positive" "run: ranks per node 0" -- "$sim" run "$m32" --batch 8 --ranks-per-node 0
expect 2 "needs measured layer times: give --profile" "run: --by time without a profile" -- "$sim" run "$m32" --batch 8 --stages 2 --by time
expect 2 "--by 'weight'" "run: unknown --by" -- "$sim" run "$m32" --batch 8 --stages 2 --by weight
expect 2 "65 stages but only 64 layers" "run: too many stages" -- "$sim" run "$m32" --batch 8 --stages 65
expect 2 "must end in .png, .pdf or .svg" "run: bad gantt extension" -- "$sim" run "$m32" --batch 8 --gantt "$tmp/g.gif"
expect 2 "no rows for layer 'relu2'" "run: profile missing a layer" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --profile "$tmp/prof-missing.tsv"
expect 2 "prof-negative.tsv:13: fwd_s is -4e-5" "run: negative cost" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --profile "$tmp/prof-negative.tsv"
expect 2 "prof-nan.tsv:13: fwd_s is nan" "run: NaN cost" -- "$sim" run "$models/tiny-mlp.model" --batch 8 --profile "$tmp/prof-nan.tsv"
expect 2 "profiled for microbatches of 1 to 8 samples, not 16" "run: microbatch outside the profile" -- "$sim" run "$models/tiny-mlp.model" --batch 16 --profile "$tmp/prof.tsv"
expect 2 "net-empty.tsv: no rows" "run: net file without rows" -- "$sim" run "$m32" --batch 8 --net "$tmp/net-empty.tsv"
expect 2 "net-header.tsv:1: bad header" "run: net file with a bad header" -- "$sim" run "$m32" --batch 8 --net "$tmp/net-header.tsv"
expect 2 "No such file" "run: missing profile" -- "$sim" run "$m32" --batch 8 --profile "$tmp/nope.tsv"
expect 2 "expected one MODEL" "run: no model" -- "$sim" run --batch 8
expect 2 "--stages '1,x': expected a comma-separated list of positive integers" "sweep: bad stage list" -- "$sim" sweep "$m32" --batch 8 --stages 1,x --out "$tmp/bad"
expect 2 "--microbatches '0,2'" "sweep: zero microbatches" -- "$sim" sweep "$m32" --batch 8 --microbatches 0,2 --out "$tmp/bad"
expect 2 "unknown schedule 'pipedream'" "sweep: unknown schedule" -- "$sim" sweep "$m32" --batch 8 --schedule gpipe,pipedream --out "$tmp/bad"
expect 2 "--batch must be positive" "sweep: batch 0" -- "$sim" sweep "$m32" --batch 0 --out "$tmp/bad"
expect 2 "--by time needs measured layer times" "sweep: --by time without a profile" -- "$sim" sweep "$m32" --batch 8 --by time --out "$tmp/bad"

# --- plan: every layout of 4 ranks, the fastest first, and the command that runs it
expect 0 "" "plan tiny-mlp on 4 ranks, profiled" -- "$sim" plan "$models/tiny-mlp.model" --ranks 4 \
  --batch 16 --profile "$tmp/prof.tsv" --net "$tmp/net.tsv" --microbatches 1,2 --extrapolate --top 100
stdout_has "run the first:" "plan: the command for the first layout"
stdout_has "mpirun -n 4 pipecast-exec train $models/tiny-mlp.model --batch 16 --replicas" "plan: the command runs 4 ranks"
"$sim" plan "$models/tiny-mlp.model" --ranks 4 --batch 16 --profile "$tmp/prof.tsv" --net "$tmp/net.tsv" \
  --microbatches 1,2 --extrapolate --top 100 --format csv >"$tmp/plan.csv" 2>&1
# layouts of 4 ranks (D x P = 4: 1x4, 2x2, 4x1) x 2 schedules x M in 1,2: 12, fastest first, and
# the first predicted by `run` on its own to the same iteration time
if python3 - "$tmp/plan.csv" "$sim" "$models/tiny-mlp.model" "$tmp/prof.tsv" "$tmp/net.tsv" <<'PY' >"$tmp/err" 2>&1
import csv, subprocess, sys
path, sim, model, prof, net = sys.argv[1:]
rows = list(csv.DictReader(open(path)))
assert len(rows) == 12, len(rows)
assert all(int(r["replicas"]) * int(r["stages"]) == 4 for r in rows)
t = [float(r["iteration_s"]) for r in rows]
assert t == sorted(t), t
r = rows[0]
out = subprocess.run([sim, "run", model, "--batch", "16", "--replicas", r["replicas"], "--stages",
                      r["stages"], "-m", r["microbatches"], "--schedule", r["schedule"],
                      "--partition", r["partition"], "--profile", prof, "--net", net,
                      "--extrapolate", "--format", "csv"], capture_output=True, text=True,
                     check=True).stdout
t_run = float(next(csv.DictReader(out.split("\n\n\n")[0].splitlines()))["iteration_s"])
assert abs(t_run - t[0]) <= 1e-12 * t[0], (t_run, t[0])
PY
then ok "plan: 12 layouts of 4 ranks, fastest first; run predicts the first the same"
else sed 's/^/# /' "$tmp/err"; not_ok "plan: 12 layouts of 4 ranks, fastest first; run predicts the first the same"; fi
# a large batch: the default search stops at 256 microbatches (2 replica counts x 2 schedules x
# 1..256: 36 layouts)
"$sim" plan "$models/tiny-mlp.model" --ranks 2 --batch 65536 --top 100 --format csv >"$tmp/plan-big.csv" 2>&1
if [ "$(tail -n +2 "$tmp/plan-big.csv" | wc -l)" = 36 ] &&
   [ "$(tail -n +2 "$tmp/plan-big.csv" | cut -d, -f5 | sort -n | tail -1)" = 256 ]; then
  ok "plan: a large batch searched up to 256 microbatches by default"
else head -3 "$tmp/plan-big.csv" | sed 's/^/# /'; not_ok "plan: a large batch searched up to 256 microbatches by default"; fi
# on nodes of 2 ranks, 2 replicas x 2 stages are searched placed both ways
"$sim" plan "$models/tiny-mlp.model" --ranks 4 --ranks-per-node 2 --batch 16 --microbatches 2 \
  --schedule 1f1b --link inter=1gbit,30us --top 100 --format csv >"$tmp/plan-place.csv" 2>&1
if [ "$(awk -F, 'NR > 1 && $3 == 2 && $4 == 2 { print $7 }' "$tmp/plan-place.csv" | sort | tr '\n' ' ')" = "node slot " ] &&
   [ "$(awk -F, 'NR > 1 && ($3 != 2 || $4 != 2) { print $7 }' "$tmp/plan-place.csv" | sort -u)" = slot ]; then
  ok "plan: 2 x 2 on nodes of 2 ranks placed by slot and by node, the other layouts once"
else sed 's/^/# /' "$tmp/plan-place.csv"; not_ok "plan: 2 x 2 on nodes of 2 ranks placed by slot and by node, the other layouts once"; fi
# a profile with the backward's halves: plan orders zero bubble for them and says so
awk -F'\t' 'BEGIN {OFS = "\t"} /^#/ {print; next} $1 == "layer" {print $0, "bwd_b_s", "bwd_w_s"; next}
  {print $0, ($2 == "fc" ? 0.6 : 1) * $5, ($2 == "fc" ? 0.4 : 0) * $5}' "$tmp/prof.tsv" >"$tmp/prof-split.tsv"
expect 0 "" "plan zb-h1 with a profile of the backward's halves" -- "$sim" plan \
  "$models/tiny-mlp.model" --ranks 2 --batch 16 --microbatches 2,4 --schedule zb-h1 \
  --profile "$tmp/prof-split.tsv" --extrapolate
stdout_has "--schedule zb-h1 --zb-costs 0.625:1.000:0.250 --partition" "plan: the command orders zb-h1 for the profiled F:B:W"
expect 0 "" "plan with a link given by numbers" -- "$sim" plan "$models/tiny-mlp.model" --ranks 2 --batch 8 \
  --link inter=1gbit,30us --link intra=40gbit,1us --ranks-per-node 1
stdout_has "layouts predicted" "plan --link: layouts predicted"
expect 2 "no layout of 2 ranks fits in --memory-per-rank" "plan: nothing fits the memory" -- \
  "$sim" plan "$models/tiny-mlp.model" --ranks 2 --batch 8 --memory-per-rank 1000
expect 2 "--link 'inter=fast': expected" "plan: a link that is not RATE,LATENCY" -- \
  "$sim" plan "$models/tiny-mlp.model" --ranks 2 --batch 8 --link inter=fast
expect 2 "--chunks must be 1 to 64, got 0" "run: --chunks 0 is refused" -- \
  "$sim" run "$models/mlp32.model" --schedule interleaved --chunks 0 -m 2 --stages 2 --batch 8
expect 2 "--link '': expected" "plan: an empty --link" -- \
  "$sim" plan "$models/tiny-mlp.model" --ranks 2 --batch 8 --link ""
expect 2 "--schedule '': no schedule named" "plan: an empty --schedule" -- \
  "$sim" plan "$models/tiny-mlp.model" --ranks 2 --batch 8 --schedule ""
expect 2 "--stages '': expected a comma-separated list of positive integers" "sweep: an empty --stages" -- \
  "$sim" sweep "$models/tiny-mlp.model" --batch 8 --stages "" --no-plot --out "$tmp/sw"
expect 2 "--schedule '': no schedule named" "sweep: an empty --schedule" -- \
  "$sim" sweep "$models/tiny-mlp.model" --batch 8 --schedule "" --no-plot --out "$tmp/sw"
expect 2 "give --net FILE or --link, not both" "plan: --net and --link" -- \
  "$sim" plan "$models/tiny-mlp.model" --ranks 2 --batch 8 --link inter=1gbit,5us --net "$tmp/net.tsv"
expect 2 "--ranks R is required" "plan: no --ranks" -- "$sim" plan "$models/tiny-mlp.model" --batch 8
expect 2 "2 not predicted: " "plan: a profile without the microbatch sizes" -- \
  "$sim" plan "$models/tiny-mlp.model" --ranks 2 --batch 64 --microbatches 2 --schedule 1f1b --profile "$tmp/prof.tsv"

tap_end
