#!/usr/bin/env bash
# Sets up a fresh machine (scripts/setup.sh) and runs every test: format and lints, native tests (GPU kernels
# on lavapipe), wasm tests in headless Chromium (WebGPU on SwiftShader), the page build, and end-to-end tests
# of the page in headless Chromium driven by playwright-core.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

# wgpu on lavapipe (Vulkan on the CPU); a missing adapter fails the kernel tests instead of skipping them.
export WGPU_BACKEND=vulkan HEBBIAN_REQUIRE_GPU=1
XDG_RUNTIME_DIR="$(mktemp -d)"
export XDG_RUNTIME_DIR

# Each step says when it starts (seconds since this script began), so a slow CI run shows where time went.
step() { printf '\n=== [%ss] %s\n' "$SECONDS" "$*"; }

step "format and lints"
cargo fmt --check
cargo clippy --all-targets -- -D warnings
cargo clippy --target wasm32-unknown-unknown --no-default-features --all-targets -- -D warnings
# The page's JavaScript against the protocol's TypeScript declarations (tsconfig.json; www/types/).
npx --no-install tsc -p tsconfig.json

# One optimised build (the `budgets` profile: release without link-time optimisation) for every native test: the
# budget test times the CLI against the labs' estimates and the learning tests train real networks, which need
# optimised code, and a second, debug build of the same tests cost CI more than it caught (the debug runs of the
# numeric tests were slower than the optimised build of all of them). `--tests` leaves out the benchmark examples
# (clippy above has checked that they compile) and the library's doc-tests (it has none).
step "native tests (CPU twins, kernels on lavapipe, labs, links, CLI, budgets: every lab's extremes within their estimates or refused, learning tests)"
cargo test --profile budgets --tests

step "wasm tests in headless Chromium (WebGPU on SwiftShader)"
WASM_BINDGEN_TEST_TIMEOUT=180 cargo test --target wasm32-unknown-unknown --no-default-features --test web

step "page build"
trunk build

# Two test files at a time: much of a browser test is waiting for frames, and two at once took 357 s where one at
# a time took about 590 s. The files that time the page run alone afterwards: Pause within a chunk, `auto`
# measuring both engines, and the CNN lab's pause-and-keep (its checkpoint was not yet kept after 10 s beside
# another file once).
step "end-to-end tests in headless Chromium"
timed=(tests/e2e/budget.test.mjs tests/e2e/lab.test.mjs tests/e2e/hebbconv.test.mjs)
mapfile -t rest < <(ls tests/e2e/*.test.mjs | grep -v -x -F "${timed[@]/#/-e}")
HEBBIAN_SKIP_BUILD=1 node --test --test-concurrency=2 "${rest[@]}"
HEBBIAN_SKIP_BUILD=1 node --test --test-concurrency=1 "${timed[@]}"
step "all tests passed"
