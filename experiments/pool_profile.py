#!/usr/bin/python3
"""pool_profile.py — one profile from the samples of several profiling runs.

    experiments/pool_profile.py OUT SAMPLES.tsv...

Each SAMPLES file is what `pipecast-exec profile --samples` wrote: one row per layer, microbatch
size, rank and repetition. OUT is a profile (the TSV that pipecast-sim reads) whose every
(layer, size) row holds the median of each column over all the samples of all the files.

Why the median of everything pooled: on a shared machine the same op runs at different speeds in
different stretches of time, and a pipeline's iteration sums many ops spread over such stretches;
the median of samples taken across the whole study (the rounds interleave profiles and runs) is
the typical speed, the same thing a cell's median iteration measures. A per-layer minimum is
lower than any iteration could be (the sum of the quietest moments of every layer) and predicts
fast. experiments/compare-stats.py uses read_samples and write_profile with other statistics.
Standard library only."""
import os
import statistics
import sys


STATS = {"median": statistics.median, "mean": statistics.fmean, "minimum": min}


def fail(msg):
    """An input error: the message, named by the script that runs, and exit status 2."""
    print("%s: %s" % (os.path.splitext(os.path.basename(sys.argv[0]))[0], msg), file=sys.stderr)
    sys.exit(2)


def read_samples(paths):
    """The comment lines of the first file, and {(layer, mb): (kind, [(fwd, bwd, opt), ...])}
    over all the files, in the order of first appearance."""
    header, rows = None, {}
    for path in paths:
        cols = None
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as e:
            fail("%s: %s" % (path, e.strerror))
        if header is None:
            header = [l for l in lines if l.startswith("#")]
        for n, line in enumerate(lines, 1):
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if cols is None:
                cols = fields
                need = ["layer", "kind", "mb", "fwd_s", "bwd_s", "opt_s"]
                if any(c not in cols for c in need):
                    fail("%s:%d: not a samples file of pipecast-exec profile --samples "
                         "(expected the columns %s)" % (path, n, ", ".join(need)))
                continue
            if len(fields) != len(cols):
                fail("%s:%d: %d fields, expected %d" % (path, n, len(fields), len(cols)))
            r = dict(zip(cols, fields))
            try:
                key = (r["layer"], int(r["mb"]))
                v = tuple(float(r[c]) for c in ("fwd_s", "bwd_s", "opt_s"))
            except ValueError as e:
                fail("%s:%d: %s" % (path, n, e))
            rows.setdefault(key, (r["kind"], []))[1].append(v)
    if not rows:
        fail("no samples in %s" % " ".join(paths))
    return header, rows


def write_profile(out, header, rows, stat, source):
    """OUT: a profile whose every row holds STATS[stat] of each column of its samples; the
    header's reps line says so, naming SOURCE."""
    lo = min(len(v) for _, v in rows.values())
    hi = max(len(v) for _, v in rows.values())
    reps = ("# reps %s samples per row, pooled from %s (the %s of each column)"
            % (lo if lo == hi else "%d-%d" % (lo, hi), source, stat))
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        for l in header:
            f.write((reps if l.startswith("# reps ") else l) + "\n")
        f.write("layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\n")
        for (layer, mb), (kind, samples) in rows.items():
            v = [STATS[stat](c) for c in zip(*samples)]
            f.write("%s\t%s\t%d\t%.9e\t%.9e\t%.9e\n" % (layer, kind, mb, *v))
    os.replace(tmp, out)


def main():
    if len(sys.argv) < 3:
        fail("usage: experiments/pool_profile.py OUT SAMPLES.tsv...")
    out, files = sys.argv[1], sys.argv[2:]
    header, rows = read_samples(files)
    write_profile(out, header, rows, "median", " ".join(os.path.basename(p) for p in files))


if __name__ == "__main__":
    main()
