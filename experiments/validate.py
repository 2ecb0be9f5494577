#!/usr/bin/python3
"""validate.py — the measured-against-predicted tables and the figures of one study.

Run by experiments/study.sh after it measured and predicted; reads OUT/runs/NAME.{iters,log,
pred.csv,pred-all.csv,meas.json,pred.json,rR.replay.csv} (NAME =
SCHED-P<stages>-D<replicas>-M<microbatches>), OUT/sweep-*/sweep.csv, and writes under OUT:
  validation.csv   one row per measured cell: measured (the cell's median iteration over all
                   its visits, pipecast-exec grid) and predicted iteration seconds,
                   error (predicted - measured) / measured in percent (predicted from the
                   profile pooled over the study); the paired error: each visit's iteration
                   against the prediction from the profile sample its own processes took right
                   after it (experiments/cellsim.py), the median over the cell's visits (the
                   headline MAPE and worst cell; runs/NAME.visits.csv has each visit's); for
                   one-process cells also
                   the prediction from the all-cores-busy profile (what ignoring the load costs);
                   and the replay error: the median over the cell's traces (its last iteration of
                   each round) of the engine's time with the trace's own compute durations
                   (`pipecast-sim run --durations`, runs/NAME.rR.replay.csv) against the trace's
                   time: what the schedule and message model get wrong, op costs aside
  memory.csv       one row per (cell, stage): measured process peak (VmHWM), the runtime's
                   accounted bytes, the simulator's plan, and the errors against both
  compare-worst.txt  `pipecast-sim compare` of the worst cell's two traces (of the visits traced,
                   a round's last each, the one whose own error is nearest the cell's, and the
                   prediction from the samples taken right after it), and from them one
                   sentence in the printed summary and validation.md: the worst cell's replay
                   error and the compute ops whose measured time differs most from the predicted
  speedup.csv      measured and predicted speedups over one stage (same M, and M = 1); a
                   measured one's spread (_lo, _hi: the one-stage cell's first quartile of its
                   iterations over the pipeline's third, and the third over the first)
  dp.csv           (CNNs) pipeline against data parallelism at equal process counts (a measured
                   row's spread: the throughput at its best cell's iteration quartiles)
  validation.md    the same tables in Markdown (experiments/report.sh embeds it)
  speedup.png/.pdf, dp.png/.pdf   figures (gnuplot: experiments/plot-speedup.gp, plot-dp.gp)
and prints the validation table, MAPE and worst cell, and the figures' paths on stdout.
Standard library only."""
import argparse
import csv
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
from types import SimpleNamespace

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cellsim import Predictor, paired_error, read_header, study_cells, visit_samples, write_whole  # noqa: E402
MIB = 1048576.0


def csv_blocks(text):
    """The CSV blocks (lists of row dicts) of a pipecast-sim --format csv output: blocks are
    separated by two blank lines."""
    return [list(csv.DictReader(b.strip().splitlines())) for b in text.split("\n\n\n") if b.strip()]


def read_run_csv(path):
    """The two CSV blocks of `pipecast-sim run --format csv`: (summary row, stage rows)."""
    with open(path) as f:
        blocks = csv_blocks(f.read())
    return blocks[0][0], blocks[1] if len(blocks) > 1 else []


def read_log(path):
    """Median seconds and per-stage (process MiB, accounted MiB) of a train run: its --summary JSON
    (NAME.summary.json beside NAME.log); a study made before train wrote one is read from the log."""
    js = path[:-len(".log")] + ".summary.json"
    if os.path.exists(js):
        try:
            s = json.load(open(js))
            return float(s["median_s"]), {int(m["stage"]): (m["process_bytes"] / 1048576.0,
                                                            m["accounted_bytes"] / 1048576.0)
                                          for m in s["memory"]}
        except (ValueError, KeyError, TypeError) as e:
            raise SystemExit("validate: %s: not a train --summary with a timed iteration (%s)" % (js, e))
    text = open(path).read()
    m = re.search(r"median ([0-9.]+) s", text)
    if not m:
        raise SystemExit("validate: %s: no timing line (the run failed?):\n%s" % (path, text[-2000:]))
    mem = {}
    for s, proc, acc in re.findall(
            r"stage (\d+): peak memory ([0-9.]+) MiB measured \(process\), ([0-9.]+) MiB accounted",
            text):
        mem[int(s)] = (float(proc), float(acc))
    return float(m.group(1)), mem


def read_sweep(path):
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return list(csv.DictReader(f))


def pct(pred, meas):
    return 100.0 * (pred - meas) / meas


def quartiles(xs):
    """The first and third quartiles of XS (both its one value if it has one)."""
    if len(xs) < 2:
        return xs[0], xs[0]
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[0], q[2]


def read_procs(out):
    """The most processes the study measured (OUT/procs, written by study.sh; 2 before it was)."""
    try:
        with open(os.path.join(out, "procs")) as f:
            return int(f.read())
    except (OSError, ValueError):
        return 2


def machine(out):
    """Where the study measured (OUT/machine, written by study.sh: cores and processor)."""
    try:
        with open(os.path.join(out, "machine")) as f:
            return f.read().strip() or "machine not recorded"
    except OSError:
        return "machine not recorded"


def cell_name(c):
    """A measured cell as the tables name it: gpipe P=2 D=1 M=16."""
    return "%s P=%d D=%d M=%d" % (c["schedule"], c["stages"], c["replicas"], c["microbatches"])


def traced_visits(out, name):
    """{visit: its trace}: the visits of cell NAME whose iteration a trace holds, the last of
    each round (runs/NAME.rR.meas.json; round R's visits are those of runs/NAME.rR.times.csv,
    numbered on through the rounds; a study made before the grid, whose times.csv has no visit
    column, numbered its visits by round)."""
    traced, at, r = {}, 0, 1
    while os.path.exists(os.path.join(out, "runs", "%s.r%d.times.csv" % (name, r))):
        with open(os.path.join(out, "runs", "%s.r%d.times.csv" % (name, r))) as f:
            rows = csv.DictReader(f)
            if "visit" in (rows.fieldnames or []):
                n = max((int(row["visit"]) for row in rows), default=0)
                at += n
            else:
                n, at = 1, r
        mj = os.path.join(out, "runs", "%s.r%d.meas.json" % (name, r))
        if n > 0 and os.path.exists(mj):  # a round with no timed visit traces none
            traced[at] = mj
        r += 1
    return traced


def explain(sim, mj, pj, c, err, which):
    """One sentence on the worst cell from its two traces: whether the schedule and messages are
    to blame (its replay error) or the op costs, and the compute ops that moved its time most."""
    r = subprocess.run([sim, "compare", "--format", "csv", mj, pj], capture_output=True, text=True)
    if r.returncode != 0:
        return ""
    rows = csv_blocks(r.stdout)[0]
    comp = [x for x in rows if x["op"] in ("FWD", "BWD", "BWD_W", "OPT")]
    comp.sort(key=lambda x: -abs(float(x["measured_total_s"]) - float(x["predicted_total_s"])))
    parts = ["stage %s %s %+.3f s (%.2fx its predicted mean)"
             % (x["stage"], x["op"], float(x["measured_total_s"]) - float(x["predicted_total_s"]),
                float(x["ratio"])) for x in comp[:3]]
    wait = sum(float(x["measured_total_s"]) - float(x["predicted_total_s"]) for x in rows if x["op"] == "RECV")
    if c["replay"] is None:
        blame = "no replay"
    elif abs(c["replay"]) < max(2.0, abs(err) / 4):
        blame = "its replay misses by %+.1f%%, so the op costs, not the schedule or messages" % c["replay"]
    else:
        blame = "its replay misses by %+.1f%%: the schedule or the messages (waits), not only the op costs" % c["replay"]
    return ("the worst cell (%s, %+.1f%%): %s; the compute ops whose measured time differs most from "
            "the predicted (%s): %s; receives %+.3f s"
            % (cell_name(c), err, blame, which, ", ".join(parts), wait))


def rp(c, fmt, k="replay"):
    """Cell C's value K formatted, or nothing when it has none."""
    return fmt % c[k] if c[k] is not None else ""


def measured_cells(a, out):
    """The study's measured cells: each with its measured and predicted time, its paired error
    (each visit against its own processes' profile), its replay error and its memory; the
    Predictor and the visited cells (cellsim)."""
    cells = []
    # each visit paired with the profile its own processes took right after it
    visited = {c["name"]: c for c in study_cells(out)}
    samples = (visit_samples(out, c, v) for c in visited.values() for v, _ in c["iters"])
    first = next((path for path in samples if os.path.exists(path)), None)
    sim = Predictor(out, a.sim, read_header(first)) if first else None
    for log in sorted(glob.glob(os.path.join(out, "runs", "*.log"))):
        name = os.path.basename(log)[:-4]
        m = re.fullmatch(r"(\w+)-P(\d+)-D(\d+)-M(\d+)", name)
        if not m:
            continue
        sched, P, D, M = m.group(1), int(m.group(2)), int(m.group(3)), int(m.group(4))
        meas, mem = read_log(log)
        summ, stages = read_run_csv(os.path.join(out, "runs", name + ".pred.csv"))
        pred = float(summ["iteration_s"])
        alt = None
        altp = os.path.join(out, "runs", name + ".pred-all.csv")
        if os.path.exists(altp):
            alt = float(read_run_csv(altp)[0]["iteration_s"])
        before = None  # from the profile of the cell's layout taken before any cell was timed
        bp = os.path.join(out, "runs", name + ".pred-before.csv")
        if os.path.exists(bp):
            before = float(read_run_csv(bp)[0]["iteration_s"])
        tries = []
        tp = os.path.join(out, "runs", name + ".tries")
        if os.path.exists(tp):
            tries = [tuple(float(v) for v in l.strip().split(",")[1:3]) for l in open(tp) if l.strip()]
        its = [meas]
        if name in visited:  # the median of every timed iteration of every visit (runs/NAME.iters)
            its = [t for _, t in visited[name]["iters"]]
            meas = statistics.median(its)
        replay = []  # each round's trace replayed with its own compute durations
        for rp in sorted(glob.glob(os.path.join(out, "runs", name + ".r*.replay.csv"))):
            rs = read_run_csv(rp)[0]
            replay.append(pct(float(rs["iteration_s"]), float(rs["trace_iteration_s"])))
        pairs = sim.visits(out, visited[name]) if sim and name in visited else []
        if pairs:
            with write_whole(os.path.join(out, "runs", name + ".visits.csv"), newline="") as f:
                w = csv.writer(f)
                w.writerow(["visit", "measured_s", "predicted_s", "error_pct"])
                for v, mv, pv in pairs:
                    w.writerow([v, "%.6f" % mv, "%.6f" % pv, "%.2f" % pct(pv, mv)])
        cells.append(dict(name=name, schedule=sched, stages=P, replicas=D, microbatches=M, tries=tries,
                          measured=meas, quartiles=quartiles(its), predicted=pred, error=pct(pred, meas), alt=alt,
                          before=before, before_error=None if before is None else pct(before, meas),
                          mb=a.batch // (D * M),
                          pairs=pairs, paired=paired_error(pairs),
                          replay=statistics.median(replay) if replay else None,
                          mem=mem, pmem={int(r["stage"]): int(r["memory_bytes"]) / MIB for r in stages}))
    if not cells:
        raise SystemExit("validate: no measured cells under %s/runs" % out)
    for c in cells:
        c["other"] = max(t[1] for t in c["tries"]) if c["tries"] else float("nan")
    cells.sort(key=lambda c: (c["replicas"], c["schedule"] != "gpipe", c["stages"], c["microbatches"]))
    for c in cells:
        c["other"] = max(t[1] for t in c["tries"]) if c["tries"] else float("nan")
    cells.sort(key=lambda c: (c["replicas"], c["schedule"] != "gpipe", c["stages"], c["microbatches"]))
    return cells, sim, visited


def validation_table(a, out, cells):
    """validation.csv: a row per cell."""
    with write_whole(os.path.join(out, "validation.csv"), newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "schedule", "stages", "replicas", "microbatches", "batch",
                    "measured_s", "predicted_s", "error_pct", "predicted_allbusy_s", "error_allbusy_pct",
                    "visits_s", "visits_other_cpu_pct", "replay_error_pct", "paired_error_pct",
                    "paired_visits", "predicted_before_s", "error_before_pct"])
        for c in cells:
            w.writerow([a.model, c["schedule"], c["stages"], c["replicas"], c["microbatches"], a.batch,
                        "%.6f" % c["measured"], "%.6f" % c["predicted"], "%.2f" % c["error"],
                        "" if c["alt"] is None else "%.6f" % c["alt"],
                        "" if c["alt"] is None else "%.2f" % pct(c["alt"], c["measured"]),
                        ";".join("%.4f" % t[0] for t in c["tries"]),
                        ";".join("%.0f" % t[1] for t in c["tries"]),
                        "" if c["replay"] is None else "%.2f" % c["replay"],
                        "" if c["paired"] is None else "%.2f" % c["paired"], len(c["pairs"]),
                        "" if c["before"] is None else "%.6f" % c["before"],
                        "" if c["before"] is None else "%.2f" % c["before_error"]])


def headline(cells):
    """The errors over the cells: paired (the headline) or pooled, the single visits', the
    replay's, the one-process cells' with either profile."""
    # The headline error pairs each visit with the profile its own processes took right after it
    # (a cell's error: the median of its visits'): the machine's speed wanders over minutes, and
    # a profile pooled over the whole study (predicted_s, error_pct) carries that wander into the
    # cells measured while it was slow or fast. A single visit, one iteration against one
    # profile repetition, scatters (the seconds-long jitter); the median over the visits is the
    # cell's systematic error. A study whose cells are not all paired (one made before the
    # fourth session, when a profile process took the samples before a try) is headed by the
    # pooled error.
    key = "paired" if all(c["paired"] is not None for c in cells) else "error"
    visit_errs = [pct(p_, m_) for c in cells for _, m_, p_ in c["pairs"]]
    mape = sum(abs(c[key]) for c in cells) / len(cells)
    worst = max(cells, key=lambda c: abs(c[key]))
    mape_pooled = sum(abs(c["error"]) for c in cells) / len(cells)
    worst_pooled = max(cells, key=lambda c: abs(c["error"]))
    replayed = [c for c in cells if c["replay"] is not None]
    ones = [c for c in cells if c["alt"] is not None]
    mape_ones = sum(abs(c["error"]) for c in ones) / len(ones) if ones else None
    mape_ones_all = sum(abs(pct(c["alt"], c["measured"])) for c in ones) / len(ones) if ones else None
    before = [c for c in cells if c["before"] is not None]
    by_mb = {}
    for c in before:
        by_mb.setdefault(c["mb"], []).append(abs(c["before_error"]))
    return SimpleNamespace(before=before, before_by_mb={k: sum(v) / len(v) for k, v in by_mb.items()},
                           key=key, visit_errs=visit_errs, mape=mape, worst=worst, mape_pooled=mape_pooled,
                           worst_pooled=worst_pooled, replayed=replayed, ones=ones, mape_ones=mape_ones,
                           mape_ones_all=mape_ones_all)


def memory_table(a, out, cells):
    """memory.csv: a row per stage of each cell, the plan against the process and the runtime;
    the rows and the tiny-model baselines by process count."""
    # memory, per stage. The process holds more than the runtime's plan (code, MPI and OpenBLAS
    # buffers): that baseline is measured on a tiny model (process peak - accounted) at each
    # process count K (baseline-K.log), and added to the plan for the "vs process + baseline"
    # column of the cells of K processes.
    base_mem = {}
    for bp in glob.glob(os.path.join(out, "baseline-*.log")):
        m = re.fullmatch(r"baseline-(\d+)\.log", os.path.basename(bp))
        if m:
            _, bm = read_log(bp)
            if bm:
                base_mem[int(m.group(1))] = sum(p_ - a_ for p_, a_ in bm.values()) / len(bm)
    mrows = []
    for c in cells:
        for s, (proc, acc) in sorted(c["mem"].items()):
            pm = c["pmem"].get(s)
            if pm is None:
                continue
            k = c["stages"] * c["replicas"]
            b = base_mem.get(k, base_mem.get(1 if k == 1 else 2, 0.0))
            mrows.append(dict(cell=c, stage=s, proc=proc, acc=acc, pred=pm, base=b,
                              e_proc=pct(pm, proc), e_acc=pct(pm, acc), e_base=pct(pm + b, proc)))
    with write_whole(os.path.join(out, "memory.csv"), newline="") as f:
        w = csv.writer(f)
        w.writerow(["model", "schedule", "stages", "replicas", "microbatches", "stage",
                    "measured_process_mib", "accounted_mib", "predicted_mib",
                    "error_vs_process_pct", "error_vs_accounted_pct", "baseline_mib",
                    "error_vs_process_with_baseline_pct"])
        for r in mrows:
            c = r["cell"]
            w.writerow([a.model, c["schedule"], c["stages"], c["replicas"], c["microbatches"], r["stage"],
                        "%.1f" % r["proc"], "%.1f" % r["acc"], "%.1f" % r["pred"],
                        "%.2f" % r["e_proc"], "%.2f" % r["e_acc"], "%.1f" % r["base"], "%.2f" % r["e_base"]])
    return mrows, base_mem


def worst_cell(a, out, sim, visited, worst, key):
    """The worst cell op by op (compare-worst.txt) from the trace nearest its error, and the
    sentence that explains it."""
    # the worst cell, op by op
    cmp_text = ""
    mj = os.path.join(out, "runs", worst["name"] + ".meas.json")
    pj = os.path.join(out, "runs", worst["name"] + ".pred.json")
    which = "the trace of its last iteration, against the profile pooled over the study"
    traced = traced_visits(out, worst["name"]) if key == "paired" else {}
    tpairs = [p_ for p_ in worst["pairs"] if p_[0] in traced]
    if tpairs:  # of the visits traced (a round's last), the one whose own error is nearest the cell's
        v, mv, pv = min(tpairs, key=lambda p_: (abs(pct(p_[2], p_[1]) - worst[key]), -p_[0]))
        mj = traced[v]
        pj = os.path.join(out, "runs", worst["name"] + ".visit.pred.json")
        sim.predict(visited[worst["name"]], [visit_samples(out, visited[worst["name"]], v)],
                    "median", trace=pj)
        which = ("the trace of visit %d, the last of its round, whose own error %+.1f%% is the nearest the "
                 "cell's of its %d traced visits, against the profile its processes took right after it"
                 % (v, pct(pv, mv), len(tpairs)))
    if os.path.exists(mj) and os.path.exists(pj):
        r = subprocess.run([a.sim, "compare", mj, pj], capture_output=True, text=True)
        cmp_text = r.stdout if r.returncode == 0 else "compare failed: " + r.stderr
        with write_whole(os.path.join(out, "compare-worst.txt")) as f:
            f.write(cmp_text)
    why = explain(a.sim, mj, pj, worst, worst[key], which) if cmp_text and not cmp_text.startswith("compare failed") else ""
    return cmp_text, which, why


def speedup_table(out, cells):
    """speedup.csv: the measured and predicted speedups over one stage (the figure), their
    spread; the errors of the speedups; the sweeps read (one stage, pipelines)."""
    meas_t = {(c["schedule"], c["stages"], c["microbatches"]): c["measured"] for c in cells if c["replicas"] == 1}
    # a measured speedup's spread (the figure's error bars): the quartiles of the two cells'
    # iterations, the one-stage cell's first against the pipeline's third and the other way round
    meas_q = {(c["schedule"], c["stages"], c["microbatches"]): c["quartiles"] for c in cells if c["replicas"] == 1}
    pred2 = read_sweep(os.path.join(out, "sweep-all", "sweep.csv"))
    # each stage count's pipelines from its own partitions' profiles, where the study made them
    for n in (2, 4, 8, 16):
        own = read_sweep(os.path.join(out, "sweep-stages%d" % n, "sweep.csv"))
        if own:
            pred2 = [r for r in pred2 if int(r["stages"]) != n] + own
    pred1 = read_sweep(os.path.join(out, "sweep-1r", "sweep.csv"))
    # the ideal speedup P M / (M + P - 1) of each (P, M), as the simulator reports it
    ideal = {(int(r["stages"]), int(r["microbatches"])): float(r["ideal_speedup"])
             for r in read_sweep(os.path.join(out, "sweep-all", "sweep.csv")) + pred2}
    base = {(r["schedule"], int(r["microbatches"])): float(r["iteration_s"]) for r in pred1}
    srows = []
    for (sched, P, M), t in sorted(meas_t.items()):
        if P == 1 or (sched, 1, M) not in meas_t:
            continue
        one = meas_t.get((sched, 1, 1))
        (lo, hi), (b_lo, b_hi) = meas_q[(sched, P, M)], meas_q[(sched, 1, M)]
        o_lo, o_hi = meas_q.get((sched, 1, 1), ("", ""))
        srows.append(["measured", sched, P, M, t, meas_t[(sched, 1, M)] / t,
                      one / t if one else "", ideal.get((P, M), ""), b_lo / hi, b_hi / lo,
                      o_lo / hi if one else "", o_hi / lo if one else ""])
    for r in pred2:
        sched, P, M = r["schedule"], int(r["stages"]), int(r["microbatches"])
        t = float(r["iteration_s"])
        if P == 1 or (sched, M) not in base:
            continue
        one = base.get((sched, 1))
        srows.append(["predicted", sched, P, M, t, base[(sched, M)] / t, one / t if one else "",
                      float(r["ideal_speedup"]), "", "", "", ""])
    with write_whole(os.path.join(out, "speedup.csv"), newline="") as f:
        w = csv.writer(f)
        w.writerow(["kind", "schedule", "stages", "microbatches", "iteration_s", "speedup",
                    "speedup_vs_1mb", "ideal", "speedup_lo", "speedup_hi", "speedup_vs_1mb_lo",
                    "speedup_vs_1mb_hi"])
        for r in srows:
            w.writerow(r[:4] + ["%.6g" % v if v != "" else "" for v in r[4:]])

    # the error of the speedups themselves (what the figure shows), measured cells only
    pk = {(r[1], r[2], r[3]): r for r in srows if r[0] == "predicted"}
    sp_err = []
    for r in srows:
        q = pk.get((r[1], r[2], r[3]))
        if r[0] == "measured" and q:
            sp_err.append((abs(pct(q[5], r[5])), abs(pct(q[6], r[6])) if r[6] != "" and q[6] != "" else None))
    return srows, sp_err, pred1, pred2


def dp_table(a, out, cells, pred1, pred2):
    """dp.csv: pipeline against data parallelism, measured and predicted, the best configuration
    of each process count."""
    dprows = []
    if any(c["replicas"] > 1 for c in cells):
        def best(rows):
            return min(rows, key=lambda r: r[0]) if rows else None
        # measured: 1 process (best M); at each measured process count K > 1 a pipeline of K
        # stages (best schedule and M) and K replicas (best M)
        # a measured row's spread (the figure's error bars): its cell's iteration quartiles
        b1 = best([(c["measured"], "1 stage M=%d" % c["microbatches"], c["quartiles"]) for c in cells
                   if c["stages"] == 1 and c["replicas"] == 1])
        for kind in ("pipeline", "data"):
            if b1:
                dprows.append(["measured", kind, 1, b1[0], a.batch / b1[0], b1[1],
                               a.batch / b1[2][1], a.batch / b1[2][0]])
        for n in sorted({c["stages"] * c["replicas"] for c in cells} - {1}):
            bp = best([(c["measured"], "%s M=%d" % (c["schedule"], c["microbatches"]), c["quartiles"])
                       for c in cells if c["stages"] == n and c["replicas"] == 1])
            bd = best([(c["measured"], "M=%d" % c["microbatches"], c["quartiles"]) for c in cells
                       if c["replicas"] == n])
            for kind, b in (("pipeline", bp), ("data", bd)):
                if b:
                    dprows.append(["measured", kind, n, b[0], a.batch / b[0], b[1],
                                   a.batch / b[2][1], a.batch / b[2][0]])
        p1 = best([(float(r["iteration_s"]), "1 stage M=%s" % r["microbatches"]) for r in pred1])
        for n in (1, 2, 4, 8, 16):
            rows = [(float(r["iteration_s"]), "%s M=%s" % (r["schedule"], r["microbatches"]))
                    for r in pred2 if int(r["stages"]) == n]
            bp = p1 if n == 1 else best(rows)
            if bp:
                dprows.append(["predicted", "pipeline", n, bp[0], a.batch / bp[0], bp[1], "", ""])
            d = p1 if n == 1 else best([(float(r["iteration_s"]), "M=%s" % r["microbatches"])
                                        for r in read_sweep(os.path.join(out, "sweep-dp%d" % n, "sweep.csv"))])
            if d:
                dprows.append(["predicted", "data", n, d[0], a.batch / d[0], d[1], "", ""])
        with write_whole(os.path.join(out, "dp.csv"), newline="") as f:
            w = csv.writer(f)
            w.writerow(["kind", "parallelism", "processes", "iteration_s", "throughput", "best_config",
                        "throughput_lo", "throughput_hi"])
            for r in dprows:
                w.writerow(r[:3] + ["%.6g" % r[3], "%.6g" % r[4], r[5]] +
                           ["%.6g" % v if v != "" else "" for v in r[6:]])
    return dprows


def figures(a, out, dprows):
    """speedup.png/.pdf and dp.png/.pdf with gnuplot, where it is installed."""
    figs = []
    if shutil.which("gnuplot"):
        for ext, term in (("png", "pngcairo size 1100,800 font ',10'"), ("pdf", "pdfcairo size 8in,6in font ',9'")):
            r = subprocess.run(["gnuplot", "-e", "data='%s'; term=\"%s\"; outfile='%s'; title='%s'"
                                % (os.path.join(out, "speedup.csv"), term,
                                   os.path.join(out, "speedup." + ext), a.model + (" (quick)" if a.quick else "")),
                                os.path.join(HERE, "plot-speedup.gp")], capture_output=True, text=True)
            if r.returncode != 0:
                print("validate: gnuplot: " + r.stderr, file=sys.stderr)
            else:
                figs.append(os.path.join(out, "speedup." + ext))
            if dprows:
                r = subprocess.run(["gnuplot", "-e", "data='%s'; term=\"%s\"; outfile='%s'; title='%s'"
                                    % (os.path.join(out, "dp.csv"), term, os.path.join(out, "dp." + ext), a.model),
                                    os.path.join(HERE, "plot-dp.gp")], capture_output=True, text=True)
                if r.returncode != 0:
                    print("validate: gnuplot: " + r.stderr, file=sys.stderr)
                else:
                    figs.append(os.path.join(out, "dp." + ext))
    else:
        print("validate: gnuplot is not on PATH: no figures (the CSV files are written)", file=sys.stderr)
    return figs


def report(a, procs, cells, s, why, sp_err, mrows, base_mem):
    """The lines the study prints: the cells' table and the summary sentences."""
    key, mape, worst, visit_errs = s.key, s.mape, s.worst, s.visit_errs
    mem_proc = [abs(r["e_proc"]) for r in mrows]
    mem_acc = [abs(r["e_acc"]) for r in mrows]
    mem_base = [abs(r["e_base"]) for r in mrows]
    # The process holds more than the runtime's plan: code, MPI and OpenBLAS buffers. Their size
    # is the (process - accounted) gap; report it so the reader sees it is a constant, not a slope.
    gaps = [r["proc"] - r["acc"] for r in mrows]
    def cfg(c):
        return "%-6s %2d %2d %3d" % (c["schedule"], c["stages"], c["replicas"], c["microbatches"])
    lines = []
    lines.append("validation: %s, batch %d, measured (median iteration over the visits, pipecast-exec "
                 "grid) against predicted (pipecast-sim run, profile taken under the run's load): "
                 "predicted_s and error from the profile pooled over the study; paired: each visit "
                 "against the profile its own processes took right after it, the median of the "
                 "visits' errors" % (a.model, a.batch))
    lines.append("%-6s %2s %2s %3s %11s %11s %8s %8s %7s %8s" % ("sched", "P", "D", "M", "measured_s", "predicted_s",
                                                                  "error", "paired", "others", "replay"))

    for c in cells:
        lines.append("%s %11.4f %11.4f %+7.1f%% %8s %6.0f%% %8s" % (
            cfg(c), c["measured"], c["predicted"], c["error"], rp(c, "%+7.1f%%", "paired"), c["other"],
            rp(c, "%+7.1f%%")))
    if s.before:
        wb = max(s.before, key=lambda c: abs(c["before_error"]))
        lines.append("before the run, as a user predicts (the profile of each cell's layout and the "
                     "calibration, taken before any cell was timed; no pairing): "
                     "MAPE %.1f%% over %d cells, worst %+.1f%% (%s); by microbatch size: %s" % (
                         sum(abs(c["before_error"]) for c in s.before) / len(s.before), len(s.before),
                         wb["before_error"], cell_name(wb),
                         ", ".join("%d sample%s %.1f%%" % (k, "" if k == 1 else "s", v)
                                   for k, v in sorted(s.before_by_mb.items()))))
    if key == "paired":
        counts = sorted({len(c["pairs"]) for c in cells})
        lines.append("iteration time over %d cells: MAPE %.1f%%, worst %+.1f%% (%s), each visit against the "
                     "profile its own processes took right after it (a cell's error: the median of its "
                     "%s visits'%s)" % (len(cells), mape, worst[key], cell_name(worst),
                                        "/".join(str(n) for n in counts),
                                        "; of an even count, the mean of the middle two"
                                        if any(n % 2 == 0 for n in counts) else ""))
        lines.append("single visits: %d, one iteration against one profile repetition each: MAPE %.1f%%, "
                     "%.0f%% of them beyond 10%%, from %+.1f%% to %+.1f%% (the jitter the median takes out)"
                     % (len(visit_errs), sum(abs(e) for e in visit_errs) / len(visit_errs),
                        100.0 * sum(abs(e) > 10 for e in visit_errs) / len(visit_errs),
                        min(visit_errs), max(visit_errs)))
        lines.append("pooled: one profile for the whole study (every visit's samples pooled; predicted_s): "
                     "MAPE %.1f%%, worst %+.1f%% (%s)" % (s.mape_pooled, s.worst_pooled["error"],
                                                         cell_name(s.worst_pooled)))
    else:
        lines.append("iteration time over %d cells: MAPE %.1f%%, worst %+.1f%% (%s), from the profile pooled "
                     "over the study (%d of the cells have no samples of their own visits)"
                     % (len(cells), mape, worst[key], cell_name(worst),
                        sum(c["paired"] is None for c in cells)))
    if why:
        lines.append(why)
    if s.replayed:
        wr = max(s.replayed, key=lambda c: abs(c["replay"]))
        lines.append("replay (each measured iteration run again in the engine with its own compute durations, "
                     "the messages modelled: the schedule and message model's error alone) over %d cells: "
                     "MAPE %.1f%%, worst %+.1f%% (%s)"
                     % (len(s.replayed), sum(abs(c["replay"]) for c in s.replayed) / len(s.replayed), wr["replay"],
                        cell_name(wr)))
    # The measurement's own repeatability: gpipe and 1f1b run the same ops with one stage (in
    # another order when M > 1) and the same op list when M = 1, so the two cells measure the same
    # work twice; no prediction can be expected closer than they agree.
    by = {(c["schedule"], c["stages"], c["replicas"], c["microbatches"]): c["measured"] for c in cells}
    pairs = [(k, by[k], by[("1f1b",) + k[1:]]) for k in by
             if k[0] == "gpipe" and ("1f1b",) + k[1:] in by and (k[1] == 1 or k[3] == 1)]
    if pairs:
        diffs = [(100.0 * abs(a - b) / ((a + b) / 2), k) for k, a, b in pairs]
        wd = max(diffs)
        lines.append("repeatability: the same work measured twice (gpipe and 1f1b cells with one stage, "
                     "or M = 1; %d pairs) differs by %.1f%% on average, worst %.1f%% (P=%d, M=%d)"
                     % (len(diffs), sum(d for d, _ in diffs) / len(diffs), wd[0], wd[1][1], wd[1][3]))
    if sp_err:
        e1 = [e[0] for e in sp_err]
        e2 = [e[1] for e in sp_err if e[1] is not None]
        lines.append("speedup over 1 stage (the figure) over %d cells: same M MAPE %.1f%%, worst %.1f%%; "
                     "vs M = 1 MAPE %.1f%%, worst %.1f%%" % (len(e1), sum(e1) / len(e1), max(e1),
                                                          sum(e2) / max(len(e2), 1), max(e2 or [0])))
    if s.ones:
        lines.append("one-process cells: MAPE %.1f%% with the one-busy-core profile, %.1f%% with the "
                     "%d-busy-cores profile" % (s.mape_ones, s.mape_ones_all, procs))
    if mrows:
        def where(r):
            return "%s stage %d" % (cell_name(r["cell"]), r["stage"])
        wm = max(mrows, key=lambda r: abs(r["e_proc"]))
        wb = max(mrows, key=lambda r: abs(r["e_base"]))
        lines.append("per-stage memory over %d stages: plan vs accounted MAPE %.2f%%, worst %.2f%%; plan vs process "
                     "peak MAPE %.1f%%, worst %+.1f%% (%s), process - accounted = %.1f..%.1f MiB; "
                     "plan + tiny-model baseline (%s) vs process peak MAPE %.1f%%, worst %+.1f%% (%s)"
                     % (len(mrows), sum(mem_acc) / len(mem_acc), max(mem_acc), sum(mem_proc) / len(mem_proc),
                        wm["e_proc"], where(wm), min(gaps), max(gaps),
                        ", ".join("%.1f MiB at %d rank%s" % (v, k, "s" if k > 1 else "") for k, v in sorted(base_mem.items())) or "none",
                        sum(mem_base) / len(mem_base), wb["e_base"], where(wb)))
    return lines


def markdown(a, out, procs, cells, s, lines, cmp_text, which, mrows, dprows):
    """validation.md: the tables and sentences for the report."""
    key, mape, worst = s.key, s.mape, s.worst
    with write_whole(os.path.join(out, "validation.md")) as f:
        f.write("### %s: predicted against measured iteration time\n\n" % a.model)
        f.write("Batch %d; %s; measured = the median timed iteration of the cell over its visits (`pipecast-exec grid`: the cells of one process layout side by side, visited in turn); "
                "predicted = `pipecast-sim run` with the profile taken under the same load "
                "(one busy core for one process; the cell's own stages, or replicas, on theirs) and the "
                "calibrated link: predicted s and error from the profile pooled over the study, paired from "
                "each visit against the profile its own processes took right after it (a cell's paired "
                "error is the median of its visits' errors; runs/NAME.visits.csv has them). Up to %d "
                "processes, one per core, on %s.\n\n"
                % (a.batch, a.grid or ("quick grid" if a.quick else "full grid"), procs, machine(out)))
        f.write("| schedule | stages | replicas | M | measured s | predicted s | error | paired | CPU of other programs | replay |\n"
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
        for c in cells:
            f.write("| %s | %d | %d | %d | %.4f | %.4f | %+.1f%% | %s | %.0f%% | %s |\n"
                    % (c["schedule"], c["stages"], c["replicas"], c["microbatches"], c["measured"], c["predicted"],
                       c["error"], rp(c, "%+.1f%%", "paired"), c["other"], rp(c, "%+.1f%%")))
        f.write("\n**MAPE %.1f%%, worst cell %+.1f%%** (%s%s). Replay: the cell's measured iterations (the last of "
                "each round) run again in the engine with their own compute durations and the modelled messages "
                "(`pipecast-sim run --durations`), against their own time, the median over the rounds: the error of "
                "the schedule and message model alone; the rest of a cell's error is, roughly, its op costs.\n\n"
                % (mape, worst[key], cell_name(worst), "; paired" if key == "paired" else "; pooled"))
        for prefix in ("single visits:", "pooled:", "the worst cell (", "replay", "repeatability", "speedup over"):
            found = [l for l in lines if l.startswith(prefix)]
            if found:
                f.write(found[0][0].upper() + found[0][1:] + ".\n\n")
        if s.ones:
            f.write("One-process cells: MAPE %.1f%% with the one-busy-core profile; %.1f%% had they "
                    "been predicted with the %d-busy-cores profile.\n" % (s.mape_ones, s.mape_ones_all, procs))
        if cmp_text:
            f.write("\nThe worst cell op by op (`pipecast-sim compare`: %s):\n\n```\n%s```\n"
                    % (which, cmp_text))
        if mrows:
            f.write("\n### %s: per-stage peak memory\n\n" % a.model)
            f.write("Predicted = the simulator's plan (`pc_runtime_bytes`); accounted = the executor's runtime "
                    "(parameters, gradients, optimizer state, activations); process = VmHWM; baseline = a tiny "
                    "model's process peak minus its accounted bytes (code, MPI, OpenBLAS).\n\n")
            f.write("| schedule | stages | replicas | M | stage | process MiB | accounted MiB | predicted MiB | vs accounted | vs process | plan + baseline vs process |\n"
                    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
            for r in mrows:
                c = r["cell"]
                f.write("| %s | %d | %d | %d | %d | %.1f | %.1f | %.1f | %+.2f%% | %+.1f%% | %+.1f%% |\n"
                        % (c["schedule"], c["stages"], c["replicas"], c["microbatches"], r["stage"],
                           r["proc"], r["acc"], r["pred"], r["e_acc"], r["e_proc"], r["e_base"]))
            f.write("\n" + lines[-1] + ".\n")
        if dprows:
            f.write("\n### %s: pipeline against data parallelism (batch %d)\n\n" % (a.model, a.batch))
            f.write("| | parallelism | processes | iteration s | samples/s | best configuration |\n|---|---|---:|---:|---:|---|\n")
            for r in dprows:
                f.write("| %s | %s | %d | %.4f | %.1f | %s |\n" % tuple(r[:6]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--quick", type=int, default=0)
    ap.add_argument("--grid", default="", help="how the grid was chosen, for validation.md")
    ap.add_argument("--seconds", type=int, default=0)
    a = ap.parse_args()
    out = a.out
    procs = read_procs(out)
    cells, sim, visited = measured_cells(a, out)
    validation_table(a, out, cells)
    s = headline(cells)
    mrows, base_mem = memory_table(a, out, cells)
    cmp_text, which, why = worst_cell(a, out, sim, visited, s.worst, s.key)
    srows, sp_err, pred1, pred2 = speedup_table(out, cells)
    dprows = dp_table(a, out, cells, pred1, pred2)
    figs = figures(a, out, dprows)
    lines = report(a, procs, cells, s, why, sp_err, mrows, base_mem)
    text = "\n".join(lines)
    markdown(a, out, procs, cells, s, lines, cmp_text, which, mrows, dprows)
    if cmp_text:
        print("worst cell op by op (%s):" % os.path.join(out, "compare-worst.txt"))
        print("\n".join(cmp_text.splitlines()[:20]))
        print()
    print(text)
    print("\ntables: %s/validation.csv, %s/memory.csv, %s/speedup.csv%s, %s/validation.md" %
          (out, out, out, ", %s/dp.csv" % out if dprows else "", out))
    if a.seconds:
        print("study took %d s" % a.seconds)
    for fig in figs:
        print("figure: %s" % fig)


if __name__ == "__main__":
    main()
