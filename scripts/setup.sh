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
