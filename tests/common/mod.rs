//! Shared test helpers: the native GPU (lavapipe in CI) when one is present.
#[allow(dead_code)]
pub mod compare;
#[allow(dead_code)]
pub mod conv;
#[allow(dead_code)]
pub mod datasets;
#[allow(dead_code)] // each test crate uses its own part
pub mod golden;
#[allow(dead_code)]
pub mod runs;
#[allow(dead_code)]
pub mod states;

use hebbian_playground::engine::Gpu;

/// The GPU, or None with a note. With HEBBIAN_REQUIRE_GPU=1 (set by the README test command) a missing
/// adapter fails the test instead, so CI cannot pass without running the kernels.
#[allow(dead_code)]
pub fn gpu() -> Option<Gpu> {
    match pollster::block_on(Gpu::new()) {
        Ok(gpu) => Some(gpu),
        Err(e) if std::env::var("HEBBIAN_REQUIRE_GPU").as_deref() == Ok("1") => {
            panic!("no GPU for the kernel tests: {e}")
        }
        Err(e) => {
            eprintln!("skipping GPU comparison: {e}");
            None
        }
    }
}
