//! Learning rules, written once for any shape: the rule enum, each rule's update for one synapse (the CPU twin of
//! `rules.wgsl`, which every learning kernel includes), and the batch-averaged update of a whole weight matrix
//! for batched pre-/post-synaptic activity of any width, through one matrix product. The theory that goes with
//! the rules (principal axes, predicted growth) is in [`theory`].
//!
//! Rules (v post-synaptic, u pre-synaptic, Dayan & Abbott ch. 8 notation; w ← w + η Δw):
//! - hebb:       Δw = v u  (000, exercise 2a; the listing's `v = w * u` is elementwise, we use the dot product
//!   v = wᵀu the equation asks for)
//! - hebb_clip:  hebb, then w ← w / max(1, ‖w‖ / w_max)    (000, exercise 2b)
//! - oja:        Δw = v (u − v w)
//! - covariance: Δw = v (u − ū), ū a running mean of u
//! - bcm:        Δw = v (v − θ) u, θ a running mean of v² (sliding threshold)
//! - instar:     Δw = v (u − w)   (Grossberg: the post-synaptic unit's weights move toward the input)
//! - outstar:    Δw = u (v − w)   (Grossberg: the pre-synaptic unit's outgoing weights move toward the output)
//!
//! The associative memories' outer-product storage (Hopfield's Hebb rule W = (1/N) Σ_μ ξ^μ ξ^μᵀ) is Hebb's
//! batched update with the patterns as both pre- and post-synaptic activity: [`outer_product_sum`]. The
//! energy-based nets learn by [`contrastive`]: Hebbian in one phase, anti-Hebbian in the other.
pub mod competition;
pub mod theory;

use crate::kernels::matmul;
use ndarray::{Array2, ArrayView1, ArrayView2, Axis};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// WGSL of `plasticity_delta`, included by kernels after the prelude.
pub const WGSL: &str = include_str!("rules.wgsl");

/// A learning rule; the discriminant is the rule id in WGSL (`RULE_*` in the generated prelude).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Simple Hebb: Δw = η v u. Unstable: ‖w‖ grows without bound.
    Hebb = 0,
    /// Hebb with ‖w‖ clipped to w_max after every update.
    HebbClip = 1,
    /// Oja's rule: Δw = η v (u − v w). Converges to the unit principal eigenvector.
    Oja = 2,
    /// Covariance rule: Δw = η v (u − ū) with ū a running mean of the input.
    Covariance = 3,
    /// BCM: Δw = η v (v − θ) u with a sliding threshold θ tracking ⟨v²⟩.
    Bcm = 4,
    /// Instar: Δw = η v (u − w).
    Instar = 5,
    /// Outstar: Δw = η u (v − w). Left out of the schema: the 2-D lab's one output has no target to recall, so
    /// its rule list does not offer it (the Hebb's-rule lab uses it on letters).
    #[schemars(skip)]
    Outstar = 6,
}

impl Rule {
    /// Every rule, in kernel-id order (for sweeps, tests and the WGSL prelude).
    pub const ALL: [Rule; 7] = [
        Rule::Hebb,
        Rule::HebbClip,
        Rule::Oja,
        Rule::Covariance,
        Rule::Bcm,
        Rule::Instar,
        Rule::Outstar,
    ];

    /// The WGSL constant naming this rule's id.
    pub fn wgsl_name(self) -> &'static str {
        match self {
            Rule::Hebb => "RULE_HEBB",
            Rule::HebbClip => "RULE_HEBB_CLIP",
            Rule::Oja => "RULE_OJA",
            Rule::Covariance => "RULE_COVARIANCE",
            Rule::Bcm => "RULE_BCM",
            Rule::Instar => "RULE_INSTAR",
            Rule::Outstar => "RULE_OUTSTAR",
        }
    }
}

/// Δw of one synapse (CPU twin of `plasticity_delta` in rules.wgsl, same arithmetic in the same order).
#[inline]
pub fn delta(rule: Rule, v: f32, u: f32, w: f32, ubar: f32, theta: f32) -> f32 {
    match rule {
        Rule::Oja => v * (u - v * w),
        Rule::Covariance => v * (u - ubar),
        Rule::Bcm => (v * (v - theta)) * u,
        Rule::Instar => v * (u - w),
        Rule::Outstar => u * (v - w),
        Rule::Hebb | Rule::HebbClip => v * u,
    }
}

/// Clipped Hebb's bound: scales `w` back onto the sphere ‖w‖ = w_max when it left it; returns the new norm.
pub fn clip(w: &mut [f32], norm: f32, w_max: f32) -> f32 {
    if norm > w_max {
        let s = w_max / norm;
        w.iter_mut().for_each(|x| *x *= s);
        w_max
    } else {
        norm
    }
}

/// The batch-averaged update ⟨Δw⟩ (n_out × n_in) of `rule` for pre-synaptic rows `pre` (B × n_in), post-synaptic
/// rows `post` (B × n_out) and weights `w` (n_out × n_in); `ubar` (n_in) and `theta` (n_out) are the covariance
/// rule's input mean and BCM's thresholds. Every rule is one matrix product plus a per-row term:
/// Hebb postᵀ·pre, Oja postᵀ·pre − ⟨v²⟩ w, covariance postᵀ·(pre − ū), BCM (v(v − θ))ᵀ·pre, instar
/// postᵀ·pre − ⟨v⟩ w, outstar postᵀ·pre − w ⟨u⟩ (per input column; all divided by B). Clipped Hebb's clip is applied by the caller after the step.
pub fn batch_delta(
    rule: Rule,
    pre: ArrayView2<f32>,
    post: ArrayView2<f32>,
    w: ArrayView2<f32>,
    ubar: ArrayView1<f32>,
    theta: ArrayView1<f32>,
) -> Array2<f32> {
    let b = pre.nrows().max(1) as f32;
    let mut d = match rule {
        Rule::Covariance => matmul::product_tn_cpu(post, (&pre - &ubar).view()),
        Rule::Bcm => {
            let gated = &post * &(&post - &theta);
            matmul::product_tn_cpu(gated.view(), pre)
        }
        _ => matmul::product_tn_cpu(post, pre),
    };
    d.mapv_inplace(|x| x / b);
    let decay = match rule {
        Rule::Oja => Some(post.mapv(|v| v * v).sum_axis(Axis(0)) / b),
        Rule::Instar => Some(post.sum_axis(Axis(0)) / b),
        _ => None,
    };
    if let Some(decay) = decay {
        d.zip_mut_with(&(&w * &decay.insert_axis(Axis(1))), |x, &c| *x -= c);
    }
    if rule == Rule::Outstar {
        let mean_u = pre.sum_axis(Axis(0)) / b;
        d.zip_mut_with(&(&w * &mean_u.insert_axis(Axis(0))), |x, &c| *x -= c);
    }
    d
}

/// Σ_b post_bᵀ pre_b (n_out × n_in): the unnormalised outer-product (Hebbian) storage of a batch, e.g. the
/// Hopfield weights N·W + P·I of ±1 patterns (sums of ±1 are exact in f32, in any order).
pub fn outer_product_sum(pre: ArrayView2<f32>, post: ArrayView2<f32>) -> Array2<f32> {
    matmul::product_tn_cpu(post, pre)
}

/// One phase of a contrastive update: pre- and post-synaptic rows (B × n_pre, B × n_post) and what their summed
/// products are divided by (B to average, 1 to sum).
#[derive(Clone, Copy)]
pub struct Phase<'a> {
    pub pre: ArrayView2<'a, f32>,
    pub post: ArrayView2<'a, f32>,
    pub norm: f32,
}

/// The contrastive Hebbian update (n_pre × n_post): Hebbian in the `plus` phase (data, clamped), anti-Hebbian in
/// the `minus` phase (model, free), Σ pre postᵀ / norm of each. It is the learning rule of the energy-based nets:
/// CD-k and persistent CD in RBMs (data vs reconstructions) and contrastive Hebbian learning (clamped vs free
/// phase). Products sum in `nets::dense`'s fixed order, so that the page's CPU engine gives the CLI's bits.
/// (The Boltzmann machine's correlations of binary states are exact counts, summed in f64 by
/// `nets::boltzmann::moments`.)
pub fn contrastive(plus: Phase, minus: Phase) -> Array2<f32> {
    crate::nets::dense::tn(plus.pre, plus.post) / plus.norm
        - crate::nets::dense::tn(minus.pre, minus.post) / minus.norm
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{Array1, Array2};

    fn seq(rows: usize, cols: usize, k: f32) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            ((i * 7 + j * 3) as f32 * k).sin() * 0.8
        })
    }

    /// The matrix form equals the per-synapse rule averaged over the batch, for every rule and any width.
    #[test]
    fn batch_delta_is_the_mean_of_per_synapse_deltas() {
        let (b, n_in, n_out) = (9, 5, 3);
        let pre = seq(b, n_in, 0.37);
        let post = seq(b, n_out, 0.91);
        let w = seq(n_out, n_in, 0.53);
        let ubar = Array1::from_shape_fn(n_in, |j| 0.1 * j as f32);
        let theta = Array1::from_shape_fn(n_out, |i| 0.2 + 0.1 * i as f32);
        for rule in Rule::ALL {
            let d = batch_delta(
                rule,
                pre.view(),
                post.view(),
                w.view(),
                ubar.view(),
                theta.view(),
            );
            for i in 0..n_out {
                for j in 0..n_in {
                    let mean = (0..b)
                        .map(|k| {
                            delta(
                                rule,
                                post[[k, i]],
                                pre[[k, j]],
                                w[[i, j]],
                                ubar[j],
                                theta[i],
                            )
                        })
                        .sum::<f32>()
                        / b as f32;
                    assert!(
                        (d[[i, j]] - mean).abs() < 1e-5,
                        "{rule:?} [{i},{j}]: {} vs {mean}",
                        d[[i, j]]
                    );
                }
            }
        }
    }

    #[test]
    fn clip_keeps_the_norm_at_most_w_max() {
        let mut w = [3.0, 4.0];
        assert_eq!(clip(&mut w, 5.0, 2.0), 2.0);
        assert!((w[0] - 1.2).abs() < 1e-6 && (w[1] - 1.6).abs() < 1e-6);
        assert_eq!(clip(&mut w, 2.0, 2.0), 2.0);
    }

    #[test]
    fn outer_product_of_bipolar_patterns_is_exact() {
        let v = Array2::from_shape_fn((3, 4), |(i, j)| if (i + j) % 3 == 0 { 1.0 } else { -1.0 });
        let m = outer_product_sum(v.view(), v.view());
        for i in 0..4 {
            assert_eq!(m[[i, i]], 3.0);
        }
        assert_eq!(m, m.t());
    }
}
