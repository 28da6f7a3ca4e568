//! The Hebbian CNN on the GPU with resident tensors. [`GpuNetwork`] is built from a CPU [`Network`] (the same
//! weights and BatchNorm statistics) for one batch size: it checks every buffer against the device's limits,
//! then allocates every activation, weight and scratch tensor once and binds every kernel once. An unsupervised
//! step uploads the batch and records the whole forward pass in training mode and every layer's update
//! (competition, correlation, Δw, max-abs normalisation, step) into one submit that reads nothing back;
//! [`GpuNetwork::features`] reads back only the flattened output; [`GpuNetwork::download`] hands the weights and
//! running statistics back to the CPU network (plots, checkpoints, continuing on the CPU).
//!
//! The kernels: convolution and correlation in kernels/hebbconv, the update in kernels/hebbupdate, the fixed
//! layers, forward weights and cosine in kernels/hebblayers. Each layer's update reads the weights its own
//! forward pass used and no later layer reads them, so stepping a layer as soon as its forward pass is done
//! equals the CPU's "every Δw from the batch's forward pass, then all steps".
//!
//! Depthwise layers (architectures E and F) run kernels/hebbdepthwise, their units competing over positions.
//! Every competition mode runs here, BCM's thresholds and the temporal history resident beside the weights
//! (uploaded with them, and downloaded with them). H's zero-padded layers and ReLU learn by backprop, not by a
//! Hebbian rule: `baseline_gpu` trains them, and a Hebbian network holding them is refused here with the reason
//! (the caller keeps the CPU network). Residual
//! blocks (G) run their body and shortcut one after the other on the block's input, each layer learning as
//! its forward pass ends, then Triangle of their sum.
use super::conv::{Activation, Cosine};
use super::presets::{Padding, Preset};
use super::{HebbConfig, Network, Node};
use crate::engine::{Gpu, Kernel, Recorder, Tensor};
use crate::error::{Error, Result};
use crate::kernels::hebbconv::{ConvGpu, ConvShape, Shared, to_array, values};
use crate::kernels::hebbdepthwise::{self, DepthwiseGpu};
use crate::kernels::hebblayers::{BatchNormGpu, LayerKernel, PoolKind};
use crate::kernels::hebbupdate::{Compete, Rate, UpdateGpu};
use crate::plasticity::competition::{Competition, PreDim, PreKind, TopOne};
use ndarray::{Array2, ArrayView2, ArrayView4, Axis, s};
use std::future::Future;
use std::pin::Pin;

/// A [`Network`] living on the GPU for a run: its tensors and bound kernels for batches of a fixed size.
pub struct GpuNetwork {
    preset: Preset,
    batch: usize,
    /// The batch as uploaded [N, C, H, W].
    input: Tensor,
    /// The last node's output [N, C, H, W] (a handle to that node's tensor).
    output: Tensor,
    /// One per node of the CPU network, in its order.
    nodes: Vec<GpuNode>,
}

enum GpuNode {
    BatchNorm(BatchNormGpu),
    Conv(Box<ConvNode>),
    /// Triangle or a pool.
    Fixed(LayerKernel),
    /// Triangle(body(x) + shortcut(x)): the two paths, the sum, and Triangle into the block's output.
    Residual {
        body: Vec<GpuNode>,
        shortcut: Vec<GpuNode>,
        add: LayerKernel,
        triangle: LayerKernel,
        _sum: Tensor,
    },
}

/// A node's convolution: dense (implicit GEMMs) or depthwise.
enum Layer {
    Dense(ConvGpu),
    Depthwise(DepthwiseGpu),
}

impl Layer {
    fn w(&self) -> &Tensor {
        match self {
            Layer::Dense(l) => &l.w,
            Layer::Depthwise(l) => &l.w,
        }
    }

    fn y(&self) -> &Tensor {
        match self {
            Layer::Dense(l) => &l.y,
            Layer::Depthwise(l) => &l.y,
        }
    }

    fn record_forward(&self, rec: &mut Recorder<'_>) {
        match self {
            Layer::Dense(l) => l.record_forward(rec),
            Layer::Depthwise(l) => l.record_forward(rec),
        }
    }

    /// A second forward pass from the layer's `forward_into`.
    fn record_with(&self, rec: &mut Recorder<'_>, forward: &Kernel) {
        match self {
            Layer::Dense(l) => l.record_with(rec, forward),
            Layer::Depthwise(l) => l.record_with(rec, forward),
        }
    }

    fn record_correlate(&self, rec: &mut Recorder<'_>) {
        match self {
            Layer::Dense(l) => l.record_correlate(rec),
            Layer::Depthwise(l) => l.record_correlate(rec),
        }
    }
}

/// One Hebbian convolution: the convolution's tensors, its update, and the kernels around its forward pass.
struct ConvNode {
    layer: Layer,
    update: UpdateGpu,
    /// The forward pass's weights (|w|, the pre-synaptic couplings, then w/‖w‖) made from w, when they
    /// differ from w.
    forward_weights: Vec<LayerKernel>,
    /// The cosine activation's division by patch norms (fused into the forward pass of depthwise layers).
    cosine: Option<LayerKernel>,
    /// Surround modulation from the convolution's raw output into y.
    surround: Option<LayerKernel>,
    /// The statistical threshold's conv(x, w) with the stored weights, before the update.
    similarity: Option<Kernel>,
    /// The forward weights, the raw output and the similarity, when used (the kernels above are bound to them).
    _held: Vec<Tensor>,
}

/// How a configuration's forward pass transforms w, mirroring `HebbLayer::forward_weights` and
/// `conv::activate_padded`: |w| under Dale's principle, or the pre-synaptic couplings, then the cosine's
/// normalisation; or SoftHebb's w/‖w‖ for the linear activation (which Dale's |w| and the couplings take the
/// place of on the CPU too).
#[derive(Clone, Copy)]
struct Forward {
    abs: bool,
    presynaptic: Option<(PreKind, PreDim)>,
    norm: Option<Cosine>,
    cosine: bool,
}

impl Forward {
    fn of(config: &HebbConfig) -> Self {
        // Dale's |w| replaces the couplings on the CPU.
        let presynaptic = config.presynaptic.filter(|_| !config.dale);
        let plain = !config.dale && presynaptic.is_none();
        let (norm, cosine) = match config.activation {
            Activation::Cosine(mode) => (Some(mode), true),
            Activation::Linear if config.w_nrm && plain => (Some(Cosine::Filter), false),
            Activation::Linear => (None, false),
        };
        Self {
            abs: config.dale,
            presynaptic,
            norm,
            cosine,
        }
    }

    /// Whether the forward pass needs weights of its own.
    fn transforms(&self) -> bool {
        self.abs || self.presynaptic.is_some() || self.norm.is_some()
    }
}

/// What a node of the CPU network becomes on the GPU, with its output shape.
enum Plan {
    BatchNorm,
    /// A convolution's shape (C_out = C_in when depthwise), and whether it is depthwise.
    Conv(ConvShape, bool),
    Triangle(f32),
    Pool {
        kind: PoolKind,
        k: usize,
        stride: usize,
        pad: usize,
    },
    Residual {
        body: Vec<Planned>,
        shortcut: Vec<Planned>,
        power: f32,
    },
}

struct Planned {
    /// The node as a message names it: "op 5 of architecture A (convolution 12→48, 3×3)".
    label: String,
    plan: Plan,
    input: [usize; 4],
    output: [usize; 4],
}

fn describe(node: &Node) -> String {
    match node {
        Node::BatchNorm(bn) => format!("BatchNorm of {} channels", bn.running_mean.len()),
        Node::Conv(l) => {
            let c = l.layer.conv;
            let kind = if c.depthwise { "depthwise " } else { "" };
            format!("{kind}convolution {}→{}, {}×{}", c.c_in, c.c_out, c.k, c.k)
        }
        Node::Triangle(p) => format!("Triangle of power {p}"),
        Node::Relu => "ReLU".into(),
        Node::MaxPool { k, stride, pad } => format!("max pool {k}×{k}, stride {stride}, pad {pad}"),
        Node::AvgPool { k, stride, pad } => {
            format!("average pool {k}×{k}, stride {stride}, pad {pad}")
        }
        Node::Residual { .. } => "residual block".into(),
    }
}

/// The GPU update's competition for a layer of inverse temperature `t_inv`.
fn compete(config: &HebbConfig, t_inv: f32) -> Compete {
    let c = &config.competition;
    let multiply = c.top_one == TopOne::Multiply;
    match c.mode {
        Competition::None => Compete::None,
        Competition::HardWta => Compete::HardWta,
        Competition::SoftWta => Compete::SoftWta { t_inv },
        Competition::AntiHard => Compete::AntiHard,
        Competition::Bcm => Compete::Bcm { decay: c.bcm_decay },
        Competition::Temporal => Compete::Temporal {
            window: c.temporal_window,
            multiply,
        },
        Competition::Statistical => Compete::Statistical {
            c: c.stats_c,
            multiply,
        },
    }
}

fn not_yet(what: &str) -> Error {
    Error::Gpu(format!(
        "{what} does not run on the GPU yet; the CPU network runs it"
    ))
}

/// Every node's GPU form and shapes for batches of `batch`, or why the network stays on the CPU.
fn plan(net: &Network, batch: usize) -> Result<Vec<Planned>> {
    let [c, h, w] = net.preset.input;
    let mut index = 0;
    plan_nodes(net, &net.nodes, [batch, c, h, w], &mut index).map(|(planned, _)| planned)
}

/// [`plan`] of `nodes` on an input of `shape`, numbering ops depth first from `index` (as the network's node
/// list, blocks not counted): the plans and the output shape.
fn plan_nodes(
    net: &Network,
    nodes: &[Node],
    mut shape: [usize; 4],
    index: &mut usize,
) -> Result<(Vec<Planned>, [usize; 4])> {
    let mut out = Vec::with_capacity(nodes.len());
    for node in nodes {
        let label = format!(
            "op {index} of architecture {:?} ({})",
            net.preset.arch,
            describe(node)
        );
        if !matches!(node, Node::Residual { .. }) {
            *index += 1;
        }
        let [n, c, h, w] = shape;
        let (plan, output) = match node {
            Node::BatchNorm(_) => (Plan::BatchNorm, shape),
            Node::Conv(l) => {
                let spec = l.layer.conv;
                if l.layer.padding == Padding::Zero {
                    return Err(not_yet(&format!("the zero-padded layer {label}")));
                }
                let s = ConvShape {
                    n,
                    c_in: spec.c_in,
                    h,
                    w,
                    c_out: spec.c_out,
                    k: spec.k,
                    stride: spec.stride,
                    pad: spec.pad,
                };
                s.check()?;
                (Plan::Conv(s, spec.depthwise), [n, s.c_out, s.ho(), s.wo()])
            }
            Node::Triangle(p) => (Plan::Triangle(*p), shape),
            Node::MaxPool { k, stride, pad } | Node::AvgPool { k, stride, pad } => {
                let kind = if matches!(node, Node::MaxPool { .. }) {
                    PoolKind::Max
                } else {
                    PoolKind::Avg
                };
                let side = |v: usize| super::layers::pool_side(v, *k, *stride, *pad);
                let plan = Plan::Pool {
                    kind,
                    k: *k,
                    stride: *stride,
                    pad: *pad,
                };
                (plan, [n, c, side(h), side(w)])
            }
            Node::Residual {
                body,
                shortcut,
                power,
            } => {
                let (body, a) = plan_nodes(net, body, shape, index)?;
                let (shortcut, b) = plan_nodes(net, shortcut, shape, index)?;
                if a != b {
                    return Err(Error::Gpu(format!(
                        "{label}: its body gives {a:?} and its shortcut {b:?}"
                    )));
                }
                let plan = Plan::Residual {
                    body,
                    shortcut,
                    power: *power,
                };
                (plan, a)
            }
            Node::Relu => return Err(not_yet(&label)),
        };
        out.push(Planned {
            label,
            plan,
            input: shape,
            output,
        });
        shape = output;
    }
    Ok((out, shape))
}

/// Every plan of `planned`, those inside residual blocks too.
fn each_plan(planned: &[Planned], visit: &mut impl FnMut(&Planned)) {
    for p in planned {
        visit(p);
        if let Plan::Residual { body, shortcut, .. } = &p.plan {
            each_plan(body, visit);
            each_plan(shortcut, visit);
        }
    }
}

fn f32_bytes(shape: [usize; 4]) -> u64 {
    (shape.iter().product::<usize>() * 4) as u64
}

/// A residual block builds its paths recursively, so the build is a boxed future.
type Built<'a> = Pin<Box<dyn Future<Output = Result<(Vec<GpuNode>, Tensor)>> + 'a>>;

/// The GPU nodes of `nodes` (planned as `planned`) reading `input`, and the tensor the last one writes.
fn build<'a>(
    gpu: &'a Gpu,
    net: &'a Network,
    planned: &'a [Planned],
    nodes: &'a [Node],
    input: &'a Tensor,
) -> Built<'a> {
    Box::pin(async move {
        let forward = Forward::of(&net.config);
        let mut current = input.share();
        let mut out = Vec::with_capacity(planned.len());
        for (p, node) in planned.iter().zip(nodes) {
            let (gpu_node, output) = match (&p.plan, node) {
                (Plan::BatchNorm, Node::BatchNorm(bn)) => {
                    let out = gpu.tensor("BatchNorm output", f32_bytes(p.output))?;
                    let layer = BatchNormGpu::new(gpu, p.input, bn, &current, &out).await?;
                    (GpuNode::BatchNorm(layer), out)
                }
                (Plan::Conv(shape, depthwise), Node::Conv(l)) => {
                    let rate = if net.config.softhebb_rates {
                        Rate::SoftHebb {
                            lr0: l.layer.lr_soft,
                            power: 0.5,
                        }
                    } else {
                        Rate::Layer(l.layer.lr)
                    };
                    let compete = compete(&net.config, l.layer.t_inv);
                    let surround = net.config.surround && shape.k != 1;
                    let node = ConvNode::new(
                        gpu, *shape, *depthwise, &current, forward, surround, compete, rate,
                    )
                    .await?;
                    gpu.write(node.layer.w(), bytemuck::cast_slice(&values(l.w.view())));
                    node.update
                        .upload(gpu, &l.state, net.config.competition.bcm_theta0)?;
                    let out = node.layer.y().share();
                    (GpuNode::Conv(Box::new(node)), out)
                }
                (Plan::Triangle(power), Node::Triangle(_)) => {
                    let out = gpu.tensor("Triangle output", f32_bytes(p.output))?;
                    let k = LayerKernel::triangle(gpu, p.input, *power, &current, &out).await?;
                    (GpuNode::Fixed(k), out)
                }
                (
                    Plan::Pool {
                        kind,
                        k,
                        stride,
                        pad,
                    },
                    _,
                ) => {
                    let out = gpu.tensor("pool output", f32_bytes(p.output))?;
                    let layer =
                        LayerKernel::pool(gpu, p.input, *kind, *k, *stride, *pad, &current, &out)
                            .await?;
                    (GpuNode::Fixed(layer), out)
                }
                (
                    Plan::Residual {
                        body,
                        shortcut,
                        power,
                    },
                    Node::Residual {
                        body: body_nodes,
                        shortcut: shortcut_nodes,
                        ..
                    },
                ) => {
                    let (body, a) = build(gpu, net, body, body_nodes, &current).await?;
                    let (shortcut, b) = build(gpu, net, shortcut, shortcut_nodes, &current).await?;
                    let sum = gpu.tensor("residual sum", f32_bytes(p.output))?;
                    let out = gpu.tensor("residual block output", f32_bytes(p.output))?;
                    let add = LayerKernel::add(gpu, p.output, &a, &b, &sum).await?;
                    let triangle = LayerKernel::triangle(gpu, p.output, *power, &sum, &out).await?;
                    let node = GpuNode::Residual {
                        body,
                        shortcut,
                        add,
                        triangle,
                        _sum: sum,
                    };
                    (node, out)
                }
                _ => {
                    return Err(Error::Gpu(format!(
                        "{}: the plan does not match the node",
                        p.label
                    )));
                }
            };
            out.push(gpu_node);
            current = output;
        }
        Ok((out, current))
    })
}

/// Records `nodes` in order (see [`GpuNetwork::record`]).
fn record_nodes(nodes: &[GpuNode], rec: &mut Recorder<'_>, learn: bool) {
    for node in nodes {
        match node {
            GpuNode::BatchNorm(bn) => bn.record(rec, learn),
            GpuNode::Conv(c) => c.record(rec, learn),
            GpuNode::Fixed(k) => k.record(rec),
            GpuNode::Residual {
                body,
                shortcut,
                add,
                triangle,
                ..
            } => {
                record_nodes(body, rec, learn);
                record_nodes(shortcut, rec, learn);
                add.record(rec);
                triangle.record(rec);
            }
        }
    }
}

/// Queues reads of what `nodes` learn (weights, competition memory, BatchNorm statistics), depth first.
fn record_reads(nodes: &[GpuNode], rec: &mut Recorder<'_>) {
    for node in nodes {
        match node {
            GpuNode::BatchNorm(bn) => rec.read(&bn.running, bn.running.bytes()),
            GpuNode::Conv(c) => {
                rec.read(c.layer.w(), c.layer.w().bytes());
                c.update.record_reads(rec);
            }
            GpuNode::Fixed(_) => {}
            GpuNode::Residual { body, shortcut, .. } => {
                record_reads(body, rec);
                record_reads(shortcut, rec);
            }
        }
    }
}

/// The reads of [`record_reads`] into the CPU network's `cpu` nodes.
fn store(
    nodes: &[GpuNode],
    cpu: &mut [Node],
    res: &mut impl Iterator<Item = Vec<u8>>,
) -> Result<()> {
    for (node, cpu) in nodes.iter().zip(cpu.iter_mut()) {
        match (node, cpu) {
            (GpuNode::BatchNorm(bn), Node::BatchNorm(b)) => {
                let bytes = res.next().unwrap_or_default();
                bn.store(&bytes, b)?;
            }
            (GpuNode::Conv(c), Node::Conv(l)) => {
                let bytes = res.next().unwrap_or_default();
                l.w = to_array(&bytes, l.w.dim())?;
                l.pending = None;
                c.update.store(res, &mut l.state)?;
            }
            (GpuNode::Fixed(_), _) => {}
            (
                GpuNode::Residual { body, shortcut, .. },
                Node::Residual {
                    body: b,
                    shortcut: s,
                    ..
                },
            ) => {
                store(body, b, res)?;
                store(shortcut, s, res)?;
            }
            _ => {
                return Err(Error::Data(
                    "the CPU network's layers differ from the GPU network's".into(),
                ));
            }
        }
    }
    Ok(())
}

impl GpuNetwork {
    /// Whether `net`'s configuration runs on the GPU; the error says what keeps it on the CPU. Nothing is
    /// allocated: callers ask before choosing where a network runs.
    pub fn supports(net: &Network) -> Result<()> {
        plan(net, 1).map(|_| ())
    }

    /// `net` on the GPU for batches of `batch` images: its weights and BatchNorm running statistics uploaded
    /// (Δw pending on the CPU is not carried over). Refuses configurations the GPU does not run yet (see the
    /// module's notes) and, before allocating anything, any buffer over the device's limits
    /// ([`Error::TooLarge`] naming the layer).
    pub async fn new(gpu: &Gpu, net: &Network, batch: usize) -> Result<Self> {
        if batch == 0 {
            return Err(Error::Data(
                "a GPU network needs a batch of at least one image".into(),
            ));
        }
        let planned = plan(net, batch)?;
        let [c, h, w] = net.preset.input;
        gpu.check_size("the input batch", f32_bytes([batch, c, h, w]))?;
        let mut sizes = Vec::new();
        each_plan(&planned, &mut |p| {
            let mut add = |what: &str, bytes| sizes.push((format!("{}: {what}", p.label), bytes));
            add("output", f32_bytes(p.output));
            let conv: &[(&str, u64)] = match &p.plan {
                Plan::Conv(s, true) => &hebbdepthwise::buffer_bytes(s),
                Plan::Conv(s, false) => &s.buffer_bytes(),
                _ => &[],
            };
            for (what, bytes) in conv {
                add(what, *bytes);
            }
            if let (Plan::Conv(..), Competition::Temporal) = (&p.plan, net.config.competition.mode)
            {
                // The last `window` samples of the layer's output.
                let [_, k, h, w] = p.output;
                let window = net.config.competition.temporal_window.max(1);
                add("temporal history", f32_bytes([window, k, h, w]));
            }
        });
        for (what, bytes) in sizes {
            gpu.check_size(&what, bytes)?;
        }
        let input = gpu.tensor("input batch", f32_bytes([batch, c, h, w]))?;
        let (nodes, current) = build(gpu, net, &planned, &net.nodes, &input).await?;
        Ok(Self {
            preset: net.preset.clone(),
            batch,
            input,
            output: current,
            nodes,
        })
    }

    /// Images per batch of [`Self::unsupervised_step`] (and per submit of [`Self::features`]).
    pub fn batch(&self) -> usize {
        self.batch
    }

    pub fn preset(&self) -> &Preset {
        &self.preset
    }

    fn check_images(&self, x: &ArrayView4<'_, f32>) -> Result<()> {
        let (_, c, h, w) = x.dim();
        if [c, h, w] != self.preset.input {
            return Err(Error::Data(format!(
                "the network takes {:?} images, not {c}×{h}×{w}",
                self.preset.input
            )));
        }
        Ok(())
    }

    /// The forward pass (BatchNorm from batch statistics when `learn`, else from running ones) and, when
    /// `learn`, every layer's update right after its forward pass.
    fn record(&self, rec: &mut Recorder<'_>, learn: bool) {
        record_nodes(&self.nodes, rec, learn);
    }

    /// One unsupervised batch of exactly [`Self::batch`] images, as `Network::unsupervised_step`: the forward
    /// pass in training mode in which every layer computes its Δw from the weights the batch saw, and every
    /// step; one submit, nothing read back.
    pub async fn unsupervised_step(&mut self, gpu: &Gpu, batch: ArrayView4<'_, f32>) -> Result<()> {
        self.check_images(&batch)?;
        if batch.dim().0 != self.batch {
            return Err(Error::Data(format!(
                "this GPU network learns from batches of {} images, not {} (BatchNorm and the updates take \
                 their statistics over the whole batch)",
                self.batch,
                batch.dim().0
            )));
        }
        gpu.write(&self.input, bytemuck::cast_slice(&values(batch)));
        let mut rec = gpu.record();
        self.record(&mut rec, true);
        rec.submit().await?;
        Ok(())
    }

    /// Frozen features for a probe, as `Network::features`: the evaluation-mode output flattened to
    /// [N, C·H·W], for any number of images (one submit per [`Self::batch`] of them; in evaluation every
    /// image is computed on its own, so a short last batch reads back only its images, at the cost of a
    /// whole batch).
    pub async fn features(&self, gpu: &Gpu, x: ArrayView4<'_, f32>) -> Result<Array2<f32>> {
        self.check_images(&x)?;
        let n = x.dim().0;
        let f = self.preset.features();
        let mut out = Array2::zeros((n, f));
        for (i, chunk) in x.axis_chunks_iter(Axis(0), self.batch).enumerate() {
            let m = chunk.dim().0;
            gpu.write(&self.input, bytemuck::cast_slice(&values(chunk)));
            let mut rec = gpu.record();
            self.record(&mut rec, false);
            rec.read(&self.output, (m * f * 4) as u64);
            let res = rec.submit().await?;
            let v: Vec<f32> = bytemuck::pod_collect_to_vec(&res[0]);
            let v = ArrayView2::from_shape((m, f), &v)
                .map_err(|e| Error::Gpu(format!("unexpected features layout: {e}")))?;
            let start = i * self.batch;
            out.slice_mut(s![start..start + m, ..]).assign(&v);
        }
        Ok(out)
    }

    /// Copies every layer's weights and competition memory and every BatchNorm's running statistics into
    /// `net` (which must have this network's preset), in one submit; pending CPU updates are dropped (the
    /// GPU's are applied).
    pub async fn download(&self, gpu: &Gpu, net: &mut Network) -> Result<()> {
        if net.preset != self.preset || net.nodes.len() != self.nodes.len() {
            return Err(Error::Data(format!(
                "the GPU network has architecture {:?} for {:?} images (width ÷{}); the CPU network given has \
                 {:?} for {:?} (width ÷{})",
                self.preset.arch,
                self.preset.input,
                self.preset.width_div,
                net.preset.arch,
                net.preset.input,
                net.preset.width_div
            )));
        }
        let mut rec = gpu.record();
        record_reads(&self.nodes, &mut rec);
        let mut res = rec.submit().await?.into_iter();
        store(&self.nodes, &mut net.nodes, &mut res)
    }
}

impl ConvNode {
    #[allow(clippy::too_many_arguments)]
    async fn new(
        gpu: &Gpu,
        shape: ConvShape,
        depthwise: bool,
        x: &Tensor,
        forward: Forward,
        surround: bool,
        compete: Compete,
        rate: Rate,
    ) -> Result<Self> {
        let (out_bytes, w_bytes, w_shape) = if depthwise {
            let sizes = hebbdepthwise::buffer_bytes(&shape);
            (sizes[1].1, sizes[2].1, [shape.c_in, 1, shape.k, shape.k])
        } else {
            let sizes = shape.buffer_bytes();
            let w_shape = [shape.c_out, shape.c_in, shape.k, shape.k];
            (sizes[1].1, sizes[2].1, w_shape)
        };
        let wf = if forward.transforms() {
            Some(gpu.tensor("forward weights", w_bytes)?)
        } else {
            None
        };
        let raw = if surround {
            Some(gpu.tensor("convolution before surround modulation", out_bytes)?)
        } else {
            None
        };
        let sim = if matches!(compete, Compete::Statistical { .. }) {
            Some(gpu.tensor("similarity conv(x, w)/‖w‖", out_bytes)?)
        } else {
            None
        };
        // The couplings, where a normalisation follows them (else they are the forward weights).
        let coupled = if forward.presynaptic.is_some() && forward.norm.is_some() {
            Some(gpu.tensor("pre-synaptic couplings", w_bytes)?)
        } else {
            None
        };
        let shared = Shared {
            x: Some(x),
            forward_weights: wf.as_ref(),
            forward_out: raw.as_ref(),
        };
        let (layer, cosine, update, similarity) = if depthwise {
            let l = DepthwiseGpu::with(gpu, shape, forward.cosine, shared).await?;
            let update =
                UpdateGpu::depthwise(gpu, &l, compete, rate, forward.abs, sim.as_ref()).await?;
            let similarity = match &sim {
                Some(t) => Some(l.forward_into(gpu, t).await?),
                None => None,
            };
            (Layer::Depthwise(l), None, update, similarity)
        } else {
            let l = ConvGpu::with(gpu, shape, shared).await?;
            let cosine = if forward.cosine {
                let target = raw.as_ref().unwrap_or(&l.y);
                Some(LayerKernel::cosine(gpu, &shape, &l.x, target).await?)
            } else {
                None
            };
            let update = UpdateGpu::new(gpu, &l, compete, rate, forward.abs, sim.as_ref()).await?;
            let similarity = match &sim {
                Some(t) => Some(l.forward_into(gpu, t).await?),
                None => None,
            };
            (Layer::Dense(l), cosine, update, similarity)
        };
        let mut forward_weights = Vec::new();
        if let Some(wf) = &wf {
            let (abs, norm) = (forward.abs, forward.norm);
            match forward.presynaptic {
                Some((kind, over)) => {
                    let couplings = coupled.as_ref().unwrap_or(wf);
                    forward_weights.push(
                        LayerKernel::presynaptic(gpu, w_shape, kind, over, layer.w(), couplings)
                            .await?,
                    );
                    if coupled.is_some() {
                        forward_weights.push(
                            LayerKernel::forward_weights(gpu, w_shape, false, norm, couplings, wf)
                                .await?,
                        );
                    }
                }
                None => forward_weights.push(
                    LayerKernel::forward_weights(gpu, w_shape, abs, norm, layer.w(), wf).await?,
                ),
            }
        }
        let surround = match &raw {
            Some(raw) => {
                let dims = [shape.n, shape.c_out, shape.ho(), shape.wo()];
                Some(LayerKernel::surround(gpu, dims, raw, layer.y()).await?)
            }
            None => None,
        };
        Ok(Self {
            layer,
            update,
            forward_weights,
            cosine,
            surround,
            similarity,
            _held: wf
                .into_iter()
                .chain(raw)
                .chain(sim)
                .chain(coupled)
                .collect(),
        })
    }

    fn record(&self, rec: &mut Recorder<'_>, learn: bool) {
        for k in &self.forward_weights {
            k.record(rec);
        }
        self.layer.record_forward(rec);
        if let Some(k) = &self.cosine {
            k.record(rec);
        }
        if let Some(k) = &self.surround {
            k.record(rec);
        }
        if learn {
            if let Some(k) = &self.similarity {
                self.layer.record_with(rec, k);
            }
            self.update.record_compete(rec);
            self.layer.record_correlate(rec);
            self.update.record_step(rec);
        }
    }
}
