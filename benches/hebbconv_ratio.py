#!/usr/bin/env python3
"""Reads the JSON lines of examples/hebbconv_gpu_bench.rs (`json`) and benches/hebbconv_torch.py on stdin and
prints, for each of our rows (CPU or GPU) with a PyTorch row of the same input and width, the ratios ours /
PyTorch of images per second (above 1: ours is faster). Our rows are compared with PyTorch on the device
named by --against (cpu for scripts/bench.sh, cuda for scripts/bench-gpu.sh)."""
import argparse
import json
import sys

ap = argparse.ArgumentParser()
ap.add_argument("--against", default="cpu")
args = ap.parse_args()
rows = [json.loads(l) for l in sys.stdin if l.startswith("{")]
torch_rows = {
    (r["input"], r["width_div"]): r
    for r in rows
    if r.get("bench") == "hebbconv" and r["impl"].startswith("pytorch") and r["device"] == args.against
}
for r in rows:
    if r.get("bench") != "hebbconv" or r["impl"] != "hebbian":
        continue
    t = torch_rows.get((r["input"], r["width_div"]))
    if t is None:
        continue
    print(
        json.dumps(
            {
                "bench": "hebbconv ours/pytorch",
                "ours": f'{r["device"]} ({r["adapter"]})',
                "pytorch": f'{t["device"]} ({t["adapter"]})',
                "input": r["input"],
                "width_div": r["width_div"],
                "step_ratio": round(r["step_images_per_s"] / t["step_images_per_s"], 3),
                "features_ratio": round(r["features_images_per_s"] / t["features_images_per_s"], 3),
            }
        )
    )
