//! Hopfield networks (lectures 004 §2, exercise 002): the types a user of recall sees (state kinds, dynamics,
//! the rule on the threshold, outcomes, recall parameters), storage rules, energy, fields and overlaps,
//! single-unit updates for the worked examples, a traced recall for raster and energy plots, and capacity sweeps
//! over (P, q(0)). Batched recall itself (CPU twin, GPU kernel, dispatcher) is `kernels::recall`.
//!
//! Conventions:
//! - Patterns are bipolar, P × N of ±1. States are binary (0/1) or bipolar (±1), see [`StateKind`].
//! - Energy E = −½ sᵀ W s + U Σ_i s_i of the state as given (binary states: the binary vector, as in 004 §2-2),
//!   summed in f64; U is the threshold (0 unless chosen). With a zero diagonal, changing unit i by Δs changes E
//!   by −Δs · (h_i − U) (h = W s): 2 s_i h_i for a bipolar flip at U = 0. The sign rule only moves a unit the
//!   way its field points, so asynchronous updates never raise E.
//! - Overlap q_m = s · ξ^m / N with s taken bipolar (2s − 1 for binary states).
//! - Random numbers: `Purpose::Hopfield`, one stream group per use (`kernels::recall::Stream`).
use crate::engine::Engine;
use crate::error::{Error, FieldError, Result};
use crate::kernels::recall::{
    self as kernel, Event, MAX_PROBES, MAX_SWEEPS, MAX_UNITS, Networks, Stream,
};
use crate::rng;
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, ArrayViewMut1, Axis, s};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// What a unit's two states are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum StateKind {
    /// 0 / 1 (the second lecture's worked examples); fields use the binary state.
    Binary,
    /// −1 / +1.
    Bipolar,
}

impl StateKind {
    /// The "off" state: 0 or −1 ("on" is 1 for both).
    pub fn low(self) -> f32 {
        match self {
            Self::Binary => 0.0,
            Self::Bipolar => -1.0,
        }
    }

    /// A bipolar value (±1) in this kind.
    pub fn from_bipolar(self, x: f32) -> f32 {
        match self {
            Self::Binary => (x + 1.0) / 2.0,
            Self::Bipolar => x,
        }
    }

    /// A state of this kind as bipolar (2s − 1 for binary states).
    pub fn to_bipolar(self, s: f32) -> f32 {
        match self {
            Self::Binary => 2.0 * s - 1.0,
            Self::Bipolar => s,
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::Binary => "binary states are 0 or 1",
            Self::Bipolar => "bipolar states are −1 or +1",
        }
    }
}

/// How units are updated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Dynamics {
    /// All units at once from the same old state (the first lecture's exercise).
    Synchronous,
    /// One unit at a time, in a fresh seeded random order every sweep (the second lecture, Hopfield 1982).
    Asynchronous,
}

/// What a unit does when its field equals the threshold exactly (h_i = U_i; with U = 0, a zero field). The
/// lectures differ: the first defines sgn(0) = +1, while the second one's code leaves the unit as it was.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Tie {
    /// The unit keeps its state (the second lecture's code). Only this makes "flip iff ΔE < 0" exact.
    #[default]
    Keep,
    /// The unit goes high, +1 (or 1 for binary states): the first lecture's sgn(z) = +1 for z ≥ 0. Such a flip
    /// has ΔE = 0, and a unit with no input at all (row 4 of the five-neuron example) is pushed up.
    Up,
}

/// How a probe's recall ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A sweep changed nothing.
    FixedPoint = 1,
    /// Synchronous only: the state returned to the one two sweeps before, and would alternate forever.
    Cycle2 = 2,
    /// Still changing after the last allowed sweep.
    MaxSweeps = 3,
}

impl Outcome {
    /// The code the recall kernel writes while a probe is still running (0: the zero-filled start).
    pub const RUNNING: u32 = 0;
    /// Every outcome with its WGSL constant (the discriminant is the code the recall kernel writes).
    pub const ALL: [(Outcome, &'static str); 3] = [
        (Outcome::FixedPoint, "OUTCOME_FIXED"),
        (Outcome::Cycle2, "OUTCOME_CYCLE"),
        (Outcome::MaxSweeps, "OUTCOME_MAX"),
    ];

    /// The outcome a kernel's code stands for; None for a running probe or a code no kernel writes.
    pub fn from_code(code: u32) -> Option<Self> {
        Self::ALL
            .iter()
            .find(|(o, _)| *o as u32 == code)
            .map(|(o, _)| *o)
    }
}

/// How to recall.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecallParams {
    pub kind: StateKind,
    pub dynamics: Dynamics,
    /// Sweeps at most (1 to 10 000); a sweep is one update of every unit.
    pub max_sweeps: u32,
    /// Seed of the asynchronous visiting orders.
    pub seed: u32,
    /// The threshold U_i = U of every unit (004 §2-1; 0 by default): high above it, low below it.
    #[serde(default)]
    pub threshold: f32,
    /// What a unit with h_i = U does.
    #[serde(default)]
    pub tie: Tie,
}

impl RecallParams {
    /// Threshold 0, ties kept (what every recall did before the threshold and the tie rule were parameters).
    pub fn new(kind: StateKind, dynamics: Dynamics, max_sweeps: u32, seed: u32) -> Self {
        Self {
            kind,
            dynamics,
            max_sweeps,
            seed,
            threshold: 0.0,
            tie: Tie::Keep,
        }
    }
}

/// The most patterns stored in one network.
pub const MAX_PATTERNS: usize = 4096;
/// A capacity sweep recalls its probes in batches with at most this many bytes of weight matrices (half the
/// portable 128 MiB storage binding) and at most `BATCH_STATE_VALUES` probe units: bounded memory in the
/// browser, and many networks per GPU dispatch.
const BATCH_WEIGHT_BYTES: usize = 64 << 20;
const BATCH_STATE_VALUES: usize = 4 << 20;
/// The most a batch holds: its weight matrices, and its probes with their states and results.
pub const BATCH_BYTES: usize = BATCH_WEIGHT_BYTES + 3 * 4 * BATCH_STATE_VALUES;

/// How patterns become weights. Every rule gives a symmetric W with a zero diagonal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Storage {
    // Sources: 004 §2-1, 002 eq. 2.
    /// Hebb's outer-product rule w_ij = Σ_p ξ_i^p ξ_j^p, w_ii = 0: integer weights.
    Hebb,
    // Source: 004 §2-7, `7.Hopfield(hebbian).py`.
    /// The same divided by N: the same dynamics, energies divided by N.
    HebbNormalised,
    // 002 eq. 3–4, as written. Not 004's listing's `pinv` of `x @ pinv(x) / m` (notes §2-9).
    /// M = Σ_{m,m'} ξ^m C_{mm'} ξ^{m'}ᵀ with C the inverse of the P × P overlap matrix Σ_a ξ_a^m ξ_a^{m'}
    /// (no 1/N, so M ξ = ξ: M projects onto the patterns' span; the 1/N convention would make it N times
    /// larger, with the same dynamics), then the diagonal zeroed. Needs linearly independent patterns, so P ≤ N.
    PseudoInverse,
    /// Storkey 1997: w^p_ij = w^{p−1}_ij + (ξ_i ξ_j − ξ_i h_ji − h_ij ξ_j) / N with h_ij = Σ_{k≠i,j} w^{p−1}_ik ξ_k,
    /// patterns one after another, every pair updated symmetrically, w_ii = 0.
    // Not 004's listing's random pair sampling with batch sums (notes, code defect 5).
    Storkey,
}

/// The weights that store `patterns` (P × N, ±1) by `storage`. Refuses patterns that the pseudo-inverse rule
/// cannot invert (a repeat, a negation, or any linear combination of earlier patterns).
pub fn weights(patterns: ArrayView2<'_, f32>, storage: Storage) -> Result<Array2<f32>> {
    check_patterns(patterns)?;
    let mut learner = Learner::new(storage, patterns.ncols());
    learner.add(patterns)?;
    Ok(learner.weights())
}

fn check_patterns(patterns: ArrayView2<'_, f32>) -> Result<()> {
    let (p, n) = patterns.dim();
    let mut errors = Vec::new();
    if !(1..=MAX_PATTERNS).contains(&p) {
        errors.push(FieldError::new(
            "patterns",
            format!("{p} patterns; store 1 to {MAX_PATTERNS}"),
        ));
    }
    if !(1..=MAX_UNITS).contains(&n) {
        errors.push(FieldError::new(
            "n",
            format!("{n} units per pattern; use 1 to {MAX_UNITS}"),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    kernel::check_states(patterns, n, StateKind::Bipolar, "pattern")
}

/// Weights grown pattern by pattern in f64: how `weights` works, and how a capacity sweep goes from one P to
/// the next without starting over. `w` is the full symmetric matrix; for the Hebbian rules its diagonal counts
/// the patterns and for the pseudo-inverse rule it is the projector's: only the weights handed out drop it.
struct Learner {
    storage: Storage,
    n: usize,
    w: Array2<f64>,
    stored: usize,
}

impl Learner {
    fn new(storage: Storage, n: usize) -> Self {
        Self {
            storage,
            n,
            w: Array2::zeros((n, n)),
            stored: 0,
        }
    }

    /// Stores the rows of `patterns` (checked ±1), in order.
    fn add(&mut self, patterns: ArrayView2<'_, f32>) -> Result<()> {
        match self.storage {
            // Hebb's outer-product storage for the whole block, Ξᵀ Ξ, through the plasticity module's one matrix
            // product: sums of ±1 products are integers (at most MAX_PATTERNS), exact in f32 and in any order.
            Storage::Hebb | Storage::HebbNormalised => {
                let sum = crate::plasticity::outer_product_sum(patterns, patterns);
                self.w.zip_mut_with(&sum, |w, &s| *w += f64::from(s));
                self.stored += patterns.nrows();
            }
            Storage::Storkey | Storage::PseudoInverse => {
                let x = patterns.mapv(f64::from);
                for row in x.rows() {
                    let row = row
                        .as_slice()
                        .expect("an owned array's rows are contiguous");
                    if self.storage == Storage::Storkey {
                        self.add_storkey(row);
                    } else {
                        self.add_projection(row)?;
                    }
                    self.stored += 1;
                }
            }
        }
        Ok(())
    }

    fn add_storkey(&mut self, x: &[f64]) {
        let n = self.n;
        let h = self.w.dot(&ArrayView1::from(x));
        let w = self
            .w
            .as_slice_mut()
            .expect("an owned matrix is contiguous");
        for i in 0..n {
            for j in i + 1..n {
                // Σ_{k≠i,j} w_ik ξ_k = h_i − w_ij ξ_j because w_ii = 0; likewise h_ji (w is symmetric).
                let h_ij = h[i] - w[i * n + j] * x[j];
                let h_ji = h[j] - w[i * n + j] * x[i];
                let updated = w[i * n + j] + (x[i] * x[j] - x[i] * h_ji - h_ij * x[j]) / n as f64;
                w[i * n + j] = updated;
                w[j * n + i] = updated;
            }
        }
    }

    /// The pseudo-inverse rule one pattern at a time: r = ξ − M ξ, the part of ξ outside the span of the
    /// patterns so far, taken twice (the second pass removes what rounding left of the span); then
    /// M + r rᵀ / rᵀr projects onto the span with ξ. This is Gram–Schmidt, equal to Ξᵀ (Ξ Ξᵀ)⁻¹ Ξ without
    /// forming the inverse, and a vanishing r is exactly a singular overlap matrix.
    fn add_projection(&mut self, x: &[f64]) -> Result<()> {
        let x = ArrayView1::from(x);
        let mut r = &x - &self.w.dot(&x);
        r = &r - &self.w.dot(&r);
        let rr = r.dot(&r);
        // |ξ|² = N; a residual this small is rounding, not a direction of its own.
        if rr <= 1e-10 * self.n as f64 {
            return Err(Error::Data(format!(
                "the pseudo-inverse rule needs linearly independent patterns, but pattern {} is a linear \
                 combination of the patterns before it (a repeat or a negation, for instance): the overlap \
                 matrix Σ_a v_a^m v_a^m' is singular",
                self.stored
            )));
        }
        for (i, mut row) in self.w.rows_mut().into_iter().enumerate() {
            row.zip_mut_with(&r, |w, rj| *w += r[i] * rj / rr);
        }
        Ok(())
    }

    fn weights(&self) -> Array2<f32> {
        let scale = match self.storage {
            Storage::HebbNormalised => self.n as f64,
            _ => 1.0,
        };
        let mut w = self.w.mapv(|v| (v / scale) as f32);
        w.diag_mut().fill(0.0);
        w
    }
}

fn check_square(w: ArrayView2<'_, f32>, s: ArrayView1<'_, f32>) {
    assert!(
        w.nrows() == s.len() && w.ncols() == s.len(),
        "a {:?} weight matrix cannot act on {} units",
        w.dim(),
        s.len()
    );
}

fn unit_field(w: ArrayView2<'_, f32>, s: ArrayView1<'_, f32>, i: usize) -> f64 {
    w.row(i)
        .iter()
        .zip(s)
        .map(|(w, s)| f64::from(*w) * f64::from(*s))
        .sum()
}

/// The fields h = W s, summed in f64 (exact for integer weights). Panics if the shapes disagree.
pub fn field(w: ArrayView2<'_, f32>, s: ArrayView1<'_, f32>) -> Array1<f64> {
    check_square(w, s);
    (0..s.len()).map(|i| unit_field(w, s, i)).collect()
}

/// E = −½ sᵀ W s, summed in f64. Panics if the shapes disagree.
pub fn energy(w: ArrayView2<'_, f32>, s: ArrayView1<'_, f32>) -> f64 {
    energy_with_threshold(w, s, 0.0)
}

/// E = −½ sᵀ W s + U Σ_i s_i (every unit with threshold U), summed in f64. Panics if the shapes disagree.
pub fn energy_with_threshold(
    w: ArrayView2<'_, f32>,
    s: ArrayView1<'_, f32>,
    threshold: f32,
) -> f64 {
    let e = -0.5
        * field(w, s)
            .iter()
            .zip(s)
            .map(|(h, s)| h * f64::from(*s))
            .sum::<f64>();
    // Without a threshold, exactly the energy as computed before U existed (−0.0 stays −0.0).
    if threshold == 0.0 {
        e
    } else {
        e + f64::from(threshold) * s.iter().map(|&v| f64::from(v)).sum::<f64>()
    }
}

/// The overlaps q_m = s · ξ^m / N of state `s` (of `kind`) with every pattern (rows of `patterns`, ±1).
/// Panics if the lengths disagree.
pub fn overlaps(
    patterns: ArrayView2<'_, f32>,
    s: ArrayView1<'_, f32>,
    kind: StateKind,
) -> Array1<f32> {
    assert_eq!(
        patterns.ncols(),
        s.len(),
        "patterns and state differ in length"
    );
    let n = s.len() as f64;
    patterns
        .rows()
        .into_iter()
        .map(|p| {
            let dot: f64 = p
                .iter()
                .zip(s)
                .map(|(x, s)| f64::from(x * kind.to_bipolar(*s)))
                .sum();
            (dot / n) as f32
        })
        .collect()
}

/// How E would change if unit i flipped: −(s_i' − s_i) h_i, which is 2 s_i h_i for bipolar states (with a zero
/// diagonal). Panics if the shapes disagree or i is out of range.
pub fn flip_delta_energy(
    w: ArrayView2<'_, f32>,
    s: ArrayView1<'_, f32>,
    i: usize,
    kind: StateKind,
) -> f64 {
    check_square(w, s);
    flip_energy(s[i], kind, unit_field(w, s, i))
}

/// ΔE of flipping a unit in state `s` with field `h` minus its threshold.
fn flip_energy(s: f32, kind: StateKind, h: f64) -> f64 {
    let flipped = if s == 1.0 { kind.low() } else { 1.0 };
    -f64::from(flipped - s) * h
}

/// One asynchronous update, as a step of the worked examples shows it.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct UnitUpdate {
    pub unit: usize,
    /// h_i before the update.
    pub field: f64,
    /// Whether the sign rule changed the unit: ΔE < 0, or ΔE = 0 on a tie with [`Tie::Up`] (with
    /// [`Tie::Keep`] a field equal to the threshold keeps the unit).
    pub flipped: bool,
    /// What flipping the unit does to E, whether or not it flipped: negative for a flip, ≥ 0 for a unit kept
    /// (the lectures' "flip if ΔE < 0").
    pub delta_energy: f64,
}

/// Updates unit i of `s` by the sign rule (threshold 0, ties kept), with the field summed in f64.
/// Panics if the shapes disagree or i is out of range.
pub fn update_unit(
    w: ArrayView2<'_, f32>,
    mut s: ArrayViewMut1<'_, f32>,
    i: usize,
    kind: StateKind,
) -> UnitUpdate {
    check_square(w, s.view());
    let h = unit_field(w, s.view(), i);
    let before = s[i];
    let delta_energy = flip_energy(before, kind, h);
    s[i] = if h > 0.0 {
        1.0
    } else if h < 0.0 {
        kind.low()
    } else {
        before
    };
    UnitUpdate {
        unit: i,
        field: h,
        flipped: s[i] != before,
        delta_energy,
    }
}

fn check_q0(q0: f32, path: &str) -> Result<()> {
    if !(-1.0..=1.0).contains(&q0) {
        return Err(Error::Invalid(vec![FieldError::new(
            path,
            format!("q(0) is {q0}; an overlap lies in [−1, 1]"),
        )]));
    }
    Ok(())
}

fn check_index(index: u32) -> Result<()> {
    if index as usize >= MAX_PROBES {
        return Err(Error::Invalid(vec![FieldError::new(
            "index",
            format!("{index}; stream indices are 0 to {}", MAX_PROBES - 1),
        )]));
    }
    Ok(())
}

/// How many units a probe with overlap q0 flips: round((1 − q0) / 2 · N), so its overlap is 1 − 2k/N, the
/// nearest that N units allow.
pub fn flips_for_overlap(n: usize, q0: f32) -> usize {
    ((1.0 - f64::from(q0)) / 2.0 * n as f64).round() as usize
}

/// `pattern` (±1) with exactly `flips_for_overlap(N, q0)` distinct units flipped, chosen by a partial
/// Fisher–Yates shuffle from stream (seed, Hopfield, Probe, index): draw m from counter [m / 4, 0, 0, 0],
/// word m % 4.
pub fn probe_with_overlap(
    pattern: ArrayView1<'_, f32>,
    q0: f32,
    seed: u32,
    index: u32,
) -> Result<Array1<f32>> {
    check_q0(q0, "q0")?;
    check_index(index)?;
    let n = pattern.len();
    if n == 0 {
        return Err(Error::Data("the pattern has no units".into()));
    }
    kernel::check_states(
        pattern.insert_axis(Axis(0)),
        n,
        StateKind::Bipolar,
        "pattern",
    )?;
    let key = kernel::key(seed, Stream::Probe, index);
    let mut units: Vec<usize> = (0..n).collect();
    let mut x = [0u32; 4];
    let k = flips_for_overlap(n, q0);
    for m in 0..k {
        if m % 4 == 0 {
            x = rng::philox4x32([(m / 4) as u32, 0, 0, 0], key);
        }
        let j = m + kernel::below(x[m % 4], (n - m) as u32) as usize;
        units.swap(m, j);
    }
    let mut probe = pattern.to_owned();
    for &u in &units[..k] {
        probe[u] = -probe[u];
    }
    Ok(probe)
}

/// P random patterns of N units, each unit +1 or −1 with probability ½: unit i of pattern k is the top bit of
/// word i % 4 of Philox counter [k, i / 4, 0, 0] on stream (seed, Hopfield, Patterns, index).
pub fn random_patterns(p: usize, n: usize, seed: u32, index: u32) -> Result<Array2<f32>> {
    check_index(index)?;
    let mut errors = Vec::new();
    if !(1..=MAX_PATTERNS).contains(&p) {
        errors.push(FieldError::new(
            "p",
            format!("{p} patterns; use 1 to {MAX_PATTERNS}"),
        ));
    }
    if !(1..=MAX_UNITS).contains(&n) {
        errors.push(FieldError::new(
            "n",
            format!("{n} units; use 1 to {MAX_UNITS}"),
        ));
    }
    if !errors.is_empty() {
        return Err(Error::Invalid(errors));
    }
    let key = kernel::key(seed, Stream::Patterns, index);
    Ok(Array2::from_shape_fn((p, n), |(k, i)| {
        let x = rng::philox4x32([k as u32, (i / 4) as u32, 0, 0], key)[i % 4];
        if x >> 31 == 1 { 1.0 } else { -1.0 }
    }))
}

/// One probe's recall, step by step, for the raster, overlap and energy plots.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    /// (sweeps_used + 1) × N: the probe, then the state after every sweep.
    pub states: Array2<f32>,
    /// E of the probe, then after every single-unit update (asynchronous: N per sweep) or after every sweep
    /// (synchronous). Asynchronous energies add each flip's ΔE (from the recall's own f32 field) to E(probe).
    pub energy: Vec<f64>,
    /// (sweeps_used + 1) × P: the overlap of every row of `states` with every pattern.
    pub overlaps: Array2<f32>,
    /// Every single-unit update in the order made, N per sweep (asynchronous: in the sweep's random order;
    /// synchronous: units 0 … N−1, each from the sweep's old state, so their ΔE do not add up).
    pub updates: Vec<UnitUpdate>,
    pub sweeps_used: u32,
    pub outcome: Outcome,
}

/// Recalls one probe (of `params.kind`) as `kernels::recall::recall_cpu` does with stream index `index` (the
/// same states and sweeps as probe `index` of a batch), recording every step. `patterns` (±1, any number of
/// rows) are the memories the overlaps are taken with.
pub fn recall_trace(
    w: ArrayView2<'_, f32>,
    probe: ArrayView1<'_, f32>,
    patterns: ArrayView2<'_, f32>,
    params: &RecallParams,
    index: u32,
) -> Result<Trace> {
    check_index(index)?;
    trace(w, probe, patterns, params, index, None)
}

/// Recalls one probe asynchronously with every sweep visiting the units in `order` (a permutation of 0..N, e.g.
/// the lectures' [1, 3, 5, 2, 4] written 0-based), recording every step as [`recall_trace`] does.
/// `params.dynamics` must be asynchronous (a synchronous sweep has no order) and `params.seed` is unused.
pub fn recall_trace_in_order(
    w: ArrayView2<'_, f32>,
    probe: ArrayView1<'_, f32>,
    patterns: ArrayView2<'_, f32>,
    params: &RecallParams,
    order: &[usize],
) -> Result<Trace> {
    if params.dynamics != Dynamics::Asynchronous {
        return Err(Error::Invalid(vec![FieldError::new(
            "dynamics",
            "a fixed visiting order needs asynchronous updates (a synchronous sweep updates every unit at once)",
        )]));
    }
    let n = w.nrows();
    let mut seen = vec![false; n];
    let ok = order.len() == n
        && order
            .iter()
            .all(|&i| i < n && !std::mem::replace(&mut seen[i], true));
    if !ok {
        return Err(Error::Invalid(vec![FieldError::new(
            "order",
            format!(
                "the visiting order {:?} must name each of the {n} units once",
                order.iter().map(|i| i + 1).collect::<Vec<_>>()
            ),
        )]));
    }
    let order: Vec<u32> = order.iter().map(|&i| i as u32).collect();
    trace(w, probe, patterns, params, 0, Some(&order))
}

fn trace(
    w: ArrayView2<'_, f32>,
    probe: ArrayView1<'_, f32>,
    patterns: ArrayView2<'_, f32>,
    params: &RecallParams,
    index: u32,
    order: Option<&[u32]>,
) -> Result<Trace> {
    let n = kernel::check_weights(w)?;
    kernel::check_params(params)?;
    kernel::check_states(probe.insert_axis(Axis(0)), n, params.kind, "probe")?;
    kernel::check_states(patterns, n, StateKind::Bipolar, "pattern")?;
    let nets = Networks::single(w);
    let mut s = probe.to_vec();
    let mut states = s.clone();
    let mut energies = vec![energy_with_threshold(w, probe, params.threshold)];
    let mut updates = Vec::new();
    let asynchronous = params.dynamics == Dynamics::Asynchronous;
    let u = f64::from(params.threshold);
    let (sweeps_used, outcome) = kernel::relax(
        nets.transposed(0),
        &mut s,
        params,
        index,
        order,
        &mut |event| match event {
            Event::Update {
                unit,
                field,
                before,
                after,
            } => {
                let delta_energy = flip_energy(before, params.kind, f64::from(field) - u);
                let flipped = after != before;
                updates.push(UnitUpdate {
                    unit,
                    field: f64::from(field),
                    flipped,
                    delta_energy,
                });
                if asynchronous {
                    let last = energies[energies.len() - 1];
                    energies.push(if flipped { last + delta_energy } else { last });
                }
            }
            Event::Swept(state) => {
                states.extend_from_slice(state);
                if !asynchronous {
                    energies.push(energy_with_threshold(
                        w,
                        ArrayView1::from(state),
                        params.threshold,
                    ));
                }
            }
        },
    );
    let states = Array2::from_shape_vec((sweeps_used as usize + 1, n), states)
        .expect("one row per sweep and the probe");
    let mut overlap = Array2::zeros((states.nrows(), patterns.nrows()));
    for (mut row, state) in overlap.rows_mut().into_iter().zip(states.rows()) {
        row.assign(&overlaps(patterns, state, params.kind));
    }
    Ok(Trace {
        states,
        energy: energies,
        overlaps: overlap,
        updates,
        sweeps_used,
        outcome,
    })
}

/// The theory lines of a capacity plot for N units (TC-16). Meaningful for N ≥ 2 (ln 1 = 0).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CapacityBounds {
    /// 0.138 N: Hebb with a few per cent of recall errors allowed, the asymptotic value for large N (Amit,
    /// Gutfreund & Sompolinsky 1985); 004 §2-7 quotes it rounded, as 0.14 N.
    pub hebb_with_errors: f64,
    /// N / (2 ln N): Hebb with one given pattern a fixed point, recalled exactly with probability → 1 (Amit &
    /// Gutfreund 1986, 004 §2-7; McEliece et al. 1987).
    pub hebb_exact: f64,
    /// N / (4 ln N): Hebb with all P patterns fixed points at once (McEliece et al. 1987): the stricter bound.
    pub hebb_exact_all: f64,
    /// N / √(2 ln N): Storkey's rule (Storkey 1997).
    pub storkey: f64,
    /// N: the pseudo-inverse rule (patterns must be linearly independent).
    pub pseudo_inverse: f64,
}

pub fn capacity_bounds(n: usize) -> CapacityBounds {
    let n = n as f64;
    let two_ln = 2.0 * libm::log(n);
    CapacityBounds {
        hebb_with_errors: 0.138 * n,
        hebb_exact: n / two_ln,
        hebb_exact_all: n / (2.0 * two_ln),
        storkey: n / libm::sqrt(two_ln),
        pseudo_inverse: n,
    }
}

/// A capacity sweep: for every trial, P_max random patterns; for every P, the network storing the first P of
/// them; for every q(0), a probe of the target pattern (pattern trial mod P) with that overlap, recalled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    /// Units.
    pub n: usize,
    pub storage: Storage,
    /// Numbers of stored patterns, strictly increasing (each network grows from the one before).
    pub p_values: Vec<usize>,
    /// Overlaps q(0) of the probes with their target, each in [−1, 1] (realised as 1 − 2k/N).
    pub q0_values: Vec<f32>,
    /// The trials to run, by number: trial t stores its own pattern set and probes each network once per q(0).
    /// A sweep can be run in parts (trials 0..4, then 4..10) whose merged results equal the whole's exactly.
    pub trials: Range<usize>,
    pub dynamics: Dynamics,
    pub max_sweeps: u32,
    pub seed: u32,
    /// What a unit on a zero field does (the threshold is 0 in a sweep).
    #[serde(default)]
    pub tie: Tie,
}

/// The final overlaps from which a probe counts as retrieved, as exact fractions (numerator, denominator): the
/// retrieval rate of Takasaki 2007 (cited in 004 §2-7) uses 0.95 and 0.90.
pub const RETRIEVAL_THRESHOLDS: [(i64, i64); 2] = [(19, 20), (9, 10)];

/// The result of a capacity sweep: rows follow `p_values`, columns `q0_values`. The tallies are integers so that
/// the parts of a sweep merge into exactly the numbers of the whole.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// Units.
    pub n: usize,
    /// The overlaps the probes really had, 1 − 2 round((1 − q0) N / 2) / N, per q(0).
    pub realised_q0: Vec<f32>,
    /// Trials tallied.
    pub trials: usize,
    /// Sum over the trials of N × the final overlap with the target (agreeing minus disagreeing units).
    pub overlap_sum: Array2<i64>,
    /// Sum over the trials of its square (N² q²), for the spread of the final overlaps.
    pub overlap_sq_sum: Array2<i64>,
    /// Trials that ended exactly on the target (final overlap 1).
    pub exact_count: Array2<u32>,
    /// Trials whose final overlap with the target reached each of [`RETRIEVAL_THRESHOLDS`] (0.95, 0.90).
    pub retrieved_count: [Array2<u32>; 2],
    /// Set when the GPU failed and the sweep went on on the CPU, or when a network was too large for it.
    pub notice: Option<String>,
}

impl Sweep {
    /// Mean final overlap with the target over the trials.
    pub fn mean_overlap(&self) -> Array2<f32> {
        let per = (self.n * self.trials) as f64;
        self.overlap_sum.mapv(|s| (s as f64 / per) as f32)
    }

    /// Standard error of [`Self::mean_overlap`]: the trials' sample standard deviation over √trials (0 for one
    /// trial, where there is no spread to measure).
    pub fn overlap_std_err(&self) -> Array2<f32> {
        let (n, t) = (self.n as f64, self.trials as f64);
        let mut se = Array2::zeros(self.overlap_sum.dim());
        if self.trials < 2 {
            return se;
        }
        ndarray::Zip::from(&mut se)
            .and(&self.overlap_sum)
            .and(&self.overlap_sq_sum)
            .for_each(|e, &s, &sq| {
                // Integer sums: Σx² − (Σx)²/T exactly as far as f64 holds them (N² T ≤ 2⁴⁰ here).
                let (s, sq) = (s as f64, sq as f64);
                let var = ((sq - s * s / t) / (t - 1.0)).max(0.0) / (n * n);
                *e = (var / t).sqrt() as f32;
            });
        se
    }

    /// Standard error of a fraction of the trials (the mean of a 0/1 outcome): √(f (1 − f) / (T − 1)), the
    /// sample standard deviation over √T (0 for one trial).
    pub fn fraction_std_err(&self, fraction: &Array2<f32>) -> Array2<f32> {
        let t = self.trials as f64;
        fraction.mapv(|f| {
            if self.trials < 2 {
                return 0.0;
            }
            let f = f64::from(f);
            ((f * (1.0 - f)).max(0.0) / (t - 1.0)).sqrt() as f32
        })
    }

    /// Fraction of trials that ended exactly on the target.
    pub fn exact_fraction(&self) -> Array2<f32> {
        let per = self.trials as f64;
        self.exact_count.mapv(|c| (f64::from(c) / per) as f32)
    }

    /// Fraction of trials whose final overlap reached threshold k of [`RETRIEVAL_THRESHOLDS`]: the retrieval
    /// rate.
    pub fn retrieval_rate(&self, k: usize) -> Array2<f32> {
        let per = self.trials as f64;
        self.retrieved_count[k].mapv(|c| (f64::from(c) / per) as f32)
    }

    /// Adds the trials of another part of the same sweep (same N, P and q(0) values).
    pub fn merge(&mut self, other: Sweep) -> Result<()> {
        if other.n != self.n || other.overlap_sum.dim() != self.overlap_sum.dim() {
            return Err(Error::Data(format!(
                "cannot merge a sweep of N = {} with {} P × {} q(0) into one of N = {} with {} × {}",
                other.n,
                other.overlap_sum.nrows(),
                other.overlap_sum.ncols(),
                self.n,
                self.overlap_sum.nrows(),
                self.overlap_sum.ncols()
            )));
        }
        self.trials += other.trials;
        self.overlap_sum += &other.overlap_sum;
        self.overlap_sq_sum += &other.overlap_sq_sum;
        self.exact_count += &other.exact_count;
        for (mine, theirs) in self.retrieved_count.iter_mut().zip(&other.retrieved_count) {
            *mine += theirs;
        }
        if self.notice.is_none() {
            self.notice = other.notice;
        }
        Ok(())
    }
}

impl SweepSpec {
    pub fn validate(&self) -> Result<()> {
        let mut e = Vec::new();
        if !(1..=MAX_UNITS).contains(&self.n) {
            e.push(FieldError::new(
                "n",
                format!("{} units; use 1 to {MAX_UNITS}", self.n),
            ));
        }
        if self.p_values.is_empty() {
            e.push(FieldError::new(
                "p_values",
                "give at least one number of patterns",
            ));
        }
        let most = if self.storage == Storage::PseudoInverse {
            self.n.min(MAX_PATTERNS)
        } else {
            MAX_PATTERNS
        };
        for (k, &p) in self.p_values.iter().enumerate() {
            if !(1..=most).contains(&p) {
                let why = if self.storage == Storage::PseudoInverse && p > self.n {
                    " (more than N patterns are never linearly independent)"
                } else {
                    ""
                };
                e.push(FieldError::new(
                    format!("p_values/{k}"),
                    format!("P = {p}; use 1 to {most}{why}"),
                ));
            }
            if k > 0 && p <= self.p_values[k - 1] {
                e.push(FieldError::new(
                    format!("p_values/{k}"),
                    "the numbers of patterns must increase",
                ));
            }
        }
        if self.q0_values.is_empty() {
            e.push(FieldError::new(
                "q0_values",
                "give at least one overlap q(0)",
            ));
        }
        for (k, &q0) in self.q0_values.iter().enumerate() {
            if let Err(Error::Invalid(mut f)) = check_q0(q0, &format!("q0_values/{k}")) {
                e.append(&mut f);
            }
        }
        // Probes are numbered across all trials up to the last one: the stream index must stay in range.
        let probes = self.trials.end * self.p_values.len() * self.q0_values.len();
        if self.trials.is_empty() || probes > MAX_PROBES {
            e.push(FieldError::new(
                "trials",
                format!(
                    "trials {}..{} × {} P × {} q(0) = {probes} probe numbers; run 1 trial or more and at most \
                     {MAX_PROBES} probes",
                    self.trials.start,
                    self.trials.end,
                    self.p_values.len(),
                    self.q0_values.len()
                ),
            ));
        }
        if !(1..=MAX_SWEEPS).contains(&self.max_sweeps) {
            e.push(FieldError::new(
                "max_sweeps",
                format!("{} sweeps; choose 1 to {MAX_SWEEPS}", self.max_sweeps),
            ));
        }
        if e.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(e))
        }
    }
}

/// Probes waiting to be recalled together, with the networks they use and their targets.
struct Batch {
    nets: Networks,
    /// The target pattern of each network (±1, N values each).
    targets: Vec<f32>,
    net_of: Vec<u32>,
    probes: Vec<f32>,
    /// (row of P, column of q0) of each probe.
    cells: Vec<(usize, usize)>,
    /// Stream index of the first probe.
    first: u32,
}

impl Batch {
    fn new(n: usize, first: u32) -> Self {
        Self {
            nets: Networks::new(n),
            targets: Vec::new(),
            net_of: Vec::new(),
            probes: Vec::new(),
            cells: Vec::new(),
            first,
        }
    }
}

async fn flush(
    engine: &mut Engine,
    batch: Batch,
    n: usize,
    params: &RecallParams,
    tally: &mut Sweep,
) -> Result<()> {
    if batch.cells.is_empty() {
        return Ok(());
    }
    let probes =
        ArrayView2::from_shape((batch.cells.len(), n), &batch.probes).expect("N values per probe");
    let (out, notice) = kernel::recall_networks(
        engine,
        &batch.nets,
        &batch.net_of,
        probes,
        params,
        batch.first,
    )
    .await?;
    if tally.notice.is_none() {
        tally.notice = notice;
    }
    for ((state, &(p, q)), &net) in out
        .states
        .rows()
        .into_iter()
        .zip(&batch.cells)
        .zip(&batch.net_of)
    {
        let target = &batch.targets[net as usize * n..(net as usize + 1) * n];
        let agree = state.iter().zip(target).filter(|(s, t)| s == t).count();
        let dot = 2 * agree as i64 - n as i64;
        tally.overlap_sum[[p, q]] += dot;
        tally.overlap_sq_sum[[p, q]] += dot * dot;
        tally.exact_count[[p, q]] += u32::from(agree == n);
        // q = dot / N ≥ num / den, in integers.
        for (count, (num, den)) in tally.retrieved_count.iter_mut().zip(RETRIEVAL_THRESHOLDS) {
            count[[p, q]] += u32::from(dot * den >= num * n as i64);
        }
    }
    Ok(())
}

/// Runs a capacity sweep on the active engine (bipolar states): mean final overlap with the target and the
/// fraction of exact recalls per (P, q0). Trial t draws its patterns from stream (seed, Hopfield, Patterns, t);
/// probe (t, P row i, q0 column j) has stream index (t · |P| + i) · |q0| + j for its corruption and its
/// visiting orders, so a trial's numbers do not depend on which other trials run with it. Probes are recalled in
/// batches of many networks, so the GPU runs them in parallel; the results do not depend on the engine.
pub async fn capacity_sweep(engine: &mut Engine, spec: &SweepSpec) -> Result<Sweep> {
    let mut cursor = SweepCursor::new(spec.clone())?;
    cursor.advance(engine, usize::MAX).await?;
    Ok(cursor.finish())
}

/// A capacity sweep in progress, advanced by a bounded amount of work at a time so that a run can hand back
/// control between chunks. A trial's networks grow from one P to the next, so its patterns and learner are kept
/// between calls; the results are those of one call over the whole sweep, bit for bit.
pub struct SweepCursor {
    spec: SweepSpec,
    params: RecallParams,
    tally: Sweep,
    /// The trial and the position in `p_values` of the next network.
    trial: usize,
    next_p: usize,
    /// The current trial's patterns and learner.
    current: Option<(Array2<f32>, Learner)>,
    /// Stream index of the next probe.
    index: u32,
}

impl SweepCursor {
    pub fn new(spec: SweepSpec) -> Result<Self> {
        spec.validate()?;
        let (n, np, nq) = (spec.n, spec.p_values.len(), spec.q0_values.len());
        let params = RecallParams {
            tie: spec.tie,
            ..RecallParams::new(
                StateKind::Bipolar,
                spec.dynamics,
                spec.max_sweeps,
                spec.seed,
            )
        };
        let tally = Sweep {
            n,
            realised_q0: spec
                .q0_values
                .iter()
                .map(|&q0| (1.0 - 2.0 * flips_for_overlap(n, q0) as f64 / n as f64) as f32)
                .collect(),
            trials: spec.trials.len(),
            overlap_sum: Array2::zeros((np, nq)),
            overlap_sq_sum: Array2::zeros((np, nq)),
            exact_count: Array2::zeros((np, nq)),
            retrieved_count: [Array2::zeros((np, nq)), Array2::zeros((np, nq))],
            notice: None,
        };
        Ok(Self {
            // Validation keeps every probe number below MAX_PROBES, which fits a u32.
            index: (spec.trials.start * np * nq) as u32,
            trial: spec.trials.start,
            next_p: 0,
            current: None,
            params,
            tally,
            spec,
        })
    }

    pub fn done(&self) -> bool {
        self.trial >= self.spec.trials.end
    }

    /// Builds networks and recalls their probes until about `work` probe × N² units are done (at least one
    /// network) or the sweep ends.
    pub async fn advance(&mut self, engine: &mut Engine, work: usize) -> Result<()> {
        let (n, np) = (self.spec.n, self.spec.p_values.len());
        let nq = self.spec.q0_values.len();
        let mut batch = Batch::new(n, self.index);
        let mut done = 0usize;
        while !self.done() && done < work {
            let t = self.trial;
            let (patterns, learner) = match &mut self.current {
                Some(current) => current,
                slot @ None => slot.insert((
                    random_patterns(self.spec.p_values[np - 1], n, self.spec.seed, t as u32)?,
                    Learner::new(self.spec.storage, n),
                )),
            };
            let (i, p) = (self.next_p, self.spec.p_values[self.next_p]);
            learner
                .add(patterns.slice(s![learner.stored..p, ..]))
                .map_err(|e| Error::Data(format!("trial {t}, P = {p}: {e}")))?;
            let full = (batch.nets.count() + 1) * n * n * 4 > BATCH_WEIGHT_BYTES
                || (batch.cells.len() + nq) * n > BATCH_STATE_VALUES;
            if full && !batch.cells.is_empty() {
                let ready = std::mem::replace(&mut batch, Batch::new(n, self.index));
                flush(engine, ready, n, &self.params, &mut self.tally).await?;
            }
            let net = batch.nets.push_symmetric(learner.weights().view());
            let target = patterns.row(t % p);
            batch.targets.extend(target.iter());
            for (j, &q0) in self.spec.q0_values.iter().enumerate() {
                let probe = probe_with_overlap(target, q0, self.spec.seed, self.index)?;
                batch.probes.extend(probe.iter());
                batch.net_of.push(net);
                batch.cells.push((i, j));
                self.index += 1;
            }
            done = done.saturating_add((nq + 1) * n * n);
            self.next_p += 1;
            if self.next_p == np {
                (self.next_p, self.current) = (0, None);
                self.trial += 1;
            }
        }
        flush(engine, batch, n, &self.params, &mut self.tally).await
    }

    /// The tally of the trials done.
    pub fn finish(self) -> Sweep {
        self.tally
    }
}
