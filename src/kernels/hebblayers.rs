//! The layers around a Hebbian convolution on the GPU (kernels/hebblayers.wgsl), twins of
//! `nets::hebbconv::layers` and of the cosine activation in `nets::hebbconv::conv`: BatchNorm2d without affine
//! parameters (batch statistics and the running averages' update in training, running statistics in
//! evaluation), the Triangle activation, a residual block's sum, max and average pooling with PyTorch's
//! semantics, the surround modulation DoG, the forward pass's weights (|w|, w/‖w‖, per-position normalisation) and the cosine's
//! division by patch norms; and the reverse mode of BatchNorm, ReLU, Triangle and the pools for the backprop
//! baseline (twins in `nets::hebbconv::backward`).
//!
//! [`BatchNormGpu`] and [`LayerKernel`] are bound to their input and output tensors once per run, so that a
//! network records them into a [`Recorder`] without allocating; the `*_gpu` functions are one-shot wrappers
//! (tests, single evaluations).
use super::hebbconv::{ConvGpu, ConvShape, Shared, to_array, values};
use crate::engine::{Gpu, Kernel, Recorder, Tensor};
use crate::error::{Error, Result};
use crate::nets::hebbconv::conv::{Activation, Cosine};
use crate::nets::hebbconv::layers::{BatchNorm, dog_kernel, pool_side};
use crate::plasticity::competition::{PreDim, PreKind};
use ndarray::{Array1, Array4, ArrayView4};

/// Invocations per workgroup, as in hebblayers.wgsl.
const WG: usize = 256;
/// The most workgroups an element-wise kernel is dispatched over: enough to fill any GPU, and under the
/// portable limit; the kernels loop with a grid stride over whatever is left.
const MAX_GROUPS: usize = 4096;

const POOL_MAX: u32 = 0;
const POOL_AVG: u32 = 1;
const NORM_NONE: u32 = 0;
const NORM_FILTER: u32 = 1;
const NORM_POSITION: u32 = 2;

#[repr(C)]
#[derive(Clone, Copy, Default, bytemuck::Pod, bytemuck::Zeroable)]
struct LayerParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    ho: u32,
    wo: u32,
    k: u32,
    stride: u32,
    pad: u32,
    c_out: u32,
    mode: u32,
    abs_w: u32,
    power: f32,
    momentum: f32,
    eps: f32,
    over: u32,
}

impl LayerParams {
    /// The parameters of an activation [N, C, H, W] (output sides equal to the input's).
    fn of(shape: [usize; 4]) -> Self {
        let [n, c, h, w] = shape.map(|v| v as u32);
        Self {
            n,
            c,
            h,
            w,
            ho: h,
            wo: w,
            ..Self::default()
        }
    }

    /// The parameters of a convolution's input side (the cosine's patches, the forward weights).
    fn of_conv(s: &ConvShape) -> Self {
        Self {
            ho: s.ho() as u32,
            wo: s.wo() as u32,
            k: s.k as u32,
            stride: s.stride as u32,
            pad: s.pad as u32,
            c_out: s.c_out as u32,
            ..Self::of([s.n, s.c_in, s.h, s.w])
        }
    }
}

pub fn source() -> String {
    include_str!("hebblayers.wgsl").to_string()
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "hebblayers",
        "LayerParams",
        LayerParams,
        n,
        c,
        h,
        w,
        ho,
        wo,
        k,
        stride,
        pad,
        c_out,
        mode,
        abs_w,
        power,
        momentum,
        eps,
        over
    )]
}

/// Workgroups of an element-wise kernel over `total` items.
fn groups_for(total: usize) -> u32 {
    total.div_ceil(WG).clamp(1, MAX_GROUPS) as u32
}

/// Refuses an activation the kernels cannot index: empty, or too many values for 32-bit indices.
fn check_shape(what: &str, shape: [usize; 4]) -> Result<()> {
    if shape.contains(&0) {
        return Err(Error::Gpu(format!(
            "{what}: every size of {shape:?} must be at least 1"
        )));
    }
    if shape.iter().product::<usize>() >= u32::MAX as usize / 2 {
        return Err(Error::Gpu(format!(
            "{what}: {shape:?} has too many values for 32-bit indices"
        )));
    }
    Ok(())
}

/// The parameters of a k × k pool with `stride` and `pad` on an input of `shape`, refused where it does not
/// fit (PyTorch's bound pad ≤ k/2 holds, so that every window sees the image).
fn pool_params(
    what: &str,
    shape: [usize; 4],
    kind: PoolKind,
    k: usize,
    stride: usize,
    pad: usize,
) -> Result<LayerParams> {
    check_shape(what, shape)?;
    let [_, _, h, w] = shape;
    if k == 0 || stride == 0 || 2 * pad > k || h + 2 * pad < k || w + 2 * pad < k {
        return Err(Error::Gpu(format!(
            "a {k}×{k} pool with stride {stride} and padding {pad} does not fit {h}×{w} (PyTorch needs pad ≤ k/2)"
        )));
    }
    Ok(LayerParams {
        ho: pool_side(h, k, stride, pad) as u32,
        wo: pool_side(w, k, stride, pad) as u32,
        k: k as u32,
        stride: stride as u32,
        pad: pad as u32,
        mode: match kind {
            PoolKind::Max => POOL_MAX,
            PoolKind::Avg => POOL_AVG,
        },
        ..LayerParams::of(shape)
    })
}

fn f32_bytes(shape: [usize; 4]) -> u64 {
    (shape.iter().product::<usize>() * 4) as u64
}

fn uniform(gpu: &Gpu, p: &LayerParams) -> Result<Tensor> {
    let t = gpu.uniform_tensor("layer parameters", size_of::<LayerParams>() as u64)?;
    gpu.write(&t, bytemuck::bytes_of(p));
    Ok(t)
}

/// `BatchNorm2d(C, affine=False)` on the device: its running statistics live in [`Self::running`] for the
/// run, and each step normalises x into out with the batch's statistics (moving the running ones) or with the
/// running ones.
pub struct BatchNormGpu {
    /// The running mean (C values), then the unbiased running variance (C values).
    pub running: Tensor,
    channels: usize,
    stats: Kernel,
    apply_batch: Kernel,
    apply_running: Kernel,
    apply_groups: u32,
    _held: [Tensor; 2],
}

impl BatchNormGpu {
    /// A BatchNorm of x [N, C, H, W] into out (the same shape), starting from `bn`'s running statistics and
    /// with its momentum and ε.
    pub async fn new(
        gpu: &Gpu,
        shape: [usize; 4],
        bn: &BatchNorm,
        x: &Tensor,
        out: &Tensor,
    ) -> Result<Self> {
        check_shape("BatchNorm", shape)?;
        let channels = shape[1];
        if bn.running_mean.len() != channels || bn.running_var.len() != channels {
            return Err(Error::Gpu(format!(
                "a BatchNorm of {} channels for an input of {channels}",
                bn.running_mean.len()
            )));
        }
        gpu.check_workgroups("BatchNorm statistics", channels as u32)?;
        let params = LayerParams {
            momentum: bn.momentum,
            eps: bn.eps,
            ..LayerParams::of(shape)
        };
        let params = uniform(gpu, &params)?;
        let running: Vec<f32> = bn
            .running_mean
            .iter()
            .chain(&bn.running_var)
            .copied()
            .collect();
        let running = gpu.tensor_from(
            "BatchNorm running statistics",
            bytemuck::cast_slice(&running),
        )?;
        let batch = gpu.tensor("BatchNorm batch statistics", (2 * channels * 4) as u64)?;
        let src = source();
        let stats = gpu
            .kernel_at(
                "hebblayers_bn_stats",
                &src,
                "bn_stats",
                &[(0, &params), (1, x), (3, &batch), (4, &running)],
            )
            .await?;
        // One pipeline, bound once to this batch's statistics and once to the running ones.
        let mut apply = Vec::with_capacity(2);
        for stats in [&batch, &running] {
            let bound = [(0, &params), (1, x), (2, out), (3, stats)];
            apply.push(
                gpu.kernel_at("hebblayers_bn_apply", &src, "bn_apply", &bound)
                    .await?,
            );
        }
        let (apply_running, apply_batch) = (apply.remove(1), apply.remove(0));
        Ok(Self {
            running,
            channels,
            stats,
            apply_batch,
            apply_running,
            apply_groups: groups_for(shape.iter().product()),
            _held: [params, batch],
        })
    }

    /// Training (`train`): the batch's statistics normalise x, and the running ones move by the momentum.
    /// Evaluation: the running statistics normalise x.
    pub fn record(&self, rec: &mut Recorder<'_>, train: bool) {
        if train {
            rec.dispatch(&self.stats, self.channels as u32);
            rec.dispatch(&self.apply_batch, self.apply_groups);
        } else {
            rec.dispatch(&self.apply_running, self.apply_groups);
        }
    }

    /// Writes running statistics read back from [`Self::running`] into `bn`.
    pub fn store(&self, bytes: &[u8], bn: &mut BatchNorm) -> Result<()> {
        let v: Vec<f32> = bytemuck::pod_collect_to_vec(bytes);
        if v.len() != 2 * self.channels || bn.running_mean.len() != self.channels {
            return Err(Error::Gpu(format!(
                "{} running statistics for a BatchNorm of {} channels",
                v.len(),
                bn.running_mean.len()
            )));
        }
        bn.running_mean = Array1::from(v[..self.channels].to_vec());
        bn.running_var = Array1::from(v[self.channels..].to_vec());
        Ok(())
    }
}

/// How a pooling layer combines its window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolKind {
    /// `MaxPool2d`: padding never wins.
    Max,
    /// `AvgPool2d` with `count_include_pad`: padding counts as zero, the divisor is k².
    Avg,
}

/// A fixed layer's kernel bound to its tensors for a run: Triangle, a pool, surround modulation, the cosine's
/// division by patch norms, or the forward pass's weights.
pub struct LayerKernel {
    kernel: Kernel,
    groups: u32,
    _held: Vec<Tensor>,
}

impl LayerKernel {
    async fn bind(
        gpu: &Gpu,
        name: &'static str,
        entry: &str,
        params: &LayerParams,
        tensors: &[(u32, &Tensor)],
        groups: u32,
        mut held: Vec<Tensor>,
    ) -> Result<Self> {
        let params = uniform(gpu, params)?;
        let mut all = vec![(0, &params)];
        all.extend_from_slice(tensors);
        let kernel = gpu.kernel_at(name, &source(), entry, &all).await?;
        held.push(params);
        Ok(Self {
            kernel,
            groups,
            _held: held,
        })
    }

    /// Triangle: out = ReLU(x − mean_c x)^power on x [N, C, H, W].
    pub async fn triangle(
        gpu: &Gpu,
        shape: [usize; 4],
        power: f32,
        x: &Tensor,
        out: &Tensor,
    ) -> Result<Self> {
        check_shape("Triangle", shape)?;
        let params = LayerParams {
            power,
            ..LayerParams::of(shape)
        };
        let [n, _, h, w] = shape;
        let groups = groups_for(n * h * w);
        let tensors = [(1, x), (2, out)];
        Self::bind(
            gpu,
            "hebblayers_triangle",
            "triangle",
            &params,
            &tensors,
            groups,
            vec![],
        )
        .await
    }

    /// A residual block's sum: out = a + b, all three [N, C, H, W] (`shape`).
    pub async fn add(
        gpu: &Gpu,
        shape: [usize; 4],
        a: &Tensor,
        b: &Tensor,
        out: &Tensor,
    ) -> Result<Self> {
        check_shape("residual sum", shape)?;
        let groups = groups_for(shape.iter().product());
        Self::bind(
            gpu,
            "hebblayers_add",
            "add",
            &LayerParams::of(shape),
            &[(1, a), (2, out), (6, b)],
            groups,
            vec![],
        )
        .await
    }

    /// A k × k pool with `stride` and `pad` of x [N, C, H, W] into out [N, C, Ho, Wo] (Ho = ⌊(H + 2·pad −
    /// k)/stride⌋ + 1). PyTorch's bound pad ≤ k/2 holds, so that every window sees the image.
    #[allow(clippy::too_many_arguments)]
    pub async fn pool(
        gpu: &Gpu,
        shape: [usize; 4],
        kind: PoolKind,
        k: usize,
        stride: usize,
        pad: usize,
        x: &Tensor,
        out: &Tensor,
    ) -> Result<Self> {
        let params = pool_params("pool", shape, kind, k, stride, pad)?;
        let [n, c, ..] = shape;
        let groups = groups_for(n * c * params.ho as usize * params.wo as usize);
        let tensors = [(1, x), (2, out)];
        Self::bind(
            gpu,
            "hebblayers_pool",
            "pool",
            &params,
            &tensors,
            groups,
            vec![],
        )
        .await
    }

    /// Surround modulation of x [N, C, H, W] into out (the same shape): each channel cross-correlated with
    /// the 5 × 5 DoG of `layers::dog_kernel`, zero padding 2.
    pub async fn surround(gpu: &Gpu, shape: [usize; 4], x: &Tensor, out: &Tensor) -> Result<Self> {
        check_shape("surround modulation", shape)?;
        let dog: Vec<f32> = dog_kernel().into_iter().flatten().collect();
        let dog = gpu.tensor_from("surround-modulation kernel", bytemuck::cast_slice(&dog))?;
        let groups = groups_for(shape.iter().product());
        let tensors = [(1, x), (2, out), (5, &dog)];
        let params = LayerParams::of(shape);
        let held = vec![dog.share()];
        Self::bind(
            gpu,
            "hebblayers_surround",
            "surround",
            &params,
            &tensors,
            groups,
            held,
        )
        .await
    }

    /// The cosine activation's division: y [N, C_out, Ho, Wo], the convolution of x (shape `conv`) with
    /// normalised weights, divided in place by each patch's norm sqrt(Σ x_pad² + 1e-8).
    pub async fn cosine(gpu: &Gpu, conv: &ConvShape, x: &Tensor, y: &Tensor) -> Result<Self> {
        conv.check()?;
        let groups = groups_for(conv.positions());
        let tensors = [(1, x), (2, y)];
        let params = LayerParams::of_conv(conv);
        Self::bind(
            gpu,
            "hebblayers_cosine",
            "cosine",
            &params,
            &tensors,
            groups,
            vec![],
        )
        .await
    }

    /// The weights a forward pass uses, from w [C_out, C_in, k, k] (`shape`; depthwise [C, 1, k, k]) into out
    /// (the same shape): |w| when `abs` (Dale's principle), then normalised as `norm` says (F.normalize over
    /// the whole filter or over the input channels at each kernel position), or not.
    pub async fn forward_weights(
        gpu: &Gpu,
        shape: [usize; 4],
        abs: bool,
        norm: Option<Cosine>,
        w: &Tensor,
        out: &Tensor,
    ) -> Result<Self> {
        check_shape("forward weights", shape)?;
        let [c_out, c_in, k, _] = shape;
        gpu.check_workgroups("the forward weights", c_out as u32)?;
        let params = LayerParams {
            c: c_in as u32,
            k: k as u32,
            c_out: c_out as u32,
            abs_w: u32::from(abs),
            mode: match norm {
                None => NORM_NONE,
                Some(Cosine::Filter) => NORM_FILTER,
                Some(Cosine::PerPosition) => NORM_POSITION,
            },
            ..LayerParams::default()
        };
        let tensors = [(1, w), (2, out)];
        let groups = c_out as u32;
        Self::bind(
            gpu,
            "hebblayers_forward_weights",
            "forward_weights",
            &params,
            &tensors,
            groups,
            vec![],
        )
        .await
    }

    /// Pre-synaptic competition's weights from w [C_out, C_in, k, k] (`shape`) into out: the couplings
    /// 1/(|w| + 1e-6) normalised as `kind` says within each group of weights `over` names
    /// (`plasticity::competition::presynaptic`).
    pub async fn presynaptic(
        gpu: &Gpu,
        shape: [usize; 4],
        kind: PreKind,
        over: PreDim,
        w: &Tensor,
        out: &Tensor,
    ) -> Result<Self> {
        check_shape("pre-synaptic couplings", shape)?;
        let [c_out, c_in, k, _] = shape;
        let groups = match over {
            PreDim::Output => c_in * k * k,
            PreDim::Input => c_out * k * k,
            PreDim::Spatial => c_out * c_in,
            PreDim::Global => 1,
        };
        let params = LayerParams {
            n: groups as u32,
            c: c_in as u32,
            k: k as u32,
            c_out: c_out as u32,
            mode: match kind {
                PreKind::Linear => 0,
                PreKind::Softmax => 1,
                PreKind::L2 => 2,
            },
            over: match over {
                PreDim::Output => 0,
                PreDim::Input => 1,
                PreDim::Spatial => 2,
                PreDim::Global => 3,
            },
            ..LayerParams::default()
        };
        let (name, entry, groups) = match over {
            PreDim::Global => ("hebblayers_presynaptic_global", "presynaptic_global", 1),
            _ => (
                "hebblayers_presynaptic",
                "presynaptic",
                groups.div_ceil(WG) as u32,
            ),
        };
        gpu.check_workgroups("the pre-synaptic couplings", groups)?;
        Self::bind(
            gpu,
            name,
            entry,
            &params,
            &[(1, w), (2, out)],
            groups,
            vec![],
        )
        .await
    }

    /// BatchNorm's reverse mode: dx from its forward input x and dy (all [N, C, H, W], `shape`); in training
    /// (`train`) through the batch's statistics, in evaluation through `running` (a [`BatchNormGpu::running`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn bn_backward(
        gpu: &Gpu,
        shape: [usize; 4],
        train: bool,
        eps: f32,
        running: &Tensor,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<Self> {
        check_shape("BatchNorm's gradient", shape)?;
        gpu.check_workgroups("BatchNorm's gradient", shape[1] as u32)?;
        let params = LayerParams {
            mode: u32::from(train),
            eps,
            ..LayerParams::of(shape)
        };
        let tensors = [(1, x), (2, dx), (4, running), (6, dy)];
        let groups = shape[1] as u32;
        Self::bind(
            gpu,
            "hebblayers_bn_backward",
            "bn_backward",
            &params,
            &tensors,
            groups,
            vec![],
        )
        .await
    }

    /// ReLU: out = max(x, 0) (x and out [N, C, H, W], `shape`).
    pub async fn relu(gpu: &Gpu, shape: [usize; 4], x: &Tensor, out: &Tensor) -> Result<Self> {
        check_shape("ReLU", shape)?;
        let groups = groups_for(shape.iter().product());
        let params = LayerParams::of(shape);
        Self::bind(
            gpu,
            "hebblayers_relu",
            "relu",
            &params,
            &[(1, x), (2, out)],
            groups,
            vec![],
        )
        .await
    }

    /// ReLU's reverse mode: dx = dy where x > 0 (x, dy and dx [N, C, H, W], `shape`).
    pub async fn relu_backward(
        gpu: &Gpu,
        shape: [usize; 4],
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<Self> {
        check_shape("ReLU's gradient", shape)?;
        let groups = groups_for(shape.iter().product());
        let tensors = [(1, x), (2, dx), (6, dy)];
        let params = LayerParams::of(shape);
        Self::bind(
            gpu,
            "hebblayers_relu_backward",
            "relu_backward",
            &params,
            &tensors,
            groups,
            vec![],
        )
        .await
    }

    /// Triangle's reverse mode at its input y (y, dy and dx [N, C, H, W], `shape`).
    pub async fn triangle_backward(
        gpu: &Gpu,
        shape: [usize; 4],
        power: f32,
        y: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<Self> {
        check_shape("Triangle's gradient", shape)?;
        let [n, _, h, w] = shape;
        let params = LayerParams {
            power,
            ..LayerParams::of(shape)
        };
        let tensors = [(1, y), (2, dx), (6, dy)];
        Self::bind(
            gpu,
            "hebblayers_triangle_backward",
            "triangle_backward",
            &params,
            &tensors,
            groups_for(n * h * w),
            vec![],
        )
        .await
    }

    /// A pool's reverse mode: dx [N, C, H, W] (`shape`, the forward's input) from its input x and dy [N, C,
    /// Ho, Wo].
    #[allow(clippy::too_many_arguments)]
    pub async fn pool_backward(
        gpu: &Gpu,
        shape: [usize; 4],
        kind: PoolKind,
        k: usize,
        stride: usize,
        pad: usize,
        x: &Tensor,
        dy: &Tensor,
        dx: &Tensor,
    ) -> Result<Self> {
        let params = pool_params("pool's gradient", shape, kind, k, stride, pad)?;
        let tensors = [(1, x), (2, dx), (6, dy)];
        Self::bind(
            gpu,
            "hebblayers_pool_backward",
            "pool_backward",
            &params,
            &tensors,
            groups_for(shape.iter().product()),
            vec![],
        )
        .await
    }

    pub fn record(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.kernel, self.groups);
    }
}

/// Runs a backward kernel made by `make(x, dy, dx)` once on x and dy: dx, shaped as x.
async fn backward_once<F, Fut>(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    dy: ArrayView4<'_, f32>,
    make: F,
) -> Result<Array4<f32>>
where
    F: FnOnce(Tensor, Tensor, Tensor) -> Fut,
    Fut: std::future::Future<Output = Result<(LayerKernel, Tensor)>>,
{
    let shape = dims(&x);
    let xt = gpu.tensor_from("forward input", bytemuck::cast_slice(&values(x)))?;
    let gt = gpu.tensor_from("upstream gradient", bytemuck::cast_slice(&values(dy)))?;
    let dx = gpu.tensor("input gradient", f32_bytes(shape))?;
    let (kernel, dx) = make(xt, gt, dx).await?;
    run_once(gpu, &kernel, &dx, shape).await
}

/// `backward::batch_norm_backward` on the GPU.
pub async fn batch_norm_backward_gpu(
    gpu: &Gpu,
    bn: &BatchNorm,
    x: ArrayView4<'_, f32>,
    dy: ArrayView4<'_, f32>,
    train: bool,
) -> Result<Array4<f32>> {
    let shape = dims(&x);
    let running: Vec<f32> = bn
        .running_mean
        .iter()
        .chain(&bn.running_var)
        .copied()
        .collect();
    let running = gpu.tensor_from("running statistics", bytemuck::cast_slice(&running))?;
    backward_once(gpu, x, dy, |x, dy, dx| async move {
        let k = LayerKernel::bn_backward(gpu, shape, train, bn.eps, &running, &x, &dy, &dx).await?;
        Ok((k, dx))
    })
    .await
}

/// `backward::relu_backward` on the GPU.
pub async fn relu_backward_gpu(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    dy: ArrayView4<'_, f32>,
) -> Result<Array4<f32>> {
    let shape = dims(&x);
    backward_once(gpu, x, dy, |x, dy, dx| async move {
        Ok((
            LayerKernel::relu_backward(gpu, shape, &x, &dy, &dx).await?,
            dx,
        ))
    })
    .await
}

/// `backward::triangle_backward` on the GPU.
pub async fn triangle_backward_gpu(
    gpu: &Gpu,
    y: ArrayView4<'_, f32>,
    dy: ArrayView4<'_, f32>,
    power: f32,
) -> Result<Array4<f32>> {
    let shape = dims(&y);
    backward_once(gpu, y, dy, |y, dy, dx| async move {
        let k = LayerKernel::triangle_backward(gpu, shape, power, &y, &dy, &dx).await?;
        Ok((k, dx))
    })
    .await
}

/// `backward::max_pool_backward` or `avg_pool_backward` on the GPU.
pub async fn pool_backward_gpu(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    dy: ArrayView4<'_, f32>,
    kind: PoolKind,
    k: usize,
    stride: usize,
    pad: usize,
) -> Result<Array4<f32>> {
    let shape = dims(&x);
    backward_once(gpu, x, dy, |x, dy, dx| async move {
        let kernel =
            LayerKernel::pool_backward(gpu, shape, kind, k, stride, pad, &x, &dy, &dx).await?;
        Ok((kernel, dx))
    })
    .await
}

/// `plasticity::competition::presynaptic` on the GPU.
pub async fn presynaptic_gpu(
    gpu: &Gpu,
    w: ArrayView4<'_, f32>,
    kind: PreKind,
    over: PreDim,
) -> Result<Array4<f32>> {
    let shape = dims(&w);
    let (wt, ot) = io(gpu, w, shape)?;
    let l = LayerKernel::presynaptic(gpu, shape, kind, over, &wt, &ot).await?;
    run_once(gpu, &l, &ot, shape).await
}

fn dims(a: &ArrayView4<'_, f32>) -> [usize; 4] {
    let (n, c, h, w) = a.dim();
    [n, c, h, w]
}

/// An uploaded input and a zeroed output of shape `out`, for a one-shot kernel.
fn io(gpu: &Gpu, x: ArrayView4<'_, f32>, out: [usize; 4]) -> Result<(Tensor, Tensor)> {
    let xt = gpu.tensor_from("layer input", bytemuck::cast_slice(&values(x)))?;
    let ot = gpu.tensor("layer output", f32_bytes(out))?;
    Ok((xt, ot))
}

/// Runs `kernel` once and reads `out` (of shape `dim`) back.
async fn run_once(
    gpu: &Gpu,
    kernel: &LayerKernel,
    out: &Tensor,
    dim: [usize; 4],
) -> Result<Array4<f32>> {
    let mut rec = gpu.record();
    kernel.record(&mut rec);
    rec.read(out, out.bytes());
    let res = rec.submit().await?;
    to_array(&res[0], (dim[0], dim[1], dim[2], dim[3]))
}

/// `layers::BatchNorm::forward` on the GPU: x normalised, and in training `bn`'s running statistics moved
/// (read back from the device).
pub async fn batch_norm_gpu(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    bn: &mut BatchNorm,
    train: bool,
) -> Result<Array4<f32>> {
    let shape = dims(&x);
    let xt = gpu.tensor_from("BatchNorm input", bytemuck::cast_slice(&values(x)))?;
    let ot = gpu.tensor("BatchNorm output", f32_bytes(shape))?;
    let layer = BatchNormGpu::new(gpu, shape, bn, &xt, &ot).await?;
    let mut rec = gpu.record();
    layer.record(&mut rec, train);
    rec.read(&ot, ot.bytes());
    rec.read(&layer.running, layer.running.bytes());
    let res = rec.submit().await?;
    layer.store(&res[1], bn)?;
    to_array(&res[0], (shape[0], shape[1], shape[2], shape[3]))
}

/// `layers::triangle` on the GPU.
pub async fn triangle_gpu(gpu: &Gpu, x: ArrayView4<'_, f32>, power: f32) -> Result<Array4<f32>> {
    let shape = dims(&x);
    let (xt, ot) = io(gpu, x, shape)?;
    let l = LayerKernel::triangle(gpu, shape, power, &xt, &ot).await?;
    run_once(gpu, &l, &ot, shape).await
}

/// `layers::max_pool` / `layers::avg_pool` on the GPU.
pub async fn pool_gpu(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    kind: PoolKind,
    k: usize,
    stride: usize,
    pad: usize,
) -> Result<Array4<f32>> {
    let shape = dims(&x);
    let [n, c, h, w] = shape;
    let out = [
        n,
        c,
        pool_side(h, k, stride, pad),
        pool_side(w, k, stride, pad),
    ];
    let (xt, ot) = io(gpu, x, out)?;
    let l = LayerKernel::pool(gpu, shape, kind, k, stride, pad, &xt, &ot).await?;
    run_once(gpu, &l, &ot, out).await
}

/// `layers::surround` on the GPU.
pub async fn surround_gpu(gpu: &Gpu, x: ArrayView4<'_, f32>) -> Result<Array4<f32>> {
    let shape = dims(&x);
    let (xt, ot) = io(gpu, x, shape)?;
    let l = LayerKernel::surround(gpu, shape, &xt, &ot).await?;
    run_once(gpu, &l, &ot, shape).await
}

/// The forward pass's weights on the GPU: `conv::normalise_weights` of w (of |w| when `abs`), or w (|w|)
/// itself when `norm` is None.
pub async fn forward_weights_gpu(
    gpu: &Gpu,
    w: ArrayView4<'_, f32>,
    abs: bool,
    norm: Option<Cosine>,
) -> Result<Array4<f32>> {
    let shape = dims(&w);
    let (wt, ot) = io(gpu, w, shape)?;
    let l = LayerKernel::forward_weights(gpu, shape, abs, norm, &wt, &ot).await?;
    run_once(gpu, &l, &ot, shape).await
}

/// `conv::activate` on the GPU: x [N, C_in, H, W] reflect-padded by `pad`, weights w [C_out, C_in, k, k],
/// `stride`; linear, or the cosine activation (normalised weights, then the division by patch norms).
pub async fn activate_gpu(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    w: ArrayView4<'_, f32>,
    stride: usize,
    pad: usize,
    act: Activation,
) -> Result<Array4<f32>> {
    let [n, c_in, h, wd] = dims(&x);
    let [c_out, _, k, _] = dims(&w);
    let shape = ConvShape {
        n,
        c_in,
        h,
        w: wd,
        c_out,
        k,
        stride,
        pad,
    };
    shape.check()?;
    let wf = gpu.tensor("forward weights", shape.buffer_bytes()[2].1)?;
    let cosine = match act {
        Activation::Linear => None,
        Activation::Cosine(mode) => Some(mode),
    };
    let shared = Shared {
        forward_weights: cosine.is_some().then_some(&wf),
        ..Shared::default()
    };
    let layer = ConvGpu::with(gpu, shape, shared).await?;
    gpu.write(&layer.x, bytemuck::cast_slice(&values(x)));
    gpu.write(&layer.w, bytemuck::cast_slice(&values(w)));
    let kernels = match cosine {
        Some(mode) => Some((
            LayerKernel::forward_weights(gpu, dims(&w), false, Some(mode), &layer.w, &wf).await?,
            LayerKernel::cosine(gpu, &shape, &layer.x, &layer.y).await?,
        )),
        None => None,
    };
    let mut rec = gpu.record();
    if let Some((prepare, _)) = &kernels {
        prepare.record(&mut rec);
    }
    layer.record_forward(&mut rec);
    if let Some((_, divide)) = &kernels {
        divide.record(&mut rec);
    }
    rec.read(&layer.y, layer.y.bytes());
    let res = rec.submit().await?;
    to_array(&res[0], (n, c_out, shape.ho(), shape.wo()))
}
