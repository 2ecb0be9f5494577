#!/usr/bin/python3
"""train-check.py — checks pipecast's training over several steps against PyTorch's.

    train-check.py MODEL --exec PIPECAST_EXEC --dump-exe DUMP [--set K=V,...] [--iters N]
                   [--batch B] [--microbatches M] [TRAIN FLAGS ...]

Writes a small MNIST-format data set (random 8x8 images, random labels, 16 samples per
iteration), or for a model of token ids (an embed first) a token file in llm.c's format (random
tokens, a window of T + 1 per sample), takes the model's initial state from DUMP (tests/crosscheck/dump.c, the trainer's
initialisation for --seed 1), trains it with `pipecast-exec train ... --data mnist:DIR` and the
TRAIN FLAGS (say --optimizer adamw --lr-schedule cosine --warmup-iters 2 --clip-grad-norm 0.5),
and trains the same network (rebuilt by crosscheck.py from `pipecast-sim describe`) in PyTorch on
the same samples in the same microbatches: torch.optim.AdamW or SGD, a LambdaLR of the same
warm-up and half cosine, torch.nn.utils.clip_grad_norm_ before each step. Compared: every
parameter and batch-norm statistic after the last step, each iteration's loss, and with
--eval-every each evaluation's loss and accuracy on the test split (the same samples here; batch
norm on its running statistics).

A tensor agrees when max|pipecast - torch| <= 1e-4 * max(max|torch|, 1e-3) (PyTorch in float64,
as crosscheck.py); a printed loss (4 decimals) within 5e-5 + 1e-5 of torch's. Exit status 0 when all agree, 1 on a mismatch,
2 on bad usage or input, 77 when PyTorch cannot be imported.
"""

import argparse
import math
import os
import re
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import crosscheck  # noqa: E402

RTOL = crosscheck.RTOL
LOSS_ATOL = 5e-5  # the printed loss has 4 decimals
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081


def write_mnist(folder, images, labels, rows, cols):
    """IDX files of the training and test splits (the same samples in both)."""
    for prefix in ("train", "t10k"):
        with open(os.path.join(folder, f"{prefix}-images-idx3-ubyte"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, len(labels), rows, cols) + bytes(images))
        with open(os.path.join(folder, f"{prefix}-labels-idx1-ubyte"), "wb") as f:
            f.write(struct.pack(">II", 0x801, len(labels)) + bytes(labels))


def flag(flags, name, default, kind=float):
    """The value of --NAME in the list FLAGS (the last one given), or DEFAULT."""
    value = default
    for i, f in enumerate(flags):
        if f == name and i + 1 < len(flags):
            value = kind(flags[i + 1])
        elif f.startswith(name + "="):
            value = kind(f.split("=", 1)[1])
    return value


def write_tokens(path, tokens):
    """An llm.c token file: 256 int32 of header (magic, version, count), then uint16 tokens."""
    with open(path, "wb") as f:
        f.write(struct.pack("<256i", 20240520, 1, len(tokens), *([0] * 253)))
        f.write(struct.pack(f"<{len(tokens)}H", *tokens))


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise crosscheck.InputError(f"{' '.join(cmd)}: exit {done.returncode}: "
                                    f"{done.stderr.strip()}")
    return done.stdout


def torch_train(args, flags, rows, shape, state, images, labels):
    """PyTorch's run: the losses of each iteration and the final state_dict."""
    import torch

    root, forward = crosscheck.build(rows, shape)
    root = root.double()
    sd = root.state_dict()
    root.load_state_dict({k: state[k].reshape(sd[k].shape).double() for k in sd
                          if not k.endswith(".num_batches_tracked")}, strict=False)
    root.train()
    params = [p for _, p in root.named_parameters()]
    lr = flag(flags, "--lr", 0.01)
    kind = flag(flags, "--optimizer", "sgd", str)
    if kind == "adamw":
        opt = torch.optim.AdamW(params, lr=lr, betas=(flag(flags, "--beta1", 0.9),
                                                      flag(flags, "--beta2", 0.999)),
                                eps=flag(flags, "--eps", 1e-8),
                                weight_decay=flag(flags, "--weight-decay", 0.01))
    else:
        opt = torch.optim.SGD(params, lr=lr, momentum=flag(flags, "--momentum", 0.9),
                              weight_decay=flag(flags, "--weight-decay", 0.0))
    warm, iters = flag(flags, "--warmup-iters", 0, int), args.iters
    cosine = flag(flags, "--lr-schedule", "constant", str) == "cosine"

    def factor(t):
        if t < warm:
            return (t + 1) / warm
        if not cosine:
            return 1.0
        return 0.5 * (1 + math.cos(math.pi * (t - warm) / max(1, iters - warm)))

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    clip = flag(flags, "--clip-grad-norm", 0.0)
    if labels is None:  # token windows: IMAGES holds the stream
        T, stream = shape[0], torch.tensor(images, dtype=torch.long)
        n = (len(images) - 1) // T
        x_all = torch.stack([stream[i * T:i * T + T] for i in range(n)]).double()
        y_all = torch.stack([stream[i * T + 1:i * T + T + 1] for i in range(n)])
    else:
        x_all = ((torch.tensor(images, dtype=torch.float64) / 255 - MNIST_MEAN) / MNIST_STD)
        x_all = x_all.reshape([-1] + shape)
        y_all = torch.tensor(labels, dtype=torch.long)
    mb = args.batch // args.microbatches
    every = flag(flags, "--eval-every", 0, int)
    losses, evals = [], []
    for it in range(iters):
        total = 0.0
        for m in range(args.microbatches):
            first = it * args.batch + m * mb
            outs = forward(x_all[first:first + mb], y_all[first:first + mb])
            loss = outs[-1].sum()
            total += loss.item()
            (loss / args.batch).backward()
        if clip > 0:
            torch.nn.utils.clip_grad_norm_(params, clip)
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(total / args.batch)
        if every and ((it + 1) % every == 0 or it + 1 == iters):
            # the test split (the same samples here), batch norm on its running statistics
            root.eval()
            with torch.no_grad():
                out = forward(x_all, y_all)
            root.train()
            logits = out[rows[-1]["inputs"][0]]  # the loss's input
            evals.append((out[-1].mean().item(),
                          (logits.argmax(-1) == y_all).double().mean().item()))
    return losses, evals, root.state_dict()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("--exec", dest="exe", required=True, help="pipecast-exec")
    ap.add_argument("--dump-exe", required=True, help="the crosscheck's dump program")
    ap.add_argument("--sim", default=os.environ.get("PC_SIM"), help="pipecast-sim ($PC_SIM)")
    ap.add_argument("--set", dest="sets", help="model parameter overrides, K=V,...")
    ap.add_argument("--iters", type=int, default=6)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--microbatches", type=int, default=2)
    ap.add_argument("-v", "--verbose", action="store_true")
    args, flags = ap.parse_known_args()
    try:
        import torch
    except ImportError as e:
        print(f"# skipped: PyTorch is not available ({e})")
        return crosscheck.SKIP
    if not args.sim:
        print("train-check: no pipecast-sim: give --sim or set PC_SIM", file=sys.stderr)
        return 2
    torch.use_deterministic_algorithms(True)
    report = []
    try:
        rows = crosscheck.describe(args.sim, args.model, args.sets)
        with tempfile.TemporaryDirectory() as tmp:
            dump = os.path.join(tmp, "dump.pcw")
            run([args.dump_exe, args.model, dump, "--batch", "2", "--seed", "1"]
                + (["--set", args.sets] if args.sets else []))
            meta, state = crosscheck.read_dump(dump)
            shape = crosscheck.parse_shape(meta["input"])
            g = torch.Generator().manual_seed(7)
            n = args.batch * args.iters
            embed = [r for r in rows if r["kind"] == "embed"]
            if embed:
                vocab = int(embed[0]["attrs"]["vocab"])
                images = torch.randint(0, vocab, (n * shape[0] + 1,), generator=g).tolist()
                labels = None
                data = os.path.join(tmp, "tokens.bin")
                write_tokens(data, images)
                data = f"tokens:{data},{data}"  # the test split: the same windows
            else:
                if len(shape) != 3 or shape[0] != 1:
                    raise crosscheck.InputError(f"input {meta['input']}: expected 1xRxC images")
                images = torch.randint(0, 256, (n * shape[1] * shape[2],), generator=g).tolist()
                labels = torch.randint(0, 10, (n,), generator=g).tolist()
                write_mnist(tmp, images, labels, shape[1], shape[2])
                data = f"mnist:{tmp}"
            out = os.path.join(tmp, "final.pcw")
            log = run([args.exe, "train", args.model, "--data", data,
                       "--batch", str(args.batch), "--microbatches", str(args.microbatches),
                       "--iters", str(args.iters), "--save", out]
                      + (["--set", args.sets] if args.sets else []) + flags)
            got_losses = [float(x) for x in re.findall(r"^iter +\d+ +loss (\S+)", log, re.M)]
            got_evals = [(float(a), float(b)) for a, b in
                         re.findall(r"^eval +\d+ +loss (\S+) +accuracy (\S+)", log, re.M)]
            _, got = crosscheck.read_dump(out)
            losses, evals, ref = torch_train(args, flags, rows, shape, state, images, labels)
    except (crosscheck.InputError, OSError, KeyError, ValueError) as e:
        print(f"train-check: {args.model}: {e}", file=sys.stderr)
        return 2
    for r in rows:  # a tied layer's copy of the weight ends as the embedding's
        if r["kind"] == "fc" and r["attrs"].get("tied", "0") != "0":
            owner = next(e["layer"] for e in rows if e["kind"] == "embed") + ".weight"
            crosscheck.compare(r["layer"] + ".weight", got[r["layer"] + ".weight"], ref[owner],
                               report)
    for name, t in ref.items():
        if name.endswith(".num_batches_tracked"):
            continue
        if name not in got:
            report.append((float("inf"), name, "not in pipecast's weights"))
            continue
        crosscheck.compare(name, got[name], t, report)
    if len(got_losses) != len(losses):
        report.append((float("inf"), "losses", f"{len(got_losses)} printed, {len(losses)} made"))
    for i, (a, b) in enumerate(zip(got_losses, losses)):
        # printed with 4 decimals: within half of the last one, as a fraction of the tolerance
        err = RTOL * abs(a - b) / (LOSS_ATOL + 1e-5 * abs(b))
        report.append((err, f"loss {i + 1}", f"pipecast {a}, torch {b:.6f}"))
    if len(got_evals) != len(evals):
        report.append((float("inf"), "evaluations", f"{len(got_evals)} printed, {len(evals)} made"))
    for i, ((la, aa), (lb, ab)) in enumerate(zip(got_evals, evals)):
        err = RTOL * abs(la - lb) / (LOSS_ATOL + 1e-5 * abs(lb))
        report.append((err, f"evaluation {i + 1} loss", f"pipecast {la}, torch {lb:.6f}"))
        report.append((0.0 if abs(aa - ab) <= LOSS_ATOL else float("inf"),
                       f"evaluation {i + 1} accuracy", f"pipecast {aa}, torch {ab:.6f}"))
    return crosscheck.print_report(os.path.basename(args.model),
                                   f" ({' '.join(flags)}, {args.iters} steps)", report,
                                   args.verbose)


if __name__ == "__main__":
    sys.exit(main())
