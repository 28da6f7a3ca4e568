#!/usr/bin/env python3
"""Reads the JSON lines of examples/hebbconv_gpu_bench.rs (`json`) and benches/hebbconv_torch.py on stdin and
prints, for each of our rows (CPU or GPU) with a PyTorch row of the same bench (the Hebbian network, or the
backprop baseline), input and width, the ratios ours / PyTorch of images per second (above 1: ours is
faster). Our rows are compared with PyTorch on the device named by --against (cpu for scripts/bench.sh, cuda
for scripts/bench-gpu.sh)."""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--against", default="cpu")
args = ap.parse_args()
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
# Each bench's rates: the Hebbian network's step and features, the backprop baseline's training step.
RATES = {
    "hebbconv": [("step_ratio", "step_images_per_s"), ("features_ratio", "features_images_per_s")],
    "hebbconv backprop": [("train_ratio", "train_images_per_s")],
}
torch_rows = {
    (r["bench"], r["input"], r["width_div"]): r
    for r in rows
    if r.get("bench") in RATES and r["impl"].startswith("pytorch") and r["device"] == args.against
}
for r in rows:
    if r.get("bench") not in RATES or r["impl"] != "hebbian":
        continue
    t = torch_rows.get((r["bench"], r["input"], r["width_div"]))
    if t is None:
        continue
    out = {
        "bench": f'{r["bench"]} ours/pytorch',
        "ours": f'{r["device"]} ({r["adapter"]})',
        "pytorch": f'{t["device"]} ({t["adapter"]})',
        "input": r["input"],
        "width_div": r["width_div"],
    }
    for name, rate in RATES[r["bench"]]:
        out[name] = round(r[rate] / t[rate], 3)
    print(json.dumps(out))
