#!/usr/bin/python3
"""compare-stats.py — how a study's error depends on the statistics taken on each side.

    experiments/compare-stats.py OUT [--sim build/sim/pipecast-sim]

OUT is a study's folder (experiments/study.sh): it keeps every profile repetition
(*.samples.tsv) and every timed iteration of every visit (runs/NAME.iters). For each pair of
statistics — a profile row's over its pooled samples (median, mean, minimum), a cell's over its
iterations (median, fastest) — this predicts every measured cell again with `pipecast-sim run`
(same partition, same profile condition as study.sh: one process, the cell's partition, or two
ranks) and prints the mean absolute percentage error, the worst cell and the mean signed error.
The first row is the study's own method and reproduces its validation.csv. The next to last
row predicts each cell from its own samples only (the study pools the samples of every cell of
the same condition: the same partition, or one process at the same microbatch size). The last
row pairs
each visit with its own profile, the one taken right after it (median of that profile's samples
against the visit's median iteration; a cell's error is the median of its visits' errors, and
in the row after it the error of the median of its visits' predictions; before
the grid of the sixth session a visit was a try: a train process of its own). Standard library
only."""
import argparse
import csv
import glob
import io
import os
import re
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from pool_profile import fail, read_samples, write_profile  # noqa: E402


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        fail("%s: %s" % (path, e.strerror))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--sim", default=os.path.join(HERE, "..", "build", "sim", "pipecast-sim"))
    a = ap.parse_args()
    runs = os.path.join(a.out, "runs")
    cells = []
    for ip in sorted(glob.glob(os.path.join(runs, "*.iters"))):
        name = os.path.basename(ip)[:-6]
        m = re.fullmatch(r"(\w+)-P(\d+)-D(\d+)-M(\d+)", name)
        pred = os.path.join(runs, name + ".pred.csv")
        if not m or not os.path.exists(pred):
            continue
        with open(pred) as f:
            batch = int(next(csv.DictReader(f))["batch"])
        tries = [(int(l.split(",")[0]), float(l.split(",")[1])) for l in open(ip) if l.strip()]
        iters = [t for _, t in tries]
        P, D = int(m.group(2)), int(m.group(3))
        cond = "1r" if P * D == 1 else "dp%d" % D
        spec = None
        if P > 1:
            cond = "part" + read_text(os.path.join(runs, name + ".part"))
            spec = read_text(os.path.join(runs, name + ".spec"))
        cells.append(dict(name=name, sched=m.group(1), P=P, D=D, M=int(m.group(4)), batch=batch,
                          iters=iters, tries=tries, cond=cond, spec=spec))
    if not cells:
        fail("no measured cells under %s (run experiments/study.sh first)" % runs)
    pools = {}
    for cond in sorted({c["cond"] for c in cells}):
        paths = sorted(glob.glob(os.path.join(a.out, "profile-%s.r*.samples.tsv" % cond)))
        if not paths:
            fail("no samples of profile-%s under %s (a study made before profile --samples?)"
                 % (cond, a.out))
        pools[cond] = read_samples(paths)
    header = pools[cells[0]["cond"]][0]
    model = next(l.split()[2] for l in header if l.startswith("# model "))
    sets = ",".join(l.split(None, 2)[2] for l in header if l.startswith("# param "))
    mf = [os.path.join(HERE, "..", "models", model + ".model")] + (["--set", sets] if sets else [])
    net = os.path.join(a.out, "net.tsv")
    tmp = os.path.join(a.out, "compare-stats.tmp.tsv")

    def predict(c, hdr, rows, pstat, source):
        """The cell's iteration time from a profile of ROWS' samples reduced by PSTAT."""
        write_profile(tmp, hdr, rows, pstat, source)
        cmd = [a.sim, "run"] + mf + ["--schedule", c["sched"], "--batch", str(c["batch"]),
                                     "--microbatches", str(c["M"]), "--profile", tmp,
                                     "--net", net, "--format", "csv"]
        if c["spec"]:
            cmd += ["-p", c["spec"]]
        if c["D"] > 1:
            cmd += ["--replicas", str(c["D"])]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            fail("%s: %s" % (" ".join(cmd), r.stderr.strip()))
        return float(next(csv.DictReader(io.StringIO(r.stdout)))["iteration_s"])

    def report(label, errs):
        worst = max(errs, key=lambda e: abs(e[0]))
        print("%-36s %6.1f%% %+7.1f%% %+7.1f%%  %s" % (
            label, sum(abs(e) for e, _ in errs) / len(errs), worst[0],
            sum(e for e, _ in errs) / len(errs), worst[1]))

    print("%s: %d cells; error of each cell = (predicted - measured) / measured" % (a.out, len(cells)))
    print("%-36s %7s %8s %8s  %s" % ("profile row / cell time", "MAPE", "worst", "bias", "worst cell"))
    for pstat, cstat in [("median", "median"), ("mean", "median"), ("minimum", "median"),
                         ("median", "fastest"), ("minimum", "fastest")]:
        errs = []
        for c in cells:
            pred = predict(c, *pools[c["cond"]], pstat, "profile-%s.r*.samples.tsv" % c["cond"])
            meas = statistics.median(c["iters"]) if cstat == "median" else min(c["iters"])
            errs.append((100 * (pred - meas) / meas, c["name"]))
        report(pstat + " / " + cstat, errs)
    # each cell from its own samples only (those its visits took), not pooled with the other
    # cells of its condition (the same partition, or one process at the same microbatch size)
    errs = []
    for c in cells:
        paths = sorted(glob.glob(os.path.join(a.out, "profile-%s.r*.%s.samples.tsv" % (c["cond"], c["name"]))))
        if paths:
            pred = predict(c, *read_samples(paths), "median", "profile-%s.r*.%s.samples.tsv" % (c["cond"], c["name"]))
            meas = statistics.median(c["iters"])
            errs.append((100 * (pred - meas) / meas, c["name"]))
    if errs:
        report("its own samples only / median", errs)
    # each visit against its own profile (study.sh's samples_of; in the fourth and fifth sessions
    # a try's train --profile-samples, before them a profile process just before the try)
    errs, errs2 = [], []
    for c in cells:
        per_try, preds, meass = [], [], []
        for r in sorted({r for r, _ in c["tries"]}):
            path = os.path.join(a.out, "profile-%s.r%d.%s.samples.tsv" % (c["cond"], r, c["name"]))
            if not os.path.exists(path):
                continue
            pred = predict(c, *read_samples([path]), "median", os.path.basename(path))
            meas = statistics.median([t for rr, t in c["tries"] if rr == r])
            per_try.append(100 * (pred - meas) / meas)
            preds.append(pred)
            meass.append(meas)
        if per_try:
            errs.append((statistics.median(per_try), c["name"]))
            pm, mm = statistics.median(preds), statistics.median(meass)
            errs2.append((100 * (pm - mm) / mm, c["name"]))
    if errs:
        report("each visit / its own profile, medians", errs)
        report("  the same, median prediction", errs2)
    os.remove(tmp)


if __name__ == "__main__":
    main()
