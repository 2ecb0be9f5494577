"""torch_gpipe.py — the PyTorch baseline for pipeline parallelism: a hand-written GPipe
(fill-drain) of mlp32 over P processes with torch.distributed (gloo, loopback), one thread each.

Usage: torch_gpipe.py STAGES MICROBATCHES ITERS
Prints "step SECONDS" per timed iteration (the first is left out), from rank 0. STAGES=1 runs the
plain one-process step with the same microbatching (gradient accumulation)."""
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import torch.nn as nn

WIDTH, BATCH, CLASSES = 1024, 256, 10


def stage_layers(rank, stages):
    fcs = [(WIDTH, WIDTH)] * 31 + [(WIDTH, CLASSES)]
    per = len(fcs) // stages
    mine = range(rank * per, len(fcs) if rank == stages - 1 else (rank + 1) * per)
    layers = []
    for i in mine:
        layers.append(nn.Linear(*fcs[i]))
        if i < 31:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


def run(rank, stages, micro, iters):
    torch.set_num_threads(1)
    if stages > 1:
        os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
        os.environ.setdefault("MASTER_PORT", "29517")
        dist.init_process_group("gloo", rank=rank, world_size=stages)
    torch.manual_seed(rank)
    model = stage_layers(rank, stages)
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    mb = BATCH // micro
    x = torch.randn(BATCH, WIDTH)
    y = torch.randint(0, CLASSES, (BATCH,))
    first, last = rank == 0, rank == stages - 1
    for it in range(iters + 1):
        if stages > 1:
            dist.barrier()
        t = time.perf_counter()
        opt.zero_grad()
        inputs, outputs, sends = [], [], []
        for j in range(micro):  # fill
            if first:
                inp = x[j * mb:(j + 1) * mb]
            else:
                inp = torch.empty(mb, WIDTH)
                dist.recv(inp, src=rank - 1)
                inp.requires_grad_()
            out = model(inp)
            if last:
                out = nn.functional.cross_entropy(out, y[j * mb:(j + 1) * mb]) / micro
            else:
                sends.append(dist.isend(out.detach(), dst=rank + 1))
            inputs.append(inp)
            outputs.append(out)
        for j in range(micro):  # drain
            if last:
                outputs[j].backward()
            else:
                grad = torch.empty(mb, WIDTH)
                dist.recv(grad, src=rank + 1)
                outputs[j].backward(grad)
            if not first:
                sends.append(dist.isend(inputs[j].grad, dst=rank - 1))
        for s in sends:
            s.wait()
        opt.step()
        dt = time.perf_counter() - t
        if stages > 1:
            worst = torch.tensor([dt])
            dist.all_reduce(worst, op=dist.ReduceOp.MAX)
            dt = worst.item()
        if rank == 0 and it > 0:
            print(f"step {dt:.6f}", flush=True)
    if stages > 1:
        dist.destroy_process_group()


def main():
    stages, micro, iters = (int(a) for a in sys.argv[1:4])
    if stages == 1:
        run(0, 1, micro, iters)
    else:
        mp.spawn(run, args=(stages, micro, iters), nprocs=stages)


if __name__ == "__main__":
    main()
