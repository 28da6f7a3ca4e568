//! Hebbian convolution on the CPU (NCHW, `Array4<f32>`): reflect padding, the forward cross-correlation, the
//! Hebbian correlation Σ_{n,p} r·patch (the "yx" term of every update) and patch norms for the cosine activation.
//!
//! GEMM-shaped work goes through a bounded im2col scratch buffer (a block of whole images, at most
//! [`SCRATCH_FLOATS`] floats) and the crate's CPU matrix product (faer, see kernels::matmul): the forward is
//! W[K, C·k²] · cols[C·k², B·P] and the correlation accumulates r_b[K, B·P] · colsᵀ. A whole-batch unfolded
//! matrix is never built (conv3 of architecture A would need 64 × 221,184 floats, 57 MB, per batch).
//! Depthwise layers are matrix-vector shaped and run as direct loops.
//!
//! Blocks of images run in parallel (rayon; sequentially in wasm), each on a single-threaded product: the
//! reduced presets' products are too small to split again. Block sizes depend on the shapes only, and partial
//! sums are added in block order, so the result does not depend on the number of cores.
use crate::kernels::matmul::{gemm_into, gemm_into_serial};
use ndarray::{Array2, Array4, ArrayView2, ArrayView4, ArrayViewMut2, Axis, s};
use rayon::prelude::*;

/// Floats of im2col scratch per block (16 MiB): at least one whole image, as many more as fit.
pub const SCRATCH_FLOATS: usize = 1 << 22;

/// One convolution's shape: channels, square kernel side, stride, padding (reflect for Hebbian layers).
/// Depthwise: groups = c_in, c_out = c_in, weights [C, 1, k, k].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvSpec {
    pub c_in: usize,
    pub c_out: usize,
    pub k: usize,
    pub stride: usize,
    pub pad: usize,
    pub depthwise: bool,
}

impl ConvSpec {
    /// A standard convolution, stride 1.
    pub fn new(c_in: usize, c_out: usize, k: usize, pad: usize) -> Self {
        Self {
            c_in,
            c_out,
            k,
            stride: 1,
            pad,
            depthwise: false,
        }
    }

    /// A depthwise convolution of `c` channels, stride 1.
    pub fn depthwise(c: usize, k: usize, pad: usize) -> Self {
        Self {
            c_in: c,
            c_out: c,
            k,
            stride: 1,
            pad,
            depthwise: true,
        }
    }

    /// The weight tensor's shape: [c_out, c_in, k, k], or [c, 1, k, k] depthwise.
    pub fn weight_shape(&self) -> [usize; 4] {
        let per = if self.depthwise { 1 } else { self.c_in };
        [self.c_out, per, self.k, self.k]
    }

    /// Number of weights.
    pub fn params(&self) -> usize {
        self.weight_shape().iter().product()
    }

    /// Inputs per output neuron (C_in·k², or k² depthwise): the fan-in of one filter.
    pub fn fan_in(&self) -> usize {
        self.weight_shape()[1..].iter().product()
    }

    /// Output side for an input side (PyTorch: ⌊(h + 2·pad − k)/stride⌋ + 1), or None when the kernel does
    /// not fit.
    pub fn out_side(&self, h: usize) -> Option<usize> {
        let hp = h + 2 * self.pad;
        (hp >= self.k && self.stride > 0).then(|| (hp - self.k) / self.stride + 1)
    }
}

/// Source row of padded index `i` (−pad ≤ i < h + pad) under PyTorch's 'reflect' (the edge is not repeated:
/// −1 → 1, h → h − 2). PyTorch refuses pad ≥ h; here the reflection repeats (period 2(h − 1)), and h = 1
/// reflects onto its only row.
pub(super) fn reflect_index(i: isize, h: usize) -> usize {
    if h == 1 {
        return 0;
    }
    let period = 2 * (h as isize - 1);
    let m = i.rem_euclid(period);
    (if m < h as isize { m } else { period - m }) as usize
}

/// PyTorch's `F.pad(x, (pad, pad, pad, pad), mode='reflect')` of an NCHW tensor.
pub fn reflect_pad(x: ArrayView4<f32>, pad: usize) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    if pad == 0 {
        return x.to_owned();
    }
    let rows: Vec<usize> = (0..h + 2 * pad)
        .map(|i| reflect_index(i as isize - pad as isize, h))
        .collect();
    let cols: Vec<usize> = (0..w + 2 * pad)
        .map(|j| reflect_index(j as isize - pad as isize, w))
        .collect();
    let mut out = Array4::zeros((n, c, h + 2 * pad, w + 2 * pad));
    for (src, mut dst) in x.outer_iter().zip(out.outer_iter_mut()) {
        for (sp, mut dp) in src.outer_iter().zip(dst.outer_iter_mut()) {
            for (i, mut drow) in dp.outer_iter_mut().enumerate() {
                let srow = sp.row(rows[i]);
                for (d, &cj) in drow.iter_mut().zip(&cols) {
                    *d = srow[cj];
                }
            }
        }
    }
    out
}

/// Zero padding (`nn.Conv2d`'s, for the backprop baseline and the surround kernel).
pub fn zero_pad(x: ArrayView4<f32>, pad: usize) -> Array4<f32> {
    let (n, c, h, w) = x.dim();
    let mut out = Array4::zeros((n, c, h + 2 * pad, w + 2 * pad));
    out.slice_mut(s![.., .., pad..pad + h, pad..pad + w])
        .assign(&x);
    out
}

/// Output sides of an already padded input (spec.pad is not applied again).
fn padded_out(xp: &ArrayView4<f32>, spec: &ConvSpec) -> (usize, usize) {
    let (_, _, hp, wp) = xp.dim();
    let side = |s: usize| {
        if s >= spec.k && spec.stride > 0 {
            (s - spec.k) / spec.stride + 1
        } else {
            0
        }
    };
    (side(hp), side(wp))
}

/// Images per im2col block for `rows` × `p` columns per image.
pub(super) fn block_images(rows: usize, p: usize, n: usize) -> usize {
    (SCRATCH_FLOATS / (rows * p).max(1)).clamp(1, n.max(1))
}

/// Unfolds images `n0..n0 + nb` of the padded input into `cols` ([C·k², nb·P] row-major, row (c, i, j),
/// column (b, oy, ox)).
fn im2col(xp: &ArrayView4<f32>, n0: usize, nb: usize, spec: &ConvSpec, cols: &mut [f32]) {
    let (ho, wo) = padded_out(xp, spec);
    let (k, st) = (spec.k, spec.stride);
    let p = ho * wo;
    let width = nb * p;
    for c in 0..spec.c_in {
        for i in 0..k {
            for j in 0..k {
                let row = (c * k + i) * k + j;
                for b in 0..nb {
                    let img = xp.index_axis(Axis(0), n0 + b);
                    let plane = img.index_axis(Axis(0), c);
                    let base = row * width + b * p;
                    for oy in 0..ho {
                        let src = plane.row(oy * st + i);
                        let dst = &mut cols[base + oy * wo..base + (oy + 1) * wo];
                        if st == 1 {
                            let src = src.slice(s![j..j + wo]);
                            match src.as_slice() {
                                Some(sl) => dst.copy_from_slice(sl),
                                None => dst.iter_mut().zip(src.iter()).for_each(|(d, &v)| *d = v),
                            }
                        } else {
                            for (ox, d) in dst.iter_mut().enumerate() {
                                *d = src[ox * st + j];
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Images per block of the parallel passes: as [`block_images`], and at most an eighth of the batch, so that
/// the blocks spread over the cores. It depends on the shapes alone (not on the thread count), so every machine
/// adds in the same order and gets the same bits.
fn parallel_block_images(rows: usize, p: usize, n: usize) -> usize {
    block_images(rows, p, n).min(n.div_ceil(8)).max(1)
}

/// Cross-correlation of an already padded input with `w` (stride from `spec`, no bias): [N, c_out, Ho, Wo].
/// Blocks of images in parallel, each unfolded and multiplied on its own thread.
pub fn forward_padded(xp: ArrayView4<f32>, w: ArrayView4<f32>, spec: &ConvSpec) -> Array4<f32> {
    let (n, _, _, _) = xp.dim();
    let (ho, wo) = padded_out(&xp, spec);
    let p = ho * wo;
    let mut y = Array4::zeros((n, spec.c_out, ho, wo));
    if n == 0 || p == 0 || spec.c_out == 0 {
        return y;
    }
    let (k, st) = (spec.k, spec.stride);
    let ys = y.as_slice_mut().expect("fresh");
    if spec.depthwise {
        ys.par_chunks_mut(spec.c_out * p)
            .enumerate()
            .for_each(|(b, out)| {
                for (c, out) in out.chunks_mut(p).enumerate() {
                    let plane = xp.slice(s![b, c, .., ..]);
                    for i in 0..k {
                        for j in 0..k {
                            let wij = w[[c, 0, i, j]];
                            for oy in 0..ho {
                                let src = plane.row(oy * st + i);
                                let dst = &mut out[oy * wo..(oy + 1) * wo];
                                match (src.as_slice(), st) {
                                    (Some(src), 1) => dst
                                        .iter_mut()
                                        .zip(&src[j..j + wo])
                                        .for_each(|(d, &v)| *d += wij * v),
                                    _ => {
                                        for (ox, d) in dst.iter_mut().enumerate() {
                                            *d += wij * src[ox * st + j];
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            });
        return y;
    }
    let rows = spec.c_in * k * k;
    let w2 = w
        .to_shape((spec.c_out, rows))
        .expect("weights [c_out, c_in, k, k]");
    let nb_max = parallel_block_images(rows, p, n);
    let per = spec.c_out * p;
    ys.par_chunks_mut(nb_max * per).enumerate().for_each_init(
        || (vec![0.0f32; rows * nb_max * p], vec![0.0f32; per * nb_max]),
        |(scratch, out), (block, ychunk)| {
            let (n0, nb) = (block * nb_max, ychunk.len() / per);
            let cols = &mut scratch[..rows * nb * p];
            im2col(&xp, n0, nb, spec, cols);
            let cols = ArrayView2::from_shape((rows, nb * p), &*cols).expect("sized above");
            let o = ArrayViewMut2::from_shape((spec.c_out, nb * p), &mut out[..per * nb])
                .expect("sized above");
            gemm_into_serial(w2.view(), cols, false, o);
            // [c_out, nb·P] → nb images of [c_out, P].
            for (b, img) in ychunk.chunks_mut(per).enumerate() {
                for (ch, dst) in img.chunks_mut(p).enumerate() {
                    let at = ch * nb * p + b * p;
                    dst.copy_from_slice(&out[at..at + p]);
                }
            }
        },
    );
    y
}

/// Reflect-pad by `spec.pad`, then cross-correlate with `w` (stride, no bias): [N, c_out, Ho, Wo].
pub fn forward(x: ArrayView4<f32>, w: ArrayView4<f32>, spec: &ConvSpec) -> Array4<f32> {
    let xp = reflect_pad(x, spec.pad);
    forward_padded(xp.view(), w, spec)
}

/// Σ_{n,p} r[n, k, p] · patch_{n,p}(padded x) on an already padded input: the shape of w. Depthwise keeps the
/// diagonal only (channel c's map with channel c's patches), as hebb_depthwise.py's `compute_yx` does.
pub fn correlate_padded(xp: ArrayView4<f32>, r: ArrayView4<f32>, spec: &ConvSpec) -> Array4<f32> {
    let [ko, ci, k, _] = spec.weight_shape();
    let mut dw = Array4::<f32>::zeros((ko, ci, k, k));
    let (n, _, _, _) = xp.dim();
    let (ho, wo) = padded_out(&xp, spec);
    let p = ho * wo;
    if n == 0 || p == 0 {
        return dw;
    }
    let st = spec.stride;
    if spec.depthwise {
        for b in 0..n {
            for c in 0..spec.c_in {
                let plane = xp.slice(s![b, c, .., ..]);
                let rm = r.slice(s![b, c, .., ..]);
                for i in 0..k {
                    for j in 0..k {
                        let mut acc = 0.0f32;
                        for oy in 0..ho {
                            let src = plane.row(oy * st + i);
                            let rr = rm.row(oy);
                            match (src.as_slice(), rr.as_slice(), st) {
                                (Some(src), Some(rr), 1) => {
                                    acc += rr
                                        .iter()
                                        .zip(&src[j..j + wo])
                                        .map(|(a, b)| a * b)
                                        .sum::<f32>()
                                }
                                _ => {
                                    for ox in 0..wo {
                                        acc += rr[ox] * src[ox * st + j];
                                    }
                                }
                            }
                        }
                        dw[[c, 0, i, j]] += acc;
                    }
                }
            }
        }
        return dw;
    }
    let rows = spec.c_in * k * k;
    let nb_max = parallel_block_images(rows + spec.c_out, p, n);
    let blocks = n.div_ceil(nb_max);
    let acc = if blocks * spec.c_out * rows <= SCRATCH_FLOATS {
        // Small filters (every layer of the reduced presets): one partial sum per block, the blocks in
        // parallel on single-threaded products, then the partials added in block order.
        let partials: Vec<Array2<f32>> = (0..blocks)
            .into_par_iter()
            .map_init(
                || {
                    (
                        vec![0.0f32; rows * nb_max * p],
                        vec![0.0f32; spec.c_out * nb_max * p],
                    )
                },
                |(scratch, rbuf), block| {
                    let n0 = block * nb_max;
                    let nb = nb_max.min(n - n0);
                    let mut part = Array2::<f32>::zeros((spec.c_out, rows));
                    correlate_block(&xp, &r, n0, nb, spec, scratch, rbuf, part.view_mut(), false);
                    part
                },
            )
            .collect();
        let mut acc = Array2::<f32>::zeros((spec.c_out, rows));
        for part in &partials {
            acc += part;
        }
        acc
    } else {
        // Wide layers: one accumulator, block after block, each product on every core.
        let nb_max = block_images(rows + spec.c_out, p, n);
        let mut scratch = vec![0.0f32; rows * nb_max * p];
        let mut rbuf = vec![0.0f32; spec.c_out * nb_max * p];
        let mut acc = Array2::<f32>::zeros((spec.c_out, rows));
        let mut n0 = 0;
        while n0 < n {
            let nb = nb_max.min(n - n0);
            correlate_block(
                &xp,
                &r,
                n0,
                nb,
                spec,
                &mut scratch,
                &mut rbuf,
                acc.view_mut(),
                true,
            );
            n0 += nb;
        }
        acc
    };
    dw.as_slice_mut()
        .expect("fresh")
        .copy_from_slice(acc.as_slice().expect("fresh"));
    dw
}

/// Images `n0..n0 + nb` of an [N, C, Ho, Wo] tensor side by side as one [C, nb·P] matrix in the front of
/// `buf`: the column order of an im2col block.
pub(super) fn gather_block<'a>(
    t: &ArrayView4<f32>,
    n0: usize,
    nb: usize,
    buf: &'a mut [f32],
) -> ArrayViewMut2<'a, f32> {
    let (_, c, ho, wo) = t.dim();
    let p = ho * wo;
    let mut block = ArrayViewMut2::from_shape((c, nb * p), &mut buf[..c * nb * p])
        .expect("a buffer of at least C·nb·P floats");
    for b in 0..nb {
        let src = t.index_axis(Axis(0), n0 + b);
        let src = src.to_shape((c, p)).expect("[N, C, Ho, Wo]");
        block.slice_mut(s![.., b * p..(b + 1) * p]).assign(&src);
    }
    block
}

/// acc += r_block · cols_blockᵀ for images `n0..n0 + nb` (on every core with `parallel`).
#[allow(clippy::too_many_arguments)]
fn correlate_block(
    xp: &ArrayView4<f32>,
    r: &ArrayView4<f32>,
    n0: usize,
    nb: usize,
    spec: &ConvSpec,
    scratch: &mut [f32],
    rbuf: &mut [f32],
    acc: ArrayViewMut2<f32>,
    parallel: bool,
) {
    let (ho, wo) = padded_out(xp, spec);
    let p = ho * wo;
    let rows = spec.c_in * spec.k * spec.k;
    let cols = &mut scratch[..rows * nb * p];
    im2col(xp, n0, nb, spec, cols);
    let cols = ArrayView2::from_shape((rows, nb * p), &*cols).expect("sized by the caller");
    let rblock = gather_block(r, n0, nb, rbuf);
    if parallel {
        gemm_into(rblock.view(), cols.t(), true, acc);
    } else {
        gemm_into_serial(rblock.view(), cols.t(), true, acc);
    }
}

/// Σ_{n,p} r[n, k, p] · patch_{n,p}(reflect-padded x), the shape of w: the Hebbian "yx" term (depthwise: the
/// diagonal only).
pub fn correlate(x: ArrayView4<f32>, r: ArrayView4<f32>, spec: &ConvSpec) -> Array4<f32> {
    let xp = reflect_pad(x, spec.pad);
    correlate_padded(xp.view(), r, spec)
}

/// sqrt(Σ patch² + 1e-8) per (n, p) of the reflect-padded input: `sqrt(conv(x², ones_like(w)) + 1e-8)`, the
/// cosine activation's denominator. [N, 1, Ho, Wo] (one norm over all input channels), or [N, C, Ho, Wo]
/// depthwise (each channel's own patch).
pub fn patch_norms(x: ArrayView4<f32>, spec: &ConvSpec) -> Array4<f32> {
    let xp = reflect_pad(x, spec.pad);
    patch_norms_padded(xp.view(), spec)
}

/// [`patch_norms`] of an already padded input.
pub fn patch_norms_padded(xp: ArrayView4<f32>, spec: &ConvSpec) -> Array4<f32> {
    let (n, c, hp, wp) = xp.dim();
    let (ho, wo) = padded_out(&xp, spec);
    let (k, st) = (spec.k, spec.stride);
    let groups = if spec.depthwise { c } else { 1 };
    // Squares summed over the channels of each group, then a k × k box sum with stride.
    let mut sq = Array4::<f32>::zeros((n, groups, hp, wp));
    for b in 0..n {
        for ch in 0..c {
            let g = if spec.depthwise { ch } else { 0 };
            let src = xp.slice(s![b, ch, .., ..]);
            let mut dst = sq.slice_mut(s![b, g, .., ..]);
            dst.zip_mut_with(&src, |d, &v| *d += v * v);
        }
    }
    let mut out = Array4::<f32>::zeros((n, groups, ho, wo));
    for b in 0..n {
        for g in 0..groups {
            let plane = sq.slice(s![b, g, .., ..]);
            for oy in 0..ho {
                for ox in 0..wo {
                    let mut acc = 0.0f32;
                    for i in 0..k {
                        let row = plane.row(oy * st + i);
                        for j in 0..k {
                            acc += row[ox * st + j];
                        }
                    }
                    out[[b, g, oy, ox]] = (acc + 1e-8).sqrt();
                }
            }
        }
    }
    out
}

/// How the cosine activation normalises the weights.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cosine {
    /// The intended cosine similarity (the thesis's text): each whole filter w_k scaled to unit L2 norm, so
    /// y = cos(w_k, patch) ∈ [−1, 1].
    Filter,
    /// The printed code's quirk (hebb.py L2093-2105): `F.normalize(w, p=2, dim=1)` normalises across input
    /// channels separately at each kernel position (i, j); in the depthwise layer, where dim 1 has size 1, it
    /// is sign(w). Keeps the printed numbers reproducible; not a cosine (|y| can exceed 1).
    PerPosition,
}

/// The activation of a Hebbian convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Activation {
    /// y = conv(x, w).
    Linear,
    /// y = conv(x, ŵ) / ‖patch‖ with ŵ normalised as the variant says.
    Cosine(Cosine),
}

/// `w` normalised as `mode` says (PyTorch's F.normalize: divide by max(‖·‖, 1e-12)).
pub fn normalise_weights(w: ArrayView4<f32>, mode: Cosine) -> Array4<f32> {
    let mut out = w.to_owned();
    let (ko, ci, kh, kw) = w.dim();
    match mode {
        Cosine::Filter => {
            for mut f in out.outer_iter_mut() {
                let norm = f.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                f.mapv_inplace(|v| v / norm);
            }
        }
        Cosine::PerPosition => {
            for o in 0..ko {
                for i in 0..kh {
                    for j in 0..kw {
                        let norm = (0..ci)
                            .map(|c| w[[o, c, i, j]] * w[[o, c, i, j]])
                            .sum::<f32>()
                            .sqrt()
                            .max(1e-12);
                        for c in 0..ci {
                            out[[o, c, i, j]] = w[[o, c, i, j]] / norm;
                        }
                    }
                }
            }
        }
    }
    out
}

/// The layer's activation on an already padded input.
pub fn activate_padded(
    xp: ArrayView4<f32>,
    w: ArrayView4<f32>,
    spec: &ConvSpec,
    act: Activation,
) -> Array4<f32> {
    match act {
        Activation::Linear => forward_padded(xp, w, spec),
        Activation::Cosine(mode) => {
            let wn = normalise_weights(w, mode);
            let mut y = forward_padded(xp, wn.view(), spec);
            let norms = patch_norms_padded(xp, spec);
            if spec.depthwise {
                y.zip_mut_with(&norms, |v, &d| *v /= d);
            } else {
                let norms = norms.broadcast(y.dim()).expect("[N, 1, Ho, Wo] broadcasts");
                y.zip_mut_with(&norms, |v, &d| *v /= d);
            }
            y
        }
    }
}

/// The layer's activation: reflect-pad, then [`Activation::Linear`] or [`Activation::Cosine`].
pub fn activate(
    x: ArrayView4<f32>,
    w: ArrayView4<f32>,
    spec: &ConvSpec,
    act: Activation,
) -> Array4<f32> {
    let xp = reflect_pad(x, spec.pad);
    activate_padded(xp.view(), w, spec, act)
}
