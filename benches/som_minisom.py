"""SOM epochs per second on the lecture's MNIST map (100 x 100 units x 784 inputs, 500 samples per epoch):
MiniSom (PyPI, its default Gaussian neighbourhood and asymptotic decay) beside our CLI's CPU path and its GPU
path (both the lecture's box variant and the Gaussian variant, from the report's "epochs per second" metric), on
the same machine and the same 2,000 shipped digits (pixels in [-1, 1]).

Run: python benches/som_minisom.py [epochs] (needs `pip install minisom`, and the budgets CLI built:
cargo build --profile budgets --bin hebbian). Figures are printed, never asserted.
"""
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from minisom import MiniSom

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(REPO, "target"))
CLI = os.path.join(TARGET, "budgets", "hebbian")
EPOCHS = int(sys.argv[1]) if len(sys.argv) > 1 else 2
SAMPLES = 500


def digits(n=2000):
    """The shipped training digits (the first n, in the order stored), pixels to [-1, 1]."""
    path = os.path.join(REPO, "target", "data", "mnist")
    names = sorted(os.listdir(path))
    images = [f for f in names if "images" in f][0]
    with gzip.open(os.path.join(path, images)) as f:
        raw = f.read()
    x = np.frombuffer(raw, dtype=np.uint8, offset=16).reshape(-1, 784)[:n]
    return x.astype(np.float32) / 255.0 * 2.0 - 1.0


def minisom_rate(x):
    som = MiniSom(100, 100, 784, sigma=20.0, learning_rate=0.5, random_seed=1)
    som._weights = np.random.default_rng(1).normal(0, 0.1, size=(100, 100, 784))
    rng = np.random.default_rng(2)
    t0 = time.perf_counter()
    total = EPOCHS * SAMPLES
    for t in range(total):
        s = x[rng.integers(len(x))]
        som.update(s, som.winner(s), t, total)
    return EPOCHS / (time.perf_counter() - t0)


def ours(variant, backend):
    state = json.loads(subprocess.check_output([CLI, "state", "som"]))
    p = state["params"]
    p.update(data="digits", rows=100, cols=100, samples=SAMPLES, every=2, epochs=EPOCHS, measured=1, sigma=20.0)
    p["variants"] = {"lecture": variant == "lecture", "gaussian": variant == "gaussian"}
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(state, f)
    report = json.loads(subprocess.check_output([CLI, "run", "--backend", backend, f.name]))
    os.unlink(f.name)
    return {m["name"]: m["value"] for m in report["metrics"]}["epochs per second (per variant)"]


if __name__ == "__main__":
    x = digits()
    print(f"100 x 100 x 784, {SAMPLES} samples per epoch, {EPOCHS} epochs, {os.cpu_count()} cores")
    for backend in ["cpu", "gpu"]:
        print(f"ours, {backend.upper()}, lecture's box:  {ours('lecture', backend):.3f} epochs/s")
        print(f"ours, {backend.upper()}, Gaussian:       {ours('gaussian', backend):.3f} epochs/s")
    print(f"MiniSom {__import__('minisom').__version__ if hasattr(__import__('minisom'), '__version__') else '2.3'}, "
          f"Gaussian: {minisom_rate(x):.3f} epochs/s")
