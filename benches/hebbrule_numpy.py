"""The lecture's Hebb + decay MNIST loop in NumPy, on the shipped digits, timed beside ours.

Reproduces the lecture's loop as written (float64, W of shape (10, 784) from zero, alpha 0.01, one pass per epoch
in data order, `w[yi] += alpha * (xi - w[yi])` one digit at a time, prediction argmax of x_test @ w.T) on the
playground's shipped 10,000 digits split as the playground splits them (the k-th digit of each class: test when
k % 10 == 9, validation when 8, training otherwise: 8,000 / 1,000 / 1,000), the training digits shuffled once (as
train_test_split does) and walked in that order every epoch.

Usage: python benches/hebbrule_numpy.py [--epochs N] [--hebbian target/budgets/hebbian]
Measured 2026-12-03 (2 cores shared with other builds, 50 epochs of 8,000 digits, OPENBLAS_NUM_THREADS=1): the
lecture's loop 40,000-148,000 images/s (the machine's load varied between two runs), test accuracy 0.6209; the same
epochs in closed form (one weighted sum per class) 134,000-485,000 images/s, equal to the loop within 1.2e-15;
hebbian's CPU path (float32, one digit at a time) 254,000-962,000 images/s, 0.6309 (seed 1, its own fixed order). With --hebbian, the playground's CLI runs the same configuration (CPU backend,
one fixed order) afterwards and both speeds are printed side by side.
"""
import argparse
import gzip
import json
import os
import subprocess
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "target", "data", "mnist")


def idx(path):
    raw = gzip.open(path, "rb").read()
    dims = raw[3]
    shape = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * dims).reshape(shape)


def shipped():
    x = idx(os.path.join(DATA, "mnist-10k-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    y = idx(os.path.join(DATA, "mnist-10k-labels-idx1-ubyte.gz")).astype(int)
    seen = np.zeros(10, dtype=int)
    split = np.empty(len(y), dtype=int)
    for i, c in enumerate(y):
        split[i] = {8: 1, 9: 2}.get(seen[c] % 10, 0)
        seen[c] += 1
    return x, y, split


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--hebbian", default=None)
    args = ap.parse_args()

    x, y, split = shipped()
    order = np.random.RandomState(0).permutation(int((split == 0).sum()))
    x_train, y_train = x[split == 0][order], y[split == 0][order]
    x_test, y_test = x[split == 2], y[split == 2]

    alpha = 0.01
    w = np.zeros((10, 784))
    total = 0.0
    for e in range(args.epochs):
        t0 = time.perf_counter()
        for xi, yi in zip(x_train, y_train):
            w[yi] += alpha * (xi - w[yi])
        seconds = time.perf_counter() - t0
        total += seconds
        if e == 0 or e + 1 == args.epochs:
            acc = (np.argmax(x_test @ w.T, axis=1) == y_test).mean()
            print(f"numpy epoch {e + 1}: {seconds * 1000:.1f} ms, {len(x_train) / seconds:.0f} images/s, "
                  f"test accuracy {acc:.4f}")
    numpy_rate = args.epochs * len(x_train) / total
    print(f"numpy (lecture's loop, float64): {numpy_rate:.0f} images/s")

    # The same epochs in closed form: each class's row is an exponential moving average, so an epoch is one
    # weighted sum per class, w <- (1-a)^n w + sum_i a (1-a)^(n-i) x_i (exact; what a batched kernel would do).
    w2 = np.zeros((10, 784))
    t0 = time.perf_counter()
    for _ in range(args.epochs):
        for c in range(10):
            xs = x_train[y_train == c]
            n = len(xs)
            weights = alpha * (1 - alpha) ** (n - 1 - np.arange(n))
            w2[c] = (1 - alpha) ** n * w2[c] + weights @ xs
    closed = time.perf_counter() - t0
    print(f"numpy closed form: {args.epochs * len(x_train) / closed:.0f} images/s, "
          f"max |difference| to the loop {np.abs(w2 - w).max():.2e}")

    if args.hebbian:
        state = json.loads(subprocess.check_output([args.hebbian, "state", "hebbrule"]))
        state["params"].update({"epochs": args.epochs, "order": "fixed"})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(state, f)
        out = subprocess.check_output([args.hebbian, "run", "--backend", "cpu", f.name], stderr=subprocess.DEVNULL)
        metrics = {m["name"]: m["value"] for m in json.loads(out)["metrics"]}
        print(f"hebbian (CPU, float32, training only): {metrics['images per second']:.0f} images/s, test accuracy "
              f"{metrics['MNIST test accuracy, dot product']:.2f} % (dot product), "
              f"{metrics['MNIST test accuracy, nearest prototype']:.2f} % (nearest prototype)")


if __name__ == "__main__":
    main()
