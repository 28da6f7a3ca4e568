//! Restricted Boltzmann machines with binary units (source 004 §4, `11.RBM.py`; Hinton 2002) and deep belief
//! nets stacked from them (Hinton, Osindero & Teh 2006): conditionals, seeded Bernoulli sampling, energy and free
//! energy, exact partition function and likelihood gradient for small models, CD-k and persistent CD
//! (Tieleman 2008) training, and the monitors a lab plots: reconstruction error, pseudo-likelihood and annealed
//! importance sampling (Salakhutdinov & Murray 2008) for log Z of models too large to enumerate.
//!
//! Everything works on batches, `Array2<f32>` [rows, units], so that a GPU kernel can take the same shapes.
//! Every Bernoulli draw compares a Philox uniform with its probability (u < p → 1); the uniform of unit j of row
//! r at step s and phase φ is word j mod 4 of `philox4x32([r, s, j/4, φ], [seed, stream])` ([`Draws`]), so a
//! kernel given (seed, stream, step) draws the same bits. Products whose values decide samples go through
//! `nets::dense` and exponentials through `libm`, so native and wasm runs agree bit for bit.
//!
//! Where we depart from the source's listing: its `loss` list also collects the matrix E_data − E_model every
//! batch (defect 6); we report only the reconstruction error. Its statistics are kept (probabilities for h in both
//! phases, v sampled, notes §4-6); momentum, weight decay and persistent chains are the usual extensions
//! (Hinton's practical guide, 2010), off in [`TrainConfig::source`].
use crate::error::{Error, Result};
use crate::nets::dense;
use crate::nets::probe::{Confusion, Probe};
use crate::plasticity::{Phase, contrastive};
use crate::rng::{self, Purpose};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis, s};

/// Stream groups of `Purpose::Rbm` (the index is the layer of a deep belief net, 0 for a lone RBM).
pub mod group {
    /// Initial weights.
    pub const INIT: u32 = 0;
    /// Gibbs sampling during training (CD-k and the persistent chains; the trainer's draw count is the step).
    pub const TRAIN: u32 = 1;
    /// Sampling from the model: random starts and Gibbs chains, corrupted-digit reconstruction.
    pub const SAMPLE: u32 = 2;
    /// Annealed importance sampling (the run is the row, the temperature the step).
    pub const AIS: u32 = 3;
    /// The pseudo-likelihood's flipped bits.
    pub const PSEUDO: u32 = 4;
}

/// The largest layer that exact enumeration visits (2^20 states).
pub const MAX_ENUMERATED: usize = 20;

/// Which Philox stream a sampling step draws from: the key is (seed, `stream(Purpose::Rbm, group, index)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Draws {
    pub seed: u32,
    pub stream: u32,
}

impl Draws {
    pub fn new(seed: u32, group: u32, index: u32) -> Self {
        Self {
            seed,
            stream: rng::stream(Purpose::Rbm, group, index),
        }
    }

    /// Uniforms [rows, units] in (0, 1) of one step and phase: counter [row, step, unit/4, phase].
    pub fn uniforms(&self, rows: usize, units: usize, step: u32, phase: u32) -> Array2<f32> {
        let key = [self.seed, self.stream];
        let mut u = Array2::zeros((rows, units));
        for (r, mut row) in u.rows_mut().into_iter().enumerate() {
            for (q, chunk) in row.as_slice_mut().expect("fresh").chunks_mut(4).enumerate() {
                let x = rng::philox4x32([r as u32, step, q as u32, phase], key);
                for (o, &w) in chunk.iter_mut().zip(&x) {
                    *o = rng::uniform(w);
                }
            }
        }
        u
    }

    /// Binary samples of probabilities `p` [rows, units]: 1 where the step's uniform is below p.
    pub fn bernoulli(&self, p: ArrayView2<f32>, step: u32, phase: u32) -> Array2<f32> {
        let mut u = self.uniforms(p.nrows(), p.ncols(), step, phase);
        ndarray::Zip::from(&mut u)
            .and(p)
            .for_each(|u, &p| *u = if *u < p { 1.0 } else { 0.0 });
        u
    }
}

/// σ(x) = 1/(1 + e⁻ˣ) with `libm`.
pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// log(1 + eˣ) without overflow: x + log(1 + e⁻ˣ) for positive x.
pub fn softplus(x: f64) -> f64 {
    if x > 0.0 {
        x + libm::log1p(libm::exp(-x))
    } else {
        libm::log1p(libm::exp(x))
    }
}

/// log Σ exp(xᵢ), with the maximum taken out.
fn log_sum_exp(x: &[f64]) -> f64 {
    let max = x.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if max == f64::NEG_INFINITY {
        return max;
    }
    max + libm::log(x.iter().map(|&v| libm::exp(v - max)).sum::<f64>())
}

/// A binary RBM: E(v, h) = −vᵀWh − bᵀv − cᵀh.
#[derive(Clone, Debug, PartialEq)]
pub struct Rbm {
    /// [visible, hidden].
    pub w: Array2<f32>,
    /// Visible biases.
    pub b: Array1<f32>,
    /// Hidden biases.
    pub c: Array1<f32>,
}

/// A likelihood gradient (or its CD estimate), in the ascent direction, averaged over examples.
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient {
    pub w: Array2<f32>,
    pub b: Array1<f32>,
    pub c: Array1<f32>,
}

impl Gradient {
    /// Every entry, weights then visible then hidden biases (for cosines and norms).
    pub fn flat(&self) -> Vec<f32> {
        self.w
            .iter()
            .chain(&self.b)
            .chain(&self.c)
            .copied()
            .collect()
    }
}

/// An annealed-importance-sampling estimate of log Z.
#[derive(Clone, Debug, PartialEq)]
pub struct Ais {
    /// log Z_A + log mean of the importance weights.
    pub log_z: f64,
    /// The standard error of `log_z` in nats (delta method: sd(w)/(mean(w)·√M)).
    pub std_err: f64,
    /// log Z − 3σ and log Z + 3σ, with σ the standard error of the mean weight (Salakhutdinov & Murray's
    /// bounds, log(r̂ ± 3σ̂)); the lower end is −∞ when 3σ exceeds the mean.
    pub three_sigma: (f64, f64),
    /// The log importance weight of every run.
    pub log_weights: Vec<f64>,
}

impl Rbm {
    /// The source's initialisation: w ~ N(0, 0.01²) (numpy's `normal(0, 0.01)` takes the standard deviation, so
    /// 0.01 is the std), b = c = 0. Normals from stream Rbm/INIT/`layer`, four per counter [block, 0, 0, 0].
    pub fn new(visible: usize, hidden: usize, seed: u32, layer: u32) -> Self {
        let key = [seed, rng::stream(Purpose::Rbm, group::INIT, layer)];
        let n = visible * hidden;
        let mut z = Vec::with_capacity(n + 3);
        for block in 0..n.div_ceil(4) {
            z.extend(rng::normal4([block as u32, 0, 0, 0], key));
        }
        Self {
            w: Array2::from_shape_fn((visible, hidden), |(i, j)| 0.01 * z[i * hidden + j]),
            b: Array1::zeros(visible),
            c: Array1::zeros(hidden),
        }
    }

    pub fn visible(&self) -> usize {
        self.w.nrows()
    }

    pub fn hidden(&self) -> usize {
        self.w.ncols()
    }

    /// The same model with the layers' roles swapped (Wᵀ, c as visible biases, b as hidden): its free energy is
    /// the original's free energy of the hidden layer.
    pub fn transposed(&self) -> Self {
        Self {
            w: self.w.t().as_standard_layout().into_owned(),
            b: self.c.clone(),
            c: self.b.clone(),
        }
    }

    /// vW + c [rows, hidden].
    pub fn hidden_input(&self, v: ArrayView2<f32>) -> Array2<f32> {
        dense::nn(v, self.w.view()) + &self.c
    }

    /// hWᵀ + b [rows, visible].
    pub fn visible_input(&self, h: ArrayView2<f32>) -> Array2<f32> {
        dense::nt(h, self.w.view()) + &self.b
    }

    /// p(h = 1 | v) = σ(vW + c).
    pub fn hidden_probs(&self, v: ArrayView2<f32>) -> Array2<f32> {
        self.hidden_input(v).mapv(sigmoid)
    }

    /// p(v = 1 | h) = σ(hWᵀ + b).
    pub fn visible_probs(&self, h: ArrayView2<f32>) -> Array2<f32> {
        self.visible_input(h).mapv(sigmoid)
    }

    /// E(v, h) of each row pair, summed in f64.
    pub fn energy(&self, v: ArrayView2<f32>, h: ArrayView2<f32>) -> Array1<f64> {
        let vw = dense::nn(v, self.w.view());
        Array1::from_iter((0..v.nrows()).map(|r| {
            let mut e = 0.0f64;
            for j in 0..self.hidden() {
                e -= f64::from(h[[r, j]]) * (f64::from(vw[[r, j]]) + f64::from(self.c[j]));
            }
            for i in 0..self.visible() {
                e -= f64::from(v[[r, i]]) * f64::from(self.b[i]);
            }
            e
        }))
    }

    /// F(v) = −bᵀv − Σ_k softplus(vW_{·k} + c_k) of each row: −log Σ_h exp(−E(v, h)).
    pub fn free_energy(&self, v: ArrayView2<f32>) -> Array1<f64> {
        let x = self.hidden_input(v);
        Array1::from_iter(v.rows().into_iter().zip(x.rows()).map(|(v, x)| {
            let bias: f64 = v.iter().zip(&self.b).map(|(&v, &b)| f64::from(v * b)).sum();
            let soft: f64 = x.iter().map(|&x| softplus(f64::from(x))).sum();
            -bias - soft
        }))
    }

    /// F(h) = −cᵀh − Σ_i softplus(W_{i·}h + b_i) of each row: −log Σ_v exp(−E(v, h)).
    pub fn free_energy_hidden(&self, h: ArrayView2<f32>) -> Array1<f64> {
        self.transposed().free_energy(h)
    }

    /// log Z, exactly, by enumerating the smaller layer (refused above [`MAX_ENUMERATED`] units).
    pub fn log_z(&self) -> Result<f64> {
        if self.hidden() < self.visible() {
            return self.transposed().log_z();
        }
        let n = checked_layer(self.visible(), self.hidden())?;
        let mut terms = Vec::with_capacity(1 << n);
        for states in enumeration(n) {
            terms.extend(self.free_energy(states.view()).iter().map(|f| -f));
        }
        Ok(log_sum_exp(&terms))
    }

    /// log p(v) = −F(v) − log Z of each row, with the exact log Z.
    pub fn log_prob(&self, v: ArrayView2<f32>) -> Result<Array1<f64>> {
        let log_z = self.log_z()?;
        Ok(self.free_energy(v).mapv(|f| -f - log_z))
    }

    /// The exact gradient of the mean log-likelihood of `data` (notes §4-3): data terms with p(h|v), model terms
    /// by enumerating the smaller layer (E[v hᵀ] = Σ_v p(v) v p(h|v)ᵀ, or Σ_h p(h) p(v|h) hᵀ).
    pub fn exact_gradient(&self, data: ArrayView2<f32>) -> Result<Gradient> {
        let (vh, v, h) = self.model_moments()?;
        let n = data.nrows().max(1) as f32;
        let ph = self.hidden_probs(data);
        let pos_w = dense::tn(data, ph.view()) / n;
        Ok(Gradient {
            w: &pos_w - &vh,
            b: data.sum_axis(Axis(0)) / n - &v,
            c: ph.sum_axis(Axis(0)) / n - &h,
        })
    }

    /// E_model[v hᵀ], E_model[v], E_model[h], by enumeration.
    fn model_moments(&self) -> Result<(Array2<f32>, Array1<f32>, Array1<f32>)> {
        if self.hidden() < self.visible() {
            let (hv, h, v) = self.transposed().model_moments()?;
            return Ok((hv.t().to_owned(), v, h));
        }
        let log_z = self.log_z()?;
        let (nv, nh) = (self.visible(), self.hidden());
        let mut vh = Array2::<f64>::zeros((nv, nh));
        let (mut mv, mut mh) = (Array1::<f64>::zeros(nv), Array1::<f64>::zeros(nh));
        for states in enumeration(nv) {
            let f = self.free_energy(states.view());
            let ph = self.hidden_probs(states.view());
            for (r, v) in states.rows().into_iter().enumerate() {
                let p = libm::exp(-f[r] - log_z);
                for i in (0..nv).filter(|&i| v[i] > 0.0) {
                    mv[i] += p;
                    for j in 0..nh {
                        vh[[i, j]] += p * f64::from(ph[[r, j]]);
                    }
                }
                for j in 0..nh {
                    mh[j] += p * f64::from(ph[[r, j]]);
                }
            }
        }
        let f = |x: f64| x as f32;
        Ok((vh.mapv(f), mv.mapv(f), mh.mapv(f)))
    }

    /// `steps` sweeps of block Gibbs sampling from visible states `v`: h ~ p(h|v) (phase 0), then v ~ p(v|h)
    /// (phase 1), at steps `first`, `first + 1`, …. Returns the last visible sample and its probabilities.
    pub fn gibbs(
        &self,
        v: Array2<f32>,
        steps: u32,
        draws: Draws,
        first: u32,
    ) -> (Array2<f32>, Array2<f32>) {
        let mut v = v;
        let mut pv = v.clone();
        for s in 0..steps {
            let h = draws.bernoulli(self.hidden_probs(v.view()).view(), first + s, 0);
            pv = self.visible_probs(h.view());
            v = draws.bernoulli(pv.view(), first + s, 1);
        }
        (v, pv)
    }

    /// Uniformly random binary visible states [rows, visible] (step 0, phase 2 of `draws`): chains' starts.
    pub fn random_visible(&self, rows: usize, draws: Draws) -> Array2<f32> {
        let half = Array2::from_elem((rows, self.visible()), 0.5);
        draws.bernoulli(half.view(), 0, 2)
    }

    /// The source's reconstruction: h ~ p(h|v) (step `step`, phase 0 of `draws`), then p(v|h). The source
    /// shows `p(v|h) > 0.2` ([`threshold`]); the probabilities are returned so that a page can show either.
    pub fn reconstruct(&self, v: ArrayView2<f32>, draws: Draws, step: u32) -> Array2<f32> {
        let h = draws.bernoulli(self.hidden_probs(v).view(), step, 0);
        self.visible_probs(h.view())
    }

    /// The mean over rows and units of (v − v̂)², v̂ the mean-field reconstruction p(v | p(h|v)): a deterministic
    /// monitor (the trainer also reports the source's, with v̂ sampled).
    pub fn reconstruction_error(&self, v: ArrayView2<f32>) -> f32 {
        let r = self.visible_probs(self.hidden_probs(v).view());
        mean_squared(v, r.view())
    }

    /// The stochastic pseudo-likelihood of each row, as scikit-learn's `BernoulliRBM.score_samples`: one bit i
    /// per row flipped (chosen by the uniform of counter [row, step, 0, 3], i = ⌊u·visible⌋), and
    /// visible · log σ(F(ṽ) − F(v)).
    pub fn pseudo_likelihood(&self, v: ArrayView2<f32>, draws: Draws, step: u32) -> Array1<f64> {
        let u = draws.uniforms(v.nrows(), 1, step, 3);
        let mut flipped = v.to_owned();
        let n = self.visible();
        for (r, mut row) in flipped.rows_mut().into_iter().enumerate() {
            let i = ((u[[r, 0]] * n as f32) as usize).min(n - 1);
            row[i] = 1.0 - row[i];
        }
        let (f, g) = (self.free_energy(v), self.free_energy(flipped.view()));
        ndarray::Zip::from(&f)
            .and(&g)
            .map_collect(|&f, &g| -(n as f64) * softplus(f - g))
    }

    /// Annealed importance sampling (Salakhutdinov & Murray 2008) with `runs` runs and `temperatures` inverse
    /// temperatures β_k = k/K (linear). The base model has W = 0, c = 0 and visible biases b_A = logit of the
    /// data's mean (clipped to [1e-3, 1 − 1e-3]), so log Z_A = H·ln 2 + Σ softplus(b_A). The intermediate
    /// models are log f_β(v) = (1 − β) b_Aᵀv + β bᵀv + Σ_j softplus(β(vW + c)_j); each temperature adds
    /// log f_{β_k}(v) − log f_{β_{k−1}}(v) to a run's weight, then one Gibbs sweep at β_k moves v (step k,
    /// phases 0 and 1; the base sample is step 0, phase 2).
    pub fn ais(
        &self,
        data_mean: ArrayView1<f32>,
        runs: usize,
        temperatures: u32,
        draws: Draws,
    ) -> Result<Ais> {
        if runs < 2 || temperatures < 1 || data_mean.len() != self.visible() {
            return Err(Error::Data(format!(
                "AIS needs at least 2 runs, 1 temperature and a data mean of {} values (got {runs} runs, \
                 {temperatures} temperatures, {} values)",
                self.visible(),
                data_mean.len()
            )));
        }
        let base = data_mean.mapv(|m| {
            let m = m.clamp(1e-3, 1.0 - 1e-3);
            libm::logf(m / (1.0 - m))
        });
        let log_za = self.hidden() as f64 * core::f64::consts::LN_2
            + base.iter().map(|&b| softplus(f64::from(b))).sum::<f64>();
        let p0 = Array2::from_shape_fn((runs, self.visible()), |(_, i)| sigmoid(base[i]));
        let mut v = draws.bernoulli(p0.view(), 0, 2);
        let mut log_w = vec![0.0f64; runs];
        // log f_β(v) of every run, from x = vW + c.
        let log_f = |v: &Array2<f32>, x: &Array2<f32>, beta: f32| -> Vec<f64> {
            let beta = f64::from(beta);
            v.rows()
                .into_iter()
                .zip(x.rows())
                .map(|(v, x)| {
                    let lin: f64 = (0..v.len())
                        .map(|i| {
                            f64::from(v[i])
                                * ((1.0 - beta) * f64::from(base[i]) + beta * f64::from(self.b[i]))
                        })
                        .sum();
                    lin + x
                        .iter()
                        .map(|&x| softplus(beta * f64::from(x)))
                        .sum::<f64>()
                })
                .collect()
        };
        for k in 1..=temperatures {
            let (prev, beta) = (
                (k - 1) as f32 / temperatures as f32,
                k as f32 / temperatures as f32,
            );
            let x = self.hidden_input(v.view());
            for ((w, a), b) in log_w
                .iter_mut()
                .zip(log_f(&v, &x, beta))
                .zip(log_f(&v, &x, prev))
            {
                *w += a - b;
            }
            if k < temperatures {
                let ph = x.mapv(|x| sigmoid(beta * x));
                let h = draws.bernoulli(ph.view(), k, 0);
                let pv = (dense::nt(h.view(), self.w.view()) + &self.b).mapv(|x| beta * x)
                    + base.mapv(|b| (1.0 - beta) * b);
                v = draws.bernoulli(pv.mapv(sigmoid).view(), k, 1);
            }
        }
        let log_mean = log_sum_exp(&log_w) - libm::log(runs as f64);
        // Weights relative to their mean: w/mean, whose sample sd over √M is the relative standard error.
        let rel: Vec<f64> = log_w.iter().map(|&w| libm::exp(w - log_mean)).collect();
        let var = rel.iter().map(|r| (r - 1.0) * (r - 1.0)).sum::<f64>() / (runs - 1) as f64;
        let se = libm::sqrt(var / runs as f64);
        let log_z = log_za + log_mean;
        let low = if 3.0 * se < 1.0 {
            log_z + libm::log(1.0 - 3.0 * se)
        } else {
            f64::NEG_INFINITY
        };
        Ok(Ais {
            log_z,
            std_err: se,
            three_sigma: (low, log_z + libm::log(1.0 + 3.0 * se)),
            log_weights: log_w,
        })
    }
}

/// The number of units to enumerate, or an error naming both layer sizes.
fn checked_layer(smaller: usize, larger: usize) -> Result<usize> {
    if smaller > MAX_ENUMERATED {
        return Err(Error::Data(format!(
            "exact enumeration of an RBM of {smaller} × {larger} units visits 2^{smaller} states; at most \
             {MAX_ENUMERATED} units in the smaller layer (use AIS)"
        )));
    }
    Ok(smaller)
}

/// Every binary state of `n` units, in blocks of at most 4,096 rows; state s has unit i = bit i of s.
fn enumeration(n: usize) -> impl Iterator<Item = Array2<f32>> {
    let total = 1usize << n;
    (0..total).step_by(4096).map(move |start| {
        let rows = (total - start).min(4096);
        Array2::from_shape_fn((rows, n), |(r, i)| ((start + r) >> i & 1) as f32)
    })
}

/// The binary state of `n` units whose unit i is bit i of `s` (the order of the exact enumeration).
pub fn state(s: usize, n: usize) -> Array1<f32> {
    Array1::from_shape_fn(n, |i| (s >> i & 1) as f32)
}

fn mean_squared(a: ArrayView2<f32>, b: ArrayView2<f32>) -> f32 {
    let sum: f64 = a
        .iter()
        .zip(b.iter())
        .map(|(&a, &b)| f64::from((a - b) * (a - b)))
        .sum();
    (sum / a.len().max(1) as f64) as f32
}

/// 1 where p > `level`, else 0 (the source shows reconstructions at 0.2, and binarises digits at 0.2).
pub fn threshold(p: ArrayView2<f32>, level: f32) -> Array2<f32> {
    p.mapv(|p| if p > level { 1.0 } else { 0.0 })
}

/// The source's corruption of square images stored as rows: image rows `from` onwards set to 0 (18 for 28 × 28
/// digits).
pub fn blank_rows(v: ArrayView2<f32>, width: usize, from: usize) -> Array2<f32> {
    let mut out = v.to_owned();
    let start = (from * width).min(out.ncols());
    out.slice_mut(s![.., start..]).fill(0.0);
    out
}

/// Training hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainConfig {
    /// Gibbs sweeps per update (CD-k, or the persistent chains' advance).
    pub k: u32,
    pub learning_rate: f32,
    pub momentum: f32,
    /// L2 decay λ on the weights only (not biases): the step adds −λ·W to the gradient before the rate and
    /// momentum, Δ ← m·Δ + η(g − λW), W ← W + Δ.
    pub weight_decay: f32,
    /// Persistent CD: the negative phase continues chains carried between updates instead of starting at the
    /// batch.
    pub persistent: bool,
}

impl TrainConfig {
    /// The source's settings: CD-1, rate 0.01, no momentum, no decay.
    pub fn source() -> Self {
        Self {
            k: 1,
            learning_rate: 0.01,
            momentum: 0.0,
            weight_decay: 0.0,
            persistent: false,
        }
    }
}

/// The CD estimate of the gradient (notes §4-4, the source's statistics): data terms with p(h|v) of the data,
/// model terms with p(h|v̂) of the samples `model_v` (the chains' visible states), each averaged over its rows.
pub fn contrast(rbm: &Rbm, data: ArrayView2<f32>, model_v: ArrayView2<f32>) -> Gradient {
    let (n, m) = (data.nrows().max(1) as f32, model_v.nrows().max(1) as f32);
    let (ph, qh) = (rbm.hidden_probs(data), rbm.hidden_probs(model_v));
    Gradient {
        w: contrastive(
            Phase {
                pre: data,
                post: ph.view(),
                norm: n,
            },
            Phase {
                pre: model_v,
                post: qh.view(),
                norm: m,
            },
        ),
        b: data.sum_axis(Axis(0)) / n - model_v.sum_axis(Axis(0)) / m,
        c: ph.sum_axis(Axis(0)) / n - qh.sum_axis(Axis(0)) / m,
    }
}

/// What training carries between updates: the momentum buffers, the persistent chains and the count of Gibbs
/// sweeps drawn so far (the step of the next draw, stream Rbm/TRAIN/layer).
#[derive(Clone, Debug, PartialEq)]
pub struct Trainer {
    pub config: TrainConfig,
    pub draws: Draws,
    /// Sweeps drawn so far.
    pub step: u32,
    pub velocity: Gradient,
    /// The persistent chains' visible states; they start at the first batch.
    pub chains: Option<Array2<f32>>,
}

impl Trainer {
    pub fn new(rbm: &Rbm, config: TrainConfig, seed: u32, layer: u32) -> Self {
        Self {
            config,
            draws: Draws::new(seed, group::TRAIN, layer),
            step: 0,
            velocity: Gradient {
                w: Array2::zeros(rbm.w.raw_dim()),
                b: Array1::zeros(rbm.visible()),
                c: Array1::zeros(rbm.hidden()),
            },
            chains: None,
        }
    }

    /// One update on a minibatch [rows, visible]; returns the source's loss before the update, mean((v − v̂)²)
    /// with v̂ the negative phase's sampled visible states (for PCD, [`Rbm::reconstruction_error`]).
    pub fn update(&mut self, rbm: &mut Rbm, batch: ArrayView2<f32>) -> f32 {
        let start = match (&self.chains, self.config.persistent) {
            (Some(c), true) => c.clone(),
            _ => batch.to_owned(),
        };
        let (v, _) = rbm.gibbs(start, self.config.k, self.draws, self.step);
        self.step = self.step.wrapping_add(self.config.k);
        let g = contrast(rbm, batch, v.view());
        // The chains of PCD are not the batch's reconstructions: their loss is the mean-field one.
        let loss = if self.config.persistent {
            rbm.reconstruction_error(batch)
        } else {
            mean_squared(batch, v.view())
        };
        let TrainConfig {
            learning_rate: lr,
            momentum: m,
            weight_decay: decay,
            ..
        } = self.config;
        let vel = &mut self.velocity;
        ndarray::Zip::from(&mut vel.w)
            .and(&g.w)
            .and(&rbm.w)
            .for_each(|d, &g, &w| *d = m * *d + lr * (g - decay * w));
        ndarray::Zip::from(&mut vel.b)
            .and(&g.b)
            .for_each(|d, &g| *d = m * *d + lr * g);
        ndarray::Zip::from(&mut vel.c)
            .and(&g.c)
            .for_each(|d, &g| *d = m * *d + lr * g);
        rbm.w += &vel.w;
        rbm.b += &vel.b;
        rbm.c += &vel.c;
        if self.config.persistent {
            self.chains = Some(v);
        }
        loss
    }

    /// One pass over `data` in minibatches of `batch` rows, in order (as the source); the mean of the batches'
    /// losses.
    pub fn epoch(&mut self, rbm: &mut Rbm, data: ArrayView2<f32>, batch: usize) -> f32 {
        let mut sum = 0.0f32;
        let mut count = 0;
        for b in data.axis_chunks_iter(Axis(0), batch.max(1)) {
            sum += self.update(rbm, b);
            count += 1;
        }
        sum / count.max(1) as f32
    }
}

/// A deep belief net: RBMs stacked greedily, each trained on the hidden probabilities of the one below.
#[derive(Clone, Debug, PartialEq)]
pub struct Dbn {
    pub layers: Vec<Rbm>,
}

impl Dbn {
    /// Greedy layer-wise pre-training (notes §4-5): layer l (seeded with index l) learns for `epochs` passes on
    /// p(h|·) of the layer below (the data for layer 0).
    pub fn pretrain(
        data: ArrayView2<f32>,
        hidden: &[usize],
        config: TrainConfig,
        epochs: usize,
        batch: usize,
        seed: u32,
    ) -> Self {
        let mut layers = Vec::with_capacity(hidden.len());
        let mut x = data.to_owned();
        for (l, &h) in hidden.iter().enumerate() {
            let mut rbm = Rbm::new(x.ncols(), h, seed, l as u32);
            let mut trainer = Trainer::new(&rbm, config, seed, l as u32);
            for _ in 0..epochs {
                trainer.epoch(&mut rbm, x.view(), batch);
            }
            x = rbm.hidden_probs(x.view());
            layers.push(rbm);
        }
        Self { layers }
    }

    /// The hidden probabilities of layer `depth` (the input itself at depth 0).
    pub fn features(&self, x: ArrayView2<f32>, depth: usize) -> Array2<f32> {
        let mut x = x.to_owned();
        for rbm in &self.layers[..depth.min(self.layers.len())] {
            x = rbm.hidden_probs(x.view());
        }
        x
    }

    /// The test accuracy of a softmax read-out on the features of every depth 0..=layers (depth 0: pixels):
    /// [`Probe`] with dropout off (plain softmax regression, Adam lr 1e-3), `epochs` passes in minibatches of
    /// 50 in order.
    pub fn readout_accuracies(
        &self,
        train: (ArrayView2<f32>, &[u8]),
        test: (ArrayView2<f32>, &[u8]),
        classes: usize,
        epochs: usize,
        seed: u32,
    ) -> Vec<f64> {
        (0..=self.layers.len())
            .map(|depth| {
                let (x, t) = (self.features(train.0, depth), self.features(test.0, depth));
                let mut probe = Probe::new(x.ncols(), classes, seed);
                probe.dropout = 0.0;
                for _ in 0..epochs {
                    for (xb, yb) in x.axis_chunks_iter(Axis(0), 50).zip(train.1.chunks(50)) {
                        probe.train_batch(xb, yb);
                    }
                }
                let mut c = Confusion::new(classes);
                c.add(test.1, &probe.predict(t.view()));
                c.accuracy()
            })
            .collect()
    }
}
