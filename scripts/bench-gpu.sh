#!/usr/bin/env bash
# The Hebbian-CNN comparison of scripts/bench.sh on a machine with a real GPU: our GPU network natively
# (wgpu on Vulkan) and our CPU network against the same network in PyTorch on CUDA and on that machine's
# CPU (benches/hebbconv_torch.py), architecture A with SoftHebb, batch 64, MNIST and CIFAR shapes, widths
# ÷8, ÷4, ÷1. Prints JSON lines, then ratios ours / PyTorch-CUDA (benches/hebbconv_ratio.py).
#
# The lent machines (see the project's device notes) have PyTorch with CUDA and an NVIDIA driver but no
# Rust toolchain, no Vulkan loader and no network, so the work is split in two:
#   ./scripts/bench-gpu.sh prepare   here: builds the bench binary (x86-64 Linux, glibc only; wgpu opens
#                                    libvulkan at run time) and downloads the Debian packages of the Vulkan
#                                    and GL loaders into .gpubench/ (ignored by git, about 11 MB)
#   ./scripts/bench-gpu.sh run       there, from the repository root, with .gpubench carried: unpacks the
#                                    loaders into /, points the loader at NVIDIA's ICD if none is found, and
#                                    runs both sides; with $OUT set, the JSON lines also land in $OUT.
# Each side is capped by `timeout` (about 9.5 min in all, inside a 10-minute device command) so that what
# ran still prints; run it with timeout_s 600.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.gpubench
case "${1:-}" in
prepare)
  grep -qxF "/$dir/" "$(git rev-parse --git-common-dir)/info/exclude" 2>/dev/null ||
    echo "/$dir/" >>"$(git rev-parse --git-common-dir)/info/exclude"
  mkdir -p "$dir/gl"
  cargo build --release --quiet --example hebbconv_gpu_bench
  cp "${CARGO_TARGET_DIR:-target}/release/examples/hebbconv_gpu_bench" "$dir/"
  # amd64 package lists of their own, so that this works whatever this machine's architecture.
  lists="$(mktemp -d)"
  mkdir -p "$lists/partial"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  apt-get "${o[@]}" update -qq
  (cd "$dir/gl" && rm -f ./*.deb && apt-get "${o[@]}" download libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2)
  du -sh "$dir"
  echo "now run on the GPU machine: bash scripts/bench-gpu.sh run   (carry: $dir)"
  ;;
run)
  [ -x "$dir/hebbconv_gpu_bench" ] || { echo "run '$0 prepare' first (on a machine with cargo)" >&2; exit 2; }
  if ! ldconfig -p | grep -q libvulkan; then
    for f in "$dir"/gl/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json ] &&
    ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
    export VK_DRIVER_FILES=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
  export WGPU_BACKEND=vulkan XDG_RUNTIME_DIR="$(mktemp -d)" PYTHONUNBUFFERED=1
  out="${OUT:-$(mktemp -d)}"
  nvidia-smi --query-gpu=name,driver_version --format=csv,noheader || true
  # Ours: CPU at every width (this machine's cores), GPU at every width.
  timeout 270 "$dir/hebbconv_gpu_bench" json --divs 8,4,1 --gpu-divs 8,4,1 | tee "$out/ours.jsonl" || true
  # PyTorch: CUDA, then the CPU with its default threads.
  timeout 120 python3 benches/hebbconv_torch.py --device cuda | tee "$out/torch.jsonl" || true
  timeout 150 python3 benches/hebbconv_torch.py --device cpu | tee -a "$out/torch.jsonl" || true
  cat "$out/ours.jsonl" "$out/torch.jsonl" | python3 benches/hebbconv_ratio.py --against cuda | tee "$out/ratio.jsonl"
  cat "$out/ours.jsonl" "$out/torch.jsonl" | python3 benches/hebbconv_ratio.py --against cpu | tee -a "$out/ratio.jsonl"
  ;;
*)
  echo "usage: $0 prepare | run" >&2
  exit 2
  ;;
esac
