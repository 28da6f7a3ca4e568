//! Hebbian Playground core: biologically plausible learning rules as notebook labs.
//!
//! Architecture: `labs` define each lab's typed parameters, notebook cells and run loop; runs call `kernels`
//! (a WGSL kernel and its ndarray CPU twin per family) through the runtime `engine` (GPU via wgpu, or CPU);
//! `state` is the versioned experiment document behind every permalink; `protocol` holds what labs hand to
//! the page and the CLI (cells, plots, frames). Only `web` (wasm bindings, worker entry) depends on the
//! target; the native CLI lives in `src/bin/hebbian.rs`.
pub mod checkpoint;
pub mod data;
pub mod engine;
pub mod error;
pub mod kernels;
pub mod labs;
pub mod lanes;
pub mod markdown;
pub mod nets;
pub mod plasticity;
pub mod protocol;
pub mod rng;
pub mod state;
#[cfg(target_arch = "wasm32")]
mod web;
