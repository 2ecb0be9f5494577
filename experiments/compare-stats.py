#!/usr/bin/python3
"""compare-stats.py — how a study's error depends on the statistics taken on each side.

    experiments/compare-stats.py OUT [--sim build/sim/pipecast-sim]

OUT is a study's folder (experiments/study.sh): it keeps every profile repetition
(*.samples.tsv) and every timed iteration of every visit (runs/NAME.iters). For each pair of
statistics — a profile row's over its pooled samples (median, mean, min; pooled by pipecast-sim), a cell's over its
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
import glob
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from cellsim import Predictor, paired_error, study_cells  # noqa: E402
from cellsim import fail, read_header  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--sim", default=os.path.join(HERE, "..", "build", "sim", "pipecast-sim"))
    a = ap.parse_args()
    cells = study_cells(a.out)
    if not cells:
        fail("no measured cells under %s (run experiments/study.sh first)" % os.path.join(a.out, "runs"))
    pools = {}
    for cond in sorted({c["cond"] for c in cells}):
        paths = sorted(glob.glob(os.path.join(a.out, "profile-%s.r*.samples.tsv" % cond)))
        if not paths:
            fail("no samples of profile-%s under %s (a study made before profile --samples?)"
                 % (cond, a.out))
        pools[cond] = paths
    sim = Predictor(a.out, a.sim, read_header(pools[cells[0]["cond"]][0]))

    def report(label, errs):
        worst = max(errs, key=lambda e: abs(e[0]))
        print("%-36s %6.1f%% %+7.1f%% %+7.1f%%  %s" % (
            label, sum(abs(e) for e, _ in errs) / len(errs), worst[0],
            sum(e for e, _ in errs) / len(errs), worst[1]))

    print("%s: %d cells; error of each cell = (predicted - measured) / measured" % (a.out, len(cells)))
    print("%-36s %7s %8s %8s  %s" % ("profile row / cell time", "MAPE", "worst", "bias", "worst cell"))
    for pstat, cstat in [("median", "median"), ("mean", "median"), ("min", "median"),
                         ("median", "fastest"), ("min", "fastest")]:
        errs = []
        for c in cells:
            pred = sim.predict(c, pools[c["cond"]], pstat)
            its = [t for _, t in c["iters"]]
            meas = statistics.median(its) if cstat == "median" else min(its)
            errs.append((100 * (pred - meas) / meas, c["name"]))
        report(pstat + " / " + cstat, errs)
    # each cell from its own samples only (those its visits took), not pooled with the other
    # cells of its condition (the same partition, or one process at the same microbatch size)
    errs = []
    for c in cells:
        paths = sorted(glob.glob(os.path.join(a.out, "profile-%s.r*.%s.samples.tsv" % (c["cond"], c["name"]))))
        if paths:
            pred = sim.predict(c, paths, "median")
            meas = statistics.median(t for _, t in c["iters"])
            errs.append((100 * (pred - meas) / meas, c["name"]))
    if errs:
        report("its own samples only / median", errs)
    # each visit against its own profile, taken right after it by its own processes (the study's
    # paired column; in the fourth and fifth sessions a visit was a try, a train process of its
    # own, and its samples train --profile-samples'; the samples a profile process took before a
    # try, before them, are not paired)
    errs, errs2 = [], []
    for c in cells:
        pairs = sim.visits(a.out, c)
        if pairs:
            errs.append((paired_error(pairs), c["name"]))
            pm, mm = statistics.median(p for _, _, p in pairs), statistics.median(m for _, m, _ in pairs)
            errs2.append((100 * (pm - mm) / mm, c["name"]))
    if errs:
        report("each visit / its own profile, medians", errs)
        report("  the same, median prediction", errs2)


if __name__ == "__main__":
    main()
