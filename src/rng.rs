//! Philox4x32-10 counter-based generator, bit-identical to `kernels/rng.wgsl`.
//!
//! A draw is a pure function of (key, counter): the experiment seed and a stream id form the key, the step
//! index forms the counter, so any step of any trajectory can be recomputed on CPU or GPU without carrying
//! generator state. Normals use Box-Muller with `libm` so native and wasm CPU runs agree to the last bit.

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// Four 32-bit random words for one (key, counter) pair.
pub fn philox4x32(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for round in 0..10 {
        if round > 0 {
            k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
        }
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        let (hi0, lo0) = ((p0 >> 32) as u32, p0 as u32);
        let (hi1, lo1) = ((p1 >> 32) as u32, p1 as u32);
        c = [hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0];
    }
    c
}

/// A uniform in the open interval (0, 1) from the top 23 bits of a word (exact in f32, never 0 or 1;
/// 24 bits would round the top value up to 1.0).
pub fn uniform(x: u32) -> f32 {
    ((x >> 9) as f32 + 0.5) * (1.0 / 8_388_608.0)
}

/// Two independent standard normals from two words (Box-Muller).
pub fn normal_pair(x0: u32, x1: u32) -> [f32; 2] {
    let r = libm::sqrtf(-2.0 * libm::logf(uniform(x0)));
    let theta = core::f32::consts::TAU * uniform(x1);
    [r * libm::cosf(theta), r * libm::sinf(theta)]
}

/// Four standard normals for one (key, counter) pair.
pub fn normal4(counter: [u32; 4], key: [u32; 2]) -> [f32; 4] {
    let x = philox4x32(counter, key);
    let a = normal_pair(x[0], x[1]);
    let b = normal_pair(x[2], x[3]);
    [a[0], a[1], b[0], b[1]]
}

/// Stream ids: what a draw is for, so that two uses of one seed never share numbers.
/// Layout (mirrored in WGSL): purpose in bits 28..32, group (e.g. distribution) in 20..28, index in 0..20.
pub fn stream(purpose: Purpose, group: u32, index: u32) -> u32 {
    ((purpose as u32) << 28) | ((group & 0xFF) << 20) | (index & 0xF_FFFF)
}

/// What a stream of random numbers feeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Purpose {
    /// Scatter samples shown with the inputs.
    Samples = 1,
    /// Initial weight vectors.
    InitialWeights = 2,
    /// Inputs drawn during learning, one counter per step.
    Inputs = 3,
    /// Fields filled by the `random` kernel.
    Field = 4,
    /// Generated datasets, shuffles and corruption (group: which generator or transform).
    Data = 5,
    /// Associative-memory runs: update orders, random probes, Storkey sampling (group: which use).
    Hopfield = 6,
    /// The Ising model: group 0 Metropolis acceptance, group 1 random starts (the sweep is in the counter).
    Ising = 7,
    /// Hebbian convolutional networks: group = the layer's index (depth first), initial weights.
    HebbConv = 8,
    /// Trained read-outs (the linear probe, the backprop baseline's head): group 0 initial weights, group 1
    /// dropout masks (the batch in the counter), group 2 the order of training examples (the epoch), group 3
    /// the backprop baseline's convolution weights (index: the layer).
    Readout = 9,
    /// The credit-assignment lab's perceptrons: groups 0–3 the initial weights and biases, 4 the feedback
    /// matrix, 5 perturbations (the step in the counter).
    Mlp = 10,
    /// Boltzmann machines (`nets::boltzmann`): group 0 initial weights, 1 chains' random starts (index: the
    /// chains' round), 2 the free chains' sweeps, 3 the sweeps of chains with the visible units clamped (counter
    /// [chain, sweep, unit / 4, round]), 4 the lecture's one-step statistics.
    Boltzmann = 11,
    /// Restricted Boltzmann machines and deep belief nets (`nets::rbm::group`; index: the layer): group 0 initial
    /// weights, 1 Gibbs sampling in training (CD-k and persistent chains; the sweep in the counter), 2 sampling
    /// from the model and reconstruction, 3 annealed importance sampling (the run and temperature in the counter),
    /// 4 the pseudo-likelihood's flipped bits. Counters are [row, step, unit/4, phase].
    Rbm = 12,
    /// Contrastive Hebbian learning (`nets::chl`): group 0 initial weights, 1 initial biases (index: the layer).
    /// The order of training examples comes from `data::preprocess::shuffled` (`Purpose::Data`), as in the other
    /// labs.
    Chl = 13,
    /// Competitive learning (`nets::competitive`): group 0 the initial weights (index: which network of the lab),
    /// 1 the order the blobs are presented in.
    Competitive = 14,
}

impl Purpose {
    /// Every purpose, for the WGSL prelude (`PURPOSE_*` constants).
    pub const ALL: [(Purpose, &'static str); 14] = [
        (Purpose::Samples, "PURPOSE_SAMPLES"),
        (Purpose::InitialWeights, "PURPOSE_INITIAL_WEIGHTS"),
        (Purpose::Inputs, "PURPOSE_INPUTS"),
        (Purpose::Field, "PURPOSE_FIELD"),
        (Purpose::Data, "PURPOSE_DATA"),
        (Purpose::Hopfield, "PURPOSE_HOPFIELD"),
        (Purpose::Ising, "PURPOSE_ISING"),
        (Purpose::HebbConv, "PURPOSE_HEBB_CONV"),
        (Purpose::Readout, "PURPOSE_READOUT"),
        (Purpose::Mlp, "PURPOSE_MLP"),
        (Purpose::Boltzmann, "PURPOSE_BOLTZMANN"),
        (Purpose::Rbm, "PURPOSE_RBM"),
        (Purpose::Chl, "PURPOSE_CHL"),
        (Purpose::Competitive, "PURPOSE_COMPETITIVE"),
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known-answer vectors from the Random123 distribution (kat_vectors, philox4x32_10).
    #[test]
    fn philox_known_answers() {
        assert_eq!(
            philox4x32([0; 4], [0; 2]),
            [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]
        );
        assert_eq!(
            philox4x32([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]
        );
        assert_eq!(
            philox4x32(
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0]
            ),
            [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1]
        );
    }

    #[test]
    fn uniforms_stay_open() {
        assert!(uniform(0) > 0.0);
        assert!(uniform(u32::MAX) < 1.0);
    }

    #[test]
    fn normals_have_unit_moments() {
        let n = 20_000u32;
        let (mut s, mut s2) = (0.0f64, 0.0f64);
        for i in 0..n {
            for z in normal4([i, 0, 0, 0], [7, 9]) {
                s += f64::from(z);
                s2 += f64::from(z) * f64::from(z);
            }
        }
        let m = s / f64::from(4 * n);
        let var = s2 / f64::from(4 * n) - m * m;
        assert!(m.abs() < 0.02, "mean {m}");
        assert!((var - 1.0).abs() < 0.03, "variance {var}");
    }
}
