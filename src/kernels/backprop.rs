//! The backprop baseline's read-out head and optimiser on the GPU (kernels/backprop.wgsl): Flatten → Dropout →
//! Linear, softmax cross-entropy and its gradient, the head's reverse mode, and Adam. CPU twins:
//! `nets::hebbconv::backward::{head_forward, head_backward, dropout_mask}`, `nets::linear::softmax_cross_entropy`
//! and `nets::optim::Adam`.
//!
//! The head's products are small (a batch of 64 by ten classes against the features), so they are plain
//! reductions here rather than the tiled GEMM of kernels/matmul.wgsl, which would need its bias pre-filled and
//! its compensation buffers for no gain at these shapes.
//!
//! [`HeadGpu`] and [`AdamGpu`] are bound to a network's tensors once per run; [`head_gpu`] and [`adam_gpu`] are
//! one-shot wrappers (tests).
use crate::engine::{Gpu, Kernel, Recorder, Tensor, f32_bytes};
use crate::error::{Error, Result};
use crate::nets::hebbconv::backward::dropout_key;
use crate::nets::linear::Linear;
use crate::nets::optim::Adam;
use ndarray::{Array1, Array2, ArrayView2};

/// Invocations per workgroup of the element-wise kernels, as in backprop.wgsl.
const WG: usize = 256;
/// The most workgroups an element-wise kernel is dispatched over (they loop with a grid stride).
const MAX_GROUPS: usize = 4096;

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct HeadParams {
    n: u32,
    f: u32,
    classes: u32,
    train: u32,
    seed: u32,
    stream: u32,
    batch_lo: u32,
    batch_hi: u32,
    p: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct AdamParams {
    step_size: f32,
    bias2_sqrt: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

pub fn source() -> String {
    format!(
        "{}\n{}",
        super::prelude::library(),
        include_str!("backprop.wgsl")
    )
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![
        super::prelude::layout!(
            "backprop",
            "HeadParams",
            HeadParams,
            n,
            f,
            classes,
            train,
            seed,
            stream,
            batch_lo,
            batch_hi,
            p
        ),
        super::prelude::layout!(
            "backprop",
            "AdamParams",
            AdamParams,
            step_size,
            bias2_sqrt,
            beta1,
            beta2,
            eps
        ),
    ]
}

fn groups_for(total: usize) -> u32 {
    total.div_ceil(WG).clamp(1, MAX_GROUPS) as u32
}

/// How the head treats its features in one pass.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HeadMode {
    /// Evaluation: dropout is the identity.
    Eval,
    /// Training: the dropout mask of batch `batch` of the run seeded `seed`, with probability `p`.
    Train { seed: u32, batch: u64, p: f32 },
}

/// The head of a network on the device for batches of `n`: its weights and their gradients, the labels, the
/// logits and the per-row losses, with its five kernels bound to the last layer's output and gradient.
pub struct HeadGpu {
    n: usize,
    f: usize,
    classes: usize,
    params: Tensor,
    /// [classes, F] and [classes].
    pub w: Tensor,
    pub b: Tensor,
    /// One u32 label per row.
    pub labels: Tensor,
    /// [N, classes].
    pub logits: Tensor,
    /// Each row's cross-entropy.
    pub losses: Tensor,
    pub dw: Tensor,
    pub db: Tensor,
    dropout: Kernel,
    forward: Kernel,
    xent: Kernel,
    weight_grad: Kernel,
    input_grad: Kernel,
    _held: [Tensor; 2],
}

impl HeadGpu {
    /// A head reading the flattened activation `x` [n, f] and writing dL/dx into `dx` (same shape).
    pub async fn new(
        gpu: &Gpu,
        n: usize,
        f: usize,
        classes: usize,
        x: &Tensor,
        dx: &Tensor,
    ) -> Result<Self> {
        if n == 0 || f == 0 || classes == 0 {
            return Err(Error::Gpu(format!(
                "a head of {n} rows, {f} features and {classes} classes"
            )));
        }
        if n * f >= u32::MAX as usize / 2 {
            return Err(Error::Gpu(format!(
                "{n} × {f} features are too many for 32-bit indices"
            )));
        }
        gpu.check_workgroups("the head's logits", (n * classes) as u32)?;
        for (what, bytes) in [
            ("the head's features", f32_bytes(n * f)),
            ("the head's weights", f32_bytes(classes * f)),
        ] {
            gpu.check_size(what, bytes)?;
        }
        let params = gpu.uniform_tensor("head parameters", size_of::<HeadParams>() as u64)?;
        let w = gpu.tensor("head weights", f32_bytes(classes * f))?;
        let b = gpu.tensor("head biases", f32_bytes(classes))?;
        let feats = gpu.tensor("head features", f32_bytes(n * f))?;
        let labels = gpu.tensor("labels", f32_bytes(n))?;
        let logits = gpu.tensor("logits", f32_bytes(n * classes))?;
        let dlogits = gpu.tensor("logit gradients", f32_bytes(n * classes))?;
        let losses = gpu.tensor("losses", f32_bytes(n))?;
        let dw = gpu.tensor("head weight gradient", f32_bytes(classes * f))?;
        let db = gpu.tensor("head bias gradient", f32_bytes(classes))?;
        let src = source();
        let bind = async |name: &'static str, entry: &str, tensors: &[(u32, &Tensor)]| {
            let mut all = vec![(0, &params)];
            all.extend_from_slice(tensors);
            gpu.kernel_at(name, &src, entry, &all).await
        };
        let dropout = bind("backprop_dropout", "dropout", &[(1, x), (2, &feats)]).await?;
        let forward = bind(
            "backprop_linear_forward",
            "linear_forward",
            &[(2, &feats), (3, &w), (4, &b), (5, &logits)],
        )
        .await?;
        let xent = bind(
            "backprop_softmax_xent",
            "softmax_xent",
            &[(5, &logits), (6, &labels), (7, &dlogits), (8, &losses)],
        )
        .await?;
        let weight_grad = bind(
            "backprop_head_weight_grad",
            "head_weight_grad",
            &[(2, &feats), (7, &dlogits), (9, &dw), (10, &db)],
        )
        .await?;
        let input_grad = bind(
            "backprop_head_input_grad",
            "head_input_grad",
            &[(3, &w), (7, &dlogits), (11, dx)],
        )
        .await?;
        Ok(Self {
            n,
            f,
            classes,
            params,
            w,
            b,
            labels,
            logits,
            losses,
            dw,
            db,
            dropout,
            forward,
            xent,
            weight_grad,
            input_grad,
            _held: [feats, dlogits],
        })
    }

    /// Sets the mode of the next passes (queued: it lands before the next submit's work).
    pub fn set_mode(&self, gpu: &Gpu, mode: HeadMode) {
        let mut p = HeadParams {
            n: self.n as u32,
            f: self.f as u32,
            classes: self.classes as u32,
            ..HeadParams::default()
        };
        if let HeadMode::Train {
            seed,
            batch,
            p: rate,
        } = mode
        {
            let [seed, stream] = dropout_key(seed);
            p = HeadParams {
                train: 1,
                seed,
                stream,
                batch_lo: batch as u32,
                batch_hi: (batch >> 32) as u32,
                p: rate,
                ..p
            };
        }
        gpu.write(&self.params, bytemuck::bytes_of(&p));
    }

    /// Writes `labels` (one per row, each below the number of classes: checked by the caller).
    pub fn set_labels(&self, gpu: &Gpu, labels: &[u8]) {
        let v: Vec<u32> = labels.iter().map(|&l| u32::from(l)).collect();
        gpu.write(&self.labels, bytemuck::cast_slice(&v));
    }

    /// Dropout, then the logits.
    pub fn record_forward(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.dropout, groups_for(self.n * self.f));
        rec.dispatch(&self.forward, (self.n * self.classes) as u32);
    }

    /// The losses and the logits' gradient, the head's weight and bias gradients, and with `want_dx` the
    /// gradient of its input.
    pub fn record_backward(&self, rec: &mut Recorder<'_>, want_dx: bool) {
        rec.dispatch(&self.xent, self.n.div_ceil(64) as u32);
        rec.dispatch(
            &self.weight_grad,
            groups_for(self.classes * self.f + self.classes),
        );
        if want_dx {
            rec.dispatch(&self.input_grad, groups_for(self.n * self.f));
        }
    }
}

/// Adam over a network's parameter tensors on the device: each tensor's moments live here for the run, and
/// one dispatch per tensor updates it from its gradient tensor.
pub struct AdamGpu {
    params: Tensor,
    steps: Vec<(Kernel, u32)>,
    /// (first, second) moments per tensor, in the order given.
    pub moments: Vec<(Tensor, Tensor)>,
}

impl AdamGpu {
    /// Binds each (parameter, gradient) pair of equal sizes, starting from `adam`'s moments (one per pair).
    pub async fn new(gpu: &Gpu, pairs: &[(&Tensor, &Tensor)], adam: &Adam) -> Result<Self> {
        if pairs.len() != adam.moments().len() {
            return Err(Error::Gpu(format!(
                "{} parameter tensors for an optimiser of {}",
                pairs.len(),
                adam.moments().len()
            )));
        }
        let params = gpu.uniform_tensor("Adam parameters", size_of::<AdamParams>() as u64)?;
        let src = source();
        let mut steps = Vec::with_capacity(pairs.len());
        let mut moments = Vec::with_capacity(pairs.len());
        for ((p, g), (m, v)) in pairs.iter().zip(adam.moments()) {
            if p.bytes() != f32_bytes(m.len()) || g.bytes() != p.bytes() {
                return Err(Error::Gpu(format!(
                    "a parameter of {} bytes with a gradient of {} and moments of {} values",
                    p.bytes(),
                    g.bytes(),
                    m.len()
                )));
            }
            let m = gpu.tensor_from("Adam first moments", bytemuck::cast_slice(m))?;
            let v = gpu.tensor_from("Adam second moments", bytemuck::cast_slice(v))?;
            let kernel = gpu
                .kernel_at(
                    "backprop_adam_step",
                    &src,
                    "adam_step",
                    &[(12, &params), (13, p), (14, g), (15, &m), (16, &v)],
                )
                .await?;
            steps.push((kernel, groups_for(p.bytes() as usize / 4)));
            moments.push((m, v));
        }
        Ok(Self {
            params,
            steps,
            moments,
        })
    }

    /// Sets the factors of step `t` (counted from 1) of `adam` (queued, as [`HeadGpu::set_mode`]).
    pub fn set_step(&self, gpu: &Gpu, adam: &Adam, t: i32) {
        let (step_size, bias2_sqrt) = adam.factors(t);
        let p = AdamParams {
            step_size,
            bias2_sqrt,
            beta1: adam.beta1,
            beta2: adam.beta2,
            eps: adam.eps,
            ..AdamParams::default()
        };
        gpu.write(&self.params, bytemuck::bytes_of(&p));
    }

    /// One step of every tensor.
    pub fn record(&self, rec: &mut Recorder<'_>) {
        for (kernel, groups) in &self.steps {
            rec.dispatch(kernel, *groups);
        }
    }

    /// Reads every tensor's moments back (first, then second, per tensor), for [`Adam::restore`].
    pub fn record_reads(&self, rec: &mut Recorder<'_>) {
        for (m, v) in &self.moments {
            rec.read(m, m.bytes());
            rec.read(v, v.bytes());
        }
    }
}

/// Everything one pass of the head computes, read back.
#[derive(Clone, Debug)]
pub struct HeadPass {
    pub logits: Array2<f32>,
    /// Mean cross-entropy (the rows' losses summed in f64, as the CPU twin sums them).
    pub loss: f32,
    pub dw: Array2<f32>,
    pub db: Array1<f32>,
    pub dx: Array2<f32>,
}

/// The mean of per-row losses read back from [`HeadGpu::losses`], summed in f64 as the CPU twin does.
pub fn mean_loss(bytes: &[u8], n: usize) -> f32 {
    let v: Vec<f32> = bytemuck::pod_collect_to_vec(bytes);
    let total: f64 = v.iter().take(n).map(|&l| f64::from(l)).sum();
    (total / n.max(1) as f64) as f32
}

fn matrix(bytes: &[u8], dim: (usize, usize)) -> Result<Array2<f32>> {
    Array2::from_shape_vec(dim, bytemuck::pod_collect_to_vec(bytes))
        .map_err(|e| Error::Gpu(format!("unexpected result layout: {e}")))
}

/// One forward and backward pass of the head on the GPU for features `x` [N, F] and `labels`.
pub async fn head_gpu(
    gpu: &Gpu,
    lin: &Linear,
    x: ArrayView2<'_, f32>,
    labels: &[u8],
    mode: HeadMode,
) -> Result<HeadPass> {
    let (n, f) = x.dim();
    let classes = lin.w.nrows();
    if lin.w.ncols() != f || labels.len() != n || labels.iter().any(|&l| usize::from(l) >= classes)
    {
        return Err(Error::Gpu(format!(
            "a head of {:?} for {n} × {f} features and {} labels below {classes}",
            lin.w.dim(),
            labels.len()
        )));
    }
    let xs = x.as_standard_layout();
    let xt = gpu.tensor_from(
        "features",
        bytemuck::cast_slice(xs.as_slice().expect("standard")),
    )?;
    let dx = gpu.tensor("feature gradient", f32_bytes(n * f))?;
    let head = HeadGpu::new(gpu, n, f, classes, &xt, &dx).await?;
    let w = lin.w.as_standard_layout();
    gpu.write(
        &head.w,
        bytemuck::cast_slice(w.as_slice().expect("standard")),
    );
    gpu.write(&head.b, bytemuck::cast_slice(&lin.b.to_vec()));
    head.set_labels(gpu, labels);
    head.set_mode(gpu, mode);
    let mut rec = gpu.record();
    head.record_forward(&mut rec);
    head.record_backward(&mut rec, true);
    for (t, bytes) in [
        (&head.logits, n * classes),
        (&head.losses, n),
        (&head.dw, classes * f),
        (&head.db, classes),
        (&dx, n * f),
    ] {
        rec.read(t, (bytes * 4) as u64);
    }
    let out = rec.submit().await?;
    Ok(HeadPass {
        logits: matrix(&out[0], (n, classes))?,
        loss: mean_loss(&out[1], n),
        dw: matrix(&out[2], (classes, f))?,
        db: Array1::from(bytemuck::pod_collect_to_vec::<u8, f32>(&out[3])),
        dx: matrix(&out[4], (n, f))?,
    })
}

/// One step of `adam` on the GPU: the tensors `params` after the step, and `adam` moved on (its moments and
/// step count read back).
pub async fn adam_gpu(
    gpu: &Gpu,
    adam: &mut Adam,
    params: &[Vec<f32>],
    grads: &[Vec<f32>],
) -> Result<Vec<Vec<f32>>> {
    let upload = |what, v: &Vec<f32>| gpu.tensor_from(what, bytemuck::cast_slice(v));
    let p: Vec<Tensor> = params
        .iter()
        .map(|v| upload("parameter", v))
        .collect::<Result<_>>()?;
    let g: Vec<Tensor> = grads
        .iter()
        .map(|v| upload("gradient", v))
        .collect::<Result<_>>()?;
    let pairs: Vec<(&Tensor, &Tensor)> = p.iter().zip(&g).collect();
    let opt = AdamGpu::new(gpu, &pairs, adam).await?;
    let t = adam.steps() + 1;
    opt.set_step(gpu, adam, t);
    let mut rec = gpu.record();
    opt.record(&mut rec);
    for t in &p {
        rec.read(t, t.bytes());
    }
    opt.record_reads(&mut rec);
    let mut out = rec.submit().await?.into_iter();
    let stepped: Vec<Vec<f32>> = (&mut out)
        .take(p.len())
        .map(|b| bytemuck::pod_collect_to_vec(&b))
        .collect();
    let mut moments = Vec::with_capacity(p.len());
    while let (Some(m), Some(v)) = (out.next(), out.next()) {
        moments.push((
            bytemuck::pod_collect_to_vec(&m),
            bytemuck::pod_collect_to_vec(&v),
        ));
    }
    adam.restore(t, moments)?;
    Ok(stepped)
}
