"""torch_train.py — the baseline a user would otherwise reach for: one training step of the same
models in PyTorch on the CPU, single thread, SGD with momentum, synthetic data.

Usage: torch_train.py MODEL ITERS   (MODEL: mlp32, vgg16, resnet50)
Prints one line per timed step: "step SECONDS"; the first step (warm-up) is left out.
The models match models/*.model: mlp32 is 31 x (Linear 1024 + ReLU) + Linear 10; vgg16 is
torchvision's with the 7x7 adaptive pool and dropouts removed (the classifier reads 512 features
at 32x32, as pipecast's); resnet50 is torchvision's, unchanged (3x32x32 input, 10 classes)."""
import sys
import time

import torch
import torch.nn as nn
import torchvision

torch.set_num_threads(1)
torch.manual_seed(1)


def build(name):
    if name == "mlp32":
        layers = []
        for i in range(31):
            layers += [nn.Linear(1024, 1024), nn.ReLU()]
        layers.append(nn.Linear(1024, 10))
        return nn.Sequential(*layers), (256, 1024)
    if name == "vgg16":
        m = torchvision.models.vgg16(num_classes=10)
        m.avgpool = nn.Identity()
        m.classifier = nn.Sequential(nn.Linear(512, 4096), nn.ReLU(), nn.Linear(4096, 4096),
                                     nn.ReLU(), nn.Linear(4096, 10))
        return m, (32, 3, 32, 32)
    if name == "resnet50":
        return torchvision.models.resnet50(num_classes=10), (32, 3, 32, 32)
    raise SystemExit(f"torch_train.py: unknown model {name}")


def main():
    name, iters = sys.argv[1], int(sys.argv[2])
    model, shape = build(name)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(*shape)
    y = torch.randint(0, 10, (shape[0],))
    for i in range(iters + 1):
        t = time.perf_counter()
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t
        if i > 0:
            print(f"step {dt:.6f}", flush=True)


if __name__ == "__main__":
    main()
