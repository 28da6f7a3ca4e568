//! Depthwise Hebbian convolution on the GPU (kernels/hebbdepthwise.wgsl), the layers of architectures E and F
//! (notes §1.14): each channel convolved with its own k × k filter (reflect padding, stride), the cosine
//! activation's division by each channel's own patch norm fused into the forward pass, and the depthwise
//! correlation Σ_{n,p} r[n,c,p]·patch_{n,p}(x[c]). CPU twin: nets::hebbconv::conv with a depthwise `ConvSpec`.
//!
//! [`DepthwiseGpu`] holds one layer's tensors for a run, as [`ConvGpu`](super::hebbconv::ConvGpu) does, and
//! its update is [`UpdateGpu::depthwise`](super::hebbupdate::UpdateGpu::depthwise): competition over the
//! positions of each channel.
use super::hebbconv::{ConvShape, Shared, to_array, values};
use super::hebblayers::LayerKernel;
use crate::engine::{Gpu, Kernel, Recorder, Tensor};
use crate::error::{Error, Result};
use crate::nets::hebbconv::conv::Activation;
use ndarray::{Array4, ArrayView4};

/// Invocations per workgroup, as in hebbdepthwise.wgsl.
const WG: usize = 256;
/// The most workgroups of the forward pass; it loops with a grid stride over the rest.
const MAX_GROUPS: usize = 4096;

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct DepthwiseParams {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    k: u32,
    stride: u32,
    pad: u32,
    ho: u32,
    wo: u32,
    cosine: u32,
    _pad0: u32,
    _pad1: u32,
}

pub fn source() -> String {
    include_str!("hebbdepthwise.wgsl").to_string()
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "hebbdepthwise",
        "DepthwiseParams",
        DepthwiseParams,
        n,
        c,
        h,
        w,
        k,
        stride,
        pad,
        ho,
        wo,
        cosine
    )]
}

/// Refuses what a depthwise layer is not: C_out must equal C_in; otherwise as `ConvShape::check`.
fn check(shape: &ConvShape) -> Result<()> {
    shape.check()?;
    if shape.c_out != shape.c_in {
        return Err(Error::Gpu(format!(
            "a depthwise convolution keeps its channels: {} in, {} out",
            shape.c_in, shape.c_out
        )));
    }
    Ok(())
}

/// Bytes of a depthwise layer's input, output (and coefficients) and weights (and correlation), for a
/// network's check of every layer before it allocates.
pub fn buffer_bytes(shape: &ConvShape) -> [(&'static str, u64); 3] {
    let f32s = |n: usize| (n * 4) as u64;
    [
        ("input", f32s(shape.n * shape.c_in * shape.h * shape.w)),
        (
            "output",
            f32s(shape.n * shape.c_in * shape.ho() * shape.wo()),
        ),
        ("weights", f32s(shape.c_in * shape.k * shape.k)),
    ]
}

/// One depthwise layer's tensors and kernels on the device, made once per run (`shape.c_out = shape.c_in`).
pub struct DepthwiseGpu {
    pub shape: ConvShape,
    /// Input [N, C, H, W], written by the previous layer or uploaded.
    pub x: Tensor,
    /// Weights [C, 1, k, k].
    pub w: Tensor,
    /// Output [N, C, Ho, Wo].
    pub y: Tensor,
    /// Post-synaptic coefficients of the update [N, C, Ho, Wo] (written by the competition).
    pub r: Tensor,
    /// Σ_{n,p} r[n,c,p]·patch_{n,p}(x[c]), [C, 1, k, k].
    pub correlation: Tensor,
    params: DepthwiseParams,
    forward: Kernel,
    correlate: Kernel,
    groups: [u32; 2],
}

impl DepthwiseGpu {
    /// A layer bound to the tensors in `shared`, allocating the rest; with `cosine`, the forward pass divides
    /// by each channel's patch norm (its weights, normalised, come in as `shared.forward_weights`).
    pub async fn with(
        gpu: &Gpu,
        shape: ConvShape,
        cosine: bool,
        shared: Shared<'_>,
    ) -> Result<Self> {
        check(&shape)?;
        let [(_, x_bytes), (_, y_bytes), (_, w_bytes)] = buffer_bytes(&shape);
        let x = match shared.x {
            Some(x) => x.share(),
            None => gpu.tensor("depthwise input", x_bytes)?,
        };
        let w = gpu.tensor("depthwise weights", w_bytes)?;
        let y = gpu.tensor("depthwise output", y_bytes)?;
        let r = gpu.tensor("depthwise update coefficients", y_bytes)?;
        let correlation = gpu.tensor("depthwise correlation", w_bytes)?;
        let params = DepthwiseParams {
            n: shape.n as u32,
            c: shape.c_in as u32,
            h: shape.h as u32,
            w: shape.w as u32,
            k: shape.k as u32,
            stride: shape.stride as u32,
            pad: shape.pad as u32,
            ho: shape.ho() as u32,
            wo: shape.wo() as u32,
            cosine: u32::from(cosine),
            _pad0: 0,
            _pad1: 0,
        };
        let uniform = gpu.uniform_tensor("depthwise shape", size_of::<DepthwiseParams>() as u64)?;
        gpu.write(&uniform, bytemuck::bytes_of(&params));
        let src = source();
        let forward = gpu
            .kernel(
                "hebbdepthwise_forward",
                &src,
                "forward",
                &[
                    &uniform,
                    shared.forward_weights.unwrap_or(&w),
                    &x,
                    shared.forward_out.unwrap_or(&y),
                ],
            )
            .await?;
        let correlate = gpu
            .kernel(
                "hebbdepthwise_correlate",
                &src,
                "correlate",
                &[&uniform, &r, &x, &correlation],
            )
            .await?;
        let outputs = shape.n * shape.c_in * shape.ho() * shape.wo();
        let groups = [
            outputs.div_ceil(WG).clamp(1, MAX_GROUPS) as u32,
            (shape.c_in * shape.k * shape.k) as u32,
        ];
        gpu.check_workgroups("the depthwise correlation", groups[1])?;
        Ok(Self {
            shape,
            x,
            w,
            y,
            r,
            correlation,
            params,
            forward,
            correlate,
            groups,
        })
    }

    /// y = the depthwise convolution of x (with [`Shared`] tensors: forward_out from forward_weights).
    pub fn record_forward(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.forward, self.groups[0]);
    }

    /// A second forward pass, linear and from the stored weights w, into `out` (the shape of y): the
    /// statistical threshold's conv(x, w). Record it with [`Self::record_with`].
    pub async fn forward_into(&self, gpu: &Gpu, out: &Tensor) -> Result<Kernel> {
        let linear = DepthwiseParams {
            cosine: 0,
            ..self.params
        };
        let uniform = gpu.uniform_tensor(
            "depthwise linear shape",
            size_of::<DepthwiseParams>() as u64,
        )?;
        gpu.write(&uniform, bytemuck::bytes_of(&linear));
        gpu.kernel(
            "hebbdepthwise_forward",
            &source(),
            "forward",
            &[&uniform, &self.w, &self.x, out],
        )
        .await
    }

    /// Records a kernel from [`Self::forward_into`].
    pub fn record_with(&self, rec: &mut Recorder<'_>, forward: &Kernel) {
        rec.dispatch(forward, self.groups[0]);
    }

    /// correlation = Σ_{n,p} r·patch(x), channel by channel.
    pub fn record_correlate(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.correlate, self.groups[1]);
    }
}

fn shape_of(x: &ArrayView4<'_, f32>, k: usize, stride: usize, pad: usize) -> ConvShape {
    let (n, c, h, w) = x.dim();
    ConvShape {
        n,
        c_in: c,
        h,
        w,
        c_out: c,
        k,
        stride,
        pad,
    }
}

/// `conv::activate` of a depthwise layer on the GPU: x [N, C, H, W] reflect-padded by `pad`, w [C, 1, k, k],
/// `stride`; linear, or cosine (weights normalised by hebblayers' forward weights, then the division by each
/// channel's patch norm).
pub async fn depthwise_activate_gpu(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    w: ArrayView4<'_, f32>,
    stride: usize,
    pad: usize,
    act: Activation,
) -> Result<Array4<f32>> {
    let (c, one, k, _) = w.dim();
    let shape = shape_of(&x, k, stride, pad);
    if one != 1 || c != shape.c_in {
        return Err(Error::Gpu(format!(
            "depthwise weights of shape {:?} for {} channels",
            w.dim(),
            shape.c_in
        )));
    }
    let norm = match act {
        Activation::Linear => None,
        Activation::Cosine(mode) => Some(mode),
    };
    let wf = gpu.tensor("forward weights", buffer_bytes(&shape)[2].1)?;
    let shared = Shared {
        forward_weights: norm.is_some().then_some(&wf),
        ..Shared::default()
    };
    let layer = DepthwiseGpu::with(gpu, shape, norm.is_some(), shared).await?;
    gpu.write(&layer.x, bytemuck::cast_slice(&values(x)));
    gpu.write(&layer.w, bytemuck::cast_slice(&values(w)));
    let prepare = match norm {
        Some(mode) => {
            let w_shape = [c, 1, k, k];
            Some(
                LayerKernel::forward_weights(gpu, w_shape, false, Some(mode), &layer.w, &wf)
                    .await?,
            )
        }
        None => None,
    };
    let mut rec = gpu.record();
    if let Some(p) = &prepare {
        p.record(&mut rec);
    }
    layer.record_forward(&mut rec);
    rec.read(&layer.y, layer.y.bytes());
    let res = rec.submit().await?;
    to_array(&res[0], (shape.n, c, shape.ho(), shape.wo()))
}

/// The depthwise correlation on the GPU: r [N, C, Ho, Wo] for filters of k × k; [C, 1, k, k].
pub async fn depthwise_correlate_gpu(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    r: ArrayView4<'_, f32>,
    k: usize,
    stride: usize,
    pad: usize,
) -> Result<Array4<f32>> {
    let shape = shape_of(&x, k, stride, pad);
    let layer = DepthwiseGpu::with(gpu, shape, false, Shared::default()).await?;
    let want = (shape.n, shape.c_in, shape.ho(), shape.wo());
    if r.dim() != want {
        return Err(Error::Gpu(format!(
            "coefficients of shape {:?} for an output of {want:?}",
            r.dim()
        )));
    }
    gpu.write(&layer.x, bytemuck::cast_slice(&values(x)));
    gpu.write(&layer.r, bytemuck::cast_slice(&values(r)));
    let mut rec = gpu.record();
    layer.record_correlate(&mut rec);
    rec.read(&layer.correlation, layer.correlation.bytes());
    let res = rec.submit().await?;
    to_array(&res[0], (shape.c_in, 1, k, k))
}
