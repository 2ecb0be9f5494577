"""torch_train.py — the baseline a user would otherwise reach for: one training step of the same
models in PyTorch on the CPU, single thread, SGD with momentum, synthetic data.

Usage: torch_train.py MODEL ITERS   (MODEL: mlp32, vgg16, resnet50, gpt2)
Prints one line per timed step: "step SECONDS"; the first step (warm-up) is left out.
The models match models/*.model: mlp32 is 31 x (Linear 1024 + ReLU) + Linear 10; vgg16 is
torchvision's with the 7x7 adaptive pool and dropouts removed (the classifier reads 512 features
at 32x32, as pipecast's); resnet50 is torchvision's, unchanged (3x32x32 input, 10 classes); gpt2
is GPT-2 small as models/gpt2.model writes it (12 layers, 12 heads, 768 wide, vocabulary 50257,
the head tied to the token embedding) at sequence 256, batch 4, its attention written out as
GPT-2's reference does (PyTorch 1.13 has no fused attention)."""
import sys
import time

import torch
import torch.nn as nn
import torchvision

torch.set_num_threads(1)
torch.set_flush_denormal(True)  # subnormal floats would slow the steps after the first many times
torch.manual_seed(1)


class Block(nn.Module):
    def __init__(self, c, heads):
        super().__init__()
        self.heads = heads
        self.ln_1, self.ln_2 = nn.LayerNorm(c), nn.LayerNorm(c)
        self.c_attn, self.c_proj = nn.Linear(c, 3 * c), nn.Linear(c, c)
        self.c_fc, self.mlp_proj = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)

    def forward(self, x):
        n, t, c = x.shape
        q, k, v = self.c_attn(self.ln_1(x)).split(c, dim=2)
        q, k, v = (z.view(n, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / (c // self.heads) ** 0.5)
        mask = torch.tril(torch.ones(t, t, dtype=torch.bool))
        att = torch.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        x = x + self.c_proj((att @ v).transpose(1, 2).reshape(n, t, c))
        return x + self.mlp_proj(nn.functional.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, layers=12, heads=12, c=768, seq=256, vocab=50257):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, c), nn.Embedding(seq, c)
        self.h = nn.Sequential(*[Block(c, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(c)
        self.lm_head = nn.Linear(c, vocab, bias=False)
        self.lm_head.weight = self.wte.weight

    def forward(self, idx):
        x = self.wte(idx) + self.wpe(torch.arange(idx.shape[1]))
        return self.lm_head(self.ln_f(self.h(x)))


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
    if name == "gpt2":
        return GPT(), (4, 256)
    raise SystemExit(f"torch_train.py: unknown model {name}")


def main():
    name, iters = sys.argv[1], int(sys.argv[2])
    model, shape = build(name)
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    if name == "gpt2":  # tokens in, the next token at every position
        x = torch.randint(0, 50257, shape)
        y = torch.randint(0, 50257, shape)
    else:
        x = torch.randn(*shape)
        y = torch.randint(0, 10, (shape[0],))
    for i in range(iters + 1):
        t = time.perf_counter()
        opt.zero_grad()
        out = model(x)
        loss = nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
        loss.backward()
        opt.step()
        dt = time.perf_counter() - t
        if i > 0:
            print(f"step {dt:.6f}", flush=True)


if __name__ == "__main__":
    main()
