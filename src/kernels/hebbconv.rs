//! Hebbian convolution on the GPU (kernels/hebbconv.wgsl): the forward pass y = conv(x, w) with reflect padding
//! and stride, and the Hebbian correlation Σ_{n,p} r[n,k,p]·patch_{n,p}(x) that every competition mode's update
//! is built from, both as implicit GEMMs reading patches straight from x (no unfolded patch matrix exists).
//!
//! [`ConvGpu`] holds one layer's tensors on the device for a run (input, weights, output, coefficients, the
//! correlation and its split-K slices) with its three kernels bound once, so that a training step records its
//! dispatches into a [`Recorder`](crate::engine::Recorder) without allocating. [`forward_gpu`] and
//! [`correlate_gpu`] are one-shot wrappers (tests, single evaluations).
use crate::engine::{Gpu, Kernel, Recorder, Tensor};
use crate::error::{Error, Result};
use crate::nets::hebbconv::presets::Padding;
use ndarray::{Array4, ArrayView4};

/// Rows and columns of a workgroup's tile, and invocations per workgroup of `sum_splits`, as in hebbconv.wgsl.
const TILE: usize = 64;
const SUM_WORKGROUP: usize = 256;
/// Workgroups the correlation aims for: its C_out × C_in·k² tiles alone are few for a first layer (96 × 75 is
/// four tiles), so its reduction over positions is split until about this many run at once.
const TARGET_WORKGROUPS: usize = 512;
/// The fewest positions a slice of the correlation sums (a multiple of the 16-deep tile step).
const MIN_SLICE: usize = 256;

/// The shape of one convolution: a batch of N images of C_in × H × W, C_out filters of k × k, stride, reflect
/// padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    pub n: usize,
    pub c_in: usize,
    pub h: usize,
    pub w: usize,
    pub c_out: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
}

impl ConvShape {
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.pad - self.k) / self.stride + 1
    }

    pub fn wo(&self) -> usize {
        (self.w + 2 * self.pad - self.k) / self.stride + 1
    }

    /// Entries of one filter: C_in·k².
    pub fn filter_len(&self) -> usize {
        self.c_in * self.k * self.k
    }

    /// Output positions of the batch: N·Ho·Wo.
    pub fn positions(&self) -> usize {
        self.n * self.ho() * self.wo()
    }

    /// Refuses shapes the kernels do not define: reflect padding needs pad < H, W (as PyTorch), the filter must
    /// fit the padded image, and every index must fit 32 bits.
    pub fn check(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Gpu(format!("convolution {self:?}: {why}")));
        if self.n == 0 || self.c_in == 0 || self.c_out == 0 || self.k == 0 || self.stride == 0 {
            return bad("every size must be at least 1".into());
        }
        if self.pad >= self.h || self.pad >= self.w {
            return bad("reflect padding must be smaller than the image".into());
        }
        if self.k > self.h + 2 * self.pad || self.k > self.w + 2 * self.pad {
            return bad("the filter is larger than the padded image".into());
        }
        let largest = [
            self.n * self.c_in * self.h * self.w,
            self.n * self.c_out * self.ho() * self.wo(),
            self.c_out * self.filter_len(),
        ];
        if largest.iter().any(|&e| e >= u32::MAX as usize / 2) {
            return bad("too many values for 32-bit indices".into());
        }
        Ok(())
    }

    /// Bytes of the largest buffers a [`ConvGpu`] and its [`UpdateGpu`](super::hebbupdate::UpdateGpu) hold,
    /// with what each is, so that a network can check all of its layers against the device before it
    /// allocates any: the input, the output (the coefficients r and r·u have its size), the weights (the
    /// correlation and Δw have theirs) and the correlation's split-K slices.
    pub fn buffer_bytes(&self) -> [(&'static str, u64); 4] {
        let f32s = |n: usize| (n * 4) as u64;
        let w_len = self.c_out * self.filter_len();
        [
            ("input", f32s(self.n * self.c_in * self.h * self.w)),
            ("output", f32s(self.n * self.c_out * self.ho() * self.wo())),
            ("weights", f32s(w_len)),
            ("correlation slices", f32s(self.splits().0 * w_len)),
        ]
    }

    /// How the correlation's reduction over positions is split: (slices, positions per slice).
    pub(super) fn splits(&self) -> (usize, usize) {
        let tiles = self.c_out.div_ceil(TILE) * self.filter_len().div_ceil(TILE);
        let most = self.positions().div_ceil(MIN_SLICE).max(1);
        let splits = TARGET_WORKGROUPS.div_ceil(tiles).clamp(1, most);
        let per = self.positions().div_ceil(splits).next_multiple_of(16);
        (self.positions().div_ceil(per), per)
    }

    /// The uniform of one of the family's GEMMs on this shape.
    fn params(&self, gemm: Gemm, padding: Padding) -> ConvParams {
        let (splits, per) = self.splits();
        let (rows, cols) = match gemm {
            Gemm::Forward => (self.c_out, self.positions()),
            Gemm::Correlate => (self.c_out, self.filter_len()),
            Gemm::InputGrad => (self.c_in, self.n * self.h * self.w),
        };
        ConvParams {
            n: self.n as u32,
            c_in: self.c_in as u32,
            h: self.h as u32,
            w: self.w as u32,
            c_out: self.c_out as u32,
            k: self.k as u32,
            stride: self.stride as u32,
            pad: self.pad as u32,
            ho: self.ho() as u32,
            wo: self.wo() as u32,
            tiles_j: cols.div_ceil(TILE) as u32,
            tiles_i: rows.div_ceil(TILE) as u32,
            splits: splits as u32,
            j_per_split: per as u32,
            zero_pad: u32::from(padding == Padding::Zero),
            _pad1: 0,
        }
    }

    /// A uniform holding [`Self::params`] for `gemm` with `padding`.
    pub(super) fn uniform(
        &self,
        gpu: &Gpu,
        what: &str,
        gemm: Gemm,
        padding: Padding,
    ) -> Result<Tensor> {
        let t = gpu.uniform_tensor(what, size_of::<ConvParams>() as u64)?;
        gpu.write(&t, bytemuck::bytes_of(&self.params(gemm, padding)));
        Ok(t)
    }

    /// Workgroups of `gemm`'s kernel: one per 64 × 64 output tile (the correlation's per position split).
    pub(super) fn workgroups(&self, gemm: Gemm) -> u32 {
        let tiles = match gemm {
            Gemm::Forward => self.c_out.div_ceil(TILE) * self.positions().div_ceil(TILE),
            Gemm::Correlate => {
                self.splits().0 * self.c_out.div_ceil(TILE) * self.filter_len().div_ceil(TILE)
            }
            Gemm::InputGrad => self.c_in.div_ceil(TILE) * (self.n * self.h * self.w).div_ceil(TILE),
        };
        tiles as u32
    }

    /// Workgroups of `sum_splits`, which adds the correlation's splits into one weight-shaped result.
    pub(super) fn sum_workgroups(&self) -> u32 {
        (self.c_out * self.filter_len()).div_ceil(SUM_WORKGROUP) as u32
    }
}

/// The family's products (hebbconv.wgsl's entry points): the forward pass, the correlation of the input with
/// per-output coefficients (the Hebbian update's, and the weight gradient's), and the input gradient.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Gemm {
    Forward,
    Correlate,
    InputGrad,
}

#[repr(C)]
#[derive(Clone, Copy, bytemuck::Pod, bytemuck::Zeroable)]
struct ConvParams {
    n: u32,
    c_in: u32,
    h: u32,
    w: u32,
    c_out: u32,
    k: u32,
    stride: u32,
    pad: u32,
    ho: u32,
    wo: u32,
    tiles_j: u32,
    tiles_i: u32,
    splits: u32,
    j_per_split: u32,
    zero_pad: u32,
    _pad1: u32,
}

pub fn source() -> String {
    include_str!("hebbconv.wgsl").to_string()
}

pub(crate) fn layouts() -> Vec<super::prelude::Layout> {
    vec![super::prelude::layout!(
        "hebbconv",
        "ConvParams",
        ConvParams,
        n,
        c_in,
        h,
        w,
        c_out,
        k,
        stride,
        pad,
        ho,
        wo,
        tiles_j,
        tiles_i,
        splits,
        j_per_split,
        zero_pad
    )]
}

/// Tensors a layer of a network shares with its neighbours instead of allocating its own (none by default).
#[derive(Clone, Copy, Default)]
pub struct Shared<'a> {
    /// The input: the previous layer's output.
    pub x: Option<&'a Tensor>,
    /// What the forward pass multiplies patches by when it is not w itself (w/‖w‖, |w|): the learnt weights
    /// stay in `w` for the update.
    pub forward_weights: Option<&'a Tensor>,
    /// Where the forward pass writes when a later kernel makes y from it (surround modulation), so that the
    /// competition reads the final y.
    pub forward_out: Option<&'a Tensor>,
}

/// One convolution layer's tensors and kernels on the device, made once per run.
pub struct ConvGpu {
    pub shape: ConvShape,
    /// Input [N, C_in, H, W], written by the previous layer or uploaded.
    pub x: Tensor,
    /// Weights [C_out, C_in, k, k].
    pub w: Tensor,
    /// Output [N, C_out, Ho, Wo].
    pub y: Tensor,
    /// Post-synaptic coefficients of the update [N, C_out, Ho, Wo] (written by the competition).
    pub r: Tensor,
    /// Σ_{n,p} r·patch, [C_out, C_in, k, k].
    pub correlation: Tensor,
    slices: Tensor,
    forward_params: Tensor,
    forward: Kernel,
    correlate: Kernel,
    sum: Kernel,
    groups: [u32; 3],
}

impl ConvGpu {
    /// A layer owning all of its tensors.
    pub async fn new(gpu: &Gpu, shape: ConvShape) -> Result<Self> {
        Self::with(gpu, shape, Shared::default()).await
    }

    /// A layer bound to the tensors in `shared`, allocating the rest.
    pub async fn with(gpu: &Gpu, shape: ConvShape, shared: Shared<'_>) -> Result<Self> {
        shape.check()?;
        let f32s = |n: usize| (n * 4) as u64;
        let (splits, _) = shape.splits();
        let out_len = shape.n * shape.c_out * shape.ho() * shape.wo();
        let w_len = shape.c_out * shape.filter_len();
        let x = match shared.x {
            Some(x) => x.share(),
            None => gpu.tensor(
                "convolution input",
                f32s(shape.n * shape.c_in * shape.h * shape.w),
            )?,
        };
        let w = gpu.tensor("convolution weights", f32s(w_len))?;
        let y = gpu.tensor("convolution output", f32s(out_len))?;
        let r = gpu.tensor("update coefficients", f32s(out_len))?;
        let correlation = gpu.tensor("Hebbian correlation", f32s(w_len))?;
        let slices = gpu.tensor("Hebbian correlation slices", f32s(splits * w_len))?;
        // The Hebbian layers pad by reflection.
        let forward_params =
            shape.uniform(gpu, "convolution shape", Gemm::Forward, Padding::Reflect)?;
        let correlate_params =
            shape.uniform(gpu, "correlation shape", Gemm::Correlate, Padding::Reflect)?;
        let src = source();
        let forward = gpu
            .kernel(
                "hebbconv_forward",
                &src,
                "forward",
                &[
                    &forward_params,
                    shared.forward_weights.unwrap_or(&w),
                    &x,
                    shared.forward_out.unwrap_or(&y),
                ],
            )
            .await?;
        let correlate = gpu
            .kernel(
                "hebbconv_correlate",
                &src,
                "correlate",
                &[&correlate_params, &r, &x, &slices],
            )
            .await?;
        let sum = gpu
            .kernel(
                "hebbconv_sum",
                &src,
                "sum_splits",
                &[&correlate_params, &slices, &x, &correlation],
            )
            .await?;
        let groups = [
            shape.workgroups(Gemm::Forward),
            shape.workgroups(Gemm::Correlate),
            shape.sum_workgroups(),
        ];
        for (what, g) in ["forward pass", "correlation", "correlation sum"]
            .iter()
            .zip(groups)
        {
            gpu.check_workgroups(&format!("the convolution's {what}"), g)?;
        }
        Ok(Self {
            shape,
            x,
            w,
            y,
            r,
            correlation,
            slices,
            forward_params,
            forward,
            correlate,
            sum,
            groups,
        })
    }

    /// y = conv(x, w) (with [`Shared`] tensors: forward_out = conv(x, forward_weights)).
    pub fn record_forward(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.forward, self.groups[0]);
    }

    /// A second forward pass, from the stored weights w (not the forward pass's own) into `out` (the shape
    /// of y): the statistical threshold's conv(x, w). Record it with [`Self::record_with`].
    pub async fn forward_into(&self, gpu: &Gpu, out: &Tensor) -> Result<Kernel> {
        let src = source();
        gpu.kernel(
            "hebbconv_forward",
            &src,
            "forward",
            &[&self.forward_params, &self.w, &self.x, out],
        )
        .await
    }

    /// Records a kernel from [`Self::forward_into`].
    pub fn record_with(&self, rec: &mut Recorder<'_>, forward: &Kernel) {
        rec.dispatch(forward, self.groups[0]);
    }

    /// correlation = Σ_{n,p} r·patch(x).
    pub fn record_correlate(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.correlate, self.groups[1]);
        rec.dispatch(&self.sum, self.groups[2]);
    }

    /// Bytes of the slices buffer (for memory estimates).
    pub fn scratch_bytes(&self) -> u64 {
        self.slices.bytes()
    }
}

/// The values of `a` in row-major order (for an upload).
pub(crate) fn values(a: ArrayView4<'_, f32>) -> Vec<f32> {
    a.as_standard_layout().iter().copied().collect()
}

/// A read-back buffer as an array of shape `dim`.
pub(crate) fn to_array(bytes: &[u8], dim: (usize, usize, usize, usize)) -> Result<Array4<f32>> {
    Array4::from_shape_vec(dim, bytemuck::pod_collect_to_vec(bytes))
        .map_err(|e| Error::Gpu(format!("unexpected result layout: {e}")))
}

/// conv(x, w) on the GPU: x [N, C_in, H, W], w [C_out, C_in, k, k], reflect padding `pad`, `stride`.
pub async fn forward_gpu(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    w: ArrayView4<'_, f32>,
    stride: usize,
    pad: usize,
) -> Result<Array4<f32>> {
    let layer = ConvGpu::new(gpu, shape_of(x, w.dim().0, w.dim().2, stride, pad)).await?;
    gpu.write(&layer.x, bytemuck::cast_slice(&values(x)));
    gpu.write(&layer.w, bytemuck::cast_slice(&values(w)));
    let mut rec = gpu.record();
    layer.record_forward(&mut rec);
    rec.read(&layer.y, layer.y.bytes());
    let out = rec.submit().await?;
    let s = layer.shape;
    to_array(&out[0], (s.n, s.c_out, s.ho(), s.wo()))
}

/// Σ_{n,p} r[n,k,p]·patch_{n,p}(x) on the GPU: r [N, C_out, Ho, Wo] for filters of k × k.
pub async fn correlate_gpu(
    gpu: &Gpu,
    x: ArrayView4<'_, f32>,
    r: ArrayView4<'_, f32>,
    k: usize,
    stride: usize,
    pad: usize,
) -> Result<Array4<f32>> {
    let layer = ConvGpu::new(gpu, shape_of(x, r.dim().1, k, stride, pad)).await?;
    let s = layer.shape;
    if r.dim() != (s.n, s.c_out, s.ho(), s.wo()) {
        return Err(Error::Gpu(format!(
            "coefficients of shape {:?} for an output of {:?}",
            r.dim(),
            (s.n, s.c_out, s.ho(), s.wo())
        )));
    }
    gpu.write(&layer.x, bytemuck::cast_slice(&values(x)));
    gpu.write(&layer.r, bytemuck::cast_slice(&values(r)));
    let mut rec = gpu.record();
    layer.record_correlate(&mut rec);
    rec.read(&layer.correlation, layer.correlation.bytes());
    let out = rec.submit().await?;
    to_array(&out[0], (s.c_out, s.c_in, s.k, s.k))
}

fn shape_of(
    x: ArrayView4<'_, f32>,
    c_out: usize,
    k: usize,
    stride: usize,
    pad: usize,
) -> ConvShape {
    let (n, c_in, h, w) = x.dim();
    ConvShape {
        n,
        c_in,
        h,
        w,
        c_out,
        k,
        stride,
        pad,
    }
}
