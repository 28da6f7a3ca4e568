"""The lecture's contrastive Hebbian learning loop in NumPy, on the shipped digits, timed beside ours.

Reproduces the lecture's training loop as written (float64, scipy's expit replaced by the same formula in NumPy,
W_k of shape [n_k, n_{k+1}], every state from 0, len(np.arange(1, T + 1, dt)) Euler steps, the free phase
updating layers 1..L in order, the clamped phase 1..L-1, weights' update summed over the batch, biases' averaged,
rate ETA * GAMMA ** (k - L)) on the playground's shipped 10,000 digits split as the playground splits them (the
k-th digit of each class: test when k % 10 == 9, validation when 8, training otherwise: 8,000 / 1,000 / 1,000),
the training digits shuffled once (as train_test_split does) and walked in that order every epoch.

Usage: python benches/chl_numpy.py [--epochs N] [--train N] [--hebbian target/release/hebbian]
Measured 2026-12-03 (2 shared cores, 10 epochs of 8,000 digits, OPENBLAS_NUM_THREADS=1): NumPy 1,878 images/s
(4.2 s per epoch), test accuracy 0.9288 after 10 epochs; hebbian's CPU path 3,058 images/s, 0.9418 (seed 0). The
lecture reports 15-17 s per epoch of 52,500 digits on its machine (3,100-3,500 images/s).
On a machine busy with other work, OPENBLAS_NUM_THREADS=1 keeps OpenBLAS from spinning threads against it (on 2
busy cores, two BLAS threads ran 25 times slower than one).
With --hebbian, the playground's CLI runs the same configuration (CPU backend) afterwards and both speeds are
printed side by side.
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
    return x, np.eye(10)[y], split


def sigmoid(a):
    return 1.0 / (1.0 + np.exp(-a))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--train", type=int, default=8000)
    ap.add_argument("--hebbian", default=None)
    args = ap.parse_args()

    x, y, split = shipped()
    # The lecture's train_test_split shuffles before splitting; the shipped digits come sorted by class, so the
    # training digits are shuffled once here (seed 0), then walked in that order every epoch as in the lecture.
    order = np.random.RandomState(0).permutation(int((split == 0).sum()))
    x_train, y_train = x[split == 0][order][: args.train], y[split == 0][order][: args.train]
    x_test, y_test = x[split == 2], y[split == 2]

    ETA = 0.01
    GAMMA = 0.5
    n_neurons = [784, 128, 10]
    L = len(n_neurons) - 1
    b_size = 10
    n_batches = int(x_train.shape[0] / b_size)
    T = 10
    dt = 0.5

    np.random.seed(0)
    w = [np.random.normal(0, 0.01, size=(i, o)) for i, o in zip(n_neurons[:-1], n_neurons[1:])]
    b = [np.random.normal(0, 0.01, size=(1, i)) for i in n_neurons[1:]]

    def forward_phase(x_input):
        x = [np.zeros((x_input.shape[0], m)) for m in n_neurons]
        x[0] = x_input
        for t in np.arange(1, T + 1, dt):
            for k in range(1, L + 1):
                activation = np.dot(x[k - 1], w[k - 1])
                if k < L:
                    activation += GAMMA * np.dot(x[k + 1], w[k].T)
                activation += b[k - 1]
                x[k] += dt * (-x[k] + sigmoid(activation))
        return x

    def backward_phase(x_input, y_target):
        x = [np.zeros((x_input.shape[0], m)) for m in n_neurons]
        x[0] = x_input
        x[-1] = y_target
        for t in np.arange(1, T + 1, dt):
            for k in range(1, L):
                activation = np.dot(x[k - 1], w[k - 1]) + GAMMA * np.dot(x[k + 1], w[k].T) + b[k - 1]
                x[k] += dt * (-x[k] + sigmoid(activation))
        return x

    total = 0.0
    for e in range(args.epochs):
        t0 = time.perf_counter()
        for j in range(n_batches):
            b_start = j * b_size
            b_end = b_start + b_size
            x_batch = x_train[b_start:b_end]
            y_batch = y_train[b_start:b_end]
            x_fwd = forward_phase(x_batch)
            x_bwd = backward_phase(x_batch, y_batch)
            for k in range(L):
                C = ETA * GAMMA ** (k - L)
                w[k] += C * (np.dot(x_bwd[k].T, x_bwd[k + 1]) - np.dot(x_fwd[k].T, x_fwd[k + 1]))
                b[k] += C * np.mean(x_bwd[k + 1] - x_fwd[k + 1], axis=0)
        seconds = time.perf_counter() - t0
        total += seconds
        x_fwd = forward_phase(x_test)
        acc = (np.argmax(x_fwd[-1], axis=1) == np.argmax(y_test, axis=1)).mean()
        print(f"numpy epoch {e + 1}: {seconds:.2f} s, {n_batches * b_size / seconds:.0f} images/s, test accuracy {acc:.4f}")
    numpy_rate = args.epochs * n_batches * b_size / total

    threads = os.environ.get("OPENBLAS_NUM_THREADS", "all")
    print(f"numpy (lecture's code, float64, {os.cpu_count()} cores, BLAS threads: {threads}): {numpy_rate:.0f} images/s")
    if args.hebbian:
        state = json.loads(subprocess.check_output([args.hebbian, "state", "chl"]))
        state["params"].update({"train_images": args.train, "epochs": args.epochs})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(state, f)
        out = subprocess.check_output([args.hebbian, "run", "--backend", "cpu", f.name], stderr=subprocess.DEVNULL)
        report = json.loads(out)
        metrics = {m["name"]: m["value"] for m in report["metrics"]}
        print(f"hebbian (CPU, float32): {metrics['images per second']:.0f} images/s, "
              f"test accuracy {metrics['test accuracy']:.2f} %")


if __name__ == "__main__":
    main()
