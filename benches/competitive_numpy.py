"""The lecture's competitive-learning loop on MNIST in NumPy, on the shipped digits, timed beside ours.

Reproduces the lecture's clustering loop as written (float64, w ~ N(0, 0.1) of shape [784, 10], ALPHA = 0.01, one
digit at a time: the distances to all ten columns, the winner by argmin, w[:, win] += ALPHA * (x - w[:, win]),
err = the mean winner distance before the update) on the playground's 8,000 shipped training digits (split as the
playground splits them: the k-th digit of each class is test when k % 10 == 9, validation when 8, training
otherwise), shuffled once (seed 0) and walked in that order every epoch.

Usage: python benches/competitive_numpy.py [--epochs N] [--hebbian path/to/hebbian]
With --hebbian, the playground's CLI runs the lab's default digits configuration (CPU backend; the blobs and the
dead-units parts are tiny) and its digit samples per second are printed beside NumPy's.
OPENBLAS_NUM_THREADS=1 keeps OpenBLAS from spinning threads against a busy machine.
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


def shipped_train():
    x = idx(os.path.join(DATA, "mnist-10k-images-idx3-ubyte.gz")).reshape(-1, 784) / 255.0
    y = idx(os.path.join(DATA, "mnist-10k-labels-idx1-ubyte.gz")).astype(int)
    seen = np.zeros(10, dtype=int)
    train = np.zeros(len(y), dtype=bool)
    for i, c in enumerate(y):
        train[i] = seen[c] % 10 < 8
        seen[c] += 1
    return x[train], y[train]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--hebbian", default=None)
    args = ap.parse_args()

    x, y = shipped_train()
    x = x[np.random.RandomState(0).permutation(len(x))]
    ALPHA = 0.01
    n_out = 10
    w = np.random.RandomState(0).normal(0, 0.1, (784, n_out))
    start = time.perf_counter()
    for epoch in range(args.epochs):
        err = 0.0
        for xi in x:
            d = np.sqrt(np.sum((xi[:, None] - w) ** 2, axis=0))
            win = np.argmin(d)
            err += d[win]
            w[:, win] += ALPHA * (xi - w[:, win])
        print(f"epoch {epoch + 1}: error = {err / len(x):.4f}")
    seconds = time.perf_counter() - start
    rate = args.epochs * len(x) / seconds
    print(f"NumPy: {rate:,.0f} digits/s ({seconds / args.epochs:.3f} s per epoch of {len(x)} digits)")

    if args.hebbian:
        state = json.loads(subprocess.check_output([args.hebbian, "state", "competitive"]))
        state["params"]["digits"]["epochs"] = args.epochs
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(state, f)
        report = json.loads(subprocess.check_output([args.hebbian, "run", "--backend", "cpu", f.name]))
        m = {x["name"]: x["value"] for x in report["metrics"]}
        print(f"hebbian (CPU): {m['digits: samples per second']:,.0f} digits/s "
              f"(last epoch {m['digits: epoch time']:.3f} s, error {m['digits: error in the last epoch']:.4f})")


if __name__ == "__main__":
    main()
