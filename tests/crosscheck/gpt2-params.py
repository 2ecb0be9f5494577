#!/usr/bin/python3
"""gpt2-params.py — models/gpt2.model's parameter count against a GPT-2 written in PyTorch here.

    gpt2-params.py MODELS_DIR [--sim PIPECAST_SIM]

The PyTorch model is GPT-2 as Radford et al. and Hugging Face's GPT2LMHeadModel build it: token
and position embeddings, n_layer blocks (layer norm, attention's c_attn and c_proj, layer norm,
the MLP's c_fc and c_proj, all with biases), a final layer norm, and the head tied to the token
embedding (counted once). For GPT-2 small and two smaller settings the total must equal the sum
of the params column of `pipecast-sim describe --format csv`; GPT-2 small's is 124,439,808.
Exit status 0 when all agree, 1 otherwise, 2 on bad usage, 77 without PyTorch.
"""
import argparse
import csv
import io
import os
import subprocess
import sys


def torch_count(n_layer, n_head, n_embd, seq, vocab):
    from torch import nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln_1, self.ln_2 = nn.LayerNorm(n_embd), nn.LayerNorm(n_embd)
            self.c_attn = nn.Linear(n_embd, 3 * n_embd)
            self.attn_proj = nn.Linear(n_embd, n_embd)
            self.c_fc = nn.Linear(n_embd, 4 * n_embd)
            self.mlp_proj = nn.Linear(4 * n_embd, n_embd)

    class GPT(nn.Module):
        def __init__(self):
            super().__init__()
            self.wte, self.wpe = nn.Embedding(vocab, n_embd), nn.Embedding(seq, n_embd)
            self.h = nn.ModuleList(Block() for _ in range(n_layer))
            self.ln_f = nn.LayerNorm(n_embd)
            self.lm_head = nn.Linear(n_embd, vocab, bias=False)
            self.lm_head.weight = self.wte.weight  # tied: parameters() yields it once

    assert n_embd % n_head == 0
    return sum(p.numel() for p in GPT().parameters())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models")
    ap.add_argument("--sim", default=os.environ.get("PC_SIM"))
    args = ap.parse_args()
    try:
        import torch  # noqa: F401
    except ImportError as e:
        print(f"# skipped: PyTorch is not available ({e})")
        return 77
    if not args.sim:
        print("gpt2-params: no pipecast-sim: give --sim or set PC_SIM", file=sys.stderr)
        return 2
    bad = 0
    for sets in ({}, {"n_layer": 2, "n_head": 4, "n_embd": 64, "seq": 32, "vocab": 512},
                 {"n_layer": 3, "n_head": 2, "n_embd": 48, "seq": 7, "vocab": 1001}):
        cfg = {"n_layer": 12, "n_head": 12, "n_embd": 768, "seq": 1024, "vocab": 50257, **sets}
        cmd = [args.sim, "describe", os.path.join(args.models, "gpt2.model"), "--format", "csv"]
        if sets:
            cmd += ["--set", ",".join(f"{k}={v}" for k, v in sets.items())]
        run = subprocess.run(cmd, capture_output=True, text=True)
        if run.returncode != 0:
            print(f"gpt2-params: {' '.join(cmd)}: {run.stderr.strip()}", file=sys.stderr)
            return 2
        rows = csv.DictReader(io.StringIO(run.stdout.split("\n\n")[0]))
        ours = sum(int(r["params"]) for r in rows)
        theirs = torch_count(**cfg)
        ok = ours == theirs
        bad += not ok
        print(f"{'ok' if ok else 'MISMATCH'} {cfg}: pipecast {ours:,}, PyTorch {theirs:,}")
    if bad == 0 and torch_count(12, 12, 768, 1024, 50257) != 124439808:
        print("MISMATCH: the PyTorch GPT-2 small is not 124,439,808 parameters")
        bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
