#!/usr/bin/env python3
"""PyTorch yardstick for the Hebbian CNN (architecture A, SoftHebb), the same network as the CPU path of
src/nets/hebbconv (Network with HebbConfig::thesis(SoftWta)), written the way a PyTorch user would write it.

Not a product dependency: scripts/bench.sh and scripts/bench-gpu.sh run it beside our own bench
(examples/hebbconv_gpu_bench.rs with `json`) and print ratios. Prints one JSON line per measurement:
images/s of the unsupervised step (a train-mode forward in which every Hebbian layer computes its update
from the weights the batch saw, then all updates at once) and of the frozen eval-mode forward (probe
features), and the GFLOP/s those rates mean for the convolutions alone (forward convolutions, plus the
weight correlations in the step), counted as our bench counts them.

With the Hebbian rows it measures the end-to-end backprop baseline (architecture H: A's shapes with zero-padded
`nn.Conv2d(bias=False)`, ReLU, BatchNorm without affine parameters, the same pools, Flatten → Dropout(0.5) →
Linear, Adam lr 1e-2 on cross-entropy) as a PyTorch user trains it: images/s of a training step (forward,
backward, Adam, and `loss.item()`, which our step also reads back), one JSON line "hebbconv backprop" each.

The per-layer rule mirrors HebbLayer::forward (src/nets/hebbconv/mod.rs) and src/plasticity/competition.rs:
  y   = conv(reflect_pad(x), w/‖w‖)                      (SoftHebb's w_nrm, linear activation)
  r   = ±softmax(t_inv·y) over channels, + for the argmax (anti-Hebbian losers)
  Δw  = Σ_{n,p} r·x_patch − (Σ_{n,p} r·y)·w, then Δw/(max|Δw| + 1e-30)
  w  += lr0·(|‖w_k‖ − 1| + 1e-10)^0.5 · Δw_k              (SoftHebb's per-neuron rates)

Usage: hebbconv_torch.py [--device cpu|cuda] [--divs 1,4,8] [--inputs mnist,cifar] [--batch 64]
"""
import argparse
import json
import time

import torch
import torch.nn.functional as F

# (t_inv, SoftHebb lr0) per depth, as presets.rs's DEPTH.
DEPTH = [(1.0, 0.08), (0.65, 0.005), (0.25, 0.01)]
# Architecture A: (width, kernel, pad, Triangle power, pool) per stage; pools as (kind, k, stride, pad).
STAGES = [
    (96, 5, 2, 0.7, ("max", 4, 2, 1)),
    (384, 3, 1, 1.4, ("max", 4, 2, 1)),
    (1536, 3, 1, 1.0, ("avg", 2, 2, 0)),
]
INPUTS = {"mnist": (1, 28, 28), "cifar": (3, 32, 32)}


class HebbConv:
    """One Hebbian convolution: weights 25/√(C_in·k²)·N(0,1), no bias, reflect padding, SoftHebb update."""

    def __init__(self, c_in, c_out, k, pad, depth, device, gen):
        scale = 25.0 / (c_in * k * k) ** 0.5
        self.w = scale * torch.randn(c_out, c_in, k, k, generator=gen).to(device)
        self.pad = pad
        self.t_inv, self.lr0 = DEPTH[depth]
        self.pending = None

    def forward(self, x, learn):
        xp = F.pad(x, (self.pad,) * 4, mode="reflect") if self.pad else x
        norm = self.w.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, 1, 1, 1)
        y = F.conv2d(xp, self.w / norm)
        if learn:
            self.pending = self.delta(xp, y)
        return y

    def delta(self, xp, y):
        s = torch.softmax(self.t_inv * y, dim=1)
        win = F.one_hot(y.argmax(dim=1), y.shape[1]).permute(0, 3, 1, 2).bool()
        r = torch.where(win, s, -s)
        c = (r * y).sum(dim=(0, 2, 3))
        # Σ_{n,p} r[n,k,p]·xp[n,c,p+(i,j)]: the weight gradient of a convolution with r as the output gradient.
        dw = torch.nn.grad.conv2d_weight(xp, self.w.shape, r)
        dw -= c.view(-1, 1, 1, 1) * self.w
        return dw / (dw.abs().max() + 1e-30)

    def apply(self):
        if self.pending is None:
            return
        norm = self.w.flatten(1).norm(dim=1)
        rate = self.lr0 * ((norm - 1.0).abs() + 1e-10) ** 0.5
        self.w += rate.view(-1, 1, 1, 1) * self.pending
        self.pending = None


class BatchNorm:
    """BatchNorm2d(affine=False): batch statistics (biased variance) in train mode, moving the running mean
    and the unbiased running variance by momentum 0.1; running statistics in eval mode."""

    def __init__(self, c, device):
        self.mean = torch.zeros(c, device=device)
        self.var = torch.ones(c, device=device)

    def forward(self, x, train):
        return F.batch_norm(x, self.mean, self.var, training=train, momentum=0.1, eps=1e-5)


def triangle(y, power):
    """SoftHebb's Triangle: ReLU(y − mean_c y)^power."""
    t = F.relu(y - y.mean(dim=1, keepdim=True))
    return t if power == 1.0 else t.pow(power)


class Network:
    def __init__(self, input_shape, div, device, seed=0):
        gen = torch.Generator().manual_seed(seed)
        c = input_shape[0]
        self.stages = []
        self.flops = 0.0  # forward convolution FLOPs per image
        h, w = input_shape[1:]
        for depth, (width, k, pad, power, pool) in enumerate(STAGES):
            out = -(-width // div)  # div_ceil, as presets.rs
            self.stages.append(
                (BatchNorm(c, device), HebbConv(c, out, k, pad, depth, device, gen), power, pool)
            )
            h, w = h + 2 * pad - k + 1, w + 2 * pad - k + 1
            self.flops += 2.0 * out * h * w * c * k * k
            _, pk, ps, pp = pool
            h, w = (h + 2 * pp - pk) // ps + 1, (w + 2 * pp - pk) // ps + 1
            c = out

    def forward(self, x, train, learn):
        for bn, conv, power, (kind, k, s, p) in self.stages:
            x = triangle(conv.forward(bn.forward(x, train), learn), power)
            if kind == "max":
                x = F.max_pool2d(x, k, s, p)
            else:
                x = F.avg_pool2d(x, k, s, p, count_include_pad=True)
        return x

    @torch.no_grad()
    def unsupervised_step(self, x):
        self.forward(x, train=True, learn=True)
        for _, conv, _, _ in self.stages:
            conv.apply()

    @torch.no_grad()
    def features(self, x):
        return self.forward(x, train=False, learn=False).flatten(1)


class Baseline(torch.nn.Module):
    """Architecture H (src/nets/hebbconv/baseline.rs), PyTorch's default initialisation."""

    def __init__(self, input_shape, div):
        super().__init__()
        c, (h, w) = input_shape[0], input_shape[1:]
        layers = []
        for width, k, pad, _, (kind, pk, ps, pp) in STAGES:
            out = -(-width // div)
            pool = (
                torch.nn.MaxPool2d(pk, ps, pp)
                if kind == "max"
                else torch.nn.AvgPool2d(pk, ps, pp, count_include_pad=True)
            )
            layers += [
                torch.nn.BatchNorm2d(c, affine=False),
                torch.nn.Conv2d(c, out, k, padding=pad, bias=False),
                torch.nn.ReLU(),
                pool,
            ]
            h, w = h + 2 * pad - k + 1, w + 2 * pad - k + 1
            h, w = (h + 2 * pp - pk) // ps + 1, (w + 2 * pp - pk) // ps + 1
            c = out
        layers += [torch.nn.Flatten(), torch.nn.Dropout(0.5), torch.nn.Linear(c * h * w, 10)]
        self.net = torch.nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


def per_call(fn, device, reps, calls):
    """Seconds per call: the best of `reps` rounds of `calls` calls, waiting for the device at the end."""
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, (time.perf_counter() - t) / calls)
    return best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--divs", default="8,4,1")
    ap.add_argument("--inputs", default="mnist,cifar")
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    device = args.device
    torch.manual_seed(0)
    name = torch.cuda.get_device_name() if device == "cuda" else "cpu"
    for inp in args.inputs.split(","):
        shape = INPUTS[inp]
        for div in [int(d) for d in args.divs.split(",")]:
            net = Network(shape, div, device)
            x = torch.rand(args.batch, *shape, generator=torch.Generator().manual_seed(1)).to(device)
            # Warm-up: the first calls pay for allocations, kernel selection and (CUDA) context set-up.
            net.unsupervised_step(x)
            net.features(x)
            if device == "cuda":
                torch.cuda.synchronize()
            big = div == 1 and device == "cpu"
            reps, calls = (2, 1) if big else (3, 3 if device == "cpu" else 20)
            step = per_call(lambda: net.unsupervised_step(x), device, reps, calls)
            feat = per_call(lambda: net.features(x), device, reps, calls)
            # The step runs every convolution forward and its weight correlation (as many FLOPs again).
            print(
                json.dumps(
                    {
                        "bench": "hebbconv",
                        "impl": f"pytorch {torch.__version__}",
                        "device": device,
                        "adapter": name,
                        "threads": torch.get_num_threads(),
                        "arch": "A",
                        "input": inp,
                        "width_div": div,
                        "batch": args.batch,
                        "step_images_per_s": round(args.batch / step, 1),
                        "features_images_per_s": round(args.batch / feat, 1),
                        "step_conv_gflops": round(2 * net.flops * args.batch / step / 1e9, 2),
                        "features_conv_gflops": round(net.flops * args.batch / feat / 1e9, 2),
                    }
                ),
                flush=True,
            )
            model = Baseline(shape, div).to(device).train()
            opt = torch.optim.Adam(model.parameters(), lr=1e-2)
            labels = torch.arange(args.batch, device=device) % 10

            def train_step():
                opt.zero_grad()
                loss = F.cross_entropy(model(x), labels)
                loss.backward()
                opt.step()
                return loss.item()

            train_step()
            train = per_call(train_step, device, reps, calls)
            print(
                json.dumps(
                    {
                        "bench": "hebbconv backprop",
                        "impl": f"pytorch {torch.__version__}",
                        "device": device,
                        "adapter": name,
                        "threads": torch.get_num_threads(),
                        "arch": "H",
                        "input": inp,
                        "width_div": div,
                        "batch": args.batch,
                        "train_images_per_s": round(args.batch / train, 1),
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
