#!/bin/sh
# test-study.sh — experiments/study.sh end to end on a grid small enough for a test (MLP-32 at
# width 64, batch 16, microbatches 1 and 4, one round of one timed iteration), and what its
# tables must say: every cell's error is (predicted - measured) / measured of its own columns, a
# cell's measured time is the median of its timed iterations, its paired error that of its visit
# against a prediction made again here from the visit's own samples, the MAPEs it prints are the
# means of the table's errors, the memory table has a row per stage, the figures are a PNG and a
# PDF, --reuse predicts the same, experiments/compare-stats.py reproduces the study's pooled and
# paired MAPEs. Also the study's input errors (exit 2). TAP on stdout. Needs PC_EXEC (the build's
# pipecast-exec: the study uses the build it sits in).
set -u
x=${PC_EXEC:?PC_EXEC is not set}
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "$(dirname "$x")/.." && pwd)
export PC_BUILD=$build
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
. "$(dirname "$0")/tap.sh"
study="$root/experiments/study.sh"
py=/usr/bin/python3

# input errors: exit 2 and a message naming the option
expect 2 "--batch must be a whole number" "study: --batch 0 is refused" -- \
  "$study" mlp32 --batch 0 --out "$tmp/bad"
expect 2 "3 does not divide the batch (256)" "study: a microbatch count that does not divide the batch" -- \
  "$study" mlp32 --microbatches 1,3 --out "$tmp/bad"
expect 2 "not a multiple of the grid's microbatch count" "study: a batch the grid's counts do not divide" -- \
  "$study" mlp32 --batch 24 --out "$tmp/bad"
expect 2 "--rounds must be a whole number" "study: --rounds x is refused" -- \
  "$study" mlp32 --rounds x --out "$tmp/bad"
expect 2 "no model file 'models/lenet.model'" "study: an unknown model is refused" -- "$study" lenet --out "$tmp/bad"
expect 2 "no model file '$tmp/none.model'" "study: a model path that is not a file is refused" -- \
  "$study" "$tmp/none.model" --out "$tmp/bad"
expect 2 "no measurements in" "study: --reuse without measurements is refused" -- \
  "$study" mlp32 --reuse --out "$tmp/empty"
expect 2 "--procs must be from 2 to 16, got '1'" "study: --procs 1 is refused" -- \
  "$study" mlp32 --procs 1 --out "$tmp/bad"
expect 2 "--procs must be from 2 to 16, got '17'" "study: --procs 17 is refused" -- \
  "$study" mlp32 --procs 17 --out "$tmp/bad"
expect 2 "--continue: no study in $tmp/empty to continue" "study: --continue without a study is refused" -- \
  "$study" mlp32 --continue --out "$tmp/empty"
expect 2 "3 processes: the layouts are powers of two, so up to 2" "study: --procs 3 is rounded down to a power of two" -- \
  "$study" mlp32 --procs 3 --continue --out "$tmp/empty"
expect 2 "--continue and --reuse exclude each other" "study: --continue with --reuse is refused" -- \
  "$study" mlp32 --continue --reuse --out "$tmp/empty"
expect 2 "--prebuilt: no pipecast-exec and pipecast-sim under $tmp/nobuild" \
  "study: --prebuilt without programs is refused" -- env PC_BUILD="$tmp/nobuild" "$study" mlp32 --prebuilt --out "$tmp/bad"

out=$tmp/s
args="mlp32 --set width=64,input=64 --batch 16 --microbatches 1,4 --rounds 1 --iters 1 --out $out"
# shellcheck disable=SC2086
expect 0 "[8/8] round 1: 1f1b, 2 stage(s) x 1 replica(s), 4 microbatches" \
  "study: a small grid runs end to end, a progress line per cell" -- "$study" $args
stdout_has "figure: $out/speedup.png" "study: ends with the path of its figure"
cp "$tmp/out" "$tmp/study.out"
cp "$out/validation.csv" "$tmp/validation.first.csv"

# check DESCRIPTION PYTHON: a Python check of the study's files (exit 0 = ok; what it prints
# goes into the TAP log)
check() {
  if OUT=$out STDOUT=$tmp/study.out ROOT=$root BUILD=$build "$py" -c "$2" >"$tmp/err" 2>&1; then ok "$1"; else tail -3 "$tmp/err" | sed "s/^/# /"; not_ok "$1"; fi
}
check "validation.csv: 8 cells, each error = (predicted - measured) / measured" '
import csv, os, sys
rows = list(csv.DictReader(open(os.environ["OUT"] + "/validation.csv")))
cells = {(r["schedule"], r["stages"], r["microbatches"]) for r in rows}
want = {(s, p, m) for s in ("gpipe", "1f1b") for p in ("1", "2") for m in ("1", "4")}
assert cells == want, cells
for r in rows:
    m, p, e = float(r["measured_s"]), float(r["predicted_s"]), float(r["error_pct"])
    assert m > 0 and p > 0, r
    # the table rounds seconds to 1e-6: allow what that rounding moves the error by
    assert abs(100 * (p - m) / m - e) < 0.01 + 100 * 1e-6 * (1 / m + p / m / m), r
'
check "validation.csv: a cell's time is the median of its timed iterations (runs/*.iters)" '
import csv, os, statistics
out = os.environ["OUT"]
for r in csv.DictReader(open(out + "/validation.csv")):
    name = "%s-P%s-D%s-M%s" % (r["schedule"], r["stages"], r["replicas"], r["microbatches"])
    its = [float(l.split(",")[1]) for l in open(out + "/runs/" + name + ".iters") if l.strip()]
    assert len(its) == 1, (name, its)
    assert abs(statistics.median(its) - float(r["measured_s"])) < 1e-5, (name, its, r)
'
check "validation.csv: every cell replayed from its trace (runs/*.r1.replay.csv): the replay error of its own files" '
import csv, os
out = os.environ["OUT"]
for r in csv.DictReader(open(out + "/validation.csv")):
    name = "%s-P%s-D%s-M%s" % (r["schedule"], r["stages"], r["replicas"], r["microbatches"])
    rs = list(csv.DictReader(open(out + "/runs/" + name + ".r1.replay.csv").read().split("\n\n\n")[0].strip().splitlines()))[0]
    t, tr = float(rs["iteration_s"]), float(rs["trace_iteration_s"])
    assert t > 0 and tr > 0, (name, rs)
    assert abs(100 * (t - tr) / tr - float(r["replay_error_pct"])) < 0.01, (name, rs, r)
    # one process: the replay is the sum of the ops the trace timed, never more than the trace
    # (how much less depends on the timing: the study prints it, the test does not assert it)
    if r["stages"] == "1":
        assert float(r["replay_error_pct"]) <= 0.01, (name, r["replay_error_pct"])
'
check "the worst cell explained from its traces: its replay error and the compute ops of compare-worst.txt" '
import csv, os, re
out = os.environ["OUT"]
rows = list(csv.DictReader(open(out + "/validation.csv")))
w = max(rows, key=lambda r: abs(float(r["paired_error_pct"])))
text = open(os.environ["STDOUT"]).read()
m = re.search(r"^the worst cell \((\w+) P=(\d+) D=(\d+) M=(\d+), ([-+][\d.]+)%\): its replay misses by ([-+][\d.]+)%.*?: (stage \d+ \w+ [-+][\d.]+ s)", text, re.M)
assert m, text
assert m.group(1, 2, 3, 4) == (w["schedule"], w["stages"], w["replicas"], w["microbatches"]), (m.groups(), w)
assert abs(float(m.group(5)) - float(w["paired_error_pct"])) < 0.051, (m.group(5), w)
# compared with the prediction from the samples taken right after a traced visit (the last of a round)
name = "%s-P%s-D%s-M%s" % m.group(1, 2, 3, 4)
assert os.path.getsize(out + "/runs/" + name + ".visit.pred.json") > 0, name
vis = {r["visit"]: r for r in csv.DictReader(open(out + "/runs/" + name + ".visits.csv"))}
tv = re.search(r"the trace of visit (\d+), the last of its round, whose own error ([-+][\d.]+)% is the nearest", text)
assert tv and abs(float(tv.group(2)) - float(vis[tv.group(1)]["error_pct"])) < 0.051, (tv, vis)
assert "visit.pred.json" in open(out + "/compare-worst.txt").read()
assert abs(float(m.group(6)) - float(w["replay_error_pct"])) < 0.051, (m.group(6), w)
st, op = re.match(r"stage (\d+) (\w+)", m.group(7)).groups()
cmp = open(out + "/compare-worst.txt").read()
assert re.search(r"^\s+%s\s+%s\s" % (st, op), cmp, re.M), (st, op, cmp)
'
check "the printed MAPE and worst cell are those of validation.csv: paired, then pooled" '
import csv, os, re
rows = list(csv.DictReader(open(os.environ["OUT"] + "/validation.csv")))
text = open(os.environ["STDOUT"]).read()
for col, pat in (("paired_error_pct", r"iteration time over (\d+) cells: MAPE ([\d.]+)%, worst ([-+][\d.]+)%.*each visit against"),
                 ("error_pct", r"^pooled: .*?()MAPE ([\d.]+)%, worst ([-+][\d.]+)%")):
    errs = [float(r[col]) for r in rows]
    m = re.search(pat, text, re.M)
    assert m, (pat, text)
    assert not m.group(1) or int(m.group(1)) == len(rows)
    assert abs(float(m.group(2)) - sum(abs(e) for e in errs) / len(errs)) < 0.051, (col, m.group(2), errs)
    assert abs(float(m.group(3)) - max(errs, key=abs)) < 0.051, (col, m.group(3), errs)
'
check "validation.csv: a paired error is its visit against its own samples, predicted again here (runs/*.visits.csv)" '
import csv, os, statistics, subprocess, sys
out, root, build = os.environ["OUT"], os.environ["ROOT"], os.environ["BUILD"]
for r in csv.DictReader(open(out + "/validation.csv")):
    name = "%s-P%s-D%s-M%s" % (r["schedule"], r["stages"], r["replicas"], r["microbatches"])
    vis = list(csv.DictReader(open(out + "/runs/" + name + ".visits.csv")))
    assert int(r["paired_visits"]) == len(vis) == 1, (name, vis)
    v = vis[0]
    its = [float(l.split(",")[1]) for l in open(out + "/runs/" + name + ".iters") if l.split(",")[0] == v["visit"]]
    assert abs(statistics.median(its) - float(v["measured_s"])) < 1e-5, (name, its, v)
    # its own samples (one process, or its partition stage by stage), pooled by the simulator
    cond = "1r" if r["stages"] == "1" else "part" + open(out + "/runs/" + name + ".part").read().strip()
    smp = "%s/profile-%s.r%s.%s.samples.tsv" % (out, cond, v["visit"], name)
    cmd = [build + "/sim/pipecast-sim", "run", root + "/models/mlp32.model", "--set", "width=64,input=64",
           "--schedule", r["schedule"], "--batch", r["batch"], "--microbatches", r["microbatches"],
           "--profile", smp, "--net", out + "/net.tsv", "--format", "csv"]
    if r["stages"] != "1":
        cmd += ["-p", open(out + "/runs/" + name + ".spec").read().strip()]
    t = float(list(csv.DictReader(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.split("\n\n\n")[0].strip().splitlines()))[0]["iteration_s"])
    assert abs(t - float(v["predicted_s"])) < 2e-6, (name, t, v)
    e = 100 * (t - statistics.median(its)) / statistics.median(its)
    assert abs(e - float(r["paired_error_pct"])) < 0.011, (name, e, r["paired_error_pct"])
'
check "validate.py: a cell of 3 visits, then 2, has the median of its visits' errors, each visit against its own samples" '
import csv, glob, os, re, shutil, statistics, subprocess, sys
out, root, build = os.environ["OUT"], os.environ["ROOT"], os.environ["BUILD"]
cp, sim = out + ".visits", build + "/sim/pipecast-sim"
shutil.copytree(out, cp)
def scaled(src, dst, k):
    """DST: the samples of SRC with every duration times K"""
    cols, res = None, []
    for l in open(src).read().splitlines():
        f = l.split("\t")
        if l.startswith("#") or not l or cols is None:
            cols = cols or (f if l and not l.startswith("#") else None)
            res.append(l)
            continue
        for c in ("fwd_s", "bwd_s", "opt_s"):
            f[cols.index(c)] = repr(float(f[cols.index(c)]) * k)
        res.append("\t".join(f))
    open(dst, "w").write("\n".join(res) + "\n")
def predict(name, r, smp):
    cmd = [sim, "run", root + "/models/mlp32.model", "--set", "width=64,input=64", "--schedule", r["schedule"],
           "--batch", r["batch"], "--microbatches", r["microbatches"], "--profile", smp,
           "--net", cp + "/net.tsv", "--format", "csv"]
    if r["stages"] != "1":
        cmd += ["-p", open(cp + "/runs/" + name + ".spec").read().strip()]
    o = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return float(list(csv.DictReader(o.split("\n\n\n")[0].strip().splitlines()))[0]["iteration_s"])
def validate():
    global said
    said = subprocess.run([sys.executable, root + "/experiments/validate.py", "--model", "mlp32", "--out", cp,
                           "--sim", sim, "--batch", "16"], check=True, capture_output=True, text=True).stdout
    return {"%s-P%s-D%s-M%s" % (r["schedule"], r["stages"], r["replicas"], r["microbatches"]): r
            for r in csv.DictReader(open(cp + "/validation.csv"))}
rows, want = validate(), {}
for name in ("gpipe-P1-D1-M1", "1f1b-P2-D1-M4"):
    r = rows[name]
    cond = "1r" if r["stages"] == "1" else "part" + open(cp + "/runs/" + name + ".part").read().strip()
    smp = lambda v: "%s/profile-%s.r%d.%s.samples.tsv" % (cp, cond, v, name)
    t1 = float(open(cp + "/runs/" + name + ".iters").read().split(",")[1])
    meas = {1: t1, 2: 1.5 * t1, 3: 0.6 * t1}  # visit 2 slower, its samples 2x; visit 3 faster, 0.5x
    with open(cp + "/runs/" + name + ".iters", "a") as f:
        f.write("2,%r\n3,%r\n" % (meas[2], meas[3]))
    scaled(smp(1), smp(2), 2.0)
    scaled(smp(1), smp(3), 0.5)
    want[name] = {v: 100 * (predict(name, r, smp(v)) - meas[v]) / meas[v] for v in (1, 2, 3)}
t1 = float(open(cp + "/runs/1f1b-P1-D1-M4.iters").read().split(",")[1])
with open(cp + "/runs/1f1b-P1-D1-M4.iters", "a") as f:  # no samples: still one pair
    f.write("2,%r\n3,%r\n" % (2 * t1, 0.5 * t1))
got = validate()
for name, e in want.items():
    assert got[name]["paired_visits"] == "3", got[name]
    assert abs(float(got[name]["paired_error_pct"]) - statistics.median(e.values())) < 0.011, (name, e, got[name])
# the error bars of the figure: 1f1b P=2 M=4 now has iterations 0.6 t, t, 1.5 t (quartiles 0.8 t and
# 1.25 t), its one-stage baseline 0.5 t1, t1, 2 t1 (0.75 t1 and 1.5 t1), the M = 1 cell one, t11
t = float(open(cp + "/runs/1f1b-P2-D1-M4.iters").read().splitlines()[0].split(",")[1])
t11 = float(open(cp + "/runs/1f1b-P1-D1-M1.iters").read().split(",")[1])
sp = next(r for r in csv.DictReader(open(cp + "/speedup.csv"))
          if r["kind"] == "measured" and (r["schedule"], r["stages"], r["microbatches"]) == ("1f1b", "2", "4"))
for col, v in (("speedup_lo", 0.75 * t1 / (1.25 * t)), ("speedup_hi", 1.5 * t1 / (0.8 * t)), ("speedup", t1 / t),
               ("speedup_vs_1mb_lo", t11 / (1.25 * t)), ("speedup_vs_1mb_hi", t11 / (0.8 * t))):
    assert abs(float(sp[col]) - v) < 1e-4 * v, (col, v, sp)
for name in want:  # visit 3 forgotten: an even count
    with open(cp + "/runs/" + name + ".iters") as f:
        first2 = f.read().splitlines()[:2]
    open(cp + "/runs/" + name + ".iters", "w").write("\n".join(first2) + "\n")
got = validate()
for name, e in want.items():
    assert got[name]["paired_visits"] == "2", got[name]
    assert abs(float(got[name]["paired_error_pct"]) - (e[1] + e[2]) / 2) < 0.011, (name, e, got[name])
# the worst cell explained from its traced visit nearest its paired error: gpipe P=1 M=1 gets
# round 1 of visit 1 and round 2 of visits 2 and 3 (traced: 1 and 3); visits 2 and 3 far faster
# than their samples (20x slow, so that this cell is the worst whatever the machine measured),
# 3 the faster: errors e1 < e2 < e3, the median e2 (the worst cell) nearest e3, so visit 3 and
# the trace of round 2
name = "gpipe-P1-D1-M1"
t = float(open(cp + "/runs/" + name + ".iters").read().splitlines()[0].split(",")[1])
open(cp + "/runs/" + name + ".iters", "w").write("1,%r\n2,%r\n3,%r\n" % (t, 0.05 * t, 0.045 * t))
for v in (2, 3):
    scaled(cp + "/profile-1r.r1.%s.samples.tsv" % name, cp + "/profile-1r.r%d.%s.samples.tsv" % (v, name), 20.0)
rows = list(csv.DictReader(open(cp + "/runs/%s.r1.times.csv" % name)))
with open(cp + "/runs/%s.r2.times.csv" % name, "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0]))
    w.writeheader()
    w.writerows(rows + [dict(r_, visit="2") for r_ in rows if r_["visit"] == "1"])
shutil.copy(cp + "/runs/%s.r1.meas.json" % name, cp + "/runs/%s.r2.meas.json" % name)
got = validate()
assert re.search(r"^the worst cell \(gpipe P=1 D=1 M=1, .*the trace of visit 3, the last of its round", said, re.M), said
assert cp + "/runs/%s.r2.meas.json" % name in open(cp + "/compare-worst.txt").read()
# a study made before the grid: times.csv without a visit column, visits numbered by round
# (visit 2 is round 2 then, the nearest traced to e2)
for f in glob.glob(cp + "/runs/*.r[12].times.csv"):
    rows = list(csv.reader(open(f)))
    csv.writer(open(f, "w")).writerows([r_[1:] for r_ in rows])
got = validate()
assert re.search(r"^the worst cell \(gpipe P=1 D=1 M=1, .*the trace of visit 2, the last of its round", said, re.M), said
assert cp + "/runs/%s.r2.meas.json" % name in open(cp + "/compare-worst.txt").read()
shutil.rmtree(cp)
'
check "memory.csv: a row per stage of every cell (12), plan and peak positive" '
import csv, os
rows = list(csv.DictReader(open(os.environ["OUT"] + "/memory.csv")))
assert len(rows) == 12, len(rows)
for r in rows:
    nums = [float(v) for k, v in r.items() if k.endswith("_mib")]
    assert nums and all(v > 0 for v in nums), r
'
check "memory.csv: every stage holds its layout's baseline beyond its accounted bytes, within 1 MiB (memory runs bound as the baselines)" '
import csv, os
for r in csv.DictReader(open(os.environ["OUT"] + "/memory.csv")):
    gap = float(r["measured_process_mib"]) - float(r["accounted_mib"])
    assert abs(gap - float(r["baseline_mib"])) < 1.0, r
'
check "speedup.csv: measured and predicted speedups, 2 to 16 stages predicted" '
import csv, os
rows = list(csv.DictReader(open(os.environ["OUT"] + "/speedup.csv")))
kinds = {r["kind"] for r in rows}
assert {"measured", "predicted"} <= kinds, kinds
assert {int(r["stages"]) for r in rows if r["kind"] == "predicted"} == {2, 4, 8, 16}, rows
assert all(float(r["speedup"]) > 0 for r in rows)
'
check "the predicted lines: each stage count from its own partitions' profiles (sweep-stages<P>)" '
import csv, os
out = os.environ["OUT"]
lines = {(r["schedule"], r["stages"], r["microbatches"]): float(r["iteration_s"])
         for r in csv.DictReader(open(out + "/speedup.csv")) if r["kind"] == "predicted"}
n = 0
for P in (2, 4, 8, 16):
    layers = {l.split("\t")[0] for f in open("%s/profile-stages%d.list" % (out, P)).read().split()
              for l in open(f) if not l.startswith("#") and not l.startswith("layer\t")}
    assert len(layers) == 64, (P, len(layers))  # mlp32: every layer has its samples
    for r in csv.DictReader(open("%s/sweep-stages%d/sweep.csv" % (out, P))):
        key = (r["schedule"], r["stages"], r["microbatches"])
        assert abs(lines[key] - float(r["iteration_s"])) <= 1e-5 * lines[key], (key, r)  # 6 digits
        n += 1
assert n == 16, n
'
if head -c 8 "$out/speedup.png" | od -An -c | grep -q "P   N   G"; then ok "speedup.png is a PNG"
else not_ok "speedup.png is a PNG"; fi
if head -c 5 "$out/speedup.pdf" | grep -q "%PDF-"; then ok "speedup.pdf is a PDF"
else not_ok "speedup.pdf is a PDF"; fi

# --reuse predicts again from the same measurements: the same table
# shellcheck disable=SC2086
expect 0 "reusing the measurements in $out" "study --reuse: runs on the kept measurements" -- \
  "$study" $args --reuse
if cmp -s "$out/validation.csv" "$tmp/validation.first.csv"; then
  ok "study --reuse: the same validation.csv"
else
  diff "$tmp/validation.first.csv" "$out/validation.csv" | sed 's/^/# /'
  not_ok "study --reuse: the same validation.csv"
fi

# the memory runs' --summary files: read, and a study made before them reads from the logs alone
if ls "$out"/runs/*-P*-D*-M*.summary.json >/dev/null 2>&1 && ls "$out"/baseline-*.summary.json >/dev/null 2>&1
then ok "study: every memory run and baseline wrote its --summary"
else not_ok "study: every memory run and baseline wrote its --summary"; fi
mkdir -p "$tmp/summaries"
mv "$out"/runs/*.summary.json "$out"/baseline-*.summary.json "$tmp/summaries/"
# shellcheck disable=SC2086
expect 0 "" "study --reuse: a folder without --summary files" -- "$study" $args --reuse
if cmp -s "$out/validation.csv" "$tmp/validation.first.csv"; then
  ok "study --reuse without --summary files: the same validation.csv, memory from the logs"
else
  diff "$tmp/validation.first.csv" "$out/validation.csv" | sed 's/^/# /'
  not_ok "study --reuse without --summary files: the same validation.csv, memory from the logs"
fi
mv "$tmp/summaries"/baseline-*.summary.json "$out/"
mv "$tmp/summaries"/*.summary.json "$out/runs/"

# --continue on a finished study measures nothing again and predicts the same
# shellcheck disable=SC2086
expect 0 "round 1: the cells of 2 process(es) were measured" \
  "study --continue: a finished study's layouts are kept" -- "$study" $args --continue
if cmp -s "$out/validation.csv" "$tmp/validation.first.csv"; then
  ok "study --continue: the same validation.csv"
else
  not_ok "study --continue: the same validation.csv"
fi

# --budget: the study stops before a step that would run past it (exit 3), keeping what it
# measured; --continue then finishes it (this study trains with AdamW and clipping, and
# --continue takes those options from the folder)
outb=$tmp/sb
# shellcheck disable=SC2086
expect 3 "stopped before profile (round 1) after" "study --budget 1: stops before its first round, exit 3" -- \
  "$study" ${args%--out*} --out "$outb" --budget 1 --optimizer adamw --lr 0.001 --clip-grad-norm 1
if grep -q "the same command with --continue goes on" "$tmp/err" && [ -s "$outb/baseline-2.log" ] &&
   [ ! -e "$outb/validation.csv" ]; then ok "study --budget: says how to go on; the baselines kept, no tables yet"
else sed 's/^/# /' "$tmp/err"; not_ok "study --budget: says how to go on; the baselines kept, no tables yet"; fi
# shellcheck disable=SC2086
expect 0 "[8/8] round 1" "study --continue after a budget stop: the grid measured" -- \
  "$study" ${args%--out*} --out "$outb" --continue
if [ -s "$outb/validation.csv" ]; then ok "study --continue after a budget stop: the tables written"
else not_ok "study --continue after a budget stop: the tables written"; fi
out_a=$out out=$outb
check "study --optimizer adamw --clip-grad-norm 1: recorded, profiled with AdamW's step, the memory plan AdamW's, the table says so" '
import csv, glob, os
o = os.environ["OUT"]
assert open(o + "/train-options").read().split() == ["--optimizer", "adamw", "--lr", "0.001", "--clip-grad-norm", "1"]
samples = glob.glob(o + "/before-*.samples.tsv") + glob.glob(o + "/profile-*.samples.tsv")
assert samples and all("# optimizer adamw" in open(f).read() for f in samples), samples
rows = list(csv.DictReader(open(o + "/memory.csv")))
assert rows and all(abs(float(r["error_vs_accounted_pct"])) < 0.01 for r in rows), rows
assert "trained with --optimizer adamw --lr 0.001 --clip-grad-norm 1" in open(o + "/validation.md").read()
'
out=$out_a
expect 2 "measured with the training options '--optimizer adamw --lr 0.001 --clip-grad-norm 1', not '--optimizer sgd'" \
  "study --continue with other training options is refused" -- \
  "$study" ${args%--out*} --out "$outb" --continue --optimizer sgd
# each step that worked recorded its duration (the next --budget judges by them); a continued
# study whose steps find their work done records none
cp "$outb/steps.tsv" "$tmp/steps.first" 2>/dev/null
# shellcheck disable=SC2086
"$study" ${args%--out*} --out "$outb" --continue >/dev/null 2>&1 </dev/null
if [ "$(cut -f1 "$tmp/steps.first" | sort | paste -sd' ' -)" = "before beyond layout-1 layout-2 memory profile" ] &&
   cmp -s "$outb/steps.tsv" "$tmp/steps.first"; then
  ok "study: steps.tsv holds each step that worked, once; a study with nothing left adds none"
else sed 's/^/# /' "$outb/steps.tsv"; not_ok "study: steps.tsv holds each step that worked, once; a study with nothing left adds none"; fi
expect 2 "--optimizer must be sgd or adamw, got 'adam'" "study: an unknown --optimizer is refused" -- \
  "$study" mlp32 --optimizer adam --out "$tmp/bad"
expect 2 "--lr must be above 0, got '0'" "study: --lr 0 is refused" -- "$study" mlp32 --lr 0 --out "$tmp/bad"
expect 2 "--clip-grad-norm must be a number of at least 0, got '-1'" "study: --clip-grad-norm -1 is refused" -- \
  "$study" mlp32 --clip-grad-norm -1 --out "$tmp/bad"
expect 2 "--budget must be a whole number" "study: --budget 0 is refused" -- \
  "$study" mlp32 --budget 0 --out "$tmp/bad"

# --procs 4 on this machine (oversubscribed, refused no binding: the timings mean nothing, the
# layout does): cells of 1, 2 and 4 stages, a process baseline per layout, the lines of 8 and
# 16 stages from partitions profiled beyond
out4=$tmp/s4
args4="mlp32 --set width=64,input=64 --batch 16 --microbatches 4 --rounds 1 --iters 1 --procs 4 --out $out4"
# shellcheck disable=SC2086
expect 0 "[6/6] round 1: 1f1b, 4 stage(s) x 1 replica(s), 4 microbatches" \
  "study --procs 4: the cells of 1, 2 and 4 processes measured" -- "$study" $args4
if grep -q "measured the memory of 6 cell(s), at most 2 at once" "$tmp/err"; then
  ok "study --procs 4: the two one-process cells' memory runs side by side"
else grep "memory" "$tmp/err" | sed 's/^/# /'; not_ok "study --procs 4: the two one-process cells' memory runs side by side"; fi
# a memory budget below one cell's plan: one cell at a time
# shellcheck disable=SC2086
expect 0 "measured the memory of 6 cell(s), at most 1 at once" \
  "study, PC_MEMORY_MIB=1: the memory runs one at a time" -- env PC_MEMORY_MIB=1 "$study" ${args4%--out*} --out "$tmp/s4m"
expect 2 "PC_MEMORY_MIB must be a whole number of MiB, got 'lots'" "study: a bad PC_MEMORY_MIB is refused" -- \
  env PC_MEMORY_MIB=lots "$study" ${args4%--out*} --out "$tmp/s4b"
if [ "$(cat "$out4/procs")" = 4 ] && [ -f "$out4/baseline-4.log" ] &&
   [ "$("$py" -c 'import csv, sys; print(sorted({int(r["stages"]) for r in csv.DictReader(open(sys.argv[1]))}))' "$out4/validation.csv")" = "[1, 2, 4]" ] &&
   [ -s "$out4/profile-stages4.list" ] && [ -s "$out4/profile-stages8.r1.samples.tsv" ] &&
   [ ! -e "$out4/profile-stages4.r1.samples.tsv" ]; then
  ok "study --procs 4: validation.csv has 1, 2 and 4 stages; line 4 from the cells, 8 profiled beyond"
else
  not_ok "study --procs 4: validation.csv has 1, 2 and 4 stages; line 4 from the cells, 8 profiled beyond"
fi

# compare-stats: its first row (median profile rows, median iteration) is the study's pooled
# error, its "each visit" row the study's paired one
expect 0 "" "compare-stats: runs on the study's folder" -- \
  "$py" "$root/experiments/compare-stats.py" "$out" --sim "$build/sim/pipecast-sim"
mape=$(sed -n 's/^pooled: .*MAPE \([0-9.]*\)%.*/\1/p' "$tmp/study.out")
first=$(awk '$1 == "median" && $2 == "/" && $3 == "median" { sub("%", "", $4); print $4; exit }' "$tmp/out")
if [ -n "$mape" ] && [ "$mape" = "$first" ]; then ok "compare-stats: its first row reproduces the study's pooled MAPE ($mape%)"
else echo "# study $mape, compare-stats $first"; not_ok "compare-stats: its first row reproduces the study's pooled MAPE"; fi
mape=$(sed -n 's/^iteration time over [0-9]* cells: MAPE \([0-9.]*\)%.*/\1/p' "$tmp/study.out")
paired=$(awk '$1 == "each" && $2 == "visit" { v = $(NF - 3); sub("%", "", v); print v; exit }' "$tmp/out")
if [ -n "$mape" ] && [ "$mape" = "$paired" ]; then ok "compare-stats: its each-visit row reproduces the study's paired MAPE ($mape%)"
else echo "# study $mape, compare-stats $paired"; not_ok "compare-stats: its each-visit row reproduces the study's paired MAPE"; fi
expect 2 "no measured cells under" "compare-stats: a folder without a study is refused" -- \
  "$py" "$root/experiments/compare-stats.py" "$tmp/empty" --sim "$build/sim/pipecast-sim"
expect 2 "$tmp/nosim: No such file or directory (build it first" \
  "compare-stats: a simulator that is not there is named (not a traceback)" -- \
  "$py" "$root/experiments/compare-stats.py" "$out" --sim "$tmp/nosim"
mkdir -p "$tmp/bad-iters/runs"
cp "$out/runs/gpipe-P1-D1-M1.pred.csv" "$tmp/bad-iters/runs/"
printf '1,0.25\n2,fast\n' >"$tmp/bad-iters/runs/gpipe-P1-D1-M1.iters"
expect 2 "gpipe-P1-D1-M1.iters:2: expected visit,seconds, got '2,fast'" \
  "compare-stats: a corrupt line of timed iterations is named, file and line" -- \
  "$py" "$root/experiments/compare-stats.py" "$tmp/bad-iters" --sim "$build/sim/pipecast-sim"
: >"$tmp/bad-iters/runs/gpipe-P1-D1-M1.iters"
expect 2 "gpipe-P1-D1-M1.iters: no timed iterations" \
  "compare-stats: a cell with no timed iterations is named (not a traceback)" -- \
  "$py" "$root/experiments/compare-stats.py" "$tmp/bad-iters" --sim "$build/sim/pipecast-sim"

# --continue after a study stopped while recording a layout (one cell's round recorded, one not)
# and without one of its baselines: the layout is measured again, each visit recorded once
rm "$out/runs/1f1b-P2-D1-M4.r1.times.csv" "$out/baseline-2.log" "$out/baseline-2.summary.json"
# shellcheck disable=SC2086
expect 0 "round 1: the 4 cells of 2 process(es) side by side" \
  "study --continue: a half-recorded layout is measured again" -- "$study" $args --continue
if [ -s "$out/baseline-2.log" ] &&
   [ "$(cat "$out"/runs/*-P2-D1-M*.iters | wc -l)" = 4 ] && [ "$(cat "$out"/runs/*-P2-D1-M*.tries | wc -l)" = 4 ]; then
  ok "study --continue: the missing baseline measured, one line per visit of each cell (not two)"
else
  not_ok "study --continue: the missing baseline measured, one line per visit of each cell (not two)"
fi

# --reuse on a folder made before the layouts were recorded (profile-2r, no procs file)
mv "$out/profile-all.r1.samples.tsv" "$out/profile-2r.r1.samples.tsv"
rm "$out/procs"
# shellcheck disable=SC2086
expect 0 "reusing the measurements in $out (made with up to 2 processes)" \
  "study --reuse: a folder of the old naming is read as 1 and 2 processes" -- "$study" $args --reuse
if [ -f "$out/profile-all.r1.samples.tsv" ] && [ "$(cat "$out/procs")" = 2 ]; then
  ok "study --reuse: the old folder's profile renamed profile-all, its layout recorded"
else
  not_ok "study --reuse: the old folder's profile renamed profile-all, its layout recorded"
fi

# Any model file, named by its path from where the study was started: its name heads the
# results, and a model other than mlp32 is also measured data parallel.
mkdir -p "$tmp/mine"
cp "$root/models/tiny-cnn.model" "$tmp/mine/mynet.model"
expect 0 "study mynet [" "study: any model file, by its path" -- \
  sh -c 'cd "$1" && shift && exec "$@"' sh "$tmp" "$study" mine/mynet.model --batch 8 \
  --microbatches 1,2 --rounds 1 --iters 1 --out "$tmp/any"
stdout_has "figure: $tmp/any/speedup.png" "study of any model file: ends with its figure"
if "$py" - "$tmp/any/validation.csv" <<'PY' >"$tmp/err" 2>&1
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert rows and all(r["model"] == "mynet" for r in rows), rows[:1]
assert any(r["replicas"] == "2" for r in rows), "no data-parallel cell"
PY
then ok "study of any model file: its cells named after it, data parallel among them"
else sed 's/^/# /' "$tmp/err"; not_ok "study of any model file: its cells named after it, data parallel among them"; fi

tap_end
