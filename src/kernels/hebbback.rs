//! Reverse mode of a convolution on the GPU, with the convolution family's kernels (kernels/hebbconv.wgsl): the
//! weight gradient Σ_{n,p} dy·patch (the Hebbian correlation with dy for r) and the input gradient of
//! y = conv(pad(x), w), with zero padding (`nn.Conv2d`, the backprop baseline) or reflect padding (the Hebbian
//! layers, whose input gradients gradient-based views need), both as implicit GEMMs. Their
//! CPU twins are `nets::hebbconv::backward::conv_backward` (GEMMs over im2col blocks, checked against finite
//! differences in tests/hebbconv_grad.rs).
//!
//! [`ConvBackGpu`] holds one layer's tensors on the device with the three kernels bound once, so that a training
//! step records its dispatches without allocating; [`input_grad_gpu`] and [`weight_grad_gpu`] are one-shot
//! wrappers (tests, single evaluations).
use super::hebbconv::{self, ConvShape, Gemm, to_array, values};
use crate::engine::{Gpu, Kernel, Recorder, Tensor};
use crate::error::{Error, Result};
use crate::nets::hebbconv::presets::Padding;
use ndarray::{Array4, ArrayView4};

/// The activations and gradients a convolution reads and writes, which a network shares with the layers
/// around it.
pub struct ConvIo {
    /// The layer's input [N, C_in, H, W] (unpadded).
    pub x: Tensor,
    /// Its output [N, C_out, Ho, Wo].
    pub y: Tensor,
    /// Upstream gradient dL/dy, shaped as y.
    pub dy: Tensor,
    /// dL/dx, shaped as x.
    pub dx: Tensor,
}

impl ConvIo {
    /// Four tensors of their own.
    pub fn alloc(gpu: &Gpu, shape: &ConvShape) -> Result<Self> {
        let f32s = |n: usize| (n * 4) as u64;
        let x_len = shape.n * shape.c_in * shape.h * shape.w;
        let y_len = shape.n * shape.c_out * shape.ho() * shape.wo();
        Ok(Self {
            x: gpu.tensor("convolution input", f32s(x_len))?,
            y: gpu.tensor("convolution output", f32s(y_len))?,
            dy: gpu.tensor("output gradient", f32s(y_len))?,
            dx: gpu.tensor("input gradient", f32s(x_len))?,
        })
    }
}

/// One convolution of a backprop network on the device, made once per run: its forward pass, weight gradient
/// and input gradient, with zero or reflect padding.
pub struct ConvBackGpu {
    pub shape: ConvShape,
    pub padding: Padding,
    pub io: ConvIo,
    /// Weights [C_out, C_in, k, k].
    pub w: Tensor,
    /// dL/dw [C_out, C_in, k, k].
    pub dw: Tensor,
    forward: Kernel,
    weight_grad: Kernel,
    sum: Kernel,
    input_grad: Kernel,
    groups: [u32; 4],
}

impl ConvBackGpu {
    /// A layer owning its activations. Shapes as [`ConvShape::check`] accepts them (its pad < H, W rule is
    /// reflect padding's; zero-padded layers of the networks meet it too).
    pub async fn new(gpu: &Gpu, shape: ConvShape, padding: Padding) -> Result<Self> {
        shape.check()?;
        let io = ConvIo::alloc(gpu, &shape)?;
        Self::with(gpu, shape, padding, io).await
    }

    /// A layer reading and writing `io`, allocating its weights, their gradient and the gradient's partial sums.
    pub async fn with(gpu: &Gpu, shape: ConvShape, padding: Padding, io: ConvIo) -> Result<Self> {
        shape.check()?;
        let f32s = |n: usize| (n * 4) as u64;
        let (splits, _) = shape.splits();
        let w_len = shape.c_out * shape.filter_len();
        let w = gpu.tensor("convolution weights", f32s(w_len))?;
        let dw = gpu.tensor("weight gradient", f32s(w_len))?;
        // The weight gradient's partial sums, reached only through the two kernels that bind it.
        let slices = gpu.tensor("weight gradient slices", f32s(splits * w_len))?;
        let forward_params = shape.uniform(gpu, "convolution shape", Gemm::Forward, padding)?;
        let weight_params =
            shape.uniform(gpu, "weight gradient shape", Gemm::Correlate, padding)?;
        let input_params = shape.uniform(gpu, "input gradient shape", Gemm::InputGrad, padding)?;
        let src = hebbconv::source();
        let forward = gpu
            .kernel(
                "hebbback_forward",
                &src,
                "forward",
                &[&forward_params, &w, &io.x, &io.y],
            )
            .await?;
        let weight_grad = gpu
            .kernel(
                "hebbback_weight_grad",
                &src,
                "correlate",
                &[&weight_params, &io.dy, &io.x, &slices],
            )
            .await?;
        let sum = gpu
            .kernel(
                "hebbback_sum",
                &src,
                "sum_splits",
                &[&weight_params, &slices, &io.x, &dw],
            )
            .await?;
        let input_grad = gpu
            .kernel(
                "hebbback_input_grad",
                &src,
                "input_grad",
                &[&input_params, &w, &io.dy, &io.dx],
            )
            .await?;
        let groups = [
            shape.workgroups(Gemm::Forward),
            shape.workgroups(Gemm::Correlate),
            shape.sum_workgroups(),
            shape.workgroups(Gemm::InputGrad),
        ];
        for (what, g) in [
            "forward pass",
            "weight gradient",
            "weight gradient sum",
            "input gradient",
        ]
        .iter()
        .zip(groups)
        {
            gpu.check_workgroups(&format!("the convolution's {what}"), g)?;
        }
        Ok(Self {
            shape,
            padding,
            io,
            w,
            dw,
            forward,
            weight_grad,
            sum,
            input_grad,
            groups,
        })
    }

    /// y = conv(pad(x), w).
    pub fn record_forward(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.forward, self.groups[0]);
    }

    /// dw = Σ_{n,p} dy·patch(x).
    pub fn record_weight_grad(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.weight_grad, self.groups[1]);
        rec.dispatch(&self.sum, self.groups[2]);
    }

    /// dx = the input gradient of conv(pad(x), w) for dy.
    pub fn record_input_grad(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.input_grad, self.groups[3]);
    }
}

/// Refuses a shape the kernels do not define and an upstream gradient that is not the shape of the layer's
/// output.
fn check_dy(s: &ConvShape, dy: &ArrayView4<'_, f32>) -> Result<()> {
    s.check()?;
    let want = (s.n, s.c_out, s.ho(), s.wo());
    if dy.dim() != want {
        return Err(Error::Gpu(format!(
            "an output gradient of shape {:?} for an output of {want:?}",
            dy.dim()
        )));
    }
    Ok(())
}

/// dL/dx on the GPU of y = conv(pad(x), w) for the upstream gradient dy [N, C_out, Ho, Wo], x of [N, C_in, H, W]
/// given as `input` = (N, C_in, H, W), w [C_out, C_in, k, k].
pub async fn input_grad_gpu(
    gpu: &Gpu,
    input: (usize, usize, usize, usize),
    w: ArrayView4<'_, f32>,
    dy: ArrayView4<'_, f32>,
    stride: usize,
    pad: usize,
    padding: Padding,
) -> Result<Array4<f32>> {
    let (n, c_in, h, wd) = input;
    let shape = ConvShape {
        n,
        c_in,
        h,
        w: wd,
        c_out: w.dim().0,
        k: w.dim().2,
        stride,
        pad,
    };
    check_dy(&shape, &dy)?;
    if w.dim().1 != c_in || w.dim().3 != w.dim().2 {
        return Err(Error::Gpu(format!(
            "weights of shape {:?} for {c_in} input channels",
            w.dim()
        )));
    }
    let layer = ConvBackGpu::new(gpu, shape, padding).await?;
    gpu.write(&layer.w, bytemuck::cast_slice(&values(w)));
    gpu.write(&layer.io.dy, bytemuck::cast_slice(&values(dy)));
    let mut rec = gpu.record();
    layer.record_input_grad(&mut rec);
    rec.read(&layer.io.dx, layer.io.dx.bytes());
    let out = rec.submit().await?;
    to_array(&out[0], input)
}

/// dL/dw on the GPU of y = conv(pad(x), w) for the upstream gradient dy [N, C_out, Ho, Wo], filters of k × k.
pub async fn weight_grad_gpu(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    dy: ArrayView4<'_, f32>,
    k: usize,
    stride: usize,
    pad: usize,
    padding: Padding,
) -> Result<Array4<f32>> {
    let (n, c_in, h, w) = x.dim();
    let shape = ConvShape {
        n,
        c_in,
        h,
        w,
        c_out: dy.dim().1,
        k,
        stride,
        pad,
    };
    check_dy(&shape, &dy)?;
    let layer = ConvBackGpu::new(gpu, shape, padding).await?;
    gpu.write(&layer.io.x, bytemuck::cast_slice(&values(x)));
    gpu.write(&layer.io.dy, bytemuck::cast_slice(&values(dy)));
    let mut rec = gpu.record();
    layer.record_weight_grad(&mut rec);
    rec.read(&layer.dw, layer.dw.bytes());
    let out = rec.submit().await?;
    to_array(&out[0], (shape.c_out, c_in, k, k))
}
