//! Compute kernels: each family is a WGSL file with its GPU dispatch and its CPU twin on ndarray side by side.
pub mod backprop;
pub mod boltzmann;
pub mod chl;
pub mod competitive;
pub mod hebbback;
pub mod hebbconv;
pub mod hebbdepthwise;
pub mod hebblayers;
pub mod hebbrule;
pub mod hebbupdate;
pub mod ising;
pub mod matmul;
pub mod mlp;
pub mod prelude;
pub mod random;
pub mod rbm;
pub mod recall;
pub mod som;
pub mod trajectories;

/// The random-number library shared by every WGSL kernel that draws (part of the prelude).
const RNG_WGSL: &str = include_str!("rng.wgsl");

/// Every WGSL module as compiled (library code included), for validation with naga in `cargo test`.
pub fn all_wgsl() -> Vec<(&'static str, String)> {
    vec![
        ("random", random::source()),
        ("trajectories", trajectories::source()),
        ("matmul", matmul::source()),
        ("recall", recall::source()),
        ("ising", ising::source()),
        ("hebbconv", hebbconv::source()),
        ("hebbdepthwise", hebbdepthwise::source()),
        ("hebblayers", hebblayers::source()),
        ("hebbupdate", hebbupdate::source()),
        ("backprop", backprop::source()),
        ("mlp", mlp::source()),
        ("rbm", rbm::source()),
        ("boltzmann", boltzmann::source()),
        ("chl", chl::source()),
        ("competitive", competitive::source()),
        ("hebbrule", hebbrule::source()),
        ("som", som::source()),
    ]
}

/// Every struct shared between Rust and WGSL, for the layout test in tests/wgsl.rs.
pub fn layouts() -> Vec<prelude::Layout> {
    [
        trajectories::layouts(),
        random::layouts(),
        matmul::layouts(),
        ising::layouts(),
        recall::layouts(),
        hebbconv::layouts(),
        hebbdepthwise::layouts(),
        hebblayers::layouts(),
        hebbupdate::layouts(),
        backprop::layouts(),
        mlp::layouts(),
        rbm::layouts(),
        boltzmann::layouts(),
        chl::layouts(),
        competitive::layouts(),
        hebbrule::layouts(),
        som::layouts(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
