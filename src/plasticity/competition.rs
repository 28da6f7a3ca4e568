//! Competition among post-synaptic neurons and the Hebbian convolution update of the thesis (notes §1.2-1.15):
//! activations laid out [N, K, P] (sample, competing unit, position), competition over axis 1, then the
//! batch-summed instar Δw_k = Σ_{n,p} r·x − (Σ_{n,p} r·u)·w_k, the global max-abs normalisation per layer per
//! batch and the step w += lr·Δw.
//!
//! Channel layers compete over channels at each (n, p); depthwise layers compete over the positions of each
//! channel: [`delta`] hands the competition the [N, P, C] view of their maps, so every rule below serves both.
//!
//! Deliberate differences from the printed code (notes §9), each also noted where it happens:
//! - Temporal and statistical competition end with a hard top-1 that *replaces* y′ by its winner (as
//!   hebb_depthwise.py does, and as the text describes); hebb.py multiplies y′ by it again, squaring the
//!   winner's value: [`TopOne::Multiply`] keeps that.
//! - Depthwise temporal winners come from the current y against the history's threshold; the printed
//!   depthwise code returns `median > threshold`, a mask of the history that ignores the current batch.
//! - Statistical competition takes its similarity from the already padded input once (the printed code pads
//!   twice, which changes the sizes of padded layers).
use crate::lanes::{self, LANES};
use crate::nets::hebbconv::conv::{self, ConvSpec};
use ndarray::{Array1, Array3, Array4, ArrayView3, ArrayView4, Axis, Zip};
use rayon::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How the post-synaptic neurons of a layer compete before the update.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Competition {
    /// Grossberg's instar without competition: r = y, Δw = Σ y x − (Σ y) w (mode `basic`, notes §1.3).
    None,
    /// Activity-masked hard winner-take-all: r = y ⊙ 1[k = argmax_k y] (Eq 29, notes §1.4).
    HardWta,
    /// SoftHebb: r = ±softmax(t_inv·y), + for the argmax, − (anti-Hebbian) for every other unit; u = y
    /// (notes §1.5).
    SoftWta,
    /// Anti-hard: r = y for the winner and −y for every other unit; u = y (notes §1.6).
    AntiHard,
    /// BCM on top of hard-WTA: θ_k ← (1 − d)θ_k + d·mean(y_wta²) (updated before use), r = y_wta(y_wta − θ_k),
    /// no decay term (notes §1.7).
    Bcm,
    /// Temporal threshold: y′ = y ⊙ 1[y > mean_k median_history], then hard top-1 (notes §1.8).
    Temporal,
    /// Statistical threshold on sim = conv(x, w)/‖w_k‖: y′ = sim ⊙ 1[sim > mean_k + c·std_k], then hard
    /// top-1 (notes §1.9).
    Statistical,
}

impl Competition {
    pub const ALL: [Competition; 7] = [
        Competition::None,
        Competition::HardWta,
        Competition::SoftWta,
        Competition::AntiHard,
        Competition::Bcm,
        Competition::Temporal,
        Competition::Statistical,
    ];
}

/// The final top-1 of temporal and statistical competition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum TopOne {
    /// y′ ← y′ ⊙ 1[k = argmax y′]: the winner keeps its value (intended; hebb_depthwise.py).
    Replace,
    /// y′ ← y′ ⊙ (y′ ⊙ 1[k = argmax y′]): the winner's value squared (hebb.py as printed).
    Multiply,
}

/// A layer's competition settings (the thesis's values by default).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct CompetitionParams {
    pub mode: Competition,
    /// Soft-WTA's inverse temperature (1, 0.65, 0.25 for layers 1-3 of architecture A).
    pub t_inv: f32,
    /// BCM's θ decay d (0.5) and starting θ (1).
    pub bcm_decay: f32,
    pub bcm_theta0: f32,
    /// Temporal competition's history in samples (500).
    pub temporal_window: usize,
    /// Statistical competition's c in mean + c·std (2).
    pub stats_c: f32,
    pub top_one: TopOne,
}

impl CompetitionParams {
    pub fn new(mode: Competition) -> Self {
        Self {
            mode,
            t_inv: 1.0,
            bcm_decay: 0.5,
            bcm_theta0: 1.0,
            temporal_window: 500,
            stats_c: 2.0,
            top_one: TopOne::Replace,
        }
    }
}

/// What a layer's competition remembers between batches: BCM's thresholds θ_k and temporal competition's
/// history (the last `window` samples' [K, P] maps, oldest first).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompetitionState {
    pub theta: Option<Array1<f32>>,
    pub history: Vec<f32>,
    /// Samples held in `history`.
    pub history_len: usize,
}

/// Which term multiplies w_k in Δw_k = Σ r x − c_k w_k.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decay {
    /// c_k = Σ_{n,p} r (instar: u = 1).
    Sum,
    /// c_k = Σ_{n,p} r·y (SoftHebb and anti-hard: u = y).
    Weighted,
    /// c_k = 0 (BCM).
    Zero,
}

/// Index of the largest value of each (n, ·, p) over axis 1 (the first on ties, as torch.argmax).
fn argmax_axis1(y: &ArrayView3<f32>) -> ndarray::Array2<usize> {
    let (n, k, p) = y.dim();
    let mut out = ndarray::Array2::zeros((n, p));
    for b in 0..n {
        for q in 0..p {
            let mut best = 0;
            let mut bv = f32::NEG_INFINITY;
            for c in 0..k {
                let v = y[[b, c, q]];
                if v > bv || (c == 0) {
                    bv = v;
                    best = c;
                }
            }
            out[[b, q]] = best;
        }
    }
    out
}

/// One-hot winner mask over axis 1: M[n, k, p] = 1[k = argmax_k y[n, ·, p]] (`compute_wta_mask`, Eq 27).
pub fn hard_wta_mask(y: ArrayView3<f32>) -> Array3<f32> {
    let win = argmax_axis1(&y);
    Array3::from_shape_fn(y.dim(), |(b, c, q)| f32::from(u8::from(win[[b, q]] == c)))
}

/// Activity-masked hard-WTA: y ⊙ M (Eq 29).
pub fn hard_wta(y: ArrayView3<f32>) -> Array3<f32> {
    let mut r = hard_wta_mask(y);
    r.zip_mut_with(&y, |m, &v| *m *= v);
    r
}

/// SoftHebb's signed soft-WTA: s = softmax_k(t_inv·y) over axis 1, r = +s for the argmax and −s for every
/// other unit (L2331-2343). Samples in parallel, sixteen positions at a time on the CPU's widest vector unit.
pub fn soft_wta(y: ArrayView3<f32>, t_inv: f32) -> Array3<f32> {
    let (n, k, p) = y.dim();
    let y = y.as_standard_layout();
    let mut r = Array3::zeros((n, k, p));
    let per = (k * p).max(1);
    r.as_slice_mut()
        .expect("fresh")
        .par_chunks_mut(per)
        .zip(y.as_slice().expect("standard layout").par_chunks(per))
        .for_each(|(r, y)| soft_wta_sample(y, r, k, p, t_inv));
    r
}

/// [`soft_wta`] of one sample's [K, P] map (K rows of P), for each vector unit (see `lanes`).
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn soft_wta_sample(y: &[f32], r: &mut [f32], k: usize, p: usize, t_inv: f32) {
    let row = |c: usize| c * p..(c + 1) * p;
    for q in (0..p).step_by(LANES) {
        // The winner: the first of equal maxima, as torch.argmax.
        let mut best = lanes::load(&y[row(0)], q);
        let mut win = [0u32; LANES];
        for c in 1..k {
            let v = lanes::load(&y[row(c)], q);
            for i in 0..LANES {
                let gt = v[i] > best[i];
                best[i] = if gt { v[i] } else { best[i] };
                win[i] = if gt { c as u32 } else { win[i] };
            }
        }
        let m = best.map(|b| b * t_inv);
        let mut z = [0.0f32; LANES];
        for c in 0..k {
            let v = lanes::load(&y[row(c)], q);
            let mut e = [0.0f32; LANES];
            for i in 0..LANES {
                e[i] = lanes::exp(v[i] * t_inv - m[i]);
                z[i] += e[i];
            }
            lanes::store(&mut r[row(c)], q, &e);
        }
        for c in 0..k {
            let v = lanes::load(&r[row(c)], q);
            let mut out = [0.0f32; LANES];
            for i in 0..LANES {
                let s = v[i] / z[i];
                out[i] = if win[i] == c as u32 { s } else { -s };
            }
            lanes::store(&mut r[row(c)], q, &out);
        }
    }
}

/// Anti-hard-WTA: y ⊙ (+1 for the winner, −1 elsewhere) (L2347-2357).
pub fn anti_hard(y: ArrayView3<f32>) -> Array3<f32> {
    let mut r = hard_wta_mask(y);
    r.zip_mut_with(&y, |m, &v| *m = if *m > 0.0 { v } else { -v });
    r
}

/// BCM's threshold step and gated activity on [N, K, P] with K the channels: θ_k ← (1 − d)·θ_k +
/// d·mean_{n,p}(y_wta²), then r = y_wta ⊙ (y_wta − θ_k) with the new θ (L2209-2217).
pub fn bcm(y_wta: ArrayView3<f32>, theta: &mut Array1<f32>, decay: f32) -> Array3<f32> {
    let (n, k, p) = y_wta.dim();
    let count = (n * p).max(1) as f32;
    for c in 0..k {
        let ms = y_wta
            .index_axis(Axis(1), c)
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            / count;
        theta[c] = (1.0 - decay) * theta[c] + decay * ms;
    }
    let mut r = y_wta.to_owned();
    for (c, mut plane) in r.axis_iter_mut(Axis(1)).enumerate() {
        let t = theta[c];
        plane.mapv_inplace(|v| v * (v - t));
    }
    r
}

/// Hard top-1 over axis 1 of already thresholded activity, as `mode` says.
pub fn top_one(y: ArrayView3<f32>, mode: TopOne) -> Array3<f32> {
    let mut r = hard_wta(y);
    if mode == TopOne::Multiply {
        r.zip_mut_with(&y, |v, &o| *v *= o);
    }
    r
}

/// Temporal competition (L2222-2231, L2255-2277): appends the batch to the history (the last `window`
/// samples), takes the median of each (k, p) over the history (the lower median on even counts, as
/// torch.median), thresholds each position at τ_p = mean_k median_{k,p}, y′ = y ⊙ 1[y > τ_p], then top-1.
pub fn temporal(
    y: ArrayView3<f32>,
    state: &mut CompetitionState,
    window: usize,
    mode: TopOne,
) -> Array3<f32> {
    let (n, k, p) = y.dim();
    let per = k * p;
    let window = window.max(1);
    if state.history.len() != state.history_len * per {
        state.history.clear();
        state.history_len = 0;
    }
    for sample in y.outer_iter() {
        state.history.extend(sample.iter());
        state.history_len += 1;
    }
    if state.history_len > window {
        let drop = state.history_len - window;
        state.history.drain(..drop * per);
        state.history_len = window;
    }
    let h = state.history_len;
    let mut column = vec![0.0f32; h];
    let mut median = ndarray::Array2::<f32>::zeros((k, p));
    for (i, m) in median.iter_mut().enumerate() {
        for (t, v) in column.iter_mut().enumerate() {
            *v = state.history[t * per + i];
        }
        let mid = (h - 1) / 2;
        let (_, v, _) = column.select_nth_unstable_by(mid, f32::total_cmp);
        *m = *v;
    }
    let tau = median.mean_axis(Axis(0)).expect("k ≥ 1");
    let mut gated = y.to_owned();
    for mut img in gated.outer_iter_mut() {
        for (q, t) in tau.iter().enumerate() {
            img.column_mut(q)
                .mapv_inplace(|v| if v > *t { v } else { 0.0 });
        }
    }
    let _ = n;
    top_one(gated.view(), mode)
}

/// Statistical competition (L2233-2247): τ_{n,p} = mean_k sim + c·std_k sim, y′ = sim ⊙ 1[sim > τ], then
/// top-1. The std is torch.std's default, the unbiased one (÷ (K − 1)). Note that no value can exceed the
/// mean by more than (K − 1)/√K population stds, so with c = 2 fewer than 6 competitors never produce a winner.
pub fn statistical(sim: ArrayView3<f32>, c: f32, mode: TopOne) -> Array3<f32> {
    let (n, k, p) = sim.dim();
    let mut gated = sim.to_owned();
    for b in 0..n {
        for q in 0..p {
            let col = sim.slice(ndarray::s![b, .., q]);
            let mean = col.sum() / k as f32;
            let var =
                col.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / (k.max(2) - 1) as f32;
            let tau = mean + c * var.sqrt();
            gated
                .slice_mut(ndarray::s![b, .., q])
                .mapv_inplace(|v| if v > tau { v } else { 0.0 });
        }
    }
    top_one(gated.view(), mode)
}

/// The competition's post-synaptic factor r (same layout as y) and its decay term. `sim` is statistical
/// competition's conv(x, w)/‖w_k‖ (same layout), unused otherwise. BCM needs K to be the channels; [`delta`]
/// takes care of that for depthwise layers.
pub fn post_synaptic(
    params: &CompetitionParams,
    state: &mut CompetitionState,
    y: ArrayView3<f32>,
    sim: Option<ArrayView3<f32>>,
) -> (Array3<f32>, Decay) {
    match params.mode {
        Competition::None => (y.to_owned(), Decay::Sum),
        Competition::HardWta => (hard_wta(y), Decay::Sum),
        Competition::SoftWta => (soft_wta(y, params.t_inv), Decay::Weighted),
        Competition::AntiHard => (anti_hard(y), Decay::Weighted),
        Competition::Bcm => {
            let k = y.dim().1;
            let theta = state
                .theta
                .get_or_insert_with(|| Array1::from_elem(k, params.bcm_theta0));
            (
                bcm(hard_wta(y).view(), theta, params.bcm_decay),
                Decay::Zero,
            )
        }
        Competition::Temporal => (
            temporal(y, state, params.temporal_window, params.top_one),
            Decay::Sum,
        ),
        Competition::Statistical => (
            statistical(sim.unwrap_or(y), params.stats_c, params.top_one),
            Decay::Sum,
        ),
    }
}

/// c_k = Σ_{n,p} r (Decay::Sum) or Σ_{n,p} r·y (Decay::Weighted) over axis 1 of [N, K, P]; zeros for BCM.
pub fn decay_coefficients(r: ArrayView3<f32>, y: ArrayView3<f32>, decay: Decay) -> Array1<f32> {
    let k = r.dim().1;
    let mut c = Array1::zeros(k);
    match decay {
        Decay::Zero => {}
        Decay::Sum => {
            for (ch, plane) in r.axis_iter(Axis(1)).enumerate() {
                c[ch] = plane.sum();
            }
        }
        Decay::Weighted => {
            for ch in 0..k {
                let mut acc = 0.0f32;
                Zip::from(r.index_axis(Axis(1), ch))
                    .and(y.index_axis(Axis(1), ch))
                    .for_each(|&a, &b| acc += a * b);
                c[ch] = acc;
            }
        }
    }
    c
}

/// [N, K, P] viewed as [N, P, K].
fn perm(a: ArrayView3<'_, f32>) -> ArrayView3<'_, f32> {
    a.permuted_axes([0, 2, 1])
}

/// [N, K, H, W] as [N, K, H·W] (a view of a standard-layout array).
fn flat<'a>(y: &'a ArrayView4<'a, f32>) -> ArrayView3<'a, f32> {
    let (n, k, h, w) = y.dim();
    y.view()
        .into_shape_with_order((n, k, h * w))
        .expect("standard layout")
}

/// One layer's raw update (before normalisation): r from the competition, then Δw_k = Σ_{n,p} r·x −
/// c_k·w_k with the yx term from [`conv::correlate_padded`]. `x_padded` is the layer's reflect-padded input,
/// `y` its activation (after surround modulation when used), `sim` statistical competition's similarity
/// (same shape as y). Depthwise layers compete over the positions of each channel; BCM's θ stays per channel.
pub fn delta(
    params: &CompetitionParams,
    state: &mut CompetitionState,
    x_padded: ArrayView4<f32>,
    y: &Array4<f32>,
    sim: Option<&Array4<f32>>,
    w: ArrayView4<f32>,
    spec: &ConvSpec,
) -> Array4<f32> {
    // Fresh activations are already in standard layout: these borrow them.
    let y = y.as_standard_layout();
    let y = y.view();
    let sim = sim.map(|s| s.as_standard_layout());
    let sim = sim.as_ref().map(|s| s.view());
    let (n, k, h, wd) = y.dim();
    let y3 = flat(&y);
    let (r3, decay) = if spec.depthwise {
        // Competition over positions: the [N, P, C] view, then back; BCM's θ over channels afterwards.
        let sim3 = sim.as_ref().map(|s| perm(flat(s)));
        let mut local = *params;
        if params.mode == Competition::Bcm {
            local.mode = Competition::HardWta;
        }
        let (r, decay) = post_synaptic(&local, state, perm(y3), sim3);
        let r = r.permuted_axes([0, 2, 1]).as_standard_layout().into_owned();
        if params.mode == Competition::Bcm {
            let theta = state
                .theta
                .get_or_insert_with(|| Array1::from_elem(k, params.bcm_theta0));
            (bcm(r.view(), theta, params.bcm_decay), Decay::Zero)
        } else {
            (r, decay)
        }
    } else {
        post_synaptic(params, state, y3, sim.as_ref().map(flat))
    };
    let c = decay_coefficients(r3.view(), y3, decay);
    let r4 = r3.into_shape_with_order((n, k, h, wd)).expect("same count");
    let mut dw = conv::correlate_padded(x_padded, r4.view(), spec);
    for (ch, mut f) in dw.outer_iter_mut().enumerate() {
        let ck = c[ch];
        if ck != 0.0 {
            f.zip_mut_with(&w.index_axis(Axis(0), ch), |d, &wv| *d -= ck * wv);
        }
    }
    dw
}

/// The thesis's global max-abs normalisation of one layer's update per batch: Δw ← Δw/(max|Δw| + 1e-30), so
/// max|Δw| = 1 (or Δw = 0).
pub fn max_abs_normalise(dw: &mut Array4<f32>) {
    let m = dw.iter().fold(0.0f32, |a, v| a.max(v.abs()));
    let s = 1.0 / (m + 1e-30);
    dw.mapv_inplace(|v| v * s);
}

/// SoftHebb's per-neuron rates (L5333-5357): lr_k = lr0·(|‖w_k‖₂ − 1| + 1e-10)^power (power 0.5), shrinking as
/// each filter's norm approaches 1.
pub fn softhebb_rates(w: ArrayView4<f32>, lr0: f32, power: f32) -> Array1<f32> {
    w.outer_iter()
        .map(|f| {
            let norm = f.iter().map(|v| v * v).sum::<f32>().sqrt();
            lr0 * libm::powf((norm - 1.0).abs() + 1e-10, power)
        })
        .collect()
}

/// A learning rate for a whole layer or one per output neuron.
#[derive(Clone, Debug, PartialEq)]
pub enum Rates {
    Layer(f32),
    PerNeuron(Array1<f32>),
}

/// The step w += lr·Δw; with `dale`, w ← |w + lr·Δw| (hebb_abs_depthwise.py L3887-3891: LTP and LTD both
/// allowed, the absolute value keeps every weight excitatory).
pub fn apply(w: &mut Array4<f32>, dw: ArrayView4<f32>, rates: &Rates, dale: bool) {
    for (ch, (mut f, d)) in w.outer_iter_mut().zip(dw.outer_iter()).enumerate() {
        let lr = match rates {
            Rates::Layer(lr) => *lr,
            Rates::PerNeuron(r) => r[ch],
        };
        f.zip_mut_with(&d, |wv, &dv| {
            let v = *wv + lr * dv;
            *wv = if dale { v.abs() } else { v };
        });
    }
}

/// The normalisation of pre-synaptic couplings m = 1/(|w| + 1e-6) (Eqs 39-42).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreKind {
    /// m/(Σ m + 1e-6).
    Linear,
    /// e^m / Σ e^m (the default).
    Softmax,
    /// m/‖m‖₂.
    L2,
}

/// Over which weights pre-synaptic couplings compete (notes §1.11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PreDim {
    /// Across output channels (dim 0; the depthwise layer's choice).
    Output,
    /// Across input channels (dim 1; the variant the thesis found to work).
    Input,
    /// Across the k × k positions of each (out, in) pair.
    Spatial,
    /// Across all weights of the layer (hebb.py's `_global`).
    Global,
}

/// Effective weights of pre-synaptic competition (L2358-2445): m = 1/(|w| + 1e-6) normalised over `dim` as
/// `kind` says; replaces w in the forward pass. The softmax subtracts the group's maximum first (the same
/// value, without overflow for tiny weights).
pub fn presynaptic(w: ArrayView4<f32>, kind: PreKind, dim: PreDim) -> Array4<f32> {
    let m = w.mapv(|v| 1.0 / (v.abs() + 1e-6));
    let (ko, ci, kh, kw) = w.dim();
    let mut out = Array4::zeros(w.dim());
    // Every group is a list of flat indices into the [ko, ci, kh, kw] tensor.
    let idx = |o: usize, c: usize, i: usize, j: usize| ((o * ci + c) * kh + i) * kw + j;
    let groups: Vec<Vec<usize>> = match dim {
        PreDim::Output => (0..ci * kh * kw)
            .map(|r| {
                let (c, i, j) = (r / (kh * kw), (r / kw) % kh, r % kw);
                (0..ko).map(|o| idx(o, c, i, j)).collect()
            })
            .collect(),
        PreDim::Input => (0..ko * kh * kw)
            .map(|r| {
                let (o, i, j) = (r / (kh * kw), (r / kw) % kh, r % kw);
                (0..ci).map(|c| idx(o, c, i, j)).collect()
            })
            .collect(),
        PreDim::Spatial => (0..ko * ci)
            .map(|r| (0..kh * kw).map(|q| r * kh * kw + q).collect())
            .collect(),
        PreDim::Global => vec![(0..ko * ci * kh * kw).collect()],
    };
    let ms = m.as_slice().expect("fresh");
    let os = out.as_slice_mut().expect("fresh");
    for g in groups {
        match kind {
            PreKind::Linear => {
                let s: f32 = g.iter().map(|&i| ms[i]).sum();
                g.iter().for_each(|&i| os[i] = ms[i] / (s + 1e-6));
            }
            PreKind::L2 => {
                let s: f32 = g.iter().map(|&i| ms[i] * ms[i]).sum::<f32>().sqrt();
                g.iter().for_each(|&i| os[i] = ms[i] / s.max(1e-12));
            }
            PreKind::Softmax => {
                let mx = g.iter().fold(f32::NEG_INFINITY, |a, &i| a.max(ms[i]));
                let s: f32 = g.iter().map(|&i| libm::expf(ms[i] - mx)).sum();
                g.iter().for_each(|&i| os[i] = libm::expf(ms[i] - mx) / s);
            }
        }
    }
    out
}
