//! The fixed layers around a Hebbian convolution (NCHW): BatchNorm without affine parameters, the Triangle
//! activation, max and average pooling with PyTorch's semantics, and the surround-modulation DoG kernel.
use super::conv::zero_pad;
use crate::lanes::{self, LANES};
use ndarray::{Array1, Array4, ArrayView4, Axis, s};
use rayon::prelude::*;

/// `BatchNorm2d(C, affine=False)`: running statistics (mean 0, variance 1 at start) and PyTorch's constants.
#[derive(Clone, Debug, PartialEq)]
pub struct BatchNorm {
    pub running_mean: Array1<f32>,
    pub running_var: Array1<f32>,
    /// Weight of the new batch in the running averages (PyTorch's `momentum`, 0.1).
    pub momentum: f32,
    pub eps: f32,
}

impl BatchNorm {
    pub fn new(channels: usize) -> Self {
        Self {
            running_mean: Array1::zeros(channels),
            running_var: Array1::ones(channels),
            momentum: 0.1,
            eps: 1e-5,
        }
    }

    /// Training: normalises with the batch's mean and biased variance over (N, H, W) and moves the running
    /// mean and the *unbiased* running variance by `momentum` (as PyTorch does). Evaluation: normalises with
    /// the running statistics.
    pub fn forward(&mut self, x: ArrayView4<f32>, train: bool) -> Array4<f32> {
        let (n, c, h, w) = x.dim();
        let count = n * h * w;
        // (mean, variance) per channel, the channels in parallel.
        let stats: Vec<(f32, f32)> = if train && count > 0 {
            let moments: Vec<(f64, f64)> = (0..c)
                .into_par_iter()
                .map(|ch| {
                    let plane = x.index_axis(Axis(1), ch);
                    let m = plane.iter().map(|&v| f64::from(v)).sum::<f64>() / count as f64;
                    let v = plane
                        .iter()
                        .map(|&v| (f64::from(v) - m) * (f64::from(v) - m))
                        .sum::<f64>();
                    (m, v)
                })
                .collect();
            let mo = f64::from(self.momentum);
            moments
                .into_iter()
                .enumerate()
                .map(|(ch, (m, v))| {
                    let biased = v / count as f64;
                    let unbiased = if count > 1 {
                        v / (count - 1) as f64
                    } else {
                        biased
                    };
                    self.running_mean[ch] =
                        ((1.0 - mo) * f64::from(self.running_mean[ch]) + mo * m) as f32;
                    self.running_var[ch] =
                        ((1.0 - mo) * f64::from(self.running_var[ch]) + mo * unbiased) as f32;
                    (m as f32, biased as f32)
                })
                .collect()
        } else {
            self.running_mean
                .iter()
                .zip(&self.running_var)
                .map(|(&m, &v)| (m, v))
                .collect()
        };
        let scale: Vec<(f32, f32)> = stats
            .into_iter()
            .map(|(mean, var)| (mean, 1.0 / (var + self.eps).sqrt()))
            .collect();
        let mut out = x.as_standard_layout().into_owned();
        let p = (h * w).max(1);
        if !out.is_empty() {
            out.as_slice_mut()
                .expect("standard layout")
                .par_chunks_mut(c * p)
                .for_each(|img| normalise_image(img, p, &scale));
        }
        out
    }
}

/// (x − mean)·inv on each channel's plane of one image [C, P], for each vector unit (see `lanes`).
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn normalise_image(img: &mut [f32], p: usize, scale: &[(f32, f32)]) {
    for (plane, &(mean, inv)) in img.chunks_mut(p).zip(scale) {
        plane.iter_mut().for_each(|v| *v = (*v - mean) * inv);
    }
}

/// SoftHebb's Triangle: `ReLU(y − mean_c y)^power`, the mean over channels at each (n, h, w). Images in
/// parallel, sixteen positions at a time on the CPU's widest vector unit; r^p as exp(p·ln r) in lanes (libm's
/// scalar powf took a third of a network's forward time).
pub fn triangle(y: ArrayView4<f32>, power: f32) -> Array4<f32> {
    let (n, c, h, w) = y.dim();
    let p = h * w;
    let y = y.as_standard_layout();
    let mut out = Array4::zeros((n, c, h, w));
    let per = (c * p).max(1);
    out.as_slice_mut()
        .expect("fresh")
        .par_chunks_mut(per)
        .zip(y.as_slice().expect("standard layout").par_chunks(per))
        .for_each(|(out, y)| triangle_image(y, out, c, p, power));
    out
}

/// [`triangle`] of one image's [C, P] map, for each vector unit (see `lanes`).
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn triangle_image(y: &[f32], out: &mut [f32], c: usize, p: usize, power: f32) {
    let row = |ch: usize| ch * p..(ch + 1) * p;
    let count = c.max(1) as f32;
    for q in (0..p).step_by(LANES) {
        let mut sum = [0.0f32; LANES];
        for ch in 0..c {
            let v = lanes::load(&y[row(ch)], q);
            for i in 0..LANES {
                sum[i] += v[i];
            }
        }
        let mean = sum.map(|s| s / count);
        for ch in 0..c {
            let v = lanes::load(&y[row(ch)], q);
            let mut r = [0.0f32; LANES];
            for i in 0..LANES {
                r[i] = (v[i] - mean[i]).max(0.0);
                if power != 1.0 {
                    r[i] = lanes::pow(r[i], power);
                }
            }
            lanes::store(&mut out[row(ch)], q, &r);
        }
    }
}

/// ReLU (the backprop baseline's activation).
pub fn relu(y: ArrayView4<f32>) -> Array4<f32> {
    y.mapv(|v| v.max(0.0))
}

/// Output side of a pooling window (ceil_mode false): ⌊(h + 2p − k)/s⌋ + 1.
pub fn pool_side(h: usize, k: usize, stride: usize, pad: usize) -> usize {
    (h + 2 * pad).saturating_sub(k) / stride.max(1) + 1
}

/// `MaxPool2d(k, stride, pad)`: padding counts as −∞ (never wins).
pub fn max_pool(x: ArrayView4<f32>, k: usize, stride: usize, pad: usize) -> Array4<f32> {
    pool(x, Window { k, stride, pad }, Reduce::Max)
}

/// `AvgPool2d(k, stride, pad)` with `count_include_pad=True`: padding counts as zeros and the divisor is k².
pub fn avg_pool(x: ArrayView4<f32>, k: usize, stride: usize, pad: usize) -> Array4<f32> {
    pool(x, Window { k, stride, pad }, Reduce::Sum)
}

#[derive(Clone, Copy)]
struct Window {
    k: usize,
    stride: usize,
    pad: usize,
}

impl Window {
    /// The window of output `o`, clipped to a side of `side`: padding never changes a max, and an average
    /// divides by k² whatever the clipping (count_include_pad).
    fn span(self, o: usize, side: usize) -> std::ops::Range<usize> {
        let start = (o * self.stride).saturating_sub(self.pad);
        let end = (o * self.stride + self.k)
            .saturating_sub(self.pad)
            .min(side);
        start..end.max(start)
    }
}

/// How a pool combines a window (a plain enum rather than closures: each loop below is specialised for one).
#[derive(Clone, Copy, PartialEq)]
enum Reduce {
    Max,
    Sum,
}

impl Reduce {
    fn init(self) -> f32 {
        match self {
            Reduce::Max => f32::NEG_INFINITY,
            Reduce::Sum => 0.0,
        }
    }
}

/// acc ← acc ⊕ src element-wise, ⊕ = max or +.
#[inline(always)]
fn combine(acc: &mut [f32], src: &[f32], op: Reduce) {
    match op {
        Reduce::Max => acc.iter_mut().zip(src).for_each(|(a, &v)| *a = a.max(v)),
        Reduce::Sum => acc.iter_mut().zip(src).for_each(|(a, &v)| *a += v),
    }
}

fn pool(x: ArrayView4<f32>, win: Window, op: Reduce) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    let (ho, wo) = (
        pool_side(h, win.k, win.stride, win.pad),
        pool_side(w, win.k, win.stride, win.pad),
    );
    let mut out = Array4::zeros((n, c, ho, wo));
    let x = x.as_standard_layout();
    if out.is_empty() || h * w == 0 {
        return out;
    }
    let planes = x
        .as_slice()
        .expect("standard layout")
        .par_chunks_exact(h * w);
    let outs = out
        .as_slice_mut()
        .expect("fresh")
        .par_chunks_exact_mut(ho * wo);
    // Separable: for each output row, its window's input rows combined element-wise (contiguous, in vector
    // lanes), then that row folded over each output's column window: stride × fewer scalar folds than the
    // other order.
    planes
        .zip(outs)
        .for_each_init(Vec::new, |acc: &mut Vec<f32>, (plane, dst)| {
            pool_plane(plane, dst, acc, (h, w, wo), win, op)
        });
    out
}

/// [`pool`] of one plane of sides (h, w) into `dst`, rows of `wo`; `acc` is scratch. For each vector unit
/// (see `lanes`).
#[multiversion::multiversion(targets("x86_64+avx512f", "x86_64+avx2"))]
fn pool_plane(
    plane: &[f32],
    dst: &mut [f32],
    acc: &mut Vec<f32>,
    (h, w, wo): (usize, usize, usize),
    win: Window,
    op: Reduce,
) {
    let div = (win.k * win.k) as f32;
    for (oy, out) in dst.chunks_exact_mut(wo).enumerate() {
        acc.clear();
        acc.resize(w, op.init());
        for yy in win.span(oy, h) {
            combine(acc, &plane[yy * w..(yy + 1) * w], op);
        }
        for (ox, o) in out.iter_mut().enumerate() {
            let cells = &acc[win.span(ox, w)];
            *o = match op {
                Reduce::Max => cells.iter().fold(f32::NEG_INFINITY, |a, &v| a.max(v)),
                Reduce::Sum => cells.iter().sum::<f32>() / div,
            };
        }
    }
}

/// The surround-modulation kernel (notes §1.10, after Hasani et al. 2019): K(x, y) = [G_e/(2πσe²) −
/// G_i/(2πσi²)] / K_centre with σe 1.2, σi 1.4, x, y ∈ {−2..2}, scaled so that the centre is 1.
pub fn dog_kernel() -> [[f32; 5]; 5] {
    let (se, si) = (1.2f64, 1.4f64);
    let tau = std::f64::consts::TAU;
    let raw = |x: f64, y: f64| {
        let r2 = x * x + y * y;
        libm::exp(-r2 / (2.0 * se * se)) / (tau * se * se)
            - libm::exp(-r2 / (2.0 * si * si)) / (tau * si * si)
    };
    let centre = raw(0.0, 0.0);
    let mut k = [[0.0f32; 5]; 5];
    for (i, row) in k.iter_mut().enumerate() {
        for (j, v) in row.iter_mut().enumerate() {
            *v = (raw(i as f64 - 2.0, j as f64 - 2.0) / centre) as f32;
        }
    }
    k
}

/// Surround modulation: every channel cross-correlated with [`dog_kernel`] (depthwise, zero padding 2), so
/// the shape is kept. The Hebbian layer applies it to y before the update (not to 1 × 1 layers).
pub fn surround(y: ArrayView4<f32>) -> Array4<f32> {
    let k = dog_kernel();
    let yp = zero_pad(y, 2);
    let (n, c, h, w) = y.dim();
    let mut out = Array4::zeros((n, c, h, w));
    for b in 0..n {
        for ch in 0..c {
            let plane = yp.slice(s![b, ch, .., ..]);
            let mut dst = out.slice_mut(s![b, ch, .., ..]);
            for (i, krow) in k.iter().enumerate() {
                for (j, &kij) in krow.iter().enumerate() {
                    for oy in 0..h {
                        let src = plane.row(oy + i);
                        let mut d = dst.row_mut(oy);
                        for ox in 0..w {
                            d[ox] += kij * src[ox + j];
                        }
                    }
                }
            }
        }
    }
    out
}
