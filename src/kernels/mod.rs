//! Compute kernels: each family is a WGSL file with its GPU dispatch and its CPU twin on ndarray side by side.
pub mod ising;
pub mod matmul;
pub mod plasticity;
pub mod random;
pub mod recall;

/// The random-number library shared by every WGSL kernel that draws (prepended to its source).
pub const RNG_WGSL: &str = include_str!("rng.wgsl");

/// Every WGSL module as compiled (library code included), for validation with naga in `cargo test`.
pub fn all_wgsl() -> Vec<(&'static str, String)> {
    vec![
        ("random", random::source()),
        ("plasticity", plasticity::source()),
        ("matmul", matmul::source()),
        ("recall", recall::source()),
        ("ising", ising::source()),
    ]
}
