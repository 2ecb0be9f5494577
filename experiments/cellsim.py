"""cellsim.py — a study's measured cells predicted again by pipecast-sim from profile samples.

validate.py pairs each visit to a cell with the profile its own processes took right after it
(the paired error); compare-stats.py predicts the cells with other statistics. Both read a
study's folder (experiments/study.sh) the same way:
  runs/NAME.iters          every timed iteration: visit,seconds (visits numbered through the rounds)
  runs/NAME.pred.csv       the study's prediction (its batch)
  runs/NAME.spec, .part    a pipeline cell's partition and its number in parts.tsv
  profile-COND.rV.NAME.samples.tsv   the samples of the cell's own layers taken at visit V, COND
                           being 1r (one process), dpK (K replicas) or partK (partition K)
Standard library only."""
import contextlib
import csv
import glob
import io
import os
import re
import statistics
import subprocess
import sys
import tempfile

NAME = re.compile(r"(\w+)-P(\d+)-D(\d+)-M(\d+)")
# what pipecast-exec's train --profile-samples and grid --profile-reps write in a samples file's
# reps line: the samples were taken by the run's own processes, after (or between) its iterations
OWN = "in its processes and runtimes"


@contextlib.contextmanager
def write_whole(path, newline=None):
    """A text file to write at PATH, as pipecast's programs write theirs: into a temporary file
    beside it, fsynced and renamed into place when the block ends without an exception (else
    removed), so that a failure never leaves a partial file or destroys the earlier one."""
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path) or ".", prefix=os.path.basename(path) + ".tmp-")
    try:
        with os.fdopen(fd, "w", newline=newline) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def fail(msg):
    """An input error: the message, named by the script that runs, and exit status 2."""
    print("%s: %s" % (os.path.splitext(os.path.basename(sys.argv[0]))[0], msg), file=sys.stderr)
    sys.exit(2)


def read_header(path):
    """The comment lines at the top of a samples file (its model, parameters and reps line)."""
    try:
        with open(path) as f:
            return [l.rstrip("\n") for l in f if l.startswith("#")]
    except OSError as e:
        fail("%s: %s" % (path, e.strerror))


def read_text(path):
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError as e:
        fail("%s: %s" % (path, e.strerror))


def study_cells(out):
    """The study's measured cells (those with timed iterations and a prediction), by name: a
    dict of name, sched, P, D, M, batch, iters [(visit, seconds)], cond (the profile condition)
    and spec (a pipeline's partition, else None)."""
    runs = os.path.join(out, "runs")
    cells = []
    for ip in sorted(glob.glob(os.path.join(runs, "*.iters"))):
        name = os.path.basename(ip)[:-6]
        m = NAME.fullmatch(name)
        pred = os.path.join(runs, name + ".pred.csv")
        if not m or not os.path.exists(pred):
            continue
        with open(pred) as f:
            batch = int(next(csv.DictReader(f))["batch"])
        iters = []
        with open(ip) as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        v, t = line.split(",")[:2]
                        iters.append((int(v), float(t)))
                    except ValueError:
                        fail("%s:%d: expected visit,seconds, got '%s'" % (ip, n, line.strip()))
        if not iters:
            fail("%s: no timed iterations (a study stopped while measuring this cell: run it again "
                 "with --continue)" % ip)
        P, D = int(m.group(2)), int(m.group(3))
        cond = "1r" if P * D == 1 else "dp%d" % D
        spec = None
        if P > 1:
            cond = "part" + read_text(os.path.join(runs, name + ".part"))
            spec = read_text(os.path.join(runs, name + ".spec"))
        cells.append(dict(name=name, sched=m.group(1), P=P, D=D, M=int(m.group(4)), batch=batch,
                          iters=iters, cond=cond, spec=spec))
    return cells


def visit_samples(out, c, v):
    """Where the samples of cell C's own layers taken right after its visit V are."""
    return os.path.join(out, "profile-%s.r%d.%s.samples.tsv" % (c["cond"], v, c["name"]))


class Predictor:
    """pipecast-sim run on a study's cells, with the model (and its --set parameters) that a
    samples file's header names and the study's calibrated link."""

    def __init__(self, out, sim, header):
        model = next((l.split()[2] for l in header if l.startswith("# model ")), None)
        if model is None:
            fail("%s: the samples name no model (a profile made before pipecast profile v1?)" % out)
        sets = ",".join(l.split(None, 2)[2] for l in header if l.startswith("# param "))
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(out, model + ".model")  # the study keeps the model file it measured
        if not os.path.isfile(path):
            path = os.path.join(here, "..", "models", model + ".model")
        self.mf = [path] + (["--set", sets] if sets else [])
        # the training options the study ran (study.sh's train-options): the simulator's share
        topts = []
        if os.path.exists(os.path.join(out, "train-options")):
            topts = read_text(os.path.join(out, "train-options")).split()
        for flag, value in zip(topts[::2], topts[1::2]):
            if flag in ("--optimizer", "--clip-grad-norm"):
                self.mf += [flag, value]
        self.sim = sim
        self.out = out
        self.net = os.path.join(out, "net.tsv")

    def predict(self, c, paths, stat, trace=None):
        """Cell C's iteration seconds from the samples files PATHS, pooled by pipecast-sim with
        STAT (median, mean or min), and its trace in TRACE."""
        cmd = [self.sim, "run"] + self.mf + ["--schedule", c["sched"], "--batch", str(c["batch"]),
                                             "--microbatches", str(c["M"])]
        for p in paths:
            cmd += ["--profile", p]
        cmd += ["--profile-stat", stat, "--net", self.net, "--format", "csv"]
        if c["spec"]:
            cmd += ["-p", c["spec"]]
        if c["D"] > 1:
            cmd += ["--replicas", str(c["D"])]
        if trace:
            cmd += ["--trace", trace]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        except OSError as e:
            fail("%s: %s (build it first: experiments/setup.sh, or name it with --sim)"
                 % (self.sim, e.strerror))
        if r.returncode != 0:
            fail("%s: %s" % (" ".join(cmd), r.stderr.strip()))
        return float(next(csv.DictReader(io.StringIO(r.stdout)))["iteration_s"])

    def visits(self, out, c):
        """Each visit to cell C that has its own profile samples, paired with them: a list of
        (visit, measured seconds (its median iteration), predicted seconds (from the median of
        the samples its processes took right after it)). Samples that a profile process took
        before the visit (a study of the first three sessions) are not its own: no pair."""
        pairs = []
        for v in sorted({v for v, _ in c["iters"]}):
            path = visit_samples(out, c, v)
            if os.path.exists(path):
                if not any(l.startswith("# reps ") and OWN in l for l in read_header(path)):
                    continue
                meas = statistics.median(t for vv, t in c["iters"] if vv == v)
                pairs.append((v, meas, self.predict(c, [path], "median")))
        return pairs


def paired_error(pairs):
    """A cell's paired error in percent: the median over its visits of (predicted - measured) /
    measured, each visit against its own profile (of an even count, the mean of the middle two;
    None without visits)."""
    if not pairs:
        return None
    return statistics.median(100.0 * (p - m) / m for _, m, p in pairs)
