//! The Hebbian convolutional network family of the thesis (notes: ../shared/notes/thesis-hebbian-cnn.md): CPU
//! reference on ndarray, NCHW tensors. `conv` holds the convolution and the Hebbian correlation, `layers` the
//! fixed layers (BatchNorm, Triangle, pools, surround modulation), `presets` architectures A-H, and this file
//! the [`Network`]: initialisation from the seeded generator, forward, the unsupervised step and probe
//! features; `gpu` runs the same network on the GPU with resident tensors. `backward` holds every layer's
//! reverse mode and `baseline` the end-to-end backprop baseline (architecture H). The learning rule itself
//! (competition, update, normalisation) is in [`crate::plasticity::competition`].
pub mod backward;
pub mod baseline;
pub mod baseline_gpu;
pub mod conv;
pub mod gpu;
pub mod layers;
pub mod presets;

use crate::checkpoint::{self, Checkpoint, Tensor};
use crate::error::{Error, Result};
use crate::plasticity::competition::{
    self, Competition, CompetitionParams, CompetitionState, PreDim, PreKind, Rates,
};
use crate::rng::{self, Purpose};
use conv::{Activation, ConvSpec, Cosine};
use layers::BatchNorm;
use ndarray::{Array2, Array4, ArrayView4, Axis};
use presets::{ConvLayer, Op, Padding, Preset};

/// How every Hebbian layer of a network learns and activates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HebbConfig {
    /// Competition mode and its constants; `t_inv` is taken from each layer of the preset.
    pub competition: CompetitionParams,
    pub activation: Activation,
    /// Surround modulation (the 5 × 5 DoG) on y before the update, in layers with k > 1.
    pub surround: bool,
    /// SoftHebb's `w_nrm`: the forward pass uses w_k/‖w_k‖ (the stored weights keep their norm).
    pub w_nrm: bool,
    /// SoftHebb's per-neuron rates lr0·(|‖w_k‖ − 1| + 1e-10)^0.5 instead of the layer's plain rate.
    pub softhebb_rates: bool,
    /// Dale's principle: init |N(0,1)|, forward with |w|, w ← |w + lr·Δw|.
    pub dale: bool,
    /// Pre-synaptic competition: the forward pass uses the normalised couplings of 1/(|w| + 1e-6).
    pub presynaptic: Option<(PreKind, PreDim)>,
}

impl HebbConfig {
    /// The thesis's configuration for a competition mode (notes §3, §8.1): SoftHebb plain activation with
    /// w_nrm and its rate schedule; no competition plain activation; every other mode the cosine activation
    /// (the intended whole-filter version; [`Cosine::PerPosition`] reproduces the printed code) with lr 0.1.
    pub fn thesis(mode: Competition) -> Self {
        let soft = mode == Competition::SoftWta;
        let plain = soft || mode == Competition::None;
        Self {
            competition: CompetitionParams::new(mode),
            activation: if plain {
                Activation::Linear
            } else {
                Activation::Cosine(Cosine::Filter)
            },
            surround: false,
            w_nrm: soft,
            softhebb_rates: soft,
            dale: false,
            presynaptic: None,
        }
    }
}

/// One convolution of a network: its settings, weights, competition memory and the update waiting to be
/// applied.
#[derive(Clone, Debug)]
pub struct HebbLayer {
    pub layer: ConvLayer,
    /// [c_out, c_in, k, k] (depthwise [C, 1, k, k]).
    pub w: Array4<f32>,
    pub state: CompetitionState,
    /// Δw of the last learning forward pass, max-abs normalised, not yet applied.
    pub pending: Option<Array4<f32>>,
}

/// A node of the built network (the preset's ops with their state).
#[derive(Clone, Debug)]
pub enum Node {
    BatchNorm(BatchNorm),
    Conv(Box<HebbLayer>),
    Triangle(f32),
    Relu,
    MaxPool {
        k: usize,
        stride: usize,
        pad: usize,
    },
    AvgPool {
        k: usize,
        stride: usize,
        pad: usize,
    },
    Residual {
        body: Vec<Node>,
        shortcut: Vec<Node>,
        power: f32,
    },
}

/// What the forward pass does besides computing the output.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pass {
    /// BatchNorm from running statistics; nothing learns.
    Eval,
    /// BatchNorm from batch statistics (running ones updated); nothing learns.
    Train,
    /// As Train, and every Hebbian layer computes its Δw (applied by [`Network::apply_pending`]).
    Learn,
}

/// A Hebbian convolutional network: a preset, how it learns, and its layers' weights and statistics.
#[derive(Clone, Debug)]
pub struct Network {
    pub preset: Preset,
    pub config: HebbConfig,
    pub seed: u32,
    pub nodes: Vec<Node>,
}

/// `25/√(C_in·k²)`: the thesis's initial weight scale (depthwise: C·k², the full channel count, notes §1.14).
pub fn init_scale(spec: &ConvSpec) -> f32 {
    25.0 / ((spec.c_in * spec.k * spec.k) as f32).sqrt()
}

/// The initial weights of layer `index` (depth-first order): scale·N(0,1) (Dale: scale·|N(0,1)|), the j-th
/// weight (row-major) from normal4([j/4, 0, 0, 0], [seed, stream(HebbConv, index, 0)])[j mod 4].
pub fn init_weights(spec: &ConvSpec, seed: u32, index: u32, dale: bool) -> Array4<f32> {
    let key = [seed, rng::stream(Purpose::HebbConv, index, 0)];
    let scale = init_scale(spec);
    let shape = spec.weight_shape();
    let mut w = Array4::zeros(shape);
    let mut block = [0.0f32; 4];
    for (j, v) in w.iter_mut().enumerate() {
        if j % 4 == 0 {
            block = rng::normal4([(j / 4) as u32, 0, 0, 0], key);
        }
        let z = block[j % 4];
        *v = scale * if dale { z.abs() } else { z };
    }
    w
}

fn build(ops: &[Op], seed: u32, dale: bool, next: &mut u32) -> Vec<Node> {
    ops.iter()
        .map(|op| match op {
            Op::BatchNorm(c) => Node::BatchNorm(BatchNorm::new(*c)),
            Op::Conv(l) => {
                let w = init_weights(&l.conv, seed, *next, dale);
                *next += 1;
                Node::Conv(Box::new(HebbLayer {
                    layer: *l,
                    w,
                    state: CompetitionState::default(),
                    pending: None,
                }))
            }
            Op::Triangle(p) => Node::Triangle(*p),
            Op::Relu => Node::Relu,
            Op::MaxPool { k, stride, pad } => Node::MaxPool {
                k: *k,
                stride: *stride,
                pad: *pad,
            },
            Op::AvgPool { k, stride, pad } => Node::AvgPool {
                k: *k,
                stride: *stride,
                pad: *pad,
            },
            Op::Residual {
                body,
                shortcut,
                power,
            } => {
                let body = build(body, seed, dale, next);
                let shortcut = build(shortcut, seed, dale, next);
                Node::Residual {
                    body,
                    shortcut,
                    power: *power,
                }
            }
        })
        .collect()
}

impl HebbLayer {
    /// The weights the forward pass uses (|w| for Dale, pre-synaptic couplings, w/‖w‖ for w_nrm).
    fn forward_weights(&self, config: &HebbConfig) -> Array4<f32> {
        if config.dale {
            return self.w.mapv(f32::abs);
        }
        if let Some((kind, dim)) = config.presynaptic {
            return competition::presynaptic(self.w.view(), kind, dim);
        }
        if config.w_nrm && config.activation == Activation::Linear {
            return conv::normalise_weights(self.w.view(), Cosine::Filter);
        }
        self.w.clone()
    }

    /// Activation (and surround modulation) of this layer; with `learn`, also its normalised Δw.
    fn forward(&mut self, x: ArrayView4<f32>, config: &HebbConfig, learn: bool) -> Array4<f32> {
        let spec = self.layer.conv;
        let xp = match self.layer.padding {
            Padding::Reflect => conv::reflect_pad(x, spec.pad),
            Padding::Zero => conv::zero_pad(x, spec.pad),
        };
        let wf = self.forward_weights(config);
        let mut y = conv::activate_padded(xp.view(), wf.view(), &spec, config.activation);
        if config.surround && spec.k != 1 {
            y = layers::surround(y.view());
        }
        if learn {
            let mut params = config.competition;
            params.t_inv = self.layer.t_inv;
            let sim = (params.mode == Competition::Statistical).then(|| {
                // sim = conv(x, w)/‖w_k‖ (L2233-2247), on the input padded once.
                let mut s = conv::forward_padded(xp.view(), self.w.view(), &spec);
                for (ch, mut plane) in s.axis_iter_mut(Axis(1)).enumerate() {
                    let norm = self
                        .w
                        .index_axis(Axis(0), ch)
                        .iter()
                        .map(|v| v * v)
                        .sum::<f32>()
                        .sqrt()
                        .max(1e-12);
                    plane.mapv_inplace(|v| v / norm);
                }
                s
            });
            let mut dw = competition::delta(
                &params,
                &mut self.state,
                xp.view(),
                &y,
                sim.as_ref(),
                self.w.view(),
                &spec,
            );
            competition::max_abs_normalise(&mut dw);
            self.pending = Some(dw);
        }
        y
    }

    /// w += lr·Δw with the pending update (SoftHebb's per-neuron rates when configured).
    fn apply(&mut self, config: &HebbConfig) {
        if let Some(dw) = self.pending.take() {
            let rates = if config.softhebb_rates {
                Rates::PerNeuron(competition::softhebb_rates(
                    self.w.view(),
                    self.layer.lr_soft,
                    0.5,
                ))
            } else {
                Rates::Layer(self.layer.lr)
            };
            competition::apply(&mut self.w, dw.view(), &rates, config.dale);
        }
    }
}

fn run(nodes: &mut [Node], x: Array4<f32>, config: &HebbConfig, pass: Pass) -> Array4<f32> {
    let mut x = x;
    for node in nodes.iter_mut() {
        x = match node {
            Node::BatchNorm(bn) => bn.forward(x.view(), pass != Pass::Eval),
            Node::Conv(l) => l.forward(x.view(), config, pass == Pass::Learn),
            Node::Triangle(p) => layers::triangle(x.view(), *p),
            Node::Relu => layers::relu(x.view()),
            Node::MaxPool { k, stride, pad } => layers::max_pool(x.view(), *k, *stride, *pad),
            Node::AvgPool { k, stride, pad } => layers::avg_pool(x.view(), *k, *stride, *pad),
            Node::Residual {
                body,
                shortcut,
                power,
            } => {
                let a = run(body, x.clone(), config, pass);
                let b = run(shortcut, x, config, pass);
                layers::triangle((a + b).view(), *power)
            }
        };
    }
    x
}

/// Every node but the residual blocks themselves, depth first (a block's body before its shortcut).
fn flatten<'a>(nodes: &'a mut [Node], out: &mut Vec<&'a mut Node>) {
    for node in nodes.iter_mut() {
        if let Node::Residual { body, shortcut, .. } = node {
            flatten(body, out);
            flatten(shortcut, out);
        } else {
            out.push(node);
        }
    }
}

impl Network {
    /// Every node but the residual blocks themselves, depth first.
    fn nodes_mut(&mut self) -> Vec<&mut Node> {
        let mut out = Vec::new();
        flatten(&mut self.nodes, &mut out);
        out
    }

    /// What the network has learnt, as named tensors (depth first): `{prefix}conv{i}.weight`, BCM's thresholds
    /// `conv{i}.theta`, temporal competition's history `conv{i}.history` ([samples, K·P]), and BatchNorm's
    /// `bn{j}.running_mean` and `bn{j}.running_var`.
    pub fn tensors(&mut self, prefix: &str) -> Vec<Tensor> {
        let (mut out, mut conv, mut bn) = (Vec::new(), 0, 0);
        for node in self.nodes_mut() {
            match node {
                Node::Conv(l) => {
                    let name = |what: &str| format!("{prefix}conv{conv}.{what}");
                    out.push(Tensor::new(
                        name("weight"),
                        l.w.shape(),
                        l.w.iter().copied().collect(),
                    ));
                    if let Some(theta) = &l.state.theta {
                        out.push(Tensor::new(name("theta"), theta.shape(), theta.to_vec()));
                    }
                    if let Some(per) = l.state.history.len().checked_div(l.state.history_len) {
                        let shape = [l.state.history_len, per];
                        out.push(Tensor::new(
                            name("history"),
                            &shape,
                            l.state.history.clone(),
                        ));
                    }
                    conv += 1;
                }
                Node::BatchNorm(b) => {
                    let name = |what: &str| format!("{prefix}bn{bn}.{what}");
                    out.push(Tensor::new(
                        name("running_mean"),
                        b.running_mean.shape(),
                        b.running_mean.to_vec(),
                    ));
                    out.push(Tensor::new(
                        name("running_var"),
                        b.running_var.shape(),
                        b.running_var.to_vec(),
                    ));
                    bn += 1;
                }
                _ => {}
            }
        }
        out
    }

    /// Takes back from `ck` what [`Network::tensors`] saved, checking every name and shape.
    pub fn load(&mut self, prefix: &str, ck: &mut Checkpoint) -> Result<()> {
        let (mut conv, mut bn) = (0, 0);
        for node in self.nodes_mut() {
            match node {
                Node::Conv(l) => {
                    let name = |what: &str| format!("{prefix}conv{conv}.{what}");
                    let shape = l.w.shape().to_vec();
                    l.w = Array4::from_shape_vec(l.w.raw_dim(), ck.take(&name("weight"), &shape)?)
                        .map_err(|e| Error::Data(e.to_string()))?;
                    l.state = CompetitionState::default();
                    l.pending = None;
                    if ck.tensors.iter().any(|t| t.name == name("theta")) {
                        let k = l.w.dim().0;
                        l.state.theta = Some(ck.take(&name("theta"), &[k])?.into());
                    }
                    if let Some(t) = ck.tensors.iter().find(|t| t.name == name("history")) {
                        let shape = t.shape.clone();
                        if shape.len() != 2 {
                            return Err(checkpoint::mismatch(format!("{} is not 2-D", t.name)));
                        }
                        l.state.history = ck.take(&name("history"), &shape)?;
                        l.state.history_len = shape[0];
                    }
                    conv += 1;
                }
                Node::BatchNorm(b) => {
                    let name = |what: &str| format!("{prefix}bn{bn}.{what}");
                    let c = [b.running_mean.len()];
                    b.running_mean = ck.take(&name("running_mean"), &c)?.into();
                    b.running_var = ck.take(&name("running_var"), &c)?.into();
                    bn += 1;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// The preset's network with weights from `seed`: layer i (depth first) gets [`init_weights`] with index i.
    pub fn new(preset: Preset, config: HebbConfig, seed: u32) -> Self {
        let mut next = 0;
        let nodes = build(&preset.ops, seed, config.dale, &mut next);
        Self {
            preset,
            config,
            seed,
            nodes,
        }
    }

    /// The convolutions, depth first (body before shortcut).
    pub fn layers_mut(&mut self) -> Vec<&mut HebbLayer> {
        self.nodes_mut()
            .into_iter()
            .filter_map(|node| match node {
                Node::Conv(l) => Some(&mut **l),
                _ => None,
            })
            .collect()
    }

    /// Weights of every convolution, depth first.
    pub fn weights(&mut self) -> Vec<Array4<f32>> {
        self.layers_mut().into_iter().map(|l| l.w.clone()).collect()
    }

    fn check(&self, x: &ArrayView4<f32>) -> Result<()> {
        let (_, c, h, w) = x.dim();
        if [c, h, w] != self.preset.input {
            return Err(Error::Data(format!(
                "the network takes {:?} images, not {c}×{h}×{w}",
                self.preset.input
            )));
        }
        Ok(())
    }

    /// The network's output [N, C, H, W] (before the head).
    pub fn forward(&mut self, x: ArrayView4<f32>, pass: Pass) -> Result<Array4<f32>> {
        self.check(&x)?;
        let config = self.config;
        Ok(run(&mut self.nodes, x.to_owned(), &config, pass))
    }

    /// Applies every layer's pending update (the thesis's `local_update` then `step`, after the forward).
    pub fn apply_pending(&mut self) {
        let config = self.config;
        for l in self.layers_mut() {
            l.apply(&config);
        }
    }

    /// One unsupervised batch (notes §3 phase 1): a forward pass in train mode in which every Hebbian layer
    /// computes its Δw from the weights the batch saw, then all updates at once.
    pub fn unsupervised_step(&mut self, x: ArrayView4<f32>) -> Result<()> {
        if self.preset.is_backprop() {
            return Err(Error::Data(
                "architecture H learns by backprop, not by a Hebbian rule".into(),
            ));
        }
        self.forward(x, Pass::Learn)?;
        self.apply_pending();
        Ok(())
    }

    /// Frozen features for a probe: the eval-mode output flattened to [N, C·H·W] (PyTorch's Flatten order).
    pub fn features(&mut self, x: ArrayView4<f32>) -> Result<Array2<f32>> {
        let y = self.forward(x, Pass::Eval)?;
        let n = y.dim().0;
        let f = y.len() / n.max(1);
        y.into_shape_with_order((n, f))
            .map_err(|e| Error::Data(e.to_string()))
    }
}
