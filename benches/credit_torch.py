"""The credit-assignment lab's yardstick: the notebook's MLP (784 → 100 sigmoid → 10, no biases, softmax, NLL on
log probabilities, its BasicOptimizer: p ← p − lr·(g + λp)) trained one epoch on the shipped digits' 8,000
training images in batches of 32, in PyTorch on the CPU, for backprop (autograd, as the notebook) and the Hebbian
rule (the notebook's HebbianFunction update: −(postᵀ·pre/N − its mean over units), outputs clamped).

Prints one JSON line per rule: images per second over the epoch (best of 3 epochs), torch's version and threads.
Run beside `hebbian run --backend cpu` on the lab's state with one rule (its "training images per second per
rule" metric) in one session: `scripts/bench.sh` does both.
"""
import gzip, json, sys, time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parent.parent
threads = int(sys.argv[1]) if len(sys.argv) > 1 else 2
torch.set_num_threads(threads)
d = REPO / 'target' / 'data' / 'mnist'
X = np.frombuffer(gzip.open(d / 'mnist-10k-images-idx3-ubyte.gz').read()[16:], dtype=np.uint8).reshape(-1, 784)
Y = np.frombuffer(gzip.open(d / 'mnist-10k-labels-idx1-ubyte.gz').read()[8:], dtype=np.uint8)
# The shipped split: within each class, positions ≡ 8, 9 (mod 10) are validation and test.
seen = {}
train = []
for i, y in enumerate(Y):
    k = seen.get(y, 0)
    seen[y] = k + 1
    if k % 10 < 8:
        train.append(i)
x_all = torch.tensor(((X[train] / 255.0 - 0.1307) / 0.3081).astype(np.float32))
y_all = torch.tensor(Y[train].astype(np.int64))


class Mlp(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lin1 = torch.nn.Linear(784, 100, bias=False)
        self.lin2 = torch.nn.Linear(100, 10, bias=False)

    def forward(self, x):
        return torch.softmax(self.lin2(torch.sigmoid(self.lin1(x))), dim=1)


def hebbian(pre, post):
    g = post.t().mm(pre) / len(pre)
    return -(g - g.mean(axis=0))


def epoch(rule, net, lr):
    perm = torch.randperm(len(x_all))
    for b in range(0, len(perm), 32):
        i = perm[b:b + 32]
        x, y = x_all[i], y_all[i]
        if rule == 'backprop':
            p = net(x)
            loss = torch.nn.functional.nll_loss(torch.log(p), y)
            net.zero_grad()
            loss.backward()
            grads = [net.lin1.weight.grad, net.lin2.weight.grad]
        else:
            with torch.no_grad():
                h = torch.sigmoid(net.lin1(x))
                p = torch.softmax(net.lin2(h), dim=1)
                loss = torch.nn.functional.nll_loss(torch.log(p), y)
                t = torch.nn.functional.one_hot(y, 10).float()
                grads = [hebbian(x, h), hebbian(h, t)]
        with torch.no_grad():
            for w, g in zip([net.lin1.weight, net.lin2.weight], grads):
                w -= lr * g
        loss.item()  # the notebook reads every batch's loss


for rule, lr in [('backprop', 0.01), ('hebbian', 1e-4)]:
    torch.manual_seed(0)
    net = Mlp()
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        epoch(rule, net, lr)
        best = max(best, len(x_all) / (time.perf_counter() - t0))
    print(json.dumps({'bench': 'credit epoch', 'rule': rule, 'engine': f'pytorch {torch.__version__}',
                      'threads': threads, 'images_per_s': round(best, 1)}))
