"""The lecture's RBM training loop in NumPy, timed: CD-1 updates per second for 784 x 500 with minibatches of 20
(the lecture's 100 digits, 5 batches of 20 per epoch, rate 0.01), and Gibbs sweeps per second of 20 chains.

Faithful to the lecture's code: w ~ N(0, 0.01), b = c = 0; CD-k from v = the batch, h = bernoulli(sigmoid(vW + c)),
v = bernoulli(sigmoid(hW^T + b)); statistics with probabilities for h; W += lr (E_data - E_model), b, c likewise;
loss = mean((bx - v)^2). The lecture's extra append of the matrix E_data - E_model to the loss list is left out.
The digits are random binary images of the same density (the timing does not depend on their content).
Usage: python benches/rbm_numpy.py [epochs]  (prints one JSON line)
"""
import json
import sys
import time

import numpy as np

NV, NH, N, BATCH, LR, CD_K = 784, 500, 100, 20, 0.01, 1


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def bernoulli(p, rng):
    return (rng.random(p.shape) < p).astype(p.dtype)


def main():
    epochs = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    rng = np.random.default_rng(0)
    x = (rng.random((N, NV)) < 0.19).astype(np.float64)
    w = rng.normal(0, 0.01, (NV, NH))
    b = np.zeros(NV)
    c = np.zeros(NH)
    t0 = time.perf_counter()
    updates = 0
    for _ in range(epochs):
        for i in range(N // BATCH):
            bx = x[i * BATCH:(i + 1) * BATCH]
            v = bx
            for _ in range(CD_K):
                h = bernoulli(sigmoid(v @ w + c), rng)
                v = bernoulli(sigmoid(h @ w.T + b), rng)
            h_data = sigmoid(bx @ w + c)
            e_data = bx.T @ h_data / BATCH
            h_model = sigmoid(v @ w + c)
            e_model = v.T @ h_model / BATCH
            w += LR * (e_data - e_model)
            b += LR * np.mean(bx - v, axis=0)
            c += LR * np.mean(h_data - h_model, axis=0)
            _loss = np.mean((bx - v) ** 2)
            updates += 1
    train_s = time.perf_counter() - t0
    sweeps = max(epochs, 50)
    v = bernoulli(np.full((20, NV), 0.5), rng)
    t0 = time.perf_counter()
    for _ in range(sweeps):
        h = bernoulli(sigmoid(v @ w + c), rng)
        v = bernoulli(sigmoid(h @ w.T + b), rng)
    gibbs_s = time.perf_counter() - t0
    print(json.dumps({
        "numpy": np.__version__,
        "cd1_updates_per_s": updates / train_s,
        "gibbs_sweeps_per_s": sweeps / gibbs_s,
        "updates": updates,
    }))


if __name__ == "__main__":
    main()
