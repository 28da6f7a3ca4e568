//! Contrastive Hebbian learning (lecture 004 §5; Detorakis et al. 2018): a layered network of sigmoid units
//! x_0 (input) … x_L (output) whose layers settle by forward-Euler steps of
//! dx_k/dt = −x_k + f(x_{k−1} W_{k−1} + γ x_{k+1} W_kᵀ + b_{k−1}), first free (input clamped), then clamped
//! (input and target clamped), and which learns from the difference of the two phases' Hebbian products:
//! W_k += η γ^{k−L} (x̂_kᵀ x̂_{k+1} − x̌_kᵀ x̌_{k+1}) and b_k += η γ^{k−L} ⟨x̂_{k+1} − x̌_{k+1}⟩ (hat: clamped,
//! check: free). The prediction is the argmax of the free phase's output.
//!
//! As the listing `12.ContrastiveHebb.py` (L3083-3150), which the slides' typos (notes §5-1) do not change:
//! - W_k is [n_k, n_{k+1}] (x·W), every state starts at 0 except the clamped ones, the free phase updates
//!   k = 1 … L in order within a step (layer k sees layer k − 1's new state and layer k + 1's old one; the
//!   output has no feedback), the clamped phase updates the hidden layers 1 … L − 1 only;
//! - the number of Euler steps is the length of `np.arange(1, T + 1, dt)`, ⌈T/dt⌉ ([`euler_steps`]: 20 for
//!   T = 10, dt = 0.5);
//! - the weights' update is summed over the batch and the biases' averaged: we keep both, so that the source's
//!   η = 0.01 with batches of 10 means what it meant there (a mean would be a rate ten times smaller), and its
//!   0.9675 stays a reference; the cost is that the weights' step grows with the batch size;
//! - initial W_k and b_k ~ N(0, 0.01²): numpy's `normal(0, 0.01)` takes the standard deviation.
//!
//! Products go through `nets::dense` (one summation order natively and in wasm). The input's drive x_0 W_0
//! does not change during a phase and is computed once: the same bits as recomputing it every step.
use crate::error::{Error, FieldError, Result};
use crate::nets::dense;
use crate::plasticity::{Phase, contrastive};
use crate::rng::{self, Purpose};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};

/// Stream groups of [`Purpose::Chl`]; the stream's index is the layer k, entry j from word j % 4 of normal4
/// counter [j / 4, 0, 0, 0] (row-major).
const GROUP_WEIGHTS: u32 = 0;
const GROUP_BIASES: u32 = 1;

/// The initial parameters' standard deviation (the listing's `normal(0, 0.01)`).
pub const INIT_STD: f32 = 0.01;

/// The dynamics and learning settings; `Default` is the listing's.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    /// η.
    pub rate: f32,
    /// γ, the feedback gain.
    pub gamma: f32,
    /// The simulated time T of each phase.
    pub time: f32,
    /// The Euler step dt.
    pub dt: f32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            rate: 0.01,
            gamma: 0.5,
            time: 10.0,
            dt: 0.5,
        }
    }
}

impl Settings {
    pub fn steps(&self) -> usize {
        euler_steps(self.time, self.dt)
    }
}

/// The number of Euler steps in a phase: the length of the listing's `np.arange(1, T + 1, dt)`, which numpy
/// computes as ⌈((T + 1) − 1)/dt⌉ in f64.
pub fn euler_steps(time: f32, dt: f32) -> usize {
    let n = (f64::from(time) / f64::from(dt)).ceil();
    if n.is_finite() && n > 0.0 {
        n as usize
    } else {
        0
    }
}

/// The rate of layer k's update, η γ^{k−L} for a net of L weight layers (C0 = 0.04, C1 = 0.02 for the
/// listing's η = 0.01, γ = 0.5, L = 2).
pub fn layer_rate(rate: f32, gamma: f32, k: usize, layers: usize) -> f32 {
    rate * libm::powf(gamma, k as f32 - layers as f32)
}

/// Whole batches in one pass over `examples` (the listing's `int(n / b_size)`: a last partial batch is
/// dropped).
pub fn batches(examples: usize, batch: usize) -> usize {
    examples.checked_div(batch).unwrap_or(0)
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + libm::expf(-x))
}

/// A CHL network's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct Chl {
    /// W_k, [n_k, n_{k+1}] for k = 0 … L − 1.
    pub w: Vec<Array2<f32>>,
    /// b_k, [n_{k+1}].
    pub b: Vec<Array1<f32>>,
}

/// Every layer's state of one example at every Euler step of both phases (step 0: the initial states), for
/// plots: `free[t][k]` and `clamped[t][k]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Trace {
    pub free: Vec<Vec<Array1<f32>>>,
    pub clamped: Vec<Vec<Array1<f32>>>,
}

impl Chl {
    /// A network of `sizes` = [n_0, …, n_L] (at least two layers, none empty) with W_k and b_k ~ N(0, 0.01²)
    /// from (seed, stream(Chl, group, k)).
    pub fn new(sizes: &[usize], seed: u32) -> Result<Self> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(Error::Invalid(vec![FieldError::new(
                "sizes",
                format!("at least two layers of at least one unit (got {sizes:?})"),
            )]));
        }
        let normals = |rows: usize, cols: usize, group: u32, k: usize| {
            let key = [seed, rng::stream(Purpose::Chl, group, k as u32)];
            let mut draws = [0f32; 4];
            let mut out = Array2::zeros((rows, cols));
            for (j, v) in out.iter_mut().enumerate() {
                if j % 4 == 0 {
                    draws = rng::normal4([(j / 4) as u32, 0, 0, 0], key);
                }
                *v = INIT_STD * draws[j % 4];
            }
            out
        };
        let pairs = sizes.windows(2).enumerate();
        Ok(Self {
            w: pairs
                .clone()
                .map(|(k, p)| normals(p[0], p[1], GROUP_WEIGHTS, k))
                .collect(),
            b: pairs
                .map(|(k, p)| normals(1, p[1], GROUP_BIASES, k).remove_axis(Axis(0)))
                .collect(),
        })
    }

    /// L, the number of weight layers.
    pub fn layers(&self) -> usize {
        self.w.len()
    }

    /// [n_0, …, n_L].
    pub fn sizes(&self) -> Vec<usize> {
        let mut s: Vec<usize> = self.w.iter().map(|w| w.nrows()).collect();
        s.extend(self.w.last().map(|w| w.ncols()));
        s
    }

    /// One phase from the initial states `x` (x[0] the input; x[L] the target when `clamped`), layers
    /// 1 … L (free) or 1 … L − 1 (clamped) updated in order within each step; `record` receives the states
    /// before the first step and after every step.
    fn settle(
        &self,
        mut x: Vec<Array2<f32>>,
        clamped: bool,
        s: &Settings,
        mut record: impl FnMut(&[Array2<f32>]),
    ) -> Vec<Array2<f32>> {
        let l = self.layers();
        let last = if clamped { l - 1 } else { l };
        let drive0 = dense::nn(x[0].view(), self.w[0].view());
        record(&x);
        for _ in 0..s.steps() {
            for k in 1..=last {
                let mut a = if k == 1 {
                    drive0.clone()
                } else {
                    dense::nn(x[k - 1].view(), self.w[k - 1].view())
                };
                if k < l {
                    a.scaled_add(s.gamma, &dense::nt(x[k + 1].view(), self.w[k].view()));
                }
                a += &self.b[k - 1];
                ndarray::Zip::from(&mut x[k])
                    .and(&a)
                    .for_each(|x, &a| *x += s.dt * (-*x + sigmoid(a)));
            }
            record(&x);
        }
        x
    }

    /// Zero states for a batch of `n`, with x[0] = `input`.
    fn start(&self, input: ArrayView2<f32>) -> Vec<Array2<f32>> {
        let n = input.nrows();
        let mut x: Vec<Array2<f32>> = self
            .sizes()
            .into_iter()
            .map(|m| Array2::zeros((n, m)))
            .collect();
        x[0] = input.to_owned();
        x
    }

    /// The free phase of a batch `input` [N, n_0] (rows of n_0 values, or the products panic): every layer's
    /// final state.
    pub fn free(&self, input: ArrayView2<f32>, s: &Settings) -> Vec<Array2<f32>> {
        self.settle(self.start(input), false, s, |_| {})
    }

    /// The clamped phase of a batch with its `target` [N, n_L]: every layer's final state.
    pub fn clamped(
        &self,
        input: ArrayView2<f32>,
        target: ArrayView2<f32>,
        s: &Settings,
    ) -> Vec<Array2<f32>> {
        let mut x = self.start(input);
        x[self.layers()] = target.to_owned();
        self.settle(x, true, s, |_| {})
    }

    /// The update from both phases' final states (`free` x̌, `clamped` x̂): W_k += η γ^{k−L} (x̂_kᵀ x̂_{k+1} −
    /// x̌_kᵀ x̌_{k+1}) summed over the batch, b_k += η γ^{k−L} times the batch's mean of x̂_{k+1} − x̌_{k+1}.
    pub fn update(&mut self, free: &[Array2<f32>], clamped: &[Array2<f32>], s: &Settings) {
        let l = self.layers();
        let rates: Vec<f32> = (0..l).map(|k| layer_rate(s.rate, s.gamma, k, l)).collect();
        self.update_with(free, clamped, &rates);
    }

    /// [`Chl::update`] with the rate of each layer given (`rates[k]` for W_k and b_k; one per weight layer):
    /// the lab's switch that turns the γ^{k−L} scaling off passes η for every layer.
    pub fn update_with(&mut self, free: &[Array2<f32>], clamped: &[Array2<f32>], rates: &[f32]) {
        let l = self.layers();
        for k in 0..l {
            let c = rates[k];
            // Summed over the batch, as the lecture's code (norm 1).
            let dw = contrastive(
                Phase {
                    pre: clamped[k].view(),
                    post: clamped[k + 1].view(),
                    norm: 1.0,
                },
                Phase {
                    pre: free[k].view(),
                    post: free[k + 1].view(),
                    norm: 1.0,
                },
            );
            self.w[k].scaled_add(c, &dw);
            let db = (&clamped[k + 1] - &free[k + 1])
                .mean_axis(Axis(0))
                .unwrap_or_else(|| Array1::zeros(self.b[k].len()));
            self.b[k].scaled_add(c, &db);
        }
    }

    /// One learning step on a batch: both phases, then the update.
    pub fn train_batch(&mut self, input: ArrayView2<f32>, target: ArrayView2<f32>, s: &Settings) {
        let free = self.free(input, s);
        let clamped = self.clamped(input, target, s);
        self.update(&free, &clamped, s);
    }

    /// The argmax of the free phase's output for every row of `input` (the first of equal values).
    pub fn predict(&self, input: ArrayView2<f32>, s: &Settings) -> Vec<usize> {
        let out = self.free(input, s);
        out[self.layers()]
            .rows()
            .into_iter()
            .map(|r| {
                r.iter()
                    .enumerate()
                    .fold((0, f32::NEG_INFINITY), |best, (i, &v)| {
                        if v > best.1 { (i, v) } else { best }
                    })
                    .0
            })
            .collect()
    }

    /// Every layer's state at every Euler step of both phases for one example `input` [n_0] with `target`
    /// [n_L].
    pub fn trace(&self, input: ArrayView1<f32>, target: ArrayView1<f32>, s: &Settings) -> Trace {
        let rows = |x: &[Array2<f32>]| x.iter().map(|a| a.row(0).to_owned()).collect::<Vec<_>>();
        let input = input.insert_axis(Axis(0));
        let mut free = Vec::new();
        self.settle(self.start(input), false, s, |x| free.push(rows(x)));
        let mut x = self.start(input);
        x[self.layers()] = target.insert_axis(Axis(0)).to_owned();
        let mut clamped = Vec::new();
        self.settle(x, true, s, |x| clamped.push(rows(x)));
        Trace { free, clamped }
    }
}
