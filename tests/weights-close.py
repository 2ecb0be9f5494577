#!/usr/bin/python3
"""weights-close.py A.pcw B.pcw TOL — whether two weights files (common/weights.h) hold the same
tensors with values within TOL: for every tensor, ||a - b|| <= TOL * ||a|| (Euclidean norms; a
tensor of zeros must match exactly). Prints the worst tensor and its relative difference; exit 0
when within TOL, 1 when not, 2 when the files cannot be read or name other tensors. Standard
library only."""
import array
import math
import sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    end = data.find(b"\ndata\n")
    if not data.startswith(b"pipecast-weights 1\n") or end < 0:
        sys.exit("weights-close: %s: not a pipecast weights file" % path)
    names = []
    for line in data[:end].decode().splitlines()[1:]:
        parts = line.split()
        if len(parts) == 2 and parts[0] not in ("model", "tensors", "meta"):
            names.append((parts[0], int(parts[1])))
    floats = array.array("f")
    floats.frombytes(data[end + 6:])
    if sys.byteorder != "little":
        floats.byteswap()
    tensors, at = {}, 0
    for name, count in names:
        tensors[name] = floats[at:at + count]
        at += count
    if at != len(floats):
        sys.exit("weights-close: %s: %d floats after the header, %d named" % (path, len(floats), at))
    return tensors


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: weights-close.py A.pcw B.pcw TOL")
    a, b, tol = read(sys.argv[1]), read(sys.argv[2]), float(sys.argv[3])
    if sorted(a) != sorted(b):
        sys.exit("weights-close: the files name different tensors")
    worst, name = 0.0, None
    for k in a:
        if len(a[k]) != len(b[k]):
            sys.exit("weights-close: %s: %d against %d values" % (k, len(a[k]), len(b[k])))
        diff = math.sqrt(sum((x - y) ** 2 for x, y in zip(a[k], b[k])))
        norm = math.sqrt(sum(x * x for x in a[k]))
        rel = diff / norm if norm > 0 else (0.0 if diff == 0 else math.inf)
        if rel >= worst:
            worst, name = rel, k
    print("worst relative difference %.3g (%s)" % (worst, name))
    sys.exit(0 if worst <= tol else 1)


main()
