#!/usr/bin/python3
"""pool-profile.py — one profile from the samples of several profiling runs.

    experiments/pool-profile.py OUT SAMPLES.tsv...

Each SAMPLES file is what `pipecast-exec profile --samples` wrote: one row per layer, microbatch
size, rank and repetition. OUT is a profile (the TSV that pipecast-sim reads) whose every
(layer, size) row holds the median of each column over all the samples of all the files.

Why the median of everything pooled: on a shared machine the same op runs at different speeds in
different stretches of time, and a pipeline's iteration sums many ops spread over such stretches;
the median of samples taken across the whole study (the rounds interleave profiles and runs) is
the typical speed, the same thing a cell's median iteration measures. A per-layer minimum is
lower than any iteration could be (the sum of the quietest moments of every layer) and predicts
fast. Standard library only."""
import os
import statistics
import sys


def fail(msg):
    print("pool-profile: " + msg, file=sys.stderr)
    sys.exit(2)


def main():
    if len(sys.argv) < 3:
        fail("usage: experiments/pool-profile.py OUT SAMPLES.tsv...")
    out, files = sys.argv[1], sys.argv[2:]
    header, rows, order = None, {}, []
    for path in files:
        cols = None
        try:
            with open(path) as f:
                lines = f.read().splitlines()
        except OSError as e:
            fail("%s: %s" % (path, e.strerror))
        comments = [l for l in lines if l.startswith("#")]
        if header is None:
            header = comments
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
            if key not in rows:
                order.append(key)
                rows[key] = (r["kind"], [])
            rows[key][1].append(v)
    if not rows:
        fail("no samples in %s" % " ".join(files))
    lo, hi = min(len(v) for _, v in rows.values()), max(len(v) for _, v in rows.values())
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        reps = ("# reps %s samples per row, pooled from %s (the median of each column)"
                % (lo if lo == hi else "%d-%d" % (lo, hi),
                   " ".join(os.path.basename(p) for p in files)))
        for l in header:
            f.write((reps if l.startswith("# reps ") else l) + "\n")
        f.write("layer\tkind\tmb\tfwd_s\tbwd_s\topt_s\n")
        for key in order:
            kind, samples = rows[key]
            med = [statistics.median(c) for c in zip(*samples)]
            f.write("%s\t%s\t%d\t%.9e\t%.9e\t%.9e\n" % (key[0], kind, key[1], *med))
    os.replace(tmp, out)


if __name__ == "__main__":
    main()
