"""The lecture's Boltzmann-machine training loop in NumPy, timed, and a NumPy Gibbs sweep for comparison.

1. The lecture's code as printed (learning T, U, L, H; 1,000 epochs of 100 random pairs (i, j); for each pair
   with i != j, 1,000 uniformly random states, one parallel step y = binomial(sigmoid(y @ w)), E_model = mean
   y_i y_j, w[i, j] += 0.1 (E_data - E_model); the summed energy every 50 epochs). Its indentation was lost in
   transcription; the sampling sits inside `if i != j`, where its E_model is used.
2. For the benchmark against our chains: sequential Gibbs sweeps of C chains of n units, vectorised over the
   chains (unit after unit, each unit of all chains at once), the fastest plain-NumPy form of what our CPU path
   and kernel do.

Usage: python benches/boltzmann_numpy.py [--epochs 1000] [--chains 1000] [--units 16] [--sweeps 200]
Prints one JSON line.
"""
import argparse
import json
import time

import numpy as np


def lecture(epochs, rng):
    s = np.array([[1, 1, 1, 0, 1, 0, 0, 1, 0],  # 'T'
                  [1, 0, 1, 1, 0, 1, 1, 1, 1],  # 'U'
                  [1, 0, 0, 1, 0, 0, 1, 1, 1],  # 'L'
                  [1, 0, 1, 1, 1, 1, 1, 0, 1]])  # 'H'
    n, m = s.shape

    def energy(x, w):
        return -0.5 * np.dot(np.dot(x, w), x)

    w = rng.normal(size=(m, m))
    np.fill_diagonal(w, 0)
    E = []
    steps = 0
    t0 = time.perf_counter()
    for epoch in range(epochs):
        for k in range(100):
            i, j = rng.integers(m, size=2)
            if i != j:
                E_data = np.mean(s[:, i] * s[:, j])
                y = rng.integers(0, 2, size=(1000, m))
                dE = np.dot(y, w)
                pk = 1 / (1 + np.exp(-dE))
                y = rng.binomial(n=1, p=pk)
                E_model = np.mean(y[:, i] * y[:, j])
                w[i, j] += 0.1 * (E_data - E_model)
                steps += 1
        if epoch % 50 == 0:
            E.append(float(np.sum([energy(s[e], w) for e in range(n)])))
    seconds = time.perf_counter() - t0
    return {
        "lecture_epochs": epochs,
        "lecture_seconds": seconds,
        "lecture_weight_updates_per_s": steps / seconds,
        # Each weight update resamples 1,000 states of 9 units once.
        "lecture_unit_updates_per_s": steps * 1000 * m / seconds,
        "lecture_energy_every_50": [round(e, 2) for e in E],
    }


def gibbs(chains, units, sweeps, rng):
    w = rng.normal(size=(units, units)).astype(np.float32)
    w = np.triu(w, 1)
    w = w + w.T
    b = np.zeros(units, np.float32)
    s = rng.integers(0, 2, size=(chains, units)).astype(np.float32)
    t0 = time.perf_counter()
    for _ in range(sweeps):
        u = rng.random((chains, units), dtype=np.float32)
        for i in range(units):
            gap = s @ w[:, i] - b[i]
            s[:, i] = u[:, i] < 1 / (1 + np.exp(-gap))
    seconds = time.perf_counter() - t0
    return {
        "numpy_chains": chains,
        "numpy_units": units,
        "numpy_sweeps_per_s": sweeps / seconds,
        "numpy_chain_sweeps_per_s": sweeps * chains / seconds,
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--epochs", type=int, default=1000)
    ap.add_argument("--chains", type=int, default=1000)
    ap.add_argument("--units", type=int, default=16)
    ap.add_argument("--sweeps", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    rng = np.random.default_rng(a.seed)
    out = lecture(a.epochs, rng)
    out.update(gibbs(a.chains, a.units, a.sweeps, rng))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
