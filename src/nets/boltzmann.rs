//! Boltzmann machines (lecture 004 §3; Ackley, Hinton & Sejnowski 1985): binary units s ∈ {0, 1}, visible
//! units first and optional hidden units after them, symmetric weights with a zero diagonal, biases with the
//! lecture's sign, E(s) = −Σ_{i<j} w_ij s_i s_j + Σ_i b_i s_i (its equation (1)), and a temperature T:
//! p(s) = exp(−E(s)/T)/Z and p(s_i = 1 | rest) = σ(ΔE_i/T) with the energy gap ΔE_i = Σ_j w_ij s_j − b_i.
//!
//! What the network offers, for the CPU and the GPU kernel (kernels/boltzmann, persistent chains and learning) alike:
//! - exact enumeration of small nets (at most [`MAX_EXACT_UNITS`] units): every state's energy, Z, p(s), the
//!   visible marginal, the model's moments ⟨s_i s_j⟩ and the data's moments with hidden units filled in from
//!   their exact conditional distribution, and the data's log-likelihood;
//! - Gibbs sampling: sequential sweeps over the units of many chains at once, each update drawing its uniform
//!   from Philox counter [chain, sweep, unit / 4, round] (word unit % 4), so any update of any chain can be
//!   recomputed anywhere; the energy gap is summed over j in order in f32, so the decisions have the same bits
//!   natively and in wasm;
//! - learning by w_ij += α(⟨s_i s_j⟩_data − ⟨s_i s_j⟩_model) and b_i −= α(⟨s_i⟩_data − ⟨s_i⟩_model) (the minus:
//!   b enters E with +, so ∂ log p/∂b_i = −s_i + ⟨s_i⟩_model), with either statistic exact or sampled;
//! - recall of a corrupted pattern by zero-temperature descent of the energy.
//!
//! Where we depart from the listing `10.Boltzmann.py` (notes, "Code defects to avoid" 4): its w is drawn
//! asymmetric and only w[i, j] is updated, so w_ij ≠ w_ji and no energy exists for its sampler; we keep w
//! symmetric and update both entries. Its model statistics come from one sampling step from uniformly random
//! states, which samples nothing like the model; ours come from persistent chains (persistent contrastive
//! divergence, Tieleman 2008) that keep sweeping from one learning step to the next, or from exact enumeration.
//! Its energy report, Σ over patterns of −½ sᵀws, falls steadily (to −296 after its 1,000 epochs). Ours, Σ E(s)
//! over the data with the biases, falls too but ever more slowly (tests/boltzmann.rs: −32, −53, −67, −77, −83
//! after 100 … 3,000 steps on T, U, L, H): four patterns out of 512 states have their likelihood's supremum at
//! infinite weights. The quantity that settles is the log-likelihood ([`Boltzmann::log_likelihood`]), which
//! approaches its bound log ¼.
use crate::error::{Error, FieldError, Result};
use crate::rng::{self, Purpose};
use ndarray::{Array1, Array2, ArrayView2};
use rayon::prelude::*;

/// The most units that exact enumeration accepts: 2¹⁶ states of 16 units, a few milliseconds.
pub const MAX_EXACT_UNITS: usize = 16;

/// Stream groups of [`Purpose::Boltzmann`].
/// Initial weights: pair p (i < j, row-major) from word p % 4 of normal4 counter [p / 4, 0, 0, 0].
pub const GROUP_WEIGHTS: u32 = 0;
/// Random starting states of chains ([`Chains::random`]): the chains' round is the stream's index; unit i of
/// chain c from the top bit of word i % 4 of counter [c, i / 4, the chains' group, 0].
pub const GROUP_START: u32 = 1;
/// The model's (free) chains.
pub const GROUP_FREE: u32 = 2;
/// Chains with the visible units clamped to data (hidden units sampled).
pub const GROUP_CLAMPED: u32 = 3;
/// The lecture's one-step model statistics ([`Boltzmann::model_moments_one_step`]): their random starts (as
/// [`Chains::random`] with this group and the round) and their single step's draws.
pub const GROUP_ONE_STEP: u32 = 4;

/// A Boltzmann machine's parameters. Units 0..visible are visible, the rest hidden.
#[derive(Clone, Debug, PartialEq)]
pub struct Boltzmann {
    /// [units, units], symmetric with a zero diagonal.
    w: Array2<f32>,
    /// [units], entering the energy with +.
    b: Array1<f32>,
    visible: usize,
    /// T > 0.
    temperature: f32,
}

fn invalid(path: &str, message: String) -> Error {
    Error::Invalid(vec![FieldError::new(path, message)])
}

impl Boltzmann {
    /// A machine from its parts, checked: w square, symmetric, zero on the diagonal; b of the same size; at
    /// most that many visible units; T > 0 and finite.
    pub fn from_parts(
        w: Array2<f32>,
        b: Array1<f32>,
        visible: usize,
        temperature: f32,
    ) -> Result<Self> {
        let n = w.nrows();
        if w.ncols() != n || b.len() != n {
            return Err(invalid(
                "w",
                format!("w is {:?} and b has {} entries", w.dim(), b.len()),
            ));
        }
        for ((i, j), &v) in w.indexed_iter() {
            if (i == j && v != 0.0) || v != w[[j, i]] || !v.is_finite() {
                return Err(invalid(
                    "w",
                    format!(
                        "w must be finite, symmetric and zero on the diagonal (w[{i}, {j}] = {v})"
                    ),
                ));
            }
        }
        if visible > n {
            return Err(invalid(
                "visible",
                format!("{visible} visible units of {n} units"),
            ));
        }
        if !(temperature > 0.0 && temperature.is_finite()) {
            return Err(invalid(
                "temperature",
                format!("must be positive (got {temperature})"),
            ));
        }
        Ok(Self {
            w,
            b: b.as_standard_layout().to_owned(),
            visible,
            temperature,
        })
    }

    /// `visible` + `hidden` units with weights N(0, std²) (the listing's N(0, 1) at std = 1), drawn once per
    /// pair and mirrored, zero biases, at temperature T.
    pub fn random(
        visible: usize,
        hidden: usize,
        std: f32,
        temperature: f32,
        seed: u32,
    ) -> Result<Self> {
        let n = visible + hidden;
        let key = [seed, rng::stream(Purpose::Boltzmann, GROUP_WEIGHTS, 0)];
        let mut w = Array2::zeros((n, n));
        let mut draws = [0f32; 4];
        let mut p = 0usize;
        for i in 0..n {
            for j in i + 1..n {
                if p.is_multiple_of(4) {
                    draws = rng::normal4([(p / 4) as u32, 0, 0, 0], key);
                }
                w[[i, j]] = std * draws[p % 4];
                w[[j, i]] = w[[i, j]];
                p += 1;
            }
        }
        Self::from_parts(w, Array1::zeros(n), visible, temperature)
    }

    pub fn units(&self) -> usize {
        self.w.nrows()
    }

    pub fn visible(&self) -> usize {
        self.visible
    }

    pub fn hidden(&self) -> usize {
        self.units() - self.visible
    }

    pub fn temperature(&self) -> f32 {
        self.temperature
    }

    pub fn weights(&self) -> &Array2<f32> {
        &self.w
    }

    pub fn biases(&self) -> &Array1<f32> {
        &self.b
    }

    /// E(s) = −Σ_{i<j} w_ij s_i s_j + Σ_i b_i s_i, in f64 (units missing from a short `s` count as off).
    pub fn energy(&self, s: &[u8]) -> f64 {
        let s = &s[..self.units().min(s.len())];
        let mut e = 0.0f64;
        for (i, &si) in s.iter().enumerate() {
            if si == 0 {
                continue;
            }
            e += f64::from(self.b[i]);
            for (&w, &sj) in self.w.row(i).iter().zip(s).skip(i + 1) {
                if sj != 0 {
                    e -= f64::from(w);
                }
            }
        }
        e
    }

    /// ΔE_i = E(s_i = 0) − E(s_i = 1) = Σ_{j≠i} w_ij s_j − b_i, summed over j in order in f32 (the bits that
    /// the sampler's decisions depend on).
    pub fn energy_gap(&self, s: &[u8], i: usize) -> f32 {
        let mut g = 0.0f32;
        for (&w, &s) in self.w.row(i).iter().zip(s) {
            if s != 0 {
                g += w;
            }
        }
        g - self.b[i]
    }

    /// p(s_i = 1 | the other units) = σ(ΔE_i/T) (the lecture's equation (5)).
    pub fn p_on(&self, s: &[u8], i: usize) -> f32 {
        1.0 / (1.0 + libm::expf(-self.energy_gap(s, i) / self.temperature))
    }

    fn check_exact(&self) -> Result<()> {
        if self.units() > MAX_EXACT_UNITS {
            return Err(invalid(
                "units",
                format!(
                    "exact enumeration takes at most {MAX_EXACT_UNITS} units (2^{MAX_EXACT_UNITS} states); this net has {}",
                    self.units()
                ),
            ));
        }
        Ok(())
    }

    /// Every state's energy and Z by enumeration (at most [`MAX_EXACT_UNITS`] units).
    pub fn exact(&self) -> Result<Exact> {
        self.check_exact()?;
        let n = self.units();
        let energies: Vec<f64> = (0..1usize << n)
            .map(|k| self.energy(&Exact::state(n, k)))
            .collect();
        let t = f64::from(self.temperature);
        let log_z = log_sum_exp(energies.iter().map(|e| -e / t));
        Ok(Exact {
            units: n,
            temperature: t,
            energies,
            log_z,
        })
    }

    fn check_data(&self, data: ArrayView2<u8>) -> Result<()> {
        if data.ncols() != self.visible {
            return Err(invalid(
                "data",
                format!(
                    "{} values per pattern for {} visible units",
                    data.ncols(),
                    self.visible
                ),
            ));
        }
        if data.iter().any(|&v| v > 1) {
            return Err(invalid("data", "patterns must be 0 or 1".into()));
        }
        Ok(())
    }

    /// log p(h | v) for every hidden state h (index as [`Exact::state`] of the hidden units) given visible v.
    fn hidden_log_posterior(&self, v: &[u8]) -> Vec<f64> {
        let (nv, nh) = (self.visible, self.hidden());
        let t = f64::from(self.temperature);
        let mut s = vec![0u8; nv + nh];
        s[..nv].copy_from_slice(v);
        let mut log_w: Vec<f64> = (0..1usize << nh)
            .map(|h| {
                for (u, x) in s[nv..].iter_mut().enumerate() {
                    *x = ((h >> (nh - 1 - u)) & 1) as u8;
                }
                -self.energy(&s) / t
            })
            .collect();
        let norm = log_sum_exp(log_w.iter().copied());
        log_w.iter_mut().for_each(|l| *l -= norm);
        log_w
    }

    /// The data's moments with the hidden units exact: ⟨s_i s_j⟩ off the diagonal and ⟨s_i⟩ on it (s_i² = s_i),
    /// averaged over the patterns (rows of `data`, one value per visible unit) and, per pattern, over
    /// p(h | v). Without hidden units these are the patterns' own moments ([`moments`]).
    pub fn data_moments_exact(&self, data: ArrayView2<u8>) -> Result<Array2<f64>> {
        self.check_exact()?;
        self.check_data(data)?;
        let n = self.units();
        let nh = self.hidden();
        let mut m = Array2::zeros((n, n));
        let mut s = vec![0u8; n];
        for v in data.rows() {
            s[..self.visible]
                .iter_mut()
                .zip(v)
                .for_each(|(a, &b)| *a = b);
            for (h, lp) in self
                .hidden_log_posterior(&s[..self.visible])
                .into_iter()
                .enumerate()
            {
                for (u, x) in s[self.visible..].iter_mut().enumerate() {
                    *x = ((h >> (nh - 1 - u)) & 1) as u8;
                }
                add_outer(&mut m, &s, libm::exp(lp));
            }
        }
        Ok(m / data.nrows().max(1) as f64)
    }

    /// The mean log-likelihood of the patterns, (1/N) Σ_k log p(v_k), with p(v) = Σ_h p(v, h) (exact).
    pub fn log_likelihood(&self, data: ArrayView2<u8>) -> Result<f64> {
        self.check_data(data)?;
        let exact = self.exact()?;
        let marginal = exact.visible_marginal(self.visible);
        let total: f64 = data
            .rows()
            .into_iter()
            .map(|v| {
                let k = v.iter().fold(0usize, |k, &x| (k << 1) | usize::from(x));
                libm::log(marginal[k])
            })
            .sum();
        Ok(total / data.nrows().max(1) as f64)
    }

    /// One sequential Gibbs sweep of every chain over units `first`..units (`first` = 0: free; `first` =
    /// visible: visible units clamped), unit after unit in index order: unit i of chain c turns on when
    /// u < σ(ΔE_i/T), u from word i % 4 of philox([c, sweep, i / 4, round], (seed, chains' stream)). The
    /// chains are independent and updated in parallel.
    pub fn sweep(&self, chains: &mut Chains, first: usize, seed: u32) {
        let n = self.units();
        assert_eq!(chains.states.ncols(), n, "chains of this machine's units");
        let key = [seed, rng::stream(Purpose::Boltzmann, chains.group, 0)];
        let (sweep, round) = (chains.sweeps, chains.round);
        chains
            .states
            .as_slice_mut()
            .expect("chains are kept in standard layout")
            .par_chunks_mut(n.max(1))
            .enumerate()
            .for_each(|(c, s)| {
                let mut words = [0u32; 4];
                for i in first..n {
                    if i == first || i % 4 == 0 {
                        words = rng::philox4x32([c as u32, sweep, (i / 4) as u32, round], key);
                    }
                    s[i] = u8::from(rng::uniform(words[i % 4]) < self.p_on(s, i));
                }
            });
        chains.sweeps = chains.sweeps.wrapping_add(1);
    }

    /// The model's moments from `sweeps` further sweeps of persistent chains (the chains' states after the last
    /// sweep, one sample each).
    pub fn model_moments_sampled(
        &self,
        chains: &mut Chains,
        sweeps: u32,
        seed: u32,
    ) -> Array2<f64> {
        for _ in 0..sweeps {
            self.sweep(chains, 0, seed);
        }
        moments(chains.states.view())
    }

    /// The lecture's model statistics, kept to show why they fail (notes, "Code defects to avoid" 4): `count`
    /// states drawn uniformly at random ([`Chains::random`] of group [`GROUP_ONE_STEP`], `round`), then ONE
    /// synchronous step: every unit of every state turns on when u < σ(ΔE_i/T), ΔE_i computed from the random
    /// state, u from word i % 4 of philox([c, 0, i / 4, round], (seed, stream(Boltzmann, [`GROUP_ONE_STEP`],
    /// 0))). Its listing's σ(y·w) has no bias and T = 1; ours keeps both, so that the sampling alone differs from
    /// the other statistics. These states are one step away from uniform noise, not samples of p(s).
    pub fn model_moments_one_step(&self, count: usize, seed: u32, round: u32) -> Array2<f64> {
        let n = self.units();
        let start = Chains::random(count, n, seed, GROUP_ONE_STEP, round);
        let key = [seed, rng::stream(Purpose::Boltzmann, GROUP_ONE_STEP, 0)];
        let mut next = start.states.clone();
        for (c, (from, mut to)) in start
            .states
            .rows()
            .into_iter()
            .zip(next.rows_mut())
            .enumerate()
        {
            let from = from.to_vec();
            let mut words = [0u32; 4];
            for i in 0..n {
                if i % 4 == 0 {
                    words = rng::philox4x32([c as u32, 0, (i / 4) as u32, round], key);
                }
                to[i] = u8::from(rng::uniform(words[i % 4]) < self.p_on(&from, i));
            }
        }
        moments(next.view())
    }

    /// The data's moments with the hidden units sampled: `copies` chains per pattern with the visible units
    /// clamped, hidden units started at random, `sweeps` clamped sweeps, the last states averaged. `round`
    /// (e.g. the learning step) keys the draws, so every step samples afresh.
    pub fn data_moments_sampled(
        &self,
        data: ArrayView2<u8>,
        copies: usize,
        sweeps: u32,
        seed: u32,
        round: u32,
    ) -> Result<Array2<f64>> {
        self.check_data(data)?;
        if self.hidden() == 0 {
            return Ok(moments(data));
        }
        let count = data.nrows() * copies;
        let mut chains = Chains::random(count, self.units(), seed, GROUP_CLAMPED, round);
        for (c, mut s) in chains.states.rows_mut().into_iter().enumerate() {
            for (x, &v) in s.iter_mut().zip(data.row(c / copies.max(1))) {
                *x = v;
            }
        }
        for _ in 0..sweeps {
            self.sweep(&mut chains, self.visible, seed);
        }
        Ok(moments(chains.states.view()))
    }

    /// w_ij += α(data_ij − model_ij) for i ≠ j (both entries: w stays symmetric), b_i −= α(data_ii − model_ii),
    /// from moment matrices as [`moments`] gives (⟨s_i s_j⟩ off the diagonal, ⟨s_i⟩ on it). This is the
    /// lecture's rule; at T ≠ 1 the log-likelihood's gradient is the same difference divided by T.
    pub fn learn(&mut self, data: &Array2<f64>, model: &Array2<f64>, rate: f32) {
        let n = self.units();
        for i in 0..n {
            for j in 0..n {
                let d = (rate as f64 * (data[[i, j]] - model[[i, j]])) as f32;
                if i == j {
                    self.b[i] -= d;
                } else {
                    self.w[[i, j]] += d;
                }
            }
        }
    }

    /// One learning step on `data` (rows of visible patterns) with the chosen statistics. With
    /// `Statistics::Sampled`, the model's chains persist in `chains` between steps; `step` keys the clamped
    /// chains' draws.
    pub fn train_step(
        &mut self,
        data: ArrayView2<u8>,
        how: Statistics,
        chains: &mut Chains,
        rate: f32,
        seed: u32,
        step: u32,
    ) -> Result<()> {
        let (d, m) = match how {
            Statistics::Exact => (self.data_moments_exact(data)?, self.exact()?.moments()),
            Statistics::Sampled { copies, sweeps } => (
                self.data_moments_sampled(data, copies, sweeps, seed, step)?,
                self.model_moments_sampled(chains, sweeps, seed),
            ),
        };
        self.learn(&d, &m, rate);
        Ok(())
    }

    /// Zero-temperature recall: the visible units start at `probe` (missing values off), hidden units at 0, then units turn on when
    /// ΔE_i > 0 and off when ΔE_i < 0 (ties keep), in index order, sweep after sweep until a sweep changes
    /// nothing (each change lowers the energy, so it stops) or `max_sweeps` pass. Returns every unit's state.
    /// The listing's recall is one synchronous step, σ(p·w) ≥ ½ without biases, which need not settle.
    pub fn recall(&self, probe: &[u8], max_sweeps: usize) -> Vec<u8> {
        let mut s = vec![0u8; self.units()];
        s.iter_mut()
            .zip(probe)
            .take(self.visible)
            .for_each(|(s, &p)| *s = p);
        for _ in 0..max_sweeps {
            let mut changed = false;
            for i in 0..s.len() {
                let g = self.energy_gap(&s, i);
                let next = if g > 0.0 {
                    1
                } else if g < 0.0 {
                    0
                } else {
                    s[i]
                };
                changed |= next != s[i];
                s[i] = next;
            }
            if !changed {
                break;
            }
        }
        s
    }
}

/// Where a learning step's statistics come from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Statistics {
    /// Enumeration (at most [`MAX_EXACT_UNITS`] units).
    Exact,
    /// Gibbs chains: `copies` clamped chains per pattern and `sweeps` sweeps for both statistics.
    Sampled { copies: usize, sweeps: u32 },
}

/// Many chains' states and the counters their next sweep draws from.
#[derive(Clone, Debug, PartialEq)]
pub struct Chains {
    /// [chains, units] of 0 / 1, in standard layout.
    states: Array2<u8>,
    /// The stream group of their sweeps ([`GROUP_FREE`] or [`GROUP_CLAMPED`]).
    group: u32,
    /// The counter's last word: which set of chains of the group.
    round: u32,
    /// Sweeps done so far: the next sweep's counter word.
    sweeps: u32,
}

impl Chains {
    /// `count` chains of `units` units, each unit on with probability ½ (see [`GROUP_START`]); their sweeps
    /// draw from (seed, stream(Boltzmann, `group`, 0)) with `round` as the counter's last word.
    pub fn random(count: usize, units: usize, seed: u32, group: u32, round: u32) -> Self {
        let key = [seed, rng::stream(Purpose::Boltzmann, GROUP_START, round)];
        let states = Array2::from_shape_fn((count, units), |(c, i)| {
            let x = rng::philox4x32([c as u32, (i / 4) as u32, group, 0], key);
            u8::from(x[i % 4] >> 31 == 1)
        });
        Self {
            states,
            group,
            round,
            sweeps: 0,
        }
    }

    /// The chains' states, [chains, units].
    pub fn states(&self) -> ArrayView2<'_, u8> {
        self.states.view()
    }

    pub fn sweeps(&self) -> u32 {
        self.sweeps
    }

    /// The stream group of their sweeps.
    pub fn group(&self) -> u32 {
        self.group
    }

    /// The counter's last word of their sweeps.
    pub fn round(&self) -> u32 {
        self.round
    }

    /// Chains from states computed elsewhere (a GPU kernel's download) and their counters; states must be 0 or 1.
    pub fn from_parts(states: Array2<u8>, group: u32, round: u32, sweeps: u32) -> Result<Self> {
        if states.iter().any(|&v| v > 1) {
            return Err(invalid("states", "chain states must be 0 or 1".into()));
        }
        Ok(Self {
            states: states.as_standard_layout().to_owned(),
            group,
            round,
            sweeps,
        })
    }
}

/// Moments of a set of states [samples, units]: ⟨s_i s_j⟩ off the diagonal and ⟨s_i⟩ on it, in f64.
pub fn moments(states: ArrayView2<u8>) -> Array2<f64> {
    let n = states.ncols();
    let mut m = Array2::zeros((n, n));
    let mut s = vec![0u8; n];
    for row in states.rows() {
        s.iter_mut().zip(row).for_each(|(a, &b)| *a = b);
        add_outer(&mut m, &s, 1.0);
    }
    m / states.nrows().max(1) as f64
}

/// m += weight · s sᵀ for binary s.
fn add_outer(m: &mut Array2<f64>, s: &[u8], weight: f64) {
    for (i, &a) in s.iter().enumerate() {
        if a == 0 {
            continue;
        }
        for (j, &b) in s.iter().enumerate() {
            if b != 0 {
                m[[i, j]] += weight;
            }
        }
    }
}

/// log Σ exp(x), stable.
fn log_sum_exp(x: impl Iterator<Item = f64> + Clone) -> f64 {
    let max = x.clone().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + libm::log(x.map(|v| libm::exp(v - max)).sum::<f64>())
}

/// Every state of a small machine by enumeration.
#[derive(Clone, Debug, PartialEq)]
pub struct Exact {
    units: usize,
    temperature: f64,
    /// E(s) of state k ([`Exact::state`]).
    pub energies: Vec<f64>,
    /// log Z = log Σ_s exp(−E(s)/T).
    pub log_z: f64,
}

impl Exact {
    /// State k of `units` units: unit 0 is the most significant bit, so the states come in the lecture's
    /// table order (000, 001, 010, …), and the visible units (first) index the visible marginal by k >> hidden.
    pub fn state(units: usize, k: usize) -> Vec<u8> {
        (0..units)
            .map(|i| ((k >> (units - 1 - i)) & 1) as u8)
            .collect()
    }

    pub fn z(&self) -> f64 {
        libm::exp(self.log_z)
    }

    /// p(s) of every state.
    pub fn probabilities(&self) -> Vec<f64> {
        self.energies
            .iter()
            .map(|e| libm::exp(-e / self.temperature - self.log_z))
            .collect()
    }

    /// p(v) of every visible state (index: the visible units' bits, unit 0 most significant).
    pub fn visible_marginal(&self, visible: usize) -> Vec<f64> {
        let hidden = self.units - visible;
        let mut p = vec![0.0; 1 << visible];
        for (k, q) in self.probabilities().into_iter().enumerate() {
            p[k >> hidden] += q;
        }
        p
    }

    /// The model's moments: ⟨s_i s_j⟩ off the diagonal and ⟨s_i⟩ on it.
    pub fn moments(&self) -> Array2<f64> {
        let mut m = Array2::zeros((self.units, self.units));
        for (k, q) in self.probabilities().into_iter().enumerate() {
            add_outer(&mut m, &Self::state(self.units, k), q);
        }
        m
    }
}
