//! The credit-assignment lab's network (source 003, "Microlearning"): a multilayer perceptron
//! inputs → hidden → classes with a chosen hidden activation, optional biases and a softmax output, trained on
//! the mean negative log-likelihood by the source's BasicOptimizer (SGD with optional weight decay, one rate per
//! layer) under one of several learning rules, which differ only in the update each proposes:
//!
//! - backprop: the loss's gradient;
//! - Hebbian: each layer's batch-averaged outer product of its output and its input (`plasticity::batch_delta`,
//!   Hebb's rule or Oja's), centred around 0 over the layer's units and negated (the optimiser subtracts it);
//!   the output layer's post-synaptic activity clamped to the one-hot targets, or not;
//! - hybrid: Hebbian first layer, backprop second layer;
//! - node perturbation: the units' pre-activations jittered by σ·ξ, ĝ = ΔL·ξ/σ per unit, then through each
//!   layer's (clean) input;
//! - weight perturbation: every weight jittered by σ·Ξ, ĝ = ΔL·Ξ/σ;
//! - feedback alignment: backprop with the output error sent back through a fixed random matrix B instead of W₂ᵀ;
//! - Kolen-Pollack: feedback alignment where B learns with the transpose of W₂'s update and the same decay, so
//!   that B − W₂ᵀ shrinks by (1 − η·λ) each step.
//!
//! Where we depart from the source's listing: its commented-out "Oja" line subtracts ⟨y²⟩·Δw averaged over the
//! batch, which is not Oja's rule; we use Oja's rule, Δw = ⟨y (x − y w)⟩, through `plasticity`.
//! Perturbation, feedback alignment and Kolen-Pollack are the source's suggested extensions (its section 5 has
//! no code); they follow Werfel et al. 2005 (perturbation), Lillicrap et al. 2016 and Akrout et al. 2019.
//!
//! Products go through `nets::dense`, whose sums have one order on every CPU and in wasm: the perturbation rules
//! amplify a rounding difference into another run, and a permalink must reproduce a run on either engine.
//!
//! Every random number (initial weights, feedback matrix, perturbations) comes from Philox keyed by the run's
//! seed and a stream of `Purpose::Mlp`, so one seed gives every rule the same initial network.
use crate::nets::dense;
use crate::plasticity::{self, Rule as PlasticityRule};
use crate::rng::{self, Purpose};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The hidden layer's activation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// 1/(1 + e⁻ˣ), into (0, 1).
    #[schemars(title = "sigmoid")]
    Sigmoid,
    /// Into (−1, 1).
    #[schemars(title = "tanh")]
    Tanh,
    /// max(0, x).
    #[schemars(title = "ReLU")]
    Relu,
    /// x: the network is then linear.
    #[schemars(title = "identity")]
    Identity,
}

impl Activation {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Sigmoid => 1.0 / (1.0 + libm::expf(-x)),
            Activation::Tanh => libm::tanhf(x),
            Activation::Relu => x.max(0.0),
            Activation::Identity => x,
        }
    }

    /// f′ at the pre-activation `pre` whose value is `post` = f(pre).
    pub fn derivative(self, pre: f32, post: f32) -> f32 {
        match self {
            Activation::Sigmoid => post * (1.0 - post),
            Activation::Tanh => 1.0 - post * post,
            Activation::Relu => {
                if pre > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Activation::Identity => 1.0,
        }
    }
}

/// Which update a training step applies.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Rule {
    Backprop,
    /// Hebbian learning in both layers; `clamp`: the output layer learns from the one-hot targets instead of
    /// its own output; `oja`: Oja's rule instead of Hebb's.
    Hebbian {
        clamp: bool,
        oja: bool,
    },
    /// Hebbian first layer (Hebb's rule), backprop second layer.
    Hybrid,
    /// Node perturbation with noise of standard deviation `sigma` on every pre-activation.
    NodePerturbation {
        sigma: f32,
    },
    /// Weight perturbation with noise of standard deviation `sigma` on every weight and bias.
    WeightPerturbation {
        sigma: f32,
    },
    FeedbackAlignment,
    KolenPollack,
}

/// The network's parameters, and the feedback matrix B [hidden, classes] of feedback alignment and
/// Kolen-Pollack (unused by the other rules).
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    pub activation: Activation,
    /// [hidden, inputs] and [hidden].
    pub w1: Array2<f32>,
    pub b1: Option<Array1<f32>>,
    /// [classes, hidden] and [classes].
    pub w2: Array2<f32>,
    pub b2: Option<Array1<f32>>,
    pub feedback: Array2<f32>,
}

/// What one forward pass computes for a batch [N, inputs].
#[derive(Clone, Debug)]
pub struct Forward {
    pub pre1: Array2<f32>,
    pub h: Array2<f32>,
    pub logits: Array2<f32>,
    /// The softmax of the logits.
    pub probs: Array2<f32>,
}

/// The update a rule proposes, in the optimiser's sign: each parameter moves by −η·(g + λ·p). `feedback` is
/// Kolen-Pollack's update of B.
#[derive(Clone, Debug, PartialEq)]
pub struct Update {
    pub w1: Array2<f32>,
    pub b1: Option<Array1<f32>>,
    pub w2: Array2<f32>,
    pub b2: Option<Array1<f32>>,
    pub feedback: Option<Array2<f32>>,
}

impl Update {
    /// The first layer's update (weights, then biases) and the second's, flat: what the gradient metrics
    /// compare per layer.
    pub fn layers(&self) -> [Vec<f32>; 2] {
        let flat = |w: &Array2<f32>, b: &Option<Array1<f32>>| {
            let mut v: Vec<f32> = w.iter().copied().collect();
            if let Some(b) = b {
                v.extend(b.iter());
            }
            v
        };
        [flat(&self.w1, &self.b1), flat(&self.w2, &self.b2)]
    }
}

/// PyTorch's `nn.Linear` initialisation, U(−1/√fan_in, 1/√fan_in) for weights and biases: entry j of `group`
/// from word j mod 4 of philox([j/4, 0, 0, 0], (seed, stream(Mlp, group, 0))).
fn uniform_init(rows: usize, cols: usize, bound: f32, seed: u32, group: u32) -> Array2<f32> {
    let key = [seed, rng::stream(Purpose::Mlp, group, 0)];
    let mut words = [0u32; 4];
    let mut out = Array2::zeros((rows, cols));
    for (j, v) in out.iter_mut().enumerate() {
        if j % 4 == 0 {
            words = rng::philox4x32([(j / 4) as u32, 0, 0, 0], key);
        }
        *v = bound * (2.0 * rng::uniform(words[j % 4]) - 1.0);
    }
    out
}

/// Stream groups of [`Purpose::Mlp`].
const GROUP_W1: u32 = 0;
const GROUP_B1: u32 = 1;
const GROUP_W2: u32 = 2;
const GROUP_B2: u32 = 3;
const GROUP_FEEDBACK: u32 = 4;
/// Perturbations: the training step in the counter.
const GROUP_NOISE: u32 = 5;

/// The stream of the perturbations' key (seed, stream), shared with kernels/mlp.wgsl.
pub(crate) fn noise_stream() -> u32 {
    rng::stream(Purpose::Mlp, GROUP_NOISE, 0)
}

/// Standard normals of `shape` for perturbation `index` of step `step`: entry j from philox([step, step >> 32,
/// j/4, index], (seed, stream(Mlp, 5, 0))).
fn normals(shape: (usize, usize), seed: u32, step: u64, index: u32) -> Array2<f32> {
    let key = [seed, noise_stream()];
    let mut draws = [0f32; 4];
    let mut out = Array2::zeros(shape);
    for (j, v) in out.iter_mut().enumerate() {
        if j % 4 == 0 {
            draws = rng::normal4(
                [step as u32, (step >> 32) as u32, (j / 4) as u32, index],
                key,
            );
        }
        *v = draws[j % 4];
    }
    out
}

/// Row-wise softmax.
fn softmax(logits: &Array2<f32>) -> Array2<f32> {
    let mut p = logits.clone();
    for mut row in p.axis_iter_mut(Axis(0)) {
        let max = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        row.mapv_inplace(|v| libm::expf(v - max));
        let sum = row.sum();
        row.mapv_inplace(|v| v / sum);
    }
    p
}

/// Each row's −log p(label), computed stably from the logits.
pub fn losses(logits: ArrayView2<f32>, labels: &[u8]) -> Array1<f32> {
    Array1::from_iter(logits.axis_iter(Axis(0)).zip(labels).map(|(row, &l)| {
        let max = row.fold(f32::NEG_INFINITY, |a, &b| a.max(b));
        let sum: f32 = row.iter().map(|&v| libm::expf(v - max)).sum();
        max + libm::logf(sum) - row[usize::from(l)]
    }))
}

/// Mean of `v` (0 for none).
fn mean(v: &Array1<f32>) -> f32 {
    v.mean().unwrap_or(0.0)
}

/// One-hot rows of `labels` over `classes`.
pub fn one_hot(labels: &[u8], classes: usize) -> Array2<f32> {
    let mut t = Array2::zeros((labels.len(), classes));
    for (i, &l) in labels.iter().enumerate() {
        t[[i, usize::from(l)]] = 1.0;
    }
    t
}

/// `post`ᵀ·`pre`/N through `plasticity::batch_delta` (Hebb's or Oja's rule), centred around 0 over the
/// layer's units and negated, with the biases' ⟨post⟩ centred and negated likewise (the source's
/// `HebbianFunction.backward`).
fn hebbian(
    pre: ArrayView2<f32>,
    post: ArrayView2<f32>,
    w: ArrayView2<f32>,
    oja: bool,
    bias: bool,
) -> (Array2<f32>, Option<Array1<f32>>) {
    let (n_in, n_out) = (pre.ncols(), post.ncols());
    let rule = if oja {
        PlasticityRule::Oja
    } else {
        PlasticityRule::Hebb
    };
    let mut dw = plasticity::batch_delta(
        rule,
        pre,
        post,
        w,
        Array1::zeros(n_in).view(),
        Array1::zeros(n_out).view(),
    );
    let centre = dw.mean_axis(Axis(0)).expect("at least one unit");
    dw -= &centre;
    dw.mapv_inplace(|v| -v);
    let db = bias.then(|| {
        let m = post.mean_axis(Axis(0)).expect("at least one example");
        let c = mean(&m);
        m.mapv(|v| -(v - c))
    });
    (dw, db)
}

impl Mlp {
    /// A network of `inputs` → `hidden` → `classes` with PyTorch's default initialisation from `seed` (the same
    /// for every rule), and B drawn like W₂ᵀ from its own stream.
    pub fn new(
        inputs: usize,
        hidden: usize,
        classes: usize,
        activation: Activation,
        bias: bool,
        seed: u32,
    ) -> Self {
        let (k1, k2) = (
            1.0 / (inputs.max(1) as f32).sqrt(),
            1.0 / (hidden.max(1) as f32).sqrt(),
        );
        let column = |rows: usize, bound: f32, group: u32| {
            uniform_init(1, rows, bound, seed, group).remove_axis(Axis(0))
        };
        Self {
            activation,
            w1: uniform_init(hidden, inputs, k1, seed, GROUP_W1),
            b1: bias.then(|| column(hidden, k1, GROUP_B1)),
            w2: uniform_init(classes, hidden, k2, seed, GROUP_W2),
            b2: bias.then(|| column(classes, k2, GROUP_B2)),
            feedback: uniform_init(hidden, classes, k2, seed, GROUP_FEEDBACK),
        }
    }

    pub fn inputs(&self) -> usize {
        self.w1.ncols()
    }

    pub fn hidden(&self) -> usize {
        self.w1.nrows()
    }

    pub fn classes(&self) -> usize {
        self.w2.nrows()
    }

    /// The forward pass of a batch x [N, inputs], optionally with noise added to the hidden and output
    /// pre-activations (node perturbation).
    fn forward_with(
        &self,
        x: ArrayView2<f32>,
        noise: Option<(&Array2<f32>, &Array2<f32>)>,
    ) -> Forward {
        let mut pre1 = dense::nt(x, self.w1.view());
        if let Some(b) = &self.b1 {
            pre1 += b;
        }
        if let Some((n1, _)) = noise {
            pre1 += n1;
        }
        let h = pre1.mapv(|v| self.activation.apply(v));
        let mut logits = dense::nt(h.view(), self.w2.view());
        if let Some(b) = &self.b2 {
            logits += b;
        }
        if let Some((_, n2)) = noise {
            logits += n2;
        }
        let probs = softmax(&logits);
        Forward {
            pre1,
            h,
            logits,
            probs,
        }
    }

    pub fn forward(&self, x: ArrayView2<f32>) -> Forward {
        self.forward_with(x, None)
    }

    /// Mean negative log-likelihood of `labels` for a batch.
    pub fn loss(&self, x: ArrayView2<f32>, labels: &[u8]) -> f32 {
        mean(&losses(self.forward(x).logits.view(), labels))
    }

    /// The gradient of the mean loss through the output error sent back by `back` [classes, hidden] (W₂ for
    /// backprop, Bᵀ for feedback alignment and Kolen-Pollack).
    fn error_driven(
        &self,
        x: ArrayView2<f32>,
        f: &Forward,
        labels: &[u8],
        back: ArrayView2<f32>,
    ) -> Update {
        let n = x.nrows().max(1) as f32;
        let mut dlogits = &f.probs - &one_hot(labels, self.classes());
        dlogits.mapv_inplace(|v| v / n);
        let w2 = dense::tn(dlogits.view(), f.h.view());
        let b2 = self.b2.as_ref().map(|_| dlogits.sum_axis(Axis(0)));
        let mut d1 = dense::nn(dlogits.view(), back);
        ndarray::Zip::from(&mut d1)
            .and(&f.pre1)
            .and(&f.h)
            .for_each(|d, &pre, &post| *d *= self.activation.derivative(pre, post));
        let w1 = dense::tn(d1.view(), x);
        let b1 = self.b1.as_ref().map(|_| d1.sum_axis(Axis(0)));
        Update {
            w1,
            b1,
            w2,
            b2,
            feedback: None,
        }
    }

    /// The gradient of the mean loss (backprop).
    pub fn gradient(&self, x: ArrayView2<f32>, labels: &[u8]) -> Update {
        let f = self.forward(x);
        self.error_driven(x, &f, labels, self.w2.view())
    }

    /// The update `rule` proposes for a batch (x [N, inputs], one label each). `seed` and `step` key the
    /// perturbations' noise.
    pub fn update(
        &self,
        rule: Rule,
        x: ArrayView2<f32>,
        labels: &[u8],
        seed: u32,
        step: u64,
    ) -> Update {
        self.update_from(rule, x, &self.forward(x), labels, seed, step)
    }

    /// [`Mlp::update`] from the batch's forward pass `f`, already computed.
    pub fn update_from(
        &self,
        rule: Rule,
        x: ArrayView2<f32>,
        f: &Forward,
        labels: &[u8],
        seed: u32,
        step: u64,
    ) -> Update {
        match rule {
            Rule::Backprop => self.error_driven(x, f, labels, self.w2.view()),
            Rule::FeedbackAlignment => self.error_driven(x, f, labels, self.feedback.t()),
            Rule::KolenPollack => {
                let mut u = self.error_driven(x, f, labels, self.feedback.t());
                u.feedback = Some(u.w2.t().to_owned());
                u
            }
            Rule::Hebbian { clamp, oja } => {
                let (w1, b1) = hebbian(x, f.h.view(), self.w1.view(), oja, self.b1.is_some());
                let post = if clamp {
                    one_hot(labels, self.classes())
                } else {
                    f.probs.clone()
                };
                let (w2, b2) = hebbian(
                    f.h.view(),
                    post.view(),
                    self.w2.view(),
                    oja,
                    self.b2.is_some(),
                );
                Update {
                    w1,
                    b1,
                    w2,
                    b2,
                    feedback: None,
                }
            }
            Rule::Hybrid => {
                let (w1, b1) = hebbian(x, f.h.view(), self.w1.view(), false, self.b1.is_some());
                let bp = self.error_driven(x, f, labels, self.w2.view());
                Update { w1, b1, ..bp }
            }
            Rule::NodePerturbation { sigma } => {
                self.node_perturbation(x, f, labels, sigma, seed, step)
            }
            Rule::WeightPerturbation { sigma } => {
                self.weight_perturbation(x, labels, sigma, seed, step)
            }
        }
    }

    /// Node perturbation: every example's hidden and output pre-activations jittered by σ·ξ at once; with
    /// ΔL_n the change of its loss, ĝ(a_n) = ΔL_n·ξ_n/(σ·N) estimates the mean loss's gradient with respect to
    /// a_n (E[ξ ξᵀ] = I), then each layer's update is ĝᵀ·(its clean input).
    fn node_perturbation(
        &self,
        x: ArrayView2<f32>,
        f: &Forward,
        labels: &[u8],
        sigma: f32,
        seed: u32,
        step: u64,
    ) -> Update {
        let n = x.nrows();
        let xi1 = normals((n, self.hidden()), seed, step, 0);
        let xi2 = normals((n, self.classes()), seed, step, 1);
        let (n1, n2) = (xi1.mapv(|v| v * sigma), xi2.mapv(|v| v * sigma));
        let noisy = self.forward_with(x, Some((&n1, &n2)));
        let delta = losses(noisy.logits.view(), labels) - losses(f.logits.view(), labels);
        let scale = delta
            .mapv(|d| d / (sigma * n.max(1) as f32))
            .insert_axis(Axis(1));
        let g1 = &xi1 * &scale;
        let g2 = &xi2 * &scale;
        Update {
            w1: dense::tn(g1.view(), x),
            b1: self.b1.as_ref().map(|_| g1.sum_axis(Axis(0))),
            w2: dense::tn(g2.view(), f.h.view()),
            b2: self.b2.as_ref().map(|_| g2.sum_axis(Axis(0))),
            feedback: None,
        }
    }

    /// Weight perturbation: every weight and bias jittered by σ·Ξ at once; ĝ = ΔL·Ξ/σ with ΔL the change of
    /// the batch's mean loss (E[Ξ Ξᵀ] = I).
    fn weight_perturbation(
        &self,
        x: ArrayView2<f32>,
        labels: &[u8],
        sigma: f32,
        seed: u32,
        step: u64,
    ) -> Update {
        let xi = [
            normals(self.w1.dim(), seed, step, 0),
            normals((1, self.hidden()), seed, step, 1),
            normals(self.w2.dim(), seed, step, 2),
            normals((1, self.classes()), seed, step, 3),
        ];
        let mut noisy = self.clone();
        noisy.w1.scaled_add(sigma, &xi[0]);
        noisy.w2.scaled_add(sigma, &xi[2]);
        if let Some(b) = &mut noisy.b1 {
            b.scaled_add(sigma, &xi[1].row(0));
        }
        if let Some(b) = &mut noisy.b2 {
            b.scaled_add(sigma, &xi[3].row(0));
        }
        let delta = noisy.loss(x, labels) - self.loss(x, labels);
        let k = delta / sigma;
        let row = |a: &Array2<f32>| a.row(0).mapv(|v| v * k);
        Update {
            w1: xi[0].mapv(|v| v * k),
            b1: self.b1.as_ref().map(|_| row(&xi[1])),
            w2: xi[2].mapv(|v| v * k),
            b2: self.b2.as_ref().map(|_| row(&xi[3])),
            feedback: None,
        }
    }

    /// The angle in degrees between B and W₂ᵀ (0: B sends back what backprop would).
    pub fn feedback_angle(&self) -> f32 {
        angle(self.feedback.view(), self.w2.t())
    }
}

/// The angle in degrees between two matrices seen as vectors (90 when either is zero).
pub fn angle(a: ArrayView2<f32>, b: ArrayView2<f32>) -> f32 {
    let c = cosine(a.iter().copied(), b.iter().copied());
    if c.is_nan() {
        90.0
    } else {
        c.clamp(-1.0, 1.0).acos().to_degrees() as f32
    }
}

/// Cosine similarity of two vectors, in f64 (NaN when either is zero: undefined, as the source's warning says).
pub fn cosine(a: impl Iterator<Item = f32>, b: impl Iterator<Item = f32>) -> f64 {
    let mut c = Cosine::default();
    c.add(a, b);
    c.value()
}

/// The cosine similarity of two long vectors given in pieces (e.g. a layer's updates over several batches),
/// summed in f64.
#[derive(Clone, Copy, Debug, Default)]
pub struct Cosine {
    ab: f64,
    aa: f64,
    bb: f64,
}

impl Cosine {
    pub fn add(&mut self, a: impl Iterator<Item = f32>, b: impl Iterator<Item = f32>) {
        for (x, y) in a.zip(b) {
            let (x, y) = (f64::from(x), f64::from(y));
            self.ab += x * y;
            self.aa += x * x;
            self.bb += y * y;
        }
    }

    /// NaN when either vector is zero.
    pub fn value(&self) -> f64 {
        if self.aa == 0.0 || self.bb == 0.0 {
            f64::NAN
        } else {
            self.ab / (self.aa.sqrt() * self.bb.sqrt())
        }
    }
}

/// The source's gradient SNR of one layer over examples, accumulated one example's update at a time (Welford's
/// running mean and sum of squared deviations, in f64), so that no list of updates is held: for each parameter
/// |mean| / (std + 10⁻⁷) across the examples (population std, NumPy's default), averaged over the layer's
/// parameters.
#[derive(Clone, Debug)]
pub struct Snr {
    count: f64,
    mean: Vec<f64>,
    m2: Vec<f64>,
}

impl Snr {
    pub fn new(parameters: usize) -> Self {
        Self {
            count: 0.0,
            mean: vec![0.0; parameters],
            m2: vec![0.0; parameters],
        }
    }

    /// Adds one example's flat update of the layer.
    pub fn add(&mut self, update: &[f32]) {
        self.count += 1.0;
        for ((m, m2), &g) in self.mean.iter_mut().zip(&mut self.m2).zip(update) {
            let g = f64::from(g);
            let d = g - *m;
            *m += d / self.count;
            *m2 += d * (g - *m);
        }
    }

    /// NaN before the first example.
    pub fn value(&self) -> f64 {
        if self.count == 0.0 || self.mean.is_empty() {
            return f64::NAN;
        }
        let total: f64 = self
            .mean
            .iter()
            .zip(&self.m2)
            .map(|(m, m2)| m.abs() / ((m2 / self.count).sqrt() + 1e-7))
            .sum();
        total / self.mean.len() as f64
    }
}

/// The source's BasicOptimizer: p ← p − η_layer·(g + λ·p) for every parameter with an update, one rate per
/// layer; Kolen-Pollack's B moves with the second layer's rate and decay.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
pub struct Sgd {
    /// Learning rates of the first and second layers.
    pub lr: [f32; 2],
    pub weight_decay: f32,
}

impl Sgd {
    pub fn step(&self, net: &mut Mlp, u: &Update) {
        let wd = self.weight_decay;
        let apply2 = |p: &mut Array2<f32>, g: &Array2<f32>, lr: f32| {
            ndarray::Zip::from(p)
                .and(g)
                .for_each(|p, &g| *p -= lr * (g + wd * *p));
        };
        let apply1 = |p: &mut Array1<f32>, g: ArrayView1<f32>, lr: f32| {
            ndarray::Zip::from(p)
                .and(g)
                .for_each(|p, &g| *p -= lr * (g + wd * *p));
        };
        apply2(&mut net.w1, &u.w1, self.lr[0]);
        apply2(&mut net.w2, &u.w2, self.lr[1]);
        if let (Some(b), Some(g)) = (&mut net.b1, &u.b1) {
            apply1(b, g.view(), self.lr[0]);
        }
        if let (Some(b), Some(g)) = (&mut net.b2, &u.b2) {
            apply1(b, g.view(), self.lr[1]);
        }
        if let Some(g) = &u.feedback {
            apply2(&mut net.feedback, g, self.lr[1]);
        }
    }
}
