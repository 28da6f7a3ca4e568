#!/bin/bash
# RBM speed side by side on this machine: CD-1 updates per second (784 x 500, batch 20, the lecture's 100 digits)
# and Gibbs sweeps per second (20 chains) of the lab's CPU path (the CLI), of the GPU path on whatever adapter wgpu
# finds (lavapipe on a machine without a GPU), and of the lecture's NumPy loop (benches/rbm_numpy.py).
# Usage: benches/rbm_bench.sh [path to the hebbian CLI] [python]
# Measured 2026-12-03 on the shared 2-core machine (load ~2, budgets build, WGPU_BACKEND=vulkan): CPU path 102 CD-1
# updates/s (the lab's count, with its mean-field reconstruction error of the 100 digits after each epoch) and 757
# Gibbs sweeps/s; GPU path on lavapipe 3.2 updates/s; the lecture's NumPy loop (numpy 2.4.6, float64) 59.5
# updates/s and 355 sweeps/s.
set -euo pipefail
cd "$(dirname "$0")/.."
CLI=${1:-target/release/hebbian}
PY=${2:-python3}
TMP=$(mktemp -d)
"$CLI" state rbm | "$PY" -c "
import json, sys
s = json.load(sys.stdin); p = s['params']
p['variants'] = {'cd1': True, 'cdk': False, 'pcd': False}
p['epochs'] = 200; p['ais']['points'] = 1; p['ais']['runs'] = 2; p['ais']['temperatures'] = 1
p['sweeps'] = 500; p['dbn']['layer1'] = 0; p['dbn']['layer2'] = 0; p['dbn']['layer3'] = 0
json.dump(s, open('$TMP/state.json', 'w'))"
for backend in cpu gpu; do
  "$CLI" run --backend "$backend" "$TMP/state.json" 2>/dev/null | "$PY" -c "
import json, sys
r = json.load(sys.stdin); m = {x['name']: x['value'] for x in r['metrics']}
print(json.dumps({'path': '$backend', 'adapter': r['engine'].get('adapter'),
  'cd1_updates_per_s': m['CD updates per second (every variant\'s batches)'],
  'gibbs_sweeps_per_s (CPU)': m['Gibbs sweeps per second (20 chains)']}))" || echo "{\"path\": \"$backend\", \"error\": \"no result\"}"
done
"$PY" benches/rbm_numpy.py 200
rm -rf "$TMP"
