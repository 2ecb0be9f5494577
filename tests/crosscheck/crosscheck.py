#!/usr/bin/python3
"""crosscheck.py — checks pipecast's forward and backward against PyTorch's on the same weights.

    crosscheck.py MODEL (--dump-exe DUMP | --from FILE.pcw) [--set K=V,...] [--batch N]
                  [--seed S] [--jitter] [--float32]

With --dump-exe it first runs `DUMP MODEL FILE.pcw ...` (tests/crosscheck/dump.c) in a temporary
folder; with --from it reads a dump made earlier. The dump holds the initial parameters and
buffers, the input and labels of one microbatch, every layer's output, every parameter's gradient
and batch norm's updated running statistics (see dump.c).

The network is rebuilt in PyTorch from `pipecast-sim describe MODEL --format csv` (its `inputs`
and `attrs` columns) as a tree of modules whose state_dict names are pipecast's tensor names, the
dumped state is loaded into it with load_state_dict, and one training forward (batch norm with
batch statistics) and backward of the loss sum(cross_entropy) / N run. Compared with the dump:
every layer's output, every parameter's gradient and every running statistic after the forward.

A tensor agrees when max|pipecast - torch| <= 1e-4 * max(max|torch|, 1e-3): the error relative to
the reference tensor's largest magnitude. The floor is for tensors that are zero in exact
arithmetic and rounding noise in float32 (the gradient of a convolution's bias that feeds batch
norm, whose mean subtraction cancels it): they are held to 1e-7 absolute. PyTorch runs in float64
by default, so the reference carries no rounding of its own (--float32 runs it in float32).

Exit status: 0 when every tensor agrees, 1 on a mismatch (naming the tensor and its error), 2 on
bad usage or input, 77 (a skipped test, to meson) when PyTorch cannot be imported.
"""

import argparse
import csv
import io
import os
import subprocess
import sys
import tempfile

SKIP = 77
RTOL = 1e-4
FLOOR = 1e-3


class InputError(Exception):
    """A problem with the inputs (files, commands), not a disagreement."""


def read_dump(path):
    """The weights file at PATH (common/weights.h): (meta dict, {name: flat float32 tensor})."""
    import torch

    with open(path, "rb") as f:
        raw = f.read()
    pos = 0

    def line():
        nonlocal pos
        end = raw.index(b"\n", pos)
        text = raw[pos:end].decode("utf-8")
        pos = end + 1
        return text

    if line() != "pipecast-weights 1":
        raise InputError(f"{path}: not a pipecast weights file")
    meta, order = {}, []
    while True:
        words = line().split(" ", 2)
        if words[0] == "meta":
            meta[words[1]] = words[2]
        elif words[0] == "tensors":
            order = [line().split(" ") for _ in range(int(words[1]))]
        elif words[0] == "data":
            break
    if sys.byteorder != "little":
        raise InputError("the dump is little-endian float32; this host is not")
    tensors = {}
    for name, count in order:
        n = int(count)
        tensors[name] = torch.frombuffer(bytearray(raw[pos:pos + 4 * n]), dtype=torch.float32)
        pos += 4 * n
    if pos != len(raw):
        raise InputError(f"{path}: {len(raw) - pos} bytes after the last tensor")
    return meta, tensors


def describe(sim, model, sets):
    """The layer table of `pipecast-sim describe --format csv`, as a list of dicts."""
    cmd = [sim, "describe", model, "--format", "csv"] + (["--set", sets] if sets else [])
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        raise InputError(f"{' '.join(cmd)}: exit {run.returncode}: {run.stderr.strip()}")
    table = run.stdout.split("\n\n")[0]
    rows = list(csv.DictReader(io.StringIO(table)))
    for row in rows:
        if "inputs" not in row or "attrs" not in row:
            raise InputError("describe --format csv has no inputs/attrs columns")
        row["inputs"] = [int(i) for i in row["inputs"].split(";")]
        row["attrs"] = dict(kv.split("=", 1) for kv in row["attrs"].split())
        row["shape"] = parse_shape(row["output"])
    return rows


def parse_shape(text):
    """A pipecast shape, "3x32x32" or "10", as a list of ints."""
    return [int(d) for d in text.split("x")]


def attention(qkv, heads):
    """Causal self-attention of (N, T, 3C) queries, keys and values, written out as GPT-2 does."""
    import math
    import torch

    n, t, c3 = qkv.shape
    c = c3 // 3
    q, k, v = (z.reshape(n, t, heads, c // heads).transpose(1, 2) for z in qkv.split(c, dim=2))
    att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(c // heads))
    mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
    att = torch.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
    return (att @ v).transpose(1, 2).reshape(n, t, c)


def build(rows, input_shape):
    """Modules for the layers that hold state, in a tree named like pipecast's layers, and a
    function computing every layer's output from the input and the labels."""
    import torch
    from torch import nn
    import torch.nn.functional as F

    root = nn.Module()
    modules = {}
    tied = {}  # a tied fc's name -> the embedding whose weight it uses

    class Embed(nn.Module):
        """Token embedding (weight) plus learned positions (bias, GPT-2's wpe)."""

        def __init__(self, vocab, dim, seq, position):
            super().__init__()
            self.weight = nn.Parameter(torch.zeros(vocab, dim))
            self.bias = nn.Parameter(torch.zeros(seq, dim)) if position else None

        def forward(self, x):
            y = self.weight[x.long()]
            return y + self.bias if self.bias is not None else y

    def place(name, module):
        parent = root
        *scopes, leaf = name.split(".")
        for scope in scopes:
            if not hasattr(parent, scope):
                parent.add_module(scope, nn.Module())
            parent = getattr(parent, scope)
        parent.add_module(leaf, module)
        modules[name] = module

    def in_shape(row):
        i = row["inputs"][0]
        return input_shape if i < 0 else rows[i]["shape"]

    for row in rows:
        kind, a, shape = row["kind"], row["attrs"], in_shape(row)
        if kind == "fc" and a.get("tied", "0") != "0":
            tied[row["layer"]] = next(r["layer"] for r in rows if r["kind"] == "embed")
            if a["bias"] != "0":
                place(row["layer"], nn.Module())
                modules[row["layer"]].register_parameter(
                    "bias", nn.Parameter(torch.zeros(int(a["out"]))))
        elif kind == "fc":
            place(row["layer"], nn.Linear(shape[-1], int(a["out"]), bias=a["bias"] != "0"))
        elif kind == "embed":
            place(row["layer"], Embed(int(a["vocab"]), int(a["dim"]), shape[0],
                                      a["position"] != "0"))
        elif kind == "conv":
            place(row["layer"], nn.Conv2d(shape[0], int(a["out"]), int(a["k"]),
                                          stride=int(a["stride"]), padding=int(a["pad"]),
                                          bias=a["bias"] != "0"))
        elif kind == "bn":
            bn = nn.BatchNorm1d if len(shape) == 1 else nn.BatchNorm2d
            place(row["layer"], bn(shape[0], eps=float(a["eps"]), momentum=float(a["momentum"])))
        elif kind == "maxpool":
            modules[row["layer"]] = nn.MaxPool2d(int(a["k"]), int(a["stride"]), int(a["pad"]))
        elif kind == "avgpool":
            modules[row["layer"]] = nn.AvgPool2d(int(a["k"]), int(a["stride"]), int(a["pad"]),
                                                 count_include_pad=True)
        elif kind == "gap":
            modules[row["layer"]] = nn.AdaptiveAvgPool2d(1)
        elif kind == "gelu":
            modules[row["layer"]] = nn.GELU(approximate="tanh")
        elif kind == "layernorm":
            place(row["layer"], nn.LayerNorm(shape[-1], eps=float(a["eps"])))
        elif kind not in ("relu", "add", "flatten", "softmax_xent", "attention"):
            raise InputError(f"layer {row['layer']}: no PyTorch counterpart for kind {kind}")

    def forward(x, labels):
        outs = []
        for row in rows:
            ins = [x if i < 0 else outs[i] for i in row["inputs"]]
            kind = row["kind"]
            if row["layer"] in tied:
                m = modules.get(row["layer"])
                y = F.linear(ins[0], modules[tied[row["layer"]]].weight,
                             m.bias if m is not None else None)
            elif row["layer"] in modules:
                y = modules[row["layer"]](ins[0])
            elif kind == "attention":
                y = attention(ins[0], int(row["attrs"]["heads"]))
            elif kind == "relu":
                y = F.relu(ins[0])
            elif kind == "add":
                y = ins[0] + ins[1]
            elif kind == "flatten":
                y = ins[0].reshape(ins[0].shape[0], -1)
            elif ins[0].dim() == 3:  # softmax_xent over a sequence: each sample's mean
                n, t, v = ins[0].shape
                y = F.cross_entropy(ins[0].reshape(n * t, v), labels.reshape(n * t),
                                    reduction="none").reshape(n, t).mean(1)
            else:  # softmax_xent: per-sample losses
                y = F.cross_entropy(ins[0], labels, reduction="none")
            outs.append(y)
        return outs

    return root, forward


def compare(name, got, ref, report):
    """Records the error of pipecast's tensor GOT against the reference REF."""
    got = got.reshape(-1).double()
    ref = ref.detach().reshape(-1).double()
    if got.numel() != ref.numel():
        report.append((float("inf"), name, f"{got.numel()} values, PyTorch has {ref.numel()}"))
        return
    if got.numel() == 0:
        report.append((0.0, name, "empty"))
        return
    diff = (got - ref).abs()
    scale = max(ref.abs().max().item(), FLOOR)
    worst = int(diff.argmax())  # a NaN counts as the largest
    err = diff[worst].item() / scale
    report.append((err, name, f"max |diff| {diff[worst].item():.3g} at [{worst}] (pipecast "
                              f"{got[worst].item():.9g}, torch {ref[worst].item():.9g}), "
                              f"max |torch| {scale:.3g}"))


def check(model, dump_path, sim, sets, dtype):
    """Runs PyTorch on the dumped state; returns [(relative error, tensor name, detail)]."""
    import torch

    meta, dump = read_dump(dump_path)
    rows = describe(sim, model, sets)
    n = int(meta["batch"])
    root, forward = build(rows, parse_shape(meta["input"]))
    root = root.to(dtype)

    state = root.state_dict()
    expected = {k for k in state if not k.endswith(".num_batches_tracked")}
    copies = {r["layer"] + ".weight" for r in rows
              if r["kind"] == "fc" and r["attrs"].get("tied", "0") != "0"}
    dumped = {k for k in dump if not k.endswith((".out", ".grad", ".after"))} - {"input", "labels"}
    report = []  # (relative error, tensor, detail)
    for k in copies:  # a tied layer's copy of the weight and its gradient: the embedding's
        owner = next(r["layer"] for r in rows if r["kind"] == "embed") + ".weight"
        compare(k, dump[k], dump[owner], report)
        compare(k + ".grad", dump[k + ".grad"], dump[owner + ".grad"], report)
    dumped -= copies
    if expected != dumped:
        raise InputError(f"tensors only in the dump: {sorted(dumped - expected)}; "
                         f"only in PyTorch's model: {sorted(expected - dumped)}")
    root.load_state_dict({k: dump[k].reshape(state[k].shape) for k in expected}, strict=False)
    root.train()

    x = dump["input"].to(dtype).reshape([n] + parse_shape(meta["input"]))
    labels = dump["labels"].long()
    if dump["labels"].numel() > n:  # a label at every position
        labels = labels.reshape(n, -1)
    outs = forward(x, labels)
    loss = outs[-1].sum() * (1.0 / n)
    loss.backward()

    for row, y in zip(rows, outs):
        compare(row["layer"] + ".out", dump[row["layer"] + ".out"], y, report)
    for name, p in root.named_parameters():
        compare(name + ".grad", dump[name + ".grad"], p.grad, report)
    for name, b in root.named_buffers():
        if not name.endswith(".num_batches_tracked"):
            compare(name + ".after", dump[name + ".after"], b, report)
    compare("loss_sum", torch.tensor([float(meta["loss_sum"])]), outs[-1].sum().reshape(1),
            report)
    return report


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--dump-exe", help="run this dump program first")
    src.add_argument("--from", dest="dump_file", help="a dump made earlier")
    ap.add_argument("--set", dest="sets", help="model parameter overrides, K=V,...")
    ap.add_argument("--batch", type=int, default=4, help="samples (with --dump-exe; 4)")
    ap.add_argument("--seed", type=int, default=1, help="seed (with --dump-exe; 1)")
    ap.add_argument("--jitter", action="store_true",
                    help="move batch norm away from the identity (with --dump-exe)")
    ap.add_argument("--float32", action="store_true", help="run PyTorch in float32")
    ap.add_argument("--sim", default=os.environ.get("PC_SIM"),
                    help="pipecast-sim (default: $PC_SIM)")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every tensor's error")
    args = ap.parse_args()

    try:
        import torch
    except ImportError as e:
        print(f"# skipped: PyTorch is not available ({e})")
        return SKIP
    if not args.sim:
        print("crosscheck: no pipecast-sim: give --sim or set PC_SIM", file=sys.stderr)
        return 2
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    dtype = torch.float32 if args.float32 else torch.float64

    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = args.dump_file
            if args.dump_exe:
                path = os.path.join(tmp, "dump.pcw")
                cmd = [args.dump_exe, args.model, path, "--batch", str(args.batch),
                       "--seed", str(args.seed)]
                cmd += ["--set", args.sets] if args.sets else []
                cmd += ["--jitter"] if args.jitter else []
                run = subprocess.run(cmd, capture_output=True, text=True)
                if run.returncode != 0:
                    raise InputError(f"{' '.join(cmd)}: exit {run.returncode}: "
                                     f"{run.stderr.strip()}")
            report = check(args.model, path, args.sim, args.sets, dtype)
    except (InputError, OSError, KeyError, ValueError) as e:
        print(f"crosscheck: {args.model}: {e}", file=sys.stderr)
        return 2

    return print_report(os.path.basename(args.model), "", report, args.verbose)


def print_report(name, what, report, verbose):
    """Prints the mismatches of REPORT ([(relative error, tensor, detail)]; every entry with
    -v) and a summary line; returns the exit status: 1 when any disagrees."""
    bad = [r for r in report if not r[0] <= RTOL]
    for err, tensor, detail in report:
        if not err <= RTOL:
            print(f"MISMATCH {name}: {tensor}: relative error {err:.3g} > {RTOL:g}: {detail}")
        elif verbose:
            print(f"ok {name}: {tensor}: relative error {err:.3g}: {detail}")
    worst = max(report, key=lambda r: r[0] if r[0] == r[0] else float("inf"))  # NaN: worst
    print(f"{name}{what}: {len(report)} compared, {len(bad)} disagree; worst {worst[1]} "
          f"relative error {worst[0]:.3g} (tolerance {RTOL:g})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
