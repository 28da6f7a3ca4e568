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
if [ -d dist ]; then node tests/e2e/bench.mjs; else echo "run trunk build first for the browser figures" >&2; fi
