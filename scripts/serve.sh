#!/usr/bin/env bash
# Sets up a fresh machine (scripts/setup.sh), builds the playground and serves it on http://127.0.0.1:8080/
# (trunk rebuilds on every change to src/, www/ or index.html).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
echo "Hebbian Playground: open http://127.0.0.1:8080/ once the build below says it is serving."
exec trunk serve
