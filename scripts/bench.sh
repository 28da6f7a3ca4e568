#!/usr/bin/env bash
# Benchmarks (reported figures, not tests): native CLI runs of lab 1 on the CPU and the GPU, then the
# in-browser figures from tests/e2e/bench.mjs. Prints one JSON line per measurement.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="$(mktemp -d)"
cargo build --release --quiet
bin=target/release/hebbian
tmp="$(mktemp -d)"
$bin state hebb2d > "$tmp/default.json"
# The exercise's run (3 distributions x 2000 updates, 16 runs each) and a wide one (3 x 1024 runs).
python3 - "$tmp" <<'PY'
import json, sys
d = sys.argv[1]
s = json.load(open(f"{d}/default.json"))
s["params"]["trials"] = 1; json.dump(s, open(f"{d}/single.json", "w"))
s["params"]["trials"] = 1024; json.dump(s, open(f"{d}/wide.json", "w"))
PY
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for case in single default wide; do
  for backend in cpu gpu; do
    ms=$(for _ in 1 2 3 4 5; do $bin run "$tmp/$case.json" --backend "$backend" --timing | python3 -c 'import json,sys; print(json.load(sys.stdin)["elapsed_ms"])'; done | median)
    adapter=$($bin run "$tmp/single.json" --backend "$backend" | python3 -c 'import json,sys; e=json.load(sys.stdin)["engine"]; print(e["adapter"] or "cpu")')
    echo "{\"bench\":\"native hebb2d run\",\"case\":\"$case\",\"backend\":\"$backend\",\"adapter\":\"$adapter\",\"median_ms_of_5\":$ms}"
  done
done
# Datasets: the shipped MNIST asset's size, and native parse throughput of full-size files: 60,000 MNIST-like
# images (the shipped digits six times over, so the .gz compresses like the real one) and five CIFAR-10 batches
# of random pixels (loose, and as a .tar.gz like the official archive).
python3 - "$tmp" <<'PY'
import gzip, io, os, struct, sys, tarfile
d = sys.argv[1]
digits = gzip.decompress(open("target/data/mnist/mnist-10k-images-idx3-ubyte.gz", "rb").read())[16:]
labels = gzip.decompress(open("target/data/mnist/mnist-10k-labels-idx1-ubyte.gz", "rb").read())[8:]
def idx(dims, data): return struct.pack(">I", 0x800 | len(dims)) + b"".join(struct.pack(">I", x) for x in dims) + data
imgs = idx([60000, 28, 28], digits * 6); labs = idx([60000], labels * 6)
open(f"{d}/train-images-idx3-ubyte", "wb").write(imgs); open(f"{d}/train-labels-idx1-ubyte", "wb").write(labs)
open(f"{d}/train-images-idx3-ubyte.gz", "wb").write(gzip.compress(imgs, 6)); open(f"{d}/train-labels-idx1-ubyte.gz", "wb").write(gzip.compress(labs, 6))
with tarfile.open(f"{d}/cifar-10-binary.tar.gz", "w:gz") as tar:
    for k in range(1, 6):
        batch = b"".join(bytes([i % 10]) + os.urandom(3072) for i in range(10000))
        open(f"{d}/data_batch_{k}.bin", "wb").write(batch)
        info = tarfile.TarInfo(f"cifar-10-batches-bin/data_batch_{k}.bin"); info.size = len(batch)
        tar.addfile(info, io.BytesIO(batch))
PY
for f in target/data/mnist/*.gz; do echo "{\"bench\":\"shipped asset\",\"file\":\"$(basename "$f")\",\"bytes\":$(stat -c %s "$f")}"; done
data_bench() {
  local name=$1; shift
  $bin data "$@" | python3 -c "import json,sys; r=json.load(sys.stdin); print(json.dumps({'bench':'native parse','case':'$name','file_bytes':r['file_bytes'],'seconds':round(r['seconds'],3),'mb_per_s':round(r['mb_per_s'],1)}))"
}
data_bench "MNIST IDX 60000" --format mnist_idx "$tmp/train-images-idx3-ubyte" "$tmp/train-labels-idx1-ubyte"
data_bench "MNIST IDX 60000 .gz" --format mnist_idx "$tmp/train-images-idx3-ubyte.gz" "$tmp/train-labels-idx1-ubyte.gz"
data_bench "CIFAR-10 5 batches" --format cifar10 "$tmp"/data_batch_*.bin
data_bench "CIFAR-10 5 batches .tar.gz" --format cifar10 "$tmp/cifar-10-binary.tar.gz"
# ZCA fit on 50,000 × 3072 (CPU eigensolve; covariance on the CPU and on the GPU when one is there).
cargo test --release --quiet --test zca -- --ignored --nocapture 2>/dev/null | grep '^{' || true
# Associative memories: Hopfield recall throughput and a capacity sweep; Ising sweeps per second by lattice size.
cargo test --release --quiet --test hopfield -- --ignored --nocapture 2>/dev/null | grep '^{' || true
cargo test --release --quiet --test ising -- --ignored --nocapture 2>/dev/null | grep '^{' || true
# Engine: per-dispatch overhead (each dispatch alone vs recorded into one submit), and the CPU matrix product
# beside NumPy's on the same sizes, in the same run (NumPy installed for the user if missing).
cargo test --release --quiet --test kernels -- --ignored --nocapture 2>/dev/null | grep '^{' || true
python3 -c 'import numpy' 2>/dev/null || python3 -m pip install --quiet --user numpy
python3 - <<'PY'
import json, time, numpy as np
for n in (256, 512, 1024):
    a = (np.add.outer(np.arange(n) * 31, np.arange(n) * 17) % 97).astype(np.float32) / 97
    b = a.T.copy(); reps = max(1, (2048 // n) ** 2); a @ b
    t = time.perf_counter()
    for _ in range(reps): a @ b
    s = (time.perf_counter() - t) / reps
    print(json.dumps({"bench": "cpu gemm", "impl": f"numpy {np.__version__}", "n": n, "gflops": round(2 * n**3 / s / 1e9, 1)}))
PY
# Hebbian CNN: architecture A with SoftHebb, batch 64, MNIST and CIFAR shapes, widths ÷8, ÷4, ÷1: our CPU
# network and GPU network (examples/hebbconv_gpu_bench.rs `json`) beside the same network in PyTorch on the
# CPU (benches/hebbconv_torch.py), one after the other in this run, then ratios ours / PyTorch. PyTorch is a
# yardstick only, in its own venv (`pip install torch` from PyPI pulls the CUDA wheel and its nvidia-*
# libraries, about 4 GB: `import torch` fails without them; the CPU-only index is not reachable here).
# HEBBCONV_GPU_DIVS picks the GPU's widths (lavapipe, about 0.5 GFLOP/s here, manages ÷8 only in reasonable
# time; "none" skips the GPU). scripts/bench-gpu.sh is the same comparison for a machine with a real GPU.
venv=target/venv
if ! "$venv/bin/python" -c 'import torch' 2>/dev/null; then
  python3 -m venv "$venv" && "$venv/bin/pip" install --quiet torch numpy
fi
cargo build --release --quiet --example hebbconv_gpu_bench
ours="$(target/release/examples/hebbconv_gpu_bench json --gpu-divs "${HEBBCONV_GPU_DIVS:-8}")"
theirs="$("$venv/bin/python" benches/hebbconv_torch.py --device cpu)"
printf '%s\n%s\n' "$ours" "$theirs"
printf '%s\n%s\n' "$ours" "$theirs" | python3 benches/hebbconv_ratio.py
# Credit assignment: one epoch of the notebook's MLP per rule (backprop, Hebbian), ours from the CLI's
# "training images per second per rule" metric, then the notebook's code path in PyTorch (benches/credit_torch.py).
for rule in backprop hebbian; do
  python3 - "$tmp" "$rule" <<'PY'
import json, subprocess, sys
d, rule = sys.argv[1], sys.argv[2]
s = json.loads(subprocess.run(["target/release/hebbian", "state", "credit"], capture_output=True, text=True, check=True).stdout)
p = s["params"]
p["rules"] = {k: k == rule for k in p["rules"]}
p["pictures"], p["epochs"], p["snr_examples"] = rule, 3, 0
json.dump(s, open(f"{d}/credit-{rule}.json", "w"))
r = json.loads(subprocess.run(["target/release/hebbian", "run", "--backend", "cpu", f"{d}/credit-{rule}.json"], capture_output=True, text=True, check=True).stdout)
rate = next(m["value"] for m in r["metrics"] if m["name"] == "training images per second per rule")
print(json.dumps({"bench": "credit epoch", "rule": rule, "engine": "ours cpu", "images_per_s": round(rate, 1)}))
PY
done
"$venv/bin/python" benches/credit_torch.py 2
if [ -d dist ]; then node tests/e2e/bench.mjs; else echo "run trunk build first for the browser figures" >&2; fi
